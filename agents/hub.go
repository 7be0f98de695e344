package agents

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/sync/errgroup"

	"tellonce/auth"
	"tellonce/cases"
	"tellonce/ratelimit"
	"tellonce/switchboard"
)

// Estimator tells a waiting citizen how long the wait is likely to be and
// which traffic light ("green", "yellow", "red") their queue shows. The hub
// calls it while fanning out events, under its lock: it must answer from
// memory, quickly, and must not call back into the Hub.
type Estimator interface {
	Estimate(queue string, position int) (seconds int, light string)
}

// Config configures a Hub; zero fields take the defaults noted.
type Config struct {
	// CheckOrigin decides whether a browser page of that Origin may open a
	// socket (upgrade refused with 403 otherwise). Web passes its Origin
	// rule; nil falls back to gorilla's same-host check.
	CheckOrigin func(r *http.Request) bool
	// SendBuffer is how many frames may wait for one connection before it
	// is cut as too slow (default 256).
	SendBuffer int
	// WriteTimeout bounds every write (default 10s); PongWait is how long a
	// silent connection lives (default 60s); PingInterval is how often the
	// server pings (default 25s, must be below PongWait).
	WriteTimeout, PongWait, PingInterval time.Duration
	// MaxFrameBytes is the documented per-frame limit (default 64 KiB): a
	// larger frame is answered with a too_large error and the connection
	// lives on.
	MaxFrameBytes int64
	// HardFrameBytes is the limit past which gorilla closes the connection
	// (1009, message too big) rather than let it be read: between the two
	// the frame is discarded unread (default 16 × MaxFrameBytes).
	HardFrameBytes int64
	// AckTimeout bounds the wait for durability before an error frame
	// answers instead of the ack (default 10s).
	AckTimeout time.Duration
	// Sessions, when set, is asked every SessionCheck (default 2s) for the
	// sessions the open agent and gateway sockets were opened with, so that
	// a logout or user change made through another server closes them here
	// too (see SignOut).
	Sessions     SessionChecker
	SessionCheck time.Duration
	// Now is the clock sessions expire by (auth.Principal.ExpiresAt): the
	// session store's. Default time.Now.
	Now func() time.Time
	// Estimator fills estimated_wait_s and light of queued frames; nil
	// means 0 and "green".
	Estimator Estimator
	// PositionInterval is the least time between two refreshes of waiting
	// citizens' places (default 250ms): a line that moves often is walked
	// once per interval, not once per move.
	PositionInterval time.Duration
	// ChatAbsent is how long a waiting chat keeps its place after its
	// citizen's last socket closed without leaving; then it leaves the
	// line (abandoned, "absent"). Zero keeps it for ever.
	ChatAbsent time.Duration
	// Refused hears every frame refused on someone else's contact, case or
	// offer (see Refusal), for the access audit; nil hears nothing. It is
	// called on the socket's reader, so it should be quick.
	Refused func(Refusal)
	// ClientAddr tells where a socket's request came from (the server's
	// rule, behind a proxy too); nil takes the connection's address.
	ClientAddr func(r *http.Request) string
	// CaseToken makes a case's continuation token, which a citizen's ended
	// frame carries; nil leaves it out.
	CaseToken func(caseID string) string
	// ClosedCases takes a gateway's recording of a leg whose case closed
	// before the edge finished the file (transcripts.Review); nil answers
	// such a recording not_found.
	ClosedCases ClosedCases
	// ChatBurst is how many say frames a citizen may send on one contact
	// at once, and ChatRefill how often one more is allowed (defaults 10
	// and 1s): the agent reading them is one person, and a script on the
	// public chat page must not bury them.
	ChatBurst  int
	ChatRefill time.Duration
	// ICEServers are the STUN/TURN servers the desk's softphone is told
	// in hello (the edge uses the same list); none on loopback and a LAN.
	ICEServers []ICEServer
	// TURNCredentials, when set, mints an agent's short-lived credentials
	// for the TURN servers of ICEServers that carry none (coturn's
	// use-auth-secret): hello and every rtc_offer get fresh ones, so a
	// desk open all day never holds an expired one when a call comes.
	TURNCredentials func(agent string, now time.Time) (username, credential string)
	// Log defaults to slog.Default().
	Log *slog.Logger
}

// ClosedCases appends to the durable log of a closed case.
type ClosedCases interface {
	// AppendRecording adds the recording entry of contactID's leg, for a
	// gateway of gatewayAgency ("" for all), durably; cases.ErrNotFound
	// outside its reach, cases.ErrConflict for a leg nobody answered.
	AppendRecording(ctx context.Context, gatewayAgency, contactID, actor string, rec cases.Recording) error
}

// SessionChecker reads sessions back from the database; auth.Sessions
// implements it.
type SessionChecker interface {
	// Unchanged reports whether every one of ids (distinct) is a session
	// that still exists, has not expired, and whose user has exactly
	// grant's Role, Agency, PII and Export.
	Unchanged(ctx context.Context, grant auth.Principal, ids []string) (bool, error)
	// Current returns the principal of each of ids whose session still
	// exists and has not expired, by session id; the others are left out.
	Current(ctx context.Context, ids []string) (map[string]auth.Principal, error)
}

func (c Config) withDefaults() Config {
	if c.SendBuffer <= 0 {
		c.SendBuffer = 256
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.PongWait <= 0 {
		c.PongWait = 60 * time.Second
	}
	if c.PingInterval <= 0 || c.PingInterval >= c.PongWait {
		c.PingInterval = min(25*time.Second, c.PongWait*9/10)
	}
	if c.MaxFrameBytes <= 0 {
		c.MaxFrameBytes = 64 << 10
	}
	if c.HardFrameBytes <= c.MaxFrameBytes {
		c.HardFrameBytes = 16 * c.MaxFrameBytes
	}
	if c.AckTimeout <= 0 {
		c.AckTimeout = 10 * time.Second
	}
	if c.PositionInterval <= 0 {
		c.PositionInterval = 250 * time.Millisecond
	}
	if c.ChatBurst <= 0 {
		c.ChatBurst = 10
	}
	if c.ChatRefill <= 0 {
		c.ChatRefill = time.Second
	}
	if c.SessionCheck <= 0 {
		c.SessionCheck = 2 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return c
}

// Close codes beyond the standard ones.
const (
	// CloseReplaced closes an agent socket that a newer one of the same
	// agent replaced.
	CloseReplaced = 4001
	// CloseSignedOut closes an agent or gateway socket whose login ended:
	// logged out, expired, or its user changed or deleted (see SignOut).
	// The client must log in again rather than reconnect.
	CloseSignedOut = 4003
)

// HubStats counts connections and losses, for metrics.
type HubStats struct {
	Agents, Citizens, Gateways int
	// FramesDropped counts frames not queued because their connection was
	// full or closing; SlowClientsCut counts connections cut as too slow.
	FramesDropped, SlowClientsCut uint64
}

// Hub holds every WebSocket session and fans router events out to them.
type Hub struct {
	sb       *switchboard.Switchboard
	cfg      Config
	log      *slog.Logger
	upgrader websocket.Upgrader
	// chatLimit bounds citizens' say frames, per contact.
	chatLimit *ratelimit.Limiter

	// ctx bounds Durable waits; Shutdown cancels it so that no reader is
	// left waiting for a journal that is stopping.
	ctx    context.Context
	cancel context.CancelFunc

	// presence serializes an agent connection's registration with its
	// Connect, and its removal with Disconnect, so that a
	// replaced connection's Disconnect cannot land after the new Connect.
	// It is taken before mu and never held by Deliver.
	presence sync.Mutex

	// mu guards everything below and every conn's hub-side fields; the
	// switchboard's requests are never called under it (the router's Sink
	// may call Deliver synchronously), its Live reads are (they take no
	// lock).
	mu       sync.Mutex
	closed   bool
	conns    map[*conn]struct{}
	agents   map[string]*conn
	citizens map[string]map[*conn]struct{} // by the contact they follow
	byQueue  map[string]map[*conn]struct{} // citizens by their contact's queue
	gateways map[*conn]struct{}
	offers   map[string]pendingOffer // by contact id
	calls    map[string]string       // voice/callback contact → agency whose gateway carries it
	moved    map[string]struct{}     // queues whose waiting citizens' places need a refresh
	absent   map[string]time.Time    // waiting chats with no citizen socket, since when
	// The browser softphone (softphone.go): the socket holding each
	// agent's softphone, and the calls bridged to a browser, by contact
	// (an interpreter's by their leg) → agent.
	softphones map[string]*conn
	browser    map[string]string
	peerUp     map[string]bool // browser calls whose peer the edge reports connected

	// The position refresher (refreshPlaces, under Run): movedKick wakes
	// it, rest paces it (a test may replace it and refreshChunk before the
	// first event).
	movedKick    chan struct{}
	rest         func(ctx context.Context) bool
	refreshChunk int              // sockets sent their places per hold of mu (refreshChunk; a test may lower it)
	now          func() time.Time // the clock of worthTelling (a test may replace it)
	refreshes    atomic.Uint64    // refreshes done, for tests

	wg             sync.WaitGroup // one per registered connection
	dropped, slows atomic.Uint64
}

// A socket's buffers: see the upgrader in NewHub.
const (
	readBufferSize  = 256
	writeBufferSize = 4096
)

// pendingOffer remembers an offer so that an abandoned contact can be
// withdrawn from the agent by offer id and notes reach the offered agent.
type pendingOffer struct {
	agent, offerID, caseID string
}

// NewHub makes a hub whose sockets' requests go to sb.
func NewHub(sb *switchboard.Switchboard, cfg Config) *Hub {
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	h := &Hub{
		sb: sb, cfg: cfg, log: cfg.Log, ctx: ctx, cancel: cancel,
		chatLimit: ratelimit.New(1/cfg.ChatRefill.Seconds(), cfg.ChatBurst, 100_000, cfg.Now),
		upgrader: websocket.Upgrader{
			HandshakeTimeout: cfg.WriteTimeout,
			// An idle socket keeps its read buffer: a small one. It holds
			// a frame's header and a control frame (at most 125 bytes);
			// most client frames fit in it too, and the payload of a
			// larger one is read past it, in a few more reads. Write
			// buffers are lent from a pool only while a frame is written.
			ReadBufferSize:  readBufferSize,
			WriteBufferSize: writeBufferSize,
			WriteBufferPool: &sync.Pool{},
			CheckOrigin:     cfg.CheckOrigin,
			Error:           upgradeError,
		},
		conns:    map[*conn]struct{}{},
		agents:   map[string]*conn{},
		citizens: map[string]map[*conn]struct{}{},
		byQueue:  map[string]map[*conn]struct{}{},
		gateways: map[*conn]struct{}{},
		offers:   map[string]pendingOffer{},
		calls:    map[string]string{},
		moved:    map[string]struct{}{},
		absent:   map[string]time.Time{},

		softphones: map[string]*conn{},
		browser:    map[string]string{},
		peerUp:     map[string]bool{},

		movedKick:    make(chan struct{}, 1),
		rest:         restFor(cfg.PositionInterval),
		refreshChunk: refreshChunk,
		now:          time.Now,
	}
	return h
}

// Run does the hub's own work until ctx ends or the hub shuts down: it
// refreshes waiting citizens' places (refreshPlaces) and closes the
// sockets of sessions that ended (watchSessions). Sockets are served
// without it, but their places and sign-outs wait for it.
func (h *Hub) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(h.ctx, cancel) // Shutdown ends it too
	defer stop()
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { h.refreshPlaces(ctx); return nil })
	g.Go(func() error { h.watchSessions(ctx); return nil })
	if h.cfg.ChatAbsent > 0 {
		g.Go(func() error { h.watchAbsent(ctx); return nil })
	}
	return g.Wait()
}

// Stats reports connection counts and losses.
func (h *Hub) Stats() HubStats {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := HubStats{Agents: len(h.agents), Gateways: len(h.gateways),
		FramesDropped: h.dropped.Load(), SlowClientsCut: h.slows.Load()}
	for _, cs := range h.citizens {
		s.Citizens += len(cs)
	}
	return s
}

// Shutdown closes every connection with a going-away close frame and
// waits until their goroutines have ended; when ctx ends first, it closes
// the remaining sockets outright and then waits. It does not mark agents
// disconnected in the router: the process is ending, and a restart
// restores every agent disconnected anyway.
func (h *Hub) Shutdown(ctx context.Context) {
	h.mu.Lock()
	h.closed = true
	for c := range h.conns {
		h.stopLocked(c, websocket.CloseGoingAway, "server shutting down", true)
	}
	h.mu.Unlock()
	h.cancel() // ends Run

	done := make(chan struct{})
	go func() { // ends when the last connection has finished
		h.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return
	case <-ctx.Done():
	}
	h.mu.Lock()
	for c := range h.conns {
		_ = c.ws.NetConn().Close() // unblocks a writer stuck on a dead peer
	}
	h.mu.Unlock()
	<-done
}

// upgrade turns the request into a socket; on failure the upgrader has
// answered already (403 for a refused Origin).
func (h *Hub) upgrade(w http.ResponseWriter, r *http.Request) (*websocket.Conn, bool) {
	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	if closed {
		writeHTTPError(w, http.StatusServiceUnavailable, CodeUnavailable, "shutting down")
		return nil, false
	}
	ws, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		h.log.Debug("websocket upgrade refused", "path", r.URL.Path, "err", err)
		return nil, false
	}
	return ws, true
}

// upgradeError answers a refused upgrade in the API's JSON error shape
// rather than gorilla/websocket's plain text: a foreign Origin is
// forbidden, anything else about the handshake is the client's mistake.
func upgradeError(w http.ResponseWriter, r *http.Request, status int, reason error) {
	switch status {
	case http.StatusForbidden:
		writeHTTPError(w, status, CodeForbidden, "cross-site WebSocket refused: the Origin is not this server's")
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", http.MethodGet)
		writeHTTPError(w, status, "method_not_allowed", "a WebSocket handshake is a GET")
	default:
		writeHTTPError(w, status, CodeValidation, "not a WebSocket handshake: "+reason.Error())
	}
}

// writeHTTPError writes the API's error body, {"error":{"code","message"}}.
func writeHTTPError(w http.ResponseWriter, status int, code, message string) {
	body, _ := json.Marshal(map[string]any{"error": map[string]string{"code": code, "message": message}})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// addLocked registers a connection unless the hub is shutting down, in
// which case the socket is closed here (no goroutine has started yet).
func (h *Hub) addLocked(c *conn) bool {
	if h.closed {
		deadline := time.Now().Add(h.cfg.WriteTimeout)
		_ = c.ws.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down"), deadline)
		_ = c.ws.Close()
		c.pinger.Stop()
		return false
	}
	h.conns[c] = struct{}{}
	h.wg.Add(1)
	return true
}

// serve runs a registered connection's reader on a goroutine of its own
// and returns: the HTTP handler's goroutine, with the server's request
// state and its deeper stack, is not held for the socket's life. The
// writer runs only while there is something to write (writeLoop).
func (h *Hub) serve(c *conn, handle func(*conn, []byte)) {
	go h.read(c, handle)
}

// read reads the connection's frames until it ends, then stops the
// connection; whichever of the reader and the writer ends last
// unregisters it (conn.ended).
func (h *Hub) read(c *conn, handle func(*conn, []byte)) {
	c.readPump(func(c *conn, data []byte) {
		// A signed-out socket may still have frames read or buffered; none
		// of them is applied or answered.
		if c.revoked.Load() {
			return
		}
		handle(c, data)
	})
	h.mu.Lock()
	h.stopLocked(c, websocket.CloseNormalClosure, "", false) // the reader is gone: end the writer
	h.mu.Unlock()
	c.ended()
}

// finish unregisters a connection whose goroutines have ended. An agent's
// socket that is still the current one starts the router's reconnect
// grace; a replaced one does not, the newer socket holds the desk.
func (h *Hub) finish(c *conn) {
	defer h.wg.Done()
	h.presence.Lock()
	defer h.presence.Unlock()
	h.mu.Lock()
	current := false
	switch c.kind {
	case kindAgent:
		if h.agents[c.username] == c {
			delete(h.agents, c.username)
			current = true
		}
	case kindCitizen:
		h.detachCitizenLocked(c)
		// The citizen's last socket went without leaving: their place is
		// kept for ChatAbsent (watchAbsent).
		if id := c.contactID; id != "" && !c.finished && !c.callback && len(h.citizens[id]) == 0 {
			h.absent[id] = h.now()
		}
	case kindGateway:
		delete(h.gateways, c)
	}
	delete(h.conns, c)
	closing := h.closed
	h.mu.Unlock()
	if current && c.connected && !closing {
		err := h.sb.Disconnect(c.username)
		switch {
		case errors.Is(err, cases.ErrNotFound): // removed meanwhile: nothing to disconnect
		case err != nil:
			h.log.Warn("agent disconnect", "agent", c.username, "err", err)
		}
	}
}

// answer finishes a client frame whose request returned err: an error
// frame, or an ack (the switchboard has waited until the change is
// durable). A frame without id gets no ack (there is nothing to refer to)
// but was still waited for, so one connection's changes become durable in
// the order they were sent.
func (h *Hub) answer(c *conn, ref json.RawMessage, err error) {
	if err != nil {
		if errors.Is(err, switchboard.ErrNotDurable) {
			h.log.Warn("change not confirmed durable", "err", err)
		}
		h.replyError(c, ref, h.errorOf(err))
		return
	}
	if ref != nil {
		h.reply(c, ackFrame{Type: "ack", Ref: ref})
	}
}

// ackContext bounds a frame's wait for durability (AckTimeout), and ends
// with the hub.
func (h *Hub) ackContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(h.ctx, h.cfg.AckTimeout)
}

func (h *Hub) replyError(c *conn, ref json.RawMessage, fe *frameError) {
	h.reply(c, errorFrame{Type: "error", Ref: ref, Code: fe.Code, Message: fe.Message, Field: fe.Field})
}

func (h *Hub) reply(c *conn, v any) {
	msg := encode(v)
	h.mu.Lock()
	h.enqueueLocked(c, msg)
	h.mu.Unlock()
}

// errorOf is the contract's answer to an error of the router, as a frame.
func (h *Hub) errorOf(err error) *frameError {
	if f, ok := switchboard.Classify(err); ok {
		return &frameError{Code: f.Code, Field: f.Field, Message: f.Message}
	}
	// Not one of the router's sentinels: an internal failure whose text
	// may hold internals, so it is logged rather than shown.
	h.log.Error("websocket command failed", "err", err)
	return &frameError{Code: CodeUnavailable, Message: "internal error; try again"}
}
