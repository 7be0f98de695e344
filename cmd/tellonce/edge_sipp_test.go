package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"tellonce/clocktest"
	"tellonce/sipptest"
)

// These tests run the SIP edge against SIPp, a SIP implementation the
// edge's authors did not write, as the callers and as the phones: the
// callers key their menu choices as RFC 4733 events in their RTP, the
// phones answer and echo what they hear. SIPp's own counts (calls, BYEs,
// RTP packets) are the evidence.

// sippEchoed waits until the SIPp phone p has echoed at least n RTP
// packets: the audio it heard came across the edge's bridge, and went
// back.
func sippEchoed(t *testing.T, what string, p *sipptest.Process, n int) {
	t.Helper()
	clocktest.EventuallyNil(t, what, waitTime, func() error {
		if _, echoed := p.RTP(); echoed < n {
			return fmt.Errorf("%s: SIPp echoed %d RTP packets, want %d", what, echoed, n)
		}
		return nil
	})
}

// setSIPURI points the agent's sip_uri at a SIPp phone.
func (s *testServer) setSIPURI(t *testing.T, username string, p *sipptest.Process) {
	t.Helper()
	s.call(t, "PATCH", "/v1/users/"+username, s.admin(t), obj{"sip_uri": "sip:" + username + "@" + p.Addr}, 200, nil)
}

// TestEdgeAnswersSIPp: a SIPp caller dials 126 and keys 1 1; the call
// reaches the queue with the menu's choices in context.ivr; the agent's
// phone, named by their sip_uri, is SIPp too and echoes what it hears, so
// the caller's audio crosses the edge's bridge both ways; the desk's end
// hangs both up, both SIPp count their call a success, and the answered
// leg's recording holds both directions for as long as the bridge lasted.
func TestEdgeAnswersSIPp(t *testing.T) {
	s := startServer(t, "sqlite")
	recDir := t.TempDir()
	e := startEdge(t, s, "--recording-dir", recDir)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	agentPhone := sipptest.Start(ctx, t, sipptest.Config{Scenario: sipptest.Phone, Echo: true, Hold: 30 * time.Second})
	s.setSIPURI(t, "han.jiwon", agentPhone)
	agent := s.availableAgent(t, "han.jiwon")
	media := &sipptest.Media{Lead: 500 * time.Millisecond, Digits: "11", After: 8 * time.Second}
	caller := sipptest.Start(ctx, t, sipptest.Config{Scenario: sipptest.Caller, Remote: e.addr, Service: "126",
		Media: media, Hold: 30 * time.Second})
	offer, err := agent.AwaitFunc("the SIPp call's offer", waitTime, typed("offer"))
	if err != nil {
		res, werr := caller.Wait()
		t.Fatalf("%v; SIPp: %v %s", err, werr, res)
	}
	if q, ivr := offer.str("contact", "queue"), offer.list("contact", "context", "ivr"); q != "nts126.year-end" || fmt.Sprint(ivr) != "[1 1]" {
		t.Errorf("offer in %q with ivr %v; want nts126.year-end after [1 1]", q, ivr)
	}
	contactID := offer.str("contact", "contact_id")
	agent.ack(t, obj{"type": "accept", "offer_id": offer.str("offer_id")})
	// A second of the caller's tone echoed by the agent's phone.
	sippEchoed(t, "the agent's phone echoing the caller", agentPhone, 50)
	bridged := time.Now()
	agent.ack(t, obj{"type": "end", "contact_id": contactID, "disposition": "resolved", "summary": "SIPp"})
	res, err := caller.Wait()
	talked := time.Since(bridged)
	if err != nil || res.ExitCode != 0 || res.Successful != 1 || res.Count("BYE_Recv") != 1 {
		t.Fatalf("SIPp caller: %v %s; want one successful call the edge hung up", err, res)
	}
	pres, err := agentPhone.Wait()
	if err != nil || pres.Successful != 1 || pres.RTPEchoed < 50 || pres.Count("BYE_Recv") != 1 {
		t.Fatalf("SIPp agent phone: %v %s; want one call that echoed at least a second of the caller", err, pres)
	}
	// The phone echoes only what reached it: at most what the caller sent.
	if res.RTPSent > 0 && pres.RTPEchoed > res.RTPSent {
		t.Errorf("the phone echoed %d packets, more than the caller's %d", pres.RTPEchoed, res.RTPSent)
	}

	// The answered leg's recording: both directions (the caller's tone on
	// the left, its echo from the agent's phone on the right), at least the
	// second the phone echoed and no longer than the call.
	var file string
	clocktest.EventuallyNil(t, "the recording closed", waitTime, func() error {
		files, _ := filepath.Glob(filepath.Join(s.recordingDir(), "*", offer.str("contact", "case_id")+"_"+contactID+"_*.wav"))
		if len(files) != 1 {
			return fmt.Errorf("recordings uploaded %v; want one for the answered leg", files)
		}
		file = files[0]
		return nil
	})
	w := readWAV(t, file)
	if d := w.duration(); d < time.Second || d > media.Duration()+talked+time.Second {
		t.Errorf("recording %s lasts %v; want between 1 s (echoed) and %v (the caller's media and the hang-up)", file, d, media.Duration()+talked)
	}
	if w.loud[0] < 8000 || w.loud[1] < 8000 {
		t.Errorf("recording %s: %d loud samples from the caller, %d from the agent; want a second of each", file, w.loud[0], w.loud[1])
	}
}

// wav is a stereo 16-bit recording read back: its frames and, per
// channel, how many samples are louder than the noise floor.
type wav struct {
	frames int
	loud   [2]int
}

func (w wav) duration() time.Duration { return time.Duration(w.frames) * time.Second / 8000 }

func readWAV(t *testing.T, path string) wav {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 44 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" ||
		binary.LittleEndian.Uint16(b[22:]) != 2 || binary.LittleEndian.Uint32(b[24:]) != 8000 || binary.LittleEndian.Uint16(b[34:]) != 16 {
		t.Fatalf("%s is not an 8 kHz 16-bit stereo WAV", path)
	}
	data := b[44:]
	w := wav{frames: len(data) / 4}
	for i := 0; i+4 <= len(data); i += 4 {
		for ch := range 2 {
			v := int16(binary.LittleEndian.Uint16(data[i+2*ch:]))
			if v > 500 || v < -500 {
				w.loud[ch]++
			}
		}
	}
	return w
}

// TestEdgeSIPpCallerAbandons: a SIPp caller who hangs up while waiting in
// line abandons the contact; the waiting agent's offer is revoked as
// abandoned, and the edge never sent the caller a BYE.
func TestEdgeSIPpCallerAbandons(t *testing.T) {
	s := startServer(t, "sqlite")
	e := startEdge(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	agent := s.availableAgent(t, "han.jiwon")
	caller := sipptest.Start(ctx, t, sipptest.Config{Scenario: sipptest.Abandon, Remote: e.addr, Service: "126",
		Media: &sipptest.Media{Lead: 300 * time.Millisecond, Digits: "11"}, Hold: 3 * time.Second})
	offer, err := agent.AwaitFunc("the SIPp call's offer", waitTime, typed("offer"))
	if err != nil {
		res, werr := caller.Wait()
		t.Fatalf("%v; SIPp: %v %s", err, werr, res)
	}
	// The agent does not take it; the caller gives up.
	revoked := agent.awaitFunc(t, "offer_revoked", typed("offer_revoked"))
	if r := revoked.str("reason"); r != "abandoned" {
		t.Errorf("offer revoked with %q; want abandoned (%s)", r, revoked)
	}
	res, err := caller.Wait()
	if err != nil || res.Successful != 1 || res.Count("BYE_Sent") != 1 {
		t.Fatalf("SIPp caller: %v %s; want one call it hung up itself", err, res)
	}
	clocktest.EventuallyNil(t, "no active calls", waitTime, func() error {
		if n := e.Active(); n != 0 {
			return fmt.Errorf("%d calls still active", n)
		}
		return nil
	})
	var cs caseDoc
	s.call(t, "GET", "/v1/cases/"+offer.str("contact", "case_id"), s.admin(t), nil, 200, &cs)
	if len(cs.Legs) != 1 || cs.Legs[0].Disposition != "abandoned" {
		t.Errorf("case of the abandoned call:%s; want one leg, abandoned", cs.describe())
	}
}

// TestEdgeSIPpColdTransferAcrossAgencies: a live SIPp call, bridged to
// agent A of NTS 126, is cold-transferred with a note to KDCA 1339. The
// caller's leg stays on the edge and its RTP reaches agent B's SIPp phone;
// B's offer holds the menu's choices, A's note, the transfer note and
// A's leg; A's phone is let go; the caller never re-dials.
func TestEdgeSIPpColdTransferAcrossAgencies(t *testing.T) {
	s := startServer(t, "sqlite")
	e := startEdge(t, s, "--transfer-grace", "500ms")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	phoneA := sipptest.Start(ctx, t, sipptest.Config{Scenario: sipptest.Phone, Echo: true, Hold: 30 * time.Second})
	phoneB := sipptest.Start(ctx, t, sipptest.Config{Scenario: sipptest.Phone, Echo: true, Hold: 30 * time.Second})
	s.setSIPURI(t, "han.jiwon", phoneA)
	s.setSIPURI(t, "choi.yuna", phoneB)
	agentA := s.availableAgent(t, "han.jiwon")
	media := &sipptest.Media{Lead: 500 * time.Millisecond, Digits: "11", After: 20 * time.Second}
	caller := sipptest.Start(ctx, t, sipptest.Config{Scenario: sipptest.Caller, Remote: e.addr, Service: "126",
		Media: media, Hold: 40 * time.Second})
	offer, err := agentA.AwaitFunc("the SIPp call's offer", waitTime, typed("offer"))
	if err != nil {
		res, werr := caller.Wait()
		t.Fatalf("%v; SIPp: %v %s", err, werr, res)
	}
	contactID, caseID := offer.str("contact", "contact_id"), offer.str("contact", "case_id")
	agentA.ack(t, obj{"type": "accept", "offer_id": offer.str("offer_id")})
	sippEchoed(t, "agent A's phone echoing the caller", phoneA, 25)

	const noteA, transferNote = "본인 확인 완료, 예방접종 후 이상반응 문의", "부작용 상담 연결"
	agentA.ack(t, obj{"type": "note", "case_id": caseID, "text": noteA})
	agentA.ack(t, obj{"type": "transfer", "contact_id": contactID, "to": obj{"queue": "kdca1339.vaccination"},
		"mode": "cold", "note": transferNote})
	resA, err := phoneA.Wait()
	if err != nil || resA.Successful != 1 || resA.Count("BYE_Recv") != 1 {
		t.Fatalf("agent A's SIPp phone: %v %s; want its call ended by the edge", err, resA)
	}

	agentB := s.availableAgent(t, "choi.yuna")
	offerB := agentB.awaitFunc(t, "the transferred call's offer", typed("offer"))
	var cs caseDoc
	if err := offerB.decode(&cs, "case"); err != nil {
		t.Fatal(err)
	}
	if ivr := offerB.list("contact", "context", "ivr"); fmt.Sprint(ivr) != "[1 1]" {
		t.Errorf("B's offer: context.ivr = %v; want the menu's [1 1]", ivr)
	}
	if cs.CaseID != caseID || offerB.str("contact", "queue") != "kdca1339.vaccination" || offerB.str("contact", "channel") != "voice" {
		t.Errorf("B's offer %s; want a voice leg of case %s in kdca1339.vaccination", offerB, caseID)
	}
	if _, ok := cs.find("note", noteA); !ok {
		t.Errorf("B's offer lacks A's note:%s", cs.describe())
	}
	if cs.TransferNote == nil || cs.TransferNote.Text != transferNote {
		t.Errorf("B's offer transfer_note = %+v; want %q", cs.TransferNote, transferNote)
	}
	if len(cs.Legs) != 2 || cs.Legs[0].ContactID != contactID || cs.Legs[0].Agency != "nts126" ||
		cs.Legs[0].Agent != "han.jiwon" || cs.Legs[0].Disposition != "transferred" {
		t.Errorf("B's offer legs:%s; want A's nts126 leg (transferred) first", cs.describe())
	}
	agentB.ack(t, obj{"type": "accept", "offer_id": offerB.str("offer_id")})
	// The caller's stream, which never stopped, reaches B's phone and
	// comes back.
	sippEchoed(t, "agent B's phone echoing the caller", phoneB, 25)
	agentB.ack(t, obj{"type": "end", "contact_id": offerB.str("contact", "contact_id"), "disposition": "resolved", "summary": "이상반응 안내"})
	res, err := caller.Wait()
	if err != nil || res.ExitCode != 0 || res.Created != 1 || res.Successful != 1 || res.Count("BYE_Recv") != 1 {
		t.Fatalf("SIPp caller: %v %s; want its one call kept through the transfer and ended by the edge", err, res)
	}
	if resB, err := phoneB.Wait(); err != nil || resB.Successful != 1 || resB.RTPEchoed < 25 {
		t.Fatalf("agent B's SIPp phone: %v %s", err, resB)
	}
}

// TestEdgeSIPpAnswersACallback: an agent accepting a callback makes the
// edge dial the citizen through --trunk, where SIPp answers and echoes;
// the agent's phone is bridged to it and hears its own frames back.
func TestEdgeSIPpAnswersACallback(t *testing.T) {
	s := startServer(t, "sqlite")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	citizen := sipptest.Start(ctx, t, sipptest.Config{Scenario: sipptest.Phone, Echo: true, Hold: 30 * time.Second})
	recDir := t.TempDir()
	e := startEdge(t, s, "--trunk", "sip:"+citizen.Addr, "--recording-dir", recDir)
	agentPhone := newPhone(t, "agent-phone")
	agentPhone.want = agentPhone.mark // the citizen's phone echoes the agent
	agentPhone.register(t, e, "han.jiwon")
	agent := s.availableAgent(t, "han.jiwon")

	gw := s.loginDemo(t, "gateway")
	s.call(t, "POST", "/v1/contacts", gw, obj{"channel": "callback", "queue": "nts126.general",
		"caller": obj{"id": "+821055501250"}, "callback_number": "+821055501250"}, 201, nil)
	offer := agent.awaitFunc(t, "the callback's offer", typed("offer"))
	agent.ack(t, obj{"type": "accept", "offer_id": offer.str("offer_id")})
	callA := awaitAnswered(t, agentPhone)
	clocktest.EventuallyNil(t, "audio", waitTime, atLeast(25, "the agent hearing their voice echoed by the citizen's phone", &callA.heard))
	sippEchoed(t, "the citizen's phone echoing the agent", citizen, 25)
	agent.ack(t, obj{"type": "end", "contact_id": offer.str("contact", "contact_id"), "disposition": "resolved", "summary": "회신 완료"})
	awaitEnded(t, "the agent's phone call", callA.done)
	res, err := citizen.Wait()
	if err != nil || res.Successful != 1 || res.Count("BYE_Recv") != 1 {
		t.Fatalf("the citizen's SIPp phone: %v %s; want one answered call the edge hung up", err, res)
	}
	// The callback's answered leg is recorded under its case like a call's.
	clocktest.EventuallyNil(t, "the callback's recording", waitTime, func() error {
		got, _ := filepath.Glob(filepath.Join(s.recordingDir(), "*", offer.str("contact", "case_id")+"_"+offer.str("contact", "contact_id")+"_*.wav"))
		if len(got) != 1 {
			return fmt.Errorf("recordings %v; want one for the callback's leg", got)
		}
		return nil
	})
}

// TestEdgeSIPpHundredCallsAtOnce: 100 SIPp calls at once walk the menu
// into the queue and are answered by 100 agents whose phones are one SIPp
// process answering for all of them with RTP echo. Every call reaches an
// agent with its menu choices, every phone echoes the caller's audio, the
// agents' end hangs every caller up, and SIPp counts every call a
// success.
func TestEdgeSIPpHundredCallsAtOnce(t *testing.T) {
	calls := 100
	if v, err := strconv.Atoi(os.Getenv("TELLONCE_SIPP_CALLS")); err == nil && v > 0 {
		calls = v // to look into a failure at a smaller scale
	}
	s := startServer(t, "sqlite", "--login-burst-addr", "500")
	e := startEdge(t, s, "--max-calls", "300")
	// Generous bounds: on a loaded machine making the hundred agents
	// alone has taken over a minute, before any call is placed.
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	phones := sipptest.Start(ctx, t, sipptest.Config{Scenario: sipptest.Phone, Echo: true, Calls: calls, Hold: 60 * time.Second,
		Timeout: 3 * time.Minute})
	agents := make([]*wsClient, calls)
	for i := range agents {
		name := fmt.Sprintf("e2e.voice%03d", i)
		s.createAgent(t, name, "nts126", 1, "nts126.year-end")
		// The year-end queue asks for topic:tax.
		s.call(t, "PATCH", "/v1/users/"+name, s.admin(t), obj{"sip_uri": "sip:" + name + "@" + phones.Addr,
			"skills": obj{"lang:ko": 5, "topic:tax": 5}}, 200, nil)
		agents[i], _ = s.agentDesk(t, name, e2eAgentPassword)
		agents[i].ack(t, obj{"type": "state", "state": "available"})
	}
	media := &sipptest.Media{Lead: 300 * time.Millisecond, Digits: "11", After: 20 * time.Second}
	caller := sipptest.Start(ctx, t, sipptest.Config{Scenario: sipptest.Caller, Remote: e.addr, Service: "126",
		Media: media, Calls: calls, Rate: 100, Limit: calls, Hold: 60 * time.Second})

	// Each agent takes the call offered to them.
	type taken struct {
		agent     *wsClient
		contactID string
		err       error
	}
	results := make(chan taken, calls)
	for _, a := range agents {
		go func() {
			offer, err := a.AwaitFunc("an offer", 45*time.Second, typed("offer"))
			if err != nil {
				results <- taken{err: err}
				return
			}
			if q, ivr := offer.str("contact", "queue"), offer.list("contact", "context", "ivr"); q != "nts126.year-end" || fmt.Sprint(ivr) != "[1 1]" {
				results <- taken{err: fmt.Errorf("offer in %q with ivr %v; want nts126.year-end after [1 1]", q, ivr)}
				return
			}
			if _, err := a.Send(obj{"type": "accept", "offer_id": offer.str("offer_id")}); err != nil {
				results <- taken{err: err}
				return
			}
			results <- taken{agent: a, contactID: offer.str("contact", "contact_id")}
		}()
	}
	contacts := make([]taken, calls)
	for i := range contacts {
		r := <-results
		if r.err != nil {
			res, _ := caller.Wait()
			t.Fatalf("agent %d: %v; SIPp caller: %s", i, r.err, res)
		}
		contacts[i] = r
	}
	// Half a second of every caller echoed by its agent's phone.
	sippEchoed(t, "the agents' phones echoing the callers", phones, calls*25)
	clocktest.EventuallyNil(t, "every call bridged", waitTime, func() error {
		if n := strings.Count(e.logs.String(), "agent bridged"); n < calls {
			return fmt.Errorf("%d of %d calls bridged", n, calls)
		}
		return nil
	})
	for _, r := range contacts {
		go func() {
			_, _ = r.agent.Send(obj{"type": "end", "contact_id": r.contactID, "disposition": "resolved", "summary": "SIPp"})
		}()
	}
	res, err := caller.Wait()
	if err != nil || res.Successful != calls || res.Failed != 0 || res.Count("BYE_Recv") != calls {
		t.Fatalf("SIPp callers: %v %s; want %d successful calls the edge hung up", err, res, calls)
	}
	pres, err := phones.Wait()
	if err != nil || pres.Successful != calls || pres.Count("BYE_Recv") != calls {
		t.Fatalf("SIPp phones: %v %s; want %d answered calls the edge hung up", err, pres, calls)
	}
	// Both ways: the phones echoed at least half a second of each caller
	// (SIPp's own echo socket may drop some under this load, see
	// sipptest.Result), and never more than the callers sent.
	if pres.RTPEchoed < calls*25 || (res.RTPSent > 0 && pres.RTPEchoed > res.RTPSent) {
		t.Errorf("RTP: callers sent %d, phones echoed %d; want at least %d echoed and no more than sent", res.RTPSent, pres.RTPEchoed, calls*25)
	}
}
