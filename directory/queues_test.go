package directory_test

import (
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"tellonce/directory"
	"tellonce/sql/sqltest"
)

// defaultQueue is the queue a create request with only a name describes,
// as the API reference lists the defaults.
func defaultQueue(agency, slug, name string) directory.Queue {
	return directory.Queue{
		ID: agency + "." + slug, Agency: agency, Name: name,
		Kind:           "service",
		Channels:       []string{"voice", "chat"},
		RequiredSkills: map[string]int{},
		Strategy:       "longest-idle",
		OfferTimeoutS:  20, WrapupS: 10, WidenAfterS: 30,
		Overflow:       []directory.OverflowRule{},
		OverflowPolicy: "own-first",
		SLA:            directory.SLA{AnswerWithinS: 20, TargetPct: 80},
		CallbackAfterS: 0, CallbackRetries: 2, CallbackRetryS: 300,
		MaxWaiting: 0,
		Public:     true,
	}
}

// queueNumbers are the numeric settings of a queue with their limits.
var queueNumbers = []struct {
	field  string
	lo, hi int
	set    func(s *directory.QueueSettings, v int)
	want   func(q *directory.Queue, v int)
}{
	{"offer_timeout_s", 5, 120,
		func(s *directory.QueueSettings, v int) { s.OfferTimeoutS = &v },
		func(q *directory.Queue, v int) { q.OfferTimeoutS = v }},
	{"wrapup_s", 0, 600,
		func(s *directory.QueueSettings, v int) { s.WrapupS = &v },
		func(q *directory.Queue, v int) { q.WrapupS = v }},
	{"widen_after_s", 0, 3600,
		func(s *directory.QueueSettings, v int) { s.WidenAfterS = &v },
		func(q *directory.Queue, v int) { q.WidenAfterS = v }},
	{"callback_after_s", 0, 86400,
		func(s *directory.QueueSettings, v int) { s.CallbackAfterS = &v },
		func(q *directory.Queue, v int) { q.CallbackAfterS = v }},
	{"callback_retries", 0, 10,
		func(s *directory.QueueSettings, v int) { s.CallbackRetries = &v },
		func(q *directory.Queue, v int) { q.CallbackRetries = v }},
	{"callback_retry_s", 30, 86400,
		func(s *directory.QueueSettings, v int) { s.CallbackRetryS = &v },
		func(q *directory.Queue, v int) { q.CallbackRetryS = v }},
	{"max_waiting", 0, 100000,
		func(s *directory.QueueSettings, v int) { s.MaxWaiting = &v },
		func(q *directory.Queue, v int) { q.MaxWaiting = v }},
	{"sla.answer_within_s", 1, 3600,
		func(s *directory.QueueSettings, v int) { s.SLA = &directory.SLA{AnswerWithinS: v, TargetPct: 90} },
		func(q *directory.Queue, v int) { q.SLA = directory.SLA{AnswerWithinS: v, TargetPct: 90} }},
	{"sla.target_pct", 1, 100,
		func(s *directory.QueueSettings, v int) { s.SLA = &directory.SLA{AnswerWithinS: 15, TargetPct: v} },
		func(q *directory.Queue, v int) { q.SLA = directory.SLA{AnswerWithinS: 15, TargetPct: v} }},
	{"overflow[0].after_s", 0, 86400,
		func(s *directory.QueueSettings, v int) {
			s.Overflow = &[]directory.OverflowRule{{AfterS: v, To: "gov110.t0"}}
		},
		func(q *directory.Queue, v int) { q.Overflow = []directory.OverflowRule{{AfterS: v, To: "gov110.t0"}} }},
}

// badSkills are skill maps the rules refuse, with the field each names
// after the map's own (required_skills or skills).
var badSkills = []struct {
	name   string
	skills map[string]int
	field  string
}{
	{"uppercase key", map[string]int{"Lang:ko": 1}, ".Lang:ko"},
	{"key starting with a digit", map[string]int{"1lang": 1}, ".1lang"},
	{"key starting with a hyphen", map[string]int{"-lang": 1}, ".-lang"},
	{"empty key", map[string]int{"": 1}, "."},
	{"empty qualifier", map[string]int{"lang:": 1}, ".lang:"},
	{"two qualifiers", map[string]int{"lang:ko:kr": 1}, ".lang:ko:kr"},
	{"key with a space", map[string]int{"lang ko": 1}, ".lang ko"},
	{"key with a dot", map[string]int{"lang.ko": 1}, ".lang.ko"},
	{"name of 33 characters", map[string]int{strings.Repeat("a", 33): 1}, "." + strings.Repeat("a", 33)},
	{"qualifier of 33 characters", map[string]int{"lang:" + strings.Repeat("k", 33): 1}, ".lang:" + strings.Repeat("k", 33)},
	{"level 0", map[string]int{"lang:ko": 0}, ".lang:ko"},
	{"negative level", map[string]int{"lang:ko": -1}, ".lang:ko"},
	{"level 11", map[string]int{"lang:ko": 11}, ".lang:ko"},
	{"first bad key in sorted order", map[string]int{"zz": 0, "b:x": 99, "a:x": 1}, ".b:x"},
	{"51 skills", manySkills(51), ""},
}

// goodSkills are skill maps at the edges of the rules.
var goodSkills = []struct {
	name   string
	skills map[string]int
}{
	{"language and topic", map[string]int{"lang:ko": 1, "topic:tax": 10}},
	{"one-letter name", map[string]int{"a": 5}},
	{"longest name and qualifier", map[string]int{strings.Repeat("a", 32) + ":" + strings.Repeat("0", 32): 3}},
	{"digits, hyphens, underscores", map[string]int{"x_1-y:0_9-z": 2}},
	{"50 skills", manySkills(50)},
	{"none", map[string]int{}},
}

func manySkills(n int) map[string]int {
	m := make(map[string]int, n)
	for i := range n {
		m[fmt.Sprintf("topic:t%02d", i)] = i%10 + 1
	}
	return m
}

// badQueueSettings are settings a queue refuses, on creation and in a
// patch alike; self is the id of the queue they apply to.
func badQueueSettings() []queueSettingsCase {
	cases := []queueSettingsCase{
		{"empty name", func(s *directory.QueueSettings, _ string) { s.Name = new("") }, "name"},
		{"blank name", func(s *directory.QueueSettings, _ string) { s.Name = new("  \t") }, "name"},
		{"name of 101 characters", func(s *directory.QueueSettings, _ string) { s.Name = new(strings.Repeat("가", 101)) }, "name"},
		{"name of invalid UTF-8", func(s *directory.QueueSettings, _ string) { s.Name = new("q\xff") }, "name"},

		{"empty kind", func(s *directory.QueueSettings, _ string) { s.Kind = new("") }, "kind"},
		{"unknown kind", func(s *directory.QueueSettings, _ string) { s.Kind = new("agent") }, "kind"},
		{"capitalised kind", func(s *directory.QueueSettings, _ string) { s.Kind = new("Service") }, "kind"},

		{"no channels", func(s *directory.QueueSettings, _ string) { s.Channels = &[]string{} }, "channels"},
		{"null channels list", func(s *directory.QueueSettings, _ string) { s.Channels = new([]string(nil)) }, "channels"},
		{"unknown channel", func(s *directory.QueueSettings, _ string) { s.Channels = &[]string{"fax"} }, "channels[0]"},
		{"unknown second channel", func(s *directory.QueueSettings, _ string) { s.Channels = &[]string{"voice", "sms"} }, "channels[1]"},
		{"capitalised channel", func(s *directory.QueueSettings, _ string) { s.Channels = &[]string{"Voice"} }, "channels[0]"},
		{"channel twice", func(s *directory.QueueSettings, _ string) { s.Channels = &[]string{"chat", "voice", "chat"} }, "channels[2]"},

		{"empty strategy", func(s *directory.QueueSettings, _ string) { s.Strategy = new("") }, "strategy"},
		{"unknown strategy", func(s *directory.QueueSettings, _ string) { s.Strategy = new("random") }, "strategy"},

		{"empty overflow policy", func(s *directory.QueueSettings, _ string) { s.OverflowPolicy = new("") }, "overflow_policy"},
		{"unknown overflow policy", func(s *directory.QueueSettings, _ string) { s.OverflowPolicy = new("newest-first") }, "overflow_policy"},
		{"negative help reserve", func(s *directory.QueueSettings, _ string) { s.HelpWhile = &directory.HelpWhile{MinIdle: -1} }, "help_while.min_idle"},
		{"help reserve too large", func(s *directory.QueueSettings, _ string) { s.HelpWhile = &directory.HelpWhile{MinIdle: 10001} }, "help_while.min_idle"},

		{"11 overflow rules", func(s *directory.QueueSettings, _ string) {
			rules := overflowTo(10)
			rules = append(rules, directory.OverflowRule{AfterS: 99, To: "dept2.general"})
			s.Overflow = &rules
		}, "overflow"},
		{"overflow to nothing", func(s *directory.QueueSettings, _ string) {
			s.Overflow = &[]directory.OverflowRule{{AfterS: 10, To: ""}}
		}, "overflow[0].to"},
		{"overflow to a bare slug", func(s *directory.QueueSettings, _ string) {
			s.Overflow = &[]directory.OverflowRule{{AfterS: 10, To: "t0"}}
		}, "overflow[0].to"},
		{"overflow to an empty slug", func(s *directory.QueueSettings, _ string) {
			s.Overflow = &[]directory.OverflowRule{{AfterS: 10, To: "gov110."}}
		}, "overflow[0].to"},
		{"overflow to a malformed id", func(s *directory.QueueSettings, _ string) {
			s.Overflow = &[]directory.OverflowRule{{AfterS: 10, To: "gov110.t0"}, {AfterS: 20, To: "Gov110.t1"}}
		}, "overflow[1].to"},
		{"overflow into itself", func(s *directory.QueueSettings, self string) {
			s.Overflow = &[]directory.OverflowRule{{AfterS: 10, To: self}}
		}, "overflow[0].to"},
		{"overflow target twice", func(s *directory.QueueSettings, _ string) {
			s.Overflow = &[]directory.OverflowRule{{AfterS: 10, To: "gov110.t0"}, {AfterS: 20, To: "gov110.t1"}, {AfterS: 30, To: "gov110.t0"}}
		}, "overflow[2].to"},
		{"overflow to a queue that does not exist", func(s *directory.QueueSettings, _ string) {
			s.Overflow = &[]directory.OverflowRule{{AfterS: 10, To: "gov110.missing"}}
		}, "overflow[0].to"},
		{"second overflow target does not exist", func(s *directory.QueueSettings, _ string) {
			s.Overflow = &[]directory.OverflowRule{{AfterS: 10, To: "gov110.t0"}, {AfterS: 20, To: "nowhere.general"}}
		}, "overflow[1].to"},

		{"public interpreter queue", func(s *directory.QueueSettings, _ string) {
			s.Kind, s.Public = new("interpreter"), new(true)
		}, "public"},
		{"interpreter queue taking callbacks", func(s *directory.QueueSettings, _ string) {
			s.Kind, s.Public, s.Channels = new("interpreter"), new(false), &[]string{"voice", "callback"}
		}, "channels"},
	}
	for _, n := range queueNumbers {
		for _, v := range []int{n.lo - 1, n.hi + 1} {
			cases = append(cases, queueSettingsCase{fmt.Sprintf("%s %d", n.field, v),
				func(s *directory.QueueSettings, _ string) { n.set(s, v) }, n.field})
		}
	}
	for _, sk := range badSkills {
		cases = append(cases, queueSettingsCase{"required_skills: " + sk.name,
			func(s *directory.QueueSettings, _ string) { s.RequiredSkills = &sk.skills }, "required_skills" + sk.field})
	}
	return cases
}

type queueSettingsCase struct {
	name  string
	set   func(s *directory.QueueSettings, self string)
	field string
}

// queueSettingsGood is settings a queue takes, with what they make of it.
type queueSettingsGood struct {
	name string
	set  func(s *directory.QueueSettings)
	want func(q *directory.Queue)
}

// goodQueueSettings are settings at the edges of the rules.
func goodQueueSettings() []queueSettingsGood {
	cases := []queueSettingsGood{
		{"name of 100 characters",
			func(s *directory.QueueSettings) { s.Name = new(strings.Repeat("가", 100)) },
			func(q *directory.Queue) { q.Name = strings.Repeat("가", 100) }},
		{"name is trimmed",
			func(s *directory.QueueSettings) { s.Name = new(" Tax line\n") },
			func(q *directory.Queue) { q.Name = "Tax line" }},
		{"callback only",
			func(s *directory.QueueSettings) { s.Channels = &[]string{"callback"} },
			func(q *directory.Queue) { q.Channels = []string{"callback"} }},
		{"every channel, in the order given",
			func(s *directory.QueueSettings) { s.Channels = &[]string{"callback", "chat", "voice"} },
			func(q *directory.Queue) { q.Channels = []string{"callback", "chat", "voice"} }},
		{"not public",
			func(s *directory.QueueSettings) { s.Public = new(false) },
			func(q *directory.Queue) { q.Public = false }},
		{"oldest-first",
			func(s *directory.QueueSettings) { s.OverflowPolicy = new("oldest-first") },
			func(q *directory.Queue) { q.OverflowPolicy = "oldest-first" }},
		{"own-first",
			func(s *directory.QueueSettings) { s.OverflowPolicy = new("own-first") },
			func(q *directory.Queue) { q.OverflowPolicy = "own-first" }},
		{"a help reserve",
			func(s *directory.QueueSettings) { s.HelpWhile = &directory.HelpWhile{MinIdle: 3} },
			func(q *directory.Queue) { q.HelpWhile.MinIdle = 3 }},
		{"the largest help reserve",
			func(s *directory.QueueSettings) { s.HelpWhile = &directory.HelpWhile{MinIdle: 10000} },
			func(q *directory.Queue) { q.HelpWhile.MinIdle = 10000 }},
		{"10 overflow rules, in the order given",
			func(s *directory.QueueSettings) { s.Overflow = new(overflowTo(10)) },
			func(q *directory.Queue) { q.Overflow = overflowTo(10) }},
		{"overflow into another agency",
			func(s *directory.QueueSettings) {
				s.Overflow = &[]directory.OverflowRule{{AfterS: 0, To: "dept2.general"}}
			},
			func(q *directory.Queue) { q.Overflow = []directory.OverflowRule{{AfterS: 0, To: "dept2.general"}} }},
		{"no overflow",
			func(s *directory.QueueSettings) { s.Overflow = &[]directory.OverflowRule{} },
			func(q *directory.Queue) { q.Overflow = []directory.OverflowRule{} }},
		{"interpreter queue, private",
			func(s *directory.QueueSettings) { s.Kind, s.Public = new("interpreter"), new(false) },
			func(q *directory.Queue) { q.Kind, q.Public = "interpreter", false }},
		{"interpreter queue on voice",
			func(s *directory.QueueSettings) {
				s.Kind, s.Public, s.Channels = new("interpreter"), new(false), &[]string{"voice"}
			},
			func(q *directory.Queue) { q.Kind, q.Public, q.Channels = "interpreter", false, []string{"voice"} }},
		{"service queue",
			func(s *directory.QueueSettings) { s.Kind = new("service") },
			func(q *directory.Queue) { q.Kind = "service" }},
	}
	for _, st := range []string{"longest-idle", "round-robin", "fewest-contacts", "best-skill"} {
		cases = append(cases, queueSettingsGood{"strategy " + st,
			func(s *directory.QueueSettings) { s.Strategy = new(st) },
			func(q *directory.Queue) { q.Strategy = st }})
	}
	for _, n := range queueNumbers {
		for _, v := range []int{n.lo, n.hi} {
			cases = append(cases, queueSettingsGood{fmt.Sprintf("%s %d", n.field, v),
				func(s *directory.QueueSettings) { n.set(s, v) },
				func(q *directory.Queue) { n.want(q, v) }})
		}
	}
	for _, sk := range goodSkills {
		cases = append(cases, queueSettingsGood{"required_skills: " + sk.name,
			func(s *directory.QueueSettings) { s.RequiredSkills = new(maps.Clone(sk.skills)) },
			func(q *directory.Queue) { q.RequiredSkills = maps.Clone(sk.skills) }})
	}
	return cases
}

// overflowTo returns n rules to the queues gov110.t0 to t<n-1>, the
// later ones waiting less: their order is the request's, not a sort's.
func overflowTo(n int) []directory.OverflowRule {
	rules := make([]directory.OverflowRule, n)
	for i := range rules {
		rules[i] = directory.OverflowRule{AfterS: 60 * (n - i), To: fmt.Sprintf("gov110.t%d", i)}
	}
	return rules
}

// TestQueues goes through every rule of QueueCreate and of QueueSettings
// as a patch, then a queue's life: every field stored and patched,
// conflicts, what is not found, the kinds and the public flag, overflow
// rules, and the rules of deleting a queue.
func TestQueues(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		e := newEnv(t, b)
		e.agency(t, "gov110")
		e.agency(t, "dept2")
		e.queue(t, "dept2", "general")
		queueRules(t, e)
		queueLife(t, e)
	})
}

// queueRules: a refused request names its field and stores nothing; a
// request at the edge of a limit is stored as asked.
func queueRules(t *testing.T, e *env) {
	for i := range 10 {
		e.queue(t, "gov110", fmt.Sprintf("t%d", i))
	}
	general := e.queue(t, "gov110", "general", func(s *directory.QueueSettings) {
		s.Overflow = &[]directory.OverflowRule{{AfterS: 45, To: "gov110.t9"}}
	})
	tables := []string{"queues", "queue_overflow"}
	before := e.dump(t, tables...)

	t.Run("create refused", func(t *testing.T) {
		cases := []queueSettingsCase{
			{"no name", func(s *directory.QueueSettings, _ string) { s.Name = nil }, "name"},
		}
		cases = append(cases, badQueueSettings()...)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := directory.QueueCreate{ID: "new", QueueSettings: directory.QueueSettings{Name: new("New")}}
				tc.set(&r.QueueSettings, "gov110.new")
				_, err := e.s.CreateQueue(e.ctx, "gov110", r)
				wantInvalid(t, err, tc.field)
				_, err = e.s.GetQueue(e.ctx, "gov110.new")
				wantNotFound(t, err)
			})
		}
		for _, id := range []string{"", "Tax", "-tax", "tax_line", "gov110.tax", "tax line", "세금", strings.Repeat("t", 33)} {
			t.Run(fmt.Sprintf("id %q", id), func(t *testing.T) {
				_, err := e.s.CreateQueue(e.ctx, "gov110", directory.QueueCreate{ID: id, QueueSettings: directory.QueueSettings{Name: new("New")}})
				wantInvalid(t, err, "id")
				_, err = e.s.GetQueue(e.ctx, "gov110."+id)
				wantNotFound(t, err)
			})
		}
		if e.dump(t, tables...) != before {
			t.Error("refused creates changed the queues")
		}
	})

	t.Run("patch refused", func(t *testing.T) {
		cases := badQueueSettings()
		cases = append(cases, queueSettingsCase{
			// The rules of a kind are judged on the queue as the patch
			// leaves it: general is public.
			"kind interpreter alone", func(s *directory.QueueSettings, _ string) { s.Kind = new("interpreter") }, "public",
		})
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				e.clock.Advance(time.Second)
				var p directory.QueueSettings
				tc.set(&p, general.ID)
				_, err := e.s.UpdateQueue(e.ctx, general.ID, p)
				wantInvalid(t, err, tc.field)
				read, err := e.s.GetQueue(e.ctx, general.ID)
				if err != nil {
					t.Fatal(err)
				}
				wantSame(t, "queue after a refused patch", read, general)
			})
		}
		if e.dump(t, tables...) != before {
			t.Error("refused patches changed the queues")
		}
	})

	t.Run("create accepted", func(t *testing.T) {
		for i, tc := range goodQueueSettings() {
			t.Run(tc.name, func(t *testing.T) {
				slug := fmt.Sprintf("ok%d", i)
				e.clock.Advance(time.Second)
				want := defaultQueue("gov110", slug, "Queue "+slug)
				tc.want(&want)
				want.CreatedAt, want.UpdatedAt = e.clock.Stamp(), e.clock.Stamp()
				r := directory.QueueCreate{ID: slug, QueueSettings: directory.QueueSettings{Name: new("Queue " + slug)}}
				tc.set(&r.QueueSettings)
				got, err := e.s.CreateQueue(e.ctx, "gov110", r)
				if err != nil {
					t.Fatalf("CreateQueue: %v", err)
				}
				wantSame(t, "CreateQueue", got, want)
				read, err := e.s.GetQueue(e.ctx, want.ID)
				if err != nil {
					t.Fatalf("GetQueue: %v", err)
				}
				wantSame(t, "GetQueue", read, want)
			})
		}
		for _, slug := range []string{"a", "7", strings.Repeat("q", 32), "tax-2"} {
			t.Run("id "+slug, func(t *testing.T) {
				q := e.queue(t, "gov110", slug)
				if q.ID != "gov110."+slug || q.Agency != "gov110" {
					t.Errorf("queue id, agency = %s, %s; want gov110.%s, gov110", q.ID, q.Agency, slug)
				}
			})
		}
	})

	t.Run("patch accepted", func(t *testing.T) {
		// Each patch applies to a fresh default queue, so that what it
		// changes, and only that, shows.
		for i, tc := range goodQueueSettings() {
			t.Run(tc.name, func(t *testing.T) {
				slug := fmt.Sprintf("p%d", i)
				q := e.queue(t, "gov110", slug)
				e.clock.Advance(time.Second)
				want := defaultQueue("gov110", slug, "Queue "+slug)
				tc.want(&want)
				want.CreatedAt, want.UpdatedAt = q.CreatedAt, e.clock.Stamp()
				var p directory.QueueSettings
				tc.set(&p)
				got, err := e.s.UpdateQueue(e.ctx, q.ID, p)
				if err != nil {
					t.Fatalf("UpdateQueue: %v", err)
				}
				wantSame(t, "UpdateQueue", got, want)
				read, err := e.s.GetQueue(e.ctx, q.ID)
				if err != nil {
					t.Fatalf("GetQueue: %v", err)
				}
				wantSame(t, "GetQueue", read, want)
			})
		}
	})
}

// queueLife runs after queueRules, on the queues it left.
func queueLife(t *testing.T, e *env) {
	target := e.queue(t, "gov110", "target")

	t.Run("every field", func(t *testing.T) {
		r := directory.QueueCreate{ID: "full", QueueSettings: directory.QueueSettings{
			Name: new("Full"), Kind: new("service"), Channels: &[]string{"chat", "callback"},
			RequiredSkills: &map[string]int{"lang:ko": 3, "topic:tax": 2}, Strategy: new("best-skill"),
			OfferTimeoutS: new(15), WrapupS: new(45), WidenAfterS: new(90),
			Overflow:       &[]directory.OverflowRule{{AfterS: 120, To: "dept2.general"}, {AfterS: 60, To: "gov110.target"}},
			OverflowPolicy: new("oldest-first"), HelpWhile: &directory.HelpWhile{MinIdle: 2},
			SLA:            &directory.SLA{AnswerWithinS: 30, TargetPct: 95},
			CallbackAfterS: new(300), CallbackRetries: new(4), CallbackRetryS: new(600),
			MaxWaiting: new(25), Public: new(false),
		}}
		want := directory.Queue{
			ID: "gov110.full", Agency: "gov110", Name: "Full", Kind: "service", Channels: []string{"chat", "callback"},
			RequiredSkills: map[string]int{"lang:ko": 3, "topic:tax": 2}, Strategy: "best-skill",
			OfferTimeoutS: 15, WrapupS: 45, WidenAfterS: 90,
			Overflow:       []directory.OverflowRule{{AfterS: 120, To: "dept2.general"}, {AfterS: 60, To: "gov110.target"}},
			OverflowPolicy: "oldest-first", HelpWhile: directory.HelpWhile{MinIdle: 2},
			SLA:            directory.SLA{AnswerWithinS: 30, TargetPct: 95},
			CallbackAfterS: 300, CallbackRetries: 4, CallbackRetryS: 600, MaxWaiting: 25, Public: false,
			CreatedAt: e.clock.Stamp(), UpdatedAt: e.clock.Stamp(),
		}
		got, err := e.s.CreateQueue(e.ctx, "gov110", r)
		if err != nil {
			t.Fatal(err)
		}
		wantSame(t, "CreateQueue", got, want)
		read, err := e.s.GetQueue(e.ctx, want.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantSame(t, "GetQueue", read, want)

		// A patch changes what it names and keeps the rest, the
		// overflow rules included.
		e.clock.Advance(time.Minute)
		got, err = e.s.UpdateQueue(e.ctx, want.ID, directory.QueueSettings{
			Name: new("Full, renamed"), RequiredSkills: &map[string]int{"lang:en": 1}, MaxWaiting: new(0), Public: new(true),
		})
		if err != nil {
			t.Fatal(err)
		}
		want.Name, want.RequiredSkills, want.MaxWaiting, want.Public = "Full, renamed", map[string]int{"lang:en": 1}, 0, true
		want.UpdatedAt = e.clock.Stamp()
		wantSame(t, "UpdateQueue", got, want)
		read, err = e.s.GetQueue(e.ctx, want.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantSame(t, "GetQueue after the patch", read, want)

		// An empty patch changes nothing but the time of the change.
		e.clock.Advance(time.Minute)
		if got, err = e.s.UpdateQueue(e.ctx, want.ID, directory.QueueSettings{}); err != nil {
			t.Fatal(err)
		}
		want.UpdatedAt = e.clock.Stamp()
		wantSame(t, "UpdateQueue with nothing", got, want)
	})

	t.Run("duplicate id", func(t *testing.T) {
		before := e.dump(t, directoryTables...)
		_, err := e.s.CreateQueue(e.ctx, "gov110", directory.QueueCreate{ID: "target", QueueSettings: directory.QueueSettings{
			Name: new("Impostor"), Overflow: &[]directory.OverflowRule{{AfterS: 1, To: "dept2.general"}},
		}})
		wantConflict(t, err, "gov110.target")
		if e.dump(t, directoryTables...) != before {
			t.Error("a duplicate create changed the directory")
		}
		// A slug is unique in its agency only.
		e.queue(t, "dept2", "target")
	})

	t.Run("not found", func(t *testing.T) {
		before := e.dump(t, directoryTables...)
		_, err := e.s.CreateQueue(e.ctx, "nowhere", directory.QueueCreate{ID: "general", QueueSettings: directory.QueueSettings{Name: new("G")}})
		wantNotFound(t, err)
		for _, id := range []string{"gov110.missing", "nowhere.general", "gov110", "", "GOV110.target"} {
			_, err := e.s.GetQueue(e.ctx, id)
			wantNotFound(t, err)
			_, err = e.s.UpdateQueue(e.ctx, id, directory.QueueSettings{Name: new("X")})
			wantNotFound(t, err)
			wantNotFound(t, e.s.DeleteQueue(e.ctx, id, nil))
		}
		if e.dump(t, directoryTables...) != before {
			t.Error("requests for what does not exist changed the directory")
		}
	})

	t.Run("kinds", func(t *testing.T) {
		// An interpreter queue is private unless asked, and asking is
		// refused; a service queue is public unless asked.
		interp := e.queue(t, "gov110", "interp", func(s *directory.QueueSettings) { s.Kind = new("interpreter") })
		if interp.Kind != "interpreter" || interp.Public {
			t.Errorf("interpreter queue: kind %q, public %v; want interpreter, false", interp.Kind, interp.Public)
		}
		svc := e.queue(t, "gov110", "svc")
		if svc.Kind != "service" || !svc.Public {
			t.Errorf("default queue: kind %q, public %v; want service, true", svc.Kind, svc.Public)
		}

		steps := []struct {
			name  string
			id    string
			patch directory.QueueSettings
			field string // refused naming it, or "" when accepted
			kind  string // then the queue's kind, public flag and channels
			pub   bool
			chans []string
		}{
			{"interpreter cannot become public", interp.ID, directory.QueueSettings{Public: new(true)}, "public", "", false, nil},
			{"interpreter cannot take callbacks", interp.ID, directory.QueueSettings{Channels: &[]string{"callback"}}, "channels", "", false, nil},
			{"service queue with callbacks", svc.ID, directory.QueueSettings{Channels: &[]string{"voice", "callback"}}, "", "service", true, []string{"voice", "callback"}},
			{"kind alone, while public", svc.ID, directory.QueueSettings{Kind: new("interpreter")}, "public", "", false, nil},
			{"kind and private, while taking callbacks", svc.ID, directory.QueueSettings{Kind: new("interpreter"), Public: new(false)}, "channels", "", false, nil},
			{"kind, private and channels together", svc.ID, directory.QueueSettings{Kind: new("interpreter"), Public: new(false), Channels: &[]string{"chat"}}, "", "interpreter", false, []string{"chat"}},
			{"back to service stays private", svc.ID, directory.QueueSettings{Kind: new("service")}, "", "service", false, []string{"chat"}},
			{"then public again", svc.ID, directory.QueueSettings{Public: new(true), Channels: &[]string{"callback"}}, "", "service", true, []string{"callback"}},
		}
		for _, st := range steps {
			before, err := e.s.GetQueue(e.ctx, st.id)
			if err != nil {
				t.Fatal(err)
			}
			got, err := e.s.UpdateQueue(e.ctx, st.id, st.patch)
			if st.field != "" {
				wantInvalid(t, err, st.field)
				after, err := e.s.GetQueue(e.ctx, st.id)
				if err != nil {
					t.Fatal(err)
				}
				wantSame(t, st.name+": queue after a refused patch", after, before)
				continue
			}
			if err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			if got.Kind != st.kind || got.Public != st.pub || strings.Join(got.Channels, ",") != strings.Join(st.chans, ",") {
				t.Errorf("%s: kind %q public %v channels %v; want %q %v %v", st.name, got.Kind, got.Public, got.Channels, st.kind, st.pub, st.chans)
			}
		}
	})

	t.Run("overflow rules", func(t *testing.T) {
		a := e.queue(t, "gov110", "ov-a")
		bq := e.queue(t, "gov110", "ov-b", func(s *directory.QueueSettings) {
			s.Overflow = &[]directory.OverflowRule{{AfterS: 90, To: a.ID}, {AfterS: 30, To: "dept2.general"}}
		})
		steps := []struct {
			name  string
			patch directory.QueueSettings
			want  []directory.OverflowRule
		}{
			{"a patch without overflow keeps the rules", directory.QueueSettings{Name: new("B")},
				[]directory.OverflowRule{{AfterS: 90, To: a.ID}, {AfterS: 30, To: "dept2.general"}}},
			{"overflow given replaces the list", directory.QueueSettings{Overflow: &[]directory.OverflowRule{{AfterS: 5, To: target.ID}, {AfterS: 0, To: a.ID}}},
				[]directory.OverflowRule{{AfterS: 5, To: target.ID}, {AfterS: 0, To: a.ID}}},
			{"a patch that leaves the rules checks them still", directory.QueueSettings{WrapupS: new(0)},
				[]directory.OverflowRule{{AfterS: 5, To: target.ID}, {AfterS: 0, To: a.ID}}},
			{"an empty list clears them", directory.QueueSettings{Overflow: &[]directory.OverflowRule{}},
				[]directory.OverflowRule{}},
		}
		for _, st := range steps {
			got, err := e.s.UpdateQueue(e.ctx, bq.ID, st.patch)
			if err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			wantSame(t, st.name+": UpdateQueue", got.Overflow, st.want)
			read, err := e.s.GetQueue(e.ctx, bq.ID)
			if err != nil {
				t.Fatal(err)
			}
			wantSame(t, st.name+": GetQueue", read.Overflow, st.want)
		}
		// The rules of one queue are not another's.
		read, err := e.s.GetQueue(e.ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantSame(t, "rules of the target", read.Overflow, []directory.OverflowRule{})
	})

	t.Run("delete", func(t *testing.T) {
		e.agency(t, "del")
		q := e.queue(t, "del", "q")
		other := e.queue(t, "del", "other")
		e.queue(t, "del", "from1", func(s *directory.QueueSettings) {
			s.Overflow = &[]directory.OverflowRule{{AfterS: 10, To: q.ID}}
		})
		e.queue(t, "gov110", "from2", func(s *directory.QueueSettings) {
			s.Overflow = &[]directory.OverflowRule{{AfterS: 10, To: other.ID}, {AfterS: 20, To: q.ID}}
		})
		agent := e.user(t, directory.UserCreate{Username: "del-agent", Role: directory.RoleAgent, Agency: "del",
			Queues: []directory.Membership{{Queue: other.ID, Level: 4}, {Queue: q.ID, Level: 2}}})

		// Refused while overflow rules point at it, naming their queues.
		before := e.dump(t, directoryTables...)
		wantConflict(t, e.s.DeleteQueue(e.ctx, q.ID, nil), q.ID, "del.from1", "gov110.from2")
		if e.dump(t, directoryTables...) != before {
			t.Fatal("a refused delete changed the directory")
		}
		e.deleteQueue(t, "del.from1") // its own rules go with it
		wantConflict(t, e.s.DeleteQueue(e.ctx, q.ID, nil), "gov110.from2")
		if _, err := e.s.UpdateQueue(e.ctx, "gov110.from2", directory.QueueSettings{
			Overflow: &[]directory.OverflowRule{{AfterS: 10, To: other.ID}},
		}); err != nil {
			t.Fatal(err)
		}

		// Refused when the caller says contacts wait, with its error.
		busy := errors.New("contacts wait in del.q")
		var asked []string
		err := e.s.DeleteQueue(e.ctx, q.ID, func(id string) error {
			asked = append(asked, id)
			return busy
		})
		if !errors.Is(err, busy) {
			t.Fatalf("DeleteQueue with contacts waiting = %v; want %v", err, busy)
		}
		wantSame(t, "queues asked about", asked, []string{q.ID})
		if _, err := e.s.GetQueue(e.ctx, q.ID); err != nil {
			t.Fatalf("queue after a refused delete: %v", err)
		}

		// Then it goes, and the memberships in it with it; the member
		// is otherwise unchanged.
		if err := e.s.DeleteQueue(e.ctx, q.ID, func(string) error { return nil }); err != nil {
			t.Fatalf("DeleteQueue: %v", err)
		}
		_, err = e.s.GetQueue(e.ctx, q.ID)
		wantNotFound(t, err)
		wantNotFound(t, e.s.DeleteQueue(e.ctx, q.ID, nil))
		read, err := e.s.GetUser(e.ctx, agent.Username)
		if err != nil {
			t.Fatal(err)
		}
		want := agent
		want.Queues = []directory.Membership{{Queue: other.ID, Level: 4}}
		wantSame(t, "member of the deleted queue", read, want)

		// The slug can be taken again, with no memberships of old.
		e.queue(t, "del", "q")
		if read, err = e.s.GetUser(e.ctx, agent.Username); err != nil {
			t.Fatal(err)
		}
		wantSame(t, "member after the slug was taken again", read.Queues, []directory.Membership{{Queue: other.ID, Level: 4}})
	})
}
