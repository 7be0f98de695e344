package agents

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"tellonce/clocktest"
	"tellonce/router"
)

func TestHelloOnConnect(t *testing.T) {
	e := newEnv(t)
	_, hello := e.agent("kim")
	if got := hello.obj("agent").str("username"); got != "kim" {
		t.Errorf("hello.agent.username = %q; want kim", got)
	}
	if got := hello.obj("agent").str("name"); got != "Kim Minji" {
		t.Errorf("hello.agent.name = %q; want Kim Minji", got)
	}
	if got := hello.str("state"); got != "offline" {
		t.Errorf("hello.state = %q; want offline", got)
	}
	if hello["contacts"] == nil || hello["offers"] == nil {
		t.Errorf("hello = %v; want contacts and offers as (empty) lists", hello)
	}
	if !e.agentView("kim").Connected {
		t.Error("router does not see kim connected")
	}
}

func TestOfferCarriesWholeCaseAndAcceptAssigns(t *testing.T) {
	e := newEnv(t)
	cv := e.enqueue(router.EnqueueRequest{Caller: caller("c1"),
		Context: router.ContactContext{Summary: "lost my residence card", IVR: []string{"1", "3"}}})
	cit := e.dial("/citizen/" + cv.ID)
	if q := cit.expectNext("queued"); q.num("position") != 1 || q.str("light") != "green" {
		t.Errorf("citizen's first frame = %v; want queued at 1, green", q)
	}

	kim := e.available("kim")
	offer := kim.expect("offer")
	contact, cs := offer.obj("contact"), offer.obj("case")
	if contact.str("contact_id") != cv.ID || contact.str("channel") != "chat" || contact.obj("caller").str("id") != "c1" {
		t.Errorf("offer.contact = %v; want contact %s, chat, caller c1", contact, cv.ID)
	}
	if got := contact.obj("context").str("summary"); got != "lost my residence card" {
		t.Errorf("offer.contact.context.summary = %q", got)
	}
	if evs := cs.list("events"); len(evs) == 0 || evs[0].str("type") != "contact_created" {
		t.Errorf("offer.case.events = %v; want contact_created first", evs)
	}
	if _, err := time.Parse(time.RFC3339, offer.str("expires_at")); err != nil {
		t.Errorf("offer.expires_at = %q: %v", offer.str("expires_at"), err)
	}
	if _, ok := contact["answered_at"]; ok {
		t.Errorf("offer.contact has answered_at %v; zero times are omitted", contact["answered_at"])
	}
	if q := cit.expectNext("queued"); q.num("position") != 0 {
		t.Errorf("citizen after the offer: %v; want position 0", q)
	}

	if a := kim.call(map[string]any{"type": "accept", "offer_id": offer.str("offer_id")}); a.str("type") != "ack" {
		t.Fatalf("accept answered %v", a)
	}
	assigned := kim.expect("assigned")
	if assigned.obj("contact").str("status") != "assigned" || assigned.obj("case").str("case_id") != cv.CaseID {
		t.Errorf("assigned = %v", assigned)
	}
	joined := cit.expectNext("agent_joined")
	if joined.str("agent_name") != "Kim Minji" || joined.str("agency") != "gov" {
		t.Errorf("agent_joined = %v; want Kim Minji of gov", joined)
	}
}

func TestSayBothWaysAndNotesStayInternal(t *testing.T) {
	e := newEnv(t)
	kim, cit, cv := e.assigned()

	cit.ok(map[string]any{"type": "say", "text": "안녕하세요, 카드를 잃어버렸어요"})
	m := kim.expect("message")
	if m.str("from") != "citizen" || m.str("contact_id") != cv.ID || m.str("case_id") != cv.CaseID ||
		m.str("text") != "안녕하세요, 카드를 잃어버렸어요" {
		t.Errorf("agent got %v", m)
	}
	if echo := cit.expectNext("message"); echo.str("from") != "citizen" {
		t.Errorf("citizen echo = %v", echo)
	}

	kim.ok(map[string]any{"type": "note", "case_id": cv.CaseID, "text": "caller sounds upset; verify identity"})
	if n := kim.expect("note"); n.str("agent") != "kim" || n.str("case_id") != cv.CaseID || n.str("agency") != "gov" {
		t.Errorf("note frame = %v", n)
	}
	kim.ok(map[string]any{"type": "say", "contact_id": cv.ID, "text": "I can help with that."})
	reply := cit.expectNext("message") // the note, had it leaked, would come first
	if reply.str("from") != "agent" || reply.str("agent_name") != "Kim Minji" || reply.str("text") != "I can help with that." {
		t.Errorf("citizen got %v; want Kim's message", reply)
	}
	if echo := kim.expect("message"); echo.str("from") != "agent" || echo.str("agent") != "kim" {
		t.Errorf("agent echo = %v", echo)
	}
	cit.ok(map[string]any{"type": "say", "text": "thanks"})
	if cit.received("note") {
		t.Error("the citizen received an internal note")
	}
}

func TestColdTransferCarriesCase(t *testing.T) {
	e := newEnv(t)
	kim, cit, cv := e.assigned()
	cit.ok(map[string]any{"type": "say", "text": "my refund never came"})
	kim.ok(map[string]any{"type": "note", "case_id": cv.CaseID, "text": "tax matter, not ours"})
	park := e.available("park")

	kim.ok(map[string]any{"type": "transfer", "contact_id": cv.ID, "to": map[string]any{"queue": "tax.general"},
		"mode": "cold", "note": "refund missing since March"})
	if ended := kim.expect("contact_ended"); ended.str("contact_id") != cv.ID || ended.str("reason") != "transferred" {
		t.Errorf("kim got %v; want contact_ended transferred", ended)
	}
	if tr := cit.expect("transferred"); tr.str("agency") != "tax" || tr.str("queue_name") != "Tax line" {
		t.Errorf("citizen got %v; want transferred to tax's Tax line", tr)
	}
	if cit.received("ended") {
		t.Error("the citizen was told the contact ended on a transfer")
	}

	offer := park.expect("offer")
	cs := offer.obj("case")
	evs := cs.list("events")
	if len(evs) == 0 || evs[0].str("type") != "transfer" || evs[0].str("text") != "refund missing since March" {
		t.Fatalf("offer.case.events = %v; want the transfer note first", evs)
	}
	if cs.obj("transfer_note").str("text") != "refund missing since March" {
		t.Errorf("offer.case.transfer_note = %v", cs.obj("transfer_note"))
	}
	texts := map[string]string{}
	for _, ev := range evs {
		texts[ev.str("type")+":"+ev.str("text")] = ev.str("actor")
	}
	for _, want := range []string{"message:my refund never came", "note:tax matter, not ours"} {
		if _, ok := texts[want]; !ok {
			t.Errorf("offer.case.events lack %q: %v", want, evs)
		}
	}
	legs := cs.list("legs")
	if len(legs) != 2 || legs[0].str("agent") != "kim" || legs[0].str("disposition") != "transferred" || legs[1].str("agency") != "tax" {
		t.Errorf("offer.case.legs = %v; want kim's transferred leg then tax's", legs)
	}

	// A reconnecting (here: replacing) console gets the offer back in its
	// hello, the transfer note still first.
	park, hello := e.agent("park")
	if os := hello.list("offers"); len(os) != 1 || os[0].obj("case").list("events")[0].str("type") != "transfer" ||
		os[0].obj("case").obj("transfer_note").str("text") != "refund missing since March" {
		t.Errorf("hello.offers = %v; want the transfer offer with its note first", os)
	}

	park.ok(map[string]any{"type": "accept", "offer_id": offer.str("offer_id")})
	if j := cit.expect("agent_joined"); j.str("agent_name") != "Park Sora" || j.str("agency") != "tax" {
		t.Errorf("citizen got %v; want Park Sora of tax", j)
	}
	cit.ok(map[string]any{"type": "say", "text": "hello again"})
	if m := park.expect("message"); m.str("text") != "hello again" || m.str("contact_id") == cv.ID {
		t.Errorf("park got %v; want the citizen's message on the new leg", m)
	}
}

func TestEndTellsAgentAndCitizen(t *testing.T) {
	e := newEnv(t)
	kim, cit, cv := e.assigned()
	kim.ok(map[string]any{"type": "end", "contact_id": cv.ID, "disposition": "resolved", "summary": "card reissued"})
	if f := kim.expect("contact_ended"); f.str("contact_id") != cv.ID || f.str("reason") != "resolved" {
		t.Errorf("kim got %v", f)
	}
	if f := cit.expectNext("ended"); f.str("reason") != "completed" {
		t.Errorf("citizen got %v; want ended completed", f)
	}
	if ce := cit.closed(); ce == nil || ce.Code != 1000 {
		t.Errorf("citizen socket closed with %v; want 1000", ce)
	}
}

func TestCitizenLeave(t *testing.T) {
	e := newEnv(t)
	kim, cit, cv := e.assigned()
	cit.ok(map[string]any{"type": "leave"})
	if f := cit.expectNext("ended"); f.str("reason") != "left" {
		t.Errorf("citizen got %v; want ended left", f)
	}
	if ce := cit.closed(); ce == nil || ce.Code != 1000 {
		t.Errorf("citizen socket closed with %v; want 1000", ce)
	}
	if f := kim.expect("contact_ended"); f.str("contact_id") != cv.ID || f.str("reason") != "abandoned" {
		t.Errorf("kim got %v; want contact_ended abandoned", f)
	}
}

func TestOfferTimeoutRevokes(t *testing.T) {
	e := newEnv(t)
	kim := e.available("kim")
	e.enqueue(router.EnqueueRequest{Caller: caller("c1")})
	offer := kim.expect("offer")
	e.clock.Advance(router.DefaultOfferTimeout + time.Second)
	if _, err := e.r.Tick(); err != nil {
		t.Fatal(err)
	}
	f := kim.expect("offer_revoked")
	if f.str("offer_id") != offer.str("offer_id") || f.str("reason") != "offer_timeout" {
		t.Errorf("got %v; want offer_revoked offer_timeout", f)
	}
	if s := kim.expect("state"); s.str("state") != "not_ready" {
		t.Errorf("state after timeout = %v; want not_ready", s)
	}
}

func TestReconnectRestoresDesk(t *testing.T) {
	e := newEnv(t)
	kim, _, cv := e.assigned()
	_ = kim.ws.Close() // the network drops: no close frame
	clocktest.Eventually(t, "router sees kim disconnected", waitFor, func() bool { return !e.agentView("kim").Connected })

	e.clock.Advance(router.DefaultReconnectGrace / 2)
	if _, err := e.r.Tick(); err != nil {
		t.Fatal(err)
	}
	_, hello := e.agent("kim")
	contacts := hello.list("contacts")
	if len(contacts) != 1 || contacts[0].obj("contact").str("contact_id") != cv.ID {
		t.Fatalf("hello.contacts = %v; want %s restored", contacts, cv.ID)
	}
	if contacts[0].obj("case").str("case_id") != cv.CaseID || len(contacts[0].obj("case").list("events")) == 0 {
		t.Errorf("restored case = %v", contacts[0].obj("case"))
	}
	// Busy on a chat, the desk still learns the state kim picked.
	if got := hello.obj("agent").str("chosen"); got != "available" {
		t.Errorf("hello.agent.chosen = %q; want available", got)
	}
	// The grace timer is gone: much later, kim still holds the contact.
	e.clock.Advance(router.DefaultReconnectGrace * 2)
	if _, err := e.r.Tick(); err != nil {
		t.Fatal(err)
	}
	if c, _ := e.r.Contact(cv.ID); c.Status != router.StatusAssigned || c.Agent != "kim" {
		t.Errorf("after reconnect the contact is %s with %q; want assigned to kim", c.Status, c.Agent)
	}
}

func TestNewConnectionReplacesOld(t *testing.T) {
	e := newEnv(t)
	kim, _, cv := e.assigned()
	e.enqueue(router.EnqueueRequest{Caller: caller("c2")}) // offered to kim, pending
	offer := kim.expect("offer")

	kim2, hello := e.agent("kim")
	if ce := kim.closed(); ce == nil || ce.Code != CloseReplaced || !strings.Contains(ce.Text, "replaced") {
		t.Errorf("old socket closed with %v; want %d replaced", ce, CloseReplaced)
	}
	if cs := hello.list("contacts"); len(cs) != 1 || cs[0].obj("contact").str("contact_id") != cv.ID {
		t.Errorf("new hello.contacts = %v", cs)
	}
	if os := hello.list("offers"); len(os) != 1 || os[0].str("offer_id") != offer.str("offer_id") ||
		os[0].obj("case").str("case_id") == "" {
		t.Errorf("new hello.offers = %v; want the pending offer with its case", os)
	}
	// The restored offer works on the new socket.
	kim2.ok(map[string]any{"type": "accept", "offer_id": offer.str("offer_id")})
	// Left: kim2 and the citizen.
	clocktest.Eventually(t, "old connection finished", waitFor, func() bool { return e.connCount() == 2 })
	if !e.agentView("kim").Connected {
		t.Fatal("the replaced socket's end disconnected kim")
	}
	e.clock.Advance(router.DefaultReconnectGrace * 2)
	if _, err := e.r.Tick(); err != nil {
		t.Fatal(err)
	}
	if c, _ := e.r.Contact(cv.ID); c.Agent != "kim" || c.Status != router.StatusAssigned {
		t.Errorf("contact after the grace period: %s with %q; want still kim's", c.Status, c.Agent)
	}
}

func TestOriginRefused(t *testing.T) {
	e := newEnv(t)
	_, resp, err := websocket.DefaultDialer.Dial(e.url("/agent/kim"), http.Header{"Origin": {"http://evil.test"}})
	if err == nil {
		t.Fatal("dial from a foreign origin succeeded")
	}
	if resp == nil || resp.StatusCode != 403 {
		t.Fatalf("dial from a foreign origin: %v, response %v; want 403", err, resp)
	}
	if e.agentView("kim").Connected {
		t.Error("a refused upgrade connected the agent")
	}
}

func TestWarmTransfer(t *testing.T) {
	e := newEnv(t)
	kim, cit, cv := e.assigned()
	park := e.available("park")

	kim.ok(map[string]any{"type": "transfer", "contact_id": cv.ID, "to": map[string]any{"agent": "park"},
		"mode": "warm", "note": "please take the refund question"})
	offer := park.expect("offer")
	if n := offer.obj("case").obj("transfer_note"); n.str("text") != "please take the refund question" {
		t.Errorf("warm offer transfer_note = %v", n)
	}
	// While the target decides, notes reach them too.
	kim.ok(map[string]any{"type": "note", "case_id": cv.CaseID, "text": "she already paid"})
	if n := park.expect("note"); n.str("text") != "she already paid" || n.str("agent") != "kim" {
		t.Errorf("park got %v; want kim's note", n)
	}
	// The citizen stays with kim until park accepts.
	cit.ok(map[string]any{"type": "say", "text": "still there?"})
	if m := kim.expect("message"); m.str("text") != "still there?" {
		t.Errorf("kim got %v", m)
	}
	if cit.received("transferred") {
		t.Error("the citizen was moved before the warm transfer completed")
	}

	park.ok(map[string]any{"type": "accept", "offer_id": offer.str("offer_id")})
	if f := kim.expect("contact_ended"); f.str("reason") != "transferred" {
		t.Errorf("kim got %v; want contact_ended transferred", f)
	}
	if f := cit.expect("transferred"); f.str("agency") != "tax" || f.str("queue_name") != "Tax line" {
		t.Errorf("citizen got %v", f)
	}
	if f := cit.expect("agent_joined"); f.str("agent_name") != "Park Sora" {
		t.Errorf("citizen got %v; want Park Sora joined", f)
	}
	cit.ok(map[string]any{"type": "say", "text": "hello park"})
	if m := park.expect("message"); m.str("text") != "hello park" {
		t.Errorf("park got %v", m)
	}
}

func TestWarmTransferDeclinedTellsFirstAgent(t *testing.T) {
	e := newEnv(t)
	kim, _, cv := e.assigned()
	park := e.available("park")
	kim.ok(map[string]any{"type": "transfer", "contact_id": cv.ID, "to": map[string]any{"queue": "tax.general"}, "mode": "warm"})
	offer := park.expect("offer")
	park.ok(map[string]any{"type": "decline", "offer_id": offer.str("offer_id"), "reason": "not my topic"})
	if f := park.expect("offer_revoked"); f.str("reason") != "declined" {
		t.Errorf("park got %v; want offer_revoked declined", f)
	}
	if f := kim.expect("transfer_failed"); f.str("contact_id") != cv.ID || f.str("reason") == "" {
		t.Errorf("kim got %v; want transfer_failed for %s", f, cv.ID)
	}
	kim.ok(map[string]any{"type": "say", "contact_id": cv.ID, "text": "I am still with you"})
	// park never held the leg: the offer's withdrawal is all their desk
	// hears of it, never a contact_ended for a contact it never showed.
	// A request of park's own, answered after the decline was delivered
	// (kim heard it), proves nothing more is on its way.
	park.ok(map[string]any{"type": "state", "state": "available"})
	if park.received("contact_ended") {
		t.Errorf("the decliner's desk got contact_ended for a leg it never held: %v", park.log)
	}
}

func TestCitizenReconnectFollowsCase(t *testing.T) {
	e := newEnv(t)
	kim, cit, cv := e.assigned()
	kim.ok(map[string]any{"type": "transfer", "contact_id": cv.ID, "to": map[string]any{"queue": "tax.general"}, "mode": "cold"})
	cit.expect("transferred")
	_ = cit.ws.Close()

	// Reconnecting with the first leg's id joins the live leg.
	again := e.dial("/citizen/" + cv.ID)
	if f := again.expectNext("queued"); f.num("position") != 1 {
		t.Errorf("reconnected citizen got %v; want queued at 1 in tax", f)
	}
	park := e.available("park")
	offer := park.expect("offer")
	park.ok(map[string]any{"type": "accept", "offer_id": offer.str("offer_id")})
	again.expect("agent_joined")
	park.ok(map[string]any{"type": "end", "contact_id": offer.obj("contact").str("contact_id")})
	if f := again.expect("ended"); f.str("reason") != "completed" {
		t.Errorf("got %v; want ended completed", f)
	}

	// Once the case is closed a socket for it says so and closes.
	late := e.dial("/citizen/" + cv.ID)
	if f := late.expectNext("ended"); f.str("reason") != "closed" {
		t.Errorf("late citizen got %v; want ended closed", f)
	}
	if ce := late.closed(); ce == nil || ce.Code != 1000 {
		t.Errorf("late citizen closed with %v; want 1000", ce)
	}
}
