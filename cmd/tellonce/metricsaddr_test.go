package main

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"tellonce/clocktest"
)

func scrape(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestMetricsNeedTheToken(t *testing.T) {
	base, _ := serveWith(t, "--metrics-token", "s3cret-scrape")
	if code, body := scrape(t, base+"metrics", ""); code != http.StatusUnauthorized || !strings.Contains(body, `"code":"unauthorized"`) {
		t.Errorf("no token: %d %s, want 401 with the error shape", code, body)
	}
	if code, _ := scrape(t, base+"metrics", "wrong"); code != http.StatusUnauthorized {
		t.Errorf("wrong token: %d, want 401", code)
	}
	if code, body := scrape(t, base+"metrics", "s3cret-scrape"); code != http.StatusOK || !strings.Contains(body, "go_goroutines") {
		t.Errorf("right token: %d, want 200 with the metrics", code)
	}
}

func TestMetricsOnTheirOwnAddress(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	base, _ := serveWith(t, "--metrics-addr", addr)
	if code, _ := scrape(t, base+"metrics", ""); code != http.StatusNotFound {
		t.Errorf("/metrics on --addr: %d, want 404 when --metrics-addr is set", code)
	}
	if code, body := scrape(t, "http://"+addr+"/metrics", ""); code != http.StatusOK || !strings.Contains(body, "go_goroutines") {
		t.Errorf("/metrics on --metrics-addr: %d, want 200 with the metrics", code)
	}
}

// Open sockets are counted by kind, and the flow's counters follow a
// contact from both backends' journals.
func TestMetricsCountSocketsAndContacts(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		s := startServer(t, backend)
		s.availableAgent(t, "kim.minji")
		s.createChat(t, "gov110.general", "01012345678", "road sign down")
		clocktest.Eventually(t, "the agent socket and the contact in /metrics", 10*time.Second, func() bool {
			_, body := scrape(t, s.base+"metrics", "")
			return strings.Contains(body, `tellonce_websockets_open{kind="agent"} 1`) &&
				strings.Contains(body, `tellonce_queue_offered_total{queue="gov110.general"} 1`) &&
				strings.Contains(body, `tellonce_offers_total{queue="gov110.general"} 1`) &&
				strings.Contains(body, "tellonce_websocket_slow_clients_cut_total 0")
		})
	})
}

// --debug-addr serves Go's profiles and the collection that returns freed
// memory on loopback (not on --addr) and refuses any other address, naming
// the flag.
func TestServeDebugAddr(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	base, _ := serveWith(t, "--debug-addr", addr)
	if code, body := scrape(t, "http://"+addr+"/debug/pprof/", ""); code != http.StatusOK || !strings.Contains(body, "goroutine") {
		t.Errorf("/debug/pprof/ on --debug-addr: %d, want 200 with the profiles", code)
	}
	resp, err := http.Post("http://"+addr+"/debug/free-os-memory", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("POST /debug/free-os-memory: %s, want 204", resp.Status)
	}
	if code, _ := scrape(t, base+"debug/pprof/", ""); code == http.StatusOK {
		t.Errorf("/debug/pprof/ on --addr: %d, want it served on --debug-addr only", code)
	}
	for _, bad := range []string{"0.0.0.0:6060", "10.0.0.5:6060"} {
		if _, err := parseServe("serve", nil, io.Discard, env(map[string]string{"TELLONCE_DEBUG_ADDR": bad})); err == nil ||
			!strings.Contains(err.Error(), "--debug-addr") {
			t.Errorf("TELLONCE_DEBUG_ADDR=%s: %v; want an error naming --debug-addr", bad, err)
		}
	}
}
