package web

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"tellonce/router"
	"tellonce/sql/sqltest"
	"tellonce/transcripts"
)

// A search by a personal number is refused without pii in every form the
// masking recognises — the spaced dash speech-to-text writes above all —
// and the audit keeps such a query masked: the registration number for
// everyone, before it is stored.
func TestSearchByAnyFormOfAPersonalNumber(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newReviewHarness(t, b)
		for _, q := range []string{
			"900101%20-%201234567", // as the probe sent it
			url.QueryEscape("900101–1234567"), url.QueryEscape("900101—1234567"),
			url.QueryEscape("900101−1234567"), url.QueryEscape("900101.1234567"),
			url.QueryEscape("900101_1234567"), url.QueryEscape("900101/1234567"),
			url.QueryEscape("구공공일공일 다시 일이삼사오육칠"), url.QueryEscape("010-12345678"),
			url.QueryEscape("010 1234-5678"), url.QueryEscape("(02)123-4567"), url.QueryEscape("82-10-1234-5678"),
			url.QueryEscape("010–1234–5678"), url.QueryEscape("4111.1111.1111.1111"),
			url.QueryEscape("공일공 일이삼사 오육칠팔"), url.QueryEscape("110-123-456789"),
		} {
			before := len(h.auditRows())
			h.do(http.MethodGet, "/v1/transcripts?q="+q, asSup, nil).wantError(t, http.StatusForbidden, codeForbidden, "q")
			rows := h.auditRows()
			if len(rows) != before+1 || rows[len(rows)-1].Outcome != transcripts.OutcomeDenied {
				t.Errorf("q=%s: audit rows %+v; want one more, denied", q, rows[before:])
			}
		}
		// The probe's query is audited masked.
		rows := h.auditRows()
		if got, want := rows[len(rows)-16].Query, "q=900101+-+1%2A%2A%2A%2A%2A%2A"; got != want {
			t.Errorf("the refused search is audited as %q; want %q", got, want)
		}
		// With pii the search runs, and is audited masked too.
		h.do(http.MethodGet, "/v1/transcripts?q=900101%20-%201234567", asPIISup, nil).wantStatus(t, http.StatusOK)
		rows = h.auditRows()
		if e := rows[len(rows)-1]; e.Query != "q=900101+-+1%2A%2A%2A%2A%2A%2A" || e.Outcome != transcripts.OutcomeOK {
			t.Errorf("the pii search is audited as %+v; want the number masked", e)
		}
		for _, e := range rows {
			if q, _ := url.QueryUnescape(e.Query); strings.Contains(q, "900101") && strings.Contains(q, "1234567") ||
				strings.Contains(q, "이삼사오육칠") {
				t.Errorf("an audit row holds a registration number: %+v", e)
			}
		}
	})
}

// The access audit lists what a pii reader searched for as asked, and
// masks the phone numbers in it for an admin without pii.
func TestAuditListMasksNumbersWithoutPII(t *testing.T) {
	h := newReviewHarness(t, sqltest.Open(t, "sqlite"))
	h.do(http.MethodGet, "/v1/transcripts?q="+url.QueryEscape("010 1234 5678"), asPIISup, nil).wantStatus(t, http.StatusOK)
	query := func() string {
		t.Helper()
		var page struct {
			Items []transcripts.AuditEntry `json:"items"`
		}
		r := h.do(http.MethodGet, "/v1/audit?user="+asPIISup, asAdmin, nil)
		if !r.wantStatus(t, http.StatusOK) || !r.decode(t, &page) || len(page.Items) == 0 {
			t.Fatalf("%s: %s", r, truncate(r.body))
		}
		return page.Items[0].Query
	}
	if got, want := query(), "q="+url.QueryEscape("010 **** 5678"); got != want {
		t.Errorf("an admin without pii reads the search as %q; want %q", got, want)
	}
	h.do(http.MethodPatch, "/v1/users/"+asAdmin, asAdmin, map[string]any{"pii": true}).wantStatus(t, http.StatusOK)
	if got, want := query(), "q="+url.QueryEscape("010 1234 5678"); got != want {
		t.Errorf("an admin with pii reads the search as %q; want %q", got, want)
	}
}

// The agent's socket shows what the agent's pii permission allows: the
// server hands the permission to the hub with the request.
func TestAgentSocketFollowsThePIIPermission(t *testing.T) {
	h := newHarness(t, sqltest.Open(t, "sqlite"))
	body := chatBody("gov110.general", "pii-1")
	body["caller"] = map[string]any{"id": "010-1234-5678", "name": "홍길동"}
	body["context"] = map[string]any{"summary": "카드 4111 1111 1111 1111",
		"attributes": map[string]any{"010-1234-5678": "callback"}}
	var c created
	if r := h.do(http.MethodPost, "/v1/contacts", asAnon, body, withHeader("X-Forwarded-For", "198.51.100.7")); r.wantStatus(t, http.StatusCreated) {
		r.decode(t, &c)
	}
	// The agent is at the desk and holds the contact; hello brings it.
	if _, _, err := h.router.Connect(asAgent); err != nil {
		t.Fatal(err)
	}
	if _, err := h.router.SetState(asAgent, router.StateAvailable, ""); err != nil {
		t.Fatal(err)
	}
	cv, err := h.router.Contact(c.ContactID)
	if err != nil || cv.Status != router.StatusOffered {
		t.Fatalf("contact %+v (%v); want it offered", cv, err)
	}
	if _, err := h.router.Accept(asAgent, cv.OfferID); err != nil {
		t.Fatal(err)
	}
	hello := func() string {
		t.Helper()
		ws, _, err := websocket.DefaultDialer.Dial(wsURL(h, "/v1/agent/ws"),
			http.Header{"Authorization": {"Bearer " + h.tokens[asAgent]}})
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		_, msg, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		return string(msg)
	}
	got := hello()
	if strings.Contains(got, "1234-5678") || strings.Contains(got, "4111 1111") || !strings.Contains(got, "010-****-5678") {
		t.Errorf("an agent without pii gets %s; want the phone and card numbers masked", got)
	}
	h.do(http.MethodPatch, "/v1/users/"+asAgent, asAdmin, map[string]any{"pii": true}).wantStatus(t, http.StatusOK)
	if got := hello(); !strings.Contains(got, "010-1234-5678") || !strings.Contains(got, "4111 1111 1111 1111") {
		t.Errorf("an agent with pii gets %s; want the numbers as said", got)
	}
}

// A transcript search for a number finds it typed with any separators or
// none; without pii, a number search that is a personal number once its
// separators are out is refused and audited like the number itself, the
// masked digits are not found however they are typed, and the audit list
// shows such a search masked.
func TestNumberSearchAcrossSeparators(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newReviewHarness(t, b) // h.in holds 010-1234-5678
		search := func(as, q string) (reviewPage, *response) {
			t.Helper()
			r := h.do(http.MethodGet, "/v1/transcripts?q="+url.QueryEscape(q), as, nil)
			var p reviewPage
			if r.status == http.StatusOK {
				r.decode(t, &p)
			}
			return p, r
		}
		for _, q := range []string{"010 1234 5678", "01012345678", "010.1234.5678", "010 - 1234 - 5678", "０１０１２３４５６７８"} {
			before := len(h.auditRows())
			if p, r := search(asPIISup, q); !r.wantStatus(t, http.StatusOK) || !slices.Equal(p.ids(), []string{h.in}) {
				t.Errorf("pii search %q = %v; want %s", q, p.ids(), h.in)
			}
			if rows := h.auditRows(); len(rows) != before+1 || rows[len(rows)-1].Action != transcripts.ActionSearch {
				t.Errorf("pii search %q: audit rows %+v; want one more search", q, rows[before:])
			}
		}
		for _, q := range []string{"0 1 0 1 2 3 4 5 6 7 8", "010 12 34 56 78", "(010)(1234)(5678)"} {
			before := len(h.auditRows())
			_, r := search(asSup, q)
			r.wantError(t, http.StatusForbidden, codeForbidden, "q")
			if rows := h.auditRows(); len(rows) != before+1 || rows[len(rows)-1].Outcome != transcripts.OutcomeDenied {
				t.Errorf("search %q without pii: audit rows %+v; want one more, denied", q, rows[before:])
			}
		}
		// No oracle: the masked middle is not found in any form; the
		// visible end is.
		for q, want := range map[string][]string{
			"1234": {}, "1 2 3 4": {}, "12.34": {}, "0101234": {}, "10 1234": {}, "12345678": {},
			"5678": {h.in}, "56 78": {h.in},
		} {
			if p, r := search(asSup, q); r.wantStatus(t, http.StatusOK) && !slices.Equal(p.ids(), want) {
				t.Errorf("search %q without pii = %v; want %v", q, p.ids(), want)
			}
		}
		// The refused search is listed masked to an admin without pii.
		var page struct {
			Items []transcripts.AuditEntry `json:"items"`
		}
		r := h.do(http.MethodGet, "/v1/audit?user="+asSup+"&action=search", asAdmin, nil)
		if !r.wantStatus(t, http.StatusOK) || !r.decode(t, &page) {
			t.FailNow()
		}
		for _, e := range page.Items {
			q, _ := url.QueryUnescape(strings.ReplaceAll(e.Query, "+", " "))
			if strings.Contains(q, "0 1 0 1 2 3 4") || strings.Contains(q, "12 34") {
				t.Errorf("an admin without pii reads the search as %q", q)
			}
		}
	})
}
