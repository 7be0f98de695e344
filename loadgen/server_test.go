package loadgen

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"tellonce/auth"
	"tellonce/cases"
	"tellonce/directory"
	"tellonce/router"
	"tellonce/servertest"
	tsql "tellonce/sql"
	"tellonce/web"
)

// The in-process server of the tests and benchmarks: servertest's whole
// server (wired as cmd/tellonce's serve wires it) on a fresh database of
// one backend and a loopback listener, with the password hasher cheap so
// that a thousand agent accounts are made in seconds, and a probe on the
// way of every event.

const testAdminPassword = "loadgen-admin-password"

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

func (p *probe) mark(m map[string]time.Time, evs []cases.Event) {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range evs {
		if e := &evs[i]; e.Type == cases.EventOffered && e.Contact != nil {
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

// startServer serves on 127.0.0.1 until the test ends. backend is
// "sqlite" or "postgres" (skipped without TELLONCE_TEST_POSTGRES).
func startServer(tb testing.TB, backend string, tune ...func(*web.Config)) *testServer {
	tb.Helper()
	return startServerOn(tb, backend, nil, tune...)
}

// startServerOn is startServer on a database of the caller's (nil: a
// fresh one).
func startServerOn(tb testing.TB, backend string, db *tsql.DB, tune ...func(*web.Config)) *testServer {
	tb.Helper()
	log := slog.New(slog.DiscardHandler)
	if os.Getenv("LOADGEN_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	cfg := web.DefaultConfig()
	for _, f := range tune {
		f(&cfg)
	}
	pr := newProbe()
	var srv *web.Server
	ts := servertest.Start(tb, servertest.Options{
		Backend: backend, DB: db, Log: log,
		// As serve does by default: checked sessions are trusted from memory.
		SessionTTL: cfg.SessionTTL, SessionCache: auth.DefaultSessionCache,
		Published: func(evs []cases.Event) { pr.mark(pr.published, evs) },
		Delivered: func(evs []cases.Event) { pr.mark(pr.delivered, evs) },
		Seed: func(ctx context.Context, p *servertest.Parts) error {
			hash, err := p.Hasher.Hash(testAdminPassword)
			if err != nil {
				return err
			}
			admin := directory.UserCreate{Username: "admin", Name: "Administrator", Password: testAdminPassword, Role: directory.RoleAdmin}
			_, err = p.Directory.CreateUser(ctx, admin, hash)
			return err
		},
		Front: func(p *servertest.Parts) (servertest.Front, error) {
			var err error
			srv, err = web.New(cfg, web.Deps{DB: p.DB, Directory: p.Directory, Sessions: p.Sessions,
				Hasher: p.Hasher, Log: log, Switchboard: p.Switchboard, Tokens: p.Tokens, Registry: p.Registry})
			return srv, err
		},
	})
	return &testServer{URL: ts.URL, srv: srv, rt: ts.Router, probe: pr}
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
