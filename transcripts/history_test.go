package transcripts

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"tellonce/router"
	"tellonce/sql/sqltest"
)

// Earlier finds an identity's closed cases, newest first, within the
// window and the limit, leaving out the case being continued and other
// identities' cases; each with its agencies, dispositions, the summary an
// agent ended it with and its last note.
func TestEarlierCasesOfAnIdentity(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		d := offerDesk(t, b, nil)
		start(t, d.j)
		d.online("kim", "lee")
		rv, err := NewReview(b.DB, ReviewOptions{Now: d.clock.Now, Log: quiet})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		mine := func(r *router.EnqueueRequest) { r.Identity = "tel:mine" }

		// The first case: gov110, transferred to nts126, noted, ended.
		first := d.enqueue(caller("c1", mine, func(r *router.EnqueueRequest) { r.Context.Summary = "환급 문의" }))
		d.accept(first.ID)
		leg, evs, err := d.r.Transfer("kim", first.ID, router.Target{Queue: "nts126.tax"}, router.TransferCold, "")
		d.ack(evs, err)
		d.accept(leg.ID)
		d.ack(d.r.Note("lee", first.CaseID, "서류 재제출 필요"))
		d.ack(d.r.End("lee", leg.ID, "resolved", "환급 절차 안내"))
		since := d.clock.Now()
		// Six more, each abandoned a minute apart; and a stranger's.
		var later []string
		for range 6 {
			d.clock.Advance(time.Minute)
			c := d.enqueue(caller("c1", mine))
			d.ack(d.r.Abandon(c.ID))
			later = append(later, c.CaseID)
		}
		other := d.enqueue(caller("c2", func(r *router.EnqueueRequest) { r.Identity = "tel:other" }))
		d.ack(d.r.Abandon(other.ID))

		all, err := rv.Earlier(ctx, "tel:mine", t0, "", 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 7 || all[6].ID != first.CaseID || all[0].ID != later[5] {
			t.Fatalf("earlier cases = %v; want the six later ones newest first, then %s", ids(all), first.CaseID)
		}
		p := all[6]
		if !slices.Equal(p.Agencies, []string{"gov110", "nts126"}) || !slices.Contains(p.Dispositions, "resolved") ||
			p.Summary != "환급 절차 안내" || p.LastNote != "서류 재제출 필요" || p.OpenedAt.Before(t0) || !p.ClosedAt.After(p.OpenedAt) {
			t.Errorf("the first case = %+v; want both agencies, resolved, the agent's summary and the note", p)
		}
		if all[0].Summary != "" || all[0].LastNote != "" {
			t.Errorf("an abandoned case without words = %+v; want empty summary and note", all[0])
		}

		five, err := rv.Earlier(ctx, "tel:mine", t0, later[5], router.MaxHistory)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := ids(five), []string{later[4], later[3], later[2], later[1], later[0]}; !slices.Equal(got, want) {
			t.Errorf("five, leaving out %s = %v; want %v", later[5], got, want)
		}
		windowed, err := rv.Earlier(ctx, "tel:mine", since.Add(time.Second), "", 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(windowed) != 6 || slices.Contains(ids(windowed), first.CaseID) {
			t.Errorf("since %v = %v; want the six later ones only", since, ids(windowed))
		}
		if none, err := rv.Earlier(ctx, "tel:nobody", t0, "", 10); err != nil || none != nil {
			t.Errorf("an identity without cases = %v, %v; want none", none, err)
		}
	})
}

// EarlierOfOpen gives every open case's caller the earlier cases Earlier
// gives them one by one, in one pass: by identity, newest first, at most
// the limit, and nothing for a caller with no open case or no history.
func TestEarlierOfOpenCasesMatchesEarlier(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		d := offerDesk(t, b, nil)
		start(t, d.j)
		d.online("kim")
		rv, err := NewReview(b.DB, ReviewOptions{Now: d.clock.Now, Log: quiet})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		as := func(identity string) func(r *router.EnqueueRequest) {
			return func(r *router.EnqueueRequest) { r.Identity = identity }
		}
		// tel:mine has seven closed cases and one open; tel:other one of
		// each; tel:gone only a closed one; tel:new only an open one.
		for i := range 7 {
			d.clock.Advance(time.Minute)
			c := d.enqueue(caller("c1", as("tel:mine")))
			if i == 0 {
				d.accept(c.ID)
				d.ack(d.r.Note("kim", c.CaseID, "메모"))
				d.ack(d.r.End("kim", c.ID, "resolved", "안내함"))
				continue
			}
			d.ack(d.r.Abandon(c.ID))
		}
		for _, who := range []string{"tel:other", "tel:gone"} {
			d.clock.Advance(time.Minute)
			c := d.enqueue(caller(who, as(who)))
			d.ack(d.r.Abandon(c.ID))
		}
		for _, who := range []string{"tel:mine", "tel:other", "tel:new"} {
			d.enqueue(caller(who, as(who)))
		}

		got, err := rv.EarlierOfOpen(ctx, t0, router.MaxHistory)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 {
			t.Errorf("identities with history = %d (%v); want tel:mine and tel:other", len(got), got)
		}
		for _, who := range []string{"tel:mine", "tel:other"} {
			want, err := rv.Earlier(ctx, who, t0, "", router.MaxHistory)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got[who], want) {
				t.Errorf("%s: EarlierOfOpen = %+v; want Earlier's %+v", who, got[who], want)
			}
		}
		if n := len(got["tel:mine"]); n != router.MaxHistory {
			t.Errorf("tel:mine has %d earlier cases; want the limit, %d", n, router.MaxHistory)
		}

		// Read two cases at a time, the answer is the same.
		var rows []earlierCase
		if err := b.DB.SelectContext(ctx, &rows, `SELECT id, identity, context, created_at, closed_at FROM cases
			WHERE status = 'closed' ORDER BY identity, closed_at DESC, id DESC`); err != nil {
			t.Fatal(err)
		}
		whole, err := rv.pastCases(ctx, rows, pastCaseBatch)
		if err != nil {
			t.Fatal(err)
		}
		paired, err := rv.pastCases(ctx, rows, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(whole) != 3 || !reflect.DeepEqual(whole, paired) {
			t.Errorf("read two at a time = %+v; want %+v, three identities", paired, whole)
		}
	})
}

// A closed case read back whole reopens through the router, and the log
// holds it open again, its timeline continued: a restart restores it.
func TestClosedCaseReopensDurably(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		d := offerDesk(t, b, nil)
		run := start(t, d.j)
		d.online("kim")
		rv, err := NewReview(b.DB, ReviewOptions{Now: d.clock.Now, Log: quiet})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		mine := func(r *router.EnqueueRequest) { r.Identity = "tel:mine" }
		first := d.enqueue(caller("c1", mine))
		d.accept(first.ID)
		d.ack(d.r.Note("kim", first.CaseID, "첫 메모"))
		d.ack(d.r.End("kim", first.ID, "resolved", ""))

		snap, closed, err := rv.ClosedCase(ctx, first.CaseID)
		if err != nil {
			t.Fatal(err)
		}
		if snap.Identity != "tel:mine" || len(snap.Legs) != 1 || len(snap.Events) < 3 || len(snap.Contacts) != 0 || !closed.Equal(snap.Legs[0].EndedAt) {
			t.Fatalf("closed case = %+v closed %v; want its leg and timeline, no live contact", snap, closed)
		}
		d.clock.Advance(time.Hour)
		again := d.enqueue(caller("c1", mine, func(r *router.EnqueueRequest) { r.CaseID, r.Reopen = first.CaseID, &snap }))
		if again.CaseID != first.CaseID {
			t.Fatalf("reopened as case %s; want %s", again.CaseID, first.CaseID)
		}
		if _, _, err := rv.ClosedCase(ctx, first.CaseID); !errors.Is(err, ErrNotFound) {
			t.Errorf("ClosedCase of the reopened case: %v; want ErrNotFound (it is open)", err)
		}
		if err := run.stop(t); err != nil {
			t.Fatal(err)
		}
		loaded, err := NewJournal(b.DB, Options{Log: quiet}).Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var back *router.CaseSnapshot
		for i := range loaded {
			if loaded[i].ID == first.CaseID {
				back = &loaded[i]
			}
		}
		if back == nil {
			t.Fatalf("a restart does not restore the reopened case %s", first.CaseID)
		}
		var types []string
		for _, e := range back.Events {
			types = append(types, e.Type)
		}
		if len(back.Legs) != 2 || len(back.Contacts) != 1 || !slices.Contains(types, router.CaseNote) ||
			!slices.Contains(types, router.CaseReopened) {
			t.Errorf("restored reopened case: %d legs, %d live, timeline %v; want both legs, the new one live, the note and reopened",
				len(back.Legs), len(back.Contacts), types)
		}
	})
}

func ids(h []router.PastCase) []string {
	out := []string{}
	for _, p := range h {
		out = append(out, p.ID)
	}
	return out
}

// Earlier runs before every contact's creation: its query is prepared and
// the same statement serves the look-ups after, but not for ever: it is
// prepared again after earlierReplanFirst calls, then after twice as many
// each time, so that PostgreSQL's plans follow a growing table.
func TestEarlierPreparesItsQueryAgainAsItGoes(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		rv, err := NewReview(b.DB, ReviewOptions{Log: quiet})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		call := func() {
			t.Helper()
			if h, err := rv.Earlier(ctx, "tel:nobody", t0, "cs-x", 5); err != nil || h != nil {
				t.Fatalf("Earlier() of a first caller = %v, %v; want none", h, err)
			}
		}
		prepared := func() int {
			rv.earlier.mu.Lock()
			defer rv.earlier.mu.Unlock()
			return rv.earlier.prepared
		}
		for range earlierReplanFirst {
			call()
		}
		if n := prepared(); n != 1 {
			t.Fatalf("after %d calls the query was prepared %d times; want once", earlierReplanFirst, n)
		}
		call()
		if n := prepared(); n != 2 {
			t.Fatalf("after %d calls the query was prepared %d times; want twice", earlierReplanFirst+1, n)
		}
		for range 2*earlierReplanFirst - 1 {
			call()
		}
		if n := prepared(); n != 2 {
			t.Fatalf("the second statement was prepared again within %d calls; want it kept for %d", 2*earlierReplanFirst, 2*earlierReplanFirst)
		}
		call()
		if n := prepared(); n != 3 {
			t.Errorf("after %d calls the query was prepared %d times; want 3", 3*earlierReplanFirst+1, n)
		}
	})
}

// Earlier's statement is closed and prepared again while other look-ups
// run: none of them fails.
func TestEarlierPreparedAgainUnderConcurrentCalls(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		rv, err := NewReview(b.DB, ReviewOptions{Log: quiet})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Go(func() {
				for range earlierReplanFirst {
					if _, err := rv.Earlier(ctx, "tel:nobody", t0, "", 5); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("Earlier() while its query was prepared again = %v", err)
		}
	})
}
