package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"runtime/debug"
	"strings"
	"testing"
)

// The simulation package tests the model; here the command: flags, the
// two formats, and that progress stays off stdout.

// simulateArgs is a small run: about 240 calls a level.
var simulateArgs = []string{"simulate", "--agents", "3-5", "--arrivals", "120", "--handle", "2m", "--hours", "1"}

func runSimulateCmd(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	if err := run(context.Background(), args, &out, &errOut, env(nil)); err != nil {
		t.Fatalf("run(%q): %v; stderr %q", args, err, errOut.String())
	}
	return out.String(), errOut.String()
}

func TestSimulateCommandRefuses(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, "--agents is required"},
		{[]string{"--agents", "16-8"}, "backwards"},
		{[]string{"--agents", "8-x"}, "a number (12) or a range"},
		{[]string{"--agents", "-3"}, "a number (12) or a range"},
		{[]string{"--agents", "0"}, "at least 1"},
		{[]string{"--agents", "1-100"}, "levels"},
		{[]string{"--agents", "12", "--handle", "-5m"}, "handle time"},
		{[]string{"--agents", "12", "--wrapup", "-1s"}, "wrap-up"},
		{[]string{"--agents", "12", "--patience", "-1m"}, "patience"},
		{[]string{"--agents", "12", "--sla", "-20s"}, "threshold"},
		{[]string{"--agents", "12", "--arrivals", "-3"}, "arrivals"},
		{[]string{"--agents", "12", "--hours", "0"}, "hours"},
		{[]string{"--agents", "12", "--target", "120"}, "target"},
		{[]string{"--agents", "12", "--arrivals", "100000"}, "calls"},
		{[]string{"--agents", "12", "--format", "xml"}, "text or json"},
		{[]string{"--agents", "12", "--handle", "5"}, "invalid value"},
		{[]string{"--agents", "12", "extra"}, "unexpected argument"},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		err := run(context.Background(), append([]string{"simulate"}, tt.args...), &out, &errOut, env(nil))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("simulate %q: error %v; want one about %q", tt.args, err, tt.want)
		}
		if out.Len() > 0 {
			t.Errorf("simulate %q printed %q on stdout; want nothing", tt.args, out.String())
		}
	}
}

func TestSimulateHelpListsFlags(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"help", "simulate"}, &out, &errOut, env(nil))
	if !errors.Is(err, flag.ErrHelp) {
		t.Errorf("help simulate: %v; want flag.ErrHelp, as the other commands", err)
	}
	for _, f := range []string{"-agents", "-arrivals", "-handle", "-wrapup", "-patience", "-sla", "-target", "-hours", "-seed", "-format", "Erlang C", "-scenario", "-replications", "-policy", "-chart"} {
		if !strings.Contains(errOut.String(), f) {
			t.Errorf("help simulate does not mention %s:\n%s", f, errOut.String())
		}
	}
	out.Reset()
	if err := run(context.Background(), []string{"help"}, &out, &errOut, env(nil)); err != nil || !strings.Contains(out.String(), "simulate") {
		t.Errorf("help: %v, %q; want the simulate command listed", err, out.String())
	}
}

func TestSimulateText(t *testing.T) {
	out, progress := runSimulateCmd(t, simulateArgs...)
	for _, want := range []string{"120 calls/h, mean handle 2m0s", "agents  offered  answered", "service level", "Erlang C",
		"fewest agents for 80 % within 20s"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout does not contain %q:\n%s", want, out)
		}
	}
	rows := 0
	for line := range strings.Lines(out) {
		if f := strings.Fields(line); len(f) > 0 && (f[0] == "3" || f[0] == "4" || f[0] == "5") {
			rows++
		}
	}
	if rows != 3 {
		t.Errorf("stdout has %d level rows; want 3:\n%s", rows, out)
	}
	if strings.Contains(out, "simulating") {
		t.Errorf("progress on stdout:\n%s", out)
	}
	for _, want := range []string{"simulating 3 agents (1/3)", "simulating 4 agents (2/3)", "simulating 5 agents (3/3)"} {
		if !strings.Contains(progress, want) {
			t.Errorf("stderr %q; want %q", progress, want)
		}
	}
	// The same flags and seed print the same table.
	if again, _ := runSimulateCmd(t, simulateArgs...); again != out {
		t.Errorf("a second run printed\n%s\nthe first\n%s", again, out)
	}
}

func TestSimulateJSON(t *testing.T) {
	out, progress := runSimulateCmd(t, append(simulateArgs, "--format", "json", "--seed", "3", "--patience", "0")...)
	var rep struct {
		Inputs struct {
			ArrivalsPerHour float64 `json:"arrivals_per_hour"`
			HandleS         float64 `json:"handle_s"`
			PatienceS       float64 `json:"patience_s"`
			SLAS            float64 `json:"sla_s"`
			Seed            uint64  `json:"seed"`
			WarmupS         float64 `json:"warmup_s"`
		} `json:"inputs"`
		Levels []struct {
			Agents          int      `json:"agents"`
			Offered         int      `json:"offered"`
			Answered        int      `json:"answered"`
			Abandoned       int      `json:"abandoned"`
			ServiceLevelPct *float64 `json:"service_level_pct"`
			ErlangCPct      *float64 `json:"erlang_c_service_level_pct"`
			OccupancyPct    *float64 `json:"occupancy_pct"`
			P90WaitS        *float64 `json:"p90_wait_s"`
		} `json:"levels"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("stdout is not the JSON report: %v\n%s", err, out)
	}
	in := rep.Inputs
	if in.ArrivalsPerHour != 120 || in.HandleS != 120 || in.PatienceS != 0 || in.SLAS != 20 || in.Seed != 3 || in.WarmupS != 3600 {
		t.Errorf("inputs %+v; want the flags given", in)
	}
	if len(rep.Levels) != 3 {
		t.Fatalf("%d levels; want 3:\n%s", len(rep.Levels), out)
	}
	for i, l := range rep.Levels {
		if l.Agents != 3+i || l.Offered == 0 || l.Answered != l.Offered || l.Abandoned != 0 ||
			l.ServiceLevelPct == nil || l.ErlangCPct == nil || l.OccupancyPct == nil || l.P90WaitS == nil {
			t.Errorf("level %d: %+v; want agents %d with every figure and nobody abandoning", i, l, 3+i)
		}
	}
	if !strings.Contains(progress, "simulating 5 agents (3/3)") {
		t.Errorf("stderr %q; want progress", progress)
	}
}

// smallScenario is two agencies, a short day, two replications.
const smallScenario = `
name: small
warmup_h: 0.5
hours: 1
replications: 2
agencies:
  - id: a
    queues:
      - id: a.voice
        agents: 3
        arrivals_per_hour: [60]
        handle: {mean_s: 120}
        sla_s: 20
        overflow: {after_s: 30, to: ["*"]}
  - id: b
    queues:
      - id: b.voice
        agents: 2
        arrivals_per_hour: [30]
        handle: {kind: fixed, mean_s: 120}
        patience_s: 300
`

func TestSimulateScenario(t *testing.T) {
	dir := t.TempDir()
	file, chart := dir+"/small.yaml", dir+"/chart.svg"
	if err := os.WriteFile(file, []byte(smallScenario), 0o644); err != nil {
		t.Fatal(err)
	}
	out, progress := runSimulateCmd(t, "simulate", "--scenario", file, "--chart", chart)
	for _, want := range []string{"scenario small: 2 replications", "as-written", "separate", "pooled", "erlang-c",
		"by other agency", "closes"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout does not contain %q:\n%s", want, out)
		}
	}
	if !strings.Contains(progress, "\rsimulating [") || !strings.Contains(progress, "6/6 days") || strings.Contains(out, "simulating") {
		t.Errorf("progress %q; want a bar on stderr ending at 6/6 days", progress)
	}
	svg, err := os.ReadFile(chart)
	if err != nil || !strings.HasPrefix(string(svg), "<svg") || strings.Count(string(svg), "<polyline") != 12 {
		t.Errorf("chart %v: want an SVG with 2 panels × 3 worlds × 2 agencies lines:\n%.300s", err, svg)
	}

	js, _ := runSimulateCmd(t, "simulate", "--scenario", file, "--format", "json", "--replications", "3", "--policy", "oldest-first")
	var cmp struct {
		Replications int    `json:"replications"`
		Policy       string `json:"policy"`
		Worlds       []struct {
			World    string `json:"world"`
			Agencies []struct {
				ID      string `json:"id"`
				Metrics struct {
					WaitS struct{ Mean, CI95 *float64 } `json:"wait_s"`
				} `json:"metrics"`
				Hourly []json.RawMessage `json:"hourly"`
			} `json:"agencies"`
		} `json:"worlds"`
	}
	if err := json.Unmarshal([]byte(js), &cmp); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, js)
	}
	if cmp.Replications != 3 || cmp.Policy != "oldest-first" || len(cmp.Worlds) != 3 || len(cmp.Worlds[0].Agencies) != 2 ||
		len(cmp.Worlds[0].Agencies[0].Hourly) != 1 {
		t.Errorf("JSON %+v; want 3 replications, the policy, three worlds of two agencies with one hour each", cmp)
	}
}

func TestSimulateScenarioRefuses(t *testing.T) {
	dir := t.TempDir()
	file := dir + "/bad.yaml"
	if err := os.WriteFile(file, []byte(strings.Replace(smallScenario, "agents: 3", "agents: -3", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--scenario", file}, "agencies[0].queues[0].agents"},
		{[]string{"--scenario", "no-such"}, "weekday-8"},
		{[]string{"--scenario", "weekday-8", "--agents", "3"}, "give one"},
		{[]string{"--scenario", "weekday-8", "--policy", "random"}, "--policy"},
		{[]string{"--scenario", "weekday-8", "--help-min-idle", "2"}, "--help-min-idle"},
		{[]string{"--scenario", "weekday-8", "--policy", "help-while-healthy", "--help-min-idle", "-1"}, "--help-min-idle"},
		{[]string{"--scenario", "weekday-8", "--replications", "1"}, "replications"},
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), append([]string{"simulate"}, tt.args...), &out, &errOut, env(nil))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("simulate %q: %v; want an error about %q", tt.args, err, tt.want)
		}
	}
}

// A simulation collects garbage less often, unless GOGC says otherwise,
// and puts the pace back when it is done.
func TestSimulateSlowsTheCollector(t *testing.T) {
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	restore := slowerGC(func(string) string { return "" })
	if got := debug.SetGCPercent(simulateGCPercent); got != simulateGCPercent {
		t.Errorf("pace while simulating %d; want %d", got, simulateGCPercent)
	}
	restore()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("pace after simulating %d; want 100 back", got)
	}
	restore = slowerGC(func(k string) string { return map[string]string{"GOGC": "50"}[k] })
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("pace with GOGC set %d; want it left alone", got)
	}
	restore()
}
