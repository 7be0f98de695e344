package transcripts

import (
	"context"
	"errors"
	"testing"
	"time"

	"tellonce/router"
	tsql "tellonce/sql"
	"tellonce/sql/sqltest"
)

// offerAudit reads the access audit's offer rows, oldest first.
func offerAudit(t *testing.T, db *tsql.DB) []AuditEntry {
	t.Helper()
	var rows []AuditEntry
	if err := db.SelectContext(context.Background(), &rows, db.Rebind(`SELECT id, at, username, role, agency_id,
		client_addr, action, case_id, query, format, reason, outcome FROM access_audit WHERE action = ? ORDER BY id`),
		ActionOffer); err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		rows[i].At = rows[i].At.UTC()
		rows[i].ID = 0
	}
	return rows
}

// offerEntry is the audit row an offered event should leave.
func offerEntry(ev *router.Event, agency string) AuditEntry {
	return AuditEntry{At: ev.At.UTC(), Username: ev.Agent, Role: "agent", Agency: agency, Action: ActionOffer,
		CaseID: ev.CaseID, Query: "offer_id=" + ev.OfferID + "&contact_id=" + ev.ContactID, Outcome: OutcomeOK}
}

// offered is the offer among evs of contactID.
func offered(t *testing.T, evs []router.Event, contactID string) *router.Event {
	t.Helper()
	for i := range evs {
		if evs[i].Type == router.EventOffered && evs[i].ContactID == contactID {
			return &evs[i]
		}
	}
	t.Fatalf("no offer of %s among %d events", contactID, len(evs))
	return nil
}

// offerDesk: kim serves gov110.general, lee nts126.tax; both available.
func offerDesk(t *testing.T, b sqltest.Backend, d *delivered) *desk {
	t.Helper()
	dk := newDesk(t, b.DB, "", d)
	dk.setup([]router.QueueConfig{agencyQueue("gov110.general"), agencyQueue("nts126.tax")},
		[]router.AgentProfile{agentIn("kim", "gov110", "gov110.general"), agentIn("lee", "nts126", "nts126.tax")})
	return dk
}

// An agent offered a transferred case reads its history in the offer: that
// offer is in the access audit, once, with the agent, their agency, the
// case and the offer; the first offer of the brand-new case is not. A
// supervisor of the case's first agency sees the row.
func TestOfferOfATransferredCaseIsAudited(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		d := offerDesk(t, b, nil)
		start(t, d.j)
		d.online("kim", "lee")
		c := d.enqueue(caller("c1", func(r *router.EnqueueRequest) { r.Channel = router.ChannelChat }))
		if got := d.contact(c.ID); got.Status != router.StatusOffered || got.Agent != "kim" {
			t.Fatalf("new contact is %s to %q; want offered to kim", got.Status, got.Agent)
		}
		if got := offerAudit(t, b.DB); len(got) != 0 {
			t.Fatalf("the first offer of a new case is audited: %+v", got)
		}
		d.accept(c.ID)
		d.ack(d.r.Say(router.AsCitizen(), c.ID, "환급 문의드립니다"))
		leg, evs, err := d.r.Transfer("kim", c.ID, router.Target{Queue: "nts126.tax"}, router.TransferCold, "환급 건")
		d.ack(evs, err)
		offer := offered(t, evs, leg.ID)

		want := offerEntry(offer, "nts126")
		got := offerAudit(t, b.DB)
		if len(got) != 1 || got[0] != want {
			t.Fatalf("offer audit = %+v; want exactly %+v", got, want)
		}
		rv, err := NewReview(b.DB, ReviewOptions{Now: d.clock.Now, Log: quiet})
		if err != nil {
			t.Fatal(err)
		}
		page, err := rv.Audit(context.Background(), AuditFilter{Agency: "gov110", Action: ActionOffer})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) != 1 || page.Items[0].Username != "lee" || page.Items[0].CaseID != c.CaseID {
			t.Errorf("gov110's audit of offers = %+v; want lee's offer of %s", page.Items, c.CaseID)
		}
	})
}

// Only offers that show more than the contact's own leg are audited: not
// a new case's first offer, nor its offer to the next agent after a
// decline; but a case the citizen continued with a new contact, a contact
// offered again after its agent was lost, and an interpreter's leg are.
func TestOfferAuditFollowsTheCasesHistory(t *testing.T) {
	chat := func(r *router.EnqueueRequest) { r.Channel = router.ChannelChat }
	tests := []struct {
		name string
		// run makes the offers and returns the audited ones, with the
		// agency of the agent each went to.
		run func(t *testing.T, d *desk) (audited []*router.Event, agencies []string)
	}{
		{"new case, offered twice", func(t *testing.T, d *desk) ([]*router.Event, []string) {
			d.ack(d.r.UpsertAgent(agentIn("choi", "gov110", "gov110.general")))
			d.online("kim", "choi")
			c := d.enqueue(caller("c1", chat))
			first := d.contact(c.ID)
			d.ack(d.r.Decline(first.Agent, first.OfferID, "busy"))
			if again := d.contact(c.ID); again.Status != router.StatusOffered || again.Agent == first.Agent {
				t.Fatalf("after the decline the contact is %s to %q", again.Status, again.Agent)
			}
			return nil, nil
		}},
		{"continued by the citizen", func(t *testing.T, d *desk) ([]*router.Event, []string) {
			d.online("kim", "lee")
			c := d.enqueue(caller("c1", chat))
			d.accept(c.ID)
			d.ack(d.r.Say(router.AsCitizen(), c.ID, "first question"))
			next, evs, err := d.r.Enqueue(caller("c1", func(r *router.EnqueueRequest) {
				r.Queue, r.CaseID, r.CaseProven = "nts126.tax", c.CaseID, true
			}))
			d.ack(evs, err)
			return []*router.Event{offered(t, evs, next.ID)}, []string{"nts126"}
		}},
		{"re-queued after its agent was lost", func(t *testing.T, d *desk) ([]*router.Event, []string) {
			d.ack(d.r.UpsertAgent(agentIn("choi", "gov110", "gov110.general")))
			d.online("kim")
			c := d.enqueue(caller("c1"))
			d.accept(c.ID)
			d.ack(d.r.Say(router.AsCitizen(), c.ID, "before the line dropped"))
			d.ack(d.r.Disconnect("kim"))
			d.online("choi")
			d.clock.Advance(router.DefaultReconnectGrace)
			evs := d.ack(d.r.Tick())
			return []*router.Event{offered(t, evs, c.ID)}, []string{"gov110"}
		}},
		{"interpreter", func(t *testing.T, d *desk) ([]*router.Event, []string) {
			d.setup([]router.QueueConfig{agencyQueue("lang.pool", func(q *router.QueueConfig) { q.Kind = router.QueueInterpreter })},
				[]router.AgentProfile{{Username: "nam", Name: "Nam", Agency: "lang", Queues: map[string]int{"lang.pool": 1},
					Skills: map[string]int{"lang:vi": 3}, MaxChats: 2}})
			d.online("kim", "nam")
			c := d.enqueue(caller("c1", chat))
			d.accept(c.ID)
			leg, evs, err := d.r.Interpret("kim", c.ID, "vi", "please interpret")
			d.ack(evs, err)
			return []*router.Event{offered(t, evs, leg.ID)}, []string{"lang"}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
				d := offerDesk(t, b, nil)
				start(t, d.j)
				audited, agencies := tt.run(t, d)
				var want []AuditEntry
				for i, ev := range audited {
					want = append(want, offerEntry(ev, agencies[i]))
				}
				got := offerAudit(t, b.DB)
				if len(got) != len(want) {
					t.Fatalf("offer audit = %+v; want %+v", got, want)
				}
				for i := range want {
					if got[i] != want[i] {
						t.Errorf("offer audit row %d = %+v; want %+v", i, got[i], want[i])
					}
				}
			})
		})
	}
}

// A batch written again — retried after its commit failed, or after a
// commit whose acknowledgement was lost — leaves one audit row per offer.
func TestRetriedBatchDoesNotDuplicateOfferAudit(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		dl := newDelivered(t)
		d := offerDesk(t, b, dl)
		d.j.minBackoff, d.j.maxBackoff = time.Millisecond, 20*time.Millisecond
		failed := make(chan error, 1024)
		d.j.attemptFailed = func(err error) {
			select {
			case failed <- err:
			default:
			}
		}
		start(t, d.j)
		d.online("kim", "lee")
		c := d.enqueue(caller("c1"))
		d.accept(c.ID)

		// The transfer's batch fails, and is retried until it commits.
		endOutage := outage(t, b.DB)
		leg, evs, err := d.r.Transfer("kim", c.ID, router.Target{Queue: "nts126.tax"}, router.TransferCold, "")
		if err != nil {
			t.Fatal(err)
		}
		last := evs[len(evs)-1].Seq
		if err := d.j.Wait(context.Background(), last); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Wait during the outage = %v; want ErrUnavailable", err)
		}
		<-failed
		<-failed // a retry failed too
		if got := offerAudit(t, b.DB); len(got) != 0 {
			t.Fatalf("offer audited by a batch that did not commit: %+v", got)
		}
		endOutage()
		dl.awaitSeq(last)
		want := []AuditEntry{offerEntry(offered(t, evs, leg.ID), "nts126")}
		if got := offerAudit(t, b.DB); len(got) != 1 || got[0] != want[0] {
			t.Fatalf("offer audit after the retry = %+v; want %+v", got, want)
		}

		// The same batch again, whole and in part.
		for _, batch := range [][]router.Event{evs, evs, evs[len(evs)/2:]} {
			if err := d.j.write(context.Background(), batch); err != nil {
				t.Fatalf("rewrite: %v", err)
			}
		}
		if got := offerAudit(t, b.DB); len(got) != 1 || got[0] != want[0] {
			t.Errorf("offer audit after writing the batch again = %+v; want %+v", got, want)
		}
	})
}
