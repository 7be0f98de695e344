package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"tellonce/auth"
	"tellonce/directory"
	"tellonce/router"
	tsql "tellonce/sql"
	"tellonce/sql/sqltest"
	"tellonce/switchboard"
	"tellonce/transcripts"
)

// BenchmarkTakeoverRestore is the restore a new leader runs before it
// routes (restore in serve.go: the directory, the open cases, the callers'
// earlier cases and today's statistics read side by side, then the router
// and the statistics rebuilt), on PostgreSQL, with agents in the directory
// and a line waiting (TELLONCE_RESTORE_SCALE=AGENTSxWAITING, default
// 200x2000; one caller in ten has an earlier, closed case). The line is
// written through a router and its journal, as a leader writes it. Each
// iteration logs its steps; TELLONCE_RESTORE_PROFILE=FILE writes a CPU
// profile of the restores alone:
//
//	TELLONCE_RESTORE_SCALE=10000x100000 scripts/with-postgres go test -run '^$' \
//	  -bench '^BenchmarkTakeoverRestore$' -benchtime 3x -timeout 60m ./cmd/tellonce/
func BenchmarkTakeoverRestore(b *testing.B) {
	if os.Getenv(sqltest.EnvPostgres) == "" {
		b.Skip("no PostgreSQL: run with scripts/with-postgres")
	}
	agents, waiting := restoreScale(b)
	db := sqltest.Open(b, "postgres").DB
	ctx := context.Background()
	dir := directory.NewStore(db, nil)
	began := time.Now()
	if _, err := dir.CreateAgency(ctx, directory.AgencyCreate{ID: "bench", Name: "Bench"}); err != nil {
		b.Fatal(err)
	}
	name := "Work"
	queue, err := dir.CreateQueue(ctx, "bench", directory.QueueCreate{ID: "work", QueueSettings: directory.QueueSettings{Name: &name}})
	if err != nil {
		b.Fatal(err)
	}
	hash, err := auth.DefaultHasher().Hash(drillPassword)
	if err != nil {
		b.Fatal(err)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i := range agents {
		g.Go(func() error {
			one, username := 1, fmt.Sprintf("bench.a%05d", i)
			_, err := dir.CreateUser(gctx, directory.UserCreate{Username: username, Name: "상담원 " + username, Password: drillPassword,
				Role: directory.RoleAgent, Agency: "bench", Skills: map[string]int{"lang:ko": 5},
				Queues: []directory.Membership{{Queue: queue.ID, Level: 3}}, MaxChats: &one}, hash)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
	seedLine(b, db, dir, queue.ID, waiting)
	b.Logf("restore bench: %d agents and %d waiting (%d with an earlier case) made in %s",
		agents, waiting, waiting/10, time.Since(began).Round(time.Millisecond))

	cfg, err := parseServe("serve", nil, io.Discard, func(string) string { return "" })
	if err != nil {
		b.Fatal(err)
	}
	review, err := transcripts.NewReview(db, transcripts.ReviewOptions{Log: discardLog()})
	if err != nil {
		b.Fatal(err)
	}
	d := leaderDeps{cfg: cfg, log: slog.New(slog.NewTextHandler(benchLog{b}, nil)), db: db, dir: dir, review: review}
	// -cpuprofile would mostly profile the seeding: this profiles the
	// restores alone.
	if path := os.Getenv("TELLONCE_RESTORE_PROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	for b.Loop() {
		journal := transcripts.NewJournal(db, transcripts.Options{Log: discardLog()})
		rt, st, today, err := restore(ctx, d, journal, nil, prometheus.NewRegistry())
		if err != nil {
			b.Fatal(err)
		}
		// After the first offer could go out: today's statistics.
		if err := st.Apply(today); err != nil {
			b.Fatal(err)
		}
		line, err := rt.Waiting(queue.ID)
		if err != nil {
			b.Fatal(err)
		}
		if len(line) != waiting {
			b.Fatalf("restored %d waiting; want %d", len(line), waiting)
		}
	}
}

// seedLine enqueues waiting contacts in queue through a router and its
// journal, after a tenth of their callers each had a case that closed.
func seedLine(b *testing.B, db *tsql.DB, dir *directory.Store, queue string, waiting int) {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	journal := transcripts.NewJournal(db, transcripts.Options{Log: discardLog()})
	rt, err := router.New(router.Config{Sink: journal})
	if err != nil {
		b.Fatal(err)
	}
	queues, profiles, err := switchboard.RoutingConfig(ctx, dir)
	if err != nil {
		b.Fatal(err)
	}
	if err := rt.Restore(router.Snapshot{Queues: queues, Agents: profiles}); err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- journal.Run(ctx) }()
	var last uint64
	note := func(evs []router.Event, err error) {
		if err != nil {
			b.Fatal(err)
		}
		if len(evs) > 0 {
			last = evs[len(evs)-1].Seq
		}
	}
	enqueue := func(i int) router.ContactView {
		c, evs, err := rt.Enqueue(router.EnqueueRequest{Channel: router.ChannelChat, Queue: queue,
			Caller:   router.Caller{ID: fmt.Sprintf("bench-%06d", i), Name: "시민", Language: "ko"},
			Identity: fmt.Sprintf("bench:%06d", i), Context: router.ContactContext{Summary: "대기"}})
		note(evs, err)
		return c
	}
	for i := range waiting / 10 {
		note(rt.Abandon(enqueue(i).ID))
	}
	for i := range waiting {
		enqueue(i)
		if i%2000 == 1999 { // keep the journal's backlog short
			if err := journal.Wait(ctx, last); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := journal.Wait(ctx, last); err != nil {
		b.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}

// restoreScale reads TELLONCE_RESTORE_SCALE (agents x waiting contacts).
func restoreScale(b *testing.B) (agents, waiting int) {
	b.Helper()
	v := os.Getenv("TELLONCE_RESTORE_SCALE")
	if v == "" {
		return 200, 2000
	}
	a, w, ok := strings.Cut(v, "x")
	agents, err1 := strconv.Atoi(a)
	waiting, err2 := strconv.Atoi(w)
	if !ok || err1 != nil || err2 != nil || agents < 1 || waiting < 10 {
		b.Fatalf("TELLONCE_RESTORE_SCALE=%q: want AGENTSxWAITING, e.g. 10000x100000", v)
	}
	return agents, waiting
}

// benchLog writes the restore's log lines to the benchmark's output.
type benchLog struct{ b *testing.B }

func (w benchLog) Write(p []byte) (int, error) {
	w.b.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }
