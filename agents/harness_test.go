package agents

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"tellonce/auth"
	"tellonce/clocktest"
	"tellonce/router"
	"tellonce/switchboard"
)

var t0 = time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)

// waitFor bounds every wait in these tests; nothing sleeps to synchronise.
const waitFor = 5 * time.Second

// fakeDurable records waits; with a gate it blocks each Wait until the
// gate is closed, announcing the wait on entered.
type fakeDurable struct {
	mu       sync.Mutex
	waits    []uint64
	err      error
	gate     chan struct{}
	entered  chan uint64
	returned atomic.Bool
}

func (d *fakeDurable) Wait(ctx context.Context, seq uint64) error {
	d.mu.Lock()
	d.waits = append(d.waits, seq)
	gate, entered, err := d.gate, d.entered, d.err
	d.mu.Unlock()
	if entered != nil {
		entered <- seq
	}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	d.returned.Store(true)
	return err
}

// hubSink is the in-test pipeline: it hands each commit's events to the
// hub at once, in commit order (the router calls it before its next write
// group).
// While holding, commits are kept back until release, as a journal that
// lags behind the router would.
type hubSink struct {
	hub     atomic.Pointer[Hub]
	mu      sync.Mutex
	holding bool
	held    [][]router.Event
}

func (s *hubSink) Publish(evs []router.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.holding {
		s.held = append(s.held, evs)
		return
	}
	if h := s.hub.Load(); h != nil {
		h.Deliver(evs)
	}
}

func (s *hubSink) hold() {
	s.mu.Lock()
	s.holding = true
	s.mu.Unlock()
}

// release delivers the commits held back, in order, and stops holding.
func (s *hubSink) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, evs := range s.held {
		if h := s.hub.Load(); h != nil {
			h.Deliver(evs)
		}
	}
	s.holding, s.held = false, nil
}

type env struct {
	t     testing.TB
	clock *clocktest.Clock
	r     *router.Router
	hub   *Hub
	sink  *hubSink
	dur   *fakeDurable
	srv   *httptest.Server
}

const allowedOrigin = "http://tellonce.test"

// newEnv builds a router with two agencies (gov, tax), three agents and a
// hub served over real sockets: /agent/{user}, /citizen/{contact} and
// /gateway/{user}?agency=.
func newEnv(t testing.TB, mod ...func(*Config)) *env {
	t.Helper()
	e := &env{t: t, clock: clocktest.New(t0), dur: &fakeDurable{}}
	sink := &hubSink{}
	e.sink = sink
	n := map[string]int{}
	var idMu sync.Mutex
	r, err := router.New(router.Config{Clock: e.clock, Sink: sink, NewID: func(kind string) string {
		idMu.Lock()
		defer idMu.Unlock()
		n[kind]++
		return kind + strconv.Itoa(n[kind])
	}})
	if err != nil {
		t.Fatal(err)
	}
	e.r = r
	all := []router.Channel{router.ChannelVoice, router.ChannelChat, router.ChannelCallback}
	for _, q := range []router.QueueConfig{
		{ID: "gov.general", Agency: "gov", Name: "Civil complaints", Channels: all, Wrapup: -1},
		{ID: "tax.general", Agency: "tax", Name: "Tax line", Channels: all, Wrapup: -1},
	} {
		if _, err := r.UpsertQueue(q); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range []router.AgentProfile{
		{Username: "kim", Name: "Kim Minji", Agency: "gov", Queues: map[string]int{"gov.general": 1}, MaxChats: 3},
		{Username: "lee", Name: "Lee Jun", Agency: "gov", Queues: map[string]int{"gov.general": 1}, MaxChats: 3},
		{Username: "park", Name: "Park Sora", Agency: "tax", Queues: map[string]int{"tax.general": 1}, MaxChats: 3},
	} {
		if _, err := r.UpsertAgent(a); err != nil {
			t.Fatal(err)
		}
	}
	cfg := Config{
		CheckOrigin: func(r *http.Request) bool { return r.Header.Get("Origin") == allowedOrigin },
		Log:         slog.New(slog.DiscardHandler),
		// Places follow moves at once unless a test paces them.
		PositionInterval: time.Millisecond,
	}
	for _, m := range mod {
		m(&cfg)
	}
	e.hub = NewHub(switchboard.New(r, e.dur, nil), cfg)
	sink.hub.Store(e.hub)
	runCtx, stopRun := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- e.hub.Run(runCtx) }()
	t.Cleanup(func() { // runs last, after Shutdown
		stopRun()
		if err := <-ran; err != nil {
			t.Errorf("hub Run: %v", err)
		}
	})

	mux := http.NewServeMux()
	mux.HandleFunc("GET /agent/{user}", func(w http.ResponseWriter, r *http.Request) {
		p := loginOf(r, "agent")
		p.PII = r.URL.Query().Get("pii") == "1" // ?pii=1: the agent holds the pii permission
		e.hub.ServeAgent(w, r, p)
	})
	mux.HandleFunc("GET /citizen/{contact}", func(w http.ResponseWriter, r *http.Request) {
		e.hub.ServeCitizen(w, r, r.PathValue("contact"))
	})
	mux.HandleFunc("GET /gateway/{user}", func(w http.ResponseWriter, r *http.Request) {
		e.hub.ServeGateway(w, r, loginOf(r, "gateway"))
	})
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	t.Cleanup(func() { // runs first: close the sockets, then the server
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		e.hub.Shutdown(ctx)
	})
	return e
}

// loginOf is the principal a test socket stands for, as web would have
// authenticated it: the user of the path, and from the query its agency,
// session and session expiry (RFC 3339; none: it never expires).
func loginOf(r *http.Request, role string) auth.Principal {
	q := r.URL.Query()
	p := auth.Principal{Username: r.PathValue("user"), Role: role, Agency: q.Get("agency"), SessionID: q.Get("session")}
	p.ExpiresAt, _ = time.Parse(time.RFC3339, q.Get("expires"))
	return p
}

// frame is a decoded server frame.
type frame map[string]any

func (f frame) str(key string) string {
	s, _ := f[key].(string)
	return s
}

func (f frame) num(key string) int {
	n, _ := f[key].(float64)
	return int(n)
}

func (f frame) obj(key string) frame {
	m, _ := f[key].(map[string]any)
	return frame(m)
}

func (f frame) list(key string) []frame {
	l, _ := f[key].([]any)
	out := make([]frame, 0, len(l))
	for _, x := range l {
		m, _ := x.(map[string]any)
		out = append(out, frame(m))
	}
	return out
}

// client is a test socket whose reader goroutine feeds frames into a
// channel, so waits are selects with a deadline and never break the socket.
type client struct {
	t      testing.TB
	name   string
	ws     *websocket.Conn
	frames chan frame
	done   chan struct{} // closed when the reader ends; err says why
	err    error
	mu     sync.Mutex
	log    []frame // every frame received
	// held are frames that call passed over on its way to the answer;
	// next returns them first, so no event frame is lost to a call.
	held []frame
}

func (e *env) url(path string) string {
	return "ws" + strings.TrimPrefix(e.srv.URL, "http") + path
}

func (e *env) dialRaw(path string) (*websocket.Conn, *http.Response, error) {
	return websocket.DefaultDialer.Dial(e.url(path), http.Header{"Origin": {allowedOrigin}})
}

func (e *env) dial(path string) *client {
	e.t.Helper()
	ws, _, err := e.dialRaw(path)
	if err != nil {
		e.t.Fatalf("dial %s: %v", path, err)
	}
	c := &client{t: e.t, name: path, ws: ws, frames: make(chan frame, 4096), done: make(chan struct{})}
	go func() { // ends when the socket fails or closes
		defer close(c.done)
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				c.err = err
				return
			}
			var f frame
			if err := json.Unmarshal(data, &f); err != nil {
				c.err = err
				return
			}
			c.mu.Lock()
			c.log = append(c.log, f)
			c.mu.Unlock()
			c.frames <- f
		}
	}()
	e.t.Cleanup(func() { _ = ws.Close() })
	return c
}

func (c *client) sendRaw(s string) {
	c.t.Helper()
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		c.t.Fatalf("%s: send: %v", c.name, err)
	}
}

func (c *client) send(v map[string]any) {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(string(b))
}

// next returns the next frame.
func (c *client) next() frame {
	c.t.Helper()
	if len(c.held) > 0 {
		f := c.held[0]
		c.held = c.held[1:]
		return f
	}
	return c.read()
}

// read returns the next frame off the socket.
func (c *client) read() frame {
	c.t.Helper()
	select {
	case f := <-c.frames:
		return f
	case <-c.done:
		select {
		case f := <-c.frames:
			return f
		default:
		}
		c.t.Fatalf("%s: socket ended while waiting for a frame: %v", c.name, c.err)
	case <-time.After(waitFor):
		c.t.Fatalf("%s: no frame within %v", c.name, waitFor)
	}
	return nil
}

// expect skips frames until one of type typ arrives.
func (c *client) expect(typ string) frame {
	c.t.Helper()
	for {
		f := c.next()
		if f.str("type") == typ {
			return f
		}
	}
}

// expectNext requires the very next frame to be of type typ.
func (c *client) expectNext(typ string) frame {
	c.t.Helper()
	f := c.next()
	if f.str("type") != typ {
		c.t.Fatalf("%s: next frame = %v; want type %s", c.name, f, typ)
	}
	return f
}

// call sends a frame with an id and returns its answer (ack or error),
// skipping event frames in between.
func (c *client) call(v map[string]any) frame {
	c.t.Helper()
	ref := "r" + strconv.Itoa(int(refs.Add(1)))
	v["id"] = ref
	c.send(v)
	for {
		f := c.read()
		if (f.str("type") == "ack" || f.str("type") == "error") && f.str("ref") == ref {
			return f
		}
		c.held = append(c.held, f)
	}
}

var refs atomic.Int64

// ok sends a frame and requires an ack.
func (c *client) ok(v map[string]any) {
	c.t.Helper()
	if f := c.call(v); f.str("type") != "ack" {
		c.t.Fatalf("%s: %v answered %v; want ack", c.name, v, f)
	}
}

// closed waits for the server to close the socket and returns the close
// error (nil if it ended without a close frame).
func (c *client) closed() *websocket.CloseError {
	c.t.Helper()
	select {
	case <-c.done:
	case <-time.After(waitFor):
		c.t.Fatalf("%s: socket still open after %v", c.name, waitFor)
	}
	var ce *websocket.CloseError
	if errors.As(c.err, &ce) {
		return ce
	}
	return nil
}

func (c *client) received(typ string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range c.log {
		if f.str("type") == typ {
			return true
		}
	}
	return false
}

// agent connects an agent console and returns it with its hello.
func (e *env) agent(name string) (*client, frame) {
	e.t.Helper()
	c := e.dial("/agent/" + name)
	return c, c.expectNext("hello")
}

// gateway connects a gateway socket and reads its hello, which proves the
// hub has registered it before the test goes on.
func (e *env) gateway(path string) *client {
	g, _ := e.gatewayHello(path)
	return g
}

// gatewayHello connects a gateway socket and returns it with its hello.
func (e *env) gatewayHello(path string) (*client, frame) {
	e.t.Helper()
	g := e.dial(path)
	return g, g.expectNext("hello")
}

// available connects an agent and makes them available.
func (e *env) available(name string) *client {
	e.t.Helper()
	c, _ := e.agent(name)
	c.ok(map[string]any{"type": "state", "state": "available"})
	return c
}

func (e *env) enqueue(req router.EnqueueRequest) router.ContactView {
	e.t.Helper()
	if req.Queue == "" {
		req.Queue = "gov.general"
	}
	if req.Channel == "" {
		req.Channel = router.ChannelChat
	}
	cv, _, err := e.r.Enqueue(req)
	if err != nil {
		e.t.Fatalf("Enqueue(%+v) = %v", req, err)
	}
	return cv
}

func caller(id string) router.Caller {
	return router.Caller{ID: id, Name: "Citizen " + id, Language: ""}
}

// assigned sets up kim with an accepted chat and its citizen connected;
// it returns kim's console, the citizen's socket and the contact.
func (e *env) assigned() (*client, *client, router.ContactView) {
	e.t.Helper()
	cv := e.enqueue(router.EnqueueRequest{Caller: caller("c1"),
		Context: router.ContactContext{Summary: "lost my residence card", IVR: []string{"1", "3"}}})
	cit := e.dial("/citizen/" + cv.ID)
	cit.expectNext("queued")
	kim := e.available("kim")
	offer := kim.expect("offer")
	kim.ok(map[string]any{"type": "accept", "offer_id": offer.str("offer_id")})
	kim.expect("assigned")
	cit.expect("agent_joined")
	return kim, cit, cv
}

func (e *env) agentView(name string) router.AgentView {
	e.t.Helper()
	a, err := e.r.Agent(name)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

func (e *env) connCount() int {
	e.hub.mu.Lock()
	defer e.hub.mu.Unlock()
	return len(e.hub.conns)
}
