package web

import (
	"net/http"
	"testing"
	"time"

	"tellonce/router"
	"tellonce/sql/sqltest"
)

// offerCallbacks lets gov110.general take callbacks and offer them after
// one second of estimated wait.
func (h *harness) offerCallbacks(t *testing.T, afterS int) {
	t.Helper()
	h.do(http.MethodPatch, "/v1/queues/gov110.general", asAdmin, map[string]any{
		"channels": []string{"voice", "chat", "callback"}, "callback_after_s": afterS, "public": true,
	}).wantStatus(t, http.StatusOK)
}

type callbackAnswer struct {
	ContactID  string     `json:"contact_id"`
	Channel    string     `json:"channel"`
	Status     string     `json:"status"`
	Position   int        `json:"position"`
	CallbackAt *time.Time `json:"callback_at"`
}

func TestCitizenAsksForACallback(t *testing.T) {
	h := newHarness(t, sqltest.Open(t, "sqlite"))
	h.offerCallbacks(t, 1)
	c := h.chat(t, "gov110.general", "caller-1")
	token := withHeader("X-Citizen-Token", c.CitizenToken)
	path := "/v1/contacts/" + c.ContactID + "/callback"
	var status struct {
		CallbackOffered bool `json:"callback_offered"`
	}
	if r := h.do(http.MethodGet, "/v1/contacts/"+c.ContactID, asAnon, nil, token); r.wantStatus(t, http.StatusOK) {
		r.decode(t, &status)
	}
	if !status.CallbackOffered {
		t.Errorf("GET the contact: callback_offered false; want true (nobody staffed, the wait passes 1 s)")
	}

	cases := []struct {
		name   string
		body   any
		as     string
		opts   []reqOpt
		status int
		field  string
	}{
		{"no token", map[string]any{"number": "01012345678"}, asAnon, nil, http.StatusUnauthorized, ""},
		{"wrong token", map[string]any{"number": "01012345678"}, asAnon, []reqOpt{withHeader("X-Citizen-Token", "x")}, http.StatusNotFound, ""},
		{"an agent", map[string]any{"number": "01012345678"}, asAgent, nil, http.StatusNotFound, ""},
		{"no number", map[string]any{}, asAnon, []reqOpt{token}, http.StatusBadRequest, "number"},
		{"bad number", map[string]any{"number": "call me"}, asAnon, []reqOpt{token}, http.StatusBadRequest, "number"},
		{"unknown field", map[string]any{"number": "0101234", "when": "now"}, asAnon, []reqOpt{token}, http.StatusBadRequest, "when"},
		{"not a slot", map[string]any{"number": "0101234", "callback_at": "2030-01-01T00:07:00Z"}, asAnon, []reqOpt{token}, http.StatusBadRequest, "callback_at"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := h.on(t).do(http.MethodPost, path, tc.as, tc.body, tc.opts...)
			if tc.field != "" {
				r.wantError(t, tc.status, codeValidationOr(tc.status), tc.field)
			} else {
				r.wantStatus(t, tc.status)
			}
		})
	}
	if v, _ := h.router.Contact(c.ContactID); v.Channel != "chat" {
		t.Fatalf("a refused request changed the contact to %s", v.Channel)
	}

	var got callbackAnswer
	if r := h.do(http.MethodPost, path, asAnon, map[string]any{"number": "01012345678"}, token); r.wantStatus(t, http.StatusOK) {
		r.decode(t, &got)
	}
	if got.Channel != "callback" || got.Status != "queued" || got.Position != 1 {
		t.Errorf("callback answer %+v; want a queued callback keeping place 1", got)
	}
	h.do(http.MethodPost, path, asAnon, map[string]any{"number": "01012345678"}, token).wantStatus(t, http.StatusConflict)
	status.CallbackOffered = true
	if r := h.do(http.MethodGet, "/v1/contacts/"+c.ContactID, asAnon, nil, token); r.wantStatus(t, http.StatusOK) {
		r.decode(t, &status)
	}
	if status.CallbackOffered {
		t.Errorf("GET a callback contact: callback_offered true; want false")
	}

	// An agent calls and nobody answers: the contact waits for its next
	// try, and GET says when and that it is a retry, not a booked time.
	h.answer(t, asAgent, c.ContactID)
	if _, err := h.router.CallbackResult(asAgent, c.ContactID, router.CallbackNoAnswer); err != nil {
		t.Fatal(err)
	}
	var retry struct {
		Status           string     `json:"status"`
		CallbackAt       *time.Time `json:"callback_at"`
		CallbackAttempts int        `json:"callback_attempts"`
	}
	if r := h.do(http.MethodGet, "/v1/contacts/"+c.ContactID, asAnon, nil, token); r.wantStatus(t, http.StatusOK) {
		r.decode(t, &retry)
	}
	if retry.Status != "scheduled" || retry.CallbackAt == nil || retry.CallbackAttempts != 1 {
		t.Errorf("GET after an unanswered call = %+v; want scheduled, callback_at and callback_attempts 1", retry)
	}
}

func codeValidationOr(status int) string {
	if status == http.StatusUnauthorized {
		return codeUnauthorized
	}
	return codeValidation
}

func TestCallbackNotOfferedBelowTheThreshold(t *testing.T) {
	h := newHarness(t, sqltest.Open(t, "sqlite"))
	h.offerCallbacks(t, 0) // never offered
	c := h.chat(t, "gov110.general", "caller-1")
	h.do(http.MethodPost, "/v1/contacts/"+c.ContactID+"/callback", asAnon, map[string]any{"number": "0101234"},
		withHeader("X-Citizen-Token", c.CitizenToken)).wantError(t, http.StatusConflict, codeConflict, "")
}

func TestCallbackSlotsAndBooking(t *testing.T) {
	h := newHarness(t, sqltest.Open(t, "sqlite"))
	h.offerCallbacks(t, 1)
	var slots slotsAnswer
	if r := h.do(http.MethodGet, "/v1/queues/gov110.general/callback-slots", asAnon, nil); r.wantStatus(t, http.StatusOK) {
		r.decode(t, &slots)
	}
	if len(slots.Items) == 0 || slots.CallbackAfterS != 1 {
		t.Fatalf("slots %+v; want a list", slots)
	}
	if slots.Items[0].Capacity != 0 {
		t.Errorf("capacity with nobody logged in = %d; want 0", slots.Items[0].Capacity)
	}
	// A queue that is not public: a login of its agency is needed.
	h.do(http.MethodPatch, "/v1/queues/nts126.tax", asAdmin, map[string]any{
		"channels": []string{"voice", "callback"}, "public": false}).wantStatus(t, http.StatusOK)
	h.do(http.MethodGet, "/v1/queues/nts126.tax/callback-slots", asAnon, nil).wantStatus(t, http.StatusUnauthorized)
	h.do(http.MethodGet, "/v1/queues/nts126.tax/callback-slots", asSup, nil).wantStatus(t, http.StatusForbidden)
	h.do(http.MethodGet, "/v1/queues/nts126.tax/callback-slots", asGateway, nil).wantStatus(t, http.StatusForbidden)
	h.do(http.MethodGet, "/v1/queues/nts126.tax/callback-slots", asAdmin, nil).wantStatus(t, http.StatusOK)
	h.do(http.MethodGet, "/v1/queues/nowhere.q/callback-slots", asAnon, nil).wantStatus(t, http.StatusNotFound)

	// A full slot refuses the booking (nobody is staffed: capacity 0).
	c := h.chat(t, "gov110.general", "caller-1")
	h.do(http.MethodPost, "/v1/contacts/"+c.ContactID+"/callback", asAnon,
		map[string]any{"number": "0101234", "callback_at": slots.Items[0].Start},
		withHeader("X-Citizen-Token", c.CitizenToken)).wantError(t, http.StatusConflict, codeConflict, "")
}
