package web

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"tellonce/router"
	"tellonce/sql/sqltest"
)

func chatBody(queue, caller string) map[string]any {
	return map[string]any{"channel": "chat", "queue": queue, "caller": map[string]any{"id": caller, "name": "홍길동"},
		"context": map[string]any{"summary": "증명서 발급 문의", "ivr": []string{"1", "3"}}}
}

type created struct {
	ContactID    string `json:"contact_id"`
	CaseID       string `json:"case_id"`
	Status       string `json:"status"`
	Position     int    `json:"position"`
	CitizenToken string `json:"citizen_token"`
	CaseToken    string `json:"case_token"`
	// Device is the chat device cookie the answer set, if it set one.
	Device string `json:"-"`
}

// withDevice sends a chat device cookie.
func withDevice(device string) reqOpt {
	return func(r *http.Request) { r.AddCookie(&http.Cookie{Name: deviceCookie, Value: device}) }
}

func (r *response) device() string {
	for _, c := range r.cookies {
		if c.Name == deviceCookie {
			return c.Value
		}
	}
	return ""
}

func (h *harness) chat(t *testing.T, queue, caller string) created {
	t.Helper()
	var c created
	r := h.do(http.MethodPost, "/v1/contacts", asAnon, chatBody(queue, caller), withHeader("X-Forwarded-For", "198.51.100."+caller[len(caller)-1:]))
	if r.wantStatus(t, http.StatusCreated) {
		r.decode(t, &c)
		c.Device = r.device()
	}
	return c
}

func TestCreateChatContact(t *testing.T) {
	h := newHarness(t, sqltest.Open(t, "sqlite"))
	c := h.chat(t, "gov110.general", "caller-1")
	if c.ContactID == "" || c.CaseID == "" || c.CitizenToken == "" || c.Status != "queued" || c.Position != 1 {
		t.Fatalf("POST /v1/contacts = %+v; want ids, a citizen token, queued at position 1", c)
	}
	c2 := h.chat(t, "gov110.general", "caller-2")
	if c2.Position != 2 {
		t.Errorf("second caller's position = %d; want 2", c2.Position)
	}

	if c.Device == "" || c.CaseToken == "" {
		t.Fatalf("POST /v1/contacts = %+v; want a device cookie and a case token", c)
	}
	// Another device typing the same caller id is another conversation:
	// what a chat user types proves nothing and holds no place.
	same := h.chat(t, "gov110.general", "caller-1")
	h.do(http.MethodDelete, "/v1/contacts/"+same.ContactID, asAnon, nil, withHeader("X-Citizen-Token", same.CitizenToken)).wantStatus(t, http.StatusNoContent)

	// The same device again: 409 with the existing contact, no new place.
	r := h.do(http.MethodPost, "/v1/contacts", asAnon, chatBody("gov110.general", "caller-9"), withDevice(c.Device), withOrigin(h.ts.URL))
	r.wantStatus(t, http.StatusConflict)
	var dup struct {
		Error     apiError `json:"error"`
		ContactID string   `json:"contact_id"`
	}
	if r.decode(t, &dup) && (dup.ContactID != c.ContactID || dup.Error.Code != codeConflict) {
		t.Errorf("duplicate caller answer = %+v; want conflict with contact_id %s", dup, c.ContactID)
	}
	if w, _ := h.router.Waiting("gov110.general"); len(w) != 2 {
		t.Errorf("waiting after a duplicate = %d; want 2", len(w))
	}

	// The citizen reads their place with the token; others cannot.
	var st contactStatus
	if r := h.do(http.MethodGet, "/v1/contacts/"+c2.ContactID+"?token="+c2.CitizenToken, asAnon, nil); r.wantStatus(t, http.StatusOK) {
		r.decode(t, &st)
		if st.Position != 2 || st.Status != "queued" || st.Queue != "gov110.general" {
			t.Errorf("GET contact = %+v; want queued at 2 in gov110.general", st)
		}
	}
	// Whoever may not see it hears what an unknown contact's id hears.
	h.do(http.MethodGet, "/v1/contacts/"+c2.ContactID+"?token="+c.CitizenToken, asAnon, nil).wantError(t, http.StatusNotFound, codeNotFound, "")
	h.do(http.MethodGet, "/v1/contacts/"+c2.ContactID, asAnon, nil).wantError(t, http.StatusUnauthorized, codeUnauthorized, "")
	h.do(http.MethodGet, "/v1/contacts/"+c2.ContactID, asOtherSup, nil).wantError(t, http.StatusNotFound, codeNotFound, "")
	h.do(http.MethodGet, "/v1/contacts/"+c2.ContactID, asOtherAgent, nil).wantError(t, http.StatusNotFound, codeNotFound, "")
	h.do(http.MethodGet, "/v1/contacts/"+c2.ContactID, asSup, nil).wantStatus(t, http.StatusOK)
	h.do(http.MethodGet, "/v1/contacts/"+c2.ContactID, asGateway, nil).wantError(t, http.StatusNotFound, codeNotFound, "") // a chat
	h.do(http.MethodGet, "/v1/contacts/nope?token=x", asAnon, nil).wantError(t, http.StatusNotFound, codeNotFound, "")

	// Leaving: the first caller abandons, the second moves up.
	h.do(http.MethodDelete, "/v1/contacts/"+c.ContactID+"?token="+c2.CitizenToken, asAnon, nil).wantStatus(t, http.StatusNotFound)
	h.do(http.MethodDelete, "/v1/contacts/"+c.ContactID, asAnon, nil, withHeader("X-Citizen-Token", c.CitizenToken)).wantStatus(t, http.StatusNoContent)
	if p, _ := h.router.Position(c2.ContactID); p != 1 {
		t.Errorf("position after the caller ahead left = %d; want 1", p)
	}
}

func TestCreateContactValidation(t *testing.T) {
	h := newHarness(t, sqltest.Open(t, "sqlite"))
	body := func(edit func(m map[string]any)) map[string]any {
		m := chatBody("gov110.general", "c-valid")
		edit(m)
		return m
	}
	tests := []struct {
		name  string
		body  any
		field string
	}{
		{"no channel", body(func(m map[string]any) { delete(m, "channel") }), "channel"},
		{"bad channel", body(func(m map[string]any) { m["channel"] = "fax" }), "channel"},
		{"unknown queue", body(func(m map[string]any) { m["queue"] = "gov110.nope" }), "queue"},
		{"no caller id", body(func(m map[string]any) { m["caller"] = map[string]any{"name": "x"} }), "caller.id"},
		{"bad language", body(func(m map[string]any) { m["caller"] = map[string]any{"id": "c", "language": "k o!"} }), "caller.language"},
		{"chat priority", body(func(m map[string]any) { m["priority"] = 5 }), "priority"},
		{"long summary", body(func(m map[string]any) {
			m["context"] = map[string]any{"summary": strings.Repeat("가", 4001)}
		}), "context.summary"},
		{"unknown field", body(func(m map[string]any) { m["vip"] = true }), "vip"},
		{"wrong type", rawBody(`{"channel":"chat","queue":"gov110.general","caller":{"id":7}}`), "caller.id"},
		{"case of another caller", body(func(m map[string]any) { m["case_id"] = "cs-missing" }), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do(http.MethodPost, "/v1/contacts", asAnon, tt.body, withHeader("X-Forwarded-For", "192.0.2.1"))
			if tt.field == "" {
				if r.status < 400 || r.status >= 500 {
					t.Errorf("%s = %d; want a 4xx", r, r.status)
				}
			} else {
				r.wantError(t, http.StatusBadRequest, codeValidation, tt.field)
			}
		})
	}
	if w, _ := h.router.Waiting("gov110.general"); len(w) != 0 {
		t.Errorf("%d contacts waiting after only bad requests; want 0", len(w))
	}
	// 4000 Korean characters are within the limit (characters, not bytes).
	ok := body(func(m map[string]any) { m["context"] = map[string]any{"summary": strings.Repeat("가", 4000)} })
	h.do(http.MethodPost, "/v1/contacts", asAnon, ok).wantStatus(t, http.StatusCreated)
}

func TestVoiceContactsComeFromTheGateway(t *testing.T) {
	h := newHarness(t, sqltest.Open(t, "sqlite"))
	voice := map[string]any{"channel": "voice", "queue": "gov110.general", "caller": map[string]any{"id": "+8210"}, "priority": 3}
	h.do(http.MethodPost, "/v1/contacts", asAnon, voice).wantError(t, http.StatusUnauthorized, codeUnauthorized, "")
	h.do(http.MethodPost, "/v1/contacts", asAgent, voice).wantError(t, http.StatusForbidden, codeForbidden, "channel")
	h.do(http.MethodPost, "/v1/contacts", asAdmin, voice).wantError(t, http.StatusForbidden, codeForbidden, "channel")
	other := map[string]any{"channel": "voice", "queue": "nts126.tax", "caller": map[string]any{"id": "+8210"}}
	h.do(http.MethodPost, "/v1/contacts", asGateway, other).wantError(t, http.StatusForbidden, codeForbidden, "channel")
	h.do(http.MethodPost, "/v1/contacts", asGateway, voice).wantStatus(t, http.StatusCreated)
	cb := map[string]any{"channel": "callback", "queue": "gov110.general", "caller": map[string]any{"id": "+8211"}}
	// The seeded queue takes voice and chat only.
	h.do(http.MethodPost, "/v1/contacts", asGateway, cb).wantError(t, http.StatusBadRequest, codeValidation, "channel")
}

func TestChatIsRateLimitedPerAddress(t *testing.T) {
	h := newHarness(t, sqltest.Open(t, "sqlite"), func(c *Config) { c.ChatBurst = 2; c.TrustedProxies = loopbackProxies })
	from := withHeader("X-Forwarded-For", "203.0.113.77")
	h.do(http.MethodPost, "/v1/contacts", asAnon, chatBody("gov110.general", "r1"), from).wantStatus(t, http.StatusCreated)
	h.do(http.MethodPost, "/v1/contacts", asAnon, chatBody("gov110.general", "r2"), from).wantStatus(t, http.StatusCreated)
	r := h.do(http.MethodPost, "/v1/contacts", asAnon, chatBody("gov110.general", "r3"), from)
	r.wantError(t, http.StatusTooManyRequests, codeRateLimited, "")
	if r.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	h.do(http.MethodPost, "/v1/contacts", asAnon, chatBody("gov110.general", "r4"), withHeader("X-Forwarded-For", "203.0.113.78")).wantStatus(t, http.StatusCreated)
}

func TestCaseIsolation(t *testing.T) {
	h := newHarness(t, sqltest.Open(t, "sqlite"))
	c := h.chat(t, "gov110.general", "iso-1")
	// Before anyone answers, only the agency's supervisor and admins see it.
	for as, want := range map[string]int{
		asAnon: 401, asAdmin: 200, asSup: 200, asOtherSup: 404, asAgent: 404, asOtherAgent: 404, asGateway: 404,
	} {
		h.do(http.MethodGet, "/v1/cases/"+c.CaseID, as, nil).wantStatus(t, want)
	}
	// The gov110 agent answers: now they may read it.
	h.answer(t, asAgent, c.ContactID)
	r := h.do(http.MethodGet, "/v1/cases/"+c.CaseID, asAgent, nil)
	r.wantStatus(t, http.StatusOK)
	var cs struct {
		CaseID string `json:"case_id"`
		Legs   []struct {
			Agent  string `json:"agent"`
			Agency string `json:"agency"`
		} `json:"legs"`
		Events []json.RawMessage `json:"events"`
	}
	if r.decode(t, &cs) && (cs.CaseID != c.CaseID || len(cs.Legs) != 1 || cs.Legs[0].Agent != asAgent || len(cs.Events) == 0) {
		t.Errorf("GET case = %+v; want one leg answered by %s and a timeline", cs, asAgent)
	}
	h.do(http.MethodGet, "/v1/cases/"+c.CaseID, asOtherAgent, nil).wantStatus(t, http.StatusNotFound)
	h.do(http.MethodGet, "/v1/cases/nope", asAdmin, nil).wantStatus(t, http.StatusNotFound)
}

func TestDirectoryChangesReachTheRouter(t *testing.T) {
	h := newHarness(t, sqltest.Open(t, "sqlite"))
	// A queue created through the API takes contacts at once.
	h.do(http.MethodPost, "/v1/agencies/gov110/queues", asSup, map[string]any{"id": "passport", "name": "여권", "channels": []string{"chat"}}).wantStatus(t, http.StatusCreated)
	c := h.chat(t, "gov110.passport", "dir-1")
	// It cannot be deleted while someone waits in it, and stays.
	h.do(http.MethodDelete, "/v1/queues/gov110.passport", asSup, nil).wantError(t, http.StatusConflict, codeConflict, "")
	if _, ok := h.getQueue("gov110.passport"); !ok {
		t.Fatal("a refused delete removed the queue from the directory")
	}
	if _, err := h.router.Queue("gov110.passport"); err != nil {
		t.Fatalf("a refused delete removed the queue from the router: %v", err)
	}
	// A PATCH that drops chat applies to the next contact.
	h.do(http.MethodPatch, "/v1/queues/gov110.passport", asSup, map[string]any{"channels": []string{"voice"}}).wantStatus(t, http.StatusOK)
	h.do(http.MethodPost, "/v1/contacts", asAnon, chatBody("gov110.passport", "dir-2")).wantError(t, http.StatusBadRequest, codeValidation, "channel")
	// Once empty it can go, from both.
	h.do(http.MethodDelete, "/v1/contacts/"+c.ContactID+"?token="+c.CitizenToken, asAnon, nil).wantStatus(t, http.StatusNoContent)
	h.do(http.MethodDelete, "/v1/queues/gov110.passport", asSup, nil).wantStatus(t, http.StatusNoContent)
	if _, err := h.router.Queue("gov110.passport"); err == nil {
		t.Error("a deleted queue is still in the router")
	}

	// A new agent created through the API can be routed to.
	h.do(http.MethodPost, "/v1/users", asSup, map[string]any{"username": "new.agent", "name": "새 상담사", "password": testPassword,
		"role": "agent", "agency": "gov110", "queues": []map[string]any{{"queue": "gov110.general", "level": 2}}}).wantStatus(t, http.StatusCreated)
	a, err := h.router.Agent("new.agent")
	if err != nil || a.Queues["gov110.general"] != 2 {
		t.Fatalf("router's copy of the new agent = %+v, %v; want a member of gov110.general at level 2", a, err)
	}
	// An agent holding a contact cannot be deleted.
	if _, _, err := h.router.Connect("new.agent"); err != nil {
		t.Fatal(err)
	}
	h.router.SetState("new.agent", router.StateAvailable, "")
	h.chat(t, "gov110.general", "dir-3")
	h.do(http.MethodDelete, "/v1/users/new.agent", asSup, nil).wantError(t, http.StatusConflict, codeConflict, "")
	if _, ok := h.getUser("new.agent"); !ok {
		t.Fatal("a refused delete removed the agent from the directory")
	}
}

func TestWebSocketEndpointsCheckWhoConnects(t *testing.T) {
	h := newHarness(t, sqltest.Open(t, "sqlite"))
	c := h.chat(t, "gov110.general", "ws-1")
	h.do(http.MethodGet, "/v1/agent/ws", asAnon, nil).wantStatus(t, http.StatusUnauthorized)
	h.do(http.MethodGet, "/v1/agent/ws", asSup, nil).wantStatus(t, http.StatusForbidden)
	h.do(http.MethodGet, "/v1/gateway/ws", asAgent, nil).wantStatus(t, http.StatusForbidden)
	h.do(http.MethodGet, "/v1/contacts/"+c.ContactID+"/ws", asAnon, nil).wantError(t, http.StatusUnauthorized, codeUnauthorized, "token")
	h.do(http.MethodGet, "/v1/contacts/"+c.ContactID+"/ws?token=bad", asAnon, nil).wantError(t, http.StatusNotFound, codeNotFound, "")
}

func TestLiveCaseIsMaskedByRole(t *testing.T) {
	h := newHarness(t, sqltest.Open(t, "sqlite"))
	body := chatBody("gov110.general", "mask-1")
	body["context"] = map[string]any{"summary": "주민번호 900101-1234567, 연락처 010-1234-5678"}
	var c created
	if r := h.do(http.MethodPost, "/v1/contacts", asAnon, body); r.wantStatus(t, http.StatusCreated) {
		r.decode(t, &c)
	}
	read := func(as string) string {
		t.Helper()
		r := h.do(http.MethodGet, "/v1/cases/"+c.CaseID, as, nil)
		r.wantStatus(t, http.StatusOK)
		return string(r.body)
	}
	got := read(asSup)
	if strings.Contains(got, "1234567") || !strings.Contains(got, "900101-1******") {
		t.Errorf("a supervisor reads the RRN unmasked: %s", got)
	}
	if strings.Contains(got, "010-1234-5678") {
		t.Errorf("a supervisor without pii reads the phone number: %s", got)
	}
	// With the pii permission the phone number shows; the RRN never does.
	h.do(http.MethodPatch, "/v1/users/"+asAdmin, asAdmin, map[string]any{"pii": true}).wantStatus(t, http.StatusOK)
	got = read(asAdmin)
	if !strings.Contains(got, "010-1234-5678") || strings.Contains(got, "1234567,") {
		t.Errorf("an admin with pii reads %s; want the phone number and a masked RRN", got)
	}
}
