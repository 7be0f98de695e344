package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"tellonce/router"
	"tellonce/sql/sqltest"
)

// transferTargetsAnswer is the exact shape of GET /v1/transfer-targets.
type transferTargetsAnswer struct {
	Agencies []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"agencies"`
	Queues []struct {
		ID         string   `json:"id"`
		Agency     string   `json:"agency"`
		AgencyName string   `json:"agency_name"`
		Name       string   `json:"name"`
		Channels   []string `json:"channels"`
	} `json:"queues"`
	Agents []struct {
		Username string `json:"username"`
		Name     string `json:"name"`
		Agency   string `json:"agency"`
	} `json:"agents"`
}

func TestTransferTargets(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newHarness(t, b)

		for _, c := range []struct {
			as     string
			status int
		}{
			{asAnon, http.StatusUnauthorized},
			{asGateway, http.StatusForbidden},
			{asAdmin, http.StatusOK},
			{asSup, http.StatusOK},
			{asAgent, http.StatusOK},
		} {
			r := h.do(http.MethodGet, "/v1/transfer-targets", c.as, nil)
			if c.status != http.StatusOK {
				r.wantError(t, c.status, map[int]string{401: codeUnauthorized, 403: codeForbidden}[c.status], "")
				continue
			}
			r.wantStatus(t, http.StatusOK)
		}

		// Interpreters are asked for, never transferred to.
		h.do(http.MethodPost, "/v1/agencies/nts126/queues", asAdmin, map[string]any{"id": "interp", "name": "Interpreters",
			"channels": []string{"chat"}, "kind": "interpreter"}).wantStatus(t, http.StatusCreated)
		h.do(http.MethodPost, "/v1/users", asAdmin, map[string]any{"username": "interp-agent", "name": "Interpreter",
			"password": testPassword, "role": "agent", "agency": "nts126",
			"queues": []map[string]any{{"queue": "nts126.interp", "level": 1}}}).wantStatus(t, http.StatusCreated)

		// An agent sees every agency's queues and agents, by name only.
		r := h.do(http.MethodGet, "/v1/transfer-targets", asAgent, nil)
		var out transferTargetsAnswer
		dec := json.NewDecoder(bytes.NewReader(r.body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&out); err != nil {
			t.Fatalf("%s: not the transfer-targets shape (no skills, memberships or settings): %v\n  body: %s", r, err, truncate(r.body))
		}
		var queues, agents []string
		for _, q := range out.Queues {
			queues = append(queues, q.ID)
			if q.ID == "nts126.tax" && (q.AgencyName != "Agency nts126" || q.Name != "Queue tax" || !slices.Contains(q.Channels, "chat")) {
				t.Errorf("queue nts126.tax = %+v; want its agency's name, its name and its channels", q)
			}
		}
		for _, a := range out.Agents {
			agents = append(agents, a.Username)
		}
		if !slices.Contains(queues, "nts126.tax") || !slices.Contains(queues, "gov110.general") {
			t.Errorf("queues %v; want every agency's", queues)
		}
		if !slices.Contains(agents, asOtherAgent) {
			t.Errorf("agents %v; want the other agency's agent %s", agents, asOtherAgent)
		}
		if slices.Contains(agents, asAgent) {
			t.Errorf("agents %v include the caller %s, who cannot transfer to themselves", agents, asAgent)
		}
		for _, u := range []string{asSup, asAdmin, asGateway} {
			if slices.Contains(agents, u) {
				t.Errorf("agents %v include %s, who is not an agent", agents, u)
			}
		}
		if slices.Contains(queues, "nts126.interp") || slices.Contains(agents, "interp-agent") {
			t.Errorf("targets list the interpreter queue or its agent: %v, %v", queues, agents)
		}
		if len(out.Agencies) != 2 {
			t.Errorf("agencies %+v; want both", out.Agencies)
		}
	})
}

// A citizen reads back the messages of their own case with their token,
// and nothing else of it.
func TestChatMessagesCatchUp(t *testing.T) {
	h := newHarness(t, sqltest.Open(t, "sqlite"))
	r := h.do(http.MethodPost, "/v1/contacts", asAnon, map[string]any{"channel": "chat", "queue": "gov110.general",
		"caller": map[string]string{"id": "catch-up-caller", "name": "홍길동"}, "context": map[string]any{"summary": "처음 문의"}})
	var c struct {
		ContactID    string `json:"contact_id"`
		CitizenToken string `json:"citizen_token"`
	}
	if !r.wantStatus(t, http.StatusCreated) || !r.decode(t, &c) {
		t.FailNow()
	}
	if _, err := h.router.Say(router.AsCitizen(), c.ContactID, "여권을 잃어버렸어요"); err != nil {
		t.Fatal(err)
	}
	path := "/v1/contacts/" + c.ContactID + "/messages"
	h.do(http.MethodGet, path, asAnon, nil).wantError(t, http.StatusUnauthorized, codeUnauthorized, "token")
	h.do(http.MethodGet, path+"?token=not-the-token", asAnon, nil).wantError(t, http.StatusNotFound, codeNotFound, "")
	// A staff session is no citizen token: the case view is elsewhere.
	h.do(http.MethodGet, path, asAdmin, nil).wantError(t, http.StatusUnauthorized, codeUnauthorized, "token")

	r = h.do(http.MethodGet, path+"?token="+c.CitizenToken, asAnon, nil)
	var out struct {
		Items []struct {
			Seq  int64  `json:"seq"`
			From string `json:"from"`
			Text string `json:"text"`
			At   string `json:"at"`
		} `json:"items"`
	}
	if !r.wantStatus(t, http.StatusOK) || !r.decode(t, &out) {
		t.FailNow()
	}
	if len(out.Items) != 1 || out.Items[0].From != "citizen" || out.Items[0].Text != "여권을 잃어버렸어요" || out.Items[0].At == "" {
		t.Errorf("messages = %+v; want only the citizen's one message (not the contact's summary)", out.Items)
	}
}

// An interpreter's words read back as the interpreter's, as they arrived.
func TestChatMessagesCatchUpNamesTheInterpreter(t *testing.T) {
	h := newHarness(t, sqltest.Open(t, "sqlite"))
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(h.router.UpsertQueue(router.QueueConfig{ID: "lang.pool", Agency: "lang", Name: "Interpreters",
		Kind: router.QueueInterpreter, Channels: []router.Channel{router.ChannelChat}}))
	must(h.router.UpsertAgent(router.AgentProfile{Username: "nam", Name: "Nguyen Nam", Agency: "lang",
		Queues: map[string]int{"lang.pool": 1}, Skills: map[string]int{"lang:vi": 3}}))
	c := h.chat(t, "gov110.general", "caller-1")
	for _, u := range []string{asAgent, "nam"} {
		_, _, err := h.router.Connect(u)
		must(nil, err)
		must(h.router.SetState(u, router.StateAvailable, ""))
	}
	offered, err := h.router.Contact(c.ContactID)
	must(nil, err)
	must(h.router.Accept(asAgent, offered.OfferID))
	leg, _, err := h.router.Interpret(asAgent, c.ContactID, "vi", "")
	must(nil, err)
	leg, err = h.router.Contact(leg.ID)
	must(nil, err)
	must(h.router.Accept("nam", leg.OfferID))
	must(h.router.Say(router.AsAgent("nam"), leg.ID, "xin chào"))

	var out struct {
		Items []struct {
			From      string `json:"from"`
			AgentName string `json:"agent_name"`
		} `json:"items"`
	}
	r := h.do(http.MethodGet, "/v1/contacts/"+c.ContactID+"/messages?token="+c.CitizenToken, asAnon, nil)
	if !r.wantStatus(t, http.StatusOK) || !r.decode(t, &out) {
		t.FailNow()
	}
	if len(out.Items) != 1 || out.Items[0].From != "interpreter" || out.Items[0].AgentName != "Nguyen Nam" {
		t.Errorf("messages = %+v; want the interpreter's message as theirs", out.Items)
	}
}
