package edge

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/emiago/diago"
	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"tellonce/dialplan"
	"tellonce/prompts"
	"tellonce/recordings"
)

// call is one citizen's call on the edge. Its loop goroutine owns every
// field below events: frames and ringing results reach it as events.
type call struct {
	e      *Edge
	log    *slog.Logger
	number string
	callID string
	caller *leg
	digits chan string
	events chan any

	lang      string
	contactID string
	caseID    string
	agent     *leg   // the agent's phone bridged now
	interp    *leg   // the interpreter's phone in a conference
	interpOf  string // the interpreter's contact
	ringingIn int    // interpreters' phones ringing
	stopMix   context.CancelFunc
	mix       *mixer // the conference's, while stopMix is set
	rec       *recordings.Recording
	record    bool   // the queue of the leg in hand records its calls
	noticed   bool   // the caller has heard the recording notice
	recOf     string // the contact the recording is of
	ringing   int    // agents' phones ringing for this call
	dropAgent *time.Timer
	stopPlay  context.CancelFunc
	callback  bool // became a callback: the caller's hangup is not an abandon
	cbOffered bool
	held      bool // the agent put the call on hold
	// heldNow mirrors held for the softphone's offers, made outside the
	// loop (a desk reloaded during hold is told the call is held).
	heldNow atomic.Bool
	ended   bool
	cancel  context.CancelFunc // ends what the call started (ringing)
}

type ringResult struct {
	contactID string
	leg       *leg
	err       error
}

type agentGone struct{ leg *leg }

type interpResult struct {
	interpOf string
	leg      *leg
	err      error
}

type interpGone struct{ leg *leg }

type dropTimer struct{ contactID string }

type reconcileEvent struct{ live map[string]helloCall }

func newCall(e *Edge, number string) *call {
	return &call{e: e, log: e.log, number: number, digits: make(chan string, 8), events: make(chan any, 32)}
}

// deliver hands the loop a result it must not lose (a phone that
// answered must be hung up or bridged): the loop, or finish after it,
// takes every one.
func (c *call) deliver(ev any) { c.events <- ev }

// post hands the loop a frame or a notice; when the loop is too busy to
// take it, it is dropped and logged rather than stall the gateway socket.
func (c *call) post(ev any) {
	select {
	case c.events <- ev:
	default:
		c.log.Warn("edge: call event dropped: loop busy", "contact", c.contactID)
	}
}

// say plays phrases to the caller in the background, then hold audio
// while hold is set; it replaces whatever was playing. done closes when
// the phrases (not the hold audio) have been played.
func (c *call) say(ctx context.Context, hold bool, keys ...phrase) (done <-chan struct{}) {
	if c.stopPlay != nil {
		c.stopPlay()
	}
	pctx, cancel := context.WithCancel(ctx)
	c.stopPlay = cancel
	ch := make(chan struct{})
	var readers [][]byte
	for _, k := range keys {
		r, err := c.e.prompts.Phrase(c.lang, k.key, k.args...)
		if err != nil {
			c.log.Warn("edge: prompt", "key", k.key, "err", err)
			continue
		}
		readers = append(readers, r...)
	}
	go func() {
		err := c.caller.play(pctx, readers)
		close(ch)
		for hold && err == nil && pctx.Err() == nil {
			r, perr := c.e.prompts.Phrase(c.lang, prompts.HoldMusic)
			if perr != nil || len(r) == 0 {
				return
			}
			err = c.caller.play(pctx, r)
		}
	}()
	return ch
}

type phrase struct {
	key  string
	args []int
}

func ph(key string, args ...int) phrase { return phrase{key: key, args: args} }

// inbound runs an answered call: the menu, the line, the agents, until
// the call ends.
func (c *call) inbound(ctx context.Context, walk *dialplan.Walk, step dialplan.Step) {
	ctx, c.cancel = context.WithCancel(ctx)
	defer c.finish()
	c.lang = walk.Language()
	for step.Kind != dialplan.Queue {
		greeting := walk.Menu().Greeting
		var played <-chan struct{}
		switch {
		case greeting != "" && step.Kind == dialplan.Repeat:
			played = c.say(ctx, false, ph(prompts.InvalidChoice), ph(greeting))
		case greeting != "":
			played = c.say(ctx, false, ph(greeting))
		default:
			ch := make(chan struct{})
			close(ch)
			played = ch
		}
		var timeout <-chan time.Time
	wait:
		for {
			select {
			case <-ctx.Done():
				return
			case <-c.caller.done:
				return
			case <-played:
				// The menu's timeout runs from the end of its greeting.
				played = nil
				timeout = time.After(time.Duration(walk.Menu().Timeout))
			case <-timeout:
				step = walk.Timeout()
				break wait
			case d := <-c.digits:
				step = walk.Digit(d)
				break wait
			}
		}
		c.lang = walk.Language()
	}
	if c.stopPlay != nil {
		c.stopPlay()
	}
	st, err := c.e.api.createContact(ctx, newContact{
		Channel: "voice", Queue: step.Queue,
		Caller:  contactCaller{ID: c.number, Language: walk.Chosen()},
		Context: contactCtx{IVR: walk.Path()},
	}, c.callID)
	if isClosed(err) {
		c.log.Info("edge: the queue is closed now", "queue", step.Queue)
		<-c.say(ctx, false, ph(prompts.Closed), ph(prompts.Goodbye))
		c.hangupCaller()
		return
	}
	if err != nil {
		// Nothing was created (or the router has it under the Call-ID and
		// a retry finds it); the caller hears so.
		c.log.Warn("edge: putting a call in line", "queue", step.Queue, "err", err)
		<-c.say(ctx, false, ph(prompts.CouldNotConnect), ph(prompts.Goodbye))
		c.hangupCaller()
		return
	}
	c.contactID = st.ContactID
	c.caseID = st.CaseID
	c.cbOffered = st.CallbackOffered
	c.record = c.e.cfg.Recordings != nil && c.e.cfg.Plan.Records(step.Queue)
	c.e.track(c, "", c.contactID)
	c.log.Info("edge: call in line", "contact", c.contactID, "queue", step.Queue, "ivr", walk.Path(), "recorded", c.record)
	var first []phrase
	if c.record {
		// Before the call can be answered: the caller hears it is recorded.
		first = append(first, ph(prompts.Recorded))
		c.noticed = true
	}
	if st.Status == "queued" {
		hold := ph(prompts.PleaseHold)
		c.say(ctx, true, append(first, c.announcement(&hold, st)...)...)
	} else {
		c.say(ctx, true, first...)
	}
	c.loop(ctx)
}

// announcement is the place and wait phrases of a contact's state.
func (c *call) announcement(first *phrase, st contactState) []phrase {
	var out []phrase
	if first != nil {
		out = append(out, *first)
	}
	if st.Position > 0 {
		out = append(out, ph(Position, st.Position, st.EstimatedWaitS))
	}
	if st.CallbackOffered {
		out = append(out, ph(prompts.CallbackOffer))
	}
	return out
}

// loop runs a call that is in line or with an agent.
func (c *call) loop(ctx context.Context) {
	announce := time.NewTicker(c.e.cfg.AnnounceEvery)
	defer announce.Stop()
	for !c.ended {
		select {
		case <-ctx.Done():
			return
		case <-c.caller.done:
			c.callerGone()
			return
		case <-announce.C:
			if c.agent != nil {
				continue
			}
			st, err := c.e.api.contact(ctx, c.contactID)
			if err != nil {
				c.log.Warn("edge: reading a waiting call's place", "contact", c.contactID, "err", err)
				continue
			}
			c.cbOffered = st.CallbackOffered
			if st.Status == "queued" {
				c.say(ctx, true, c.announcement(nil, st)...)
			}
		case d := <-c.digits:
			if d == "1" && c.cbOffered && c.agent == nil && c.ringing == 0 {
				c.askCallback(ctx)
			}
		case ev := <-c.events:
			c.handle(ctx, ev)
		}
	}
}

// askCallback turns the waiting call into a callback that keeps its
// place, says so and hangs up.
func (c *call) askCallback(ctx context.Context) {
	if err := c.e.api.keepPlaceCallback(ctx, c.contactID, c.number); err != nil {
		c.log.Warn("edge: callback refused", "contact", c.contactID, "err", err)
		return
	}
	c.callback = true
	<-c.say(ctx, false, ph(prompts.CallbackConfirmed))
	c.hangupCaller()
	c.ended = true
}

func (c *call) handle(ctx context.Context, ev any) {
	switch ev := ev.(type) {
	case serverFrame:
		c.frame(ctx, ev)
	case ringResult:
		c.ringDone(ctx, ev)
	case agentGone:
		if ev.leg != c.agent {
			return
		}
		c.stopRecording()
		unbridge(ev.leg)
		c.agent = nil
		if ev.leg.contactID != c.contactID {
			// The first agent of a transfer leaving: the caller waits on.
			c.say(ctx, true, ph(prompts.Connecting))
			return
		}
		// The agent's phone hung up: the call ends as the desk's end
		// would, and the router sends no hangup back.
		c.e.gw.send(map[string]any{"type": "agent_hangup", "contact_id": c.contactID})
		c.endAll()
	case interpResult:
		c.ringingIn--
		switch {
		case ev.err != nil:
			c.log.Info("edge: the interpreter's phone did not answer", "contact", c.contactID, "err", ev.err)
		case ev.interpOf != c.interpOf || c.ended || c.agent == nil:
			_ = ev.leg.hangup(context.Background())
		default:
			c.interp = ev.leg
			m := newMixer(c.caller, c.agent, ev.leg)
			mctx, cancel := context.WithCancel(ctx)
			c.stopMix, c.mix = cancel, m
			for _, l := range m.members {
				l.mix.Store(m)
			}
			c.holdMix(ctx)
			go m.run(mctx)
			l := ev.leg
			go func() {
				select {
				case <-l.done:
					select {
					case c.events <- interpGone{leg: l}:
					case <-ctx.Done():
					}
				case <-ctx.Done():
				}
			}()
		}
	case interpGone:
		if ev.leg == c.interp {
			// The interpreter's phone hung up: their leg ends in the
			// router too, as an agent's phone hanging up ends the agent's
			// (the router's conference_ended that follows finds no
			// conference left).
			id := c.interpOf
			c.endConference()
			c.rebridge(ctx)
			if id != "" && !c.ended {
				c.e.gw.send(map[string]any{"type": "agent_hangup", "contact_id": id})
			}
		}
	case dropTimer:
		// A transfer whose next agent did not start ringing within the
		// grace: cold — the first agent leaves the line.
		if ev.contactID == c.contactID && c.ringing == 0 && c.agent != nil && c.agent.contactID != c.contactID {
			c.dropAgentLeg()
			c.say(ctx, true, ph(prompts.Connecting))
		}
	case reconcileEvent:
		hc, ok := ev.live[c.contactID]
		switch {
		case !ok:
			c.log.Info("edge: the router no longer has this call; hanging up", "contact", c.contactID)
			c.endAll()
		case hc.Status == "assigned" && hc.Agent != "" && c.agent == nil && c.ringing == 0:
			c.connect(ctx, serverFrame{Type: "connect", ContactID: c.contactID, Agent: hc.Agent, Phone: hc.Phone, Browser: hc.Browser})
		}
	case softphoneUp:
		c.rebridge(ctx)
	case softphoneDown:
		c.rebridge(ctx)
	case softphoneLost:
		// Past the grace: the leg ends as a phone hanging up would
		// (agentGone, interpGone).
		c.log.Info("edge: the agent's browser did not come back", "contact", ev.sp.contactID, "agent", ev.sp.agent)
		ev.sp.end()
	}
}

// setHeld records the agent's hold.
func (c *call) setHeld(on bool) {
	c.held = on
	c.heldNow.Store(on)
}

// holdMix applies hold to a conference: held, the caller leaves the mix
// and hears hold audio while the agent and the interpreter go on hearing
// each other (they can confer); resumed, the caller is mixed in again.
func (c *call) holdMix(ctx context.Context) {
	if c.mix == nil || c.agent == nil || c.interp == nil {
		return
	}
	inMix := c.caller.mix.Load() != nil
	switch {
	case c.held && inMix:
		c.mix.set(c.agent, c.interp)
		c.caller.mix.Store(nil)
		unbridge(c.caller)
		c.say(ctx, true)
	case !c.held && !inMix:
		if c.stopPlay != nil {
			c.stopPlay()
		}
		bridge(c.caller, c.agent) // for when the interpreter leaves
		c.mix.set(c.caller, c.agent, c.interp)
		c.caller.mix.Store(c.mix)
	}
}

// rebridge joins the caller and the agent when the agent's leg carries
// audio and the call is not on hold; otherwise the caller hears hold
// audio and the agent's audio is not forwarded. A conference's mix is
// left alone.
func (c *call) rebridge(ctx context.Context) {
	if c.agent == nil || c.stopMix != nil {
		return
	}
	want := !c.held && c.agent.isUp()
	bridged := c.caller.peer.Load() == c.agent
	switch {
	case want && !bridged:
		if c.stopPlay != nil {
			c.stopPlay()
		}
		bridge(c.caller, c.agent)
	case !want && bridged:
		unbridge(c.caller)
		c.say(ctx, true)
	}
}

func (c *call) frame(ctx context.Context, f serverFrame) {
	if f.ContactID != c.contactID {
		return
	}
	switch f.Type {
	case "connect":
		c.connect(ctx, f)
	case "hangup":
		c.endAll()
	case "hold":
		c.setHeld(f.On)
		if c.stopMix != nil {
			c.holdMix(ctx)
			return
		}
		c.rebridge(ctx)
	case "dtmf":
		if !c.caller.sendDigits(f.Digits) {
			c.log.Info("edge: the caller's leg has no telephone-event; digits not sent", "contact", c.contactID)
		}
	case "conference":
		c.conference(ctx, f)
	case "conference_ended":
		if f.InterpreterContactID == c.interpOf {
			c.endConference()
			c.rebridge(ctx)
		}
	case "transferred":
		if f.NewContactID == "" {
			return
		}
		// The interpreter's leg ended with the leg transferred away: their
		// phone leaves now, while the caller and the first agent stay
		// bridged until the next agent answers (or the grace drops them).
		if c.stopMix != nil || c.interpOf != "" {
			c.endConference()
			c.rebridge(ctx)
		}
		c.e.track(c, c.contactID, f.NewContactID)
		c.contactID = f.NewContactID
		if c.agent != nil {
			grace := c.e.cfg.TransferGrace
			id := c.contactID
			c.dropAgent = time.AfterFunc(grace, func() { c.post(dropTimer{contactID: id}) })
		} else {
			c.say(ctx, true, ph(prompts.Connecting))
		}
	}
}

// connect rings the agent's phone: the SIP URI the router names, else
// the phone registered under the agent's username.
func (c *call) connect(ctx context.Context, f serverFrame) {
	if f.Queue != "" {
		// A transfer's leg records as its own queue says; a caller moved
		// into recording hears so before the next agent answers.
		c.record = c.e.cfg.Recordings != nil && c.e.cfg.Plan.Records(f.Queue)
		if c.record && !c.noticed && c.agent == nil {
			c.noticed = true
			c.log.Info("edge: recording notice", "contact", c.contactID, "queue", f.Queue)
			c.say(ctx, true, ph(prompts.Recorded))
		}
	}
	if f.Browser {
		c.connectBrowser(ctx, f)
		return
	}
	target := f.Phone
	if target == "" {
		target = c.e.phones.lookup(f.Agent)
	}
	var uri sip.Uri
	if target == "" || sip.ParseUri(target, &uri) != nil {
		c.log.Warn("edge: no phone for the agent", "agent", f.Agent, "phone", f.Phone)
		c.e.gw.send(map[string]any{"type": "connect_failed", "contact_id": c.contactID, "result": "failed"})
		return
	}
	c.ringing++
	id := c.contactID
	ringCtx, cancel := context.WithTimeout(ctx, c.e.cfg.RingTimeout)
	go func() {
		defer cancel()
		changes := &mediaChanges{}
		d, med, err := c.e.invite(ringCtx, uri, diago.InviteClientOptions{OnMediaUpdate: changes.note})
		if err != nil {
			c.deliver(ringResult{contactID: id, err: err})
			return
		}
		l, err := newLeg(med, changes, d.Context().Done(), d.Hangup, nil)
		if err != nil {
			_ = d.Hangup(context.Background())
			c.deliver(ringResult{contactID: id, err: err})
			return
		}
		l.contactID = id
		go l.readLoop()
		c.deliver(ringResult{contactID: id, leg: l})
	}()
}

func (c *call) ringDone(ctx context.Context, r ringResult) {
	c.ringing--
	if r.err != nil {
		if r.contactID == c.contactID && !c.ended {
			res := ringOutcome(r.err)
			c.log.Info("edge: the agent's phone did not answer", "contact", c.contactID, "result", res, "err", r.err)
			c.e.gw.send(map[string]any{"type": "connect_failed", "contact_id": c.contactID, "result": res})
		}
		return
	}
	if r.contactID != c.contactID || c.ended {
		_ = r.leg.hangup(context.Background())
		return
	}
	if c.stopPlay != nil {
		c.stopPlay()
	}
	if c.agent != nil {
		c.dropAgentLeg() // a warm transfer: the first agent drops once the second answers
	}
	c.agent = r.leg
	c.setHeld(false)
	bridge(c.caller, r.leg)
	c.startRecording(ctx)
	c.log.Info("edge: agent bridged", "contact", c.contactID, "caller_codec", c.caller.codec.Name, "agent_codec", r.leg.codec.Name)
	l := r.leg
	go func() {
		select {
		case <-l.done:
			select {
			case c.events <- agentGone{leg: l}:
			case <-ctx.Done():
			}
		case <-ctx.Done():
		}
	}()
}

// connectBrowser offers the agent's desk softphone a peer connection
// and, once it is connected, bridges it as the agent's leg; an offer not
// answered within the ring timeout is connect_failed no_answer.
func (c *call) connectBrowser(ctx context.Context, f serverFrame) {
	sp := newSoftphone(c.e, c, c.contactID, f.Agent, c.law())
	sp.ofAgent = true
	sp.register()
	c.ringing++
	id := c.contactID
	ringCtx, cancel := context.WithTimeout(ctx, c.e.cfg.RingTimeout)
	go func() {
		defer cancel()
		if err := sp.connect(ringCtx); err != nil {
			sp.end()
			c.deliver(ringResult{contactID: id, err: err})
			return
		}
		go sp.leg.readLoop()
		c.deliver(ringResult{contactID: id, leg: sp.leg})
	}()
}

// law is the caller's G.711 law, which a browser leg speaks too.
func (c *call) law() string {
	if c.caller.codec.Name == "pcma" {
		return "pcma"
	}
	return "pcmu"
}

// conference rings the interpreter's phone to join the call three-way
// (or offers their desk softphone a peer connection).
func (c *call) conference(ctx context.Context, f serverFrame) {
	if f.Browser {
		if c.agent == nil || c.interp != nil {
			c.log.Warn("edge: cannot bring the interpreter in", "contact", c.contactID, "interpreter", f.Agent)
			return
		}
		c.interpOf = f.InterpreterContactID
		c.ringingIn++
		id := c.interpOf
		sp := newSoftphone(c.e, c, id, f.Agent, c.law())
		sp.register()
		ringCtx, cancel := context.WithTimeout(ctx, c.e.cfg.RingTimeout)
		go func() {
			defer cancel()
			if err := sp.connect(ringCtx); err != nil {
				sp.end()
				c.deliver(interpResult{interpOf: id, err: err})
				return
			}
			go sp.leg.readLoop()
			c.deliver(interpResult{interpOf: id, leg: sp.leg})
		}()
		return
	}
	target := f.Phone
	if target == "" {
		target = c.e.phones.lookup(f.Agent)
	}
	var uri sip.Uri
	if c.agent == nil || c.interp != nil || target == "" || sip.ParseUri(target, &uri) != nil {
		c.log.Warn("edge: cannot bring the interpreter in", "contact", c.contactID, "interpreter", f.Agent)
		return
	}
	c.interpOf = f.InterpreterContactID
	c.ringingIn++
	id := c.interpOf
	ringCtx, cancel := context.WithTimeout(ctx, c.e.cfg.RingTimeout)
	go func() {
		defer cancel()
		changes := &mediaChanges{}
		d, med, err := c.e.invite(ringCtx, uri, diago.InviteClientOptions{OnMediaUpdate: changes.note})
		if err != nil {
			c.deliver(interpResult{interpOf: id, err: err})
			return
		}
		l, err := newLeg(med, changes, d.Context().Done(), d.Hangup, nil)
		if err != nil {
			_ = d.Hangup(context.Background())
			c.deliver(interpResult{interpOf: id, err: err})
			return
		}
		go l.readLoop()
		c.deliver(interpResult{interpOf: id, leg: l})
	}()
}

// endConference lets the interpreter go; the caller and the agent are
// bridged two-way again.
func (c *call) endConference() {
	if c.stopMix != nil {
		c.stopMix()
		c.stopMix, c.mix = nil, nil
	}
	c.caller.mix.Store(nil)
	if c.agent != nil {
		c.agent.mix.Store(nil)
	}
	if c.interp != nil {
		c.interp.mix.Store(nil)
		_ = c.interp.hangup(context.Background())
		c.interp = nil
	}
	c.interpOf = ""
}

func (c *call) dropAgentLeg() {
	if c.agent == nil {
		return
	}
	c.endConference()
	c.stopRecording()
	unbridge(c.agent)
	_ = c.agent.hangup(context.Background())
	c.agent = nil
}

// ringOutcome maps a failed INVITE to connect_failed's result.
func ringOutcome(err error) string {
	code := 0
	var re *sipgo.ErrDialogResponse
	var rv sipgo.ErrDialogResponse
	switch {
	case errors.As(err, &re) && re.Res != nil:
		code = re.Res.StatusCode
	case errors.As(err, &rv) && rv.Res != nil:
		code = rv.Res.StatusCode
	case errors.Is(err, context.DeadlineExceeded):
		return "no_answer"
	}
	switch code {
	case 486, 600:
		return "busy"
	case 408, 480, 487:
		return "no_answer"
	}
	return "failed"
}

// callerGone: the caller hung up. Waiting, it abandons the contact; with
// an agent, it ends it — both are the gateway's hangup.
func (c *call) callerGone() {
	if c.contactID != "" && !c.callback {
		c.e.gw.send(map[string]any{"type": "hangup", "contact_id": c.contactID})
	}
	c.dropAgentLeg()
	c.ended = true
}

// endAll hangs up both sides: the router ended the call.
func (c *call) endAll() {
	c.dropAgentLeg()
	c.hangupCaller()
	c.ended = true
}

func (c *call) hangupCaller() {
	if c.stopPlay != nil {
		c.stopPlay()
	}
	unbridge(c.caller)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = c.caller.hangup(ctx)
}

func (c *call) finish() {
	c.cancel()
	// Phones still ringing for this call are cancelled; one that answered
	// in the meantime is hung up.
	for c.ringing > 0 || c.ringingIn > 0 {
		switch r := (<-c.events).(type) {
		case ringResult:
			c.ringing--
			if r.leg != nil {
				_ = r.leg.hangup(context.Background())
			}
		case interpResult:
			c.ringingIn--
			if r.leg != nil {
				_ = r.leg.hangup(context.Background())
			}
		}
	}
	c.endConference()
	if c.stopPlay != nil {
		c.stopPlay()
	}
	if c.dropAgent != nil {
		c.dropAgent.Stop()
	}
	c.stopRecording()
	c.dropAgentLeg()
	c.e.track(c, c.contactID, "")
}

// startRecording records the leg now bridged: the caller on the left,
// the agent on the right, in the caller's law.
func (c *call) startRecording(ctx context.Context) {
	store := c.e.cfg.Recordings
	if store == nil || !c.record || c.caseID == "" || c.agent == nil {
		return
	}
	c.stopRecording()
	law, lawName := recordings.PCMU, "pcmu"
	if c.caller.codec.Name == "pcma" {
		law, lawName = recordings.PCMA, "pcma"
	}
	rec, err := store.Begin(ctx, recordings.Meta{CaseID: c.caseID, ContactID: c.contactID, Law: law})
	if err != nil {
		c.log.Warn("edge: recording not started", "contact", c.contactID, "err", err)
		return
	}
	c.rec, c.recOf = rec, c.contactID
	c.caller.rec.Store(&legRecording{law: lawName, write: rec.WriteCaller})
	c.agent.rec.Store(&legRecording{law: lawName, write: rec.WriteAgent})
}

// stopRecording closes the leg's recording and hands it to the upload
// spool; the server's answer to the upload puts it in the case timeline.
func (c *call) stopRecording() {
	if c.rec == nil {
		return
	}
	c.caller.rec.Store(nil)
	if c.agent != nil {
		c.agent.rec.Store(nil)
	}
	sum, err := c.rec.Close()
	c.rec = nil
	if err != nil {
		c.log.Warn("edge: recording not kept", "contact", c.recOf, "err", err)
		return
	}
	c.log.Info("edge: recording finished", "contact", c.recOf, "file", sum.File, "seconds", sum.Seconds)
	c.e.uploads.kick()
}
