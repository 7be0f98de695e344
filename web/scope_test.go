package web

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"tellonce/sql/sqltest"
	"tellonce/transcripts"
)

// TestAnotherAgencysCaseIsNotFound walks every route that names a case or
// a contact as users of another agency: each answers the 404 an unknown id
// gets, so nobody learns which ids exist outside their agency. The only
// other answers are refusals by role or permission given before the id is
// looked at (the same answer for an id that does not exist), which the
// second half checks.
func TestAnotherAgencysCaseIsNotFound(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newRecordingHarness(t, b)
		c := h.call(t, "01055501234", "범위 밖 사건")
		h.answer(t, asAgent, c.ContactID)
		name := legName(c.CaseID, c.ContactID, clockStart.Add(2*time.Second))
		h.upload(c.ContactID, name, asGateway, wavOf(1)).wantStatus(t, http.StatusCreated)
		reason := "&reason=" + url.QueryEscape("민원 재조사")

		type route struct{ method, path string }
		routes := func(caseID, contactID string) []route {
			return []route{
				{http.MethodGet, "/v1/contacts/" + contactID},
				{http.MethodDelete, "/v1/contacts/" + contactID},
				{http.MethodPost, "/v1/contacts/" + contactID + "/callback"},
				{http.MethodGet, "/v1/cases/" + caseID},
				{http.MethodGet, "/v1/transcripts/" + caseID},
				{http.MethodGet, "/v1/cases/" + caseID + "/recordings/" + name},
			}
		}
		for _, as := range []string{asOtherAgent, asOtherSup} {
			t.Run(who(as), func(t *testing.T) {
				h := h.on(t)
				walk := routes(c.CaseID, c.ContactID)
				if exporters[as] {
					walk = append(walk,
						route{http.MethodGet, "/v1/transcripts/" + c.CaseID + "/export?format=json" + reason},
						route{http.MethodGet, "/v1/cases/" + c.CaseID + "/recordings/" + name + "?download=1" + reason})
				}
				for _, rt := range walk {
					var body any
					if rt.method == http.MethodPost {
						body = map[string]any{"number": "01055501234"}
					}
					h.do(rt.method, rt.path, as, body).wantError(t, http.StatusNotFound, codeNotFound, "")
				}
			})
		}
		// The refusals the other agency's agent gets by role or
		// permission are the same for a case of its own agency and one
		// that does not exist: they say nothing of the id.
		for _, id := range []struct{ caseID, contactID string }{{c.CaseID, c.ContactID}, {"cs-no-such-case", "ct-no-such-contact"}} {
			for _, rt := range []route{
				{http.MethodGet, "/v1/transcripts/" + id.caseID + "/export?format=json" + reason},
				{http.MethodGet, "/v1/cases/" + id.caseID + "/recordings/" + name + "?download=1" + reason},
				{http.MethodDelete, "/v1/transcripts/" + id.caseID + "?reason=x"},
			} {
				h.do(rt.method, rt.path, asOtherAgent, nil).wantError(t, http.StatusForbidden, codeForbidden, "")
			}
			// The citizen's socket wants a citizen token before anything.
			h.do(http.MethodGet, "/v1/contacts/"+id.contactID+"/ws", asOtherAgent, nil).
				wantError(t, http.StatusUnauthorized, codeUnauthorized, "token")
			h.upload(id.contactID, legName(id.caseID, id.contactID, clockStart), asOtherAgent, wavOf(1)).
				wantError(t, http.StatusForbidden, codeForbidden, "")
		}
		// Nothing was read: the audit holds the refusals only.
		for _, row := range h.auditOf(t, transcripts.ActionRead) {
			if row.Agency == "nts126" && row.Outcome == transcripts.OutcomeOK {
				t.Errorf("a refused read was audited as a read: %+v", row)
			}
		}
	})
}
