package agents

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"tellonce/clocktest"
	"tellonce/router"
)

// malformed is one bad frame and the error it must get.
type malformed struct {
	name, frame string
	code, field string
	ref         string // "" when the frame's id cannot be read
}

func checkMalformed(t *testing.T, c *client, cases []malformed, valid map[string]any) {
	t.Helper()
	for _, tc := range cases {
		c.sendRaw(tc.frame)
		f := c.expect("error")
		if f.str("code") != tc.code || f.str("ref") != tc.ref || f.str("field") != tc.field {
			t.Errorf("%s: %s answered %v; want code %s, ref %q, field %q", tc.name, tc.frame, f, tc.code, tc.ref, tc.field)
		}
		if f.str("message") == "" {
			t.Errorf("%s: error frame without message", tc.name)
		}
		// The connection survives: a valid frame right after is acked.
		v := map[string]any{}
		for k, x := range valid {
			v[k] = x
		}
		if a := c.call(v); a.str("type") != "ack" {
			t.Fatalf("%s: valid frame after it answered %v; want ack", tc.name, a)
		}
	}
}

func TestMalformedAgentFramesKeepConnection(t *testing.T) {
	e := newEnv(t)
	kim, _, cv := e.assigned()
	long := strings.Repeat("가", maxText+1)
	cases := []malformed{
		{name: "bad JSON", frame: `{"type":"say",`, code: CodeValidation},
		{name: "not an object", frame: `[1,2]`, code: CodeValidation},
		{name: "unusable id", frame: `{"id":{"a":1},"type":"state","state":"break"}`, code: CodeValidation, field: "id"},
		{name: "missing type", frame: `{"id":"m0"}`, code: CodeValidation, field: "type", ref: "m0"},
		{name: "unknown type", frame: `{"id":"m1","type":"dance"}`, code: CodeValidation, field: "type", ref: "m1"},
		{name: "unknown field", frame: `{"id":"m2","type":"accept","offer_id":"x","extra":1}`, code: CodeValidation, field: "extra", ref: "m2"},
		{name: "misspelt field", frame: `{"id":"m3","type":"accept","Offer_ID":"x"}`, code: CodeValidation, field: "Offer_ID", ref: "m3"},
		{name: "missing field", frame: `{"id":"m4","type":"accept"}`, code: CodeValidation, field: "offer_id", ref: "m4"},
		{name: "wrong type", frame: `{"id":"m5","type":"say","contact_id":5,"text":"x"}`, code: CodeValidation, field: "contact_id", ref: "m5"},
		{name: "too long text", frame: `{"id":"m6","type":"say","contact_id":"` + cv.ID + `","text":"` + long + `"}`, code: CodeValidation, field: "text", ref: "m6"},
		{name: "bad state", frame: `{"id":"m7","type":"state","state":"asleep"}`, code: CodeValidation, field: "state", ref: "m7"},
		{name: "nested unknown", frame: `{"id":"m8","type":"transfer","contact_id":"` + cv.ID + `","to":{"queue":"tax.general","x":1},"mode":"cold"}`, code: CodeValidation, field: "to.x", ref: "m8"},
		{name: "two targets", frame: `{"id":"m9","type":"transfer","contact_id":"` + cv.ID + `","to":{"queue":"tax.general","agent":"park"},"mode":"cold"}`, code: CodeValidation, field: "to", ref: "m9"},
		{name: "wrong offer id", frame: `{"id":"m10","type":"accept","offer_id":"of-nope"}`, code: CodeNotFound, ref: "m10"},
		{name: "not my contact", frame: `{"id":"m11","type":"end","contact_id":"ct-nope"}`, code: CodeNotFound, ref: "m11"},
		{name: "trailing data", frame: `{"id":"m12","type":"state","state":"break"} {}`, code: CodeValidation, ref: ""},
		{name: "duplicate key", frame: `{"id":"m13","type":"state","state":"offline","state":"break"}`, code: CodeValidation, field: "state", ref: "m13"},
		{name: "duplicate nested key", frame: `{"id":"m14","type":"transfer","contact_id":"` + cv.ID + `","to":{"queue":"tax.general","queue":"x"},"mode":"cold"}`, code: CodeValidation, field: "to.queue", ref: "m14"},
		{name: "wrong-case nested key", frame: `{"id":"m15","type":"transfer","contact_id":"` + cv.ID + `","to":{"Queue":"tax.general"},"mode":"cold"}`, code: CodeValidation, field: "to.Queue", ref: "m15"},
		{name: "invalid UTF-8", frame: "{\"id\":\"m16\",\"type\":\"say\",\"contact_id\":\"" + cv.ID + "\",\"text\":\"a\xffb\"}", code: CodeValidation, field: "text", ref: "m16"},
		{name: "lone surrogate", frame: `{"id":"m17","type":"say","contact_id":"` + cv.ID + `","text":"\ud800"}`, code: CodeValidation, field: "text", ref: "m17"},
		{name: "duplicate id", frame: `{"id":"m18","id":"m19","type":"state","state":"break"}`, code: CodeValidation, field: "id", ref: ""},
	}
	checkMalformed(t, kim, cases, map[string]any{"type": "state", "state": "available"})

	// A numeric id comes back as the same number.
	kim.sendRaw(`{"id":42,"type":"accept","offer_id":"of-nope"}`)
	if f := kim.expect("error"); f["ref"] != float64(42) || f.str("code") != CodeNotFound {
		t.Errorf("numeric ref: %v", f)
	}
	// A failing frame without id still gets an error frame, without ref.
	kim.sendRaw(`{"type":"accept","offer_id":"of-nope"}`)
	if f := kim.expect("error"); f["ref"] != nil || f.str("code") != CodeNotFound {
		t.Errorf("frame without id: %v", f)
	}
	// And the contact survived all of it.
	kim.ok(map[string]any{"type": "say", "contact_id": cv.ID, "text": "still here"})
	if c, _ := e.r.Contact(cv.ID); c.Status != router.StatusAssigned || !e.agentView("kim").Connected {
		t.Errorf("after bad frames: contact %s, kim connected %v", c.Status, e.agentView("kim").Connected)
	}
}

func TestMalformedCitizenAndGatewayFrames(t *testing.T) {
	e := newEnv(t)
	_, cit, cv := e.assigned()
	checkMalformed(t, cit, []malformed{
		{name: "bad JSON", frame: `nope`, code: CodeValidation},
		{name: "unknown type", frame: `{"id":"c1","type":"note","text":"x"}`, code: CodeValidation, field: "type", ref: "c1"},
		{name: "unknown field", frame: `{"id":"c2","type":"leave","why":"bored"}`, code: CodeValidation, field: "why", ref: "c2"},
		{name: "missing text", frame: `{"id":"c3","type":"say"}`, code: CodeValidation, field: "text", ref: "c3"},
		{name: "too long", frame: `{"id":"c4","type":"say","text":"` + strings.Repeat("x", maxText+1) + `"}`, code: CodeValidation, field: "text", ref: "c4"},
		{name: "duplicate key", frame: `{"id":"c5","type":"say","text":"a","text":"b"}`, code: CodeValidation, field: "text", ref: "c5"},
		{name: "invalid UTF-8", frame: "{\"id\":\"c6\",\"type\":\"say\",\"text\":\"\xc3\"}", code: CodeValidation, field: "text", ref: "c6"},
	}, map[string]any{"type": "say", "text": "hello"})

	// A gateway carries calls, not chats.
	call := e.enqueue(router.EnqueueRequest{Channel: router.ChannelVoice, Caller: caller("c2")})
	gw := e.gateway("/gateway/gw?agency=gov")
	if f := gw.call(map[string]any{"type": "transcript", "contact_id": cv.ID, "speaker": "citizen", "text": "x"}); f.str("code") != CodeNotFound {
		t.Errorf("a gateway's transcript on a chat answered %v; want not_found", f)
	}
	checkMalformed(t, gw, []malformed{
		{name: "bad speaker", frame: `{"id":"g1","type":"transcript","contact_id":"` + call.ID + `","speaker":"robot","text":"x"}`, code: CodeValidation, field: "speaker", ref: "g1"},
		{name: "missing contact", frame: `{"id":"g2","type":"hangup"}`, code: CodeValidation, field: "contact_id", ref: "g2"},
		{name: "unknown contact", frame: `{"id":"g3","type":"hangup","contact_id":"ct-nope"}`, code: CodeNotFound, ref: "g3"},
		{name: "bad connect result", frame: `{"id":"g4","type":"connect_failed","contact_id":"` + call.ID + `","result":"answered"}`, code: CodeValidation, field: "result", ref: "g4"},
		{name: "connect_failed while queued", frame: `{"id":"g5","type":"connect_failed","contact_id":"` + call.ID + `","result":"busy"}`, code: CodeConflict, ref: "g5"},
		{name: "agent_hangup while queued", frame: `{"id":"g6","type":"agent_hangup","contact_id":"` + call.ID + `"}`, code: CodeConflict, ref: "g6"},
		{name: "agent_hangup on a chat", frame: `{"id":"g7","type":"agent_hangup","contact_id":"` + cv.ID + `"}`, code: CodeNotFound, ref: "g7"},
		{name: "recording without file", frame: `{"id":"g8","type":"recording","contact_id":"` + call.ID + `","seconds":1,"started_at":"2026-03-02T09:00:00Z"}`, code: CodeValidation, field: "file", ref: "g8"},
		{name: "recording file with control", frame: `{"id":"g9","type":"recording","contact_id":"` + call.ID + `","file":"a\nb","seconds":1,"started_at":"2026-03-02T09:00:00Z"}`, code: CodeValidation, field: "file", ref: "g9"},
		{name: "recording file too long", frame: `{"id":"g10","type":"recording","contact_id":"` + call.ID + `","file":"` + strings.Repeat("f", 513) + `","seconds":1,"started_at":"2026-03-02T09:00:00Z"}`, code: CodeValidation, field: "file", ref: "g10"},
		{name: "recording too long", frame: `{"id":"g11","type":"recording","contact_id":"` + call.ID + `","file":"f","seconds":86401,"started_at":"2026-03-02T09:00:00Z"}`, code: CodeValidation, field: "seconds", ref: "g11"},
		{name: "recording fractional seconds", frame: `{"id":"g12","type":"recording","contact_id":"` + call.ID + `","file":"f","seconds":1.5,"started_at":"2026-03-02T09:00:00Z"}`, code: CodeValidation, field: "seconds", ref: "g12"},
		{name: "recording without seconds", frame: `{"id":"g13","type":"recording","contact_id":"` + call.ID + `","file":"f","started_at":"2026-03-02T09:00:00Z"}`, code: CodeValidation, field: "seconds", ref: "g13"},
		{name: "recording bad time", frame: `{"id":"g14","type":"recording","contact_id":"` + call.ID + `","file":"f","seconds":1,"started_at":"2026-03-02 09:00"}`, code: CodeValidation, field: "started_at", ref: "g14"},
		{name: "recording unanswered", frame: `{"id":"g15","type":"recording","contact_id":"` + call.ID + `","file":"f","seconds":1,"started_at":"2026-03-02T09:00:00Z"}`, code: CodeConflict, ref: "g15"},
	}, map[string]any{"type": "transcript", "contact_id": call.ID, "speaker": "citizen", "text": "hello"})
}

func TestOversizeFrame(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxFrameBytes = 1024 })
	kim, _ := e.agent("kim")
	kim.sendRaw(`{"id":"big","type":"state","state":"break","reason":"` + strings.Repeat("x", 2000) + `"}`)
	if f := kim.expect("error"); f.str("code") != CodeTooLarge || f["ref"] != nil {
		t.Errorf("oversize frame answered %v; want too_large without ref", f)
	}
	kim.ok(map[string]any{"type": "state", "state": "break"})

	// Past the hard limit gorilla closes the connection (documented).
	_ = kim.ws.WriteMessage(websocket.TextMessage, []byte(strings.Repeat("x", 16*1024+1)))
	if ce := kim.closed(); ce == nil || ce.Code != websocket.CloseMessageTooBig {
		t.Errorf("frame past the hard limit: close %v; want 1009", ce)
	}
}

func TestAckWaitsForDurability(t *testing.T) {
	e := newEnv(t)
	kim, cit, cv := e.assigned()
	gate := make(chan struct{})
	e.dur.mu.Lock()
	e.dur.gate, e.dur.entered = gate, make(chan uint64, 1)
	e.dur.mu.Unlock()
	e.dur.returned.Store(false)

	kim.send(map[string]any{"id": "d1", "type": "say", "contact_id": cv.ID, "text": "one moment"})
	var seq uint64
	select {
	case seq = <-e.dur.entered:
	case <-time.After(waitFor):
		t.Fatal("the hub did not wait for durability")
	}
	cit.expect("message") // the change is live and fanned out, but not acknowledged:
	window := time.After(50 * time.Millisecond)
	for open := true; open; {
		select {
		case f := <-kim.frames:
			if f.str("type") == "ack" {
				t.Fatalf("ack %v before the change was durable", f)
			}
		case <-window:
			open = false
		}
	}
	close(gate)
	a := kim.expect("ack")
	if a.str("ref") != "d1" || !e.dur.returned.Load() {
		t.Errorf("ack %v, durable returned %v", a, e.dur.returned.Load())
	}
	if last := e.dur.waits[len(e.dur.waits)-1]; last != seq || seq == 0 {
		t.Errorf("waited for seq %d; want the say's event seq (got %d on entry)", last, seq)
	}
}

func TestDurableFailureAnswersUnavailable(t *testing.T) {
	e := newEnv(t)
	kim, _, cv := e.assigned()
	e.dur.mu.Lock()
	e.dur.err = errors.New("disk full")
	e.dur.mu.Unlock()
	f := kim.call(map[string]any{"type": "say", "contact_id": cv.ID, "text": "hello"})
	if f.str("type") != "error" || f.str("code") != CodeUnavailable {
		t.Errorf("answer = %v; want error unavailable", f)
	}
}

func TestSlowClientIsCut(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.SendBuffer = 4; c.WriteTimeout = 500 * time.Millisecond })
	slow, _, err := e.dialRaw("/agent/kim") // never reads
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	clocktest.Eventually(t, "kim connected", waitFor, func() bool { return e.agentView("kim").Connected })
	lee, _ := e.agent("lee")

	big := strings.Repeat("x", 4000)
	for i := uint64(0); e.hub.Stats().SlowClientsCut == 0; i++ {
		if i > 1_000_000 {
			t.Fatal("a client that never reads was never cut")
		}
		done := make(chan struct{})
		go func() { // Deliver must return at once even for a stuck client
			e.hub.Deliver([]router.Event{{Seq: 1<<40 + i, Type: router.EventMessage, ContactID: "ct-x",
				CaseID: "cs-x", Agent: "kim", Actor: "citizen:x", Text: big, At: t0}})
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(waitFor):
			t.Fatal("Deliver blocked on a slow client")
		}
	}
	lee.ok(map[string]any{"type": "state", "state": "break"})
	if s := lee.expect("state"); s.str("state") != "break" {
		t.Errorf("lee got %v", s)
	}
	clocktest.Eventually(t, "the slow agent disconnected", waitFor, func() bool { return !e.agentView("kim").Connected })
	if st := e.hub.Stats(); st.SlowClientsCut != 1 || st.FramesDropped == 0 || st.Agents != 1 {
		t.Errorf("stats = %+v; want one cut, drops, one agent left", st)
	}
}

func TestShutdownClosesConnections(t *testing.T) {
	e := newEnv(t)
	kim, cit, _ := e.assigned()
	gw := e.gateway("/gateway/gw")
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	e.hub.Shutdown(ctx)
	for _, c := range []*client{kim, cit, gw} {
		if ce := c.closed(); ce == nil || ce.Code != websocket.CloseGoingAway {
			t.Errorf("%s closed with %v; want 1001", c.name, ce)
		}
	}
	if n := e.connCount(); n != 0 {
		t.Errorf("%d connections left after Shutdown", n)
	}
	if !e.agentView("kim").Connected {
		t.Error("Shutdown disconnected kim in the router; a restart does that")
	}
	if _, resp, err := e.dialRaw("/agent/lee"); err == nil || resp == nil || resp.StatusCode != 503 {
		t.Errorf("dial after Shutdown: %v; want 503", err)
	}
}

func TestRouterRefusalsAnswerWithCodes(t *testing.T) {
	e := newEnv(t)
	kim, _, cv := e.assigned()
	lee, _ := e.agent("lee")
	for _, tc := range []struct {
		who   *client
		frame map[string]any
		code  string
	}{
		// Other people's contacts and cases answer as unknown ones do.
		{lee, map[string]any{"type": "say", "contact_id": cv.ID, "text": "not mine"}, CodeNotFound},
		{lee, map[string]any{"type": "note", "case_id": cv.CaseID, "text": "never assigned"}, CodeNotFound},
		{kim, map[string]any{"type": "state", "state": "offline"}, CodeConflict},
		{kim, map[string]any{"type": "transfer", "contact_id": cv.ID, "to": map[string]any{"agent": "kim"}, "mode": "cold"}, CodeValidation},
		{kim, map[string]any{"type": "transfer", "contact_id": cv.ID, "to": map[string]any{"queue": "nope.queue"}, "mode": "cold"}, CodeNotFound},
	} {
		if f := tc.who.call(tc.frame); f.str("type") != "error" || f.str("code") != tc.code {
			t.Errorf("%s %v answered %v; want %s", tc.who.name, tc.frame, f, tc.code)
		}
	}
	kim.ok(map[string]any{"type": "say", "contact_id": cv.ID, "text": "all good"})
}

func TestRemovedAgentIsClosed(t *testing.T) {
	e := newEnv(t)
	lee, _ := e.agent("lee")
	if _, err := e.r.RemoveAgent("lee"); err != nil {
		t.Fatal(err)
	}
	if s := lee.expect("state"); s.str("state") != "offline" || s.str("reason") != "removed" {
		t.Errorf("lee got %v; want state offline, removed", s)
	}
	if ce := lee.closed(); ce == nil || ce.Code != 1008 {
		t.Errorf("removed agent's socket closed with %v; want 1008", ce)
	}
}
