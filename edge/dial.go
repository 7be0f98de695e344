package edge

import (
	"context"
	"strings"

	"github.com/emiago/diago"
	"github.com/emiago/sipgo/sip"
)

// startDial calls a citizen back through the trunk on the router's dial,
// reports dial_result and, answered, rings the agent and runs the call
// as an inbound one after its menu.
func (e *Edge) startDial(f serverFrame) {
	e.mu.Lock()
	ctx := e.runCtx
	e.mu.Unlock()
	if ctx == nil || f.ContactID == "" {
		return
	}
	e.calls.Add(1)
	go func() {
		defer e.calls.Done()
		e.dial(ctx, f)
	}()
}

func (e *Edge) dial(ctx context.Context, f serverFrame) {
	result := func(r string) {
		e.gw.send(map[string]any{"type": "dial_result", "contact_id": f.ContactID, "result": r})
	}
	if e.cfg.Trunk == "" {
		e.log.Warn("edge: dial without a trunk", "contact", f.ContactID, "err", errNoTrunk)
		result("failed")
		return
	}
	var trunk, uri sip.Uri
	if err := sip.ParseUri(e.cfg.Trunk, &trunk); err != nil || !numberOK(f.Number) {
		result("failed")
		return
	}
	uri = trunk
	uri.User = f.Number
	if e.active.Add(1) > int64(e.cfg.MaxCalls) {
		e.active.Add(-1)
		result("failed")
		return
	}
	defer e.active.Add(-1)
	ringCtx, cancel := context.WithTimeout(ctx, 2*e.cfg.RingTimeout)
	d, med, err := e.dg.Invite(ringCtx, uri, diago.InviteOptions{Username: e.cfg.TrunkUsername, Password: e.cfg.TrunkPassword})
	cancel()
	if err != nil {
		result(ringOutcome(err))
		return
	}
	c := newCall(e, f.Number)
	c.callID = d.InviteRequest.CallID().Value()
	c.caller, err = newLeg(med, d.Context().Done(), d.Hangup, c.digits)
	if err != nil {
		_ = d.Hangup(context.Background())
		result("failed")
		return
	}
	go c.caller.readLoop()
	result("answered")
	ctx, c.cancel = context.WithCancel(ctx)
	defer c.finish()
	c.contactID = f.ContactID
	e.track(c, "", c.contactID)
	c.connect(ctx, serverFrame{Type: "connect", ContactID: f.ContactID, Agent: f.Agent, Phone: f.Phone})
	c.say(ctx, true)
	c.loop(ctx)
}

func numberOK(n string) bool {
	n = strings.TrimPrefix(n, "+")
	if len(n) < 3 || len(n) > 32 {
		return false
	}
	for _, r := range n {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
