package switchboard

import (
	"testing"
	"time"

	"tellonce/directory"
	"tellonce/router"
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
		got := RouterQueue(c.q)
		if got.Kind != c.kind || got.CallbackRetries != c.retries || got.CallbackRetryAfter != c.after || got.CallbackAfter != c.cbAfter {
			t.Errorf("RouterQueue(%s) = kind %q, retries %d every %v, callback after %v; want %q, %d every %v, after %v",
				c.name, got.Kind, got.CallbackRetries, got.CallbackRetryAfter, got.CallbackAfter, c.kind, c.retries, c.after, c.cbAfter)
		}
		if err := got.Validate(); err != nil {
			t.Errorf("RouterQueue(%s).Validate() = %v; want nil", c.name, err)
		}
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
