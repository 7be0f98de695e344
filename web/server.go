// Package web is tellonce's HTTP face: the REST API of docs/api.md's
// contract, authentication and the role and agency rules on every route,
// operations endpoints, and the consoles embedded in the binary.
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"tellonce/agents"
	"tellonce/auth"
	"tellonce/cases"
	"tellonce/directory"
	"tellonce/ratelimit"
	"tellonce/recordings"
	tsql "tellonce/sql"
	"tellonce/stats"
	"tellonce/switchboard"
	"tellonce/transcripts"
)

// Config holds the HTTP server's settings.
type Config struct {
	// Addr is the listen address, host:port.
	Addr string
	// AllowedOrigins are extra origins (scheme://host:port) trusted for
	// cookie-authenticated writes and WebSockets, besides the server's own.
	AllowedOrigins []string
	// TrustedProxies are the reverse proxies (addresses or networks) whose
	// X-Forwarded-For and X-Forwarded-Proto are believed: the client is
	// the first address, from the right, that is not one of them. Empty:
	// the connection's own address, and no header is believed.
	TrustedProxies []netip.Prefix
	// SecureCookies marks the session cookie Secure; on by default in
	// production behind TLS, off for plain-HTTP local use.
	SecureCookies bool
	// SessionTTL is how long a login lasts.
	SessionTTL time.Duration
	// MaxBodyBytes bounds every request body.
	MaxBodyBytes int64
	// LoginPerAddr and LoginPerUser bound login attempts: a burst, then
	// one more every Refill.
	LoginBurstAddr, LoginBurstUser int
	LoginRefill                    time.Duration
	// ChatBurst and ChatRefill bound public chat contacts per client
	// address: a burst, then one more every ChatRefill.
	ChatBurst  int
	ChatRefill time.Duration
	// Sockets are the WebSockets' limits and timeouts; zero fields take the
	// agents package's defaults.
	Sockets Sockets
	// CentralQueue is where a citizen who does not know which agency to
	// ask starts a chat (the central civil-complaints line); when it is not
	// a public chat queue, the first such queue is used.
	CentralQueue string
	// MetricsToken, when set, is the bearer token /metrics asks for.
	MetricsToken string
	// MetricsElsewhere leaves /metrics off this server: it has a listener
	// of its own (--metrics-addr).
	MetricsElsewhere bool
	// HistoryDays is how far back a returning caller's earlier cases are
	// shown to the agent they reach, and how long a closed case may be
	// reopened by continuing it; zero turns both off.
	HistoryDays int
}

// Sockets are the WebSockets' settings an operator may tune.
type Sockets struct {
	// SendBuffer is how many frames may wait for one slow connection
	// before it is cut (default 256).
	SendBuffer int
	// WriteTimeout bounds every write; PongWait is how long a silent
	// connection lives (defaults 10s, 60s).
	WriteTimeout, PongWait time.Duration
	// MaxFrameBytes is the largest frame read (default 64 KiB).
	MaxFrameBytes int64
	// AckTimeout bounds the wait for durability before an error answers
	// instead of the ack (default 10s).
	AckTimeout time.Duration
	// ChatAbsent is how long a waiting chat keeps its place after its
	// citizen's socket went without leaving (zero: for ever).
	ChatAbsent time.Duration
	// ICEServers are the STUN/TURN servers the desk's softphone is told
	// in hello (none: loopback and a LAN need none).
	ICEServers []agents.ICEServer
	// TURNCredentials, when set, mints an agent's short-lived credentials
	// for the TURN servers of ICEServers (agents.Config.TURNCredentials).
	TURNCredentials func(agent string, now time.Time) (username, credential string)
	// MessageBurst and MessageRefill bound a citizen's messages on one
	// contact: a burst, then one more every MessageRefill (defaults 10
	// and 1s).
	MessageBurst  int
	MessageRefill time.Duration
}

// DefaultConfig returns the settings used when nothing is configured.
func DefaultConfig() Config {
	return Config{
		Addr:           "127.0.0.1:8080",
		SessionTTL:     12 * time.Hour,
		MaxBodyBytes:   1 << 20,
		LoginBurstAddr: 20,
		LoginBurstUser: 10,
		LoginRefill:    6 * time.Second,
		ChatBurst:      5,
		ChatRefill:     20 * time.Second,
		CentralQueue:   "gov110.general",
		HistoryDays:    30,
	}
}

// Deps are the parts the server works with.
type Deps struct {
	DB        *tsql.DB
	Directory *directory.Store
	Sessions  *auth.Sessions
	Hasher    auth.Hasher
	Log       *slog.Logger
	// Registry receives the server's metrics; /metrics serves it.
	Registry *prometheus.Registry
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Switchboard applies requests to the router, durably, and reads its
	// live contacts.
	Switchboard *switchboard.Switchboard
	// Tokens make and check citizens' contact tokens.
	Tokens *auth.ContactTokens
	// Estimator gives a queue's estimated wait and traffic light; nil
	// leaves them out of answers.
	Estimator agents.Estimator
	// Review reads the case log for transcript review and the access
	// audit; nil answers those endpoints 503.
	Review *transcripts.Review
	// Stats serves live statistics, their stream and the public status;
	// nil answers those endpoints 503.
	Stats *stats.Stats
	// Recordings keeps the recordings edges upload; nil answers those
	// endpoints 503.
	Recordings recordings.Archive
}

// Server serves HTTP. Create it with New. What it holds is grouped by
// the job each part does for a request; the groups are embedded, so a
// handler names a part directly (s.board, s.sessions).
type Server struct {
	cfg Config
	live
	stores
	access
	limits
	telemetry
	now      func() time.Time
	draining atomic.Bool
	// statusPages is the rendered /status, per language.
	statusPages statusCache
	handler     http.Handler
	patterns    []string // the route table, written once by routes()
}

// live is the application layer a request is applied to, and the sockets
// that hear its changes.
type live struct {
	board     *switchboard.Switchboard
	hub       *agents.Hub
	estimator agents.Estimator
}

// stores is what the server reads and writes in the database.
type stores struct {
	db     *tsql.DB
	dir    *directory.Store
	review *transcripts.Review
	stats  *stats.Stats
	// recordings is nil when the server keeps none.
	recordings *recordingArchive
}

// access is who may ask: logins, sessions and citizens' tokens.
type access struct {
	sessions  *auth.Sessions
	hasher    auth.Hasher
	dummyHash string
	tokens    *auth.ContactTokens
}

// limits pace the endpoints anyone can reach.
type limits struct {
	loginAddr *ratelimit.Limiter
	loginUser *ratelimit.Limiter
	chatLimit *ratelimit.Limiter
	// publicLimit bounds other public reads per client (callback slots).
	publicLimit *ratelimit.Limiter
}

// telemetry is what the server tells its operator.
type telemetry struct {
	log      *slog.Logger
	registry *prometheus.Registry
	metrics  *httpMetrics
}

// New builds a server.
func New(cfg Config, d Deps) (*Server, error) {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Registry == nil {
		d.Registry = prometheus.NewRegistry()
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultConfig().MaxBodyBytes
	}
	if cfg.LoginRefill <= 0 {
		cfg.LoginRefill = DefaultConfig().LoginRefill
	}
	if cfg.ChatRefill <= 0 {
		cfg.ChatRefill = DefaultConfig().ChatRefill
	}
	if d.Switchboard == nil || d.Tokens == nil || d.Sessions == nil {
		return nil, errors.New("web: Switchboard, Tokens and Sessions are required")
	}
	// Logging in with an unknown name costs the same hash as a known one,
	// so response times do not tell which names exist.
	dummy, err := d.Hasher.Hash("tellonce-no-such-user")
	if err != nil {
		return nil, err
	}
	m, err := newHTTPMetrics(d.Registry)
	if err != nil {
		return nil, err
	}
	refill := 1 / cfg.LoginRefill.Seconds()
	s := &Server{
		cfg:    cfg,
		live:   live{board: d.Switchboard, estimator: d.Estimator},
		stores: stores{db: d.DB, dir: d.Directory, review: d.Review, stats: d.Stats},
		access: access{sessions: d.Sessions, hasher: d.Hasher, dummyHash: dummy, tokens: d.Tokens},
		limits: limits{
			loginAddr:   ratelimit.New(refill, cfg.LoginBurstAddr, 100_000, d.Now),
			loginUser:   ratelimit.New(refill, cfg.LoginBurstUser, 100_000, d.Now),
			chatLimit:   ratelimit.New(1/cfg.ChatRefill.Seconds(), cfg.ChatBurst, 100_000, d.Now),
			publicLimit: ratelimit.New(10, 30, 100_000, d.Now),
		},
		telemetry: telemetry{log: d.Log, registry: d.Registry, metrics: m},
		now:       d.Now,
	}
	if d.Recordings != nil {
		s.recordings = &recordingArchive{Archive: d.Recordings}
	}
	var closed agents.ClosedCases
	if d.Review != nil {
		closed = d.Review // a typed nil would pass for one
	}
	s.hub = agents.NewHub(d.Switchboard, agents.Config{
		// Open sockets hear of a change made through another server as
		// soon as requests do: within the session cache period, or a
		// second when there is no cache.
		Sessions: d.Sessions, SessionCheck: max(d.Sessions.CachePeriod(), time.Second), Now: d.Now,
		CheckOrigin: s.checkWSOrigin, Estimator: d.Estimator, Log: d.Log,
		SendBuffer: cfg.Sockets.SendBuffer, WriteTimeout: cfg.Sockets.WriteTimeout, PongWait: cfg.Sockets.PongWait,
		MaxFrameBytes: cfg.Sockets.MaxFrameBytes, AckTimeout: cfg.Sockets.AckTimeout, ChatAbsent: cfg.Sockets.ChatAbsent,
		ICEServers: cfg.Sockets.ICEServers, TURNCredentials: cfg.Sockets.TURNCredentials, ChatBurst: cfg.Sockets.MessageBurst, ChatRefill: cfg.Sockets.MessageRefill,
		CaseToken: d.Tokens.CaseToken, Refused: s.socketRefusal, ClientAddr: s.clientAddr, ClosedCases: closed,
	})
	s.handler = s.routes()
	return s, nil
}

// Deliver hands committed router events to the connected WebSockets; the
// journal calls it after each commit, in order.
func (s *Server) Deliver(evs []cases.Event) { s.hub.Deliver(evs) }

// Hub returns the WebSocket hub (for its statistics).
func (s *Server) Hub() *agents.Hub { return s.hub }

// Handler returns the server's root handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Run serves on the configured address until ctx ends, then drains
// in-flight requests for up to 15 seconds.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", s.cfg.Addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve is Run on a listener the caller opened.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	s.log.Info("listening", "addr", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.draining.Store(true)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	// WebSockets are hijacked connections that Shutdown does not see.
	s.hub.Shutdown(shutdownCtx)
	s.closeStreams() // statistics streams never end by themselves
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	s.log.Info("stopped")
	return nil
}
