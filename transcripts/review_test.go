package transcripts

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"tellonce/router"
	tsql "tellonce/sql"
	"tellonce/sql/sqltest"
)

// world is a router whose every change is journalled, with a Review over
// the same database: cases are made through the router, as in production,
// and read back through the review.
//
// Queues: gov110.general (agent kim), gov110.cert (agent park) and
// nts126.tax (agent lee).
type world struct {
	*desk
	db *tsql.DB
	rv *Review
	n  int
}

func newWorld(t *testing.T, b sqltest.Backend, keep Retention) *world {
	t.Helper()
	d := newDesk(t, b.DB, "", nil)
	start(t, d.j)
	d.setup([]router.QueueConfig{agencyQueue("gov110.general"), agencyQueue("gov110.cert"), agencyQueue("nts126.tax")},
		[]router.AgentProfile{agentIn("kim", "gov110", "gov110.general"), agentIn("park", "gov110", "gov110.cert"),
			agentIn("lee", "nts126", "nts126.tax")})
	d.online("kim", "park", "lee")
	rv, err := NewReview(b.DB, ReviewOptions{Retention: keep, Now: d.clock.Now, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return &world{desk: d, db: b.DB, rv: rv}
}

// open starts a chat in queue with the given summary and has it answered;
// it returns the contact.
func (w *world) open(queue, summary string) router.ContactView {
	w.t.Helper()
	w.n++
	c := w.enqueue(caller(fmt.Sprintf("citizen-%d", w.n), func(r *router.EnqueueRequest) {
		r.Channel, r.Queue = router.ChannelChat, queue
		r.Context.Summary = summary
	}))
	w.accept(c.ID)
	return w.contact(c.ID)
}

// say has the citizen and the agent take turns, the citizen first.
func (w *world) say(c router.ContactView, texts ...string) {
	w.t.Helper()
	for i, text := range texts {
		from := router.AsCitizen()
		if i%2 == 1 {
			from = router.AsAgent(c.Agent)
		}
		w.ack(w.r.Say(from, c.ID, text))
	}
}

func (w *world) end(c router.ContactView, disposition, summary string) {
	w.t.Helper()
	w.ack(w.r.End(c.Agent, c.ID, disposition, summary))
}

// chat is a whole case in one queue: opened, the texts exchanged, ended
// with disposition. It returns the case id.
func (w *world) chat(queue, disposition string, texts ...string) string {
	w.t.Helper()
	c := w.open(queue, "")
	w.say(c, texts...)
	w.end(c, disposition, "")
	return c.CaseID
}

// transferred is a case that starts in gov110.general and ends in
// nts126.tax.
func (w *world) transferred(text string) string {
	w.t.Helper()
	c := w.open("gov110.general", "세금 문의")
	w.say(c, text)
	next, evs, err := w.r.Transfer(c.Agent, c.ID, router.Target{Queue: "nts126.tax"}, router.TransferCold, "국세청 담당")
	w.ack(evs, err)
	w.accept(next.ID)
	next = w.contact(next.ID)
	w.say(next, "환급 확인 부탁드립니다", "확인했습니다")
	w.end(next, "resolved", "환급 재신청")
	return c.CaseID
}

func (w *world) search(s Scope, f Filter) []string {
	w.t.Helper()
	p, err := w.rv.Search(context.Background(), s, f)
	if err != nil {
		w.t.Fatalf("Search(%+v, %+v) = %v", s, f, err)
	}
	return caseIDs(p.Items)
}

func caseIDs(items []Summary) []string {
	ids := []string{}
	for _, it := range items {
		ids = append(ids, it.CaseID)
	}
	return ids
}

var all = Scope{All: true}

func TestSearchFindsKoreanSubstrings(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		w := newWorld(t, b, Retention{})
		cert := w.chat("gov110.general", "resolved", "가족관계증명서가 필요합니다", "발급해 드릴게요")
		copyOf := w.chat("gov110.general", "resolved", "주민등록등본 떼려고요")
		refund := w.chat("nts126.tax", "resolved", "Where is my REFUND?")
		percent := w.chat("nts126.tax", "resolved", "수수료 100% 환불인가요")
		thousand := w.chat("nts126.tax", "resolved", "1000 환불")
		under := w.chat("nts126.tax", "resolved", "file a_b.txt")
		tests := []struct {
			q    string
			want []string // newest first
		}{
			{"증명서", []string{cert}},             // inside a word: no word boundaries in Korean
			{"증명서가", []string{cert}},            // the whole word
			{"관계증명", []string{cert}},            // across what would be a morpheme boundary
			{"발급해", []string{cert}},             // the agent's side of the conversation
			{"등본", []string{copyOf}},            // two characters: below the trigram index, scanned
			{"refund", []string{refund}},        // case is ignored
			{"100%", []string{percent}},         // % is literal
			{"0% 환", []string{percent}},         // a phrase with a space
			{"환불", []string{thousand, percent}}, // newest first
			{"a_b", []string{under}},            // _ is literal
			{"a%b", []string{}},                 // nothing holds it
			{"증명서를", []string{}},                // a different ending is a different string
			{`"quoted"`, []string{}},            // FTS5 syntax is not interpreted
			{"없는말입니다", []string{}},              // no match at all
			{"가족관계증명서가 필요합니다", []string{cert}},  // the whole message
		}
		for _, tt := range tests {
			if got := w.search(all, Filter{Text: tt.q}); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Search(q=%q) = %v; want %v", tt.q, got, tt.want)
			}
		}
	})
}

func TestSearchSnippetShowsTheMatch(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		w := newWorld(t, b, Retention{})
		long := "처음 부분입니다. " +
			"앞의 이야기가 아주 길게 이어집니다 그리고 또 이어집니다 정말 깁니다 " +
			"가족관계증명서가 필요합니다 연락처는 010-1234-5678 입니다"
		id := w.chat("gov110.general", "resolved", "안녕하세요", "네", long)
		p, err := w.rv.Search(context.Background(), all, Filter{Text: "증명서", Redact: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Items) != 1 || p.Items[0].CaseID != id {
			t.Fatalf("Search = %+v; want case %s", p.Items, id)
		}
		s := p.Items[0].Snippet
		for _, want := range []string{"증명서가", "…", "010-****-5678"} {
			if !contains(s, want) {
				t.Errorf("snippet %q does not hold %q", s, want)
			}
		}
		if contains(s, "1234") {
			t.Errorf("snippet %q shows the phone number to a reader without pii", s)
		}
		p, err = w.rv.Search(context.Background(), all, Filter{Text: "증명서"})
		if err != nil {
			t.Fatal(err)
		}
		if s := p.Items[0].Snippet; !contains(s, "010-1234-5678") {
			t.Errorf("snippet for a pii reader %q; want the number as stored", s)
		}
	})
}

func contains(s, sub string) bool { return indexFold(s, sub) >= 0 }

func TestSearchFiltersAndScopes(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		w := newWorld(t, b, Retention{})
		t1 := w.clock.Now()
		general := w.chat("gov110.general", "resolved", "first")
		cert := w.chat("gov110.cert", "callback_needed", "second")
		w.clock.Advance(time.Hour)
		t2 := w.clock.Now()
		tax := w.chat("nts126.tax", "resolved", "third")
		moved := w.transferred("fourth")
		open := w.open("gov110.cert", "still open")
		tests := []struct {
			name  string
			scope Scope
			f     Filter
			want  []string
		}{
			{"everything", all, Filter{}, []string{open.CaseID, moved, tax, cert, general}},
			{"agency", all, Filter{Agency: "gov110"}, []string{open.CaseID, moved, cert, general}},
			{"other agency", all, Filter{Agency: "nts126"}, []string{moved, tax}},
			{"queue", all, Filter{Queue: "gov110.cert"}, []string{open.CaseID, cert}},
			{"agent", all, Filter{Agent: "lee"}, []string{moved, tax}},
			{"agent park", all, Filter{Agent: "park"}, []string{open.CaseID, cert}},
			{"disposition", all, Filter{Disposition: "callback_needed"}, []string{cert}},
			{"transferred is a disposition", all, Filter{Disposition: "transferred"}, []string{moved}},
			{"from", all, Filter{From: t2}, []string{open.CaseID, moved, tax}},
			{"to", all, Filter{From: t1, To: t2}, []string{cert, general}},
			{"text and agency", all, Filter{Agency: "nts126", Text: "four"}, []string{moved}},
			{"supervisor sees cases that touched the agency", Scope{Agency: "nts126"}, Filter{}, []string{moved, tax}},
			{"supervisor with a filter", Scope{Agency: "nts126"}, Filter{Queue: "gov110.general"}, []string{moved}},
			{"supervisor cannot widen", Scope{Agency: "nts126"}, Filter{Agency: "gov110", Text: "first"}, []string{}},
			{"agent sees cases they answered", Scope{Agent: "kim"}, Filter{}, []string{moved, general}},
			{"agent lee", Scope{Agent: "lee"}, Filter{}, []string{moved, tax}},
			{"nobody", Scope{}, Filter{}, []string{}},
		}
		for _, tt := range tests {
			if got := w.search(tt.scope, tt.f); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("%s: Search(%+v, %+v) = %v; want %v", tt.name, tt.scope, tt.f, got, tt.want)
			}
		}

		p, err := w.rv.Search(context.Background(), all, Filter{Agency: "nts126", Text: "four"})
		if err != nil {
			t.Fatal(err)
		}
		got := p.Items[0]
		if !reflect.DeepEqual(got.Agencies, []string{"gov110", "nts126"}) || !reflect.DeepEqual(got.Agents, []string{"kim", "lee"}) ||
			!reflect.DeepEqual(got.Dispositions, []string{"transferred", "resolved"}) || got.Status != "closed" || got.EndedAt == nil {
			t.Errorf("summary of the transferred case = %+v; want agencies gov110, nts126, agents kim, lee, "+
				"dispositions transferred, resolved, closed", got)
		}
	})
}

func TestSearchPaginates(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		w := newWorld(t, b, Retention{})
		var want []string
		for i := range 7 {
			want = append([]string{w.chat("gov110.general", "resolved", fmt.Sprintf("증명서 %d", i))}, want...)
		}
		for _, text := range []string{"", "증명서"} {
			var got []string
			after := ""
			for pages := 0; ; pages++ {
				if pages > 3 {
					t.Fatalf("q=%q: more than 3 pages of 3 for 7 cases", text)
				}
				p, err := w.rv.Search(context.Background(), all, Filter{Text: text, Limit: 3, After: after})
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, caseIDs(p.Items)...)
				if p.Next == "" {
					break
				}
				after = p.Next
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("q=%q: pages gave %v; want %v", text, got, want)
			}
		}
		if _, err := w.rv.Search(context.Background(), all, Filter{After: "garbage"}); !errors.Is(err, ErrCursor) {
			t.Errorf("Search with a bad cursor = %v; want ErrCursor", err)
		}
	})
}

func TestTimelineSpansEveryAgency(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		w := newWorld(t, b, Retention{})
		id := w.transferred("환급이 안 들어왔어요")
		w.ack(w.r.Transcript(w.open("gov110.general", "").ID, router.RoleCitizen, "unrelated case"))
		tl, err := w.rv.Timeline(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if tl.Status != "closed" || tl.EndedAt == nil || tl.Context.Summary != "세금 문의" ||
			!reflect.DeepEqual(tl.Agencies, []string{"gov110", "nts126"}) || !reflect.DeepEqual(tl.Agents, []string{"kim", "lee"}) {
			t.Errorf("timeline header = %+v; want closed, summary, agencies gov110 and nts126, agents kim and lee", tl)
		}
		if len(tl.Legs) != 2 || tl.Legs[0].Agency != "gov110" || tl.Legs[1].Agency != "nts126" ||
			tl.Legs[0].Disposition != "transferred" || tl.Legs[1].Disposition != "resolved" ||
			tl.Legs[0].WaitS == nil || tl.Legs[1].WaitS == nil {
			t.Fatalf("legs = %+v; want gov110 (transferred) then nts126 (resolved), each with its wait", tl.Legs)
		}
		// The desk's clock moves 1 ms per acknowledged step: enqueue and
		// accept are one step apart.
		if *tl.Legs[0].WaitS != 0.001 {
			t.Errorf("first leg waited %v s; want 0.001", *tl.Legs[0].WaitS)
		}
		type entry struct{ typ, agency, actor, text string }
		var got []entry
		for _, e := range tl.Events {
			got = append(got, entry{e.Type, e.Agency, e.Actor, e.Text})
		}
		want := []entry{
			{"contact_created", "gov110", "citizen:citizen-1", "세금 문의"},
			{"assigned", "gov110", "agent:kim", ""},
			{"message", "gov110", "citizen:citizen-1", "환급이 안 들어왔어요"},
			{"transfer", "gov110", "agent:kim", "국세청 담당"},
			{"ended", "gov110", "agent:kim", ""},
			{"assigned", "nts126", "agent:lee", ""},
			{"message", "nts126", "citizen:citizen-1", "환급 확인 부탁드립니다"},
			{"message", "nts126", "agent:lee", "확인했습니다"},
			{"ended", "nts126", "agent:lee", "환급 재신청"},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("timeline =\n%v\nwant\n%v", got, want)
		}
		scopes := []struct {
			s    Scope
			want bool
		}{
			{all, true}, {Scope{Agency: "gov110"}, true}, {Scope{Agency: "nts126"}, true}, {Scope{Agency: "mois"}, false},
			{Scope{Agent: "kim"}, true}, {Scope{Agent: "lee"}, true}, {Scope{Agent: "park"}, false}, {Scope{}, false},
		}
		for _, sc := range scopes {
			if got := tl.Allowed(sc.s); got != sc.want {
				t.Errorf("Allowed(%+v) = %v; want %v", sc.s, got, sc.want)
			}
		}
		if _, err := w.rv.Timeline(context.Background(), "no-such-case"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Timeline(no-such-case) = %v; want ErrNotFound", err)
		}
	})
}

// The speech-to-text segments of a voice call are part of the timeline.
func TestTimelineHoldsSpeechToText(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		w := newWorld(t, b, Retention{})
		c := w.enqueue(caller("voice-1"))
		w.accept(c.ID)
		w.ack(w.r.Transcript(c.ID, router.RoleCitizen, "여보세요 증명서 때문에 전화했어요"))
		w.ack(w.r.Transcript(c.ID, router.RoleAgent, "네 말씀하세요"))
		tl, err := w.rv.Timeline(context.Background(), c.CaseID)
		if err != nil {
			t.Fatal(err)
		}
		var speech []string
		for _, e := range tl.Events {
			if e.Type == router.CaseTranscript {
				speech = append(speech, e.Actor+": "+e.Text)
			}
		}
		want := []string{"citizen:voice-1: 여보세요 증명서 때문에 전화했어요", "agent:kim: 네 말씀하세요"}
		if !reflect.DeepEqual(speech, want) {
			t.Errorf("speech-to-text entries = %v; want %v", speech, want)
		}
		if got := w.search(all, Filter{Text: "증명서"}); !slices.Equal(got, []string{c.CaseID}) {
			t.Errorf("Search(증명서) = %v; want the voice case", got)
		}
	})
}

// One- or two-character searches: SQLite scans and finds them anywhere;
// PostgreSQL finds them through the trigram index where they begin or end
// a word, which covers Korean nouns with their particles.
func TestSearchShortText(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		w := newWorld(t, b, Retention{})
		start := w.chat("gov110.general", "resolved", "여권을 잃어버렸어요")
		end := w.chat("gov110.general", "resolved", "재발급여권 받으러 왔어요")
		inside := w.chat("gov110.general", "resolved", "분실여권을 신고했어요")
		alone := w.chat("gov110.general", "resolved", "여")
		want := map[string][]string{
			"여권": {inside, end, start},
			"여":  {alone, inside, end, start},
		}
		if b.Name == "postgres" {
			want["여권"] = []string{end, start}
			want["여"] = []string{alone, start}
		}
		for q, ids := range want {
			if got := w.search(all, Filter{Text: q}); !reflect.DeepEqual(got, ids) {
				t.Errorf("Search(q=%q) on %s = %v; want %v", q, b.Name, got, ids)
			}
		}
	})
}

// An interpreter's leg shows in the timeline as theirs, and its words as
// the interpreter's agent's.
func TestTimelineShowsTheInterpreterLeg(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		w := newWorld(t, b, Retention{})
		nam := agentIn("nam", "interp", "interp.pool")
		nam.Skills["lang:vi"] = 3
		w.ack(w.r.UpsertQueue(agencyQueue("interp.pool", func(q *router.QueueConfig) {
			q.Kind, q.Channels = router.QueueInterpreter, []router.Channel{router.ChannelChat}
		})))
		w.ack(w.r.UpsertAgent(nam))
		w.online("nam")
		c := w.open("gov110.general", "체류 문의")
		leg, evs, err := w.r.Interpret("kim", c.ID, "vi", "베트남어 통역")
		w.ack(evs, err)
		w.accept(leg.ID)
		w.ack(w.r.Say(router.AsAgent("nam"), leg.ID, "xin chào"))
		w.ack(w.r.End("nam", leg.ID, "", ""))
		w.end(c, "resolved", "")
		tl, err := w.rv.Timeline(context.Background(), c.CaseID)
		if err != nil {
			t.Fatal(err)
		}
		var interp []LegView
		for _, l := range tl.Legs {
			if l.Interpreter {
				interp = append(interp, l)
			}
		}
		if len(interp) != 1 || interp[0].ContactID != leg.ID || interp[0].Agent != "nam" || interp[0].Queue != "interp.pool" {
			t.Errorf("interpreter legs %+v; want nam's leg %s", interp, leg.ID)
		}
		if !slices.Contains(tl.Agencies, "interp") {
			t.Errorf("timeline agencies %v; want the interpreters' agency too", tl.Agencies)
		}
	})
}
