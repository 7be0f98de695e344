package router

import (
	"errors"
	"testing"
	"time"
)

// TestAgingOvertakesHigherPriorities: with aging, a priority-0 contact
// gains a step per aging of wait, so a stream of priority-2 arrivals stops
// passing it exactly 2 × aging after it arrived — and not before.
func TestAgingOvertakesHigherPriorities(t *testing.T) {
	for _, aging := range []time.Duration{0, 30 * time.Second, time.Minute} {
		t.Run(aging.String(), func(t *testing.T) {
			f := newFixture(t, []QueueConfig{queue("q", func(q *QueueConfig) { q.Aging = aging })}, nil)
			low := f.enqueue("q", "low")
			start := f.clock.Now()
			const step, arrivals = 10 * time.Second, 40
			ahead := 0 // urgent arrivals that must stay ahead of low
			for i := 1; i <= arrivals; i++ {
				f.clock.Set(start.Add(time.Duration(i) * step))
				// Ties go to the earlier arrival: low.
				if aging == 0 || time.Duration(i)*step < 2*aging {
					ahead++
				}
				f.enqueue("q", "urgent-"+time.Duration(i).String(), func(r *EnqueueRequest) { r.Priority = 2 })
				pos, err := f.r.Position(low.ID)
				f.must(err)
				if pos != ahead+1 {
					t.Fatalf("after %v of urgent arrivals: low is at %d; want %d", time.Duration(i)*step, pos, ahead+1)
				}
			}
		})
	}
}

// TestAgingChangeReranksTheLine: turning aging on reorders who waits now.
func TestAgingChangeReranksTheLine(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q")}, nil)
	low := f.enqueue("q", "low")
	f.clock.Advance(time.Minute)
	f.enqueue("q", "urgent", func(r *EnqueueRequest) { r.Priority = 1 })
	if pos, _ := f.r.Position(low.ID); pos != 2 {
		t.Fatalf("without aging low is at %d; want 2", pos)
	}
	_, err := f.r.UpsertQueue(queue("q", func(q *QueueConfig) { q.Aging = 30 * time.Second }))
	f.must(err)
	if pos, _ := f.r.Position(low.ID); pos != 1 {
		t.Fatalf("with 30s aging low, a minute older, is at %d; want 1", pos)
	}
}

// hoursAt is open from open until close each day (UTC), a stand-in for
// schedule.Schedule.
type hoursAt struct{ open, close time.Duration }

func (h hoursAt) Open(t time.Time) bool {
	d := t.Sub(t.Truncate(24 * time.Hour))
	return d >= h.open && d < h.close
}

func (hoursAt) Location() *time.Location { return time.UTC }

func (h hoursAt) NextOpen(t time.Time) (time.Time, bool) {
	if h.Open(t) {
		return t, true
	}
	day := t.Truncate(24 * time.Hour)
	if t.Sub(day) >= h.close {
		day = day.Add(24 * time.Hour)
	}
	return day.Add(h.open), true
}

// TestClosedQueueRefusesNewContactsOnly: outside the hours (at the time
// of the call) a queue refuses new contacts with when it opens; who waits
// at closing time stays in line and is served; no callback slot lies in
// closed hours; a callback asked for while closed is booked for the
// opening.
func TestClosedQueueRefusesNewContactsOnly(t *testing.T) {
	// t0 is 09:00 UTC; the queue is open 08:00–10:00.
	f := newFixture(t, []QueueConfig{queue("q", func(q *QueueConfig) { q.Hours = hoursAt{8 * time.Hour, 10 * time.Hour} })},
		[]AgentProfile{agent("kim", "q")})
	waiting := f.enqueue("q", "early")
	// At 09:00 the next four hours' slots are offered only up to closing.
	slots, err := f.r.CallbackSlots("q", time.Minute)
	f.must(err)
	if len(slots) == 0 {
		t.Fatal("no callback slot before closing")
	}
	for _, s := range slots {
		if !s.Start.Before(t0.Add(time.Hour)) {
			t.Fatalf("slot %v offered while the queue is closed", s.Start)
		}
	}
	f.clock.Set(t0.Add(time.Hour)) // 10:00: closed
	_, _, err = f.r.Enqueue(EnqueueRequest{Channel: ChannelChat, Queue: "q", Caller: Caller{ID: "late"}})
	var ce *ClosedError
	if !errors.As(err, &ce) || !errors.Is(err, ErrClosed) || !ce.OpensAt.Equal(t0.Add(23*time.Hour)) {
		t.Fatalf("Enqueue when closed = %v; want ClosedError opening %v", err, t0.Add(23*time.Hour))
	}
	if _, _, err := f.r.Enqueue(EnqueueRequest{Channel: ChannelCallback, Queue: "q", Caller: Caller{ID: "late"},
		CallbackNumber: "01012345678", CallbackAt: t0.Add(22 * time.Hour), HandleTime: time.Minute}); !errors.As(err, &ce) {
		t.Fatalf("booking a callback at a closed hour = %v; want ClosedError", err)
	}
	// A callback asked for now is booked for the opening: it waits,
	// scheduled, and joins the line when the queue opens.
	cb, _, err := f.r.Enqueue(EnqueueRequest{Channel: ChannelCallback, Queue: "q", Caller: Caller{ID: "01099998888"},
		CallbackNumber: "01099998888"})
	if err != nil || cb.Status != StatusScheduled || !cb.Due.Equal(t0.Add(23*time.Hour)) {
		t.Fatalf("callback when closed = %s due %v, %v; want scheduled for the opening %v", cb.Status, cb.Due, err, t0.Add(23*time.Hour))
	}
	if pos, err := f.r.Position(waiting.ID); err != nil || pos != 1 {
		t.Fatalf("the contact waiting at closing time: position %d, %v; want still first", pos, err)
	}
	f.online("kim")
	c, err := f.r.Contact(waiting.ID)
	f.must(err)
	if c.Status != StatusOffered || c.Agent != "kim" {
		t.Fatalf("after closing the waiting contact is %s to %q; want offered to kim", c.Status, c.Agent)
	}
	f.clock.Set(t0.Add(23*time.Hour - time.Second))
	_, err = f.r.Tick()
	f.must(err)
	if c, _ := f.r.Contact(cb.ID); c.Status != StatusScheduled {
		t.Fatalf("a second before the opening the callback is %s; want scheduled", c.Status)
	}
	f.clock.Set(t0.Add(23 * time.Hour)) // 08:00 the next day: open
	_, err = f.r.Tick()
	f.must(err)
	if c, _ := f.r.Contact(cb.ID); c.Status == StatusScheduled {
		t.Fatalf("at the opening the callback is still %s; want in line", c.Status)
	}
}
