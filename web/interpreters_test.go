package web

import (
	"encoding/json"
	"net/http"
	"testing"

	"tellonce/directory"
	"tellonce/router"
	"tellonce/sql/sqltest"
	"tellonce/transcripts"
)

// asInterp is an interpreter of agency nts126; nts126's supervisor is
// asOtherSup.
const asInterp = "nts126-interp"

// withInterpreters adds an interpreter queue of nts126 and its
// Vietnamese interpreter to the harness's router and directory.
func withInterpreters(t *testing.T, h *harness) {
	t.Helper()
	if _, err := h.router.UpsertQueue(router.QueueConfig{ID: "nts126.interp", Agency: "nts126", Name: "통역",
		Kind: router.QueueInterpreter, Channels: []router.Channel{router.ChannelChat, router.ChannelVoice}}); err != nil {
		t.Fatal(err)
	}
	h.mkUser(asInterp, directory.RoleAgent, "nts126")
	if _, err := h.router.UpsertAgent(router.AgentProfile{Username: asInterp, Name: "Nam", Agency: "nts126",
		Queues: map[string]int{"nts126.interp": 1}, Skills: map[string]int{"lang:vi": 3}, MaxChats: 2}); err != nil {
		t.Fatal(err)
	}
	h.tokens[asInterp] = h.loginToken(asInterp, testPassword)
}

type liveCase struct {
	Caller struct {
		ID string `json:"id"`
	} `json:"caller"`
	Events []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"events"`
}

// The interpreter and their agency read what interpreting needs, only
// while the interpreter is on the contact; a request nobody answered
// gives nobody anything; every live read is audited.
func TestInterpretersReadOnlyWhileInterpreting(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newHarness(t, b)
		withAudit(t, h)
		withInterpreters(t, h)
		c := h.chat(t, "gov110.general", "interp-1")
		h.answer(t, asAgent, c.ContactID)
		if _, err := h.router.Say(router.AsCitizen(), c.ContactID, "earlier words"); err != nil {
			t.Fatal(err)
		}
		if _, err := h.router.Note(asAgent, c.CaseID, "internal note of gov110"); err != nil {
			t.Fatal(err)
		}
		read := func(as string) *response { return h.do(http.MethodGet, "/v1/cases/"+c.CaseID, as, nil) }

		// Asked for, then cancelled before anyone joined: nobody reads.
		if _, _, err := h.router.Interpret(asAgent, c.ContactID, "vi", "cancelled"); err != nil {
			t.Fatal(err)
		}
		read(asOtherSup).wantError(t, http.StatusNotFound, codeNotFound, "")
		read(asInterp).wantError(t, http.StatusNotFound, codeNotFound, "")
		if _, err := h.router.ReleaseInterpreter(asAgent, c.ContactID); err != nil {
			t.Fatal(err)
		}
		read(asOtherSup).wantError(t, http.StatusNotFound, codeNotFound, "")

		// Joined: the interpreter and their supervisor read the
		// interpreter's view; the case's own supervisor the whole case.
		h.online(t, asInterp)
		leg, _, err := h.router.Interpret(asAgent, c.ContactID, "vi", "please interpret")
		if err != nil {
			t.Fatal(err)
		}
		offered, _ := h.router.Contact(leg.ID)
		if _, err := h.router.Accept(asInterp, offered.OfferID); err != nil {
			t.Fatal(err)
		}
		if _, err := h.router.Say(router.AsCitizen(), c.ContactID, "while interpreted"); err != nil {
			t.Fatal(err)
		}
		for _, as := range []string{asInterp, asOtherSup} {
			var cs liveCase
			if r := read(as); r.wantStatus(t, http.StatusOK) && r.decode(t, &cs) {
				var texts []string
				for _, e := range cs.Events {
					texts = append(texts, e.Text)
				}
				if len(texts) != 2 || texts[0] != "please interpret" || texts[1] != "while interpreted" || cs.Caller.ID != "" {
					t.Errorf("%s reads %q (caller %q); want the request and the words since joining, no number", as, texts, cs.Caller.ID)
				}
			}
		}
		var whole liveCase
		if r := read(asSup); r.wantStatus(t, http.StatusOK) && r.decode(t, &whole) && len(whole.Events) <= 3 {
			t.Errorf("the case's own supervisor reads %d entries; want the whole case", len(whole.Events))
		}

		// Released: their access ends.
		if _, err := h.router.ReleaseInterpreter(asAgent, c.ContactID); err != nil {
			t.Fatal(err)
		}
		read(asInterp).wantError(t, http.StatusNotFound, codeNotFound, "")
		read(asOtherSup).wantError(t, http.StatusNotFound, codeNotFound, "")

		// Every read is in the audit, with what was read.
		rows := h.auditOf(t, transcripts.ActionRead)
		views := map[string]int{}
		for _, r := range rows {
			views[r.Outcome+" "+r.Query]++
		}
		if views["ok view=interpreter"] != 2 || views["ok view=live"] != 1 || views["denied "] != 5 {
			b, _ := json.Marshal(views)
			t.Errorf("audited reads %s; want 2 interpreter views, 1 live read, 5 refusals", b)
		}
	})
}
