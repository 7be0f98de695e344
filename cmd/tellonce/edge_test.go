package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/diago"
	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"tellonce/clocktest"
	"tellonce/demo"
	"tellonce/edge"
	"tellonce/servertest"
	"tellonce/sql/sqltest"
)

// These tests run the SIP edge against a real tellonce server, with Go
// user agents (diago) as the callers and as the agents' phones, all on
// loopback.

const edgePlan = `
numbers:
  "126": main
menus:
  main:
    greeting: nts126.main
    timeout: 2s
    default: {queue: nts126.general}
    choices:
      "1": {menu: tax}
      "9": {language: en, queue: nts126.english}
  tax:
    greeting: nts126.tax
    default: {queue: nts126.general}
    choices:
      "1": {queue: nts126.year-end}
`

const phonePassword = "phone-secret-1"

// handedPorts are the ports freePort gave out: the kernel may offer a
// closed port again, and two user agents on one port (SO_REUSEPORT) take
// each other's packets.
var handedPorts sync.Map

// freePort is a loopback port free for UDP now, never given out before in
// this test binary.
func freePort(t testing.TB) int {
	t.Helper()
	for {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := c.LocalAddr().(*net.UDPAddr).Port
		c.Close()
		if _, seen := handedPorts.LoadOrStore(port, true); !seen {
			return port
		}
	}
}

type testEdge struct {
	*edge.Edge
	addr string // 127.0.0.1:port
	logs *servertest.LogBuffer
}

// startEdge runs "tellonce edge" in-process against s with extra flags.
func startEdge(t testing.TB, s *testServer, flags ...string) *testEdge {
	t.Helper()
	e := launchEdge(t, s, flags...)
	clocktest.EventuallyNil(t, "the edge online", waitTime, func() error {
		if !e.Online() {
			return fmt.Errorf("the edge's gateway socket is not up")
		}
		return nil
	})
	return e
}

// launchEdge is startEdge without waiting for the router.
func launchEdge(t testing.TB, s *testServer, flags ...string) *testEdge {
	t.Helper()
	dir := t.TempDir()
	plan := filepath.Join(dir, "dialplan.yaml")
	phones := filepath.Join(dir, "phones.yaml")
	if err := os.WriteFile(plan, []byte(edgePlan), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(phones, []byte("phones:\n  - {username: han.jiwon, password: "+phonePassword+"}\n  - {username: yoon.taeyang, password: "+phonePassword+"}\n  - {username: tran.mai, ha1: "+edge.HA1("tran.mai", phonePassword)+"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	args := append([]string{"--sip-udp", addr, "--sip-tcp", "", "--router", s.base, "--gateway-user", "gateway",
		"--dialplan", plan, "--phones", phones, "--announce-every", "5s", "--ring-timeout", "5s"}, flags...)
	var out bytes.Buffer
	cfg, opts, err := parseEdge(args, &out, env(map[string]string{"TELLONCE_GATEWAY_PASSWORD": demo.Password}))
	if err != nil {
		t.Fatalf("parseEdge: %v %s", err, out.String())
	}
	logs := &servertest.LogBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	e, err := buildEdge(ctx, cfg, opts, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("edge stopped with %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("edge did not stop")
		}
		if t.Failed() {
			t.Logf("edge log:\n%s", tail(logs.String(), 80))
		}
	})
	return &testEdge{Edge: e, addr: addr, logs: logs}
}

// phone is a SIP user agent: a caller, or an agent's phone.
type phone struct {
	dg   *diago.Diago
	addr string
	// answered gets the media of each call the phone answers.
	answered chan *phoneCall
	// mark fills the frames an answered call sends; want is what it
	// counts as heard (an agent's phone: 0x11, hearing callers' 0x22).
	mark, want byte
	// delays, when set, gets how long each heard frame took from the
	// sender, read from the send time a stamping sender put in it.
	delays *delayLog
	// stamp, when set, makes the calls it makes send stamped frames.
	stamp *time.Time
}

// phoneCall is one answered call on a phone: it sends frames filled with
// mark and counts the frames it hears filled with want.
type phoneCall struct {
	done  <-chan struct{}
	heard atomic.Int64 // frames filled with the other side's mark
	any   atomic.Int64 // any frames
	// hear, when set, is shown every frame heard (a conference's mix).
	hear atomic.Pointer[func([]byte)]
	dtmf *diago.DTMFWriter
	hang func(context.Context) error
	wmu  sync.Mutex // the audio and the DTMF writer share one RTP stream
	// rang is when the phone got the INVITE (an answering phone).
	rang time.Time
	// stamp, when set, makes the call's frames carry their send time as
	// nanoseconds since it; sent counts the stamped frames sent.
	stamp  *time.Time
	sent   atomic.Int64
	delays *delayLog
	// digits, when set, gets the RFC 4733 keys the call hears.
	digits chan rune
}

// delayLog collects one-way frame delays.
type delayLog struct {
	base time.Time
	mu   sync.Mutex
	d    []time.Duration
}

func (l *delayLog) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

// press sends an RFC 4733 key.
func (c *phoneCall) press(t testing.TB, key rune) {
	t.Helper()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.dtmf.WriteDTMF(key); err != nil {
		t.Fatal(err)
	}
}

func newPhone(t testing.TB, name string) *phone {
	t.Helper()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent(name))
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	p := &phone{addr: "127.0.0.1:" + strconv.Itoa(port), answered: make(chan *phoneCall, 4), mark: 0x11, want: 0x22}
	p.dg = diago.NewDiago(ua, diago.WithTransport(diago.Transport{Transport: "udp", BindHost: "127.0.0.1", BindPort: port}),
		diago.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); ua.Close() })
	if err := p.dg.ServeBackground(ctx, func(d *diago.DialogServerSession) {
		rang := time.Now()
		med, err := d.Answer(diago.AnswerOptions{})
		if err != nil {
			return
		}
		c := &phoneCall{done: d.Context().Done(), hang: d.Hangup, rang: rang, delays: p.delays}
		c.media(med, p.mark, p.want)
		p.answered <- c
		<-d.Context().Done()
	}); err != nil {
		t.Fatal(err)
	}
	return p
}

// media sends frames of mark every 20 ms and counts the frames heard.
func (c *phoneCall) media(med *diago.DialogMedia, mark, want byte) {
	var r io.Reader
	if c.digits != nil {
		dr := &diago.DTMFReader{}
		r, _ = med.AudioReader(diago.WithAudioReaderDTMF(dr))
		dr.OnDTMF(func(d rune) error {
			select {
			case c.digits <- d:
			default:
			}
			return nil
		})
	} else {
		r, _ = med.AudioReader()
	}
	w, _ := med.AudioWriter()
	go func() {
		buf := make([]byte, 1500)
		for {
			n, err := r.Read(buf)
			if err != nil {
				return
			}
			c.any.Add(1)
			if h := c.hear.Load(); h != nil {
				(*h)(buf[:n])
			}
			if c.delays != nil && n == 160 && bytes.Count(buf[8:n], []byte{want}) == n-8 {
				sent := time.Duration(binary.BigEndian.Uint64(buf[:8]))
				c.delays.add(time.Since(c.delays.base) - sent)
				c.heard.Add(1)
			} else if n > 0 && bytes.Count(buf[:n], []byte{want}) == n {
				c.heard.Add(1)
			}
		}
	}()
	go func() {
		frame := bytes.Repeat([]byte{mark}, 160)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-c.done:
				return
			case <-tick.C:
				if c.stamp != nil {
					binary.BigEndian.PutUint64(frame, uint64(time.Since(*c.stamp)))
					c.sent.Add(1)
				}
				c.wmu.Lock()
				_, err := w.Write(frame)
				c.wmu.Unlock()
				if err != nil {
					return
				}
			}
		}
	}()
}

// call dials number on the edge as the caller from, asserted by the
// network as pai.
func (p *phone) call(t testing.TB, e *testEdge, number, pai string) (*diago.DialogClientSession, *phoneCall) {
	t.Helper()
	var uri sip.Uri
	if err := sip.ParseUri("sip:"+number+"@"+e.addr, &uri); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	opts := diago.InviteOptions{Headers: []sip.Header{}}
	if pai != "" {
		opts.Headers = append(opts.Headers, sip.NewHeader("P-Asserted-Identity", "<sip:"+pai+"@carrier.example>"))
	}
	var d *diago.DialogClientSession
	var med *diago.DialogMedia
	// The user agent's listener is announced ready a moment before its
	// transport shares it with the client, which then tries to bind the
	// port itself: that is the phone's start, not the call, so try again.
	clocktest.EventuallyNil(t, "calling "+number, waitTime, func() error {
		var err error
		d, med, err = p.dg.Invite(ctx, uri, opts)
		if err != nil && !strings.Contains(err.Error(), "address already in use") {
			t.Fatalf("calling %s: %v", number, err)
		}
		return err
	})
	t.Cleanup(func() { _ = d.Hangup(context.Background()); _ = d.Close() })
	c := &phoneCall{done: d.Context().Done(), hang: d.Hangup, stamp: p.stamp, digits: make(chan rune, 64)}
	c.dtmf, _ = med.AudioWriterDTMF()
	c.media(med, 0x22, 0x11)
	return d, c
}

// register registers the phone with the edge as an agent's, from a
// client of its own (as a provisioning tool would), naming the phone's
// address as Contact, answering the digest challenge.
func (p *phone) register(t testing.TB, e *testEdge, user string) {
	t.Helper()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("registrar-client"))
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	client, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	var uri sip.Uri
	if err := sip.ParseUri("sip:"+user+"@"+e.addr, &uri); err != nil {
		t.Fatal(err)
	}
	req := sip.NewRequest(sip.REGISTER, uri)
	req.AppendHeader(sip.NewHeader("Contact", "<sip:"+user+"@"+p.addr+">"))
	req.AppendHeader(sip.NewHeader("Expires", "3600"))
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	res, err := client.Do(ctx, req)
	if err != nil {
		t.Fatalf("REGISTER %s: %v", user, err)
	}
	if res.StatusCode != 401 {
		t.Fatalf("REGISTER %s without credentials: %d; want 401", user, res.StatusCode)
	}
	res, err = client.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: user, Password: phonePassword})
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("REGISTER %s with credentials: %v %v", user, res, err)
	}
}

// info sends a digit in a SIP INFO on the caller's dialog.
func info(t testing.TB, d *diago.DialogClientSession, digit string) {
	t.Helper()
	req := sip.NewRequest(sip.INFO, d.InviteRequest.Recipient)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/dtmf-relay"))
	req.SetBody([]byte("Signal=" + digit + "\r\nDuration=160\r\n"))
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	res, err := d.Do(ctx, req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("INFO %s: %v %v", digit, res, err)
	}
}

func awaitAnswered(t testing.TB, p *phone) *phoneCall {
	t.Helper()
	select {
	case c := <-p.answered:
		return c
	case <-time.After(waitTime):
		t.Fatal("the agent's phone did not ring")
		return nil
	}
}

func awaitEnded(t testing.TB, what string, done <-chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(waitTime):
		t.Fatalf("%s did not end", what)
	}
}

func atLeast(n int64, what string, v *atomic.Int64) func() error {
	return func() error {
		if got := v.Load(); got < n {
			return fmt.Errorf("%s: %d frames, want %d", what, got, n)
		}
		return nil
	}
}

// TestEdgeCallThroughMenuToAgentsPhone: a call walks the menu (RFC 4733
// and SIP INFO digits), lands in the queue the menu chose with its
// choices in context.ivr, hears hold audio; the agent accepts, their
// registered phone rings, audio flows both ways; the agent's end hangs
// both phones up.
func TestEdgeCallThroughMenuToAgentsPhone(t *testing.T) {
	s := startServer(t, "sqlite")
	recDir := t.TempDir()
	e := startEdge(t, s, "--recording-dir", recDir)
	agentPhone := newPhone(t, "agent-phone")
	agentPhone.register(t, e, "han.jiwon")
	agent := s.availableAgent(t, "han.jiwon")

	caller := newPhone(t, "caller")
	d, c := caller.call(t, e, "126", "+821055501234")
	// The menu's greeting is audio: the caller hears something at once.
	clocktest.EventuallyNil(t, "audio", waitTime, atLeast(5, "the caller hearing the greeting", &c.any))
	c.press(t, '1')
	// The sub-menu's key comes by SIP INFO (both keys are 1: their order
	// does not matter).
	info(t, d, "1")

	offer := agent.awaitFunc(t, "the call's offer", typed("offer"))
	if q := offer.str("contact", "queue"); q != "nts126.year-end" {
		t.Errorf("offer in %q; want nts126.year-end (126 → 1 → 1)", q)
	}
	if ivr := offer.list("contact", "context", "ivr"); fmt.Sprint(ivr) != "[1 1]" {
		t.Errorf("context.ivr = %v; want [1 1]", ivr)
	}
	if ch := offer.str("contact", "channel"); ch != "voice" {
		t.Errorf("channel %q", ch)
	}
	contactID := offer.str("contact", "contact_id")
	agent.ack(t, obj{"type": "accept", "offer_id": offer.str("offer_id")})

	phoneCall := awaitAnswered(t, agentPhone)
	clocktest.EventuallyNil(t, "audio", waitTime, atLeast(25, "the agent hearing the caller", &phoneCall.heard))
	clocktest.EventuallyNil(t, "audio", waitTime, atLeast(25, "the caller hearing the agent", &c.heard))

	agent.ack(t, obj{"type": "end", "contact_id": contactID, "disposition": "resolved", "summary": "연말정산 안내"})
	awaitEnded(t, "the caller's call", c.done)
	awaitEnded(t, "the agent's phone call", phoneCall.done)
	clocktest.EventuallyNil(t, "no active calls", waitTime, func() error {
		if n := e.Active(); n != 0 {
			return fmt.Errorf("%d calls still active", n)
		}
		return nil
	})
	// The answered leg was recorded, under the case and contact ids, and
	// uploaded to the server, which the edge's spool then no longer holds.
	var files []string
	clocktest.EventuallyNil(t, "the recording uploaded", waitTime, func() error {
		files, _ = filepath.Glob(filepath.Join(s.recordingDir(), "*", offer.str("contact", "case_id")+"_"+contactID+"_*.wav"))
		if len(files) != 1 {
			return fmt.Errorf("recordings on the server %v; want one for the answered leg", files)
		}
		if left, _ := filepath.Glob(filepath.Join(recDir, "*", "*")); len(left) != 0 {
			return fmt.Errorf("the edge's spool still holds %v", left)
		}
		return nil
	})
	if st, err := os.Stat(files[0]); err != nil || st.Size() < 44+4*2000 {
		t.Errorf("recording %s: %v, %d bytes; want at least a quarter second of stereo audio (25 frames each way were heard)", files[0], err, st.Size())
	}
	// And the case's timeline says where it is.
	clocktest.EventuallyNil(t, "the recording in the case", waitTime, func() error {
		var cs caseDoc
		s.call(t, "GET", "/v1/cases/"+offer.str("contact", "case_id"), s.admin(t), nil, 200, &cs)
		if _, ok := cs.find("recording", ""); !ok {
			return fmt.Errorf("no recording entry:%s", cs.describe())
		}
		return nil
	})
}

// invite sends one INVITE with body to the edge and returns the final
// answer.
func invite(t *testing.T, e *testEdge, number string, body []byte, headers ...sip.Header) *sip.Response {
	t.Helper()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("raw-caller"))
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	client, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	var uri sip.Uri
	if err := sip.ParseUri("sip:"+number+"@"+e.addr, &uri); err != nil {
		t.Fatal(err)
	}
	req := sip.NewRequest(sip.INVITE, uri)
	for _, h := range headers {
		req.AppendHeader(h)
	}
	if body != nil {
		req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		req.SetBody(body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	res, err := client.Do(ctx, req)
	if err != nil {
		t.Fatalf("INVITE %s: %v", number, err)
	}
	return res
}

func sdpOffer(payloadTypes string, rtpmaps ...string) []byte {
	s := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP " + payloadTypes + "\r\n"
	for _, m := range rtpmaps {
		s += "a=rtpmap:" + m + "\r\n"
	}
	return []byte(s)
}

// TestEdgeRefusesWhatItCannotCarry: an unknown number is 404, no common
// codec 488, a body that is not SDP 400, garbage on the wire changes
// nothing, and beyond --max-calls a call is 503 with Retry-After.
func TestEdgeRefusesWhatItCannotCarry(t *testing.T) {
	s := startServer(t, "sqlite")
	e := startEdge(t, s, "--max-calls", "1")

	contact := sip.NewHeader("Contact", "<sip:raw-caller@127.0.0.1>")
	if res := invite(t, e, "999", sdpOffer("0", "0 PCMU/8000"), contact); res.StatusCode != 404 {
		t.Errorf("unknown number: %d; want 404", res.StatusCode)
	}
	if res := invite(t, e, "126", sdpOffer("18", "18 G729/8000"), contact); res.StatusCode != 488 {
		t.Errorf("G.729 only: %d; want 488", res.StatusCode)
	}
	if res := invite(t, e, "126", []byte("this is not sdp"), contact); res.StatusCode != 400 {
		t.Errorf("not SDP: %d; want 400", res.StatusCode)
	}
	if res := invite(t, e, "126", sdpOffer("0", "0 PCMU/8000")); res.StatusCode != 400 {
		t.Errorf("no Contact: %d; want 400", res.StatusCode)
	}
	// Malformed SIP: logged by the transport, never a crash.
	conn, err := net.Dial("udp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	for _, junk := range []string{"INVITE\r\n\r\n", "\x00\x01\x02", "SIP/2.0 200 OK\r\nVia: x\r\n\r\n", "INVITE sip:126@x SIP/2.0\r\nContent-Length: 99999\r\n\r\nv=0"} {
		_, _ = conn.Write([]byte(junk))
	}
	conn.Close()
	if res := invite(t, e, "999", sdpOffer("8", "8 PCMA/8000"), contact); res.StatusCode != 404 {
		t.Errorf("after junk: %d; want 404", res.StatusCode)
	}

	caller := newPhone(t, "caller")
	d, c := caller.call(t, e, "126", "")
	res := invite(t, e, "126", sdpOffer("0", "0 PCMU/8000"), contact)
	if res.StatusCode != 503 || res.GetHeader("Retry-After") == nil {
		t.Errorf("over --max-calls: %d %v; want 503 with Retry-After", res.StatusCode, res.GetHeader("Retry-After"))
	}
	_ = d.Hangup(context.Background())
	awaitEnded(t, "the first call", c.done)
	clocktest.EventuallyNil(t, "no active calls", waitTime, func() error {
		if n := e.Active(); n != 0 {
			return fmt.Errorf("%d calls still active", n)
		}
		return nil
	})
}

// walkToYearEnd takes a call through 126 → 1 → 1 by SIP INFO.
func walkToYearEnd(t testing.TB, d *diago.DialogClientSession) {
	t.Helper()
	info(t, d, "1")
	info(t, d, "1")
}

// TestEdgeCallerHangupWhileWaitingAbandons: a caller who hangs up before
// an agent took the call abandons it; the agent's offer is revoked.
func TestEdgeCallerHangupWhileWaitingAbandons(t *testing.T) {
	s := startServer(t, "sqlite")
	e := startEdge(t, s)
	agent := s.availableAgent(t, "han.jiwon")
	caller := newPhone(t, "caller")
	d, c := caller.call(t, e, "126", "+821055501235")
	walkToYearEnd(t, d)
	offer := agent.awaitFunc(t, "the call's offer", typed("offer"))
	contactID := offer.str("contact", "contact_id")
	// The waiting caller hears the line (please-hold, their place, hold
	// music) while nobody answers.
	before := c.any.Load()
	clocktest.EventuallyNil(t, "audio", waitTime, atLeast(before+25, "the waiting caller hearing the line", &c.any))
	_ = d.Hangup(context.Background())
	revoked := agent.awaitFunc(t, "offer_revoked", typed("offer_revoked"))
	if r := revoked.str("reason"); r != "abandoned" {
		t.Errorf("offer revoked with %q; want abandoned (%s)", r, revoked)
	}
	var cs caseDoc
	s.call(t, "GET", "/v1/cases/"+offer.str("contact", "case_id"), s.admin(t), nil, 200, &cs)
	if _, ok := cs.find("ended", ""); !ok {
		t.Errorf("case of %s has no ended entry:%s", contactID, cs.describe())
	}
	_ = c
}

// TestEdgeColdTransferKeepsTheCall: the first agent transfers the call
// to another queue; the caller's leg stays on the edge (never re-dialled),
// the first agent's phone is let go, and the next agent's phone rings and
// hears the caller.
func TestEdgeColdTransferKeepsTheCall(t *testing.T) {
	s := startServer(t, "sqlite")
	e := startEdge(t, s, "--transfer-grace", "500ms")
	phoneA, phoneB := newPhone(t, "phone-a"), newPhone(t, "phone-b")
	phoneA.register(t, e, "han.jiwon")
	phoneB.register(t, e, "yoon.taeyang")
	agentA := s.availableAgent(t, "han.jiwon")

	caller := newPhone(t, "caller")
	d, c := caller.call(t, e, "126", "+821055501236")
	walkToYearEnd(t, d)
	offer := agentA.awaitFunc(t, "the call's offer", typed("offer"))
	contactID := offer.str("contact", "contact_id")
	agentA.ack(t, obj{"type": "accept", "offer_id": offer.str("offer_id")})
	callA := awaitAnswered(t, phoneA)
	clocktest.EventuallyNil(t, "audio", waitTime, atLeast(10, "agent A hearing the caller", &callA.heard))

	agentA.ack(t, obj{"type": "transfer", "contact_id": contactID, "to": obj{"queue": "nts126.general"}, "mode": "cold"})
	awaitEnded(t, "agent A's phone call", callA.done)

	agentB := s.availableAgent(t, "yoon.taeyang")
	offerB := agentB.awaitFunc(t, "the transferred call's offer", typed("offer"))
	if ivr := offerB.list("contact", "context", "ivr"); fmt.Sprint(ivr) != "[1 1]" {
		t.Errorf("the transfer leg's context.ivr = %v; want the menu's [1 1]", ivr)
	}
	agentB.ack(t, obj{"type": "accept", "offer_id": offerB.str("offer_id")})
	callB := awaitAnswered(t, phoneB)
	heardB := callB.heard.Load()
	clocktest.EventuallyNil(t, "audio", waitTime, atLeast(heardB+25, "agent B hearing the caller", &callB.heard))
	select {
	case <-c.done:
		t.Fatal("the caller's leg ended with the transfer")
	default:
	}
	agentB.ack(t, obj{"type": "end", "contact_id": offerB.str("contact", "contact_id"), "disposition": "resolved", "summary": "이관 처리"})
	awaitEnded(t, "the caller's call", c.done)
}

// TestEdgeKeepsCallsThroughARouterRestart: a caller waits in line while
// the router restarts; the edge reconnects, the router's hello still has
// the call, and an agent who comes afterwards gets it on their phone.
func TestEdgeKeepsCallsThroughARouterRestart(t *testing.T) {
	dsn := sqltest.DSN(t, "sqlite")
	s, stop := serveOn(t, dsn, "--trust-proxy", "127.0.0.1,::1")
	// The restarted server listens where the edge knows it.
	u, err := url.Parse(s.base)
	if err != nil {
		t.Fatal(err)
	}
	port := u.Port()
	e := startEdge(t, s)
	agentPhone := newPhone(t, "agent-phone")
	agentPhone.register(t, e, "han.jiwon")

	caller := newPhone(t, "caller")
	d, c := caller.call(t, e, "126", "+821055501237")
	walkToYearEnd(t, d)
	clocktest.EventuallyNil(t, "the call in line", waitTime, func() error {
		if !bytes.Contains([]byte(e.logs.String()), []byte("call in line")) {
			return fmt.Errorf("not in line yet")
		}
		return nil
	})

	stop()
	clocktest.EventuallyNil(t, "the edge offline", waitTime, func() error {
		if e.Online() {
			return fmt.Errorf("still online")
		}
		return nil
	})
	s2, _ := serveOn(t, dsn, "--trust-proxy", "127.0.0.1,::1", "--addr", "127.0.0.1:"+port)
	clocktest.EventuallyNil(t, "the edge back online", waitTime, func() error {
		if !e.Online() {
			return fmt.Errorf("not reconnected")
		}
		return nil
	})
	select {
	case <-c.done:
		t.Fatal("the caller was hung up by the restart")
	default:
	}
	agent := s2.availableAgent(t, "han.jiwon")
	offer := agent.awaitFunc(t, "the call's offer after the restart", typed("offer"))
	agent.ack(t, obj{"type": "accept", "offer_id": offer.str("offer_id")})
	call := awaitAnswered(t, agentPhone)
	clocktest.EventuallyNil(t, "audio", waitTime, atLeast(25, "the agent hearing the caller", &call.heard))
}

// TestEdgeInterpreterJoinsThreeWay: an interpreter accepting the agent's
// request is rung on their phone and joins a three-way conference on the
// edge: each of the three hears the others; released, they drop and the
// caller and agent stay bridged.
func TestEdgeInterpreterJoinsThreeWay(t *testing.T) {
	s := startServer(t, "sqlite")
	e := startEdge(t, s)
	agentPhone, interpPhone := newPhone(t, "agent-phone"), newPhone(t, "interpreter-phone")
	agentPhone.register(t, e, "han.jiwon")
	interpPhone.register(t, e, "tran.mai")
	agent := s.availableAgent(t, "han.jiwon")
	interpreter := s.availableAgent(t, "tran.mai")

	caller := newPhone(t, "caller")
	d, c := caller.call(t, e, "126", "+821055501238")
	walkToYearEnd(t, d)
	offer := agent.awaitFunc(t, "the call's offer", typed("offer"))
	contactID := offer.str("contact", "contact_id")
	agent.ack(t, obj{"type": "accept", "offer_id": offer.str("offer_id")})
	callA := awaitAnswered(t, agentPhone)
	clocktest.EventuallyNil(t, "audio", waitTime, atLeast(10, "the agent hearing the caller", &callA.heard))

	agent.ack(t, obj{"type": "interpret", "contact_id": contactID, "language": "vi", "share_history": true})
	iOffer := interpreter.awaitFunc(t, "the interpreter's offer", typed("offer"))
	interpreter.ack(t, obj{"type": "accept", "offer_id": iOffer.str("offer_id")})
	callI := awaitAnswered(t, interpPhone)
	// Only the mix reaches the interpreter's phone: audio there is the
	// conference working (the caller's and the agent's frames summed, so
	// neither one's mark).
	clocktest.EventuallyNil(t, "audio", waitTime, atLeast(25, "the interpreter hearing the call", &callI.any))

	agent.ack(t, obj{"type": "interpreter_release", "contact_id": contactID})
	awaitEnded(t, "the interpreter's phone call", callI.done)
	heard := c.heard.Load()
	clocktest.EventuallyNil(t, "audio", waitTime, atLeast(heard+25, "the caller hearing the agent again, unmixed", &c.heard))
}

// interpreterOnTheLine brings a caller to han.jiwon's phone and tran.mai
// into the call three-way on theirs; it returns the desks, the calls as
// each phone has them, and the caller's contact.
func interpreterOnTheLine(t *testing.T, s *testServer, e *testEdge, number string) (agent, interpreter *wsClient, caller, callA, callI *phoneCall, contactID string) {
	t.Helper()
	agentPhone, interpPhone := newPhone(t, "agent-phone"), newPhone(t, "interpreter-phone")
	agentPhone.register(t, e, "han.jiwon")
	interpPhone.register(t, e, "tran.mai")
	agent = s.availableAgent(t, "han.jiwon")
	interpreter = s.availableAgent(t, "tran.mai")
	d, c := newPhone(t, "caller").call(t, e, "126", number)
	walkToYearEnd(t, d)
	offer := agent.awaitFunc(t, "the call's offer", typed("offer"))
	contactID = offer.str("contact", "contact_id")
	agent.ack(t, obj{"type": "accept", "offer_id": offer.str("offer_id")})
	callA = awaitAnswered(t, agentPhone)
	clocktest.EventuallyNil(t, "audio", waitTime, atLeast(10, "the agent hearing the caller", &callA.heard))
	agent.ack(t, obj{"type": "interpret", "contact_id": contactID, "language": "vi"})
	iOffer := interpreter.awaitFunc(t, "the interpreter's offer", typed("offer"))
	interpreter.ack(t, obj{"type": "accept", "offer_id": iOffer.str("offer_id")})
	callI = awaitAnswered(t, interpPhone)
	clocktest.EventuallyNil(t, "audio", waitTime, atLeast(25, "the interpreter hearing the call", &callI.any))
	return agent, interpreter, c, callA, callI, contactID
}

// TestEdgeInterpreterPhoneHangupLeavesTheCall: the interpreter hanging up
// their phone leaves the conference — their leg ends in the router too
// (their desk and the agent's are told), and the caller and the agent
// stay bridged.
func TestEdgeInterpreterPhoneHangupLeavesTheCall(t *testing.T) {
	s := startServer(t, "sqlite")
	e := startEdge(t, s)
	agent, interpreter, c, callA, callI, contactID := interpreterOnTheLine(t, s, e, "+821055501241")

	_ = callI.hang(context.Background())
	if f := interpreter.awaitFunc(t, "the interpreter's leg ended", typed("contact_ended")); f.str("reason") != "completed" {
		t.Errorf("the interpreter's desk got %s; want their leg ended", f)
	}
	if f := agent.awaitFunc(t, "the interpreter left", typed("interpreter", "state", "left")); f.str("contact_id") != contactID {
		t.Errorf("the agent's desk got %s; want the interpreter left %s", f, contactID)
	}
	heardC, heardA := c.heard.Load(), callA.heard.Load()
	clocktest.EventuallyNil(t, "audio", waitTime, atLeast(heardC+25, "the caller hearing the agent, unmixed", &c.heard))
	clocktest.EventuallyNil(t, "audio", waitTime, atLeast(heardA+25, "the agent hearing the caller, unmixed", &callA.heard))
	select {
	case <-c.done:
		t.Fatal("the caller's leg ended with the interpreter's")
	case <-callA.done:
		t.Fatal("the agent's leg ended with the interpreter's")
	default:
	}
	// The agent may bring an interpreter in again.
	agent.ack(t, obj{"type": "interpret", "contact_id": contactID, "language": "vi"})
}

// TestEdgeTransferLetsTheInterpreterGo: a call transferred while an
// interpreter is on the line takes the caller on to the next agent; the
// interpreter's leg ended with the transfer, so their phone is let go at
// once (not when the first agent's leg is dropped, a long grace later),
// and the caller and the first agent stay bridged meanwhile.
func TestEdgeTransferLetsTheInterpreterGo(t *testing.T) {
	s := startServer(t, "sqlite")
	e := startEdge(t, s, "--transfer-grace", "10m")
	agent, interpreter, c, callA, callI, contactID := interpreterOnTheLine(t, s, e, "+821055501242")

	agent.ack(t, obj{"type": "transfer", "contact_id": contactID, "to": obj{"queue": "nts126.general"}, "mode": "cold"})
	awaitEnded(t, "the interpreter's phone call", callI.done)
	interpreter.awaitFunc(t, "the interpreter's leg ended", typed("contact_ended"))
	heardC, heardA := c.heard.Load(), callA.heard.Load()
	clocktest.EventuallyNil(t, "audio", waitTime, atLeast(heardC+25, "the caller hearing the first agent, unmixed", &c.heard))
	clocktest.EventuallyNil(t, "audio", waitTime, atLeast(heardA+25, "the first agent hearing the caller", &callA.heard))
	select {
	case <-c.done:
		t.Fatal("the caller's leg ended with the transfer")
	default:
	}
	phoneB := newPhone(t, "phone-b")
	phoneB.register(t, e, "yoon.taeyang")
	agentB := s.availableAgent(t, "yoon.taeyang")
	offerB := agentB.awaitFunc(t, "the transferred call's offer", typed("offer"))
	agentB.ack(t, obj{"type": "accept", "offer_id": offerB.str("offer_id")})
	callB := awaitAnswered(t, phoneB)
	awaitEnded(t, "the first agent's phone call", callA.done)
	clocktest.EventuallyNil(t, "audio", waitTime, atLeast(25, "the next agent hearing the caller", &callB.heard))
}

// TestEdgeClosedQueueSaysSoAndHangsUp: a menu leading to a queue outside
// its opening hours tells the caller it is closed and hangs up; nothing is
// put in line.
func TestEdgeClosedQueueSaysSoAndHangsUp(t *testing.T) {
	s := startServer(t, "sqlite")
	s.call(t, "PATCH", "/v1/queues/nts126.year-end", s.admin(t), obj{"hours": obj{"mon": []any{}}}, 200, nil)
	e := startEdge(t, s)
	caller := newPhone(t, "caller")
	d, c := caller.call(t, e, "126", "+821055501239")
	walkToYearEnd(t, d)
	awaitEnded(t, "the call to a closed queue", c.done)
	if !strings.Contains(e.logs.String(), "the queue is closed now") {
		t.Error("the edge did not take the router's closed answer as closed")
	}
	if c.any.Load() < 10 {
		t.Errorf("the caller heard %d frames before the hang-up; want the closed message", c.any.Load())
	}
}

// TestEdgeAgentPhoneHangupEndsTheCall: the agent's phone hanging up ends
// the call for the caller too (the router sends no hangup back for it).
func TestEdgeAgentPhoneHangupEndsTheCall(t *testing.T) {
	s := startServer(t, "sqlite")
	e := startEdge(t, s)
	agentPhone := newPhone(t, "agent-phone")
	agentPhone.register(t, e, "han.jiwon")
	agent := s.availableAgent(t, "han.jiwon")
	caller := newPhone(t, "caller")
	d, c := caller.call(t, e, "126", "+821055501240")
	walkToYearEnd(t, d)
	offer := agent.awaitFunc(t, "the call's offer", typed("offer"))
	agent.ack(t, obj{"type": "accept", "offer_id": offer.str("offer_id")})
	call := awaitAnswered(t, agentPhone)
	clocktest.EventuallyNil(t, "audio", waitTime, atLeast(10, "the agent hearing the caller", &call.heard))
	_ = call.hang(context.Background())
	awaitEnded(t, "the caller's call after the agent hung up", c.done)
	// agent_hangup ended the contact as the desk's end does.
	ended := agent.awaitFunc(t, "contact_ended", typed("contact_ended"))
	if r := ended.str("reason"); r != "completed" {
		t.Errorf("contact_ended %s; want reason completed (agent_hangup)", ended)
	}
}

// TestEdgeUnansweredPhoneIsAMissedOffer: an agent whose phone does not
// answer within --ring-timeout is reported, and the caller stays on the
// line.
func TestEdgeUnansweredPhoneIsAMissedOffer(t *testing.T) {
	s := startServer(t, "sqlite")
	e := startEdge(t, s, "--ring-timeout", "1s")
	// A phone registered at an address where nothing answers.
	silent := &phone{addr: "127.0.0.1:" + strconv.Itoa(freePort(t))}
	silent.register(t, e, "han.jiwon")
	agent := s.availableAgent(t, "han.jiwon")
	caller := newPhone(t, "caller")
	d, c := caller.call(t, e, "126", "+821055501241")
	walkToYearEnd(t, d)
	offer := agent.awaitFunc(t, "the call's offer", typed("offer"))
	agent.ack(t, obj{"type": "accept", "offer_id": offer.str("offer_id")})
	// The router counts the missed offer: the agent's leg ends as missed.
	ended := agent.awaitFunc(t, "contact_ended", typed("contact_ended"))
	if r := ended.str("reason"); r != "missed" {
		t.Errorf("contact_ended %s; want reason missed (connect_failed no_answer)", ended)
	}
	if !strings.Contains(e.logs.String(), "result=no_answer") {
		t.Error("the edge did not report no_answer")
	}
	select {
	case <-c.done:
		t.Fatal("the caller was hung up when the agent's phone did not answer")
	default:
	}
}

// TestEdgeWarmTransferKeepsTheFirstAgentUntilTheSecondAnswers: a warm
// transfer's second agent accepts; their phone rings while the first
// agent is still bridged, answers, and only then does the first agent's
// phone drop. The caller's leg stays throughout.
func TestEdgeWarmTransferKeepsTheFirstAgentUntilTheSecondAnswers(t *testing.T) {
	s := startServer(t, "sqlite")
	e := startEdge(t, s, "--transfer-grace", "5s")
	phoneA, phoneB := newPhone(t, "phone-a"), newPhone(t, "phone-b")
	phoneA.register(t, e, "han.jiwon")
	phoneB.register(t, e, "yoon.taeyang")
	agentA := s.availableAgent(t, "han.jiwon")
	agentB := s.availableAgent(t, "yoon.taeyang")

	caller := newPhone(t, "caller")
	d, c := caller.call(t, e, "126", "+821055501242")
	walkToYearEnd(t, d)
	offer := agentA.awaitFunc(t, "the call's offer", typed("offer"))
	contactID := offer.str("contact", "contact_id")
	agentA.ack(t, obj{"type": "accept", "offer_id": offer.str("offer_id")})
	callA := awaitAnswered(t, phoneA)
	clocktest.EventuallyNil(t, "audio", waitTime, atLeast(10, "agent A hearing the caller", &callA.heard))

	agentA.ack(t, obj{"type": "transfer", "contact_id": contactID, "to": obj{"queue": "nts126.general"}, "mode": "warm"})
	offerB := agentB.awaitFunc(t, "the warm transfer's offer", typed("offer"))
	// Until B accepts, A talks on.
	heardA := callA.heard.Load()
	clocktest.EventuallyNil(t, "audio", waitTime, atLeast(heardA+10, "agent A still hearing the caller", &callA.heard))
	agentB.ack(t, obj{"type": "accept", "offer_id": offerB.str("offer_id")})
	callB := awaitAnswered(t, phoneB)
	awaitEnded(t, "agent A's phone call once B answered", callA.done)
	clocktest.EventuallyNil(t, "audio", waitTime, atLeast(25, "agent B hearing the caller", &callB.heard))
	select {
	case <-c.done:
		t.Fatal("the caller's leg ended with the transfer")
	default:
	}
}

// TestEdgeDialsACallbackThroughTheTrunk: an agent accepting a callback
// makes the edge call the citizen through --trunk, report the answer and
// ring the agent's phone, bridged to the citizen.
func TestEdgeDialsACallbackThroughTheTrunk(t *testing.T) {
	s := startServer(t, "sqlite")
	trunk := newPhone(t, "trunk") // answers as the called citizen
	trunk.mark, trunk.want = 0x33, 0x11
	e := startEdge(t, s, "--trunk", "sip:"+trunk.addr)
	agentPhone := newPhone(t, "agent-phone")
	agentPhone.register(t, e, "han.jiwon")
	agent := s.availableAgent(t, "han.jiwon")

	gw := s.loginDemo(t, "gateway")
	s.call(t, "POST", "/v1/contacts", gw, obj{"channel": "callback", "queue": "nts126.general",
		"caller": obj{"id": "+821055501243"}, "callback_number": "+821055501243"}, 201, nil)
	offer := agent.awaitFunc(t, "the callback's offer", typed("offer"))
	agent.ack(t, obj{"type": "accept", "offer_id": offer.str("offer_id")})
	citizen := awaitAnswered(t, trunk)
	callA := awaitAnswered(t, agentPhone)
	// The agent's phone rings only once the citizen answered: all it hears
	// is the citizen; the citizen hears the agent's marked frames.
	clocktest.EventuallyNil(t, "audio", waitTime, atLeast(25, "the agent hearing the citizen", &callA.any))
	clocktest.EventuallyNil(t, "audio", waitTime, atLeast(25, "the citizen hearing the agent", &citizen.heard))
	agent.ack(t, obj{"type": "end", "contact_id": offer.str("contact", "contact_id"), "disposition": "resolved", "summary": "회신 완료"})
	awaitEnded(t, "the citizen's call", citizen.done)
}
