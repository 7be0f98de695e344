package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type fakeGauges struct{}

func (fakeGauges) Active() int  { return 3 }
func (fakeGauges) Online() bool { return true }

// TestEdgeDebugAddrMustBeLoopback: profiles have no authentication, so
// --debug-addr refuses anything but loopback, naming the flag.
func TestEdgeDebugAddrMustBeLoopback(t *testing.T) {
	for _, ok := range []string{"127.0.0.1:6060", "[::1]:0", "localhost:6060"} {
		if err := checkDebugAddr(ok); err != nil {
			t.Errorf("checkDebugAddr(%q) = %v; want nil", ok, err)
		}
	}
	for _, bad := range []string{"0.0.0.0:6060", ":6060", "10.0.0.5:6060", "example.org:6060", "127.0.0.1"} {
		if err := checkDebugAddr(bad); err == nil || !strings.Contains(err.Error(), "--debug-addr") {
			t.Errorf("checkDebugAddr(%q) = %v; want an error naming --debug-addr", bad, err)
		}
	}
	plan := filepath.Join(t.TempDir(), "plan.yaml")
	if err := os.WriteFile(plan, []byte(edgePlan), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	_, _, err := parseEdge([]string{"--dialplan", plan, "--gateway-user", "gateway"}, &out,
		env(map[string]string{"TELLONCE_GATEWAY_PASSWORD": "x", "TELLONCE_DEBUG_ADDR": "0.0.0.0:6060"}))
	if err == nil || !strings.Contains(err.Error(), "--debug-addr") {
		t.Errorf("TELLONCE_DEBUG_ADDR=0.0.0.0:6060: %v; want an error naming --debug-addr", err)
	}
}

// TestEdgeDebugServer: /metrics has the edge's gauges and the Go
// runtime's, /debug/pprof/ answers, and the server stops with its
// context.
func TestEdgeDebugServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- newEdgeDebugServer(ln, fakeGauges{}, slog.New(slog.NewTextHandler(io.Discard, nil))).Run(ctx)
	}()
	base := "http://" + ln.Addr().String()
	get := func(path string) string {
		t.Helper()
		res, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, res.StatusCode, b)
		}
		return string(b)
	}
	m := get("/metrics")
	for _, want := range []string{"tellonce_edge_calls_active 3", "tellonce_edge_gateway_online 1", "go_memstats_heap_inuse_bytes", "process_resident_memory_bytes"} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if p := get("/debug/pprof/"); !strings.Contains(p, "goroutine") {
		t.Errorf("/debug/pprof/ does not list the goroutine profile")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(waitTime):
		t.Fatal("the debug server did not stop")
	}
}
