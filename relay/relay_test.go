package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"tellonce/lease"
)

type fakeLeadership struct {
	mu    sync.Mutex
	st    lease.Status
	peers map[string]bool
}

func (f *fakeLeadership) Status() lease.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st
}

func (f *fakeLeadership) IsPeer(ip string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.peers[ip]
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// echo is the leader's own server: it answers with the client address it
// was given, and echoes WebSocket messages.
func echo() http.Handler {
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ws" {
			c, err := up.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			defer c.Close()
			for {
				mt, m, err := c.ReadMessage()
				if err != nil {
					return
				}
				_ = c.WriteMessage(mt, m)
			}
		}
		w.Header().Set("X-Remote", r.RemoteAddr)
		w.Header().Set("X-Host", r.Host)
		_, _ = io.WriteString(w, "leader:"+r.Header.Get("X-Forwarded-For"))
	})
}

func pair(t *testing.T, trustStandby bool) (standby *httptest.Server, leaderFront *Front) {
	t.Helper()
	lead := &fakeLeadership{peers: map[string]bool{"127.0.0.1": trustStandby}}
	leaderFront = New(Config{Leadership: lead, Ready: func(context.Context) error { return nil }, Log: quiet})
	leaderFront.Lead(echo())
	leader := httptest.NewServer(leaderFront)
	t.Cleanup(leader.Close)
	lead.st = lease.Status{Role: lease.RoleLeader, Leader: leader.Listener.Addr().String(), Epoch: 7}
	stand := &fakeLeadership{st: lease.Status{Role: lease.RoleStandby, Leader: leader.Listener.Addr().String(), Epoch: 7}}
	standby = httptest.NewServer(New(Config{Leadership: stand, Log: quiet}))
	t.Cleanup(standby.Close)
	return standby, leaderFront
}

// A standby passes requests to the leader with the client's address,
// which the leader believes from a peer and from nobody else.
func TestStandbyRelaysWithTheClientAddress(t *testing.T) {
	for _, trusted := range []bool{true, false} {
		standby, _ := pair(t, trusted)
		req, _ := http.NewRequest("GET", standby.URL+"/v1/anything", nil)
		req.Host = "line.example"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "leader:") {
			t.Fatalf("through the standby: %d %s", resp.StatusCode, body)
		}
		if got := resp.Header.Get("X-Host"); got != "line.example" {
			t.Errorf("the leader saw host %q; want the client's", got)
		}
		remote := resp.Header.Get("X-Remote")
		if trusted && (remote != "127.0.0.1:0" || string(body) != "leader:") {
			t.Errorf("from a peer the leader saw %s with XFF %q; want the client's address taken from it", remote, body)
		}
		if !trusted && (remote == "127.0.0.1:0" || string(body) != "leader:127.0.0.1") {
			t.Errorf("from a stranger the leader saw %s with XFF %q; want the forwarded header left alone", remote, body)
		}
	}
}

func TestStandbyRelaysWebSockets(t *testing.T) {
	standby, _ := pair(t, true)
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(standby.URL, "http")+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := c.WriteMessage(websocket.TextMessage, []byte("안녕")); err != nil {
		t.Fatal(err)
	}
	if _, m, err := c.ReadMessage(); err != nil || string(m) != "안녕" {
		t.Fatalf("echo through the standby = %q, %v", m, err)
	}
}

// A standby that cannot reach the leader answers 503 at once, on /readyz
// too; a request another node relayed is never relayed again.
func TestStandbyWithoutLeaderAnswersUnavailable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	stand := &fakeLeadership{st: lease.Status{Role: lease.RoleStandby, Leader: dead, Epoch: 3}}
	f := New(Config{Leadership: stand, Log: quiet, DialTimeout: time.Second})
	for _, tt := range []struct {
		path    string
		relayed bool
	}{{"/v1/contacts", false}, {"/readyz", false}, {"/v1/contacts", true}} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", tt.path, nil)
		if tt.relayed {
			stand.st.Leader = "127.0.0.1:1" // would loop if relayed again
			req.Header.Set(relayedHeader, "1")
		}
		began := time.Now()
		f.ServeHTTP(rec, req)
		var body struct {
			Error struct{ Code string }
			Role  string
		}
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		if rec.Code != http.StatusServiceUnavailable || body.Error.Code != "unavailable" {
			t.Errorf("%s (relayed %v) = %d %s; want 503 unavailable", tt.path, tt.relayed, rec.Code, rec.Body)
		}
		if d := time.Since(began); d > 5*time.Second {
			t.Errorf("%s took %s; want an answer, not a hang", tt.path, d)
		}
	}
}

// /readyz tells the role, the leader and the epoch.
func TestReadyzTellsTheRole(t *testing.T) {
	standby, leaderFront := pair(t, true)
	for _, tt := range []struct {
		h    http.Handler
		role string
	}{{leaderFront, "leader"}} {
		rec := httptest.NewRecorder()
		tt.h.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
		var body struct {
			Status, Role, Leader string
			Epoch                int64
		}
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		if rec.Code != 200 || body.Status != "ready" || body.Role != tt.role || body.Epoch != 7 || body.Leader == "" {
			t.Errorf("/readyz = %d %s", rec.Code, rec.Body)
		}
	}
	resp, err := http.Get(standby.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"role":"standby"`) {
		t.Errorf("standby /readyz = %d %s", resp.StatusCode, b)
	}
	leaderFront.Lead(nil) // restoring, or stepping down
	rec := httptest.NewRecorder()
	leaderFront.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("/readyz of a leader without its server = %d; want 503", rec.Code)
	}
}

// When the leader changes, the WebSockets relayed to the old one are
// closed, so their clients reconnect rather than hang on it.
func TestLeaderChangeEndsRelayedSockets(t *testing.T) {
	lead := &fakeLeadership{peers: map[string]bool{}}
	lf := New(Config{Leadership: lead, Log: quiet})
	lf.Lead(echo())
	leader := httptest.NewServer(lf)
	defer leader.Close()
	lead.st = lease.Status{Role: lease.RoleLeader, Leader: leader.Listener.Addr().String()}
	stand := &fakeLeadership{st: lease.Status{Role: lease.RoleStandby, Leader: leader.Listener.Addr().String()}}
	f := New(Config{Leadership: stand, Log: quiet})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	defer func() { cancel(); <-done }()
	standby := httptest.NewServer(f)
	defer standby.Close()
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(standby.URL, "http")+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	stand.mu.Lock()
	stand.st.Leader = "127.0.0.1:1" // another node took over
	stand.mu.Unlock()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, _, err := c.ReadMessage(); err == nil || strings.Contains(err.Error(), "timeout") {
		t.Fatalf("the relayed socket after the leader changed: %v; want it closed", err)
	}
}

// A node that cannot serve now says when to try again: until the
// unanswering leader's lease would have run out (and a little more), or
// shortly while a takeover is under way; to a WebSocket with the close
// CloseRetry, whose reason a browser can read, to HTTP with Retry-After.
func TestUnavailableSaysWhenToRetry(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	stand := &fakeLeadership{st: lease.Status{Role: lease.RoleStandby, Leader: dead, Epoch: 3, Expires: time.Now().Add(10 * time.Second)}}
	standby := httptest.NewServer(New(Config{Leadership: stand, Log: quiet, DialTimeout: time.Second}))
	defer standby.Close()
	restoring := &fakeLeadership{st: lease.Status{Role: lease.RoleLeader, Leader: "127.0.0.1:1", Epoch: 4}}
	leader := httptest.NewServer(New(Config{Leadership: restoring, Log: quiet})) // no server of its own yet
	defer leader.Close()

	resp, err := http.Get(standby.URL + "/v1/contacts")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); resp.StatusCode != http.StatusServiceUnavailable || err != nil || s < 6 || s > 11 {
		t.Errorf("HTTP while the leader's lease has 10 s left = %d, Retry-After %q; want 503 and about 11 s", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	for _, tt := range []struct {
		name     string
		url      string
		min, max int
	}{
		{"a standby whose leader does not answer, 10 s of its lease left", standby.URL, 5000, 10500},
		{"a new leader restoring", leader.URL, 500, 500},
	} {
		c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(tt.url, "http")+"/v1/agent/ws", nil)
		if err != nil {
			t.Fatalf("%s: dial: %v", tt.name, err)
		}
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, _, err = c.ReadMessage()
		c.Close()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != CloseRetry {
			t.Errorf("%s: the socket ended with %v; want the close %d", tt.name, err, CloseRetry)
			continue
		}
		var ms int
		if _, err := fmt.Sscanf(ce.Text, "unavailable; retry in %d ms", &ms); err != nil || ms < tt.min || ms > tt.max {
			t.Errorf("%s: close reason %q; want a retry in %d–%d ms", tt.name, ce.Text, tt.min, tt.max)
		}
	}

	stand.mu.Lock()
	stand.st.Leader, stand.st.Expires = "", time.Time{} // the lease ran out; nobody leads yet
	stand.mu.Unlock()
	resp, err = http.Get(standby.URL + "/v1/contacts")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" {
		t.Errorf("HTTP while nobody leads = %d, Retry-After %q; want 503 and 1 s", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if got := retryIn(lease.Status{Expires: time.Now().Add(time.Hour)}, time.Now()); got != maxRetry {
		t.Errorf("retry with an hour of lease left = %s; want the cap, %s", got, maxRetry)
	}
}
