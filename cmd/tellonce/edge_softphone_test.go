package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/diago/audio"
	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
	pmedia "github.com/pion/webrtc/v4/pkg/media"

	"tellonce/clocktest"
)

// These tests play the agent's desk with the browser softphone: the
// agent's WebSocket plus a pion peer connection standing for the page,
// against a real server and edge on loopback, with Go SIP callers.

// browser is one desk tab's softphone: it answers the edge's offers on
// its agent socket, sends frames of 0x11 every 20 ms and counts the
// frames it hears filled with the caller's 0x22.
type browser struct {
	t     testing.TB
	ws    *wsClient
	api   *webrtc.API
	heard atomic.Int64
	// first is when the first of the caller's frames was heard (Unix ns).
	first atomic.Int64
	// wait bounds the wait for an offer (default waitTime).
	wait time.Duration
	// mark fills the frames the microphone sends (default 0x11); hear,
	// when set, is shown every frame heard (a conference's mix).
	mark byte
	hear func([]byte)
	// offer is the last rtc_offer answered.
	offer frame

	mu sync.Mutex
	pc *webrtc.PeerConnection
}

// browserAPI is a browser's media stack: G.711 both laws, loopback only.
func browserAPI(t testing.TB) *webrtc.API {
	t.Helper()
	m := &webrtc.MediaEngine{}
	for _, p := range []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000, Channels: 1}, PayloadType: 0},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMA, ClockRate: 8000, Channels: 1}, PayloadType: 8},
	} {
		if err := m.RegisterCodec(p, webrtc.RTPCodecTypeAudio); err != nil {
			t.Fatal(err)
		}
	}
	se := webrtc.SettingEngine{}
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se))
}

func newBrowser(t testing.TB, ws *wsClient) *browser {
	b := &browser{t: t, ws: ws, api: browserAPI(t)}
	t.Cleanup(b.drop)
	return b
}

// answer waits for the edge's offer and answers it; the contact it names
// is returned.
func (b *browser) answer() string {
	t := b.t
	t.Helper()
	wait := waitTime
	if b.wait > 0 {
		wait = b.wait
	}
	offer, err := b.ws.Await("rtc_offer", wait)
	if err != nil {
		t.Fatal(err)
	}
	b.offer = offer
	pc, err := b.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	track, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000, Channels: 1}, "mic", "desk")
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer.str("sdp")}); err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTrack(track); err != nil {
		t.Fatal(err)
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			if b.hear != nil {
				b.hear(p.Payload)
			}
			if len(p.Payload) > 0 && bytes.Count(p.Payload, []byte{0x22}) == len(p.Payload) {
				b.first.CompareAndSwap(0, time.Now().UnixNano())
				b.heard.Add(1)
			}
		}
	})
	ans, err := pc.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(ans); err != nil {
		t.Fatal(err)
	}
	<-gathered
	b.mu.Lock()
	old := b.pc
	b.pc = pc
	b.mu.Unlock()
	if old != nil {
		_ = old.Close()
	}
	done := make(chan struct{})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateClosed || s == webrtc.PeerConnectionStateFailed {
			select {
			case <-done:
			default:
				close(done)
			}
		}
	})
	go func() { // the microphone
		mark := b.mark
		if mark == 0 {
			mark = 0x11
		}
		frame := bytes.Repeat([]byte{mark}, 160)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if track.WriteSample(pmedia.Sample{Data: frame, Duration: 20 * time.Millisecond}) != nil {
					return
				}
			}
		}
	}()
	b.ws.ack(t, obj{"type": "rtc_answer", "contact_id": offer.str("contact_id"), "session": offer.str("session"), "sdp": pc.LocalDescription().SDP})
	return offer.str("contact_id")
}

// drop closes the peer connection, as a reload does.
func (b *browser) drop() {
	b.mu.Lock()
	pc := b.pc
	b.pc = nil
	b.mu.Unlock()
	if pc != nil {
		_ = pc.Close()
	}
}

// browserAgent is a demo agent at their desk with the softphone on.
func browserAgent(t testing.TB, s *testServer, username string) (*wsClient, *browser) {
	t.Helper()
	ws := s.availableAgent(t, username)
	ws.ack(t, obj{"type": "softphone", "on": true})
	return ws, newBrowser(t, ws)
}

// growing waits until v has grown by n from now.
func growing(t testing.TB, what string, v *atomic.Int64, n int64) {
	t.Helper()
	from := v.Load()
	clocktest.EventuallyNil(t, what, waitTime, func() error {
		if got := v.Load() - from; got < n {
			return fmt.Errorf("%s: %d more frames, want %d", what, got, n)
		}
		return nil
	})
}

// TestEdgeBridgesACallToTheBrowserSoftphone: the call reaches the desk's
// peer connection, audio flows both ways; hold plays the caller hold
// audio and forwards nothing of the agent's; DTMF reaches the caller as
// RFC 4733 events; the peer dropping puts the caller on hold audio, and
// rtc_restart brings the audio back; a second tab without take is
// refused; a cold transfer to a browser agent of another agency
// re-bridges the call.
func TestEdgeBridgesACallToTheBrowserSoftphone(t *testing.T) {
	s := startServer(t, "sqlite")
	e := startEdge(t, s, "--webrtc-ip", "127.0.0.1", "--softphone-grace", "10s")
	agent, tab := browserAgent(t, s, "han.jiwon")

	caller := newPhone(t, "caller")
	d, c := caller.call(t, e, "126", "+821055501240")
	walkToYearEnd(t, d)
	offer := agent.awaitFunc(t, "the call's offer", typed("offer"))
	contactID := offer.str("contact", "contact_id")
	agent.ack(t, obj{"type": "accept", "offer_id": offer.str("offer_id")})
	if got := tab.answer(); got != contactID {
		t.Fatalf("rtc_offer for %s; want %s", got, contactID)
	}
	agent.awaitFunc(t, "the peer connected", typed("rtc_state", "state", "connected"))
	growing(t, "the browser hearing the caller", &tab.heard, 25)
	growing(t, "the caller hearing the browser", &c.heard, 25)

	// Hold: the caller keeps hearing the edge (hold audio), not the agent.
	agent.ack(t, obj{"type": "hold", "contact_id": contactID, "on": true})
	clocktest.EventuallyNil(t, "the agent no longer heard", waitTime, func() error {
		h := c.heard.Load()
		anyFrom := c.any.Load()
		for c.any.Load() < anyFrom+25 {
			select {
			case <-c.done:
				return fmt.Errorf("the call ended")
			case <-time.After(20 * time.Millisecond):
			}
		}
		if more := c.heard.Load() - h; more > 2 {
			return fmt.Errorf("the caller heard %d of the agent's frames while 25 came", more)
		}
		return nil
	})
	b := tab.heard.Load()
	growing(t, "the caller hearing hold audio", &c.any, 50)
	if more := tab.heard.Load() - b; more > 5 {
		t.Errorf("the agent heard %d of the caller's frames on hold", more)
	}
	agent.ack(t, obj{"type": "hold", "contact_id": contactID, "on": false})
	growing(t, "the caller hearing the browser again", &c.heard, 25)

	// Digits reach the caller as RFC 4733 events.
	agent.ack(t, obj{"type": "dtmf", "contact_id": contactID, "digits": "4#"})
	var keys []rune
	for len(keys) < 2 {
		select {
		case k := <-c.digits:
			keys = append(keys, k)
		case <-time.After(waitTime):
			t.Fatalf("the caller heard keys %q; want 4#", string(keys))
		}
	}
	if string(keys) != "4#" {
		t.Errorf("the caller heard %q; want 4#", string(keys))
	}

	// A second tab does not take the call silently.
	second, _ := s.agentDesk(t, "han.jiwon", "tellonce-demo")
	second.refused(t, obj{"type": "softphone", "on": true}, "softphone_busy")
	second.Close()

	// The first tab reloads: its peer is gone, the caller hears hold audio.
	agent.Close()
	tab.drop()
	growing(t, "the caller hearing hold audio", &c.any, 25)
	agent2, _ := s.agentDesk(t, "han.jiwon", "tellonce-demo")
	// The peer is gone, so nothing is stolen: no take is needed (once the
	// edge's rtc_state has reached the server).
	clocktest.EventuallyNil(t, "the softphone back", waitTime, func() error {
		_, err := agent2.Send(obj{"type": "softphone", "on": true})
		return err
	})
	agent2.ack(t, obj{"type": "rtc_restart", "contact_id": contactID})
	tab2 := newBrowser(t, agent2)
	tab2.answer()
	growing(t, "the new tab hearing the caller", &tab2.heard, 25)
	growing(t, "the caller hearing the new tab", &c.heard, 25)

	// A cold transfer to another agency's agent in the browser.
	kim, kimTab := browserAgent(t, s, "kim.minji")
	agent2.ack(t, obj{"type": "transfer", "contact_id": contactID, "to": obj{"queue": "gov110.general"}, "mode": "cold"})
	offerK := kim.awaitFunc(t, "the transferred call's offer", typed("offer"))
	kim.ack(t, obj{"type": "accept", "offer_id": offerK.str("offer_id")})
	if got := kimTab.answer(); got != offerK.str("contact", "contact_id") {
		t.Errorf("kim's rtc_offer for %s; want the new leg %s", got, offerK.str("contact", "contact_id"))
	}
	growing(t, "kim hearing the caller", &kimTab.heard, 25)
	growing(t, "the caller hearing kim", &c.heard, 25)
	kim.ack(t, obj{"type": "end", "contact_id": offerK.str("contact", "contact_id"), "disposition": "resolved"})
	awaitEnded(t, "the caller's call", c.done)
}

// TestEdgeBrowserOfferUnansweredIsAMissedOffer: a desk that never answers
// the edge's offer within the ring timeout is a missed offer.
func TestEdgeBrowserOfferUnansweredIsAMissedOffer(t *testing.T) {
	s := startServer(t, "sqlite")
	e := startEdge(t, s, "--webrtc-ip", "127.0.0.1", "--ring-timeout", "2s")
	agent, _ := browserAgent(t, s, "han.jiwon")
	caller := newPhone(t, "caller")
	d, _ := caller.call(t, e, "126", "+821055501241")
	walkToYearEnd(t, d)
	offer := agent.awaitFunc(t, "the call's offer", typed("offer"))
	agent.ack(t, obj{"type": "accept", "offer_id": offer.str("offer_id")})
	agent.await(t, "rtc_offer") // and never answered
	if f := agent.await(t, "contact_ended"); f.str("reason") != "missed" {
		t.Errorf("contact_ended %s; want reason missed", f)
	}
}

// TestEdgeBrowserGoneBeyondTheGraceEndsTheCall: a peer that does not come
// back within --softphone-grace ends the agent's leg (agent_hangup) and
// the caller is hung up.
func TestEdgeBrowserGoneBeyondTheGraceEndsTheCall(t *testing.T) {
	s := startServer(t, "sqlite")
	e := startEdge(t, s, "--webrtc-ip", "127.0.0.1", "--softphone-grace", "2s")
	agent, tab := browserAgent(t, s, "han.jiwon")
	caller := newPhone(t, "caller")
	d, c := caller.call(t, e, "126", "+821055501242")
	walkToYearEnd(t, d)
	offer := agent.awaitFunc(t, "the call's offer", typed("offer"))
	agent.ack(t, obj{"type": "accept", "offer_id": offer.str("offer_id")})
	tab.answer()
	growing(t, "the caller hearing the browser", &c.heard, 10)
	tab.drop()
	agent.awaitFunc(t, "the peer reported down", func(f frame) bool {
		return f.Type == "rtc_state" && f.str("state") != "connected"
	})
	if f := agent.await(t, "contact_ended"); f.str("reason") != "completed" {
		t.Errorf("contact_ended %s; want completed (the agent's leg hung up)", f)
	}
	awaitEnded(t, "the caller's call", c.done)
}

// mixOf is the μ-law byte of a conference's mix of frames filled with
// marks (each frame's samples are all the same, so is the mix's).
func mixOf(marks ...byte) byte {
	var sum int32
	pcm := make([]byte, 2)
	for _, m := range marks {
		_, _ = audio.DecodeUlawTo(pcm, []byte{m})
		sum += int32(int16(binary.LittleEndian.Uint16(pcm)))
	}
	sum = max(min(sum, 32767), -32768)
	binary.LittleEndian.PutUint16(pcm, uint16(int16(sum)))
	out := make([]byte, 1)
	_, _ = audio.EncodeUlawTo(out, pcm)
	return out[0]
}

// mixCounter counts the frames heard filled with one of its bytes.
type mixCounter struct {
	want map[byte]bool
	n    atomic.Int64
}

// hearing counts frames that carry a party: its mark alone, or mixed
// with others'.
func hearing(marks ...byte) *mixCounter {
	m := &mixCounter{want: map[byte]bool{}}
	for _, b := range marks {
		m.want[b] = true
	}
	return m
}

func (m *mixCounter) frame(p []byte) {
	if len(p) == 0 || !m.want[p[0]] {
		return
	}
	for _, b := range p {
		if b != p[0] {
			return
		}
	}
	m.n.Add(1)
}

// hears is a hear hook feeding every counter.
func hears(cs ...*mixCounter) func([]byte) {
	return func(p []byte) {
		for _, c := range cs {
			c.frame(p)
		}
	}
}

// TestEdgeBrowserInterpreterJoinsThreeWay: an interpreter whose voice is
// their desk's browser joins a browser agent's call in the edge's
// three-way mix: the interpreter hears the caller and the agent, and both
// hear the interpreter; when the interpreter leaves, the caller and the
// agent are bridged two-way again, unmixed.
func TestEdgeBrowserInterpreterJoinsThreeWay(t *testing.T) {
	s := startServer(t, "sqlite")
	e := startEdge(t, s, "--webrtc-ip", "127.0.0.1")
	// The caller says 0x22, the agent 0x11, the interpreter 0x33.
	const callerMark, agentMark, interpMark = 0x22, 0x11, 0x33
	agent, tab := browserAgent(t, s, "han.jiwon")
	interpreter, itab := browserAgent(t, s, "tran.mai")
	itab.mark = interpMark
	interpHearsCaller := hearing(callerMark, mixOf(callerMark, agentMark))
	interpHearsAgent := hearing(agentMark, mixOf(callerMark, agentMark))
	// On hold the caller is out of the mix: the two others hear each
	// other alone.
	interpHearsAgentAlone, agentHearsInterpAlone := hearing(agentMark), hearing(interpMark)
	itab.hear = hears(interpHearsCaller, interpHearsAgent, interpHearsAgentAlone)
	agentHearsInterp := hearing(interpMark, mixOf(callerMark, interpMark))
	tab.hear = hears(agentHearsInterp, agentHearsInterpAlone)

	caller := newPhone(t, "caller")
	d, c := caller.call(t, e, "126", "+821055501243")
	callerHearsInterp := hearing(interpMark, mixOf(agentMark, interpMark))
	hook := callerHearsInterp.frame
	c.hear.Store(&hook)
	walkToYearEnd(t, d)
	offer := agent.awaitFunc(t, "the call's offer", typed("offer"))
	contactID := offer.str("contact", "contact_id")
	agent.ack(t, obj{"type": "accept", "offer_id": offer.str("offer_id")})
	tab.answer()
	growing(t, "the browser hearing the caller", &tab.heard, 25)
	growing(t, "the caller hearing the browser", &c.heard, 25)

	agent.ack(t, obj{"type": "interpret", "contact_id": contactID, "language": "vi", "share_history": true})
	iOffer := interpreter.awaitFunc(t, "the interpreter's offer", typed("offer"))
	legID := iOffer.str("contact", "contact_id")
	interpreter.ack(t, obj{"type": "accept", "offer_id": iOffer.str("offer_id")})
	if got := itab.answer(); got != legID {
		t.Fatalf("the interpreter's rtc_offer names %s; want their leg %s", got, legID)
	}
	interpreter.awaitFunc(t, "the interpreter's peer connected", typed("rtc_state", "state", "connected"))
	growing(t, "the interpreter hearing the caller", &interpHearsCaller.n, 25)
	growing(t, "the interpreter hearing the agent", &interpHearsAgent.n, 25)
	growing(t, "the caller hearing the interpreter", &callerHearsInterp.n, 25)
	growing(t, "the agent hearing the interpreter", &agentHearsInterp.n, 25)

	// Hold in the conference: the caller leaves the mix and hears hold
	// audio; the agent and the interpreter go on hearing each other.
	agent.ack(t, obj{"type": "hold", "contact_id": contactID, "on": true})
	quiet(t, "the caller hearing the agent or the interpreter on hold", &c.any, &c.heard, &callerHearsInterp.n)
	quiet(t, "the interpreter hearing the caller on hold", &interpHearsAgentAlone.n, &interpHearsCaller.n)
	growing(t, "the agent hearing the interpreter alone on hold", &agentHearsInterpAlone.n, 25)
	growing(t, "the caller hearing hold audio", &c.any, 25)
	quiet(t, "the agent hearing the caller on hold", &agentHearsInterpAlone.n, &tab.heard)
	agent.ack(t, obj{"type": "hold", "contact_id": contactID, "on": false})
	growing(t, "the interpreter hearing the caller again", &interpHearsCaller.n, 25)
	growing(t, "the caller hearing the interpreter again", &callerHearsInterp.n, 25)

	// The interpreter leaves: their peer is closed, and the caller and the
	// agent hear each other unmixed again.
	interpreter.ack(t, obj{"type": "end", "contact_id": legID, "disposition": "resolved"})
	clocktest.EventuallyNil(t, "the interpreter's peer closed", waitTime, func() error {
		itab.mu.Lock()
		pc := itab.pc
		itab.mu.Unlock()
		if s := pc.ConnectionState(); s == webrtc.PeerConnectionStateConnected {
			return fmt.Errorf("the interpreter's peer is %s", s)
		}
		return nil
	})
	growing(t, "the caller hearing the agent unmixed", &c.heard, 25)
	growing(t, "the agent hearing the caller unmixed", &tab.heard, 25)

	// The desk reloads while the call is held: the edge's new offer says
	// so, and Resume brings the caller back.
	agent.ack(t, obj{"type": "hold", "contact_id": contactID, "on": true})
	quiet(t, "the caller hearing the agent on hold", &c.any, &c.heard)
	agent.Close()
	tab.drop()
	agent2, _ := s.agentDesk(t, "han.jiwon", "tellonce-demo")
	clocktest.EventuallyNil(t, "the softphone back", waitTime, func() error {
		_, err := agent2.Send(obj{"type": "softphone", "on": true})
		return err
	})
	agent2.ack(t, obj{"type": "rtc_restart", "contact_id": contactID})
	tab2 := newBrowser(t, agent2)
	tab2.answer()
	if tab2.offer.get("held") != true {
		t.Errorf("the offer to the reloaded desk of a held call: held %v; want true", tab2.offer.get("held"))
	}
	agent2.awaitFunc(t, "the new peer connected", typed("rtc_state", "state", "connected"))
	quiet(t, "the caller hearing the reloaded desk on hold", &c.any, &c.heard)
	agent2.ack(t, obj{"type": "hold", "contact_id": contactID, "on": false})
	growing(t, "the caller hearing the reloaded desk after Resume", &c.heard, 25)
	growing(t, "the reloaded desk hearing the caller after Resume", &tab2.heard, 25)
	agent2.ack(t, obj{"type": "rtc_restart", "contact_id": contactID})
	tab2.answer()
	if held := tab2.offer.get("held"); held != nil {
		t.Errorf("the offer of a resumed call: held %v; want none", held)
	}
	agent2.ack(t, obj{"type": "end", "contact_id": contactID, "disposition": "resolved"})
	awaitEnded(t, "the caller's call", c.done)
}

// quiet waits until, while clock grows by 25 frames, none of counters
// grows by more than 2 (what was in flight).
func quiet(t testing.TB, what string, clock *atomic.Int64, counters ...*atomic.Int64) {
	t.Helper()
	clocktest.EventuallyNil(t, what, waitTime, func() error {
		from := make([]int64, len(counters))
		for i, c := range counters {
			from[i] = c.Load()
		}
		start := clock.Load()
		deadline := time.Now().Add(waitTime)
		for clock.Load() < start+25 {
			if time.Now().After(deadline) {
				return fmt.Errorf("%s: no 25 frames to measure by", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
		for i, c := range counters {
			if more := c.Load() - from[i]; more > 2 {
				return fmt.Errorf("%s: %d frames while 25 came", what, more)
			}
		}
		return nil
	})
}
