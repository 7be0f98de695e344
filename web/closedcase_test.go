package web

import (
	"net/http"
	"strings"
	"testing"

	"tellonce/sql/sqltest"
	"tellonce/transcripts"
)

// A case that closed is still read with GET /v1/cases/{id}, from the case
// log: by whoever could read it open, masked as an open one, audited; and
// anyone else gets the 404 of a case that never was.
func TestClosedCaseIsReadable(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newReviewHarness(t, b)
		type caseBody struct {
			CaseID string `json:"case_id"`
			Status string `json:"status"`
			Legs   []struct {
				Agency string `json:"agency"`
			} `json:"legs"`
			Events []struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"events"`
		}
		read := func(as string) (caseBody, *response) {
			var c caseBody
			r := h.do(http.MethodGet, "/v1/cases/"+h.in, as, nil)
			if r.status == http.StatusOK {
				r.decode(t, &c)
			}
			return c, r
		}
		texts := func(c caseBody) string {
			var b strings.Builder
			for _, e := range c.Events {
				b.WriteString(e.Text + "\n")
			}
			return b.String()
		}
		c, r := read(asSup)
		r.wantStatus(t, http.StatusOK)
		if c.CaseID != h.in || c.Status != "closed" || len(c.Legs) == 0 || !strings.Contains(texts(c), inMasked) {
			t.Errorf("gov110's supervisor reads %+v; want the closed case with the words masked (%q)", c, inMasked)
		}
		if c, r := read(asPIISup); r.wantStatus(t, http.StatusOK) && !strings.Contains(texts(c), inForPII) {
			t.Errorf("the pii supervisor reads %q; want %q", texts(c), inForPII)
		}
		read(asAgent)
		for _, as := range []string{asOtherSup, asIdleAgent, asOtherAgent} {
			_, r := read(as)
			r.wantError(t, http.StatusNotFound, codeNotFound, "")
		}
		h.do(http.MethodGet, "/v1/cases/cs-never-was", asSup, nil).wantError(t, http.StatusNotFound, codeNotFound, "")
		var closed, denied int
		for _, e := range h.auditRows() {
			if e.Action == transcripts.ActionRead && e.CaseID == h.in {
				switch {
				case e.Outcome == transcripts.OutcomeOK && e.Query == "view=closed":
					closed++
				case e.Outcome == transcripts.OutcomeDenied:
					denied++
				}
			}
		}
		if closed != 3 || denied != 3 {
			t.Errorf("audited %d closed-case reads and %d refusals; want 3 and 3", closed, denied)
		}
	})
}
