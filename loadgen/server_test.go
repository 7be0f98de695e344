package loadgen

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"tellonce/auth"
	"tellonce/directory"
	"tellonce/router"
	tsql "tellonce/sql"
	"tellonce/sql/sqltest"
	"tellonce/switchboard"
	"tellonce/transcripts"
	"tellonce/web"
)

// The in-process server of the tests and benchmarks: wired as
// cmd/tellonce's serve wires it (directory, sessions, transcripts journal,
// router restored from the directory, web server), on a fresh database of
// one backend and a loopback listener. Only the password hasher is cheap,
// so that a thousand agent accounts are made in seconds.

const testAdminPassword = "loadgen-admin-password"

var testHasher = auth.Hasher{Time: 1, Memory: 64, Threads: 1}

type testServer struct {
	URL   string
	srv   *web.Server
	rt    *router.Router
	probe *probe
}

// probe timestamps each offer inside the server: when the router published
// its event to the journal (the enqueue is done) and when the journal
// handed it to the sockets (its commit is done), by caller id.
type probe struct {
	mu        sync.Mutex
	published map[string]time.Time
	delivered map[string]time.Time
}

func newProbe() *probe {
	return &probe{published: map[string]time.Time{}, delivered: map[string]time.Time{}}
}

func (p *probe) mark(m map[string]time.Time, evs []router.Event) {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range evs {
		if e := &evs[i]; e.Type == router.EventOffered && e.Contact != nil {
			if _, ok := m[e.Contact.Caller.ID]; !ok {
				m[e.Contact.Caller.ID] = now
			}
		}
	}
}

// take returns the timestamps so far and starts afresh.
func (p *probe) take() (published, delivered map[string]time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	published, delivered = p.published, p.delivered
	p.published, p.delivered = map[string]time.Time{}, map[string]time.Time{}
	return published, delivered
}

// probeSink stamps events on their way from the router to the journal.
type probeSink struct {
	p    *probe
	next router.Sink
}

func (s probeSink) Publish(evs []router.Event) {
	s.p.mark(s.p.published, evs)
	s.next.Publish(evs)
}

// startServer serves on 127.0.0.1 until the test ends. backend is
// "sqlite" or "postgres" (skipped without TELLONCE_TEST_POSTGRES).
func startServer(tb testing.TB, backend string, tune ...func(*web.Config)) *testServer {
	tb.Helper()
	be := sqltest.Open(tb, backend)
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	if os.Getenv("LOADGEN_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}

	dir := directory.NewStore(be.DB, nil)
	hash, err := testHasher.Hash(testAdminPassword)
	if err != nil {
		tb.Fatal(err)
	}
	admin := directory.UserCreate{Username: "admin", Name: "Administrator", Password: testAdminPassword, Role: directory.RoleAdmin}
	if _, err := dir.CreateUser(ctx, admin, hash); err != nil {
		tb.Fatal(err)
	}
	tokens, err := auth.LoadContactTokens(ctx, be.DB)
	if err != nil {
		tb.Fatal(err)
	}
	var srv *web.Server
	pr := newProbe()
	journal := transcripts.NewJournal(be.DB, transcripts.Options{Log: log, Deliver: func(evs []router.Event) {
		pr.mark(pr.delivered, evs)
		srv.Deliver(evs)
	}})
	rt, err := router.New(router.Config{Sink: probeSink{pr, journal}})
	if err != nil {
		tb.Fatal(err)
	}
	queues, agents, err := switchboard.RoutingConfig(ctx, dir)
	if err != nil {
		tb.Fatal(err)
	}
	cases, err := journal.Load(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	if err := rt.Restore(router.Snapshot{Queues: queues, Agents: agents, Cases: cases}); err != nil {
		tb.Fatal(err)
	}
	cfg := web.DefaultConfig()
	for _, f := range tune {
		f(&cfg)
	}
	// As serve does by default: checked sessions are trusted from memory.
	sessions := auth.NewSessions(be.DB, cfg.SessionTTL, nil)
	sessions.CacheLookups(auth.DefaultSessionCache)
	srv, err = web.New(cfg, web.Deps{DB: be.DB, Directory: dir, Sessions: sessions,
		Hasher: testHasher, Log: log, Router: rt, Journal: journal, Tokens: tokens})
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}

	// As in serve: the journal and the router outlive the HTTP drain.
	serveCtx, stopServe := context.WithCancel(ctx)
	restCtx, stopRest := context.WithCancel(ctx)
	served, rested := make(chan error, 1), make(chan error, 4)
	go func() { served <- srv.Serve(serveCtx, ln) }()
	go func() { rested <- srv.Hub().Run(restCtx) }()
	go func() { rested <- journal.Run(restCtx) }()
	go func() { rested <- rt.Run(restCtx) }()
	go func() { rested <- be.DB.RunCheckpoints(restCtx, tsql.DefaultCheckpointEvery, log) }()
	tb.Cleanup(func() {
		stopServe()
		if err := <-served; err != nil {
			tb.Errorf("serve: %v", err)
		}
		stopRest()
		for range 4 {
			if err := <-rested; err != nil && !errors.Is(err, context.Canceled) {
				tb.Errorf("journal, router or checkpoints: %v", err)
			}
		}
	})
	return &testServer{URL: "http://" + ln.Addr().String(), srv: srv, rt: rt, probe: pr}
}

// waitFor polls cond for up to d.
func waitFor(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}
