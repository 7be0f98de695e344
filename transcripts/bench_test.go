package transcripts

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tellonce/router"
	tsql "tellonce/sql"
	"tellonce/sql/sqltest"
)

// dropSearchIndex removes what the text search adds to every timeline
// write (the trigram index, the FTS5 trigger), to measure its cost: set
// TELLONCE_BENCH_NO_SEARCH_INDEX=1.
func dropSearchIndex(b *testing.B, db *tsql.DB) {
	q := `DROP INDEX case_events_text_trgm`
	if db.Dialect == tsql.SQLite {
		q = `DROP TRIGGER case_events_fts_insert`
	}
	if _, err := db.ExecContext(context.Background(), q); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkGroupCommit measures acknowledged events per second: each of
// many publishers publishes one message event (as one router transaction,
// numbered under one lock as the router does) and Waits for it to be
// committed before publishing the next. b.N is the total number of events.
func BenchmarkGroupCommit(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		for _, publishers := range []int{1, 64, 256, 1024} {
			b.Run(fmt.Sprintf("%s/publishers=%d", backend, publishers), func(b *testing.B) {
				benchGroupCommit(b, backend, publishers)
			})
		}
	}
}

// BenchmarkOfferCommit is BenchmarkGroupCommit with offers instead of
// messages: every event offers a transferred case to an agent, the kind of
// offer that is a read of the case's history. b.N is the total number of
// offers.
func BenchmarkOfferCommit(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		for _, publishers := range []int{1, 64} {
			b.Run(fmt.Sprintf("%s/publishers=%d", backend, publishers), func(b *testing.B) {
				benchCommit(b, backend, publishers, (*publisher).offer)
			})
		}
	}
}

// offer publishes one offer of case cs-<g>'s second leg (the first was
// transferred) to agent a<g>, as one router transaction, and returns its
// Seq.
func (p *publisher) offer(g int) uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seq++
	caseID := fmt.Sprintf("cs-%d", g)
	first, leg, agent := "ct-"+caseID, "ct-"+caseID+"-2", fmt.Sprintf("a%d", g)
	c := &router.ContactView{ID: leg, CaseID: caseID, Queue: "nts126.tax", Agency: "nts126",
		Channel: router.ChannelVoice, Status: router.StatusOffered, Caller: router.Caller{ID: "c"},
		Agent: agent, OfferID: fmt.Sprintf("of-%d", p.seq), EnqueuedAt: t0, CaseCreatedAt: t0}
	cs := &router.CaseView{ID: caseID, Status: "open", CreatedAt: t0, Legs: []router.Leg{
		{ContactID: first, Queue: "gov110.general", Agency: "gov110", Channel: router.ChannelVoice,
			Agent: "kim", EnqueuedAt: t0, AnsweredAt: t0, EndedAt: t0, Disposition: "transferred"},
		{ContactID: leg, Queue: "nts126.tax", Agency: "nts126", Channel: router.ChannelVoice, EnqueuedAt: t0}}}
	p.j.Publish([]router.Event{{Seq: p.seq, Type: router.EventOffered, At: t0, CaseID: caseID,
		ContactID: leg, Queue: c.Queue, Agent: agent, AgentAgency: "nts126", OfferID: c.OfferID,
		ExpiresAt: t0.Add(time.Minute), Contact: c, Case: cs}})
	return p.seq
}

func benchGroupCommit(b *testing.B, backend string, publishers int) {
	benchCommit(b, backend, publishers, func(p *publisher, g int) uint64 {
		return p.say(fmt.Sprintf("cs-%d", g), 1)
	})
}

// benchCommit runs publishers goroutines, each publishing one router
// transaction with publish(p, its number) and waiting for it, until b.N
// have been acknowledged.
func benchCommit(b *testing.B, backend string, publishers int, publish func(p *publisher, g int) uint64) {
	db := sqltest.Open(b, backend)
	if os.Getenv("TELLONCE_BENCH_NO_SEARCH_INDEX") != "" {
		dropSearchIndex(b, db.DB)
	}
	j := NewJournal(db.DB, Options{Log: quiet})
	start(b, j)
	// As serve does: the embedded database's WAL is checkpointed in the
	// background, not by the commits.
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go db.DB.RunCheckpoints(ctx, tsql.DefaultCheckpointEvery, quiet)
	p := newPublisher(j)
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	var wg sync.WaitGroup
	wal0 := walBytes(b, db.DB)
	b.ResetTimer()
	began := time.Now()
	for g := range publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				t := time.Now()
				seq := publish(p, g)
				if err := j.Wait(context.Background(), seq); err != nil {
					b.Error(err)
					return
				}
				lat[i] = time.Since(t)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(began)
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ack-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ack-ms")
	b.ReportMetric(float64(b.N)/float64(max(j.commits.Load(), 1)), "events/commit")
	if wal0 >= 0 {
		b.ReportMetric(float64(walBytes(b, db.DB)-wal0)/1024/float64(max(j.commits.Load(), 1)), "wal-kB/commit")
	}
}

// walBytes is the PostgreSQL server's WAL position, the bytes of WAL it
// has written (the whole cluster: the throwaway one of
// scripts/with-postgres serves only the benchmark), or -1 on SQLite,
// which keeps no such count. Unlike the
// rates it does not depend on what else the machine is doing.
func walBytes(b *testing.B, db *tsql.DB) int64 {
	if db.Dialect != tsql.Postgres {
		return -1
	}
	var n int64
	if err := db.GetContext(context.Background(), &n, `SELECT (pg_current_wal_lsn() - '0/0')::bigint`); err != nil {
		b.Fatal(err)
	}
	return n
}

// BenchmarkRouterMessages is the same through a real router: each
// publisher is a citizen with an assigned chat who says something (one
// router write, one message event) and waits for the acknowledgement, as
// the web layer does before answering. b.N is the total number of messages.
func BenchmarkRouterMessages(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(fmt.Sprintf("%s/publishers=64", backend), func(b *testing.B) {
			benchRouterMessages(b, backend, 64)
		})
	}
}

func benchRouterMessages(b *testing.B, backend string, publishers int) {
	db := sqltest.Open(b, backend)
	j := NewJournal(db.DB, Options{Log: quiet})
	start(b, j)
	r, err := router.New(router.Config{Sink: j})
	if err != nil {
		b.Fatal(err)
	}
	ack := func(evs []router.Event, err error) {
		if err != nil {
			b.Fatal(err)
		}
		if len(evs) == 0 {
			return
		}
		if err := j.Wait(context.Background(), evs[len(evs)-1].Seq); err != nil {
			b.Fatal(err)
		}
	}
	ack(r.UpsertQueue(agencyQueue("gov110.general")))
	contacts := make([]string, publishers)
	for i := range publishers {
		name := fmt.Sprintf("agent%d", i)
		ack(r.UpsertAgent(agentIn(name, "gov110", "gov110.general")))
		_, evs, err := r.Connect(name)
		ack(evs, err)
		ack(r.SetState(name, router.StateAvailable, ""))
		c, evs, err := r.Enqueue(caller(fmt.Sprintf("c%d", i), func(q *router.EnqueueRequest) {
			q.Channel = router.ChannelChat
		}))
		ack(evs, err)
		if c, err = r.Contact(c.ID); err != nil || c.Status != router.StatusOffered {
			b.Fatalf("contact %s: %v %s; want offered", c.ID, err, c.Status)
		}
		ack(r.Accept(c.Agent, c.OfferID))
		contacts[i] = c.ID
	}
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	var wg sync.WaitGroup
	commits := j.commits.Load()
	b.ResetTimer()
	began := time.Now()
	for g := range publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				t := time.Now()
				evs, err := r.Say(router.AsCitizen(), contacts[g], "안녕하세요, 문의드립니다")
				if err == nil {
					err = j.Wait(context.Background(), evs[len(evs)-1].Seq)
				}
				if err != nil {
					b.Error(err)
					return
				}
				lat[i] = time.Since(t)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(began)
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ack-ms")
	b.ReportMetric(float64(b.N)/float64(max(j.commits.Load()-commits, 1)), "events/commit")
}
