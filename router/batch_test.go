package router

import (
	"errors"
	"fmt"
	"sync"
	"testing"
)

// TestConcurrentWritesAreIsolated runs many writers at once, so their
// changes are committed in groups (see Router.write), with some changes
// failing (duplicate callers, stale offers) and some panicking. Every failed
// change must leave no trace, every other change must commit, and the Sink
// must see every committed event once, in Seq order, exactly as each caller
// got them back.
func TestConcurrentWritesAreIsolated(t *testing.T) {
	var queues []QueueConfig
	var agents []AgentProfile
	for q := range 4 {
		queues = append(queues, queue(fmt.Sprint("q", q)))
	}
	for a := range 8 {
		agents = append(agents, agent(fmt.Sprint("a", a), "q0", "q1", "q2", "q3"))
	}
	f := newFixture(t, queues, agents)
	for a := range 8 {
		f.online(fmt.Sprint("a", a))
	}
	start := len(f.sink.events)

	var mu sync.Mutex
	returned := map[uint64]Event{} // every event a caller got back, by Seq
	enqueued := map[string]bool{}  // contact ids Enqueue returned
	keep := func(evs []Event) {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range evs {
			if _, dup := returned[e.Seq]; dup {
				t.Errorf("two changes returned event seq %d", e.Seq)
			}
			returned[e.Seq] = e
		}
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 60 {
				// Callers repeat across goroutines: some enqueues are duplicates.
				req := EnqueueRequest{Channel: ChannelVoice, Queue: fmt.Sprint("q", i%4), Caller: Caller{ID: fmt.Sprint("c", (g*7+i)%40)}}
				c, evs, err := f.r.Enqueue(req)
				var dup *DuplicateContactError
				switch {
				case errors.As(err, &dup):
					if len(evs) != 0 {
						t.Errorf("failed enqueue returned %d events", len(evs))
					}
				case err != nil:
					t.Errorf("Enqueue = %v", err)
				default:
					mu.Lock()
					enqueued[c.ID] = true
					mu.Unlock()
					keep(evs)
				}
				if i%5 == 0 { // a change that panics half-way
					func() {
						defer func() {
							if p := recover(); p != "boom" {
								t.Errorf("recover() = %v; want boom", p)
							}
						}()
						_, _ = f.r.write(func(w *writer) error {
							if _, err := w.enqueueTxn(EnqueueRequest{Channel: ChannelChat, Queue: "q0",
								Caller: Caller{ID: fmt.Sprint("panic", g, i)}}); err != nil {
								return err
							}
							panic("boom")
						})
					}()
				}
				// Work the desk of one agent: accept (maybe stale) and end.
				desk, err := f.r.Desk(fmt.Sprint("a", (g+i)%8))
				if err != nil {
					t.Error(err)
					continue
				}
				for _, o := range desk.Offers {
					evs, err := f.r.Accept(o.Agent, o.ID)
					if errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict) || errors.Is(err, ErrForbidden) {
						continue // another goroutine got there first
					}
					if err != nil {
						t.Errorf("Accept = %v", err)
						continue
					}
					keep(evs)
					evs, err = f.r.End(o.Agent, o.ContactID, "resolved", "")
					if err != nil {
						t.Errorf("End = %v", err)
						continue
					}
					keep(evs)
				}
			}
		})
	}
	wg.Wait()

	published := f.sink.events[start:]
	created := map[string]bool{}
	for i, e := range published {
		if i > 0 && e.Seq != published[i-1].Seq+1 {
			t.Fatalf("sink event %d has seq %d after %d", i, e.Seq, published[i-1].Seq)
		}
		switch e.Type {
		case EventContactCreated:
			if !enqueued[e.ContactID] {
				t.Errorf("contact_created for %s, which no successful Enqueue returned", e.ContactID)
			}
			created[e.ContactID] = true
		case EventEnded, EventAbandoned:
			created[e.ContactID] = false
		}
		if r, ok := returned[e.Seq]; ok && (r.Type != e.Type || r.ContactID != e.ContactID) {
			t.Errorf("seq %d: caller got %s %s, sink got %s %s", e.Seq, r.Type, r.ContactID, e.Type, e.ContactID)
		}
	}
	for seq := range returned {
		if seq <= published[0].Seq-1 || seq > published[len(published)-1].Seq {
			t.Errorf("caller got event seq %d the sink never saw", seq)
		}
	}
	if len(created) != len(enqueued) {
		t.Errorf("%d contacts created; Enqueue succeeded %d times", len(created), len(enqueued))
	}
	checkInvariants(t, f.r, created)
}
