package agents

import (
	"slices"
	"strings"
	"testing"

	"tellonce/router"
)

func TestGatewayVoiceCall(t *testing.T) {
	e := newEnv(t)
	gw := e.gateway("/gateway/gw-gov?agency=gov")
	other := e.gateway("/gateway/gw-tax?agency=tax")
	all := e.gateway("/gateway/gw-all")
	kim := e.available("kim")

	cv := e.enqueue(router.EnqueueRequest{Channel: router.ChannelVoice, Caller: caller("01012345678")})
	offer := kim.expect("offer")
	kim.ok(map[string]any{"type": "accept", "offer_id": offer.str("offer_id")})
	for _, g := range []*client{gw, all} {
		if f := g.expectNext("connect"); f.str("contact_id") != cv.ID || f.str("agent") != "kim" {
			t.Errorf("%s got %v; want connect %s to kim", g.name, f, cv.ID)
		}
	}

	gw.ok(map[string]any{"type": "transcript", "contact_id": cv.ID, "speaker": "citizen", "text": "여권을 잃어버렸어요"})
	if f := kim.expect("transcript"); f.str("speaker") != "citizen" || f.str("text") != "여권을 잃어버렸어요" || f.str("contact_id") != cv.ID {
		t.Errorf("kim got %v", f)
	}
	// A gateway of another agency may not act on the call, and is told
	// so in the words it gets for a call that does not exist.
	if f := other.call(map[string]any{"type": "transcript", "contact_id": cv.ID, "speaker": "agent", "text": "x"}); f.str("code") != CodeNotFound {
		t.Errorf("foreign gateway's transcript answered %v; want not_found", f)
	} else if u := other.call(map[string]any{"type": "transcript", "contact_id": "ct-unknown", "speaker": "agent", "text": "x"}); strings.ReplaceAll(f.str("message"), cv.ID, "ID") != strings.ReplaceAll(u.str("message"), "ct-unknown", "ID") {
		t.Errorf("foreign gateway's transcript answered %q; about an unknown call %q", f.str("message"), u.str("message"))
	}

	kim.ok(map[string]any{"type": "end", "contact_id": cv.ID, "disposition": "resolved"})
	for _, g := range []*client{gw, all} {
		if f := g.expect("hangup"); f.str("contact_id") != cv.ID {
			t.Errorf("%s got %v; want hangup %s", g.name, f, cv.ID)
		}
	}
	// The tax gateway heard nothing of gov's call: its next frame is the
	// answer to a frame sent now (frames to one socket keep their order).
	if f := other.call(map[string]any{"type": "hangup", "contact_id": cv.ID}); f.str("type") != "error" {
		t.Errorf("probe answered %v", f)
	}
	if other.received("connect") || other.received("hangup") {
		t.Error("the tax gateway received gov's call frames")
	}
}

func TestGatewayDialsCallback(t *testing.T) {
	e := newEnv(t)
	gw := e.gateway("/gateway/gw-gov?agency=gov")
	kim := e.available("kim")
	cv := e.enqueue(router.EnqueueRequest{Channel: router.ChannelCallback, Caller: caller("c9"), CallbackNumber: "+821012345678"})
	offer := kim.expect("offer")
	kim.ok(map[string]any{"type": "accept", "offer_id": offer.str("offer_id")})
	f := gw.expectNext("dial")
	if f.str("contact_id") != cv.ID || f.str("number") != "+821012345678" || f.str("agent") != "kim" {
		t.Errorf("gateway got %v; want dial %s +821012345678 for kim", f, cv.ID)
	}
	// The case and queue let an edge record the callback's leg as its queue says.
	if f.str("case_id") != cv.CaseID || f.str("queue") != cv.Queue {
		t.Errorf("dial carries case %q queue %q; want %q %q", f.str("case_id"), f.str("queue"), cv.CaseID, cv.Queue)
	}
}

func TestGatewayFollowsTransferredCall(t *testing.T) {
	e := newEnv(t)
	gw := e.gateway("/gateway/gw-gov?agency=gov")
	kim := e.available("kim")
	park := e.available("park")
	cv := e.enqueue(router.EnqueueRequest{Channel: router.ChannelVoice, Caller: caller("01099998888")})
	offer := kim.expect("offer")
	kim.ok(map[string]any{"type": "accept", "offer_id": offer.str("offer_id")})
	gw.expectNext("connect")

	kim.ok(map[string]any{"type": "transfer", "contact_id": cv.ID, "to": map[string]any{"queue": "tax.general"}, "mode": "cold"})
	tr := gw.expectNext("transferred")
	if tr.str("contact_id") != cv.ID || tr.str("new_contact_id") == "" {
		t.Fatalf("gateway got %v; want transferred from %s", tr, cv.ID)
	}
	offer = park.expect("offer")
	park.ok(map[string]any{"type": "accept", "offer_id": offer.str("offer_id")})
	// The call started at gov, so gov's gateway bridges it to tax's agent.
	if f := gw.expectNext("connect"); f.str("contact_id") != tr.str("new_contact_id") || f.str("agent") != "park" {
		t.Errorf("gateway got %v; want connect of the new leg to park", f)
	}
	// And it may still post transcripts on the new leg.
	gw.ok(map[string]any{"type": "transcript", "contact_id": tr.str("new_contact_id"), "speaker": "agent", "text": "세무서입니다"})
	park.expect("transcript")
	gw.ok(map[string]any{"type": "hangup", "contact_id": tr.str("new_contact_id")})
	if f := park.expect("contact_ended"); f.str("reason") != "abandoned" {
		t.Errorf("park got %v; want contact_ended abandoned", f)
	}
}

// callsOf indexes a gateway hello's calls by contact id.
func callsOf(t *testing.T, hello frame) map[string]frame {
	t.Helper()
	if _, ok := hello["calls"].([]any); !ok {
		t.Fatalf("hello %v has no calls list", hello)
	}
	out := map[string]frame{}
	for _, c := range hello.list("calls") {
		out[c.str("contact_id")] = c
	}
	return out
}

func TestGatewayHelloListsLiveCalls(t *testing.T) {
	e := newEnv(t)
	kim := e.available("kim")
	voice := e.enqueue(router.EnqueueRequest{Channel: router.ChannelVoice, Caller: caller("01012345678")})
	offer := kim.expect("offer")
	kim.ok(map[string]any{"type": "accept", "offer_id": offer.str("offer_id")})
	kim.expect("assigned")
	// kim's voice slot is taken: the callback waits.
	cb := e.enqueue(router.EnqueueRequest{Channel: router.ChannelCallback, Caller: caller("c9"), CallbackNumber: "+821012345678"})
	e.enqueue(router.EnqueueRequest{Caller: caller("chat1")})
	taxCall := e.enqueue(router.EnqueueRequest{Channel: router.ChannelVoice, Queue: "tax.general", Caller: caller("01055556666")})

	gw, hello := e.gatewayHello("/gateway/gw-gov?agency=gov")
	calls := callsOf(t, hello)
	if len(calls) != 2 {
		t.Fatalf("gov gateway's hello = %v; want the voice call and the callback", hello)
	}
	v := calls[voice.ID]
	if v.str("case_id") != voice.CaseID || v.str("queue") != "gov.general" || v.str("agency") != "gov" ||
		v.str("channel") != "voice" || v.str("status") != "assigned" || v.str("agent") != "kim" || v.str("number") != "" {
		t.Errorf("voice call in hello = %v; want assigned to kim", v)
	}
	c := calls[cb.ID]
	if c.str("channel") != "callback" || c.str("status") != "queued" || c.str("number") != "+821012345678" || c.str("agent") != "" {
		t.Errorf("callback in hello = %v; want queued with its number", c)
	}

	_, taxHello := e.gatewayHello("/gateway/gw-tax?agency=tax")
	if tc := callsOf(t, taxHello); len(tc) != 1 || tc[taxCall.ID] == nil {
		t.Errorf("tax gateway's hello = %v; want only the tax call %s", taxHello, taxCall.ID)
	}
	_, allHello := e.gatewayHello("/gateway/gw-all")
	if ac := callsOf(t, allHello); len(ac) != 3 {
		t.Errorf("all-agency gateway's hello = %v; want all three calls", allHello)
	}

	// Nothing already in the hello follows it.
	if f := gw.call(map[string]any{"type": "hangup", "contact_id": "ct-probe"}); f.str("type") != "error" {
		t.Errorf("probe answered %v", f)
	}
	if gw.received("connect") || gw.received("dial") {
		t.Error("the gateway got call frames after hello for calls already in it")
	}
}

// A gateway that connects while the accept's events are still on their way
// to the hub (a lagging journal) gets the call in hello and no connect for
// it, and later events of the call still reach it.
func TestGatewayHelloNoDuplicateWhileDeliveryLags(t *testing.T) {
	e := newEnv(t)
	kim := e.available("kim")
	cv := e.enqueue(router.EnqueueRequest{Channel: router.ChannelVoice, Caller: caller("01012345678")})
	offer := kim.expect("offer")
	e.sink.hold()
	kim.ok(map[string]any{"type": "accept", "offer_id": offer.str("offer_id")})

	gw, hello := e.gatewayHello("/gateway/gw-gov?agency=gov")
	if v := callsOf(t, hello)[cv.ID]; v == nil || v.str("status") != "assigned" || v.str("agent") != "kim" {
		t.Fatalf("hello = %v; want %s assigned to kim", hello, cv.ID)
	}
	e.sink.release()
	kim.expect("assigned")

	kim.ok(map[string]any{"type": "end", "contact_id": cv.ID, "disposition": "resolved"})
	if f := gw.expectNext("hangup"); f.str("contact_id") != cv.ID {
		t.Errorf("gateway got %v; want hangup %s", f, cv.ID)
	}
	if gw.received("connect") {
		t.Error("the gateway got a connect for a call its hello had")
	}
}

// A gateway acts on the calls of its agency and those it carries, not on
// every call whose case once passed through its agency: the same caller's
// later call to another agency, continuing the case, is that agency's.
func TestGatewayReachIsItsOwnCalls(t *testing.T) {
	e := newEnv(t)
	first := e.enqueue(router.EnqueueRequest{Channel: router.ChannelVoice, Queue: "gov.general", Caller: caller("01012345678"),
		Identity: "tel:x"})
	later := e.enqueue(router.EnqueueRequest{Channel: router.ChannelVoice, Queue: "tax.general", Caller: caller("01012345678"),
		Identity: "tel:x", CaseID: first.CaseID})
	if later.CaseID != first.CaseID {
		t.Fatalf("the later call opened case %s; want %s", later.CaseID, first.CaseID)
	}
	gov := e.gateway("/gateway/gw?agency=gov")
	if f := gov.call(map[string]any{"type": "hangup", "contact_id": later.ID}); f.str("code") != CodeNotFound {
		t.Errorf("gov's gateway hanging up tax's call answered %v; want not_found", f)
	}
	if c, _ := e.r.Contact(later.ID); c.Status != router.StatusQueued {
		t.Errorf("tax's call is %s; want still queued", c.Status)
	}
	gov.ok(map[string]any{"type": "hangup", "contact_id": first.ID})
}

// A call the centre ends (a supervisor over REST) is hung up by the
// gateway; a chat so ended tells its citizen it was closed, not left.
func TestCentreEndingACallHangsItUp(t *testing.T) {
	e := newEnv(t)
	gw := e.gateway("/gateway/gw?agency=gov")
	call := e.enqueue(router.EnqueueRequest{Channel: router.ChannelVoice, Caller: caller("01012345678")})
	if _, err := e.r.AbandonBy(call.ID, "supervisor:sup.gov"); err != nil {
		t.Fatal(err)
	}
	if f := gw.expect("hangup"); f.str("contact_id") != call.ID {
		t.Errorf("gateway got %v; want hangup of %s", f, call.ID)
	}
	_, cit, chat := e.assigned()
	if _, err := e.r.AbandonBy(chat.ID, "supervisor:sup.gov"); err != nil {
		t.Fatal(err)
	}
	if f := cit.expect("ended"); f.str("reason") != "closed" {
		t.Errorf("citizen got %v; want ended, closed", f)
	}
}

// A phone edge's call: connect names the agent's phone and the leg's queue
// and agency; the agent's phone not answering puts the call back at the
// head of the line for the next agent; the agent's phone hanging up ends
// it without a hangup back; a recording joins the case's timeline.
func TestGatewayPhoneEdgeCall(t *testing.T) {
	e := newEnv(t)
	for name, phone := range map[string]string{"kim": "sip:kim@pbx.gov.example", "lee": ""} {
		p := e.agentView(name)
		if _, err := e.r.UpsertAgent(router.AgentProfile{Username: name, Name: p.Name, Agency: p.Agency,
			Queues: p.Queues, MaxChats: p.MaxChats, Phone: phone}); err != nil {
			t.Fatal(err)
		}
	}
	gw := e.gateway("/gateway/gw?agency=gov")
	kim := e.available("kim")
	cv := e.enqueue(router.EnqueueRequest{Channel: router.ChannelVoice, Caller: caller("01012345678")})
	kim.ok(map[string]any{"type": "accept", "offer_id": kim.expect("offer").str("offer_id")})
	if f := gw.expectNext("connect"); f.str("contact_id") != cv.ID || f.str("agent") != "kim" ||
		f.str("phone") != "sip:kim@pbx.gov.example" || f.str("queue") != "gov.general" || f.str("agency") != "gov" {
		t.Errorf("gateway got %v; want connect to kim's phone, gov.general of gov", f)
	}
	// A gateway connecting now hears the phone in hello.
	if _, hello := e.gatewayHello("/gateway/gw2?agency=gov"); callsOf(t, hello)[cv.ID].str("phone") != "sip:kim@pbx.gov.example" {
		t.Errorf("hello = %v; want the call with kim's phone", hello)
	}

	later := e.enqueue(router.EnqueueRequest{Channel: router.ChannelVoice, Caller: caller("01099998888")})
	gw.ok(map[string]any{"type": "connect_failed", "contact_id": cv.ID, "result": "no_answer"})
	if f := kim.expect("contact_ended"); f.str("contact_id") != cv.ID || f.str("reason") != "missed" {
		t.Errorf("kim got %v; want contact_ended missed", f)
	}
	if f := kim.expect("state"); f.str("state") != "not_ready" {
		t.Errorf("kim got %v; want state not_ready", f)
	}
	if c, _ := e.r.Contact(cv.ID); c.Status != router.StatusQueued || c.Position != 1 {
		t.Errorf("the missed call is %s at %d; want queued first, ahead of %s", c.Status, c.Position, later.ID)
	}
	if f := gw.call(map[string]any{"type": "connect_failed", "contact_id": cv.ID, "result": "busy"}); f.str("code") != CodeConflict {
		t.Errorf("connect_failed of a waiting call answered %v; want conflict", f)
	}

	lee := e.available("lee")
	offer := lee.expect("offer")
	if offer.obj("contact").str("contact_id") != cv.ID {
		t.Fatalf("lee was offered %v; want the missed call first", offer)
	}
	lee.ok(map[string]any{"type": "accept", "offer_id": offer.str("offer_id")})
	if f := gw.expectNext("connect"); f.str("contact_id") != cv.ID || f.str("agent") != "lee" || f["phone"] != nil {
		t.Errorf("gateway got %v; want connect to lee without a phone (her registered one)", f)
	}

	gw.ok(map[string]any{"type": "recording", "contact_id": cv.ID, "file": "rec/" + cv.ID + "-lee.wav", "seconds": 42,
		"started_at": "2024-03-01T18:00:00+09:00"})
	cs, err := e.r.Case(cv.CaseID)
	if err != nil {
		t.Fatal(err)
	}
	if r := cs.Events[len(cs.Events)-1]; r.Type != router.CaseRecording || r.Actor != "gateway:gw" ||
		r.Data["file"] != "rec/"+cv.ID+"-lee.wav" || r.Data["seconds"] != "42" || r.Data["started_at"] != "2024-03-01T09:00:00Z" {
		t.Errorf("last timeline entry = %+v; want the recording", r)
	}

	gw.ok(map[string]any{"type": "agent_hangup", "contact_id": cv.ID})
	if f := lee.expect("contact_ended"); f.str("contact_id") != cv.ID || f.str("reason") != "completed" {
		t.Errorf("lee got %v; want contact_ended completed", f)
	}
	// No hangup comes back: the next frame is the answer to a probe.
	if f := gw.call(map[string]any{"type": "agent_hangup", "contact_id": cv.ID}); f.str("code") != CodeNotFound {
		t.Errorf("agent_hangup of a closed call answered %v; want not_found", f)
	}
	if gw.received("hangup") {
		t.Error("the gateway got a hangup for a call its agent's phone hung up")
	}
}

// The caller hanging up during a call ends it (the agent hears it as
// before, abandoned) and no hangup goes back to the gateway.
func TestGatewayCallerHangupDuringCall(t *testing.T) {
	e := newEnv(t)
	gw := e.gateway("/gateway/gw?agency=gov")
	kim := e.available("kim")
	cv := e.enqueue(router.EnqueueRequest{Channel: router.ChannelVoice, Caller: caller("01012345678")})
	kim.ok(map[string]any{"type": "accept", "offer_id": kim.expect("offer").str("offer_id")})
	gw.expectNext("connect")
	gw.ok(map[string]any{"type": "hangup", "contact_id": cv.ID})
	if f := kim.expect("contact_ended"); f.str("reason") != "abandoned" {
		t.Errorf("kim got %v; want contact_ended abandoned", f)
	}
	if f := gw.call(map[string]any{"type": "hangup", "contact_id": "ct-probe"}); f.str("type") != "error" {
		t.Errorf("probe answered %v", f)
	}
	if gw.received("hangup") {
		t.Error("the gateway got a hangup for a call its caller hung up")
	}
}

// A voice call has no chat: an agent's say on it (the desk's text box)
// is kept as an internal note on the case, never as a message "to the
// caller" that nobody hears (docs/protocol.md, say).
func TestAgentSayOnAVoiceCallIsANote(t *testing.T) {
	e := newEnv(t)
	gw := e.gateway("/gateway/gw-gov?agency=gov")
	kim := e.available("kim")
	cv := e.enqueue(router.EnqueueRequest{Channel: router.ChannelVoice, Caller: caller("01012345678")})
	kim.ok(map[string]any{"type": "accept", "offer_id": kim.expect("offer").str("offer_id")})
	gw.expectNext("connect")

	kim.ok(map[string]any{"type": "say", "contact_id": cv.ID, "text": "caller asks about the refund"})
	if f := kim.expect("note"); f.str("case_id") != cv.CaseID || f.str("text") != "caller asks about the refund" || f.str("agent") != "kim" {
		t.Errorf("kim got %v; want kim's note on %s", f, cv.CaseID)
	}
	if kim.received("message") {
		t.Error("the say on a voice call reached the desk as a message to the caller")
	}
	cs, err := e.r.Case(cv.CaseID)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, ev := range cs.Events {
		types = append(types, ev.Type)
		if ev.Type == router.CaseMessage {
			t.Errorf("the case holds a message entry %+v; want a note", ev)
		}
	}
	if !slices.Contains(types, router.CaseNote) {
		t.Errorf("case entries %v; want a note", types)
	}
	// The gateway carries no text to the caller.
	if f := gw.call(map[string]any{"type": "transcript", "contact_id": cv.ID, "speaker": "agent", "text": "x"}); f.str("type") != "ack" {
		t.Errorf("probe answered %v", f)
	}
	if gw.received("message") {
		t.Error("the gateway got a message for the caller")
	}
	// A chat's say stays a message.
	lee := e.available("lee")
	chat := e.enqueue(router.EnqueueRequest{Caller: caller("c2")})
	lee.ok(map[string]any{"type": "accept", "offer_id": lee.expect("offer").str("offer_id")})
	lee.ok(map[string]any{"type": "say", "contact_id": chat.ID, "text": "hello"})
	if f := lee.expect("message"); f.str("contact_id") != chat.ID {
		t.Errorf("lee got %v; want the chat's message", f)
	}
	// Someone else's call is not found either way.
	if f := lee.call(map[string]any{"type": "say", "contact_id": cv.ID, "text": "x"}); f.str("code") != CodeNotFound {
		t.Errorf("lee's say on kim's call answered %v; want not_found", f)
	}
}
