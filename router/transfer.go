package router

import (
	"fmt"
	"unicode/utf8"
)

// Transfer hands an assigned contact to a queue or a named agent, carrying
// the whole case and the note (which the receiving offer shows first).
//
// Cold: the current leg ends as "transferred" now and a new leg waits in the
// target queue with the case's age, so the citizen keeps their place in
// time. Warm: the new leg is offered while the first agent stays on the
// contact; the first leg ends only when the target accepts, and if the
// target declines, times out or nobody accepts within WarmWait, the first
// agent keeps the contact and gets a transfer_failed event.
//
// A transfer to an agent puts the new leg in that agent's first queue held
// for them for DirectWait (not at all if they are offline or disconnected);
// after that anyone in the queue may take it.
func (r *Router) Transfer(username, contactID string, to Target, mode TransferMode, note string) (ContactView, []Event, error) {
	if err := checkTransfer(to, mode, note); err != nil {
		return ContactView{}, nil, fmt.Errorf("transfer %s: %w", contactID, err)
	}
	return r.writeContact(func(w *writer) (*contactRow, error) {
		leg, err := w.transferTxn(username, contactID, to, mode, note)
		if err != nil {
			return nil, fmt.Errorf("transfer %s: %w", contactID, err)
		}
		return leg, nil
	})
}

// writeContact runs a write that makes or changes one contact, routes, and
// returns that contact as it stands after routing, with its position.
func (r *Router) writeContact(fn func(w *writer) (*contactRow, error)) (ContactView, []Event, error) {
	var view ContactView
	events, err := r.write(func(w *writer) error {
		c, err := fn(w)
		if err != nil {
			return err
		}
		if err := w.settle(); err != nil {
			return err
		}
		if c, err = w.contact(c.ID); err != nil {
			return err
		}
		view = contactView(c)
		view.Position, err = w.position(c)
		return err
	})
	if err != nil {
		return ContactView{}, nil, err
	}
	return view, events, nil
}

func checkTransfer(to Target, mode TransferMode, note string) error {
	if mode != TransferCold && mode != TransferWarm {
		return invalid("mode", "must be cold or warm")
	}
	if (to.Queue == "") == (to.Agent == "") {
		return invalid("to", "exactly one of queue and agent is required")
	}
	if utf8.RuneCountInString(note) > maxTextLen {
		return invalid("note", "is longer than %d characters", maxTextLen)
	}
	return nil
}

// handingOverTxn returns the contact an agent hands over to another queue
// (a transfer, a second-line callback): theirs, assigned, not already
// being handed over, and not an interpreter's leg.
func (w *writer) handingOverTxn(username, contactID string) (*contactRow, error) {
	c, err := w.assignedTo(username, contactID)
	if err != nil {
		return nil, err
	}
	if c.WarmTo != "" {
		return nil, fmt.Errorf("a warm transfer is pending: %w", ErrConflict)
	}
	if c.ConferenceOf != "" {
		return nil, invalid("contact_id", "an interpreter leg cannot be handed over; end it instead")
	}
	return c, nil
}

// noOtherPlaceTxn refuses a new leg of c in q when the caller already holds
// another live place there.
func (w *writer) noOtherPlaceTxn(c *contactRow, q *queueRow) error {
	if dup, err := w.liveContactOf(q.ID, c.Identity); err != nil {
		return err
	} else if dup != nil && dup.ID != c.ID {
		return &DuplicateContactError{Queue: q.ID, CallerID: c.Caller.ID, ContactID: dup.ID}
	}
	return nil
}

// coldHandOverTxn ends c with disposition and starts leg in q, the case held
// open meanwhile, so a leg back into the same queue does not meet the
// caller's old place.
func (w *writer) coldHandOverTxn(c, leg *contactRow, q *queueRow, disposition, summary, actor string) error {
	if _, err := w.adjustCaseLive(c.CaseID, +1); err != nil {
		return err
	}
	if err := w.endContactTxn(c.ID, disposition, summary, actor, EventEnded); err != nil {
		return err
	}
	if err := w.addContactTxn(leg, q); err != nil {
		return err
	}
	_, err := w.adjustCaseLive(c.CaseID, -1)
	return err
}

func (w *writer) transferTxn(username, contactID string, to Target, mode TransferMode, note string) (*contactRow, error) {
	c, err := w.handingOverTxn(username, contactID)
	if err != nil {
		return nil, err
	}
	queue, hold, err := w.transferTarget(username, to)
	if err != nil {
		return nil, err
	}
	q, err := w.queue(queue)
	if err != nil {
		return nil, err
	}
	if !hasChannel(q.Channels, c.Channel) {
		return nil, invalid("to", "queue %s does not take %s", q.ID, c.Channel)
	}
	if q.Interpreters() {
		return nil, invalid("to", "queue %s is an interpreter queue; ask for an interpreter instead", q.ID)
	}
	if err := w.noOtherPlaceTxn(c, q); err != nil {
		return nil, err
	}
	w.r.seq++
	leg := &contactRow{
		ID: w.id("ct"), CaseID: c.CaseID, Identity: c.Identity, Origin: originOf(c), Queue: q.ID, Agency: q.Agency, Channel: c.Channel,
		Caller: c.Caller, Priority: c.Priority, Context: c.Context, CallbackNumber: c.CallbackNumber,
		Skills: contactSkills(q.RequiredSkills, nil, c.Caller.Language),
		Seq:    w.r.seq, CaseCreatedAt: c.CaseCreatedAt, EnqueuedAt: w.now, Status: StatusQueued,
		Reserved: hold, ReservedDirect: hold != "",
	}
	e, err := w.appendCaseEventTxn(c.CaseID, CaseTransfer, "agent:"+username, note, map[string]string{
		"contact_id": c.ID, "new_contact_id": leg.ID, "from_queue": c.Queue, "to_queue": q.ID,
		"to_agent": to.Agent, "mode": string(mode)})
	if err != nil {
		return nil, err
	}
	leg.TransferSeq = e.Seq
	if err := w.placeTransferTxn(c, leg, q, mode, hold); err != nil {
		return nil, err
	}
	v := contactView(leg)
	w.emit(Event{Type: EventTransferred, CaseID: c.CaseID, ContactID: c.ID, Queue: q.ID,
		Agent: username, Actor: e.Actor, Text: e.Text, Reason: string(mode), CaseEvent: &e, Contact: &v,
		Data: map[string]string{"new_contact_id": leg.ID, "queue": q.ID, "queue_name": q.Name,
			"agency": q.Agency, "to_agent": to.Agent, "mode": string(mode)}})
	return leg, nil
}

// transferTarget resolves the queue of a transfer and the agent to hold the
// new leg for (direct transfers to a present agent).
func (w *writer) transferTarget(username string, to Target) (queue, hold string, err error) {
	if to.Queue != "" {
		return to.Queue, "", nil
	}
	a, err := w.agent(to.Agent)
	if err != nil {
		return "", "", err
	}
	if a.Username == username {
		return "", "", invalid("to.agent", "cannot transfer to yourself")
	}
	queue = a.FirstQueue()
	if queue == "" {
		return "", "", invalid("to.agent", "agent %s has no queue to fall back to", a.Username)
	}
	if a.Connected && a.State != StateOffline {
		hold = a.Username
	}
	return queue, hold, nil
}

// placeTransferTxn stores the new leg. Cold: a hand-over (coldHandOverTxn).
// Warm: the two legs are linked and the new one may wait at most WarmWait.
func (w *writer) placeTransferTxn(c, leg *contactRow, q *queueRow, mode TransferMode, hold string) error {
	if hold != "" {
		t := &timerRow{ID: timerID(timerReserve, leg.ID), Kind: timerReserve, Target: leg.ID,
			Due: w.now.Add(w.r.cfg.DirectWait)}
		if err := w.putTimer(t); err != nil {
			return err
		}
	}
	if mode == TransferCold {
		return w.coldHandOverTxn(c, leg, q, "transferred", "", "agent:"+c.Agent)
	}
	leg.WarmOf = c.ID
	if err := w.addContactTxn(leg, q); err != nil {
		return err
	}
	n := c.copy()
	n.WarmTo = leg.ID
	if err := w.putContact(n); err != nil {
		return err
	}
	return w.putTimer(&timerRow{ID: timerID(timerWarm, leg.ID), Kind: timerWarm, Target: leg.ID,
		Due: w.now.Add(w.r.cfg.WarmWait)})
}
