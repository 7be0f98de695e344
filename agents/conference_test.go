package agents

import (
	"testing"
	"time"

	"tellonce/router"
)

// interpreters adds an interpreter queue of agency lang with interpreter
// nam (Vietnamese) to the environment.
func (e *env) interpreters() {
	e.t.Helper()
	if _, err := e.r.UpsertQueue(router.QueueConfig{ID: "lang.pool", Agency: "lang", Name: "Interpreters",
		Kind: router.QueueInterpreter, Channels: []router.Channel{router.ChannelChat, router.ChannelVoice}, Wrapup: -1}); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.r.UpsertAgent(router.AgentProfile{Username: "nam", Name: "Nguyen Nam", Agency: "lang",
		Queues: map[string]int{"lang.pool": 1}, Skills: map[string]int{"lang:vi": 5}, MaxChats: 3}); err != nil {
		e.t.Fatal(err)
	}
}

func TestInterpreterConferenceOverSockets(t *testing.T) {
	e := newEnv(t)
	e.interpreters()
	kim, cit, cv := e.assigned()
	cit.ok(map[string]any{"type": "say", "text": "tôi mất thẻ cư trú"})
	kim.expect("message")
	nam := e.available("nam")

	kim.ok(map[string]any{"type": "interpret", "contact_id": cv.ID, "language": "vi", "note": "Vietnamese speaker", "share_history": true})
	if f := kim.expect("interpreter"); f.str("state") != "requested" || f.str("contact_id") != cv.ID || f.str("queue") != "lang.pool" {
		t.Errorf("kim got %v; want interpreter requested", f)
	}
	offer := nam.expect("offer")
	legID := offer.obj("contact").str("contact_id")
	if offer.obj("contact").str("conference_of") != cv.ID || offer.obj("case").obj("transfer_note").str("text") != "Vietnamese speaker" {
		t.Errorf("nam's offer %v; want an interpreter leg of %s with the note first", offer, cv.ID)
	}
	nam.ok(map[string]any{"type": "accept", "offer_id": offer.str("offer_id")})
	assigned := nam.expect("assigned")
	said := false
	for _, ev := range assigned.obj("case").list("events") {
		said = said || ev.str("text") == "tôi mất thẻ cư trú"
	}
	if !said {
		t.Errorf("the interpreter's case lacks the citizen's earlier words, which kim shared: %v", assigned.obj("case"))
	}
	if f := kim.expect("interpreter"); f.str("state") != "joined" || f.str("interpreter_name") != "Nguyen Nam" {
		t.Errorf("kim got %v; want the interpreter joined", f)
	}
	if f := cit.expect("interpreter"); f.str("state") != "joined" || f.str("agent_name") != "Nguyen Nam" {
		t.Errorf("citizen got %v; want the interpreter joined", f)
	}

	// Three parties, one conversation.
	cit.ok(map[string]any{"type": "say", "text": "xin chào"})
	cit.expect("message") // the citizen's own words come back to their chat
	if f := nam.expect("message"); f.str("contact_id") != legID || f.str("from") != "citizen" {
		t.Errorf("nam got %v; want the citizen's words on the leg %s", f, legID)
	}
	kim.expect("message")
	nam.ok(map[string]any{"type": "say", "contact_id": legID, "text": "안녕하세요 (interpreted)"})
	if f := nam.expect("message"); f.str("contact_id") != legID || f.str("from") != "interpreter" {
		t.Errorf("nam got %v; want their own words on their leg", f)
	}
	if f := kim.expect("message"); f.str("from") != "interpreter" || f.str("agent") != "nam" || f.str("contact_id") != cv.ID {
		t.Errorf("kim got %v; want the interpreter's words on %s", f, cv.ID)
	}
	if f := cit.expect("message"); f.str("from") != "interpreter" || f.str("agent_name") != "Nguyen Nam" {
		t.Errorf("citizen got %v; want the interpreter's words", f)
	}
	kim.ok(map[string]any{"type": "say", "contact_id": cv.ID, "text": "카드를 재발급해 드릴게요"})
	if f := nam.expect("message"); f.str("from") != "agent" || f.str("text") != "카드를 재발급해 드릴게요" {
		t.Errorf("nam got %v; want kim's words", f)
	}

	// The interpreter leaves; the chat goes on.
	nam.ok(map[string]any{"type": "end", "contact_id": legID})
	for {
		if f := kim.expect("interpreter"); f.str("state") == "left" {
			break
		}
	}
	if f := cit.expect("interpreter"); f.str("state") != "left" {
		t.Errorf("citizen got %v; want the interpreter left", f)
	}
	if cit.received("ended") {
		t.Error("the citizen's chat ended with the interpreter's leg")
	}
	kim.ok(map[string]any{"type": "say", "contact_id": cv.ID, "text": "still here"})
	if f := cit.expect("message"); f.str("text") != "still here" {
		t.Errorf("citizen got %v after the interpreter left", f)
	}

	// Bad frames get errors and change nothing.
	for _, bad := range []map[string]any{
		{"type": "interpret", "contact_id": cv.ID, "language": "v i"},
		{"type": "interpret", "contact_id": cv.ID, "language": "vi", "extra": 1},
		{"type": "interpreter_release", "contact_id": cv.ID},
		{"type": "interpret", "contact_id": "nope", "language": "vi"},
	} {
		if f := kim.call(bad); f.str("type") != "error" {
			t.Errorf("%v answered %v; want an error", bad, f)
		}
	}
}

func TestCallbackOverSockets(t *testing.T) {
	e := newEnv(t)
	if _, err := e.r.UpsertQueue(router.QueueConfig{ID: "gov.general", Agency: "gov", Name: "Civil complaints",
		Channels: []router.Channel{router.ChannelChat, router.ChannelCallback}, Wrapup: -1, CallbackRetries: 2}); err != nil {
		t.Fatal(err)
	}
	gw := e.gateway("/gateway/gw-gov?agency=gov")
	cv := e.enqueue(router.EnqueueRequest{Caller: caller("c1")})
	cit := e.dial("/citizen/" + cv.ID)
	cit.expectNext("queued")
	if _, _, err := e.r.RequestCallback(cv.ID, router.CallbackRequest{Number: "01055556666"}); err != nil {
		t.Fatal(err)
	}
	if f := cit.expect("callback"); f.str("mode") != "keep_place" {
		t.Errorf("citizen got %v; want the callback confirmed", f)
	}
	kim := e.available("kim")
	offer := kim.expect("offer")
	kim.ok(map[string]any{"type": "accept", "offer_id": offer.str("offer_id")})
	if f := gw.expectNext("dial"); f.str("contact_id") != cv.ID || f.str("number") != "01055556666" {
		t.Errorf("gateway got %v; want the chat's callback dialled", f)
	}

	// Nobody answers: kim is told and freed; the router will try again.
	gw.ok(map[string]any{"type": "dial_result", "contact_id": cv.ID, "result": "no_answer"})
	if f := kim.expect("callback_result"); f.str("result") != "no_answer" || f.str("attempt") != "1" {
		t.Errorf("kim got %v; want the no-answer result", f)
	}
	if f := kim.expect("contact_ended"); f.str("reason") != "no_answer" {
		t.Errorf("kim got %v; want contact_ended no_answer", f)
	}
	got, err := e.r.Contact(cv.ID)
	if err != nil || got.Status != router.StatusScheduled {
		t.Errorf("after no answer the contact is %+v (%v); want scheduled for a retry", got, err)
	}
	// The citizen hears when the next try comes, live and on reconnecting:
	// a retry, not a time they booked.
	retryAt := e.clock.Now().Add(router.DefaultCallbackRetryAfter).UTC().Format(time.RFC3339)
	if f := cit.expect("callback"); f.str("mode") != "retry" || f.str("at") != retryAt {
		t.Errorf("citizen got %v after no answer; want callback retry at %s", f, retryAt)
	}
	again := e.dial("/citizen/" + cv.ID)
	if f := again.expectNext("callback"); f.str("mode") != "retry" || f.str("at") != retryAt {
		t.Errorf("a reconnecting citizen got %v; want callback retry at %s", f, retryAt)
	}
	_ = again.ws.Close()
	if f := gw.call(map[string]any{"type": "dial_result", "contact_id": cv.ID, "result": "maybe"}); f.str("field") != "result" {
		t.Errorf("a bad result answered %v; want an error on result", f)
	}

	// The retry comes due and reaches kim again; this time the call works.
	e.clock.Advance(router.DefaultCallbackRetryAfter + time.Second)
	if _, err := e.r.Tick(); err != nil {
		t.Fatal(err)
	}
	offer = kim.expect("offer")
	if offer.obj("contact").num("attempts") != 1 {
		t.Errorf("retry offer %v; want attempts 1", offer.obj("contact"))
	}
	// Offered again, the callback is back in line: a citizen connecting
	// now hears so, not the retry time that has passed.
	again = e.dial("/citizen/" + cv.ID)
	if f := again.expectNext("queued"); f.num("position") != 0 {
		t.Errorf("a citizen connecting to the offered retry got %v; want position 0", f)
	}
	if f := again.expectNext("callback"); f.str("mode") != "keep_place" || f["at"] != nil {
		t.Errorf("then %v; want callback keep_place without a time", f)
	}
}

func TestSecondLineCallbackOverSockets(t *testing.T) {
	e := newEnv(t)
	kim, cit, cv := e.assigned()
	park := e.available("park")
	kim.ok(map[string]any{"type": "end", "contact_id": cv.ID, "summary": "tax question",
		"callback": map[string]any{"queue": "tax.general", "number": "0212345678", "note": "call about the refund"}})
	if f := cit.expect("ended"); f.str("reason") != "callback" {
		t.Errorf("citizen got %v; want ended with reason callback", f)
	}
	offer := park.expect("offer")
	// Park has no pii permission: the number to call is shown masked (the
	// gateway dials it whole).
	if offer.obj("contact").str("channel") != "callback" || offer.obj("contact").str("callback_number") != "02****5678" ||
		offer.obj("case").obj("transfer_note").str("text") != "call about the refund" {
		t.Errorf("park's offer %v; want the callback with its note first", offer)
	}
	if f := kim.call(map[string]any{"type": "end", "contact_id": cv.ID, "callback": map[string]any{"queue": "tax.general", "number": "x"}}); f.str("field") != "callback.number" {
		t.Errorf("a bad callback number answered %v; want an error on callback.number", f)
	}
}

// An interpreter gets neither the earlier conversation (unless shared) nor
// the case's internal notes, live or in their desk.
func TestInterpreterNeedToKnowOverSockets(t *testing.T) {
	e := newEnv(t)
	e.interpreters()
	kim, cit, cv := e.assigned()
	cit.ok(map[string]any{"type": "say", "text": "tôi mất thẻ cư trú"})
	kim.expect("message")
	kim.ok(map[string]any{"type": "note", "case_id": cv.CaseID, "text": "체납 3백만원 (internal)"})
	kim.expect("note")
	nam := e.available("nam")
	kim.ok(map[string]any{"type": "interpret", "contact_id": cv.ID, "language": "vi", "note": "Vietnamese speaker"})
	offer := nam.expect("offer")
	nam.ok(map[string]any{"type": "accept", "offer_id": offer.str("offer_id")})
	assigned := nam.expect("assigned")
	for _, f := range []frame{offer, assigned} {
		for _, ev := range f.obj("case").list("events") {
			if ev.str("type") == "note" || ev.str("text") == "tôi mất thẻ cư trú" {
				t.Errorf("the interpreter's %s carries %v", f.str("type"), ev)
			}
		}
	}
	kim.ok(map[string]any{"type": "note", "case_id": cv.CaseID, "text": "두 번째 메모 (internal)"})
	kim.expect("note")
	// The next frame nam gets is the citizen's words, not the note.
	cit.ok(map[string]any{"type": "say", "text": "xin chào"})
	if f := nam.expectNext("message"); f.str("text") != "xin chào" {
		t.Errorf("nam got %v; want the citizen's words and no note", f)
	}
}

// The call's gateway hears the interpreter's phone in conference, to ring
// it into the call.
func TestConferenceCarriesTheInterpretersPhone(t *testing.T) {
	e := newEnv(t)
	e.interpreters()
	if _, err := e.r.UpsertAgent(router.AgentProfile{Username: "nam", Name: "Nguyen Nam", Agency: "lang",
		Queues: map[string]int{"lang.pool": 1}, Skills: map[string]int{"lang:vi": 5}, MaxChats: 3,
		Phone: "sips:nam@interp.example:5061"}); err != nil {
		t.Fatal(err)
	}
	gw := e.gateway("/gateway/gw?agency=gov")
	kim := e.available("kim")
	cv := e.enqueue(router.EnqueueRequest{Channel: router.ChannelVoice, Caller: caller("01012345678")})
	kim.ok(map[string]any{"type": "accept", "offer_id": kim.expect("offer").str("offer_id")})
	gw.expectNext("connect")
	nam := e.available("nam")
	kim.ok(map[string]any{"type": "interpret", "contact_id": cv.ID, "language": "vi"})
	nam.ok(map[string]any{"type": "accept", "offer_id": nam.expect("offer").str("offer_id")})
	if f := gw.expectNext("conference"); f.str("contact_id") != cv.ID || f.str("agent") != "nam" || f.str("phone") != "sips:nam@interp.example:5061" {
		t.Errorf("gateway got %v; want conference with nam's phone", f)
	}
}

// An interpreter's say on a voice call they interpret is their note on
// the case too: the agent sees it, the caller's line carries nothing.
func TestInterpreterSayOnAVoiceCallIsANote(t *testing.T) {
	e := newEnv(t)
	e.interpreters()
	kim := e.available("kim")
	cv := e.enqueue(router.EnqueueRequest{Channel: router.ChannelVoice, Caller: caller("01012345678")})
	kim.ok(map[string]any{"type": "accept", "offer_id": kim.expect("offer").str("offer_id")})
	nam := e.available("nam")
	kim.ok(map[string]any{"type": "interpret", "contact_id": cv.ID, "language": "vi"})
	offer := nam.expect("offer")
	nam.ok(map[string]any{"type": "accept", "offer_id": offer.str("offer_id")})
	leg := offer.obj("contact").str("contact_id")
	nam.ok(map[string]any{"type": "say", "contact_id": leg, "text": "she means the 2023 return"})
	if f := nam.expect("note"); f.str("text") != "she means the 2023 return" || f.str("agent") != "nam" {
		t.Errorf("nam got %v; want nam's note", f)
	}
	if f := kim.expect("note"); f.str("text") != "she means the 2023 return" {
		t.Errorf("kim got %v; want nam's note", f)
	}
	if kim.received("message") || nam.received("message") {
		t.Error("an interpreter's say on a voice call became a message")
	}
}

// The interpreter's phone hanging up is the call's gateway's to report:
// the gateway carrying the call may end the interpreter's leg (whatever
// agency the interpreter works for); another agency's may not, and the
// call itself goes on.
func TestCarrierGatewayEndsTheInterpretersLeg(t *testing.T) {
	e := newEnv(t)
	e.interpreters()
	gw := e.gateway("/gateway/gw-gov?agency=gov")
	other := e.gateway("/gateway/gw-tax?agency=tax")
	kim := e.available("kim")
	cv := e.enqueue(router.EnqueueRequest{Channel: router.ChannelVoice, Caller: caller("01012345678")})
	kim.ok(map[string]any{"type": "accept", "offer_id": kim.expect("offer").str("offer_id")})
	nam := e.available("nam")
	kim.ok(map[string]any{"type": "interpret", "contact_id": cv.ID, "language": "vi"})
	offer := nam.expect("offer")
	nam.ok(map[string]any{"type": "accept", "offer_id": offer.str("offer_id")})
	leg := offer.obj("contact").str("contact_id")
	gw.expect("conference")

	if f := other.call(map[string]any{"type": "agent_hangup", "contact_id": leg}); f.str("code") != CodeNotFound {
		t.Errorf("another agency's gateway ending the interpreter's leg answered %v; want not_found", f)
	}
	gw.ok(map[string]any{"type": "agent_hangup", "contact_id": leg})
	if f := nam.expect("contact_ended"); f.str("contact_id") != leg {
		t.Errorf("nam got %v; want their leg ended", f)
	}
	for kim.expect("interpreter").str("state") != "left" {
	}
	if c, err := e.r.Contact(cv.ID); err != nil || c.Status != router.StatusAssigned || c.Agent != "kim" {
		t.Errorf("the call is %+v (%v); want it still with kim", c, err)
	}
}
