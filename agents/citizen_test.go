package agents

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"tellonce/router"
)

// fixedEstimator estimates 30 seconds per place; past place 3 the light
// turns yellow.
type fixedEstimator struct{}

func (fixedEstimator) Estimate(queue string, position int) (int, string) {
	if position > 3 {
		return position * 30, "yellow"
	}
	return position * 30, "green"
}

func TestQueuedPositionsFollowTheLine(t *testing.T) {
	// Six waiting citizens take the one-read path (router.Waiting) that
	// long lines use; the estimator fills the wait and the light.
	e := newEnv(t, func(c *Config) { c.Estimator = fixedEstimator{} })
	var cits []*client
	for i := 1; i <= 6; i++ {
		cv := e.enqueue(router.EnqueueRequest{Caller: caller("c" + strconv.Itoa(i))})
		c := e.dial("/citizen/" + cv.ID)
		q := c.expectNext("queued")
		if q.num("position") != i || q.num("estimated_wait_s") != 30*i {
			t.Fatalf("citizen %d got %v; want position %d, %ds", i, q, i, 30*i)
		}
		if want := map[bool]string{true: "yellow", false: "green"}[i > 3]; q.str("light") != want {
			t.Errorf("citizen %d light %q; want %s", i, q.str("light"), want)
		}
		cits = append(cits, c)
	}
	e.available("kim") // takes the first three: kim handles three chats at once
	for i, c := range cits {
		want := max(i+1-3, 0) // 0: an agent is being offered the contact
		if q := c.expectNext("queued"); q.num("position") != want || q.num("estimated_wait_s") != 30*want {
			t.Errorf("citizen %d after kim went available: %v; want position %d", i+1, q, want)
		}
	}
}

// A line that moves many times while the position refresher rests is
// walked once when the rest ends, and each waiting citizen hears only
// their place as it is then: one frame, not one per move.
func TestPlacesRefreshedOncePerRest(t *testing.T) {
	e := newEnv(t)
	e.hub.refreshChunk = 4 // the six citizens are sent their places in two holds of the lock
	// Each rest hands the test a channel that ends it.
	rests := make(chan chan struct{})
	e.hub.rest = func(ctx context.Context) bool {
		done := make(chan struct{})
		select {
		case rests <- done:
		case <-ctx.Done():
			return false
		}
		select {
		case <-done:
			return true
		case <-ctx.Done():
			return false
		}
	}
	nextRest := func() chan struct{} {
		t.Helper()
		select {
		case done := <-rests:
			return done
		case <-time.After(waitFor):
			t.Fatalf("the refresher did not rest within %v", waitFor)
			return nil
		}
	}
	var cits []*client
	for i := 1; i <= 6; i++ {
		cv := e.enqueue(router.EnqueueRequest{Caller: caller("c" + strconv.Itoa(i))})
		c := e.dial("/citizen/" + cv.ID)
		if q := c.expectNext("queued"); q.num("position") != i {
			t.Fatalf("citizen %d connected at %v; want position %d", i, q, i)
		}
		cits = append(cits, c)
	}
	// The first citizen's socket woke the refresher (a new socket's place
	// is counted again, in case the line moved while it connected), which
	// refreshed once and rests. The other citizens heard their places on
	// connecting; twenty callers join at the back, and kim takes the first
	// three chats: 23 more moves while it rests.
	first := nextRest()
	if n := e.hub.refreshes.Load(); n != 1 {
		t.Fatalf("%d refreshes before the first rest; want 1", n)
	}
	for i := range 20 {
		e.enqueue(router.EnqueueRequest{Caller: caller("v" + strconv.Itoa(i)), Channel: router.ChannelVoice})
	}
	e.available("kim")
	close(first)
	second := nextRest()
	defer close(second)
	if n := e.hub.refreshes.Load(); n != 2 {
		t.Errorf("%d refreshes for the moves of one rest; want 2", n)
	}
	for i, c := range cits {
		want := max(i+1-3, 0) // 0: an agent is being offered the contact
		if q := c.expectNext("queued"); q.num("position") != want {
			t.Errorf("citizen %d after kim went available: %v; want position %d", i+1, q, want)
		}
	}
	// One frame each: the next thing any citizen hears answers its own
	// frame, not another place.
	for i, c := range cits {
		if f := c.call(map[string]any{"type": "say", "text": ""}); f.str("type") != "error" {
			t.Errorf("citizen %d: an empty say answered %v; want an error", i+1, f)
		}
		if n := len(c.held); n != 0 {
			t.Errorf("citizen %d heard %d more frames before the answer: %v", i+1, n, c.held)
		}
	}
}

// Far back in a long line a citizen hears a step of a twentieth of their
// place at once, a smaller one within placeQuiet, moves or not; near the
// front every step.
func TestPlacesFarBackArePaced(t *testing.T) {
	e := newEnv(t)
	e.hub.now = e.clock.Now
	var ids []string
	for i := range 40 {
		ids = append(ids, e.enqueue(router.EnqueueRequest{Caller: caller("c" + strconv.Itoa(i))}).ID)
	}
	cit := e.dial("/citizen/" + ids[39])
	if q := cit.expectNext("queued"); q.num("position") != 40 {
		t.Fatalf("connected at %v; want position 40", q)
	}
	near := e.dial("/citizen/" + ids[15])
	if q := near.expectNext("queued"); q.num("position") != 16 {
		t.Fatalf("connected at %v; want position 16", q)
	}
	abandon := func(i int) {
		t.Helper()
		if _, err := e.r.Abandon(ids[i]); err != nil {
			t.Fatal(err)
		}
	}
	// One step (40 → 39) is held back from the citizen far back, not from
	// the one near the front; the second (→ 38, a twentieth of 40) is told.
	abandon(0)
	if q := near.expectNext("queued"); q.num("position") != 15 {
		t.Errorf("near the front after one step: %v; want 15", q)
	}
	abandon(1)
	if q := cit.expectNext("queued"); q.num("position") != 38 {
		t.Errorf("far back after two steps: %v; want 38 (39 held back)", q)
	}
	if q := near.expectNext("queued"); q.num("position") != 14 {
		t.Errorf("near the front after two steps: %v; want 14", q)
	}
	// One more step is held back until placeQuiet has passed, with no
	// move in between.
	abandon(2)
	if q := near.expectNext("queued"); q.num("position") != 13 {
		t.Errorf("near the front: %v; want 13", q)
	}
	e.clock.Advance(placeQuiet)
	if q := cit.expectNext("queued"); q.num("position") != 37 {
		t.Errorf("far back once the quiet time passed: %v; want 37", q)
	}
}

// A citizen deep in a long line (further than router.NearPosition looks
// from either end) hears their place from the refresher on connecting,
// with their callback confirmed after it.
func TestDeepInALongLineHearsThePlace(t *testing.T) {
	e := newEnv(t)
	var ids []string
	for i := range 700 {
		ids = append(ids, e.enqueue(router.EnqueueRequest{Caller: caller("c" + strconv.Itoa(i))}).ID)
	}
	if _, _, err := e.r.RequestCallback(ids[350], router.CallbackRequest{Number: "01055556666"}); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := e.r.NearPosition(ids[350]); err != nil || ok {
		t.Fatalf("NearPosition of the 351st of 700 = %t, %v; want it too deep to count quickly", ok, err)
	}
	c := e.dial("/citizen/" + ids[350])
	if q := c.expectNext("queued"); q.num("position") != 351 {
		t.Errorf("deep in the line the citizen heard %v; want position 351", q)
	}
	if f := c.expectNext("callback"); f.str("mode") != "keep_place" {
		t.Errorf("then %v; want the kept place confirmed", f)
	}
	// Near the back the place is counted at once, as before.
	back := e.dial("/citizen/" + ids[699])
	if q := back.expectNext("queued"); q.num("position") != 700 {
		t.Errorf("at the back the citizen heard %v; want position 700", q)
	}
}

// A citizen who reconnects while their callback waits hears it confirmed
// again, whichever way it was agreed: a kept place (virtual hold), a
// booked time still to come, and a booked time that has come (the contact
// is then in line like a kept place, at its head). A chat that is no
// callback hears no such thing.
func TestCallbackConfirmedOnReconnect(t *testing.T) {
	e := newEnv(t)
	// kim is logged in but not taking calls: nothing is offered, and the
	// queue has callback slots to book.
	kim, _ := e.agent("kim")
	kim.ok(map[string]any{"type": "state", "state": "break"})

	// reconnect dials the contact's socket again and returns all it heard
	// before the answer to a frame sent after connecting (an empty say,
	// refused, which changes nothing).
	reconnect := func(id string) []frame {
		t.Helper()
		c := e.dial("/citizen/" + id)
		if f := c.call(map[string]any{"type": "say", "text": ""}); f.str("type") != "error" {
			t.Fatalf("an empty say on %s answered %v; want an error", id, f)
		}
		_ = c.ws.Close()
		return c.held
	}
	types := func(fs []frame) []string {
		var out []string
		for _, f := range fs {
			out = append(out, f.str("type"))
		}
		return out
	}

	// A plain chat: its place, no callback.
	plain := e.enqueue(router.EnqueueRequest{Caller: caller("c0")})
	if got := types(reconnect(plain.ID)); !slices.Equal(got, []string{"queued"}) {
		t.Errorf("a plain chat's citizen heard %v on connect; want [queued]", got)
	}

	// A kept place: confirmed live, then again on every reconnect.
	kept := e.enqueue(router.EnqueueRequest{Caller: caller("c1")})
	cit := e.dial("/citizen/" + kept.ID)
	cit.expectNext("queued")
	if _, _, err := e.r.RequestCallback(kept.ID, router.CallbackRequest{Number: "01055556666"}); err != nil {
		t.Fatal(err)
	}
	if f := cit.expect("callback"); f.str("mode") != "keep_place" {
		t.Fatalf("citizen got %v; want the kept place confirmed", f)
	}
	_ = cit.ws.Close()
	for range 2 {
		got := reconnect(kept.ID)
		if !slices.Equal(types(got), []string{"queued", "callback"}) {
			t.Fatalf("a kept place's citizen heard %v on reconnect; want [queued callback]", types(got))
		}
		if got[0].num("position") != 2 || got[0]["callback_offered"] == true {
			t.Errorf("queued on reconnect = %v; want position 2 and no offer", got[0])
		}
		if f := got[1]; f.str("mode") != "keep_place" || f["at"] != nil {
			t.Errorf("callback on reconnect = %v; want keep_place without a time", f)
		}
	}

	// A booked time: confirmed with its time before it comes, and after.
	slots, err := e.r.CallbackSlots("gov.general", time.Minute)
	if err != nil || len(slots) == 0 {
		t.Fatalf("CallbackSlots = %v, %v; want free slots", slots, err)
	}
	start := slots[0].Start.UTC()
	booked := e.enqueue(router.EnqueueRequest{Caller: caller("c2")})
	if _, _, err := e.r.RequestCallback(booked.ID, router.CallbackRequest{Number: "01077778888", At: start, HandleTime: time.Minute}); err != nil {
		t.Fatal(err)
	}
	want := start.Format(time.RFC3339)
	if got := reconnect(booked.ID); !slices.Equal(types(got), []string{"callback"}) || got[0].str("mode") != "slot" || got[0].str("at") != want {
		t.Errorf("a booked citizen heard %v before the time; want only callback slot at %s", got, want)
	}
	e.clock.Advance(start.Sub(e.clock.Now()))
	if _, err := e.r.Tick(); err != nil {
		t.Fatal(err)
	}
	if cv, err := e.r.Contact(booked.ID); err != nil || cv.Status != router.StatusQueued {
		t.Fatalf("at its time the booked contact is %+v (%v); want queued", cv, err)
	}
	got := reconnect(booked.ID)
	if !slices.Equal(types(got), []string{"queued", "callback"}) {
		t.Fatalf("a booked citizen heard %v once the time came; want [queued callback]", types(got))
	}
	if got[0].num("position") != 1 {
		t.Errorf("queued once the time came = %v; want position 1 (the head of the line)", got[0])
	}
	if f := got[1]; f.str("mode") != "slot" || f.str("at") != want {
		t.Errorf("callback once the time came = %v; want slot at %s, as booked", f, want)
	}
}

// TestCitizenMessagesAreLimitedPerContact: past the burst a citizen's say
// is answered rate_limited, nothing reaches the agent, the socket stays
// open, and leaving is never limited.
func TestCitizenMessagesAreLimitedPerContact(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.ChatBurst = 3; c.ChatRefill = time.Hour })
	_, cit, cv := e.assigned()
	for i := range 3 {
		cit.ok(map[string]any{"type": "say", "text": fmt.Sprint("msg ", i)})
	}
	f := cit.call(map[string]any{"type": "say", "text": "one too many"})
	if f.str("type") != "error" || f.str("code") != CodeRateLimited || !strings.Contains(f.str("message"), "wait") {
		t.Fatalf("the fourth message answered %v; want error rate_limited saying how long to wait", f)
	}
	c, err := e.r.Case(cv.CaseID)
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range c.Events {
		if strings.Contains(en.Text, "one too many") {
			t.Fatal("a refused message reached the case")
		}
	}
	// The socket is still there: leaving works and ends the contact.
	cit.ok(map[string]any{"type": "leave"})
}
