package edge

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/emiago/diago"
	"github.com/emiago/sipgo/sip"

	"tellonce/prompts"
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
	e.dials.Add(1)
	go func() {
		defer e.dials.Done()
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
	changes := &mediaChanges{}
	d, med, err := e.invite(ringCtx, uri, diago.InviteClientOptions{Username: e.cfg.TrunkUsername, Password: e.cfg.TrunkPassword, OnMediaUpdate: changes.note})
	cancel()
	if err != nil {
		result(ringOutcome(err))
		return
	}
	c := newCall(e, f.Number)
	c.callID = d.InviteRequest.CallID().Value()
	c.caller, err = newLeg(med, changes, d.Context().Done(), d.Hangup, c.digits)
	if err != nil {
		_ = d.Hangup(context.Background())
		result("failed")
		return
	}
	go c.caller.readLoop()
	result("answered")
	ctx, c.cancel = context.WithCancel(ctx)
	defer c.finish()
	c.contactID, c.caseID = f.ContactID, f.CaseID
	c.record = e.cfg.Recordings != nil && e.cfg.Plan.Records(f.Queue)
	e.track(c, "", c.contactID)
	c.connect(ctx, serverFrame{Type: "connect", ContactID: f.ContactID, Agent: f.Agent, Phone: f.Phone})
	if c.record {
		// The citizen hears it before the agent's phone answers.
		c.noticed = true
		c.say(ctx, true, ph(prompts.Recorded))
	} else {
		c.say(ctx, true)
	}
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

// invite calls uri until ctx ends. The SIP stack may keep waiting for the
// answer to its CANCEL well past ctx; the caller is not kept waiting, and
// a phone that answers after all is hung up. It does what diago's Invite
// does, which drops OnMediaUpdate, and the leg's stream needs it.
func (e *Edge) invite(ctx context.Context, uri sip.Uri, opts diago.InviteClientOptions) (*diago.DialogClientSession, *diago.DialogMedia, error) {
	type answer struct {
		d   *diago.DialogClientSession
		med *diago.DialogMedia
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		d, med, err := e.inviteDialog(ctx, uri, opts)
		ch <- answer{d, med, err}
	}()
	select {
	case a := <-ch:
		return a.d, a.med, a.err
	case <-ctx.Done():
		go func() {
			if a := <-ch; a.err == nil {
				_ = a.d.Hangup(context.Background())
			}
		}()
		return nil, nil, ctx.Err()
	}
}

// inviteDialog makes the dialog, invites and acknowledges the answer.
func (e *Edge) inviteDialog(ctx context.Context, uri sip.Uri, opts diago.InviteClientOptions) (*diago.DialogClientSession, *diago.DialogMedia, error) {
	d, err := e.dg.NewDialog(uri, diago.NewDialogOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("a dialog to %s: %w", uri.String(), err)
	}
	med, err := d.Invite(ctx, opts)
	if err == nil {
		err = d.Ack(ctx)
	}
	if err != nil {
		return nil, nil, errors.Join(err, d.Close())
	}
	return d, med, nil
}
