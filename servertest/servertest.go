// Package servertest starts a whole tellonce server for tests: in the
// test's process, on a real loopback socket, over a fresh database of
// either backend (PostgreSQL when TELLONCE_TEST_POSTGRES is set), wired as
// `tellonce serve` wires it — directory, sessions, citizens' tokens, the
// router restored from the directory and the durable log, the journal
// that group-commits its events and then hands them to the statistics and
// the sockets.
//
// The HTTP layer itself is the caller's: Options.Front builds it from the
// parts (web.New, in every caller). servertest cannot import package web,
// because web's own tests, which live inside package web, use it too.
//
// Only tests import it.
package servertest

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"tellonce/agents"
	"tellonce/auth"
	"tellonce/cases"
	"tellonce/directory"
	"tellonce/router"
	tsql "tellonce/sql"
	"tellonce/sql/sqltest"
	"tellonce/stats"
	"tellonce/switchboard"
	"tellonce/transcripts"
)

// CheapHasher makes password hashes fast: tests create and log in many
// accounts, and the real cost is not what they test.
func CheapHasher() auth.Hasher { return auth.Hasher{Time: 1, Memory: 64, Threads: 1} }

// Front is the HTTP layer put on the parts: *web.Server.
type Front interface {
	// Serve serves on ln until ctx ends, then drains.
	Serve(ctx context.Context, ln net.Listener) error
	// Deliver hands committed events to the sockets.
	Deliver(evs []cases.Event)
	// Hub is the sockets' hub, run beside the server.
	Hub() *agents.Hub
}

// Clock tells the time; a clocktest.Clock does.
type Clock interface{ Now() time.Time }

// Options say what to start; only Front is required.
type Options struct {
	// DB is the database to use; nil opens a fresh one of Backend.
	DB *tsql.DB
	// Backend is "sqlite" (the default) or "postgres", which skips the
	// test without TELLONCE_TEST_POSTGRES.
	Backend string
	// Clock is the time of the directory, the sessions, the router and the
	// statistics; nil is the system clock.
	Clock Clock
	// Hasher hashes passwords; the zero value is CheapHasher().
	Hasher auth.Hasher
	// Log defaults to discarding everything.
	Log *slog.Logger
	// SessionTTL is how long a login lasts (zero: 12h); SessionCache how
	// long a checked one is trusted from memory (zero: always ask).
	SessionTTL   time.Duration
	SessionCache time.Duration
	// Tokens makes citizens' tokens; nil loads the key from the database,
	// as serve does.
	Tokens *auth.ContactTokens
	// Stats makes the statistics (Parts.Stats), registered with Registry
	// (nil: a fresh one). They hear every delivered event; their own Run
	// is not started: a test reads them when it wants.
	Stats    bool
	Registry *prometheus.Registry
	// Instant leaves the journal out: every change counts as durable at
	// once, the router's events reach only Published (which decides who
	// else hears them), and nothing runs in the background but the
	// server and its hub: with a fake clock the test moves time itself.
	Instant bool
	// Published sees the router's events as it publishes them, before the
	// journal; Delivered sees them once committed, before the statistics
	// and the sockets.
	Published func(evs []cases.Event)
	Delivered func(evs []cases.Event)
	// Seed fills the stores before the router is restored from them.
	Seed func(ctx context.Context, p *Parts) error
	// Front builds the HTTP layer on the parts. Required.
	Front func(p *Parts) (Front, error)
}

// Parts are what the server is made of.
type Parts struct {
	DB        *tsql.DB
	Backend   string
	Clock     Clock
	Hasher    auth.Hasher
	Log       *slog.Logger
	Registry  *prometheus.Registry
	Directory *directory.Store
	Sessions  *auth.Sessions
	Tokens    *auth.ContactTokens
	Router    *router.Router
	// Journal is the durable wait: the transcripts journal, or one that
	// returns at once (Options.Instant).
	Journal switchboard.Journal
	// Switchboard applies requests to Router, durably through Journal.
	Switchboard *switchboard.Switchboard
	// Stats is nil unless Options.Stats.
	Stats *stats.Stats
}

// Server is a running server; it stops when the test ends.
type Server struct {
	*Endpoint
	Parts
	Front Front
}

// Start starts a whole server; see the package doc.
func Start(tb testing.TB, o Options) *Server {
	tb.Helper()
	if o.Front == nil {
		tb.Fatal("servertest: Options.Front is required")
	}
	ctx := context.Background()
	p := Parts{DB: o.DB, Backend: o.Backend, Clock: o.Clock, Hasher: o.Hasher, Log: o.Log, Registry: o.Registry, Tokens: o.Tokens}
	if p.DB == nil {
		if p.Backend == "" {
			p.Backend = "sqlite"
		}
		p.DB = sqltest.Open(tb, p.Backend).DB
	}
	if p.Clock == nil {
		p.Clock = systemClock{}
	}
	if p.Hasher == (auth.Hasher{}) {
		p.Hasher = CheapHasher()
	}
	if p.Log == nil {
		p.Log = slog.New(slog.DiscardHandler)
	}
	if p.Registry == nil {
		p.Registry = prometheus.NewRegistry()
	}
	if o.SessionTTL <= 0 {
		o.SessionTTL = 12 * time.Hour
	}
	p.Directory = directory.NewStore(p.DB, p.Clock.Now)
	p.Sessions = auth.NewSessions(p.DB, o.SessionTTL, p.Clock.Now)
	if o.SessionCache > 0 {
		p.Sessions.CacheLookups(o.SessionCache)
	}
	if p.Tokens == nil {
		t, err := auth.LoadContactTokens(ctx, p.DB)
		if err != nil {
			tb.Fatal(err)
		}
		p.Tokens = t
	}

	// The front exists only after the router; events delivered before it
	// (none, as nothing runs yet) would have nowhere to go.
	var front Front
	var journal *transcripts.Journal
	var sink router.Sink
	if o.Instant {
		p.Journal = instant{}
		sink = publishFunc(func(evs []cases.Event) {
			if o.Published != nil {
				o.Published(evs)
			}
		})
	} else {
		journal = transcripts.NewJournal(p.DB, transcripts.Options{Log: p.Log, Deliver: func(evs []cases.Event) {
			if o.Delivered != nil {
				o.Delivered(evs)
			}
			if p.Stats != nil {
				p.Stats.Observe(evs)
			}
			front.Deliver(evs)
		}})
		p.Journal = journal
		// Its stages in /metrics when the front serves Registry, as serve's do.
		if err := journal.RegisterMetrics(p.Registry); err != nil {
			tb.Fatal(err)
		}
		sink = publishFunc(func(evs []cases.Event) {
			if o.Published != nil {
				o.Published(evs)
			}
			journal.Publish(evs)
		})
	}
	rt, err := router.New(router.Config{Clock: p.Clock, Sink: sink})
	if err != nil {
		tb.Fatal(err)
	}
	p.Router = rt
	p.Switchboard = switchboard.New(rt, p.Journal, p.Directory)
	if o.Stats {
		if p.Stats, err = stats.New(stats.Config{Router: rt, Clock: p.Clock, Registry: p.Registry}); err != nil {
			tb.Fatal(err)
		}
	}
	if o.Seed != nil {
		if err := o.Seed(ctx, &p); err != nil {
			tb.Fatalf("servertest: seed: %v", err)
		}
	}
	queues, agentProfiles, err := switchboard.RoutingConfig(ctx, p.Directory)
	if err != nil {
		tb.Fatal(err)
	}
	var open []cases.CaseSnapshot
	if journal != nil {
		if open, err = journal.Load(ctx); err != nil {
			tb.Fatal(err)
		}
	}
	if err := rt.Restore(cases.Snapshot{Queues: queues, Agents: agentProfiles, Cases: open}); err != nil {
		tb.Fatal(err)
	}
	if p.Stats != nil {
		if err := p.Stats.Load(ctx, p.DB); err != nil { // and learn the agents
			tb.Fatal(err)
		}
	}
	if front, err = o.Front(&p); err != nil {
		tb.Fatalf("servertest: front: %v", err)
	}
	var background []func(context.Context) error
	if journal != nil {
		// As in serve: the journal, the router and the checkpoints
		// outlive the HTTP drain.
		background = append(background, journal.Run, rt.Run, func(ctx context.Context) error {
			return p.DB.RunCheckpoints(ctx, tsql.DefaultCheckpointEvery, p.Log)
		})
	}
	return &Server{Endpoint: serve(tb, front, background), Parts: p, Front: front}
}

// Serve serves front on a loopback socket, with its hub, until the
// endpoint is closed or the test ends.
func Serve(tb testing.TB, front Front) *Endpoint {
	tb.Helper()
	return serve(tb, front, nil)
}

// Endpoint is a front served on a loopback socket.
type Endpoint struct {
	// URL is http://127.0.0.1:port, without a trailing slash.
	URL       string
	transport *http.Transport
	close     sync.Once
	stop      func()
}

// Client is a client of the endpoint (a new one each call, sharing
// connections); the endpoint's Close closes its idle connections.
func (e *Endpoint) Client() *http.Client { return &http.Client{Transport: e.transport} }

// Close stops serving: the server drains, then the hub and anything else
// that ran beside it stop. Later calls do nothing.
func (e *Endpoint) Close() { e.close.Do(e.stop) }

func serve(tb testing.TB, front Front, background []func(context.Context) error) *Endpoint {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	serveCtx, stopServe := context.WithCancel(context.Background())
	restCtx, stopRest := context.WithCancel(context.Background())
	served := make(chan error, 1)
	rested := make(chan error, len(background)+1)
	go func() { served <- front.Serve(serveCtx, ln) }()
	go func() { rested <- front.Hub().Run(restCtx) }()
	for _, run := range background {
		go func() { rested <- run(restCtx) }()
	}
	e := &Endpoint{URL: "http://" + ln.Addr().String(), transport: &http.Transport{}}
	e.stop = func() {
		stopServe()
		if err := <-served; err != nil {
			tb.Errorf("serve: %v", err)
		}
		stopRest()
		for range len(background) + 1 {
			if err := <-rested; err != nil && !errors.Is(err, context.Canceled) {
				tb.Errorf("hub, journal, router or checkpoints: %v", err)
			}
		}
		e.transport.CloseIdleConnections()
	}
	tb.Cleanup(e.Close)
	return e
}

// servingLine is how serve announces its address on standard output.
var servingLine = regexp.MustCompile(`serving on (http://[0-9.:]+/)`)

// ServingURL finds the address in the line `tellonce serve` prints once it
// listens ("… is serving on http://127.0.0.1:port/ …"), for tests that run
// the command itself rather than Start: the end-to-end tests of the
// command and the browser tests of the built binary.
func ServingURL(output string) (url string, ok bool) {
	m := servingLine.FindStringSubmatch(output)
	if m == nil {
		return "", false
	}
	return m[1], true
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

type publishFunc func([]cases.Event)

func (f publishFunc) Publish(evs []cases.Event) { f(evs) }

// instant is the durable wait of Options.Instant: everything already is.
type instant struct{}

func (instant) Wait(context.Context, uint64) error { return nil }
