package switchboard

import (
	"testing"
	"time"

	"tellonce/directory"
	"tellonce/router"
	"tellonce/schedule"
)

// TestRouterQueue: the directory's queue fields reach the router's
// configuration in the router's units.
func TestRouterQueue(t *testing.T) {
	interp := directory.NewQueue("interp", "languages")
	interp.Kind, interp.Public, interp.CallbackRetries, interp.CallbackRetryS = directory.KindInterpreter, false, 7, 90
	noRetries := directory.NewQueue("gov110", "general")
	noRetries.Channels = []string{"voice", "chat", "callback"}
	noRetries.CallbackAfterS, noRetries.CallbackRetries, noRetries.CallbackRetryS = 120, 0, 86400

	for _, c := range []struct {
		name    string
		q       directory.Queue
		kind    router.QueueKind
		retries int
		after   time.Duration
		cbAfter time.Duration
	}{
		{"defaults", directory.NewQueue("gov110", "general"), router.QueueService, 2, router.DefaultCallbackRetryAfter, 0},
		{"interpreter", interp, router.QueueInterpreter, 7, 90 * time.Second, 0},
		{"no retries, a day apart", noRetries, router.QueueService, 0, 24 * time.Hour, 2 * time.Minute},
	} {
		got, err := RouterQueue(c.q, directory.Agency{ID: c.q.Agency})
		if err != nil || got.Hours != nil || got.Aging != 0 {
			t.Errorf("RouterQueue(%s) = hours %v, aging %v, %v; want none, 0, nil", c.name, got.Hours, got.Aging, err)
		}
		if got.Kind != c.kind || got.CallbackRetries != c.retries || got.CallbackRetryAfter != c.after || got.CallbackAfter != c.cbAfter {
			t.Errorf("RouterQueue(%s) = kind %q, retries %d every %v, callback after %v; want %q, %d every %v, after %v",
				c.name, got.Kind, got.CallbackRetries, got.CallbackRetryAfter, got.CallbackAfter, c.kind, c.retries, c.after, c.cbAfter)
		}
		if err := got.Validate(); err != nil {
			t.Errorf("RouterQueue(%s).Validate() = %v; want nil", c.name, err)
		}
	}
}

// TestRouterQueueHoursAndAging: a queue's hours reach the router with its
// agency's holidays and zone, and aging_s as a duration.
func TestRouterQueueHoursAndAging(t *testing.T) {
	q := directory.NewQueue("gov110", "general")
	q.AgingS, q.HelpWhile.MinIdle = 90, 3
	q.Hours = &schedule.Week{Mon: []schedule.Range{{Start: "09:00", End: "18:00"}}}
	a := directory.Agency{ID: "gov110", TimeZone: "Asia/Seoul", Holidays: directory.Holidays{{Date: "2027-01-11"}}}
	got, err := RouterQueue(q, a)
	if err != nil {
		t.Fatal(err)
	}
	if got.Aging != 90*time.Second {
		t.Errorf("aging = %v; want 90s", got.Aging)
	}
	if got.HelpWhile.MinIdle != 3 {
		t.Errorf("help_while.min_idle = %d; want 3", got.HelpWhile.MinIdle)
	}
	seoul, _ := time.LoadLocation("Asia/Seoul")
	if got.Hours == nil || !got.Hours.Open(time.Date(2027, 1, 4, 10, 0, 0, 0, seoul)) {
		t.Fatal("closed on a Monday at 10:00 in Seoul")
	}
	if got.Hours.Open(time.Date(2027, 1, 4, 10, 0, 0, 0, time.UTC)) { // 19:00 in Seoul
		t.Error("open at 10:00 UTC: the agency's zone was not used")
	}
	if got.Hours.Open(time.Date(2027, 1, 11, 10, 0, 0, 0, seoul)) {
		t.Error("open on the agency's holiday")
	}
	if err := got.Validate(); err != nil {
		t.Errorf("Validate() = %v", err)
	}
}

// TestRouterAgentCarriesThePhone: an agent's sip_uri reaches the router,
// whose gateway frames ring it; at a start too, from RoutingConfig.
func TestRouterAgentCarriesThePhone(t *testing.T) {
	u := directory.User{Username: "kim", Name: "Kim", Role: directory.RoleAgent, Agency: "gov110",
		MaxChats: 3, SIPURI: "sip:kim@pbx.gov110.go.kr"}
	if got := RouterAgent(u); got.Phone != u.SIPURI {
		t.Errorf("RouterAgent(...).Phone = %q; want %q", got.Phone, u.SIPURI)
	}
}
