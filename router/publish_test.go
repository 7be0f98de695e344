package router

import (
	"errors"
	"fmt"
	"sync"
	"testing"
)

// unpublished says how many calls the open transaction holds.
func unpublished(r *Router) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.open == nil {
		return 0
	}
	return r.openCalls
}

func publications(r *Router) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.publications
}

// TestCallsShareATransactionUntilARead: calls that nobody reads after
// stay in one open memdb transaction; the first read publishes them all,
// and sees every call that returned before it.
func TestCallsShareATransactionUntilARead(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q")}, nil)
	before := publications(f.r)
	var ids []string
	for i := range 5 {
		c, _, err := f.r.Enqueue(EnqueueRequest{Channel: ChannelVoice, Queue: "q", Caller: Caller{ID: fmt.Sprint("c", i)}})
		f.must(err)
		ids = append(ids, c.ID)
	}
	if n, p := unpublished(f.r), publications(f.r); n != 5 || p != before {
		t.Fatalf("after 5 enqueues with no read: %d calls unpublished, %d publications; want 5 and none", n, p-before)
	}
	for i, id := range ids {
		c, err := f.r.Contact(id)
		if err != nil || c.Position != i+1 {
			t.Errorf("Contact(%s) = place %d, %v; want place %d", id, c.Position, err, i+1)
		}
	}
	if n, p := unpublished(f.r), publications(f.r); n != 0 || p != before+1 {
		t.Errorf("after the reads: %d calls unpublished, %d publications; want none and one", n, p-before)
	}
	// LiveCalls pairs its listing with the last event's seq, and must
	// list what that seq covers.
	f.enqueue("q", "c-last")
	live, _, err := f.r.LiveCalls()
	if err != nil || len(live) != 6 {
		t.Errorf("LiveCalls = %d calls, %v; want 6", len(live), err)
	}
}

// TestFailedCallKeepsTheUnpublishedCalls: a failed call aborts the open
// transaction, which held the calls before it that nobody has read yet;
// it is rebuilt from the writer's rows and published, so those calls are
// neither lost nor half there, and the failed call leaves nothing. A
// failure right after has nothing to rebuild.
func TestFailedCallKeepsTheUnpublishedCalls(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q")}, []AgentProfile{agent("kim", "q"), agent("lee", "q")})
	f.online("kim", "lee")
	created := map[string]bool{}
	for i := range 4 {
		c, _, err := f.r.Enqueue(EnqueueRequest{Channel: ChannelVoice, Queue: "q", Caller: Caller{ID: fmt.Sprint("c", i)}})
		f.must(err)
		created[c.ID] = true
	}
	// Offered to kim and lee; kim accepts. All of it unpublished.
	o := offerEvent(f.sink.events, "ct1")
	if o == nil {
		t.Fatal("ct1 was not offered")
	}
	_, err := f.r.Accept(o.Agent, o.OfferID)
	f.must(err)
	if n := unpublished(f.r); n < 5 {
		t.Fatalf("%d calls unpublished before the failure; want the 5 made", n)
	}
	before := publications(f.r)
	if _, err := f.r.Accept(o.Agent, o.OfferID); !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrConflict) {
		t.Fatalf("a second accept of the same offer = %v; want refused", err)
	}
	if n, p := unpublished(f.r), publications(f.r); n != 0 || p != before+1 {
		t.Errorf("after a failed call: %d calls unpublished, %d publications; want none and one", n, p-before)
	}
	// What was published is the calls before the failure, whole: the
	// rows agree with the matching state (a rebuild that dropped them
	// would not), and readers see them.
	checkState(t, f.r, created, false)
	if c := f.contact("ct1"); c.Status != StatusAssigned || c.Agent != o.Agent {
		t.Errorf("ct1 = %s with %q after the failure; want assigned to %s", c.Status, c.Agent, o.Agent)
	}
	if c := f.contact("ct3"); c.Status != StatusQueued || c.Position != 1 {
		t.Errorf("ct3 = %s at place %d; want queued at the front", c.Status, c.Position)
	}
	// A call, then two failures: the first rebuilds the one call, the
	// second finds nothing to rebuild.
	c, _, err := f.r.Enqueue(EnqueueRequest{Channel: ChannelVoice, Queue: "q", Caller: Caller{ID: "c9"}})
	f.must(err)
	created[c.ID] = true
	before = publications(f.r)
	var dup *DuplicateContactError
	for range 2 {
		if _, _, err := f.r.Enqueue(EnqueueRequest{Channel: ChannelVoice, Queue: "q", Caller: Caller{ID: "c9"}}); !errors.As(err, &dup) {
			t.Fatalf("a second enqueue of caller c9 = %v; want a duplicate", err)
		}
	}
	if p := publications(f.r); p != before+1 {
		t.Errorf("two failures after one call published %d times; want once", p-before)
	}
	checkInvariants(t, f.r, created)
	if v := f.contact(c.ID); v.Position != 3 {
		t.Errorf("%s at place %d after the failures; want 3", c.ID, v.Position)
	}
}

// TestPublicationIsBounded: with no reader at all, the open transaction
// is published every maxUnpublished calls; and a call that writes a
// queue or a membership (rows the rebuild after a failure cannot write
// again) is published at its group's end.
func TestPublicationIsBounded(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q")}, nil)
	before := publications(f.r)
	for i := range 2*maxUnpublished + 3 {
		_, _, err := f.r.Enqueue(EnqueueRequest{Channel: ChannelChat, Queue: "q", Caller: Caller{ID: fmt.Sprint("c", i)}})
		f.must(err)
	}
	if n, p := unpublished(f.r), publications(f.r); p != before+2 || n != 3 {
		t.Errorf("after %d calls: %d publications, %d calls unpublished; want 2 and 3", 2*maxUnpublished+3, p-before, n)
	}
	_, err := f.r.UpsertQueue(queue("q2"))
	f.must(err)
	if n := unpublished(f.r); n != 0 {
		t.Errorf("a queue's change left %d calls unpublished", n)
	}
	_, err = f.r.UpsertAgent(agent("kim", "q", "q2"))
	f.must(err)
	if n := unpublished(f.r); n != 0 {
		t.Errorf("an agent's new memberships left %d calls unpublished", n)
	}
}

// TestReadersSeeWhatReturnedWhileOthersWrite: readers running beside
// writers always find a contact whose enqueue has returned, with its
// place, and never a place that a snapshot could not give.
func TestReadersSeeWhatReturnedWhileOthersWrite(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q0"), queue("q1")}, nil)
	returned := make(chan string, 400)
	var mu sync.Mutex
	created := map[string]bool{}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 100 {
				c, _, err := f.r.Enqueue(EnqueueRequest{Channel: ChannelChat, Queue: fmt.Sprint("q", g%2),
					Caller: Caller{ID: fmt.Sprintf("w%d-%d", g, i)}})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				created[c.ID] = true
				mu.Unlock()
				returned <- c.ID
			}
		})
	}
	var readers sync.WaitGroup
	for range 2 {
		readers.Go(func() {
			for id := range returned {
				c, err := f.r.Contact(id)
				if err != nil || c.Position < 1 || c.Position > 200 {
					t.Errorf("Contact(%s) after its enqueue returned = place %d, %v", id, c.Position, err)
				}
			}
		})
	}
	wg.Wait()
	close(returned)
	readers.Wait()
	checkInvariants(t, f.r, created)
}
