package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"tellonce/iceservers"
)

// TestTURNSecretMintsCredentialsAndIsNeverShown: with a secret shared
// with coturn (--turn-secret-file), an agent's hello lists the TURN
// servers with the agent's own short-lived credentials — "EXPIRY:agent"
// and the HMAC coturn recomputes — and the secret shows nowhere: not in
// the hello, the server's or the edge's logs (at debug), their --help, or
// their errors.
func TestTURNSecretMintsCredentialsAndIsNeverShown(t *testing.T) {
	const secret = "coturn-shared-secret-for-tests"
	file := filepath.Join(t.TempDir(), "turn-secret")
	if err := os.WriteFile(file, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "sqlite", "--log-level", "debug", "--turn-secret-file", file, "--turn-credential-ttl", "2h",
		"--ice-servers", "stun:turn.example:3478,turn:turn.example:3478?transport=udp")
	e := startEdge(t, s, "--log-level", "debug", "--turn-secret-file", file, "--ice-servers", "turn:turn.example:3478?transport=udp")

	before := time.Now()
	ws, hello := s.agentDesk(t, "han.jiwon", "tellonce-demo")
	defer ws.Close()
	ice, _ := hello.get("ice_servers").([]any)
	if len(ice) != 2 {
		t.Fatalf("hello ice_servers = %v; want the STUN and the TURN server", hello.get("ice_servers"))
	}
	turn, _ := ice[1].(map[string]any)
	user, _ := turn["username"].(string)
	cred, _ := turn["credential"].(string)
	expiry, name, _ := strings.Cut(user, ":")
	at, err := strconv.ParseInt(expiry, 10, 64)
	if err != nil || name != "han.jiwon" {
		t.Fatalf("TURN username %q; want EXPIRY:han.jiwon", user)
	}
	if lo, hi := before.Add(2*time.Hour).Unix()-1, time.Now().Add(2*time.Hour).Unix()+1; at < lo || at > hi {
		t.Errorf("TURN credential expires at %d; want now+2h (%d-%d)", at, lo, hi)
	}
	if cred != iceservers.Credential([]byte(secret), user) {
		t.Errorf("TURN credential %q is not HMAC-SHA1(secret, %q)", cred, user)
	}
	if stun, _ := ice[0].(map[string]any); stun["username"] != nil {
		t.Errorf("the STUN server got credentials: %v", stun)
	}

	var help bytes.Buffer
	_, _ = parseServe("serve", []string{"--help"}, &help, env(map[string]string{"TELLONCE_TURN_SECRET": secret}))
	_, _, _ = parseEdge([]string{"--help"}, &help, env(map[string]string{"TELLONCE_TURN_SECRET": secret}))
	_, short := parseServe("serve", nil, &help, env(map[string]string{"TELLONCE_TURN_SECRET": "short-secret"}))
	_, both := parseServe("serve", []string{"--turn-secret-file", file}, &help, env(map[string]string{"TELLONCE_TURN_SECRET": secret}))
	_, static := parseServe("serve", []string{"--ice-servers", "turn:u:" + secret + "@turn.example"}, &help, env(map[string]string{"TELLONCE_TURN_SECRET": secret}))
	if short == nil || both == nil || static == nil {
		t.Errorf("a short secret (%v), a secret twice (%v), static TURN credentials with a secret (%v): want each refused", short, both, static)
	}
	for what, text := range map[string]string{"the hello": string(hello.Raw), "the server's log": s.logs.String(),
		"the edge's log": e.logs.String(), "--help": help.String(), "the errors": errText(short) + errText(both) + errText(static)} {
		if strings.Contains(text, secret) || strings.Contains(text, "short-secret") {
			t.Errorf("%s shows the TURN secret:\n%s", what, tail(text, 20))
		}
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
