package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

// fleetFile is what Config.FleetFile keeps of a run: enough to open the
// same agents' sockets again without a password hash on the server.
// It holds live session tokens: it is written readable by its owner only.
type fleetFile struct {
	Server       string       `json:"server"`
	RunID        string       `json:"run_id"`
	Agency       string       `json:"agency"`
	Channel      string       `json:"channel"`
	Queues       []string     `json:"queues"`
	HoldQueues   []string     `json:"hold_queues"`
	GatewayToken string       `json:"gateway_token,omitempty"`
	Agents       []fleetAgent `json:"agents"`
}

type fleetAgent struct {
	Username string `json:"username"`
	Token    string `json:"token"`
}

// fleetFileExists: a fleet to resume, which needs no admin.
func fleetFileExists(path string) bool {
	if path == "" {
		return false
	}
	_, err := os.Stat(path)
	return err == nil
}

// loadFleetFile reads path; nil (and no error) when there is no file yet.
func loadFleetFile(path, base string) (*fleetFile, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("fleet file: %w", err)
	}
	var ff fleetFile
	if err := json.Unmarshal(data, &ff); err != nil {
		return nil, fmt.Errorf("fleet file %s: %w", path, err)
	}
	if ff.Server != "" && ff.Server != base { // "": any loopback server
		return nil, fmt.Errorf("fleet file %s: made for %s, not %s", path, ff.Server, base)
	}
	if ff.Agency == "" || len(ff.Queues) == 0 || len(ff.Agents) == 0 {
		return nil, fmt.Errorf("fleet file %s: no agency, queues or agents", path)
	}
	return &ff, nil
}

func (f *Fleet) saveFleetFile(base string) error {
	ff := fleetFile{Server: base, RunID: f.runID, Agency: f.agency, Channel: f.cfg.Channel,
		Queues: f.queues, HoldQueues: f.holdQueues}
	if f.cfg.Channel == "voice" {
		ff.GatewayToken = f.gateway.token
	}
	for _, a := range f.agents {
		ff.Agents = append(ff.Agents, fleetAgent{Username: a.username, Token: a.token})
	}
	data, err := json.MarshalIndent(ff, "", " ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(f.cfg.FleetFile, data, 0o600); err != nil {
		return fmt.Errorf("fleet file: %w", err)
	}
	return nil
}

// resume takes up a saved fleet: the same agency, queues and sessions,
// the first Config.Agents agents, the sockets opened anew.
func (f *Fleet) resume(ctx, sctx context.Context, ff *fleetFile, base string, v4 bool, main *origin, anon *client, start time.Time) (*Fleet, error) {
	cfg := f.cfg
	switch {
	case ff.Channel != cfg.Channel:
		return nil, fmt.Errorf("loadgen: fleet file: made for %s contacts, not %s", ff.Channel, cfg.Channel)
	case cfg.Agents > len(ff.Agents):
		return nil, fmt.Errorf("loadgen: fleet file: %d agents, fewer than the %d asked for", len(ff.Agents), cfg.Agents)
	case cfg.IdleCitizens > len(ff.HoldQueues)*citizensPerHoldQueue:
		return nil, fmt.Errorf("loadgen: fleet file: hold queues for %d idle citizens, fewer than the %d asked for",
			len(ff.HoldQueues)*citizensPerHoldQueue, cfg.IdleCitizens)
	}
	f.runID, f.agency, f.queues, f.holdQueues = ff.RunID, ff.Agency, ff.Queues, ff.HoldQueues
	f.cfg.Queues = len(ff.Queues)
	for _, a := range ff.Agents[:cfg.Agents] {
		f.agents = append(f.agents, &agent{fleet: f, username: a.Username, token: a.Token, acks: map[string]chan error{}})
	}
	f.agentOrigins(base, v4, main)
	f.gateway = anon
	if cfg.Channel == "voice" {
		f.gateway = &client{base: base, hc: main.hc, token: ff.GatewayToken}
	}
	if cfg.beforeConnect != nil {
		cfg.beforeConnect(sctx)
	}
	if err := f.connectAgents(sctx); err != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		_ = f.Close(cctx)
		return nil, fmt.Errorf("loadgen: setup: %w (has a session of the fleet file ended? remove the file to start anew)", err)
	}
	f.mainOrigin, f.citizenOrigins = main, map[int]*origin{}
	f.setupTime = time.Since(start)
	return f, nil
}
