package transcripts

import (
	"context"
	"database/sql"
	"encoding/json"
	"reflect"
	"sync"
	"testing"
	"time"

	"tellonce/router"
	tsql "tellonce/sql"
	"tellonce/sql/sqltest"
)

// storedEvents reads a case's timeline back from case_events.
func storedEvents(t *testing.T, db *tsql.DB, caseID string) []router.CaseEvent {
	t.Helper()
	var rows []loadedEvent
	err := db.SelectContext(context.Background(), &rows, db.Rebind(`SELECT case_id, seq, at, type, actor, text, data
		FROM case_events WHERE case_id = ? ORDER BY seq`), caseID)
	if err != nil {
		t.Fatalf("read case_events of %s: %v", caseID, err)
	}
	var out []router.CaseEvent
	for _, r := range rows {
		var data map[string]string
		if err := json.Unmarshal([]byte(r.Data), &data); err != nil {
			t.Fatalf("case %s event %d: %v", caseID, r.Seq, err)
		}
		out = append(out, router.CaseEvent{Seq: r.Seq, At: r.At.UTC(), Type: r.Type, Actor: r.Actor,
			Text: r.Text, Data: data})
	}
	return out
}

// storedLegs reads a case's contacts back as legs, in enqueue order.
func storedLegs(t *testing.T, db *tsql.DB, caseID string) []router.Leg {
	t.Helper()
	var rows []loadedContact
	err := db.SelectContext(context.Background(), &rows, db.Rebind(`SELECT id, case_id, queue_id, agency_id,
		channel, status, priority, context, callback_number, skills, seq, head, agent, enqueued_at, answered_at,
		ended_at, disposition, warm_of FROM contacts WHERE case_id = ? ORDER BY seq`), caseID)
	if err != nil {
		t.Fatalf("read contacts of %s: %v", caseID, err)
	}
	var out []router.Leg
	for _, r := range rows {
		out = append(out, legOf(r.ID, r.Queue, r.Agency, r.Channel, r.Agent, r.EnqueuedAt, r.AnsweredAt,
			r.EndedAt, r.Disposition))
	}
	return out
}

type storedCase struct {
	CallerID       string       `db:"caller_id"`
	CallerName     string       `db:"caller_name"`
	CallerLanguage string       `db:"caller_language"`
	Context        string       `db:"context"`
	Status         string       `db:"status"`
	CreatedAt      time.Time    `db:"created_at"`
	ClosedAt       sql.NullTime `db:"closed_at"`
}

func readCase(t *testing.T, db *tsql.DB, id string) storedCase {
	t.Helper()
	var c storedCase
	err := db.GetContext(context.Background(), &c, db.Rebind(`SELECT caller_id, caller_name, caller_language,
		context, status, created_at, closed_at FROM cases WHERE id = ?`), id)
	if err != nil {
		t.Fatalf("read case %s: %v", id, err)
	}
	return c
}

// A contact's whole path — enqueue, offer, accept, messages, a note, a
// transfer to another agency, accept, end — is in SQL as soon as each step
// is acknowledged: every leg, message, note and the transfer note.
func TestJournalStoresTheWholeCase(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		d := newDesk(t, b.DB, "", nil)
		closedCh := make(chan *router.CaseView, 1)
		d.j.opts.Deliver = func(evs []router.Event) {
			for _, e := range evs {
				if e.Type == router.EventCaseClosed {
					closedCh <- e.Case
				}
			}
		}
		var closed *router.CaseView
		start(t, d.j)
		d.setup([]router.QueueConfig{agencyQueue("gov110.general"), agencyQueue("tax126.general")},
			[]router.AgentProfile{agentIn("kim", "gov110", "gov110.general"), agentIn("lee", "tax126", "tax126.general")})
		d.online("kim", "lee")

		req := caller("c1", func(r *router.EnqueueRequest) {
			r.Channel = router.ChannelChat
			r.Context = router.ContactContext{Summary: "세금 환급 문의", IVR: []string{"1", "3"},
				Attributes: map[string]string{"birth_year": "1960"}}
			r.CallbackNumber = "0212345678"
		})
		var first, second router.ContactView
		steps := []struct {
			name string
			do   func() ([]router.Event, error)
		}{
			{"enqueue and offer", func() ([]router.Event, error) {
				c, evs, err := d.r.Enqueue(req)
				first = c
				return evs, err
			}},
			{"accept", func() ([]router.Event, error) {
				c := d.contact(first.ID)
				return d.r.Accept(c.Agent, c.OfferID)
			}},
			{"citizen message", func() ([]router.Event, error) {
				return d.r.Say(router.AsCitizen(), first.ID, "안녕하세요, 환급이 아직 안 들어왔어요")
			}},
			{"agent message", func() ([]router.Event, error) {
				return d.r.Say(router.AsAgent("kim"), first.ID, "확인해 보겠습니다")
			}},
			{"note", func() ([]router.Event, error) {
				return d.r.Note("kim", first.CaseID, "tax matter: needs 126")
			}},
			{"transfer to another agency", func() ([]router.Event, error) {
				c, evs, err := d.r.Transfer("kim", first.ID, router.Target{Queue: "tax126.general"},
					router.TransferCold, "refund not received; caller verified")
				second = c
				return evs, err
			}},
			{"accept the transfer", func() ([]router.Event, error) {
				c := d.contact(second.ID)
				return d.r.Accept(c.Agent, c.OfferID)
			}},
			{"message on the second leg", func() ([]router.Event, error) {
				return d.r.Say(router.AsAgent("lee"), second.ID, "환급을 다시 신청해 드렸습니다")
			}},
			{"end", func() ([]router.Event, error) {
				return d.r.End("lee", second.ID, "resolved", "refund reissued")
			}},
		}
		for _, s := range steps {
			d.ack(s.do())
			// Acknowledged means committed: the stored timeline is the
			// router's, entry for entry.
			want := closedOrOpen(t, d.r, first.CaseID, closedCh, &closed)
			if got := storedEvents(t, b.DB, first.CaseID); !reflect.DeepEqual(got, want.Events) {
				t.Fatalf("after %s, stored timeline:\n%+v\nwant:\n%+v", s.name, got, want.Events)
			}
			if got := storedLegs(t, b.DB, first.CaseID); !reflect.DeepEqual(got, want.Legs) {
				t.Fatalf("after %s, stored legs:\n%+v\nwant:\n%+v", s.name, got, want.Legs)
			}
		}

		final := closedOrOpen(t, d.r, first.CaseID, closedCh, &closed)
		cs := readCase(t, b.DB, first.CaseID)
		cx, err := parseContext(cs.Context)
		if err != nil {
			t.Fatal(err)
		}
		if cs.Status != "closed" || cs.CallerID != "c1" || cs.CallerName != "Caller c1" || cs.CallerLanguage != "ko" ||
			!reflect.DeepEqual(cx, req.Context) || !cs.CreatedAt.Equal(final.CreatedAt) {
			t.Errorf("stored case = %+v (context %+v); want closed, caller c1, the IVR context, created %v",
				cs, cx, final.CreatedAt)
		}
		if end := final.Legs[len(final.Legs)-1].EndedAt; !cs.ClosedAt.Valid || !cs.ClosedAt.Time.Equal(end) {
			t.Errorf("closed_at = %v; want %v, the end of the last leg", cs.ClosedAt, end)
		}
		wantTypes := []string{router.CaseContactCreated, router.CaseAssigned, router.CaseMessage,
			router.CaseMessage, router.CaseNote, router.CaseTransfer, router.CaseEnded, router.CaseAssigned,
			router.CaseMessage, router.CaseEnded}
		var gotTypes []string
		for _, e := range storedEvents(t, b.DB, first.CaseID) {
			gotTypes = append(gotTypes, e.Type)
		}
		if !reflect.DeepEqual(gotTypes, wantTypes) {
			t.Errorf("stored timeline types = %v; want %v", gotTypes, wantTypes)
		}
	})
}

// closedOrOpen is the router's view of a case: live, or as its case_closed
// event carried it to Deliver (which runs just after the waiters are
// released, so it may still be on its way).
func closedOrOpen(t *testing.T, r *router.Router, id string, ch <-chan *router.CaseView, closed **router.CaseView) router.CaseView {
	t.Helper()
	if cv, err := r.Case(id); err == nil {
		return cv
	}
	if *closed == nil {
		select {
		case *closed = <-ch:
		case <-time.After(guard):
			t.Fatalf("case %s is neither open nor delivered closed", id)
		}
	}
	return **closed
}

// Text PostgreSQL cannot store (NUL, invalid UTF-8) is cleaned, not allowed
// to fail its batch forever.
func TestUnstorableTextIsCleaned(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		d := newDesk(t, b.DB, "", nil)
		start(t, d.j)
		d.setup([]router.QueueConfig{agencyQueue("gov110.general")}, nil)
		c := d.enqueue(caller("c1"))
		d.ack(d.r.Say(router.AsCitizen(), c.ID, "nul\x00 and \xff"))
		evs := storedEvents(t, b.DB, c.CaseID)
		if got, want := evs[len(evs)-1].Text, "nul and \uFFFD"; got != want {
			t.Errorf("stored text = %q; want %q", got, want)
		}
	})
}

// Writing the same events again — a retry after a commit whose
// acknowledgement was lost — changes nothing, and the store does not
// depend on how the events were batched: all of them in one transaction
// (an accept and the re-queue that ends its leg together, say) give the
// same rows as one transaction per router change.
func TestRewritingEventsChangesNothing(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		d := newDesk(t, b.DB, "", nil)
		var mu sync.Mutex
		var all []router.Event
		d.j.opts.Deliver = func(evs []router.Event) {
			mu.Lock()
			all = append(all, evs...)
			mu.Unlock()
		}
		start(t, d.j)
		buildMixedState(d)
		d.ack(d.r.End("lee", d.contact("ct1").ID, "resolved", "")) // and a closed case with legs
		want := dump(t, b.DB)
		mu.Lock()
		defer mu.Unlock()
		for _, batch := range [][]router.Event{all, all[:len(all)/2], all[len(all)/2:]} {
			if err := d.j.write(context.Background(), batch); err != nil {
				t.Fatalf("rewrite: %v", err)
			}
		}
		if got := dump(t, b.DB); !reflect.DeepEqual(got, want) {
			t.Errorf("rewriting the events changed the store:\nbefore %v\nafter  %v", want, got)
		}

		other := sqltest.Open(t, b.Name)
		if err := NewJournal(other.DB, Options{Log: quiet}).write(context.Background(), all); err != nil {
			t.Fatalf("write all in one batch: %v", err)
		}
		if got := dump(t, other.DB); !reflect.DeepEqual(got, want) {
			t.Errorf("one batch gave:\n%v\nwant (one batch per change):\n%v", got, want)
		}
	})
}

// dump reads every row of the case log tables, for comparison.
func dump(t *testing.T, db *tsql.DB) map[string][]map[string]any {
	t.Helper()
	out := map[string][]map[string]any{}
	for _, q := range []struct{ table, order string }{
		{"cases", "id"}, {"contacts", "id"}, {"requeued_legs", "contact_id, enqueued_at"}, {"case_events", "case_id, seq"},
	} {
		rows, err := db.QueryxContext(context.Background(), `SELECT * FROM `+q.table+` ORDER BY `+q.order)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			m := map[string]any{}
			if err := rows.MapScan(m); err != nil {
				t.Fatal(err)
			}
			for k, v := range m {
				if tm, ok := v.(time.Time); ok {
					m[k] = tm.UTC()
				}
			}
			out[q.table] = append(out[q.table], m)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	return out
}
