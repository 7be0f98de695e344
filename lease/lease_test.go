package lease

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"tellonce/clocktest"
	tsql "tellonce/sql"
	"tellonce/sql/sqltest"
)

const (
	renew = 100 * time.Millisecond
	ttl   = 600 * time.Millisecond
	guard = 10 * time.Second
)

func schemaVersion(t *testing.T) int {
	t.Helper()
	ms, err := tsql.Migrations(tsql.Postgres)
	if err != nil {
		t.Fatal(err)
	}
	return len(ms)
}

func elector(t *testing.T, db *tsql.DB, node string) *Elector {
	t.Helper()
	return electorWith(t, db, node, renew, ttl)
}

// electorWith is an elector with its own renewal interval and TTL: a test
// whose point is not how fast a lease moves gives the database more time
// than a loaded machine may take.
func electorWith(t *testing.T, db *tsql.DB, node string, renew, ttl time.Duration) *Elector {
	t.Helper()
	e, err := New(db, Config{NodeID: node, Address: "127.0.0.1:" + node, Renew: renew, TTL: ttl,
		SchemaVersion: schemaVersion(t), Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// node runs an elector whose terms last until their context ends (or
// fail when told), recording each term's epoch.
type node struct {
	e      *Elector
	cancel context.CancelFunc
	done   chan error
	mu     sync.Mutex
	terms  []Term
	live   bool
}

func run(t *testing.T, e *Elector) *node {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	n := &node{e: e, cancel: cancel, done: make(chan error, 1)}
	go func() {
		n.done <- e.Run(ctx, func(ctx context.Context, term Term) error {
			n.mu.Lock()
			n.terms, n.live = append(n.terms, term), true
			n.mu.Unlock()
			<-ctx.Done()
			n.mu.Lock()
			n.live = false
			n.mu.Unlock()
			return nil
		})
	}()
	t.Cleanup(func() { n.stop(t) })
	return n
}

func (n *node) leading() (Term, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.live {
		return Term{}, false
	}
	return n.terms[len(n.terms)-1], true
}

func (n *node) stop(t *testing.T) error {
	n.cancel()
	select {
	case err := <-n.done:
		n.done <- err
		return err
	case <-time.After(guard):
		t.Fatal("Run did not return")
		return nil
	}
}

func fence(t *testing.T, db *tsql.DB, term Term) error {
	t.Helper()
	var ferr error
	err := db.InTx(context.Background(), func(tx *sqlx.Tx) error {
		ferr = term.Fence(context.Background(), tx)
		return ferr
	})
	if ferr == nil && err != nil {
		t.Fatal(err)
	}
	return ferr
}

// One node leads; the other stands by, knows where the leader is, and
// takes over with the next epoch only after the leader is gone; the old
// term's fence then refuses.
func TestStandbyTakesOverWithTheNextEpoch(t *testing.T) {
	db := sqltest.Open(t, "postgres").DB
	a := run(t, elector(t, db, "a"))
	clocktest.Eventually(t, "a leads", guard, func() bool { _, ok := a.leading(); return ok })
	b := run(t, elector(t, db, "b"))
	clocktest.Eventually(t, "b sees a as leader", guard, func() bool { return b.e.Status().Leader == "127.0.0.1:a" })
	if _, ok := b.leading(); ok || b.e.Status().Role != RoleStandby {
		t.Fatal("b leads while a's lease is live")
	}
	// b knows when a's lease would run out unrenewed: at most a TTL on.
	if st := b.e.Status(); !st.Expires.After(time.Now().Add(-time.Second)) || st.Expires.After(time.Now().Add(b.e.cfg.TTL+time.Second)) {
		t.Errorf("b expects a's lease to run out at %v; want within a TTL (%s) of now, %v", st.Expires, b.e.cfg.TTL, time.Now())
	}
	first, _ := a.leading()
	if err := fence(t, db, first); err != nil {
		t.Fatalf("fence of the live term = %v", err)
	}
	if !b.e.IsPeer("127.0.0.1") {
		t.Error("b does not count a's address as a peer's")
	}
	a.stop(t) // SIGTERM: drains, releases
	clocktest.Eventually(t, "b leads", guard, func() bool { _, ok := b.leading(); return ok })
	second, _ := b.leading()
	if second.Epoch != first.Epoch+1 {
		t.Errorf("b's epoch = %d; want %d", second.Epoch, first.Epoch+1)
	}
	if err := fence(t, db, first); !errors.Is(err, ErrDeposed) {
		t.Errorf("fence of the deposed term = %v; want ErrDeposed", err)
	}
	if st := b.e.Status(); st.Role != RoleLeader || st.Epoch != second.Epoch {
		t.Errorf("b's status = %+v", st)
	}
}

// A leader that cannot renew steps down before its lease runs out; the
// lease then expires and the other node takes it.
func TestLeaderThatCannotRenewStepsDown(t *testing.T) {
	db := sqltest.Open(t, "postgres").DB
	a := run(t, elector(t, db, "a"))
	clocktest.Eventually(t, "a leads", guard, func() bool { _, ok := a.leading(); return ok })
	term, _ := a.leading()
	// Renewals fail while the lease row is locked by someone else.
	tx, err := db.BeginTxx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`SELECT 1 FROM leader_lease WHERE id = 1 FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	clocktest.Eventually(t, "a steps down", guard, func() bool { _, ok := a.leading(); return !ok })
	if d := time.Since(began); d >= ttl {
		t.Errorf("a stepped down %s after its last renewal; want before the lease (%s) ran out", d, ttl)
	}
	if a.e.Status().Role != RoleStandby {
		t.Errorf("a's role = %s after stepping down", a.e.Status().Role)
	}
	tx.Rollback()
	b := run(t, elector(t, db, "b"))
	clocktest.Eventually(t, "someone leads again", guard, func() bool {
		_, oka := a.leading()
		_, okb := b.leading()
		return oka || okb
	})
	if err := fence(t, db, term); !errors.Is(err, ErrDeposed) {
		t.Errorf("fence of the term that stepped down = %v; want ErrDeposed", err)
	}
}

// A lease row edited back to a past epoch is refused by the database, and
// the next leader's epoch is above every one seen anyway.
func TestPastEpochIsNeverAccepted(t *testing.T) {
	db := sqltest.Open(t, "postgres").DB
	a := run(t, elector(t, db, "a"))
	clocktest.Eventually(t, "a leads", guard, func() bool { _, ok := a.leading(); return ok })
	term, _ := a.leading()
	_, err := db.Exec(`UPDATE leader_lease SET epoch = epoch - 1`)
	if err == nil || !strings.Contains(err.Error(), "may not go back") {
		t.Fatalf("editing the epoch back = %v; want it refused", err)
	}
	// Even with the guard out of the way, a past epoch never leads again.
	if _, err := db.Exec(`ALTER TABLE leader_lease DISABLE TRIGGER leader_lease_epoch_grows`); err != nil {
		t.Fatal(err)
	}
	a.stop(t)
	if _, err := db.Exec(`UPDATE leader_lease SET epoch = 1, expires_at = clock_timestamp() + interval '1 hour'`); err != nil {
		t.Fatal(err)
	}
	b := elector(t, db, "b")
	b.maxEpoch = term.Epoch + 5 // b had seen a later epoch before the edit
	nb := run(t, b)
	clocktest.Eventually(t, "b leads despite the edited row", guard, func() bool { _, ok := nb.leading(); return ok })
	if got, _ := nb.leading(); got.Epoch != term.Epoch+6 {
		t.Errorf("b's epoch = %d; want %d, above every epoch it saw", got.Epoch, term.Epoch+6)
	}
}

// Two live processes with one node id: the second refuses to start.
//
// The second waits out a heartbeat older than the TTL (a dead process of
// the same node) before it refuses, and takes the id if the first's
// heartbeat is that old: the TTL here is long enough that a loaded
// machine does not hold the first's heartbeats back that long.
func TestDuplicateNodeIDRefuses(t *testing.T) {
	const ttl = 3 * time.Second
	db := sqltest.Open(t, "postgres").DB
	a := run(t, electorWith(t, db, "a", renew, ttl))
	clocktest.Eventually(t, "a leads", guard, func() bool { _, ok := a.leading(); return ok })
	second := electorWith(t, db, "a", renew, ttl)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- second.Run(ctx, func(context.Context, Term) error { return nil }) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), `--node-id "a"`) {
			t.Fatalf("a second node a: Run() = %v; want a refusal naming --node-id", err)
		}
	case <-time.After(ttl + guard):
		t.Fatal("a second node a is still running; want it to refuse the id of a live node")
	}
}

// A node whose binary knows another schema version than the database's
// does not lead.
func TestOtherSchemaVersionRefusesToLead(t *testing.T) {
	db := sqltest.Open(t, "postgres").DB
	e := elector(t, db, "old")
	e.cfg.SchemaVersion--
	n := run(t, e)
	clocktest.Eventually(t, "the refusal is logged", guard, func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return strings.Contains(e.warned, "schema version")
	})
	if _, ok := n.leading(); ok {
		t.Error("a node of another schema version leads")
	}
}

func TestConfigNamesTheBadField(t *testing.T) {
	good := Config{NodeID: "a", Address: "h:1", Renew: time.Second, TTL: 5 * time.Second}
	for _, tt := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.NodeID = "" }, "--node-id"},
		{func(c *Config) { c.Address = "nohost" }, "--advertise"},
		{func(c *Config) { c.Renew = time.Millisecond }, "--lease-renew"},
		{func(c *Config) { c.TTL = 2 * time.Second }, "--lease-ttl"},
	} {
		c := good
		tt.edit(&c)
		if err := c.Check(); err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("Check() = %v; want an error naming %s", err, tt.want)
		}
	}
	if err := good.Check(); err != nil {
		t.Errorf("Check() of the defaults = %v", err)
	}
}

// A term whose lead fails (a restore that could not read the database)
// does not end Run: the node hands the lease on at once, stands by while
// another node leads, and leads again, with a later epoch, once it may.
func TestFailedTermStandsByAndTriesAgain(t *testing.T) {
	db := sqltest.Open(t, "postgres").DB
	a := run(t, elector(t, db, "a"))
	clocktest.Eventually(t, "a leads", guard, func() bool { _, ok := a.leading(); return ok })
	first, _ := a.leading()

	// b's first term fails as a restore would; its later ones lead.
	b := elector(t, db, "b")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var bTerms []Term
	bLive := false
	done := make(chan error, 1)
	go func() {
		done <- b.Run(ctx, func(ctx context.Context, term Term) error {
			mu.Lock()
			bTerms = append(bTerms, term)
			failing := len(bTerms) == 1
			if !failing {
				bLive = true
			}
			mu.Unlock()
			if failing {
				return errors.New("restore the router: load open cases: the database went away")
			}
			<-ctx.Done()
			mu.Lock()
			bLive = false
			mu.Unlock()
			return nil
		})
	}()
	terms := func() int { mu.Lock(); defer mu.Unlock(); return len(bTerms) }

	a.stop(t) // b takes the lease and fails its first term
	clocktest.Eventually(t, "b's first term fails", guard, func() bool { return terms() >= 1 })
	a = run(t, elector(t, db, "a2"))
	clocktest.Eventually(t, "the other node leads after b's failed term", guard, func() bool {
		_, ok := a.leading()
		return ok || terms() >= 2
	})
	select {
	case err := <-done:
		t.Fatalf("b's Run returned %v after a failed term; want it to stand by", err)
	default:
	}
	if got, ok := a.leading(); ok {
		if got.Epoch != first.Epoch+2 {
			t.Errorf("a2's epoch = %d; want %d, after b's failed term %d", got.Epoch, first.Epoch+2, first.Epoch+1)
		}
		clocktest.Eventually(t, "b stands by, knowing the leader", guard, func() bool {
			st := b.Status()
			return st.Role == RoleStandby && st.Leader == "127.0.0.1:a2"
		})
		a.stop(t)
	}
	clocktest.Eventually(t, "b leads again", guard, func() bool { mu.Lock(); defer mu.Unlock(); return bLive })
	mu.Lock()
	last := bTerms[len(bTerms)-1]
	mu.Unlock()
	if last.Epoch <= first.Epoch+1 {
		t.Errorf("b leads again with epoch %d; want one above its failed term's %d", last.Epoch, first.Epoch+1)
	}
	if st := b.Status(); st.Role != RoleLeader || st.Epoch != last.Epoch {
		t.Errorf("b's status = %+v; want leader at epoch %d", st, last.Epoch)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("b's Run = %v; want nil on its context's end", err)
		}
	case <-time.After(guard):
		t.Fatal("b's Run did not return")
	}
}

func TestFailedTermPauseDoublesUpToEightLeases(t *testing.T) {
	e := &Elector{cfg: Config{TTL: time.Second}}
	p := time.Duration(0)
	var got []time.Duration
	for range 6 {
		p = e.failedTermPause(p, 10*time.Millisecond)
		got = append(got, p)
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second, 8 * time.Second}
	if !slices.Equal(got, want) {
		t.Errorf("pauses = %v; want %v", got, want)
	}
	if p := e.failedTermPause(8*time.Second, 9*time.Second); p != time.Second {
		t.Errorf("after a term that lasted longer than the longest pause: %s; want one lease", p)
	}
}

// A renewal slower than --lease-renew (a busy database, or a leader busy
// restoring) still counts while it ends before the step-down deadline:
// the leader keeps its term.
//
// The lease is longer than the other tests' (ten renewals, not six): a
// renewal's own sleep leaves nearly two seconds to the step-down deadline,
// which a loaded machine does not spend on one UPDATE, where it could spend
// the third of a second the shorter lease left.
func TestSlowRenewalsKeepTheLease(t *testing.T) {
	const (
		renew = 250 * time.Millisecond
		ttl   = 10 * renew
	)
	db := sqltest.Open(t, "postgres").DB
	a := run(t, electorWith(t, db, "a", renew, ttl))
	clocktest.Eventually(t, "a leads", guard, func() bool { _, ok := a.leading(); return ok })
	term, _ := a.leading()
	// Every renewal now takes one and a half renewals.
	if _, err := db.Exec(`CREATE FUNCTION slow_renewal() RETURNS trigger LANGUAGE plpgsql AS
		$$ BEGIN PERFORM pg_sleep(0.375); RETURN NEW; END $$`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TRIGGER slow_renewal BEFORE UPDATE ON leader_lease FOR EACH ROW EXECUTE FUNCTION slow_renewal()`); err != nil {
		t.Fatal(err)
	}
	ok := a.e.metrics.renewals.WithLabelValues("ok")
	from := counted(t, ok)
	// Fourteen slow renewals (5.25 s at least) span more than the
	// step-down deadline (ttl-renew, 2.25 s) twice over.
	clocktest.Eventually(t, "fourteen slow renewals", 4*guard, func() bool { return counted(t, ok) >= from+14 })
	if got, leading := a.leading(); !leading || got.Epoch != term.Epoch {
		t.Errorf("a's term after slow renewals: %+v, leading %v; want it to keep epoch %d", got, leading, term.Epoch)
	}
	if n := counted(t, a.e.metrics.renewals.WithLabelValues("error")); n > 0 {
		t.Errorf("%v renewals failed; want none (each is slow, none is too slow)", n)
	}
}

func counted(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// A journal commit in flight (its fence taken, not yet committed) lets the
// leader renew at once, and holds off a takeover until it ends: renewals
// never queue behind the leader's own commits, and a deposed leader's
// commit still finishes before the next epoch begins.
//
// Renewals here are slower and the lease longer than the other tests':
// the fenced transaction may stay idle for one renewal before the test
// lifts that bound, and the leader must not step down under a loaded
// machine while the test counts its renewals.
func TestFenceHoldsOffTakeoversNotRenewals(t *testing.T) {
	const (
		renew = 250 * time.Millisecond
		ttl   = 10 * renew
	)
	db := sqltest.Open(t, "postgres").DB
	a := run(t, electorWith(t, db, "a", renew, ttl))
	clocktest.Eventually(t, "a leads", guard, func() bool { _, ok := a.leading(); return ok })
	term, _ := a.leading()
	ctx := context.Background()
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if err := term.Fence(ctx, tx); err != nil {
		t.Fatal(err)
	}
	// Held open longer than the fence lets an idle transaction live.
	if _, err := tx.Exec(`SELECT set_config('idle_in_transaction_session_timeout', '0', true)`); err != nil {
		t.Fatal(err)
	}
	// The term's own renewals go on while the commit is open.
	ok := a.e.metrics.renewals.WithLabelValues("ok")
	from := counted(t, ok)
	clocktest.Eventually(t, "a renews with a commit open", guard, func() bool { return counted(t, ok) >= from+2 })
	if held, err := a.e.renew(ctx, term.Epoch, guard); !held || err != nil {
		t.Fatalf("a renewal with a commit open = %v, %v; want held", held, err)
	}

	// a lets the lease go (as if deposed); b's takeover waits for the
	// open commit.
	a.stop(t)
	took := takeoverWaiting(t, db, renew, ttl)
	select {
	case epoch := <-took:
		t.Fatalf("b took epoch %d while a commit fenced with %d was open", epoch, term.Epoch)
	default:
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	select {
	case epoch := <-took:
		if epoch != term.Epoch+1 {
			t.Errorf("b took epoch %d; want %d", epoch, term.Epoch+1)
		}
	case <-time.After(guard):
		t.Fatal("b did not take the lease after the commit ended")
	}
}

// FenceQuery, the fence as part of a commit's own statement, yields a row
// while the term's lease is current and none once another node took it;
// while a transaction holds what it yielded, a takeover waits, as it
// waits for Fence.
func TestFenceQueryYieldsARowOnlyForTheCurrentTerm(t *testing.T) {
	const (
		renew = 250 * time.Millisecond
		ttl   = 10 * renew
	)
	db := sqltest.Open(t, "postgres").DB
	a := run(t, electorWith(t, db, "a", renew, ttl))
	clocktest.Eventually(t, "a leads", guard, func() bool { _, ok := a.leading(); return ok })
	term, _ := a.leading()
	ctx := context.Background()
	q, args := term.FenceQuery(1)
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var rows int
	if err := tx.GetContext(ctx, &rows, `SELECT count(*) FROM (`+q+`) f`, args...); err != nil || rows != 1 {
		t.Fatalf("FenceQuery while a leads: %d rows, %v; want 1", rows, err)
	}

	a.stop(t)
	took := takeoverWaiting(t, db, renew, ttl)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	select {
	case epoch := <-took:
		if epoch != term.Epoch+1 {
			t.Fatalf("b took epoch %d; want %d", epoch, term.Epoch+1)
		}
	case <-time.After(guard):
		t.Fatal("b did not take the lease after the commit ended")
	}
	if err := db.GetContext(ctx, &rows, `SELECT count(*) FROM (`+q+`) f`, args...); err != nil || rows != 0 {
		t.Errorf("FenceQuery after b took over: %d rows, %v; want none", rows, err)
	}
}

// takeoverWaiting starts a takeover by a new elector "b" and returns once
// it waits on the lease row's lock; its epoch comes on the channel when
// it takes the lease.
func takeoverWaiting(t *testing.T, db *tsql.DB, renew, ttl time.Duration) <-chan int64 {
	t.Helper()
	b := electorWith(t, db, "b", renew, ttl)
	took := make(chan int64, 1)
	go func() { epoch, _ := b.tryAcquire(context.Background(), true); took <- epoch }()
	clocktest.Eventually(t, "b's takeover waits on the row lock", guard, func() bool {
		var waiting int
		if err := db.Get(&waiting, `SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%FOR UPDATE%'`); err != nil {
			t.Fatal(err)
		}
		return waiting > 0
	})
	return took
}
