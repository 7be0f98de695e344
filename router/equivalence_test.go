package router

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"testing"

	"tellonce/clocktest"
)

// TestRebuiltRouterDecidesAsTheOriginal restores a router mid-run from its
// rows — memdb as it stands, the matching state rebuilt from it as Restore
// does (rebuildMatching) — and drives it and the uninterrupted original
// with the same calls at the same times: every call must give the same
// events, offers (which agent gets which contact) among them, for the
// next hundred routing decisions and more.
func TestRebuiltRouterDecidesAsTheOriginal(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			a := newRandomRun(t, seed)
			for step := range 400 + 150*int(seed) { // mid-run: lines, offers, holds and timers in flight
				a.checkedStep(step)
			}
			b := a.rebuilt()
			// From here on both draw the same random calls.
			a.rng = rand.New(rand.NewPCG(seed, 1))
			b.rng = rand.New(rand.NewPCG(seed, 1))
			decisions := 0
			for step := 0; decisions < 100; step++ {
				if step > 3000 {
					t.Fatalf("only %d decisions in %d steps", decisions, step)
				}
				ea := a.checkedStep(step)
				eb := b.checkedStep(step)
				if !reflect.DeepEqual(ea, eb) {
					t.Fatalf("step %d: the rebuilt router's events differ:\noriginal: %+v\nrebuilt:  %+v", step, ea, eb)
				}
				for _, e := range ea {
					if e.Type == EventOffered {
						decisions++
					}
				}
			}
		})
	}
}

// rebuilt is a copy of the run on a new router made from the old one's
// rows the way Restore makes one: memdb as it stands (a snapshot is a
// separate database from then on) and the matching state rebuilt from it,
// with the timers, which are no rows, taken over.
// Clock, id counters and sequences go on from where the original's are.
func (run *randomRun) rebuilt() *randomRun {
	old := run.f
	f := &fixture{t: old.t, ids: old.ids.clone(), clock: clocktest.New(old.clock.Now()), sink: &recSink{}}
	r, err := New(Config{Clock: f.clock, Sink: f.sink, NewID: f.ids.next})
	if err != nil {
		run.t.Fatal(err)
	}
	f.r = r
	old.r.mu.Lock()
	old.r.publishOpen()
	db := old.r.db.Load().Snapshot()
	r.seq, r.eventSeq = old.r.seq, old.r.eventSeq
	old.r.mu.Unlock()
	r.mu.Lock()
	r.install(db, rebuildMatching(db.Txn(false)).withTimers(old.r.match))
	r.mu.Unlock()
	return &randomRun{t: run.t, f: f, created: maps.Clone(run.created), cases: maps.Clone(run.cases), seen: map[string]int{}}
}

// TestRestoreMidRunKeepsInvariants restores a mid-run snapshot through the
// public path (every agent disconnected, as after a restart) and goes on
// with random calls: the rebuilt matching state agrees with the rows after
// every one of them.
func TestRestoreMidRunKeepsInvariants(t *testing.T) {
	a := newRandomRun(t, 7)
	for step := range 600 {
		a.checkedStep(step)
	}
	snap, err := a.f.r.Snapshot()
	a.f.must(err)
	b := a.rebuilt() // a fresh router with the original's clock and ids
	b.f.must(b.f.r.Restore(snap))
	b.rng = rand.New(rand.NewPCG(7, 2))
	for step := range 600 {
		b.checkedStep(step)
	}
}
