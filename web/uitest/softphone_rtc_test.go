package uitest

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
)

// mediaFlags start Chromium with a fake microphone (a beep) that the
// page may use without asking, and sound that plays without a gesture.
var mediaFlags = []chromedp.ExecAllocatorOption{
	chromedp.Flag("use-fake-device-for-media-stream", true),
	chromedp.Flag("use-fake-ui-for-media-stream", true),
	chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
}

// fakeSoftphoneServer stands in for the server's softphone relay on the
// page's agent socket: the softphone frames the desk sends are recorded in
// window.sentFrames and answered with an ack (or by window.fakeReply)
// without reaching the server, and window.inject(frame) delivers a frame
// as if the server had sent it. Every other frame goes to the server.
func (p *page) fakeSoftphoneServer() {
	p.b.t.Helper()
	p.onNewDocument("fake the softphone relay", `window.sentFrames = [];
				const faked = ["softphone", "rtc_answer", "rtc_restart", "hold", "dtmf"];
				const Native = WebSocket;
				window.WebSocket = class extends Native {
					constructor(...a) { super(...a); window.deskSocket = this; }
					send(d) {
						let f = null;
						try { f = JSON.parse(d); } catch {}
						if (f) window.sentFrames.push(f);
						if (!f || !faked.includes(f.type)) return super.send(d);
						const reply = (window.fakeReply && window.fakeReply(f)) || { type: "ack", ref: f.id };
						setTimeout(() => this.onmessage({ data: JSON.stringify(reply) }), 0);
					}
				};
				window.inject = (f) => window.deskSocket.onmessage({ data: JSON.stringify(f) });`)
}

// edgePeer is the edge's side of one browser call, played by pion: it
// offers PCMU with every candidate in the SDP, sends a 400 Hz tone and
// counts the RTP packets it receives from the page.
type edgePeer struct {
	pc       *webrtc.PeerConnection
	received atomic.Int64
	stop     context.CancelFunc
}

func newEdgePeer(t *testing.T) (*edgePeer, string) {
	t.Helper()
	var me webrtc.MediaEngine
	if err := me.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000, Channels: 1},
		PayloadType: 0}, webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(&me)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	track, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000, Channels: 1}, "audio", "caller")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTrack(track); err != nil {
		t.Fatal(err)
	}
	e := &edgePeer{pc: pc}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			if _, _, err := tr.ReadRTP(); err != nil {
				return
			}
			e.received.Add(1)
		}
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	done := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-done
	ctx, cancel := context.WithCancel(context.Background())
	e.stop = cancel
	go func() {
		tone := ulawTone(160)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				_ = track.WriteSample(media.Sample{Data: tone, Duration: 20 * time.Millisecond})
			}
		}
	}()
	t.Cleanup(e.close)
	return e, pc.LocalDescription().SDP
}

func (e *edgePeer) close() {
	e.stop()
	_ = e.pc.Close()
}

// ulawTone is n samples of a 400 Hz tone at 8 kHz in G.711 μ-law.
func ulawTone(n int) []byte {
	out := make([]byte, n)
	for i := range out {
		s := int(8000 * math.Sin(2*math.Pi*400*float64(i)/8000))
		sign := byte(0x80)
		if s < 0 {
			sign, s = 0, -s
		}
		s = min(s+0x84, 32635)
		exp := byte(7)
		for mask := 0x4000; s&mask == 0 && exp > 0; mask >>= 1 {
			exp--
		}
		out[i] = ^(sign | exp<<4 | byte(s>>(int(exp)+3))&0x0f)
	}
	return out
}

// offerCall has the fake edge offer the page a peer connection for a call
// and applies the page's answer.
func offerCall(t *testing.T, agent *page, contactID, session string) *edgePeer {
	t.Helper()
	return offerCallHeld(t, agent, contactID, session, false)
}

// offerCallHeld is offerCall saying whether the call is on hold.
func offerCallHeld(t *testing.T, agent *page, contactID, session string, held bool) *edgePeer {
	t.Helper()
	e, sdp := newEdgePeer(t)
	agent.do("offer "+session, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`window.inject({type: "rtc_offer", contact_id: %s, session: %s, sdp: %s, held: %t})`,
		jsString(contactID), jsString(session), jsString(sdp), held)))
	agent.waitFor("the page's answer to "+session, fmt.Sprintf(`window.sentFrames.some((f) => f.type === "rtc_answer" && f.session === %s)`, jsString(session)))
	ans := eval[map[string]any](agent, fmt.Sprintf(`window.sentFrames.find((f) => f.type === "rtc_answer" && f.session === %s)`, jsString(session)))
	if ans["contact_id"] != contactID {
		t.Errorf("answer %v; want it for %s", ans, contactID)
	}
	answerSDP, _ := ans["sdp"].(string)
	if !containsCandidate(answerSDP) {
		t.Errorf("the page answered before ICE gathering completed (no candidate in its SDP):\n%s", answerSDP)
	}
	if err := e.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answerSDP}); err != nil {
		t.Fatalf("apply the page's answer: %v", err)
	}
	return e
}

func containsCandidate(sdp string) bool {
	for i := 0; i+12 <= len(sdp); i++ {
		if sdp[i:i+12] == "a=candidate:" {
			return true
		}
	}
	return false
}

// audioFlows waits until the page has received and sent at least n more
// packets than before (getStats) and the edge peer has received n.
func audioFlows(t *testing.T, agent *page, e *edgePeer, what string, n int) {
	t.Helper()
	agent.waitFor(what+": packets both ways in the page", fmt.Sprintf(`(async () => {
		const s = await window.tellonceSoftphone.stats();
		window.lastStats = s;
		return !!s && s.inbound.packets >= %d && s.outbound.packets >= %d && s.inbound.bytes > 0 && s.outbound.bytes > 0;
	})()`, n, n))
	deadline := time.Now().Add(20 * time.Second)
	for e.received.Load() < int64(n) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: the edge peer received %d packets from the page; want %d", what, e.received.Load(), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The page's side of the softphone protocol, against a stand-in for the
// server's relay and pion as the edge: the desk claims the softphone, a
// voice call it accepted gets an offer and the page answers with all its
// candidates; audio flows both ways and both level meters move; mute,
// hold and the keypad do what the protocol says; "reconnecting audio"
// shows while the edge reports the peer lost; a reload mid-call asks for
// a fresh offer and the call goes on; a second tab is asked before it
// takes the call, and the first tab lets go when told the call moved.
func TestSoftphonePageProtocol(t *testing.T) {
	line := softphoneLine(t, "gov110", "uitest-sp-rtc", "소프트폰 페이지 시험 창구", "sp-rtc")
	b := newBrowser(t, mediaFlags...)
	agent := b.page("sp-rtc")
	agent.fakeSoftphoneServer()
	agent.loginAs("sp-rtc", demoPassword)
	agent.goAvailable()
	agent.waitFor("softphone claimed", `window.sentFrames.some((f) => f.type === "softphone" && f.on === true)`)

	contactID := placeCall(t, line, "전화 민원인")
	agent.waitFor("the call's offer", `!document.querySelector("#offer").hidden`)
	agent.click("#offer-accept")
	agent.waitFor("call open", `!!document.querySelector(`+jsString(deskPanel)+`)`)

	e := offerCall(t, agent, contactID, "s1")
	audioFlows(t, agent, e, "first offer", 50)
	agent.waitText("connected", "#sp-status", "통화 연결됨")
	agent.waitFor("both meters move", `(() => { const l = window.tellonceSoftphone.levels(); return l && l.mic > 0.01 && l.caller > 0.01; })()`)
	agent.shot("softphone-call-ko")
	agent.noRawKeys()

	// Mute is the page's own: the microphone track goes off, nothing is sent.
	agent.click("#sp-mute")
	agent.waitFor("muted", `window.tellonceSoftphone.state().muted && document.querySelector("#sp-mute").getAttribute("aria-pressed") === "true"`)
	if sent := eval[int](agent, `window.sentFrames.filter((f) => !["softphone", "rtc_answer", "state", "accept"].includes(f.type)).length`); sent != 0 {
		t.Errorf("muting sent %d frames; want none", sent)
	}
	agent.click("#sp-mute")
	agent.waitFor("unmuted", `!window.tellonceSoftphone.state().muted`)

	// Hold and unhold go to the edge.
	agent.click("#sp-hold")
	agent.waitFor("hold sent", fmt.Sprintf(`window.sentFrames.some((f) => f.type === "hold" && f.contact_id === %s && f.on === true)`, jsString(contactID)))
	agent.waitText("held", "#sp-status", "보류 중")
	agent.click("#sp-hold")
	agent.waitFor("unhold sent", `window.sentFrames.some((f) => f.type === "hold" && f.on === false)`)
	agent.waitText("connected again", "#sp-status", "통화 연결됨")

	// A digit from the keypad.
	agent.click(".sp-keys summary")
	agent.click(`#sp-keypad button[data-digit="5"]`)
	agent.waitFor("dtmf sent", fmt.Sprintf(`window.sentFrames.some((f) => f.type === "dtmf" && f.contact_id === %s && f.digits === "5")`, jsString(contactID)))

	// The edge lost the peer: the agent reads that the audio is coming back.
	agent.do("rtc_state", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`window.inject({type: "rtc_state", contact_id: %s, state: "disconnected"})`, jsString(contactID))))
	agent.waitText("reconnecting", "#sp-status", "다시 연결 중")
	agent.do("rtc_state", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`window.inject({type: "rtc_state", contact_id: %s, state: "connected"})`, jsString(contactID))))
	agent.waitText("connected again", "#sp-status", "통화 연결됨")

	// A reload mid-call, the call on hold: after hello the desk claims the
	// softphone again and asks for a fresh offer; the new peer carries the
	// call, the edge's offer says it is held, and Resume brings it back.
	agent.click("#sp-hold")
	agent.waitText("held before the reload", "#sp-status", "보류 중")
	agent.do("reload", chromedp.Reload())
	agent.waitFor("restart asked", fmt.Sprintf(`window.sentFrames.some((f) => f.type === "rtc_restart" && f.contact_id === %s)`, jsString(contactID)))
	e.close()
	e2 := offerCallHeld(t, agent, contactID, "s2", true)
	audioFlows(t, agent, e2, "after the reload", 50)
	agent.waitText("held after the reload", "#sp-status", "보류 중")
	agent.waitFor("the hold button pressed", `document.querySelector("#sp-hold").getAttribute("aria-pressed") === "true"`)
	agent.click("#sp-hold")
	agent.waitFor("resume sent", fmt.Sprintf(`window.sentFrames.some((f) => f.type === "hold" && f.contact_id === %s && f.on === false)`, jsString(contactID)))
	agent.waitText("resumed after the reload", "#sp-status", "통화 연결됨")

	// A second tab of the same agent finds the call held by the first: it
	// asks before taking it.
	second := b.pageIn(agent, "sp-rtc-2")
	second.fakeSoftphoneServer()
	second.onNewDocument("refuse the first claim", `window.fakeReply = (f) => f.type === "softphone" && f.on && !f.take
				? { type: "error", ref: f.id, code: "softphone_busy", message: "the softphone is in another tab" } : null;`)
	second.navigate("/console")
	second.waitFor("the move prompt", `document.querySelector("#take-dialog").open`)
	if st := eval[map[string]any](second, `window.tellonceSoftphone.state()`); st["on"] != false || st["busy"] != true {
		t.Errorf("second tab's softphone %v; want it off and waiting for the agent's word", st)
	}
	second.noRawKeys()
	second.click("#take-yes")
	second.waitFor("taken", `window.sentFrames.some((f) => f.type === "softphone" && f.on && f.take === true) && window.tellonceSoftphone.state().on`)
	// The server asks the edge for the new tab's offer on a take.
	if n := eval[int](second, `window.sentFrames.filter((f) => f.type === "rtc_restart").length`); n != 0 {
		t.Errorf("the new tab sent %d rtc_restart after taking the call; the server asks the edge itself", n)
	}

	// The first tab hears that the call moved and lets go of its peer.
	agent.do("softphone_moved", chromedp.Evaluate[chromedp.Void](`window.inject({type: "softphone_moved"})`))
	agent.waitFor("the first tab let go", `!window.tellonceSoftphone.state().on && !window.tellonceSoftphone.state().call`)
	agent.waitText("moved", "#sp-status", "다른 창으로")
	agent.noRawKeys()
}

// pageIn opens another tab in the browser context of p: the same person,
// with the same cookies and local storage, in a second tab.
func (b *browser) pageIn(p *page, name string) *page {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(p.ctx)
	if err := chromedp.Do(ctx); err != nil {
		b.t.Fatalf("open tab %s: %v", name, err)
	}
	b.cancel = append(b.cancel, cancel)
	q := &page{b: b, name: name, ctx: ctx}
	b.pages = append(b.pages, q)
	return q
}

// iceOffer has the fake edge offer the page a peer connection carrying
// iceServers (a JavaScript expression, or "" for none) and waits until the
// page has built it.
func iceOffer(t *testing.T, agent *page, contactID, session, iceServers string) {
	t.Helper()
	_, sdp := newEdgePeer(t)
	ice := ""
	if iceServers != "" {
		ice = ", ice_servers: " + iceServers
	}
	agent.do("offer "+session, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`window.inject({type: "rtc_offer", contact_id: %s, session: %s, sdp: %s%s})`,
		jsString(contactID), jsString(session), jsString(sdp), ice)))
	agent.waitFor("the peer of "+session, fmt.Sprintf(`window.tellonceSoftphone.state().call?.session === %s`, jsString(session)))
}

// The page builds each peer connection with the ICE servers of its
// rtc_offer, whose TURN credentials are freshly minted, rather than with
// hello's, which may have expired; an offer without them falls back to
// hello's; an entry the browser would refuse is left out rather than
// failing the call.
func TestSoftphoneUsesTheOffersICEServers(t *testing.T) {
	line := softphoneLine(t, "gov110", "uitest-sp-ice", "소프트폰 ICE 시험 창구", "sp-ice")
	b := newBrowser(t, mediaFlags...)
	agent := b.page("sp-ice")
	agent.fakeSoftphoneServer()
	agent.loginAs("sp-ice", demoPassword)
	agent.goAvailable()
	agent.waitFor("softphone claimed", `window.tellonceSoftphone.state().on`)
	contactID := placeCall(t, line, "ICE 민원인")
	agent.waitFor("the call's offer", `!document.querySelector("#offer").hidden`)
	agent.click("#offer-accept")
	agent.waitFor("call open", `!!document.querySelector(`+jsString(deskPanel)+`)`)

	type iceServer struct {
		URLs       []string `json:"urls"`
		Username   string   `json:"username"`
		Credential string   `json:"credential"`
	}
	used := func() []iceServer { return eval[[]iceServer](agent, `window.tellonceSoftphone.iceServers()`) }
	for i, cred := range []string{"first", "second"} {
		session := fmt.Sprintf("ice%d", i+1)
		iceOffer(t, agent, contactID, session, fmt.Sprintf(`[{urls: ["turn:127.0.0.1:3478?transport=udp"], username: "1700000000:sp-ice-%[1]s", credential: "cred-%[1]s"}, {}]`, cred))
		got := used()
		if len(got) != 1 || len(got[0].URLs) != 1 || got[0].URLs[0] != "turn:127.0.0.1:3478?transport=udp" ||
			got[0].Username != "1700000000:sp-ice-"+cred || got[0].Credential != "cred-"+cred {
			t.Errorf("offer %s: the peer connection's ICE servers are %+v; want the offer's TURN server with its %s credentials", session, got, cred)
		}
	}
	// An offer without ice_servers (static credentials): hello's list,
	// not the previous offer's.
	iceOffer(t, agent, contactID, "ice3", "")
	for _, s := range used() {
		if s.Username != "" {
			t.Errorf("an offer without ice_servers built its peer with %+v; want hello's list", used())
		}
	}
	agent.noRawKeys()
}
