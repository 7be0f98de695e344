package agents

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"tellonce/clocktest"
	"tellonce/router"
)

const testSDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\n"

// browserCall makes kim's desk socket take voice in the browser and kim
// accept a voice call; it returns kim's socket, gov's gateway and the
// contact, the connect frame read.
func (e *env) browserCall() (*client, *client, router.ContactView, frame) {
	e.t.Helper()
	gw := e.gateway("/gateway/gw-gov?agency=gov")
	kim := e.available("kim")
	kim.ok(map[string]any{"type": "softphone", "on": true})
	cv := e.enqueue(router.EnqueueRequest{Channel: router.ChannelVoice, Caller: caller("01012345678")})
	kim.ok(map[string]any{"type": "accept", "offer_id": kim.expect("offer").str("offer_id")})
	return kim, gw, cv, gw.expectNext("connect")
}

func TestSoftphoneSignallingIsRelayed(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.ICEServers = []ICEServer{{URLs: []string{"turn:turn.example:3478"}, Username: "u", Credential: "p"}}
	})
	kim, gw, cv, connect := e.browserCall()
	if connect["browser"] != true || connect.str("phone") != "" || connect.str("agent") != "kim" {
		t.Fatalf("connect = %v; want browser true and no phone", connect)
	}

	gw.ok(map[string]any{"type": "rtc_offer", "contact_id": cv.ID, "agent": "kim", "session": "s1", "sdp": testSDP})
	if f := kim.expect("rtc_offer"); f.str("contact_id") != cv.ID || f.str("session") != "s1" || f.str("sdp") != testSDP || f["held"] != nil {
		t.Errorf("kim got %v; want the offer", f)
	}
	kim.ok(map[string]any{"type": "rtc_answer", "contact_id": cv.ID, "session": "s1", "sdp": testSDP})
	if f := gw.expectNext("rtc_answer"); f.str("contact_id") != cv.ID || f.str("agent") != "kim" || f.str("session") != "s1" || f.str("sdp") != testSDP {
		t.Errorf("gateway got %v; want kim's answer", f)
	}
	gw.ok(map[string]any{"type": "rtc_state", "contact_id": cv.ID, "agent": "kim", "state": "connected"})
	if f := kim.expect("rtc_state"); f.str("contact_id") != cv.ID || f.str("state") != "connected" {
		t.Errorf("kim got %v; want rtc_state connected", f)
	}
	kim.ok(map[string]any{"type": "hold", "contact_id": cv.ID, "on": true})
	if f := gw.expectNext("hold"); f.str("contact_id") != cv.ID || f["on"] != true {
		t.Errorf("gateway got %v; want hold on", f)
	}
	kim.ok(map[string]any{"type": "dtmf", "contact_id": cv.ID, "digits": "12*#A"})
	if f := gw.expectNext("dtmf"); f.str("digits") != "12*#A" {
		t.Errorf("gateway got %v; want dtmf 12*#A", f)
	}
	kim.ok(map[string]any{"type": "rtc_restart", "contact_id": cv.ID})
	if f := gw.expectNext("rtc_restart"); f.str("contact_id") != cv.ID || f.str("agent") != "kim" {
		t.Errorf("gateway got %v; want rtc_restart for kim", f)
	}
	// The offer after a restart of a held call says so (a reloaded desk
	// shows it held); the first offer said nothing.
	gw.ok(map[string]any{"type": "rtc_offer", "contact_id": cv.ID, "agent": "kim", "session": "s2", "sdp": testSDP, "held": true})
	if f := kim.expect("rtc_offer"); f["held"] != true || f.str("session") != "s2" {
		t.Errorf("kim got %v; want the held offer", f)
	}
	if f := gw.call(map[string]any{"type": "rtc_offer", "contact_id": cv.ID, "agent": "kim", "session": "s3", "sdp": testSDP, "held": "yes"}); f.str("code") != CodeValidation || f.str("field") != "held" {
		t.Errorf("rtc_offer with held \"yes\" answered %v; want validation naming held", f)
	}

	// A reconnecting gateway hears the call is bridged to a browser.
	_, hello := e.gatewayHello("/gateway/gw-gov2?agency=gov")
	if c := callsOf(t, hello)[cv.ID]; c["browser"] != true || c.str("phone") != "" {
		t.Errorf("gateway hello lists %v; want browser true", c)
	}
	// The desk's hello carries the ICE servers.
	_, kh := e.agent("lee")
	ice := kh.list("ice_servers")
	if len(ice) != 1 || ice[0].str("username") != "u" || ice[0].str("credential") != "p" {
		t.Errorf("hello ice_servers = %v", kh["ice_servers"])
	}
}

func TestPhoneAgentGetsNoBrowserButHoldAndDTMF(t *testing.T) {
	e := newEnv(t)
	gw := e.gateway("/gateway/gw-gov?agency=gov")
	kim, hello := e.agent("kim")
	if l, ok := hello["ice_servers"].([]any); !ok || len(l) != 0 {
		t.Errorf("hello ice_servers = %v; want an empty list", hello["ice_servers"])
	}
	kim.ok(map[string]any{"type": "state", "state": "available"})
	cv := e.enqueue(router.EnqueueRequest{Channel: router.ChannelVoice, Caller: caller("01012345678")})
	kim.ok(map[string]any{"type": "accept", "offer_id": kim.expect("offer").str("offer_id")})
	if f := gw.expectNext("connect"); f["browser"] != nil {
		t.Errorf("connect = %v; want no browser for a phone agent", f)
	}
	kim.ok(map[string]any{"type": "hold", "contact_id": cv.ID, "on": false})
	if f := gw.expectNext("hold"); f["on"] != false {
		t.Errorf("gateway got %v; want hold off", f)
	}
	kim.ok(map[string]any{"type": "dtmf", "contact_id": cv.ID, "digits": "5"})
	gw.expectNext("dtmf")
	// Without the softphone the desk may not answer offers.
	if f := kim.call(map[string]any{"type": "rtc_answer", "contact_id": cv.ID, "session": "s", "sdp": testSDP}); f.str("code") != CodeForbidden {
		t.Errorf("rtc_answer without the softphone answered %v; want forbidden", f)
	}
}

func TestSoftphoneFramesAreChecked(t *testing.T) {
	var refused []Refusal
	e := newEnv(t, func(c *Config) { c.Refused = func(r Refusal) { refused = append(refused, r) } })
	kim, gw, cv, _ := e.browserCall()
	lee, _ := e.agent("lee")
	lee.ok(map[string]any{"type": "softphone", "on": true})
	for _, tc := range []struct {
		f     map[string]any
		code  string
		field string
	}{
		{map[string]any{"type": "softphone"}, CodeValidation, "on"},
		{map[string]any{"type": "softphone", "on": "yes"}, CodeValidation, "on"},
		{map[string]any{"type": "dtmf", "contact_id": cv.ID, "digits": "12x"}, CodeValidation, "digits"},
		{map[string]any{"type": "dtmf", "contact_id": cv.ID, "digits": "123456789012345678901234567890123"}, CodeValidation, "digits"},
		{map[string]any{"type": "hold", "contact_id": cv.ID}, CodeValidation, "on"},
		{map[string]any{"type": "rtc_answer", "contact_id": cv.ID, "session": "s 1", "sdp": testSDP}, CodeValidation, "session"},
		{map[string]any{"type": "rtc_answer", "contact_id": cv.ID, "session": "s1", "sdp": "hello"}, CodeValidation, "sdp"},
		{map[string]any{"type": "rtc_answer", "contact_id": cv.ID, "session": "s1"}, CodeValidation, "sdp"},
		{map[string]any{"type": "rtc_restart", "contact_id": cv.ID, "sdp": testSDP}, CodeValidation, "sdp"},
	} {
		if f := kim.call(tc.f); f.str("code") != tc.code || f.str("field") != tc.field {
			t.Errorf("%v answered %v; want %s on %s", tc.f, f, tc.code, tc.field)
		}
	}
	// Another agent's contact is not found, and the attempt is reported.
	for _, f := range []map[string]any{
		{"type": "rtc_answer", "contact_id": cv.ID, "session": "s1", "sdp": testSDP},
		{"type": "hold", "contact_id": cv.ID, "on": true},
		{"type": "dtmf", "contact_id": cv.ID, "digits": "1"},
		{"type": "rtc_restart", "contact_id": cv.ID},
	} {
		if a := lee.call(f); a.str("code") != CodeNotFound {
			t.Errorf("lee's %v answered %v; want not_found", f, a)
		}
	}
	if len(refused) != 4 || refused[0].ContactID != cv.ID {
		t.Errorf("refusals = %+v; want lee's four", refused)
	}
	// The gateway may offer only to the contact's agent (another is a
	// conflict: the call is in its reach), and only its own agency's
	// gateway may (another's is not_found).
	if f := gw.call(map[string]any{"type": "rtc_offer", "contact_id": cv.ID, "agent": "lee", "session": "s1", "sdp": testSDP}); f.str("code") != CodeConflict || f.str("field") != "agent" {
		t.Errorf("an offer to lee answered %v; want conflict on agent", f)
	}
	if f := gw.call(map[string]any{"type": "rtc_state", "contact_id": cv.ID, "agent": "kim", "state": "gone"}); f.str("field") != "state" {
		t.Errorf("a bad state answered %v; want validation on state", f)
	}
	tax := e.gateway("/gateway/gw-tax?agency=tax")
	if f := tax.call(map[string]any{"type": "rtc_offer", "contact_id": cv.ID, "agent": "kim", "session": "s1", "sdp": testSDP}); f.str("code") != CodeNotFound {
		t.Errorf("tax's offer answered %v; want not_found", f)
	}
	if lee.received("rtc_offer") {
		t.Error("lee got an offer for kim's call")
	}
	// None of the refusals cost a socket.
	kim.ok(map[string]any{"type": "dtmf", "contact_id": cv.ID, "digits": "9"})
	gw.ok(map[string]any{"type": "rtc_offer", "contact_id": cv.ID, "agent": "kim", "session": "s2", "sdp": testSDP})
	kim.expect("rtc_offer")
}

// TestCallFramesOnAnOfferedCall: the call-control frames on a call only
// offered to the agent are a conflict that says to accept it first (the
// agent may see it); from an agent it has nothing to do with they are
// not_found; neither reaches the gateway.
func TestCallFramesOnAnOfferedCall(t *testing.T) {
	e := newEnv(t)
	gw := e.gateway("/gateway/gw-gov?agency=gov")
	kim := e.available("kim")
	kim.ok(map[string]any{"type": "softphone", "on": true})
	lee, _ := e.agent("lee")
	lee.ok(map[string]any{"type": "softphone", "on": true})
	cv := e.enqueue(router.EnqueueRequest{Channel: router.ChannelVoice, Caller: caller("01012345678")})
	offer := kim.expect("offer")
	frames := []map[string]any{
		{"type": "rtc_answer", "contact_id": cv.ID, "session": "s1", "sdp": testSDP},
		{"type": "rtc_restart", "contact_id": cv.ID},
		{"type": "hold", "contact_id": cv.ID, "on": true},
		{"type": "dtmf", "contact_id": cv.ID, "digits": "1"},
	}
	for _, f := range frames {
		a := kim.call(f)
		if a.str("code") != CodeConflict || a.str("field") != "contact_id" || !strings.Contains(a.str("message"), "not accepted yet") {
			t.Errorf("kim's %v on the offered call answered %v; want conflict on contact_id saying it is not accepted yet", f["type"], a)
		}
		if a := lee.call(f); a.str("code") != CodeNotFound {
			t.Errorf("lee's %v answered %v; want not_found", f["type"], a)
		}
	}
	// Nothing was relayed: the gateway's next frame is the accepted call's.
	kim.ok(map[string]any{"type": "accept", "offer_id": offer.str("offer_id")})
	gw.expectNext("connect")
	kim.ok(map[string]any{"type": "hold", "contact_id": cv.ID, "on": true})
	gw.expectNext("hold")
}

func TestSecondTabDoesNotStealTheCall(t *testing.T) {
	e := newEnv(t)
	first, gw, cv, _ := e.browserCall()
	gw.ok(map[string]any{"type": "rtc_state", "contact_id": cv.ID, "agent": "kim", "state": "connected"})
	// A second tab replaces the first socket, but the first tab's peer
	// still carries the call: turning the softphone on there is refused.
	second, _ := e.agent("kim")
	if ce := first.closed(); ce == nil || ce.Code != CloseReplaced {
		t.Fatalf("first tab closed with %v; want %d", ce, CloseReplaced)
	}
	if f := second.call(map[string]any{"type": "softphone", "on": true}); f.str("code") != CodeSoftphoneBusy {
		t.Fatalf("second tab's softphone answered %v; want softphone_busy", f)
	}
	// Meanwhile the edge cannot offer to it.
	if f := gw.call(map[string]any{"type": "rtc_offer", "contact_id": cv.ID, "agent": "kim", "session": "s1", "sdp": testSDP}); f.str("code") != CodeConflict {
		t.Errorf("an offer with no softphone connected answered %v; want conflict", f)
	}
	second.ok(map[string]any{"type": "softphone", "on": true, "take": true})
	if f := gw.expectNext("rtc_restart"); f.str("contact_id") != cv.ID || f.str("agent") != "kim" {
		t.Errorf("gateway got %v; want rtc_restart for the call", f)
	}
	gw.ok(map[string]any{"type": "rtc_offer", "contact_id": cv.ID, "agent": "kim", "session": "s2", "sdp": testSDP})
	if f := second.expect("rtc_offer"); f.str("session") != "s2" {
		t.Errorf("second tab got %v", f)
	}
	// With the peer gone (the edge says so), a third tab takes it without
	// asking: there is no audio to steal.
	gw.ok(map[string]any{"type": "rtc_state", "contact_id": cv.ID, "agent": "kim", "state": "failed"})
	third, _ := e.agent("kim")
	third.ok(map[string]any{"type": "softphone", "on": true})
}

func TestReloadTakesTheSoftphoneBack(t *testing.T) {
	e := newEnv(t)
	kim, gw, cv, _ := e.browserCall()
	_ = kim.ws.Close() // the page reloads
	clocktest.Eventually(t, "the hub to let the old socket go", waitFor, func() bool { return e.connCount() == 1 })
	again, _ := e.agent("kim")
	again.ok(map[string]any{"type": "softphone", "on": true}) // no take needed
	again.ok(map[string]any{"type": "rtc_restart", "contact_id": cv.ID})
	gw.expectNext("rtc_restart")
	gw.ok(map[string]any{"type": "rtc_offer", "contact_id": cv.ID, "agent": "kim", "session": "s3", "sdp": testSDP})
	again.expect("rtc_offer")
	// Turning it off makes the next call a phone call.
	again.ok(map[string]any{"type": "softphone", "on": false})
	if f := again.call(map[string]any{"type": "rtc_restart", "contact_id": cv.ID}); f.str("code") != CodeForbidden {
		t.Errorf("rtc_restart after softphone off answered %v; want forbidden", f)
	}
}

func TestBrowserFollowsTransferAndInterpreter(t *testing.T) {
	e := newEnv(t)
	e.interpreters()
	kim, gw, cv, _ := e.browserCall()
	park := e.available("park")
	park.ok(map[string]any{"type": "softphone", "on": true})
	nam := e.available("nam")
	nam.ok(map[string]any{"type": "softphone", "on": true})

	kim.ok(map[string]any{"type": "interpret", "contact_id": cv.ID, "language": "vi"})
	offer := nam.expect("offer")
	legID := offer.obj("contact").str("contact_id")
	nam.ok(map[string]any{"type": "accept", "offer_id": offer.str("offer_id")})
	if f := gw.expect("conference"); f["browser"] != true || f.str("phone") != "" {
		t.Errorf("conference = %v; want browser true", f)
	}
	// The call's gateway offers to the interpreter on their own leg.
	gw.ok(map[string]any{"type": "rtc_offer", "contact_id": legID, "agent": "nam", "session": "i1", "sdp": testSDP})
	if f := nam.expect("rtc_offer"); f.str("contact_id") != legID {
		t.Errorf("nam got %v; want an offer on their leg %s", f, legID)
	}
	nam.ok(map[string]any{"type": "rtc_answer", "contact_id": legID, "session": "i1", "sdp": testSDP})
	if f := gw.expect("rtc_answer"); f.str("contact_id") != legID || f.str("agent") != "nam" {
		t.Errorf("gateway got %v; want nam's answer", f)
	}
	nam.ok(map[string]any{"type": "end", "contact_id": legID})
	gw.expect("conference_ended")

	kim.ok(map[string]any{"type": "transfer", "contact_id": cv.ID, "to": map[string]any{"queue": "tax.general"}, "mode": "cold"})
	tr := gw.expect("transferred")
	park.ok(map[string]any{"type": "accept", "offer_id": park.expect("offer").str("offer_id")})
	if f := gw.expect("connect"); f.str("contact_id") != tr.str("new_contact_id") || f["browser"] != true || f.str("agent") != "park" {
		t.Errorf("connect = %v; want the new leg to park's browser", f)
	}
	// kim no longer has a call in the browser: a second tab takes the
	// softphone without asking.
	second, _ := e.agent("kim")
	second.ok(map[string]any{"type": "softphone", "on": true})
	e.hub.mu.Lock()
	n := len(e.hub.browser)
	e.hub.mu.Unlock()
	if n != 1 {
		t.Errorf("%d calls remembered in the browser; want park's alone", n)
	}
}

// With TURNCredentials, each desk's hello and each rtc_offer carry the
// agent's own minted credentials for the TURN servers listed without any;
// STUN servers and static TURN credentials pass as they are.
func TestSoftphoneTURNCredentialsAreMintedPerAgent(t *testing.T) {
	minted := 0
	e := newEnv(t, func(c *Config) {
		c.ICEServers = []ICEServer{{URLs: []string{"stun:turn.example:3478"}}, {URLs: []string{"turn:turn.example:3478"}},
			{URLs: []string{"turns:turn.example:5349"}}, {URLs: []string{"turn:static.example:3478"}, Username: "u", Credential: "p"}}
		c.TURNCredentials = func(agent string, _ time.Time) (string, string) {
			minted++
			return fmt.Sprintf("%d:%s", minted, agent), "cred-of-" + agent
		}
	})
	_, lh := e.agent("lee")
	ice := lh.list("ice_servers")
	if len(ice) != 4 || ice[0].str("username") != "" || ice[3].str("username") != "u" || ice[3].str("credential") != "p" {
		t.Fatalf("lee's hello ice_servers = %v; want STUN bare and the static TURN as it was", lh["ice_servers"])
	}
	for _, s := range ice[1:3] {
		if !strings.HasSuffix(s.str("username"), ":lee") || s.str("credential") != "cred-of-lee" {
			t.Errorf("lee's TURN server %v; want lee's minted credentials", s)
		}
	}
	kim, gw, cv, _ := e.browserCall()
	gw.ok(map[string]any{"type": "rtc_offer", "contact_id": cv.ID, "agent": "kim", "session": "s1", "sdp": testSDP})
	f := kim.expect("rtc_offer")
	offered := f.list("ice_servers")
	if len(offered) != 4 || !strings.HasSuffix(offered[1].str("username"), ":kim") || offered[1].str("credential") != "cred-of-kim" {
		t.Errorf("kim's rtc_offer ice_servers = %v; want kim's freshly minted credentials", f["ice_servers"])
	}
}
