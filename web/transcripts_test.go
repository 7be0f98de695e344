package web

import (
	"context"
	"encoding/csv"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"tellonce/directory"
	"tellonce/router"
	"tellonce/sql/sqltest"
	"tellonce/switchboard"
	"tellonce/transcripts"
)

// The supervision tests run the harness's server with a transcripts
// Review, over cases made by a router whose every change goes through a
// real journal into the same database, as in production.

// Principals the supervision tests add to the seed: a supervisor of gov110
// with the pii permission, and an agent of gov110 who answered nothing.
const (
	asPIISup    = "gov110-sup-pii"
	asIdleAgent = "gov110-agent-idle"
)

// Texts of the case inside gov110.
const (
	inText     = "가족관계증명서가 필요합니다. 연락처 010-1234-5678, 주민번호 900101-1234567"
	inMasked   = "가족관계증명서가 필요합니다. 연락처 010-****-5678, 주민번호 900101-1******"
	inForPII   = "가족관계증명서가 필요합니다. 연락처 010-1234-5678, 주민번호 900101-1******"
	outText    = "종합소득세 납세증명서 문의"
	reviewWait = 20 * time.Second // guard on the journal's writer
)

type reviewHarness struct {
	*harness
	rt      *router.Router
	journal *transcripts.Journal
	// in touched gov110 only (answered by gov110-agent); out touched
	// nts126 only (answered by nts126-agent).
	in, out string
}

func newReviewHarness(t *testing.T, b sqltest.Backend) *reviewHarness {
	t.Helper()
	h := newHarness(t, b)
	rv, err := transcripts.NewReview(b.DB, transcripts.ReviewOptions{Now: h.clock.Now, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	h.server.review = rv
	u := directory.UserCreate{Username: asPIISup, Name: "PII supervisor", Password: testPassword,
		Role: directory.RoleSupervisor, Agency: "gov110", PII: true, Export: true}
	if _, err := h.dir.CreateUser(h.ctx(), u, h.hash); err != nil {
		t.Fatal(err)
	}
	h.mkUser(asIdleAgent, directory.RoleAgent, "gov110", "gov110.general")
	for _, name := range []string{asPIISup, asIdleAgent} {
		h.tokens[name] = h.loginToken(name, testPassword)
	}

	j := transcripts.NewJournal(b.DB, transcripts.Options{Log: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- j.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	rt, err := router.New(router.Config{Clock: h.clock, Sink: j})
	if err != nil {
		t.Fatal(err)
	}
	queues, agents, err := switchboard.RoutingConfig(h.ctx(), h.dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Restore(router.Snapshot{Queues: queues, Agents: agents}); err != nil {
		t.Fatal(err)
	}
	rh := &reviewHarness{harness: h, rt: rt, journal: j}
	for _, a := range []string{asAgent, asOtherAgent} {
		_, evs, err := rt.Connect(a)
		rh.ack(evs, err)
		rh.ack(rt.SetState(a, router.StateAvailable, ""))
	}
	rh.in = rh.chat("gov110.general", inText)
	rh.out = rh.chat("nts126.tax", outText)
	return rh
}

// on is the harness reporting to t (a subtest's).
func (h *reviewHarness) on(t *testing.T) *reviewHarness {
	c := *h
	c.harness = h.harness.on(t)
	return &c
}

// ack waits until a change is durable, as a handler does.
func (h *reviewHarness) ack(evs []router.Event, err error) {
	h.t.Helper()
	if err != nil {
		h.t.Fatal(err)
	}
	if len(evs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), reviewWait)
	defer cancel()
	if err := h.journal.Wait(ctx, evs[len(evs)-1].Seq); err != nil {
		h.t.Fatalf("journal Wait: %v", err)
	}
}

// chat is one whole chat case in queue: the citizen says text, the agent
// answers, the agent ends it; then wrap-up passes. It returns the case id.
func (h *reviewHarness) chat(queue, text string) string {
	h.t.Helper()
	c, evs, err := h.rt.Enqueue(router.EnqueueRequest{Channel: router.ChannelChat, Queue: queue,
		Caller: router.Caller{ID: h.fresh("citizen"), Name: "시민"}})
	h.ack(evs, err)
	h.clock.Advance(time.Second)
	c, err = h.rt.Contact(c.ID)
	if err != nil || c.Status != router.StatusOffered {
		h.t.Fatalf("contact %+v (%v); want it offered", c, err)
	}
	h.ack(h.rt.Accept(c.Agent, c.OfferID))
	h.ack(h.rt.Say(router.AsCitizen(), c.ID, text))
	h.ack(h.rt.Say(router.AsAgent(c.Agent), c.ID, "확인해 드리겠습니다"))
	h.ack(h.rt.End(c.Agent, c.ID, "resolved", "처리 완료"))
	h.clock.Advance(time.Minute) // past wrap-up
	h.ack(h.rt.Tick())
	return c.CaseID
}

// auditRows reads the access audit straight from the table, oldest first.
func (h *reviewHarness) auditRows() []transcripts.AuditEntry {
	h.t.Helper()
	var rows []transcripts.AuditEntry
	if err := h.db.SelectContext(h.ctx(), &rows, `SELECT id, at, username, role, agency_id, client_addr, action,
		case_id, query, format, reason, outcome FROM access_audit ORDER BY id`); err != nil {
		h.t.Fatal(err)
	}
	return rows
}

type reviewPage struct {
	Items []struct {
		CaseID   string   `json:"case_id"`
		Agencies []string `json:"agencies"`
		Snippet  string   `json:"snippet"`
	} `json:"items"`
	NextCursor string `json:"next_cursor"`
}

func (p reviewPage) ids() []string {
	out := []string{}
	for _, it := range p.Items {
		out = append(out, it.CaseID)
	}
	return out
}

// sees is which of the two cases a principal may read.
type sees struct{ in, out bool }

// reviewAccess is the review rule of docs/architecture.md as a table: a supervisor reads the
// cases that touched their agency, an agent the cases they answered, an
// admin all, a gateway none.
var reviewAccess = map[string]sees{
	asAdmin:      {true, true},
	asSup:        {true, false},
	asPIISup:     {true, false},
	asOtherSup:   {false, true},
	asAgent:      {true, false},
	asIdleAgent:  {false, false}, // same agency, never assigned
	asOtherAgent: {false, true},
	asGateway:    {false, false},
}

// exporters hold the export permission: the seed's admin and supervisors.
var exporters = map[string]bool{asAdmin: true, asSup: true, asPIISup: true, asOtherSup: true}

var reviewers = []string{asAnon, asAdmin, asSup, asPIISup, asOtherSup, asAgent, asIdleAgent, asOtherAgent, asGateway}

// The isolation matrix: every supervision endpoint, every role, a case
// inside and a case outside the caller's agency.
func TestSupervisionIsolationMatrix(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newReviewHarness(t, b)
		for _, as := range reviewers {
			t.Run(who(as), func(t *testing.T) {
				h := h.on(t)
				want, reads := reviewAccess[as]
				code := func(allowed bool) int {
					switch {
					case as == asAnon:
						return http.StatusUnauthorized
					case allowed:
						return http.StatusOK
					}
					return http.StatusForbidden
				}

				// Search: everyone who reads transcripts gets a list, of what
				// they may see only; text and filters cannot widen it.
				for _, path := range []string{"/v1/transcripts", "/v1/transcripts?q=" + url.QueryEscape("증명서"),
					"/v1/transcripts?agency=nts126", "/v1/transcripts?agency=gov110"} {
					r := h.do(http.MethodGet, path, as, nil)
					if !r.wantStatus(t, code(reads && as != asGateway)) || r.status != http.StatusOK {
						continue
					}
					var p reviewPage
					r.decode(t, &p)
					got := sees{slices.Contains(p.ids(), h.in), slices.Contains(p.ids(), h.out)}
					wantHere := want
					if strings.Contains(path, "agency=nts126") {
						wantHere.in = false
					}
					if strings.Contains(path, "agency=gov110") {
						wantHere.out = false
					}
					if got != wantHere {
						t.Errorf("%s found (in %v, out %v); want (in %v, out %v)", r, got.in, got.out, wantHere.in, wantHere.out)
					}
				}

				// Read and export, each case. An export needs the export
				// permission too (the agents have none), refused before the
				// case is looked at: its own case or another's, same answer.
				for _, c := range []struct {
					id      string
					allowed bool
				}{{h.in, want.in}, {h.out, want.out}} {
					for _, path := range []string{"/v1/transcripts/" + c.id,
						"/v1/transcripts/" + c.id + "/export?format=json&reason=" + url.QueryEscape("민원 재조사")} {
						r := h.do(http.MethodGet, path, as, nil)
						export := strings.Contains(path, "/export")
						if as == asAnon {
							r.wantError(t, http.StatusUnauthorized, codeUnauthorized, "")
						} else if export && !exporters[as] {
							r.wantError(t, http.StatusForbidden, codeForbidden, "")
						} else if c.allowed {
							r.wantStatus(t, http.StatusOK)
						} else if as == asGateway {
							r.wantError(t, http.StatusForbidden, codeForbidden, "") // a role without review
						} else {
							// Another's case is answered as an unknown one.
							r.wantError(t, http.StatusNotFound, codeNotFound, "")
						}
					}
				}

				// A case that does not exist.
				r := h.do(http.MethodGet, "/v1/transcripts/cs-no-such-case", as, nil)
				switch {
				case as == asAnon:
					r.wantStatus(t, http.StatusUnauthorized)
				case as == asGateway:
					r.wantStatus(t, http.StatusForbidden)
				default:
					r.wantError(t, http.StatusNotFound, codeNotFound, "")
				}

				// The audit is for admins, and supervisors (their agency's cases).
				h.do(http.MethodGet, "/v1/audit", as, nil).wantStatus(t, code(as == asAdmin || as == asSup || as == asPIISup || as == asOtherSup))
			})
		}
	})
}

func TestTranscriptMasksByPermission(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newReviewHarness(t, b)
		message := func(as string) (string, bool) {
			t.Helper()
			r := h.do(http.MethodGet, "/v1/transcripts/"+h.in, as, nil)
			var tl transcripts.Timeline
			if !r.wantStatus(t, http.StatusOK) || !r.decode(t, &tl) {
				t.FailNow()
			}
			for _, e := range tl.Events {
				if e.Type == router.CaseMessage && strings.HasPrefix(e.Actor, "citizen:") {
					return e.Text, tl.Masked
				}
			}
			t.Fatalf("no citizen message in %s", r)
			return "", false
		}
		tests := []struct {
			as, want string
			masked   bool
		}{
			{asSup, inMasked, true},     // no pii: phone masked, RRN masked (at storage)
			{asAgent, inMasked, true},   // no pii
			{asPIISup, inForPII, false}, // pii: the phone as stored; the RRN was never stored
			{asAdmin, inMasked, true},   // admins hold pii only when granted it
		}
		for _, tt := range tests {
			if got, masked := message(tt.as); got != tt.want || masked != tt.masked {
				t.Errorf("message read by %s = %q (masked %v); want %q (masked %v)", tt.as, got, masked, tt.want, tt.masked)
			}
		}

		// Search snippets and exports follow the same rule.
		for _, tt := range tests {
			r := h.do(http.MethodGet, "/v1/transcripts?q="+url.QueryEscape("증명서가"), tt.as, nil)
			var p reviewPage
			if !r.wantStatus(t, http.StatusOK) || !r.decode(t, &p) || len(p.Items) != 1 {
				t.Fatalf("%s: %s", r, truncate(r.body))
			}
			hasPhone := strings.Contains(p.Items[0].Snippet, "010-1234-5678")
			if hasPhone == tt.masked {
				t.Errorf("%s: snippet %q; want the phone number masked %v", r, p.Items[0].Snippet, tt.masked)
			}
			r = h.do(http.MethodGet, "/v1/transcripts/"+h.in+"/export?format=txt&reason=x", tt.as, nil)
			if !exporters[tt.as] {
				r.wantError(t, http.StatusForbidden, codeForbidden, "")
				continue
			}
			if !r.wantStatus(t, http.StatusOK) || strings.Contains(string(r.body), "010-1234-5678") == tt.masked || strings.Contains(string(r.body), "1234567") {
				t.Errorf("%s: export shows what it should not:\n%s", r, truncate(r.body))
			}
		}

		// Searching by a phone number is searching by personal data: refused
		// without pii. Part of one finds only what the reader sees, so the
		// masked digits cannot be probed one search at a time.
		q := "/v1/transcripts?q=" + url.QueryEscape("010-1234-5678")
		h.do(http.MethodGet, q, asSup, nil).wantError(t, http.StatusForbidden, codeForbidden, "q")
		for _, s := range []struct {
			as, q string
			want  []string
		}{
			{asPIISup, "010-1234-5678", []string{h.in}},
			{asPIISup, "1234-56", []string{h.in}},
			{asSup, "1234-56", []string{}},
			{asSup, "-5678", []string{h.in}}, // shown to everyone
			{asSup, "900101-1", []string{h.in}},
		} {
			r := h.do(http.MethodGet, "/v1/transcripts?q="+url.QueryEscape(s.q), s.as, nil)
			var p reviewPage
			if r.wantStatus(t, http.StatusOK) && r.decode(t, &p) && !slices.Equal(p.ids(), s.want) {
				t.Errorf("%s = %v; want %v", r, p.ids(), s.want)
			}
		}
	})
}

// Every search, read and export writes an audit row — who, role, agency,
// when, from where, what and why — before the answer; refusals too.
func TestEveryReadIsAudited(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newReviewHarness(t, b)
		at := h.clock.Now().UTC()
		type row struct{ user, action, caseID, query, format, reason, outcome string }
		steps := []struct {
			as, path string
			status   int
			want     row
		}{
			{asSup, "/v1/transcripts?q=" + url.QueryEscape("증명서") + "&agency=gov110", 200,
				row{asSup, "search", "", "agency=gov110&q=" + url.QueryEscape("증명서"), "", "", "ok"}},
			{asSup, "/v1/transcripts/" + h.in, 200, row{asSup, "read", h.in, "", "", "", "ok"}},
			{asSup, "/v1/transcripts/" + h.out, 404, row{asSup, "read", h.out, "", "", "", "denied"}},
			{asSup, "/v1/transcripts/cs-nope", 404, row{asSup, "read", "cs-nope", "", "", "", "not_found"}},
			{asAdmin, "/v1/transcripts/" + h.out + "/export?format=csv&reason=" + url.QueryEscape("정보공개청구 제2026-17호"), 200,
				row{asAdmin, "export", h.out, "", "csv", "정보공개청구 제2026-17호", "ok"}},
			{asGateway, "/v1/transcripts", 403, row{asGateway, "search", "", "", "", "", "denied"}},
			{asAgent, "/v1/transcripts?q=" + url.QueryEscape("010-1234-5678"), 403,
				row{asAgent, "search", "", "q=010-1234-5678", "", "", "denied"}},
			{asPIISup, "/v1/transcripts?q=" + url.QueryEscape("900101 1234567"), 200,
				row{asPIISup, "search", "", "q=900101+1%2A%2A%2A%2A%2A%2A", "", "", "ok"}},
		}
		for _, s := range steps {
			before := len(h.auditRows())
			r := h.do(http.MethodGet, s.path, s.as, nil)
			r.wantStatus(t, s.status)
			rows := h.auditRows()
			if len(rows) != before+1 {
				t.Errorf("%s wrote %d audit rows; want 1", r, len(rows)-before)
				continue
			}
			e := rows[len(rows)-1]
			got := row{e.Username, e.Action, e.CaseID, e.Query, e.Format, e.Reason, e.Outcome}
			if got != s.want {
				t.Errorf("%s: audit row %+v; want %+v", r, got, s.want)
			}
			if e.ClientAddr != "127.0.0.1" || !e.At.Equal(at) || e.Role == "" {
				t.Errorf("%s: audit row from %q at %v role %q; want 127.0.0.1 at %v with the role", r, e.ClientAddr, e.At, e.Role, at)
			}
		}
		// Requests refused for their form read nothing and write nothing.
		before := len(h.auditRows())
		h.do(http.MethodGet, "/v1/transcripts/"+h.in+"/export?format=csv", asAdmin, nil).wantError(t, http.StatusBadRequest, codeValidation, "reason")
		if n := len(h.auditRows()); n != before {
			t.Errorf("an export without a reason wrote %d audit rows; want none", n-before)
		}

		// The admin reads it all back through the API, filtered.
		var page struct {
			Items []transcripts.AuditEntry `json:"items"`
		}
		r := h.do(http.MethodGet, "/v1/audit?action=export&case_id="+h.out, asAdmin, nil)
		if r.wantStatus(t, http.StatusOK) && r.decode(t, &page) {
			if len(page.Items) != 1 || page.Items[0].Reason != "정보공개청구 제2026-17호" || page.Items[0].Username != asAdmin {
				t.Errorf("%s = %+v; want the one export with its reason", r, page.Items)
			}
		}
		r = h.do(http.MethodGet, "/v1/audit?user="+asSup+"&limit=2", asAdmin, nil)
		var p2 struct {
			Items      []transcripts.AuditEntry `json:"items"`
			NextCursor string                   `json:"next_cursor"`
		}
		if r.wantStatus(t, http.StatusOK) && r.decode(t, &p2) {
			if len(p2.Items) != 2 || p2.NextCursor == "" || p2.Items[0].Outcome != "not_found" {
				t.Errorf("%s = %+v; want the two newest of four rows of %s, and a cursor", r, p2, asSup)
			}
			r = h.do(http.MethodGet, "/v1/audit?user="+asSup+"&limit=2&cursor="+p2.NextCursor, asAdmin, nil)
			if r.wantStatus(t, http.StatusOK) && r.decode(t, &p2) && (len(p2.Items) != 2 || p2.Items[1].Action != "search") {
				t.Errorf("%s = %+v; want the two oldest rows of %s", r, p2, asSup)
			}
		}
		h.do(http.MethodGet, "/v1/audit?action=delete", asAdmin, nil).wantError(t, http.StatusBadRequest, codeValidation, "action")
		h.do(http.MethodGet, "/v1/audit?cursor=bm9wZQ", asAdmin, nil).wantError(t, http.StatusBadRequest, codeValidation, "cursor")
		h.do(http.MethodGet, "/v1/audit?from=yesterday", asAdmin, nil).wantError(t, http.StatusBadRequest, codeValidation, "from")
	})
}

func TestTranscriptExports(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newReviewHarness(t, b)
		formula := h.chat("gov110.general", `=cmd|' /C calc'!A0`)
		base := "/v1/transcripts/" + formula + "/export?reason=" + url.QueryEscape("감사") + "&format="

		r := h.do(http.MethodGet, base+"csv", asSup, nil)
		if !r.wantStatus(t, http.StatusOK) {
			t.FailNow()
		}
		if ct, cd := r.header.Get("Content-Type"), r.header.Get("Content-Disposition"); !strings.HasPrefix(ct, "text/csv") ||
			cd != `attachment; filename="case-`+formula+`.csv"` {
			t.Errorf("CSV export headers: %q, %q", ct, cd)
		}
		rows, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
		if err != nil {
			t.Fatalf("CSV export does not parse: %v", err)
		}
		var texts []string
		for _, row := range rows[1:] {
			texts = append(texts, row[8])
		}
		if !slices.Contains(texts, `'=cmd|' /C calc'!A0`) {
			t.Errorf("CSV texts %q; want the formula defused with a leading apostrophe", texts)
		}

		r = h.do(http.MethodGet, base+"json", asSup, nil)
		var tl transcripts.Timeline
		if r.wantStatus(t, http.StatusOK) && r.decode(t, &tl) && (tl.CaseID != formula || len(tl.Events) == 0 || !tl.Masked) {
			t.Errorf("JSON export = %+v; want the case's timeline, masked", tl)
		}

		r = h.do(http.MethodGet, base+"txt", asSup, nil)
		if r.wantStatus(t, http.StatusOK) && (!strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") ||
			!strings.Contains(string(r.body), "Case "+formula)) {
			t.Errorf("TXT export: %q\n%s", r.header.Get("Content-Type"), truncate(r.body))
		}

		h.do(http.MethodGet, base+"pdf", asSup, nil).wantError(t, http.StatusBadRequest, codeValidation, "format")
		h.do(http.MethodGet, "/v1/transcripts/"+formula+"/export?format=csv&reason=+++", asSup, nil).
			wantError(t, http.StatusBadRequest, codeValidation, "reason")
		h.do(http.MethodGet, "/v1/transcripts/"+formula+"/export?format=csv&reason="+strings.Repeat("x", 501), asSup, nil).
			wantError(t, http.StatusBadRequest, codeValidation, "reason")
	})
}

func TestTranscriptSearchOverHTTP(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newReviewHarness(t, b)
		var ids []string
		for range 4 {
			ids = append([]string{h.chat("gov110.general", "등본 발급 문의")}, ids...)
		}
		var got []string
		next := ""
		for range 3 {
			path := "/v1/transcripts?agency=gov110&q=" + url.QueryEscape("등본") + "&limit=3"
			if next != "" {
				path += "&cursor=" + next
			}
			r := h.do(http.MethodGet, path, asSup, nil)
			var p reviewPage
			if !r.wantStatus(t, http.StatusOK) || !r.decode(t, &p) {
				t.FailNow()
			}
			got = append(got, p.ids()...)
			if next = p.NextCursor; next == "" {
				break
			}
		}
		if !slices.Equal(got, ids) {
			t.Errorf("paged search = %v; want %v", got, ids)
		}
		tests := []struct{ query, field string }{
			{"from=yesterday", "from"},
			{"to=2026-13-01T00:00:00Z", "to"},
			{"from=2026-03-02T10:00:00Z&to=2026-03-02T09:00:00Z", "to"},
			{"limit=0", "limit"},
			{"cursor=bm9wZQ", "cursor"},
			{"q=" + strings.Repeat("가", 201), "q"},
		}
		for _, tt := range tests {
			h.do(http.MethodGet, "/v1/transcripts?"+tt.query, asSup, nil).wantError(t, http.StatusBadRequest, codeValidation, tt.field)
		}
	})
}

// Without a Review the endpoints say so rather than fail.
func TestSupervisionWithoutReview(t *testing.T) {
	h := newHarness(t, sqltest.Open(t, "sqlite"))
	for _, path := range []string{"/v1/transcripts", "/v1/transcripts/x", "/v1/transcripts/x/export?format=txt&reason=x", "/v1/audit"} {
		h.do(http.MethodGet, path, asAdmin, nil).wantError(t, http.StatusServiceUnavailable, codeUnavailable, "")
	}
}

// A supervisor reviews who read their own agency's cases — and nothing
// about other agencies' — with personal numbers in queries masked unless
// they have pii; reading the audit is audited too.
func TestSupervisorReviewsWhoReadTheirCases(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newReviewHarness(t, b)
		h.do(http.MethodGet, "/v1/transcripts/"+h.in, asAdmin, nil).wantStatus(t, http.StatusOK)
		h.do(http.MethodGet, "/v1/transcripts/"+h.out, asAdmin, nil).wantStatus(t, http.StatusOK)
		h.do(http.MethodGet, "/v1/transcripts?q="+url.QueryEscape("010-1234-5678"), asPIISup, nil).wantStatus(t, http.StatusOK)

		var page struct {
			Items []transcripts.AuditEntry `json:"items"`
		}
		if r := h.do(http.MethodGet, "/v1/audit", asSup, nil); r.wantStatus(t, http.StatusOK) && r.decode(t, &page) {
			for _, e := range page.Items {
				if e.CaseID != h.in {
					t.Errorf("gov110's supervisor sees audit row %+v; want only rows about %s", e, h.in)
				}
			}
			if len(page.Items) == 0 {
				t.Error("gov110's supervisor sees nobody reading their case")
			}
		}
		if r := h.do(http.MethodGet, "/v1/audit?action=search", asAdmin, nil); r.wantStatus(t, http.StatusOK) && r.decode(t, &page) {
			if len(page.Items) == 0 || strings.Contains(page.Items[0].Query, "1234") || !strings.Contains(page.Items[0].Query, "5678") {
				t.Errorf("the admin (without pii) sees the search %+v; want the number masked", page.Items)
			}
		}
		rows := h.auditRows()
		last := rows[len(rows)-1]
		if last.Action != transcripts.ActionAudit || last.Username != asAdmin {
			t.Errorf("the last audit row %+v; want the admin's read of the audit", last)
		}
		if !slices.ContainsFunc(rows, func(e transcripts.AuditEntry) bool {
			return e.Action == transcripts.ActionAudit && e.Username == asSup
		}) {
			t.Error("the supervisor's read of the audit is not audited")
		}
	})
}
