package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"tellonce/agents"
	"tellonce/auth"
	"tellonce/directory"
	"tellonce/router"
	"tellonce/servertest"
	"tellonce/sql/sqltest"
	"tellonce/switchboard"
)

// Sockets follow their login: an agent's or gateway's WebSocket closes
// with agents.CloseSignedOut once the session it was opened with ends.

// signedOutWithin is how soon a socket closes after a change made through
// its own server.
const signedOutWithin = time.Second

// localOnly is a session cache period, and so a re-check period, so long
// that a socket closed within signedOutWithin was closed by its server's
// own doing, not by the re-check meant for changes made elsewhere.
const localOnly = time.Hour

// socket is a test WebSocket whose reader feeds a channel, so that waits
// are selects with a deadline.
type socket struct {
	name   string
	ws     *websocket.Conn
	frames chan map[string]any
	done   chan struct{} // closed when the reader ends; err says why
	err    error
	probes int
}

// signOutHarness is newHarness serving from a server whose session store
// caches lookups for cache, which is also how often its hub re-checks the
// open sockets' sessions; the hub is shut down when the test ends.
func signOutHarness(t *testing.T, b sqltest.Backend, cache time.Duration) *harness {
	t.Helper()
	h := newHarness(t, b)
	h.sessions = auth.NewSessions(h.db, h.cfg.SessionTTL, h.clock.Now)
	h.sessions.CacheLookups(cache)
	h.startServer(t, h.router)
	return h
}

// startServer replaces h's server by a new one on h's database, session
// store and directory, routing with rt.
func (h *harness) startServer(t *testing.T, rt *router.Router) {
	t.Helper()
	srv, err := New(h.cfg, Deps{
		DB: h.db, Directory: h.dir, Sessions: h.sessions, Hasher: testHasher, Registry: prometheus.NewRegistry(), Now: h.clock.Now,
		Switchboard: switchboard.New(rt, instantDurability{}, h.dir), Tokens: auth.NewContactTokens([]byte("test-key-0123456789abcdef0123456")),
	})
	if err != nil {
		t.Fatalf("web.New: %v", err)
	}
	// Closing the endpoint closes the sockets, then the server.
	h.server, h.ts = srv, servertest.Serve(t, srv)
	h.client = h.ts.Client()
}

// openSocket opens path with a session token and reads its hello.
func (h *harness) openSocket(t *testing.T, path, token string) *socket {
	t.Helper()
	ws, res, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(h.ts.URL, "http")+path,
		http.Header{"Authorization": {"Bearer " + token}})
	if err != nil {
		status := 0
		if res != nil {
			status = res.StatusCode
		}
		t.Fatalf("open %s: %v (HTTP %d)", path, err, status)
	}
	s := &socket{name: path, ws: ws, frames: make(chan map[string]any, 256), done: make(chan struct{})}
	go func() { // ends when the socket fails or closes
		defer close(s.done)
		for {
			var f map[string]any
			if err := ws.ReadJSON(&f); err != nil {
				s.err = err
				return
			}
			s.frames <- f
		}
	}()
	t.Cleanup(func() { _ = ws.Close() })
	if f := s.next(t); f["type"] != "hello" {
		t.Fatalf("%s: first frame %v; want hello", path, f)
	}
	return s
}

func (s *socket) next(t *testing.T) map[string]any {
	t.Helper()
	select {
	case f := <-s.frames:
		return f
	case <-s.done:
		t.Fatalf("%s: socket ended while waiting for a frame: %v", s.name, s.err)
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: no frame within 5s", s.name)
	}
	return nil
}

// wantOpen proves the socket still works: a frame of an unknown type is
// answered with a validation error that refers to it.
func (s *socket) wantOpen(t *testing.T) {
	t.Helper()
	s.probes++
	ref := fmt.Sprintf("probe-%d", s.probes)
	b, _ := json.Marshal(map[string]string{"type": "probe", "id": ref})
	if err := s.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		t.Errorf("%s: send: %v; want the socket open", s.name, err)
		return
	}
	for {
		select {
		case f := <-s.frames:
			if f["type"] == "error" && f["ref"] == ref {
				return
			}
		case <-s.done:
			t.Errorf("%s: closed (%v); want it open", s.name, s.err)
			return
		case <-time.After(5 * time.Second):
			t.Errorf("%s: no answer to a probe within 5s; want the socket open", s.name)
			return
		}
	}
}

// wantSignedOut waits for the server to close the socket with
// agents.CloseSignedOut and a "signed out" reason, within `within` of since.
func (s *socket) wantSignedOut(t *testing.T, since time.Time, within time.Duration) {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		t.Errorf("%s: still open 5s after its login ended", s.name)
		return
	}
	took := time.Since(since)
	var ce *websocket.CloseError
	switch {
	case !errors.As(s.err, &ce):
		t.Errorf("%s ended without a close frame (%v); want %d signed out", s.name, s.err, agents.CloseSignedOut)
	case ce.Code != agents.CloseSignedOut || !strings.HasPrefix(ce.Text, "signed out"):
		t.Errorf("%s closed with %d %q; want %d \"signed out…\"", s.name, ce.Code, ce.Text, agents.CloseSignedOut)
	}
	if took > within {
		t.Errorf("%s closed %v after its login ended; want within %v", s.name, took, within)
	}
}

// freshPair creates, through the API, an agent and a gateway of gov110
// and opens a socket for each with a fresh login.
func (h *harness) freshPair(t *testing.T) (agent, gateway string, agentWS, gatewayWS *socket) {
	t.Helper()
	agent, gateway = h.fresh("so-agent"), h.fresh("so-gw")
	h.do(http.MethodPost, "/v1/users", asAdmin, userBody(agent, map[string]any{"queues": []map[string]any{{"queue": "gov110.general", "level": 1}}})).
		wantStatus(t, http.StatusCreated)
	h.do(http.MethodPost, "/v1/users", asAdmin, userBody(gateway, map[string]any{"role": directory.RoleGateway})).
		wantStatus(t, http.StatusCreated)
	agentWS = h.openSocket(t, "/v1/agent/ws", h.loginToken(agent, testPassword))
	gatewayWS = h.openSocket(t, "/v1/gateway/ws", h.loginToken(gateway, testPassword))
	return agent, gateway, agentWS, gatewayWS
}

// Logging out closes the sockets opened with that session, and only them.
func TestLogoutClosesThatSessionsSockets(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := signOutHarness(t, b, localOnly)
		agentA, agentB := h.loginToken(asAgent, testPassword), h.loginToken(asAgent, testPassword)
		gwA, gwB := h.loginToken(asGateway, testPassword), h.loginToken(asGateway, testPassword)
		desk := h.openSocket(t, "/v1/agent/ws", agentA)
		lineA := h.openSocket(t, "/v1/gateway/ws", gwA)
		lineB := h.openSocket(t, "/v1/gateway/ws", gwB)

		h.do(http.MethodDelete, "/v1/sessions/current", asAnon, nil, withToken(agentB)).wantStatus(t, http.StatusNoContent)
		desk.wantOpen(t)
		start := time.Now()
		h.do(http.MethodDelete, "/v1/sessions/current", asAnon, nil, withToken(gwA)).wantStatus(t, http.StatusNoContent)
		lineA.wantSignedOut(t, start, signedOutWithin)
		lineB.wantOpen(t)
		start = time.Now()
		h.do(http.MethodDelete, "/v1/sessions/current", asAnon, nil, withToken(agentA)).wantStatus(t, http.StatusNoContent)
		desk.wantSignedOut(t, start, signedOutWithin)
		lineB.wantOpen(t)
	})
}

// Changing a user's password, role or pii or export permission, or
// deleting them, closes all their sockets; changing their name does not.
func TestUserChangesCloseTheirSockets(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := signOutHarness(t, b, localOnly)
		patch := func(body map[string]any) func(h *harness, username string) *response {
			return func(h *harness, username string) *response {
				return h.do(http.MethodPatch, "/v1/users/"+username, asAdmin, body)
			}
		}
		for _, c := range []struct {
			name   string
			change func(h *harness, username string) *response
			closes bool
		}{
			{"password", patch(map[string]any{"password": "another-long-password"}), true},
			{"role", patch(map[string]any{"role": directory.RoleSupervisor}), true},
			{"pii", patch(map[string]any{"pii": true}), true},
			{"export", patch(map[string]any{"export": true}), true},
			{"deletion", func(h *harness, username string) *response {
				return h.do(http.MethodDelete, "/v1/users/"+username, asAdmin, nil)
			}, true},
			{"name", patch(map[string]any{"name": "Someone Else"}), false},
		} {
			t.Run(c.name, func(t *testing.T) {
				h := h.on(t)
				agent, gateway, agentWS, gatewayWS := h.freshPair(t)
				start := time.Now()
				for _, u := range []string{agent, gateway} {
					if r := c.change(h, u); r.status != http.StatusOK && r.status != http.StatusNoContent {
						t.Fatalf("%s = %d: %s", r, r.status, truncate(r.body))
					}
				}
				for _, s := range []*socket{agentWS, gatewayWS} {
					if c.closes {
						s.wantSignedOut(t, start, signedOutWithin)
					} else {
						s.wantOpen(t)
					}
				}
			})
		}
	})
}

// A socket closes once its session has expired.
func TestExpiredSessionClosesSockets(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := signOutHarness(t, b, localOnly)
		_, _, agentWS, gatewayWS := h.freshPair(t)
		h.clock.Advance(h.cfg.SessionTTL - time.Second)
		// A login made now outlives the others by the second left.
		later := h.openSocket(t, "/v1/gateway/ws", h.loginToken(asGateway, testPassword))
		h.clock.Advance(time.Second)
		start := time.Now()
		agentWS.wantSignedOut(t, start, signedOutWithin)
		gatewayWS.wantSignedOut(t, start, signedOutWithin)
		later.wantOpen(t)
	})
}

// A logout or user change made through another server of the deployment
// (the same database) reaches this server's sockets within its re-check
// period: the session cache period, or a second without a cache.
func TestSocketsFollowOtherServers(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := signOutHarness(t, b, auth.DefaultSessionCache)
		other := h.otherServer(t)

		loggedOut, changed := h.loginToken(asAgent, testPassword), h.loginToken(asGateway, testPassword)
		desk := h.openSocket(t, "/v1/agent/ws", loggedOut)
		line := h.openSocket(t, "/v1/gateway/ws", changed)
		movedGateway := h.fresh("so-moved")
		h.do(http.MethodPost, "/v1/users", asAdmin, userBody(movedGateway, map[string]any{"role": directory.RoleGateway})).
			wantStatus(t, http.StatusCreated)
		moved := h.openSocket(t, "/v1/gateway/ws", h.loginToken(movedGateway, testPassword))
		_, _, keptDesk, keptLine := h.freshPair(t)

		start := time.Now()
		other.do(http.MethodDelete, "/v1/sessions/current", asAnon, nil, withToken(loggedOut)).wantStatus(t, http.StatusNoContent)
		other.do(http.MethodPatch, "/v1/users/"+asGateway, asAdmin, map[string]any{"pii": true}).wantStatus(t, http.StatusOK)
		// No request moves a user to another agency; another version of the
		// server might, so the database is changed directly.
		if _, err := h.db.ExecContext(h.ctx(), h.db.Rebind(`UPDATE users SET agency_id = ? WHERE username = ?`), "nts126", movedGateway); err != nil {
			t.Fatal(err)
		}
		within := auth.DefaultSessionCache + signedOutWithin
		desk.wantSignedOut(t, start, within)
		line.wantSignedOut(t, start, within)
		moved.wantSignedOut(t, start, within)
		keptDesk.wantOpen(t)
		keptLine.wantOpen(t)
	})
}

// otherServer starts a second server on h's database, with its own
// router, session store and hub, as another process of the deployment.
func (h *harness) otherServer(t *testing.T) *harness {
	t.Helper()
	rt, err := router.New(router.Config{Clock: h.clock})
	if err != nil {
		t.Fatal(err)
	}
	o := h.on(t)
	o.sessions = auth.NewSessions(h.db, h.cfg.SessionTTL, h.clock.Now)
	o.sessions.CacheLookups(auth.DefaultSessionCache)
	o.dir = directory.NewStore(h.db, h.clock.Now)
	o.startServer(t, rt)
	return o
}
