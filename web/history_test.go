package web

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"tellonce/router"
	"tellonce/sql/sqltest"
	"tellonce/switchboard"
	"tellonce/transcripts"
)

// A returning caller: the earlier cases of an asserted identity travel
// with the offer, through a real journal into the case log and back.

const returningNumber = "01077712345"

// withJournal writes every change of the harness's router to the case log
// through a real journal, answers requests once their change is durable,
// and gives the server a Review: the production path of a case's history.
func withJournal(t *testing.T, h *harness) *transcripts.Journal {
	t.Helper()
	withAudit(t, h)
	j := transcripts.NewJournal(h.db, transcripts.Options{Log: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- j.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	h.journal.Store(j)
	h.server.board = switchboard.New(h.router, j, h.dir) // the sockets keep theirs
	return j
}

// durable waits until a change made straight on the router is in the log.
func durable(t *testing.T, j *transcripts.Journal, evs []router.Event, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), reviewWait)
	defer cancel()
	if err := j.Wait(ctx, evs[len(evs)-1].Seq); err != nil {
		t.Fatalf("journal Wait: %v", err)
	}
}

// call is a phone call the gateway puts in line for number.
func (h *harness) call(t *testing.T, number, summary string) created {
	t.Helper()
	var c created
	r := h.do(http.MethodPost, "/v1/contacts", asGateway, map[string]any{"channel": "voice", "queue": "gov110.general",
		"caller": map[string]any{"id": number, "name": "김민수"}, "context": map[string]any{"summary": summary}})
	if r.wantStatus(t, http.StatusCreated) {
		r.decode(t, &c)
	}
	return c
}

// serve has agent (connected and available, or made so) take contact c
// and end it with a note, a disposition and a summary; the case closes.
func (h *harness) serve(t *testing.T, j *transcripts.Journal, agent string, c created, note, disposition, summary string) {
	t.Helper()
	h.answer(t, agent, c.ContactID)
	if note != "" {
		ev, err := h.router.Note(agent, c.CaseID, note)
		durable(t, j, ev, err)
	}
	ev, err := h.router.End(agent, c.ContactID, disposition, summary)
	durable(t, j, ev, err)
	h.clock.Advance(time.Minute) // past wrap-up
	ev, err = h.router.Tick()
	durable(t, j, ev, err)
}

// newDeskAgent is a gov110 agent without pii, known to the router,
// logged in, connected and available.
func (h *harness) newDeskAgent(t *testing.T) string {
	t.Helper()
	name := h.freshAgent("gov110", "gov110.general")
	if _, err := h.router.UpsertAgent(router.AgentProfile{Username: name, Name: name, Agency: "gov110",
		Queues: map[string]int{"gov110.general": 1}}); err != nil {
		t.Fatal(err)
	}
	h.tokens[name] = h.loginToken(name, testPassword)
	if _, _, err := h.router.Connect(name); err != nil {
		t.Fatal(err)
	}
	if _, err := h.router.SetState(name, router.StateAvailable, ""); err != nil {
		t.Fatal(err)
	}
	return name
}

// earlier is the earlier cases the contact's case carries.
func (h *harness) earlier(t *testing.T, c created) []router.PastCase {
	t.Helper()
	cs, err := h.router.Case(c.CaseID)
	if err != nil {
		t.Fatal(err)
	}
	return cs.History
}

func caseIDs(h []router.PastCase) []string {
	out := []string{}
	for _, p := range h {
		out = append(out, p.ID)
	}
	return out
}

// helloOf dials the agent socket as username and returns its hello frame;
// the socket stays open until the test ends.
func helloOf(t *testing.T, h *harness, username string) map[string]json.RawMessage {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(wsURL(h, "/v1/agent/ws"), bearerHeader(h.tokens[username]))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ws.Close() })
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		var f map[string]json.RawMessage
		if err := ws.ReadJSON(&f); err != nil {
			t.Fatalf("agent socket: %v", err)
		}
		if string(f["type"]) == `"hello"` {
			return f
		}
	}
}

func TestReturningCallerHistory(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newHarness(t, b)
		j := withJournal(t, h)
		opened := h.clock.Now()

		// The first call: answered by gov110-agent, noted, ended.
		first := h.call(t, returningNumber, "여권 재발급 문의")
		h.serve(t, j, asAgent, first, "다음 주 재방문, 연락처 010-2222-3333", "resolved", "재발급 절차 안내 완료")
		closed := h.clock.Now()
		if _, err := h.router.SetState(asAgent, router.StateOffline, ""); err != nil {
			t.Fatal(err)
		}

		// A week later the same number calls again and reaches an agent
		// who never met the caller.
		h.clock.Advance(7 * 24 * time.Hour)
		h.relogin()
		desk := h.newDeskAgent(t)
		second := h.call(t, returningNumber, "여권 수령 문의")
		want := router.PastCase{ID: first.CaseID, OpenedAt: opened.UTC(), ClosedAt: closed.Add(-time.Minute).UTC(),
			Agencies: []string{"gov110"}, Dispositions: []string{"resolved"}, Summary: "재발급 절차 안내 완료",
			LastNote: "다음 주 재방문, 연락처 010-2222-3333"}
		got := h.earlier(t, second)
		if len(got) != 1 || !samePast(got[0], want) {
			t.Fatalf("history of the returning call = %+v; want %+v", got, want)
		}
		if second.CaseID == first.CaseID {
			t.Fatalf("the returning call continued the closed case %s; want a new case", first.CaseID)
		}

		// The desk shows it, masked for an agent without pii.
		hello := helloOf(t, h, desk)
		var offers []struct {
			Contact struct {
				ContactID string `json:"contact_id"`
			} `json:"contact"`
			History []struct {
				CaseID       string   `json:"case_id"`
				Agencies     []string `json:"agencies"`
				Dispositions []string `json:"dispositions"`
				Summary      string   `json:"summary"`
				LastNote     string   `json:"last_note"`
				ClosedAt     string   `json:"closed_at"`
			} `json:"history"`
		}
		if err := json.Unmarshal(hello["offers"], &offers); err != nil {
			t.Fatal(err)
		}
		if len(offers) != 1 || offers[0].Contact.ContactID != second.ContactID || len(offers[0].History) != 1 {
			t.Fatalf("hello offers = %s; want the returning call with one earlier case", hello["offers"])
		}
		if p := offers[0].History[0]; p.CaseID != first.CaseID || p.LastNote != "다음 주 재방문, 연락처 010-****-3333" ||
			p.Summary != "재발급 절차 안내 완료" || !slices.Equal(p.Agencies, []string{"gov110"}) || p.ClosedAt == "" {
			t.Errorf("hello history = %+v; want case %s with its note masked for an agent without pii", p, first.CaseID)
		}

		// The offer is audited with the earlier case it showed.
		var audited bool
		for _, e := range h.auditOf(t, transcripts.ActionOffer) {
			if e.CaseID == second.CaseID && e.Username == desk && strings.HasSuffix(e.Query, "&history="+first.CaseID) {
				audited = true
			}
		}
		if !audited {
			t.Errorf("offer audit rows %+v; want one for %s naming history=%s", h.auditOf(t, transcripts.ActionOffer), desk, first.CaseID)
		}

		// The agent offered the returning call may open the earlier case in
		// full (audited); an agent who holds no such contact may not.
		r := h.do(http.MethodGet, "/v1/cases/"+first.CaseID, desk, nil)
		if r.wantStatus(t, http.StatusOK) {
			reads := h.auditOf(t, transcripts.ActionRead)
			if last := reads[len(reads)-1]; last.Username != desk || last.CaseID != first.CaseID || last.Query != "view=history" {
				t.Errorf("last read audit row %+v; want %s reading %s as view=history", last, desk, first.CaseID)
			}
		}
		other := h.freshAgent("gov110", "gov110.general")
		h.tokens[other] = h.loginToken(other, testPassword)
		h.do(http.MethodGet, "/v1/cases/"+first.CaseID, other, nil).wantStatus(t, http.StatusNotFound)

		// A chat typing the same number is only a label: no history.
		chat := h.chat(t, "gov110.general", returningNumber)
		if got := h.earlier(t, chat); got != nil {
			t.Errorf("a chat typing the number shows history %v; want none", caseIDs(got))
		}

		// After the window, nothing: the second call ends, and a month
		// and a day later the number calls once more.
		h.serve(t, j, desk, second, "수령 완료", "resolved", "")
		h.clock.Advance(31 * 24 * time.Hour)
		h.relogin()
		third := h.call(t, returningNumber, "기타 문의")
		if got := h.earlier(t, third); got != nil {
			t.Errorf("a call %s after the window shows history %v; want none", h.clock.Now().Sub(closed), caseIDs(got))
		}
	})
}

// A chat citizen is recognised by their device: the same device coming
// back sees its earlier chat on the offer, another device does not.
func TestReturningChatHistoryByDevice(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newHarness(t, b)
		j := withJournal(t, h)
		first := h.chat(t, "nts126.tax", "chat-1")
		h.serve(t, j, asOtherAgent, first, "", "answered", "")
		h.clock.Advance(time.Hour)

		r := h.chatAs(t, chatBody("nts126.tax", "chat-1"), withDevice(first.Device), withOrigin(h.ts.URL))
		var again created
		if r.wantStatus(t, http.StatusCreated) && r.decode(t, &again) {
			got := h.earlier(t, again)
			if len(got) != 1 || got[0].ID != first.CaseID || got[0].Summary != "증명서 발급 문의" ||
				!slices.Equal(got[0].Agencies, []string{"nts126"}) {
				t.Errorf("history of the returning device = %+v; want case %s with the summary it brought", got, first.CaseID)
			}
		}
		r = h.chatAs(t, chatBody("nts126.tax", "chat-1"), withHeader("X-Forwarded-For", "198.51.100.77"))
		var stranger created
		if r.wantStatus(t, http.StatusCreated) && r.decode(t, &stranger) {
			if got := h.earlier(t, stranger); got != nil {
				t.Errorf("another device typing the same caller id shows history %v; want none", caseIDs(got))
			}
		}
	})
}

// --history-days 0 turns history off.
func TestHistoryOff(t *testing.T) {
	h := newHarness(t, sqltest.Open(t, "sqlite"), func(c *Config) { c.HistoryDays = 0 })
	j := withJournal(t, h)
	first := h.call(t, returningNumber, "첫 문의")
	h.serve(t, j, asAgent, first, "메모", "resolved", "")
	if got := h.earlier(t, h.call(t, returningNumber, "두 번째 문의")); got != nil {
		t.Errorf("history with --history-days 0 = %v; want none", caseIDs(got))
	}
}

func samePast(a, b router.PastCase) bool {
	return a.ID == b.ID && a.OpenedAt.Equal(b.OpenedAt) && a.ClosedAt.Equal(b.ClosedAt) &&
		slices.Equal(a.Agencies, b.Agencies) && slices.Equal(a.Dispositions, b.Dispositions) &&
		a.Summary == b.Summary && a.LastNote == b.LastNote
}

// continueCase posts a chat on queue that continues caseID, with token
// if given, from a device of its own.
func (h *harness) continueCase(t *testing.T, queue, caseID, token string, opts ...reqOpt) *response {
	t.Helper()
	body := chatBody(queue, "돌아온 시민")
	body["case_id"] = caseID
	if token != "" {
		body["case_token"] = token
	}
	return h.chatAs(t, body, append([]reqOpt{withHeader("X-Forwarded-For", "203.0.113.9")}, opts...)...)
}

func (h *harness) storedStatus(t *testing.T, caseID string) string {
	t.Helper()
	var status string
	if err := h.db.GetContext(h.ctx(), &status, h.db.Rebind(`SELECT status FROM cases WHERE id = ?`), caseID); err != nil {
		t.Fatal(err)
	}
	return status
}

func TestContinuingAClosedCase(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newHarness(t, b)
		j := withJournal(t, h)
		first := h.chat(t, "gov110.general", "back-1")
		h.serve(t, j, asAgent, first, "서류 보완 필요", "pending_documents", "보완 서류 안내")
		h.clock.Advance(24 * time.Hour)
		h.relogin()
		refusals := len(h.auditOf(t, transcripts.ActionContinue))

		// A wrong token, and another device without one, are refused as
		// a case that does not exist, and audited.
		h.continueCase(t, "gov110.general", first.CaseID, "not-the-token").wantError(t, http.StatusNotFound, codeNotFound, "case_id")
		h.continueCase(t, "gov110.general", first.CaseID, "").wantError(t, http.StatusNotFound, codeNotFound, "case_id")
		if n := len(h.auditOf(t, transcripts.ActionContinue)) - refusals; n != 2 {
			t.Errorf("%d refusal rows for the two refused continuations; want 2", n)
		}
		if st := h.storedStatus(t, first.CaseID); st != "closed" {
			t.Errorf("after refused continuations the case is %s; want closed", st)
		}

		// The continuation token reopens it a day later: the same case,
		// a new leg, the earlier timeline there, open in the log too.
		var again created
		r := h.continueCase(t, "gov110.general", first.CaseID, first.CaseToken)
		if !r.wantStatus(t, http.StatusCreated) || !r.decode(t, &again) {
			t.FailNow()
		}
		if again.CaseID != first.CaseID || again.ContactID == first.ContactID {
			t.Fatalf("continuation = case %s contact %s; want case %s with a new contact", again.CaseID, again.ContactID, first.CaseID)
		}
		cs, err := h.router.Case(first.CaseID)
		if err != nil {
			t.Fatal(err)
		}
		types := []string{}
		for _, e := range cs.Events {
			types = append(types, e.Type)
		}
		if len(cs.Legs) != 2 || cs.Legs[0].ContactID != first.ContactID || cs.Legs[1].ContactID != again.ContactID ||
			!slices.Contains(types, router.CaseNote) || !slices.Contains(types, router.CaseReopened) {
			t.Errorf("reopened case: legs %+v, timeline %v; want the earlier leg and note, reopened, and the new leg", cs.Legs, types)
		}
		if st := h.storedStatus(t, first.CaseID); st != "open" {
			t.Errorf("the log holds the reopened case as %s; want open", st)
		}
		r = h.do(http.MethodGet, "/v1/cases/"+first.CaseID, asAgent, nil)
		var view struct {
			Status string `json:"status"`
			Legs   []any  `json:"legs"`
		}
		if r.wantStatus(t, http.StatusOK) && r.decode(t, &view) && (view.Status != "open" || len(view.Legs) != 2) {
			t.Errorf("GET the reopened case = %s; want it open with both legs", r)
		}

		// It closes again; a month and more later the same token opens a
		// new case that links to it.
		h.serve(t, j, asAgent, again, "", "resolved", "")
		h.clock.Advance(31 * 24 * time.Hour)
		h.relogin()
		var linked struct {
			created
			PreviousCaseID string `json:"previous_case_id"`
		}
		r = h.continueCase(t, "gov110.general", first.CaseID, first.CaseToken)
		if !r.wantStatus(t, http.StatusCreated) || !r.decode(t, &linked) {
			t.FailNow()
		}
		if linked.CaseID == first.CaseID || linked.PreviousCaseID != first.CaseID {
			t.Fatalf("late continuation = case %s previous %q; want a new case linking %s", linked.CaseID, linked.PreviousCaseID, first.CaseID)
		}
		if cs, err := h.router.Case(linked.CaseID); err != nil || cs.PreviousCaseID != first.CaseID ||
			cs.Events[0].Data["previous_case_id"] != first.CaseID {
			t.Errorf("linked case = %+v, %v; want its first entry to name %s", cs, err, first.CaseID)
		}
		if st := h.storedStatus(t, first.CaseID); st != "closed" {
			t.Errorf("the old case is %s after a late continuation; want it left closed", st)
		}
	})
}

// A gateway continues a case of the same number without its token: the
// number it asserts is the identity that opened the case.
func TestGatewayReopensTheSameNumbersCase(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newHarness(t, b)
		j := withJournal(t, h)
		first := h.call(t, returningNumber, "전입신고 문의")
		h.serve(t, j, asAgent, first, "", "resolved", "")
		h.clock.Advance(2 * time.Hour)
		body := func(number string) map[string]any {
			return map[string]any{"channel": "voice", "queue": "gov110.general", "case_id": first.CaseID,
				"caller": map[string]any{"id": number, "name": "김민수"}}
		}
		h.do(http.MethodPost, "/v1/contacts", asGateway, body("01099998888")).wantError(t, http.StatusNotFound, codeNotFound, "case_id")
		var again created
		r := h.do(http.MethodPost, "/v1/contacts", asGateway, body(returningNumber))
		if r.wantStatus(t, http.StatusCreated) && r.decode(t, &again) && again.CaseID != first.CaseID {
			t.Errorf("the same number continuing = case %s; want %s reopened", again.CaseID, first.CaseID)
		}
	})
}
