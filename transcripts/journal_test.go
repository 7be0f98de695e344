package transcripts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tellonce/router"
	"tellonce/sql/sqltest"
)

// Events published while the writer is busy share one transaction, within
// MaxBatch, and one router transaction (a Publish call) is never split.
func TestGroupCommitSharesTransactions(t *testing.T) {
	tests := []struct {
		name        string
		maxBatch    int
		publishers  int
		perPublish  int
		wantCommits int64
	}{
		{"all pending in one transaction", 0, 32, 1, 1},
		{"MaxBatch splits the pending events", 10, 32, 1, 4},
		{"a Publish call is never split", 5, 4, 8, 4},
		{"whole calls up to MaxBatch", 16, 8, 4, 2},
	}
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				mustExec(t, b.DB, `DELETE FROM case_events`)
				d := newDelivered(t)
				j := NewJournal(b.DB, Options{MaxBatch: tt.maxBatch, Deliver: d.deliver, Log: quiet})
				p := newPublisher(j)
				// Every publisher publishes before the writer starts, so the
				// number of transactions does not depend on timing.
				var published, done sync.WaitGroup
				errs := make(chan error, tt.publishers)
				for i := range tt.publishers {
					published.Add(1)
					done.Add(1)
					go func() {
						defer done.Done()
						seq := p.say(fmt.Sprintf("cs-%d", i), tt.perPublish)
						published.Done()
						errs <- j.Wait(context.Background(), seq)
					}()
				}
				published.Wait()
				start(t, j)
				done.Wait()
				close(errs)
				for err := range errs {
					if err != nil {
						t.Errorf("Wait() = %v; want nil", err)
					}
				}
				total := tt.publishers * tt.perPublish
				d.awaitSeq(uint64(total)) // Deliver runs just after the waiters are released
				if got := j.commits.Load(); got != tt.wantCommits {
					t.Errorf("%d events in %d Publish calls took %d transactions; want %d",
						total, tt.publishers, got, tt.wantCommits)
				}
				if got := d.count(); got != total {
					t.Errorf("Deliver got %d events; want %d", got, total)
				}
				if got := countRows(t, b.DB, "case_events"); got != total {
					t.Errorf("case_events has %d rows; want %d", got, total)
				}
				if got := j.Committed(); got != uint64(total) {
					t.Errorf("Committed() = %d; want %d", got, total)
				}
			})
		}
	})
}

// Deliver runs beside the writer: while it is stuck on one batch, later
// batches still commit and their Wait calls return; it then gets every
// batch in order, and what was committed is delivered before Run returns.
func TestCommitsDoNotWaitForDelivery(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		mustExec(t, b.DB, `DELETE FROM case_events`)
		d := newDelivered(t)
		entered, gate := make(chan struct{}), make(chan struct{})
		var once sync.Once
		j := NewJournal(b.DB, Options{Log: quiet, Deliver: func(evs []router.Event) {
			once.Do(func() { close(entered); <-gate }) // the first batch sticks
			d.deliver(evs)
		}})
		p := newPublisher(j)
		run := start(t, j)
		if err := j.Wait(context.Background(), p.say("cs-1", 1)); err != nil {
			t.Fatal(err)
		}
		select {
		case <-entered:
		case <-time.After(guard):
			t.Fatal("Deliver was never called")
		}
		var last uint64
		for i := range 5 {
			last = p.say(fmt.Sprintf("cs-%d", i+2), 2)
			if err := j.Wait(context.Background(), last); err != nil {
				t.Fatalf("Wait with Deliver stuck = %v; want nil", err)
			}
		}
		if n := d.count(); n != 0 {
			t.Errorf("Deliver finished %d events while stuck on the first", n)
		}
		close(gate)
		d.awaitSeq(last)
		if got := d.count(); got != int(last) {
			t.Errorf("Deliver got %d events; want %d", got, last)
		}
		// Delivered before Run returns: publish, commit, stop at once.
		last = p.say("cs-last", 1)
		if err := j.Wait(context.Background(), last); err != nil {
			t.Fatal(err)
		}
		if err := run.stop(t); err != nil {
			t.Fatal(err)
		}
		if got := d.count(); got != int(last) {
			t.Errorf("after Run returned Deliver had %d events; want %d", got, last)
		}
	})
}

// Many publishers against a running writer: every Wait returns once its
// event is committed, and Deliver sees each event once, in Seq order.
func TestConcurrentPublishersAreAllAcknowledged(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		const publishers, each = 16, 40
		d := newDelivered(t)
		j := NewJournal(b.DB, Options{Deliver: d.deliver, Log: quiet})
		start(t, j)
		p := newPublisher(j)
		var wg sync.WaitGroup
		var failed atomic.Int64
		for i := range publishers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range each {
					seq := p.say(fmt.Sprintf("cs-%d", i), 1)
					if err := j.Wait(context.Background(), seq); err != nil {
						t.Errorf("Wait(%d) = %v", seq, err)
						failed.Add(1)
					} else if c := j.Committed(); c < seq {
						t.Errorf("Wait(%d) returned with Committed() = %d", seq, c)
					}
				}
			}()
		}
		wg.Wait()
		const total = publishers * each
		d.awaitSeq(total)
		if got := d.count(); got != total {
			t.Errorf("Deliver got %d events; want %d", got, total)
		}
		if got := countRows(t, b.DB, "case_events"); got != total {
			t.Errorf("case_events has %d rows; want %d", got, total)
		}
		t.Logf("%d events in %d transactions", total, j.commits.Load())
	})
}

// A failed commit fails its waiters with ErrUnavailable and is retried;
// once the store is back the events commit exactly once and only then are
// they delivered.
func TestCommitFailureIsRetried(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		d := newDelivered(t)
		j := NewJournal(b.DB, Options{Deliver: d.deliver, Log: quiet})
		j.minBackoff, j.maxBackoff = time.Millisecond, 20*time.Millisecond
		attempts := make(chan error, 1024)
		j.attemptFailed = func(err error) {
			select {
			case attempts <- err:
			default:
			}
		}
		p := newPublisher(j)
		first := p.say("cs-ok", 2)
		r := start(t, j)
		if err := j.Wait(context.Background(), first); err != nil {
			t.Fatalf("Wait(%d) before the outage = %v", first, err)
		}
		d.awaitSeq(first) // Deliver runs beside the writer, a moment later

		endOutage := outage(t, b.DB)
		seq := p.say("cs-1", 3)
		if err := j.Wait(context.Background(), seq); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Wait(%d) during the outage = %v; want ErrUnavailable", seq, err)
		}
		// Published during the outage: joins the retried batch.
		seq = p.say("cs-2", 2)
		<-attempts
		<-attempts // at least one retry has failed too
		if got := d.count(); got != 2 {
			t.Fatalf("Deliver got %d events during the outage; want only the 2 committed before", got)
		}
		if got := j.Committed(); got != first {
			t.Errorf("Committed() = %d during the outage; want %d", got, first)
		}

		endOutage()
		d.awaitSeq(seq)
		if err := j.Wait(context.Background(), seq); err != nil {
			t.Errorf("Wait(%d) after recovery = %v; want nil", seq, err)
		}
		if got := countRows(t, b.DB, "case_events"); got != 7 {
			t.Errorf("case_events has %d rows after recovery; want 7 (each event once)", got)
		}
		if err := r.stop(t); err != nil {
			t.Errorf("Run() = %v; want nil", err)
		}
		if got := d.count(); got != 7 {
			t.Errorf("Deliver got %d events; want 7", got)
		}
	})
}

// Publish blocks the router when the writer has fallen too far behind, and
// nothing is lost or repeated once it catches up.
func TestBackpressureBoundsPendingEvents(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		d := newDelivered(t)
		j := NewJournal(b.DB, Options{MaxBatch: 2, Deliver: d.deliver, Log: quiet})
		j.maxPending = 2
		j.minBackoff, j.maxBackoff = time.Millisecond, 5*time.Millisecond
		attempts := make(chan error, 1024)
		j.attemptFailed = func(err error) {
			select {
			case attempts <- err:
			default:
			}
		}
		endOutage := outage(t, b.DB)
		start(t, j)
		p := newPublisher(j)
		p.say("cs-first", 1)
		<-attempts // the writer is running (and failing)
		const total = 21
		var returned atomic.Int64
		go func() {
			for i := range total - 1 {
				p.say(fmt.Sprintf("cs-%d", i), 1)
				returned.Add(1)
			}
		}()
		for range 5 {
			<-attempts
		}
		// The writer holds MaxBatch events and MaxPending more wait: any
		// further Publish blocks.
		if got := 1 + returned.Load(); got > 4 {
			t.Errorf("%d events were accepted while the store was down; want at most 4", got)
		}
		endOutage()
		d.awaitSeq(total)
		if got := countRows(t, b.DB, "case_events"); got != total {
			t.Errorf("case_events has %d rows; want %d", got, total)
		}
	})
}

func TestWaitGivesUp(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		tests := []struct {
			name    string
			prepare func(j *Journal) (context.Context, uint64)
			wantErr error // nil: Wait must succeed
		}{
			{"seq 0 returns at once", func(j *Journal) (context.Context, uint64) {
				return context.Background(), 0
			}, nil},
			{"ack timeout", func(j *Journal) (context.Context, uint64) {
				return context.Background(), newPublisher(j).say("cs", 1)
			}, ErrUnavailable},
			{"caller gives up", func(j *Journal) (context.Context, uint64) {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				return ctx, newPublisher(j).say("cs", 1)
			}, context.Canceled},
			{"journal stopped", func(j *Journal) (context.Context, uint64) {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				if err := j.Run(ctx); err != nil {
					panic(err)
				}
				return context.Background(), 1
			}, ErrUnavailable},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				// The writer never runs (except to stop): nothing commits.
				j := NewJournal(b.DB, Options{AckTimeout: 10 * time.Millisecond, Log: quiet})
				ctx, seq := tt.prepare(j)
				res := make(chan error, 1)
				go func() { res <- j.Wait(ctx, seq) }()
				select {
				case err := <-res:
					if !errors.Is(err, tt.wantErr) || (tt.wantErr != nil && !errors.Is(err, ErrUnavailable)) {
						t.Errorf("Wait(%d) = %v; want %v (and ErrUnavailable)", seq, err, tt.wantErr)
					}
				case <-time.After(guard):
					t.Fatalf("Wait(%d) did not return", seq)
				}
			})
		}
	})
}

// On shutdown Run commits and delivers what is pending before it returns;
// later events are refused rather than acknowledged.
func TestRunFlushesOnCancel(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		d := newDelivered(t)
		j := NewJournal(b.DB, Options{MaxBatch: 3, Deliver: d.deliver, Log: quiet})
		p := newPublisher(j)
		var last uint64
		for i := range 5 {
			last = p.say(fmt.Sprintf("cs-%d", i), 2)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // the context has ended before Run even looks
		if err := j.Run(ctx); err != nil {
			t.Fatalf("Run() = %v; want nil", err)
		}
		if got := j.Committed(); got != last {
			t.Errorf("Committed() after Run = %d; want %d", got, last)
		}
		if got := d.count(); got != 10 {
			t.Errorf("Deliver got %d events; want 10", got)
		}
		if got := countRows(t, b.DB, "case_events"); got != 10 {
			t.Errorf("case_events has %d rows; want 10", got)
		}
		late := p.say("cs-late", 1)
		if err := j.Wait(context.Background(), late); !errors.Is(err, ErrUnavailable) {
			t.Errorf("Wait(%d) after Run returned = %v; want ErrUnavailable", late, err)
		}
		if err := j.Run(context.Background()); err == nil {
			t.Errorf("second Run() = nil; want an error")
		}
	})
}

// A batch that fails only when it commits (a deferred constraint, checked
// at the end of the batch's statement) while publishers keep publishing:
// nothing is delivered or acknowledged until it can commit, then every
// event commits, in order, once. PostgreSQL only: SQLite cannot add a
// constraint to a table.
func TestCommitTimeFailureKeepsOrder(t *testing.T) {
	b := sqltest.Open(t, "postgres")
	d := newDelivered(t)
	j := NewJournal(b.DB, Options{Deliver: d.deliver, Log: quiet})
	j.minBackoff, j.maxBackoff = time.Millisecond, 10*time.Millisecond
	attempts := make(chan error, 1024)
	j.attemptFailed = func(err error) {
		select {
		case attempts <- err:
		default:
		}
	}
	// The publisher's events name cases that have no row: a deferred
	// foreign key fails them at the commit.
	mustExec(t, b.DB, `ALTER TABLE case_events ADD CONSTRAINT outage FOREIGN KEY (case_id)
		REFERENCES cases (id) DEFERRABLE INITIALLY DEFERRED NOT VALID`)
	start(t, j)
	p := newPublisher(j)
	const publishers, each = 8, 10
	var wg sync.WaitGroup
	var unavailable atomic.Int64
	for i := range publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				seq := p.say(fmt.Sprintf("cs-%d", i), 1)
				if err := j.Wait(context.Background(), seq); errors.Is(err, ErrUnavailable) {
					unavailable.Add(1)
				} else if err != nil {
					t.Errorf("Wait(%d) = %v; want ErrUnavailable", seq, err)
				}
			}
		}()
	}
	wg.Wait()
	if got := unavailable.Load(); got != publishers*each {
		t.Errorf("%d of %d Waits failed during the outage; want all", got, publishers*each)
	}
	if got := d.count(); got != 0 {
		t.Errorf("Deliver got %d events that never committed", got)
	}
	<-attempts
	mustExec(t, b.DB, `ALTER TABLE case_events DROP CONSTRAINT outage`)
	d.awaitSeq(publishers * each)
	if got := countRows(t, b.DB, "case_events"); got != publishers*each {
		t.Errorf("case_events has %d rows; want %d", got, publishers*each)
	}
}

// A store that stays down through shutdown: Run gives up flushing after its
// deadline, says so, and nobody is told their events are durable.
func TestRunGivesUpFlushingADeadStore(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		d := newDelivered(t)
		j := NewJournal(b.DB, Options{Deliver: d.deliver, Log: quiet})
		j.minBackoff, j.maxBackoff, j.flushTimeout = time.Millisecond, 5*time.Millisecond, 50*time.Millisecond
		attempts := make(chan error, 1024)
		j.attemptFailed = func(err error) {
			select {
			case attempts <- err:
			default:
			}
		}
		defer outage(t, b.DB)()
		r := start(t, j)
		seq := newPublisher(j).say("cs", 3)
		<-attempts
		if err := r.stop(t); err == nil {
			t.Errorf("Run() = nil with the store down; want the flush error")
		}
		if err := j.Wait(context.Background(), seq); !errors.Is(err, ErrUnavailable) {
			t.Errorf("Wait(%d) after a failed flush = %v; want ErrUnavailable", seq, err)
		}
		if got := d.count(); got != 0 {
			t.Errorf("Deliver got %d events that never committed", got)
		}
	})
}

// Receivers added with DeliverTo hear every committed batch after
// Options.Deliver, in order; after Run has started they are refused.
func TestDeliverToBeforeRun(t *testing.T) {
	db := sqltest.Open(t, "sqlite").DB
	var mu sync.Mutex
	var heard []string
	hear := func(who string) func([]router.Event) {
		return func(evs []router.Event) {
			mu.Lock()
			defer mu.Unlock()
			heard = append(heard, who)
		}
	}
	j := NewJournal(db, Options{Log: quiet, Deliver: hear("options")})
	if err := j.DeliverTo(hear("sockets"), hear("stats")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- j.Run(ctx) }()
	j.Publish([]router.Event{{Seq: 1, Type: router.EventQueueChanged, Queue: "q"}})
	wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer wcancel()
	if err := j.Wait(wctx, 1); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(heard, ",") != "options,sockets,stats" {
		t.Errorf("heard %v; want options, sockets, stats once each", heard)
	}
	if err := j.DeliverTo(hear("late")); err == nil {
		t.Error("DeliverTo after Run was taken")
	}
}
