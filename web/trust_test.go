package web

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"tellonce/router"
	"tellonce/sql/sqltest"
	"tellonce/transcripts"
)

// The takeover that an anonymous chat could do with nothing but a
// stranger's phone number, step by step, and the squatting, id and
// cross-site holes found with it: each refused, the victim's case
// untouched, and the refusals in the access audit.

const victimNumber = "01055512345"

// withAudit gives the harness's server a Review, so refusals are audited.
func withAudit(t *testing.T, h *harness) {
	t.Helper()
	rv, err := transcripts.NewReview(h.db, transcripts.ReviewOptions{Now: h.clock.Now, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	h.server.review = rv
}

func (h *harness) auditOf(t *testing.T, action string) []transcripts.AuditEntry {
	t.Helper()
	var rows []transcripts.AuditEntry
	if err := h.db.SelectContext(h.ctx(), &rows, h.db.Rebind(`SELECT id, at, username, role, agency_id, client_addr, action,
		case_id, query, format, reason, outcome FROM access_audit WHERE action = ? ORDER BY id`), action); err != nil {
		t.Fatal(err)
	}
	return rows
}

// victimCall is a phone call the gateway put in line for victimNumber.
func (h *harness) victimCall(t *testing.T) created {
	t.Helper()
	var c created
	r := h.do(http.MethodPost, "/v1/contacts", asGateway, map[string]any{"channel": "voice", "queue": "gov110.general",
		"caller": map[string]any{"id": victimNumber, "name": "피해자"}, "context": map[string]any{"summary": "세금 체납 상담, 건강 문제"}})
	if r.wantStatus(t, http.StatusCreated) {
		r.decode(t, &c)
	}
	return c
}

func (h *harness) chatAs(t *testing.T, body map[string]any, opts ...reqOpt) *response {
	t.Helper()
	return h.do(http.MethodPost, "/v1/contacts", asAnon, body, opts...)
}

func TestAnonymousChatCannotTakeOverAStrangersCase(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newHarness(t, b)
		withAudit(t, h)
		victim := h.victimCall(t)

		// Step 1: a chat typing the victim's number, in the victim's
		// queue, is a conversation of its own — no 409, no victim's id.
		r := h.chatAs(t, chatBody("gov110.general", victimNumber))
		var mine created
		if r.wantStatus(t, http.StatusCreated) {
			r.decode(t, &mine)
		}
		if mine.ContactID == victim.ContactID || mine.CaseID == victim.CaseID || strings.Contains(string(r.body), victim.ContactID) {
			t.Fatalf("a chat typing the victim's number got %s; it must get a contact and case of its own", r.body)
		}

		// Step 2: continuing the victim's case — without proof, with a
		// forged proof, or with the attacker's own case's proof — is
		// answered exactly as a case that does not exist.
		cont := func(caseID, token string) *response {
			body := chatBody("nts126.tax", victimNumber)
			body["case_id"] = caseID
			if token != "" {
				body["case_token"] = token
			}
			return h.chatAs(t, body)
		}
		unknown := cont("cs-does-not-exist", "")
		unknown.wantError(t, http.StatusNotFound, codeNotFound, "case_id")
		for name, r := range map[string]*response{
			"no proof":             cont(victim.CaseID, ""),
			"a forged proof":       cont(victim.CaseID, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
			"another case's proof": cont(victim.CaseID, mine.CaseToken),
		} {
			r.wantError(t, http.StatusNotFound, codeNotFound, "case_id")
			if got, want := strings.ReplaceAll(string(r.body), victim.CaseID, "ID"), strings.ReplaceAll(string(unknown.body), "cs-does-not-exist", "ID"); got != want {
				t.Errorf("%s: answer %s differs from an unknown case's %s", name, got, want)
			}
		}

		// Step 3: the attacker's token reaches nothing of the victim's.
		h.do(http.MethodGet, "/v1/contacts/"+victim.ContactID+"?token="+mine.CitizenToken, asAnon, nil).wantError(t, http.StatusNotFound, codeNotFound, "")
		h.do(http.MethodDelete, "/v1/contacts/"+victim.ContactID+"?token="+mine.CitizenToken, asAnon, nil).wantError(t, http.StatusNotFound, codeNotFound, "")
		h.do(http.MethodPost, "/v1/contacts/"+victim.ContactID+"/callback?token="+mine.CitizenToken, asAnon, map[string]any{"number": "0101234"}).
			wantError(t, http.StatusNotFound, codeNotFound, "")
		if _, resp, err := websocket.DefaultDialer.Dial(wsURL(h, "/v1/contacts/"+victim.ContactID+"/ws?token="+mine.CitizenToken), nil); err == nil || resp == nil || resp.StatusCode != http.StatusNotFound {
			t.Errorf("following the victim's contact with the attacker's token: %v; want 404", err)
		}

		// The victim's case is untouched: one leg, still waiting, nobody
		// else's words in it.
		cs, err := h.router.Case(victim.CaseID)
		if err != nil {
			t.Fatal(err)
		}
		if len(cs.Legs) != 1 {
			t.Errorf("the victim's case has %d legs; want 1", len(cs.Legs))
		}
		if c, err := h.router.Contact(victim.ContactID); err != nil || c.Status != router.StatusQueued {
			t.Errorf("the victim's call is %+v (%v); want still queued", c.Status, err)
		}

		// Every refusal on the victim's data is in the access audit.
		if rows := h.auditOf(t, transcripts.ActionContinue); len(rows) < 3 {
			t.Errorf("refused continuations audited: %d; want at least 3", len(rows))
		} else if rows[1].CaseID != victim.CaseID || rows[1].Outcome != transcripts.OutcomeDenied || rows[1].Role != "citizen" {
			t.Errorf("audit row %+v; want a citizen's denied continuation of %s", rows[1], victim.CaseID)
		}
		if rows := h.auditOf(t, transcripts.ActionContact); len(rows) != 4 {
			t.Errorf("refused contact reads, ends, callbacks and follows audited: %d; want 4: %+v", len(rows), rows)
		}
	})
}

func wsURL(h *harness, path string) string {
	return "ws" + strings.TrimPrefix(h.ts.URL, "http") + path
}

// A citizen token follows its own chain of legs, never another contact on
// the same case: a second device that continued the case (legitimately,
// with the case token) and left does not follow the first device's call.
func TestCitizenTokenStaysWithItsContact(t *testing.T) {
	h := newHarness(t, sqltest.Open(t, "sqlite"))
	first := h.chat(t, "gov110.general", "own-1")
	body := chatBody("nts126.tax", "own-1")
	body["case_id"], body["case_token"] = first.CaseID, first.CaseToken
	var second created
	if r := h.chatAs(t, body); r.wantStatus(t, http.StatusCreated) {
		r.decode(t, &second)
	}
	if second.CaseID != first.CaseID {
		t.Fatalf("continuing with the case token opened case %s; want %s", second.CaseID, first.CaseID)
	}
	h.do(http.MethodDelete, "/v1/contacts/"+second.ContactID, asAnon, nil, withHeader("X-Citizen-Token", second.CitizenToken)).wantStatus(t, http.StatusNoContent)

	// The ended contact is gone from the line but its case is open (the
	// first contact waits): its socket hears "ended", not the first call.
	ws, _, err := websocket.DefaultDialer.Dial(wsURL(h, "/v1/contacts/"+second.ContactID+"/ws?token="+second.CitizenToken), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	var f map[string]any
	if err := ws.ReadJSON(&f); err != nil {
		t.Fatal(err)
	}
	if f["type"] != "ended" {
		t.Errorf("the left contact's socket heard %v; want ended", f)
	}
	h.do(http.MethodGet, "/v1/contacts/"+first.ContactID+"?token="+second.CitizenToken, asAnon, nil).wantError(t, http.StatusNotFound, codeNotFound, "")
}

// A phone caller and a chat that types the same number hold a place each,
// whichever comes first; the same number twice, or the same device twice,
// hold one. No answer to a chat tells whether a number holds a place or a
// booked callback.
func TestNoSquattingEitherWay(t *testing.T) {
	h := newHarness(t, sqltest.Open(t, "sqlite"))
	squat := h.chatAs(t, chatBody("gov110.general", victimNumber))
	squat.wantStatus(t, http.StatusCreated)
	victim := h.victimCall(t) // the phone is not locked out
	h.chatAs(t, chatBody("gov110.general", victimNumber)).wantStatus(t, http.StatusCreated)
	r := h.do(http.MethodPost, "/v1/contacts", asGateway, map[string]any{"channel": "voice", "queue": "gov110.general",
		"caller": map[string]any{"id": victimNumber}})
	r.wantStatus(t, http.StatusConflict)
	var dup struct {
		ContactID string `json:"contact_id"`
	}
	if r.decode(t, &dup) && dup.ContactID != victim.ContactID {
		t.Errorf("the same number's second call names %s; want its own %s", dup.ContactID, victim.ContactID)
	}
	device := squat.device()
	h.chatAs(t, chatBody("gov110.general", "anything"), withDevice(device), withOrigin(h.ts.URL)).wantStatus(t, http.StatusConflict)
}

// Ids are unguessable: two contacts made one after the other share at
// most the time they were made (the first ten characters); the 80 random
// bits after it (the last sixteen) are each their own, not a counter's.
func TestIDsAreNotSequential(t *testing.T) {
	h := newHarness(t, sqltest.Open(t, "sqlite"))
	a := h.chat(t, "gov110.general", "seq-1")
	b := h.chat(t, "gov110.general", "seq-2")
	for _, p := range [][2]string{{a.ContactID, b.ContactID}, {a.CaseID, b.CaseID}} {
		if len(p[0]) != len("ct-")+26 || len(p[1]) != len("ct-")+26 {
			t.Fatalf("ids %s and %s: want a kind, a dash and 26 characters", p[0], p[1])
		}
		x, y := p[0][len(p[0])-16:], p[1][len(p[1])-16:]
		common := 0
		for common < len(x) && x[common] == y[common] {
			common++
		}
		if common > 2 {
			t.Errorf("ids %s and %s share the start of their random part", p[0], p[1])
		}
	}
}

// Who may end a contact, and what the timeline then says.
func TestWhoMayEndAContact(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newHarness(t, b)
		end := func(as, id string, opts ...reqOpt) *response {
			return h.do(http.MethodDelete, "/v1/contacts/"+id, as, nil, opts...)
		}
		actorOf := func(t *testing.T, caseID string) string {
			t.Helper()
			a, _ := h.enders.Load(caseID)
			s, _ := a.(string)
			return s
		}

		// Offered to the agent, not accepted: the agent may not end it.
		h.online(t, asAgent)
		c := h.chat(t, "gov110.general", "end-1")
		if cv, _ := h.router.Contact(c.ContactID); cv.Status != router.StatusOffered {
			t.Fatalf("contact is %s; want offered to %s", cv.Status, asAgent)
		}
		end(asAgent, c.ContactID).wantError(t, http.StatusForbidden, codeForbidden, "")
		end(asOtherSup, c.ContactID).wantError(t, http.StatusNotFound, codeNotFound, "")
		end(asOtherAgent, c.ContactID).wantError(t, http.StatusNotFound, codeNotFound, "")
		end(asGateway, c.ContactID).wantError(t, http.StatusNotFound, codeNotFound, "") // a chat
		end(asAdmin, c.ContactID).wantError(t, http.StatusForbidden, codeForbidden, "")
		if cv, _ := h.router.Contact(c.ContactID); cv.Status != router.StatusOffered {
			t.Fatalf("refused ends left the contact %s; want still offered", cv.Status)
		}
		// Its agency's supervisor may; the timeline names them.
		end(asSup, c.ContactID).wantStatus(t, http.StatusNoContent)
		if a := actorOf(t, c.CaseID); a != "supervisor:"+asSup {
			t.Errorf("ended by %q; want supervisor:%s", a, asSup)
		}

		// The agent holding a contact may end it.
		c = h.chat(t, "gov110.general", "end-2")
		h.answer(t, asAgent, c.ContactID)
		end(asAgent, c.ContactID).wantStatus(t, http.StatusNoContent)
		if a := actorOf(t, c.CaseID); a != "agent:"+asAgent {
			t.Errorf("ended by %q; want agent:%s", a, asAgent)
		}

		// The gateway ends its own calls.
		v := h.victimCall(t)
		end(asGateway, v.ContactID).wantStatus(t, http.StatusNoContent)
		if a := actorOf(t, v.CaseID); a != "gateway:"+asGateway {
			t.Errorf("ended by %q; want gateway:%s", a, asGateway)
		}
	})
}

// Each contact endpoint a browser can reach with cookies refuses another
// site's page, and changes nothing.
func TestContactWritesCheckOrigin(t *testing.T) {
	h := newHarness(t, sqltest.Open(t, "sqlite"), func(c *Config) { c.AllowedOrigins = []string{"https://chat.example.org"} })
	h.offerCallbacks(t, 1)
	c := h.chat(t, "gov110.general", "xs-1")
	dev := withDevice(c.Device)
	foreign := withOrigin("https://evil.example")
	otherScheme := withOrigin(strings.Replace(h.ts.URL, "http://", "https://", 1))
	otherPort := withOrigin(h.ts.URL + "1")
	token := withHeader("X-Citizen-Token", c.CitizenToken)
	for _, tc := range []struct {
		name   string
		method string
		path   string
		body   any
		opts   []reqOpt
	}{
		{"create, foreign Origin", http.MethodPost, "/v1/contacts", chatBody("gov110.general", "xs-2"), []reqOpt{dev, foreign}},
		{"create, another scheme", http.MethodPost, "/v1/contacts", chatBody("gov110.general", "xs-2"), []reqOpt{dev, otherScheme}},
		{"create, another port", http.MethodPost, "/v1/contacts", chatBody("gov110.general", "xs-2"), []reqOpt{dev, otherPort}},
		{"create, cookie and no Origin", http.MethodPost, "/v1/contacts", chatBody("gov110.general", "xs-2"), []reqOpt{dev}},
		{"create, foreign Origin without cookies", http.MethodPost, "/v1/contacts", chatBody("gov110.general", "xs-2"), []reqOpt{foreign}},
		{"end, foreign Origin", http.MethodDelete, "/v1/contacts/" + c.ContactID, nil, []reqOpt{token, dev, foreign}},
		{"callback, foreign Origin", http.MethodPost, "/v1/contacts/" + c.ContactID + "/callback", map[string]any{"number": "01012345678"}, []reqOpt{token, dev, foreign}},
	} {
		before, _ := h.router.Waiting("gov110.general")
		h.do(tc.method, tc.path, asAnon, tc.body, tc.opts...).wantError(t, http.StatusForbidden, codeForbidden, "")
		if after, _ := h.router.Waiting("gov110.general"); len(after) != len(before) {
			t.Errorf("%s: the line went from %d to %d", tc.name, len(before), len(after))
		}
		if cv, err := h.router.Contact(c.ContactID); err != nil || cv.Status != router.StatusQueued || cv.Channel != router.ChannelChat {
			t.Errorf("%s: the contact is %+v (%v); want an untouched waiting chat", tc.name, cv.Status, err)
		}
	}
	// The own origin and a configured one pass; so does an API client.
	h.chatAs(t, chatBody("gov110.general", "xs-3"), withOrigin(h.ts.URL)).wantStatus(t, http.StatusCreated)
	h.chatAs(t, chatBody("gov110.general", "xs-4"), withOrigin("https://chat.example.org")).wantStatus(t, http.StatusCreated)
	h.chatAs(t, chatBody("gov110.general", "xs-5")).wantStatus(t, http.StatusCreated)
	h.do(http.MethodDelete, "/v1/contacts/"+c.ContactID, asAnon, nil, token, dev, withOrigin(h.ts.URL)).wantStatus(t, http.StatusNoContent)
}

// The ended frame hands the citizen the case's continuation token.
func TestEndedFrameCarriesCaseToken(t *testing.T) {
	h := newHarness(t, sqltest.Open(t, "sqlite"))
	c := h.chat(t, "gov110.general", "tok-1")
	ws, _, err := websocket.DefaultDialer.Dial(wsURL(h, "/v1/contacts/"+c.ContactID+"/ws?token="+c.CitizenToken), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	if err := ws.WriteJSON(map[string]any{"id": "l1", "type": "leave"}); err != nil {
		t.Fatal(err)
	}
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("socket closed before ended: %v", err)
		}
		var f map[string]any
		if err := json.Unmarshal(data, &f); err != nil {
			t.Fatal(err)
		}
		if f["type"] == "ended" {
			if f["case_token"] != c.CaseToken {
				t.Errorf("ended frame %v; want case_token %s", f, c.CaseToken)
			}
			return
		}
	}
}

// A frame on someone else's contact or case is refused as "not found" and
// written to the access audit with who sent it; a frame on an id that
// does not exist is refused the same way and refuses nobody's data.
func TestRefusedFramesAreAudited(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newHarness(t, b)
		withAudit(t, h)
		c := h.chat(t, "gov110.general", "frames-1")
		h.answer(t, asAgent, c.ContactID)
		other := h.openSocket(t, "/v1/agent/ws", h.tokens[asOtherAgent])
		gw := h.openSocket(t, "/v1/gateway/ws", h.tokens[asGateway])
		call := func(s *socket, f map[string]any) map[string]any {
			t.Helper()
			if err := s.ws.WriteJSON(f); err != nil {
				t.Fatal(err)
			}
			for {
				got := s.next(t)
				if got["ref"] == f["id"] {
					return got
				}
			}
		}
		for _, tc := range []struct {
			s     *socket
			frame map[string]any
			audit bool
		}{
			{other, map[string]any{"id": "a1", "type": "say", "contact_id": c.ContactID, "text": "hi"}, true},
			{other, map[string]any{"id": "a2", "type": "note", "case_id": c.CaseID, "text": "x"}, true},
			{other, map[string]any{"id": "a3", "type": "say", "contact_id": "ct-does-not-exist", "text": "hi"}, false},
			{gw, map[string]any{"id": "g1", "type": "hangup", "contact_id": c.ContactID}, true}, // a chat
			{gw, map[string]any{"id": "g2", "type": "hangup", "contact_id": "ct-does-not-exist"}, false},
		} {
			before := len(h.auditOf(t, transcripts.ActionContact))
			if f := call(tc.s, tc.frame); f["type"] != "error" || f["code"] != "not_found" {
				t.Errorf("%v answered %v; want not_found", tc.frame, f)
			}
			rows := h.auditOf(t, transcripts.ActionContact)
			switch {
			case !tc.audit && len(rows) != before:
				t.Errorf("%v on an unknown id wrote an audit row: %+v", tc.frame, rows[len(rows)-1])
			case tc.audit && len(rows) != before+1:
				t.Errorf("%v wrote %d audit rows; want 1", tc.frame, len(rows)-before)
			case tc.audit:
				r := rows[len(rows)-1]
				if r.CaseID != c.CaseID || r.Outcome != transcripts.OutcomeDenied || r.Username == "" || r.ClientAddr == "" ||
					!strings.Contains(r.Query, "op="+tc.frame["type"].(string)) {
					t.Errorf("%v: audit row %+v; want the sender, the case and the frame", tc.frame, r)
				}
			}
		}
		if cv, err := h.router.Contact(c.ContactID); err != nil || cv.Status != router.StatusAssigned {
			t.Errorf("after refused frames the contact is %v (%v); want still assigned", cv.Status, err)
		}
	})
}

// A contact or case the caller may not see is answered in the very words
// used for one that does not exist (and without credentials, both are 401).
func TestUnseenIDsReadAsUnknownOnes(t *testing.T) {
	h := newHarness(t, sqltest.Open(t, "sqlite"))
	victim := h.victimCall(t)
	mine := h.chat(t, "gov110.general", "unseen-1")
	token := withHeader("X-Citizen-Token", mine.CitizenToken)
	unknownContact, unknownCase := router.MakeID("ct", time.Now()), router.MakeID("cs", time.Now())
	for _, c := range []struct {
		name, method, path, as string
		opts                   []reqOpt
		status                 int
		code                   string
	}{
		{"a citizen reading another's contact", http.MethodGet, "/v1/contacts/{contact}", asAnon, []reqOpt{token}, http.StatusNotFound, codeNotFound},
		{"a citizen ending another's contact", http.MethodDelete, "/v1/contacts/{contact}", asAnon, []reqOpt{token}, http.StatusNotFound, codeNotFound},
		{"another agency's supervisor reading the contact", http.MethodGet, "/v1/contacts/{contact}", asOtherSup, nil, http.StatusNotFound, codeNotFound},
		{"anonymous reading a contact", http.MethodGet, "/v1/contacts/{contact}", asAnon, nil, http.StatusUnauthorized, codeUnauthorized},
		{"an agent reading a case they never handled", http.MethodGet, "/v1/cases/{case}", asAgent, nil, http.StatusNotFound, codeNotFound},
	} {
		path := func(contact, cs string) string {
			return strings.NewReplacer("{contact}", contact, "{case}", cs).Replace(c.path)
		}
		seen := h.do(c.method, path(victim.ContactID, victim.CaseID), c.as, nil, c.opts...)
		unknown := h.do(c.method, path(unknownContact, unknownCase), c.as, nil, c.opts...)
		seen.wantError(t, c.status, c.code, "")
		unknown.wantError(t, c.status, c.code, "")
		a := strings.NewReplacer(victim.ContactID, "ID", victim.CaseID, "ID").Replace(string(seen.body))
		b := strings.NewReplacer(unknownContact, "ID", unknownCase, "ID").Replace(string(unknown.body))
		if a != b {
			t.Errorf("%s: answered %s; about an id that does not exist %s", c.name, a, b)
		}
	}
}

// A citizen whose POST /v1/contacts answer was lost retries with the same
// Idempotency-Key and gets the same contact and tokens, not a conflict.
func TestIdempotentContactCreate(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newHarness(t, b)
		key := withHeader("Idempotency-Key", "retry-1")
		var first, again created
		r := h.chatAs(t, chatBody("gov110.general", "idem-1"), key)
		if r.wantStatus(t, http.StatusCreated) {
			r.decode(t, &first)
		}
		dev := withDevice(r.device())
		r = h.chatAs(t, chatBody("gov110.general", "idem-1"), key, dev, withOrigin(h.ts.URL))
		if r.wantStatus(t, http.StatusCreated) {
			r.decode(t, &again)
		}
		if again.ContactID != first.ContactID || again.CitizenToken != first.CitizenToken || again.CaseToken != first.CaseToken {
			t.Errorf("retry answered %+v; want the first contact %+v", again, first)
		}
		// Without the key the same device is told it waits already; the
		// key from another device proves nothing.
		h.chatAs(t, chatBody("gov110.general", "idem-1"), dev, withOrigin(h.ts.URL)).wantStatus(t, http.StatusConflict)
		var other created
		if r := h.chatAs(t, chatBody("gov110.general", "idem-1"), key); r.wantStatus(t, http.StatusCreated) && r.decode(t, &other) &&
			other.ContactID == first.ContactID {
			t.Error("another device with the same key got the first device's contact")
		}
		if w, _ := h.router.Waiting("gov110.general"); len(w) != 2 {
			t.Errorf("%d waiting; want 2 (one per device)", len(w))
		}
	})
}

// A device that lost its chat's tokens and starts again is told where its
// place is, with the tokens to rejoin it; nobody else ever is.
func TestAlreadyWaitingDeviceCanRejoin(t *testing.T) {
	h := newHarness(t, sqltest.Open(t, "sqlite"))
	c := h.chat(t, "gov110.general", "rejoin-1")
	r := h.chatAs(t, chatBody("gov110.general", "rejoin-1"), withDevice(c.Device), withOrigin(h.ts.URL))
	r.wantStatus(t, http.StatusConflict)
	var dup struct {
		ContactID    string `json:"contact_id"`
		CitizenToken string `json:"citizen_token"`
		CaseToken    string `json:"case_token"`
	}
	if r.decode(t, &dup) && (dup.ContactID != c.ContactID || dup.CitizenToken != c.CitizenToken || dup.CaseToken != c.CaseToken) {
		t.Errorf("409 = %+v; want the device's own contact %s and its tokens", dup, c.ContactID)
	}
	h.do(http.MethodGet, "/v1/contacts/"+dup.ContactID+"?token="+dup.CitizenToken, asAnon, nil).wantStatus(t, http.StatusOK)
}
