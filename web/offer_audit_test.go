package web

import (
	"net/http"
	"testing"
	"time"

	"tellonce/router"
	"tellonce/sql/sqltest"
	"tellonce/transcripts"
)

// An offer that shows an agent a transferred case is in the access audit,
// and GET /v1/audit?action=offer lists it: to the admin, and to the
// supervisor of the agency where the case began.
func TestOfferAuditOverHTTP(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newReviewHarness(t, b)
		c, evs, err := h.rt.Enqueue(router.EnqueueRequest{Channel: router.ChannelChat, Queue: "gov110.general",
			Caller: router.Caller{ID: h.fresh("citizen"), Name: "시민"}})
		h.ack(evs, err)
		h.clock.Advance(time.Second)
		if c, err = h.rt.Contact(c.ID); err != nil || c.Status != router.StatusOffered || c.Agent != asAgent {
			t.Fatalf("contact %+v (%v); want it offered to %s", c, err, asAgent)
		}
		h.ack(h.rt.Accept(c.Agent, c.OfferID))
		h.ack(h.rt.Say(router.AsCitizen(), c.ID, "세금 문의입니다"))
		leg, evs, err := h.rt.Transfer(asAgent, c.ID, router.Target{Queue: "nts126.tax"}, router.TransferCold, "국세청으로")
		h.ack(evs, err)
		if leg, err = h.rt.Contact(leg.ID); err != nil || leg.Status != router.StatusOffered || leg.Agent != asOtherAgent {
			t.Fatalf("transferred leg %+v (%v); want it offered to %s", leg, err, asOtherAgent)
		}

		want := transcripts.AuditEntry{Username: asOtherAgent, Role: "agent", Agency: "nts126",
			Action: transcripts.ActionOffer, CaseID: c.CaseID, Query: "offer_id=" + leg.OfferID + "&contact_id=" + leg.ID,
			Outcome: transcripts.OutcomeOK}
		for _, as := range []string{asAdmin, asSup} {
			var page struct {
				Items []transcripts.AuditEntry `json:"items"`
			}
			r := h.do(http.MethodGet, "/v1/audit?action=offer", as, nil)
			if !r.wantStatus(t, http.StatusOK) || !r.decode(t, &page) {
				continue
			}
			if len(page.Items) != 1 {
				t.Errorf("%s as %s = %+v; want the one offer of the transferred case", r, as, page.Items)
				continue
			}
			got := page.Items[0]
			got.ID, got.At = 0, time.Time{}
			if got != want {
				t.Errorf("%s as %s = %+v; want %+v", r, as, got, want)
			}
		}
		if r := h.do(http.MethodGet, "/v1/audit?action=offer", asOtherSup, nil); r.wantStatus(t, http.StatusOK) {
			var page struct {
				Items []transcripts.AuditEntry `json:"items"`
			}
			if r.decode(t, &page) && len(page.Items) != 1 {
				t.Errorf("%s as %s = %+v; want the offer in their agency too", r, asOtherSup, page.Items)
			}
		}
	})
}
