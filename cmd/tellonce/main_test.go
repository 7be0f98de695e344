package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"tellonce/servertest"
	"tellonce/stats"
	"tellonce/web"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestHelpAndVersion(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr bool
		out     string // expected in stdout+stderr
	}{
		{[]string{"help"}, false, "Commands:"},
		{[]string{"--help"}, false, "serve"},
		{[]string{"version"}, false, "tellonce dev"},
		{[]string{}, true, "Usage:"},
		{[]string{"frobnicate"}, true, "Usage:"},
		{[]string{"serve", "-h"}, true, "TELLONCE_ADDR"},
		{[]string{"help", "serve"}, true, "TELLONCE_DB"},
		{[]string{"serve", "--no-such-flag"}, true, "flag provided but not defined"},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		err := run(context.Background(), tt.args, &out, &out, env(nil))
		if (err != nil) != tt.wantErr {
			t.Errorf("run(%q) error = %v; want error %v", tt.args, err, tt.wantErr)
		}
		if !strings.Contains(out.String(), tt.out) {
			t.Errorf("run(%q) printed %q; want it to contain %q", tt.args, out.String(), tt.out)
		}
	}
}

func TestServeConfigFromFlagsAndEnvironment(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		addr string
		db   string
		demo bool
		// history is the history retention wanted (zero: the default).
		history time.Duration
		errStr  string
	}{
		{name: "defaults", addr: "127.0.0.1:8080"},
		{name: "history retention", args: []string{"--history-retention", "720h"}, addr: "127.0.0.1:8080", history: 720 * time.Hour},
		{name: "history retention from env", env: map[string]string{"TELLONCE_HISTORY_RETENTION": "48h"}, addr: "127.0.0.1:8080", history: 48 * time.Hour},
		{name: "history retention under a day", args: []string{"--history-retention", "12h"}, errStr: "at least 24h"},
		{name: "env", env: map[string]string{"TELLONCE_ADDR": ":9000", "TELLONCE_DB": "postgres://x/y", "TELLONCE_DEMO": "true"}, addr: ":9000", db: "postgres://x/y", demo: true},
		{name: "flag wins over env", args: []string{"--addr", ":7000"}, env: map[string]string{"TELLONCE_ADDR": ":9000"}, addr: ":7000"},
		{name: "DATABASE_URL fallback", env: map[string]string{"DATABASE_URL": "postgres://d/b"}, addr: "127.0.0.1:8080", db: "postgres://d/b"},
		{name: "TELLONCE_DB beats DATABASE_URL", env: map[string]string{"DATABASE_URL": "postgres://d/b", "TELLONCE_DB": "x.db"}, addr: "127.0.0.1:8080", db: "x.db"},
		{name: "bad env bool", env: map[string]string{"TELLONCE_DEMO": "perhaps"}, errStr: "TELLONCE_DEMO"},
		{name: "short ttl", args: []string{"--session-ttl", "5s"}, errStr: "too short"},
		{name: "stray argument", args: []string{"extra"}, errStr: "unexpected argument"},
		{name: "chat burst zero", args: []string{"--chat-burst", "0"}, errStr: "--chat-burst 0"},
		{name: "login burst too big", env: map[string]string{"TELLONCE_LOGIN_BURST_ADDR": "1000000"}, errStr: "--login-burst-addr"},
		{name: "chat refill too short", args: []string{"--chat-refill", "1ms"}, errStr: "--chat-refill"},
		{name: "login refill too long", args: []string{"--login-refill", "2h"}, errStr: "--login-refill"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseServe("serve", tt.args, io.Discard, env(tt.env))
			if tt.errStr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errStr) {
					t.Fatalf("parseServe() error = %v; want one mentioning %q", err, tt.errStr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.web.Addr != tt.addr || c.db != tt.db || c.demo != tt.demo {
				t.Errorf("parseServe() = addr %q db %q demo %v; want %q %q %v", c.web.Addr, c.db, c.demo, tt.addr, tt.db, tt.demo)
			}
			if want := cmp.Or(tt.history, stats.DefaultHistoryRetention); c.historyRetention != want {
				t.Errorf("parseServe() history retention = %s; want %s", c.historyRetention, want)
			}
		})
	}
}

// The public limits are the server's defaults unless set, by flag or by
// environment.
func TestServeLimitsFromFlagsAndEnvironment(t *testing.T) {
	def := web.DefaultConfig()
	c, err := parseServe("serve", nil, io.Discard, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.web.ChatBurst != def.ChatBurst || c.web.ChatRefill != def.ChatRefill ||
		c.web.LoginBurstAddr != def.LoginBurstAddr || c.web.LoginRefill != def.LoginRefill {
		t.Errorf("default limits %+v; want the server's defaults", c.web)
	}
	c, err = parseServe("serve", []string{"--chat-burst", "200", "--login-refill", "2s"}, io.Discard,
		env(map[string]string{"TELLONCE_CHAT_REFILL": "1s", "TELLONCE_LOGIN_BURST_ADDR": "400", "TELLONCE_CHAT_BURST": "7"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.web.ChatBurst != 200 || c.web.ChatRefill != time.Second || c.web.LoginBurstAddr != 400 || c.web.LoginRefill != 2*time.Second {
		t.Errorf("limits chat %d/%s login %d/%s; want 200/1s (the flag wins) and 400/2s",
			c.web.ChatBurst, c.web.ChatRefill, c.web.LoginBurstAddr, c.web.LoginRefill)
	}
}

func TestDescribeDBHidesPassword(t *testing.T) {
	got := describeDB("postgres://tell:s3cret@db.example:5432/tellonce")
	if strings.Contains(got, "s3cret") {
		t.Errorf("describeDB() = %q; the password must not appear", got)
	}
}

// TestServeDemoAndGracefulStop starts the server in-process on the
// embedded default, checks it answers with demo data, then cancels it.
func TestServeDemoAndGracefulStop(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out servertest.LogBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--demo", "--addr", "127.0.0.1:0", "--db", filepath.Join(dir, "t.db")}, &out, io.Discard,
			env(map[string]string{"TELLONCE_ADMIN_PASSWORD": "admin-password-1"}))
	}()
	base := waitFor(t, &out, done)
	if !strings.Contains(out.String(), "sup.gov110") || !strings.Contains(out.String(), "tellonce-demo") {
		t.Errorf("serve --demo printed %q; want the demo logins", out.String())
	}
	res, err := http.Post(base+"v1/sessions", "application/json", strings.NewReader(`{"username":"admin","password":"admin-password-1"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Errorf("admin login with TELLONCE_ADMIN_PASSWORD = %d; want 201", res.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v after cancel; want nil", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop within 20s of cancel")
	}
}

func waitFor(t testing.TB, out *servertest.LogBuffer, done <-chan error) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if u, ok := servertest.ServingURL(out.String()); ok {
			return u
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited early: %v; output %q", err, out.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("serve did not report its address; output %q", out.String())
	return ""
}

// TestSIGTERMStopsTheBinary builds the real binary and checks that SIGTERM
// ends it cleanly with exit status 0.
func TestSIGTERMStopsTheBinary(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "tellonce")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), "t.db"))
	cmd.Env = append(os.Environ(), "TELLONCE_ADMIN_PASSWORD=admin-password-1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr servertest.LogBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	var base string
	for sc.Scan() {
		if u, ok := servertest.ServingURL(sc.Text()); ok {
			base = u
			break
		}
	}
	if base == "" {
		cmd.Process.Kill()
		t.Fatalf("the binary did not report its address; stderr %q", stderr.String())
	}
	go io.Copy(io.Discard, stdout)
	res, err := http.Get(base + "readyz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("GET /readyz = %d; want 200", res.StatusCode)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("after SIGTERM the binary exited with %v; want status 0 (stderr %q)", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "msg=stopped") {
		t.Errorf("stderr %q; want the graceful-stop log line", stderr.String())
	}
}

// TestREADMEListsEveryServeFlag keeps the README's configuration table
// true: every flag of serve, with its environment variable, has a row,
// and every row is a flag.
func TestREADMEListsEveryServeFlag(t *testing.T) {
	var help strings.Builder
	if _, err := parseServe("serve", []string{"-h"}, &help, func(string) string { return "" }); err == nil {
		t.Fatal("-h did not stop parsing")
	}
	flags := map[string]string{}
	for _, line := range strings.Split(help.String(), "\n") {
		var name, env string
		if _, err := fmt.Sscanf(strings.TrimSpace(line), "--%s (%s", &name, &env); err == nil {
			flags[name] = strings.TrimSuffix(env, ")")
		}
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(string(readme), "\n") {
		var name, env string
		if _, err := fmt.Sscanf(line, "| `--%s | `%s", &name, &env); err == nil {
			rows[strings.TrimSuffix(name, "`")] = strings.TrimSuffix(strings.TrimSuffix(env, "`,"), "`")
		}
	}
	if len(flags) < 10 {
		t.Fatalf("read %d flags from the help; the parse is broken:\n%s", len(flags), help.String())
	}
	for name, env := range flags {
		if got, ok := rows[name]; !ok {
			t.Errorf("README's configuration table has no row for --%s (%s)", name, env)
		} else if got != env {
			t.Errorf("README names %s for --%s; the binary reads %s", got, name, env)
		}
	}
	for name := range rows {
		if _, ok := flags[name]; !ok {
			t.Errorf("README lists --%s, which serve does not take", name)
		}
	}
}

// The WebSockets' settings come from flags and the environment, and
// values out of range are refused with the flag's name.
func TestSocketSettingsFromFlagsAndEnvironment(t *testing.T) {
	c, err := parseServe("serve", []string{"--ws-send-buffer", "512"}, io.Discard,
		env(map[string]string{"TELLONCE_WS_ACK_TIMEOUT": "3s", "TELLONCE_WS_MAX_FRAME": "131072"}))
	if err != nil {
		t.Fatal(err)
	}
	s := c.web.Sockets
	if s.SendBuffer != 512 || s.AckTimeout != 3*time.Second || s.MaxFrameBytes != 128<<10 ||
		s.WriteTimeout != 10*time.Second || s.PongWait != time.Minute {
		t.Errorf("socket settings %+v; want 512, 3s, 131072 and the defaults", s)
	}
	for _, bad := range [][]string{{"--ws-send-buffer", "1"}, {"--ws-pong-wait", "1s"}, {"--ws-max-frame", "10"},
		{"--ws-write-timeout", "2h"}, {"--ws-ack-timeout", "0s"}} {
		if _, err := parseServe("serve", bad, io.Discard, env(nil)); err == nil || !strings.Contains(err.Error(), bad[0]) {
			t.Errorf("%v = %v; want an error naming %s", bad, err, bad[0])
		}
	}
}

// TestTrustProxyTakesAddressesAndNetworks: --trust-proxy is a list of
// addresses and CIDRs; anything else is refused by name.
func TestTrustProxyTakesAddressesAndNetworks(t *testing.T) {
	c, err := parseServe("serve", []string{"--trust-proxy", "10.0.0.0/8, 192.0.2.7,2001:db8::1,::ffff:198.51.100.1"}, io.Discard, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range c.web.TrustedProxies {
		got = append(got, p.String())
	}
	if want := "10.0.0.0/8 192.0.2.7/32 2001:db8::1/128 198.51.100.1/32"; strings.Join(got, " ") != want {
		t.Fatalf("--trust-proxy parsed to %v; want %s", got, want)
	}
	if c, _ := parseServe("serve", nil, io.Discard, env(nil)); len(c.web.TrustedProxies) != 0 {
		t.Fatalf("no --trust-proxy trusts %v; want nothing", c.web.TrustedProxies)
	}
	for _, bad := range []string{"true", "10.0.0.0/33", "proxy.example"} {
		if _, err := parseServe("serve", []string{"--trust-proxy", bad}, io.Discard, env(nil)); err == nil || !strings.Contains(err.Error(), "--trust-proxy") {
			t.Errorf("--trust-proxy %q: error %v; want one naming the flag", bad, err)
		}
	}
}

// --ice-servers reaches the desk's hello as RTCIceServer entries, and a
// bad list is refused naming the flag.
func TestServeICEServers(t *testing.T) {
	c, err := parseServe("serve", nil, io.Discard,
		env(map[string]string{"TELLONCE_ICE_SERVERS": "stun:stun.example:3478,turn:desk:pw@turn.example:3478?transport=udp"}))
	if err != nil {
		t.Fatal(err)
	}
	got := c.web.Sockets.ICEServers
	if len(got) != 2 || got[0].URLs[0] != "stun:stun.example:3478" || got[1].URLs[0] != "turn:turn.example:3478?transport=udp" ||
		got[1].Username != "desk" || got[1].Credential != "pw" {
		t.Errorf("ICE servers = %+v", got)
	}
	if _, err := parseServe("serve", []string{"--ice-servers", "turn:turn.example"}, io.Discard, env(nil)); err == nil ||
		!strings.Contains(err.Error(), "--ice-servers") {
		t.Errorf("a TURN server without credentials = %v; want an error naming --ice-servers", err)
	}
}
