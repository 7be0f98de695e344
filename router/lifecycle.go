package router

import (
	"fmt"
	"maps"
	"time"
)

// endContactTxn ends a live contact: its offer is revoked or its agent goes
// to wrap-up, its leg ends with the disposition, a pending warm leg of it is
// cancelled, and its case closes when no live leg is left.
func (w *writer) endContactTxn(contactID, disposition, summary, actor string, typ EventType) error {
	return w.endContactWithTxn(contactID, disposition, summary, actor, typ, nil)
}

// endContactWithTxn is endContactTxn with extra entries for the timeline's
// ended entry and the event's Data (why it ended, when the disposition
// alone does not say).
func (w *writer) endContactWithTxn(contactID, disposition, summary, actor string, typ EventType, extra map[string]string) error {
	c, err := w.contact(contactID)
	if err != nil {
		return err
	}
	if !c.Status.Live() {
		return nil
	}
	switch c.Status {
	case StatusOffered:
		if err := w.dropOfferTxn(c.OfferID); err != nil {
			return err
		}
	case StatusAssigned:
		if err := w.startWrapupTxn(c); err != nil {
			return err
		}
	case StatusQueued:
		w.touch(c.Queue)
	}
	n := c.copy()
	n.Due, n.Slot = time.Time{}, false
	n.Status, n.EndedAt, n.Disposition, n.OfferID, n.OfferExpires, n.Reserved = StatusEnded, w.now, disposition, "", time.Time{}, ""
	if err := w.putContact(n); err != nil {
		return err
	}
	if err := w.dropTimersOf(c.ID); err != nil {
		return err
	}
	if err := w.setLegTxn(c, func(l *Leg) { l.EndedAt, l.Disposition = w.now, disposition }); err != nil {
		return err
	}
	data := map[string]string{"contact_id": c.ID, "disposition": disposition}
	for k, v := range extra {
		data[k] = v
	}
	e, err := w.appendCaseEventTxn(c.CaseID, CaseEnded, actor, summary, data)
	if err != nil {
		return err
	}
	v := contactView(n)
	w.emit(Event{Type: typ, CaseID: c.CaseID, ContactID: c.ID, Queue: c.Queue, Agent: c.Agent,
		Actor: actor, Reason: disposition, Text: e.Text, CaseEvent: &e, Contact: &v, Data: maps.Clone(extra)})
	if err := w.unlinkWarmTxn(c, actor); err != nil {
		return err
	}
	if err := w.unlinkConferenceTxn(c, actor); err != nil {
		return err
	}
	if _, err := w.adjustCaseLive(c.CaseID, -1); err != nil {
		return err
	}
	return w.closeCaseIfDoneTxn(c.CaseID)
}

// unlinkWarmTxn cleans up the warm-transfer link of a contact that ended:
// a pending warm leg of it is cancelled; if it was the pending leg, the
// first contact forgets it.
func (w *writer) unlinkWarmTxn(c *contactRow, actor string) error {
	if c.WarmTo != "" {
		if err := w.endContactTxn(c.WarmTo, "transfer_cancelled", "", actor, EventEnded); err != nil {
			return err
		}
	}
	if c.WarmOf == "" {
		return nil
	}
	first, err := w.contact(c.WarmOf)
	if err != nil || first.WarmTo != c.ID {
		return nil
	}
	n := first.copy()
	n.WarmTo = ""
	return w.putContact(n)
}

func (w *writer) adjustCaseLive(caseID string, delta int) (*caseRow, error) {
	n, err := w.caseToChange(caseID)
	if err != nil {
		return nil, err
	}
	n.Live += delta
	return n, nil
}

// closeCaseIfDoneTxn removes a case with no live leg from memdb; the
// case_closed event carries the whole case for the durable store.
func (w *writer) closeCaseIfDoneTxn(caseID string) error {
	cs, err := w.getCase(caseID)
	if err != nil || cs.Live > 0 {
		return nil // already closed in this transaction, or still live
	}
	v, err := caseView(cs, "closed")
	if err != nil {
		return err
	}
	legs, err := contactsOf(cs, w.contact)
	if err != nil {
		return err
	}
	for _, c := range legs {
		if err := w.dropTimersOf(c.ID); err != nil {
			return err
		}
		if err := w.deleteContact(c); err != nil {
			return fmt.Errorf("close case %s: %w", caseID, err)
		}
	}
	w.deleteCase(caseID)
	w.emit(Event{Type: EventCaseClosed, CaseID: caseID, Actor: "router", Case: &v})
	return nil
}

// startWrapupTxn turns the slot of an assigned contact into a wrap-up slot
// for the queue's wrap-up time. For voice that is the whole agent; for chat
// only that slot, so the agent keeps serving other chats.
func (w *writer) startWrapupTxn(c *contactRow) error {
	wrap := DefaultWrapup
	if q, err := w.queue(c.Queue); err == nil {
		wrap = q.EffectiveWrapup()
	}
	if wrap <= 0 {
		return w.releaseSlotTxn(c.Agent, c.class(), false)
	}
	a, err := w.adjustAgentTxn(c.Agent, func(a *agentRow) { a.Wraps++ })
	if err != nil {
		return fmt.Errorf("wrap-up of %s: %w", c.Agent, err)
	}
	t := &timerRow{ID: timerID(timerWrapup, c.ID), Kind: timerWrapup, Target: c.Agent,
		Agent: c.Agent, Class: c.class(), Due: w.now.Add(wrap)}
	if err := w.putTimer(t); err != nil {
		return err
	}
	w.emitAgentState(a, "wrapup")
	return nil
}

// wrapupEndTxn frees a wrap-up slot.
func (w *writer) wrapupEndTxn(t *timerRow) error {
	if err := w.dropTimer(t.ID); err != nil {
		return err
	}
	if _, err := w.agent(t.Agent); err != nil {
		return nil // removed meanwhile
	}
	if err := w.releaseSlotTxn(t.Agent, t.Class, true); err != nil {
		return err
	}
	a, err := w.agent(t.Agent)
	if err != nil {
		return err
	}
	w.emitAgentState(a, "wrapup_ended")
	return nil
}

// requeueHeadTxn returns an assigned contact whose agent is gone to the head
// of its queue. Its leg with that agent ends as "requeued" and a new leg
// starts; the case keeps everything.
func (w *writer) requeueHeadTxn(c *contactRow) error {
	return w.requeueTxn(c, "requeued", time.Time{})
}

// requeueTxn takes an assigned contact from its agent: the agent's slot is
// freed, the leg ends with disposition and a new leg starts, at the head of
// the line now (due zero) or scheduled until due (a callback to be tried
// again). An interpreter on the contact leaves with its agent.
func (w *writer) requeueTxn(c *contactRow, disposition string, due time.Time) error {
	return w.requeueWithTxn(c, disposition, due, nil)
}

// requeueWithTxn is requeueTxn with extra entries for the timeline's
// requeued entry (how the agent was missed).
func (w *writer) requeueWithTxn(c *contactRow, disposition string, due time.Time, extra map[string]string) error {
	if err := w.releaseSlotTxn(c.Agent, c.class(), false); err != nil {
		return err
	}
	if err := w.setLegTxn(c, func(l *Leg) { l.EndedAt, l.Disposition = w.now, disposition }); err != nil {
		return err
	}
	cs, err := w.getCase(c.CaseID)
	if err != nil {
		return err
	}
	enqueued := w.now
	if !due.IsZero() {
		enqueued = due
	}
	ncs := cs.copy()
	ncs.Legs = append(cs.Legs[:len(cs.Legs):len(cs.Legs)], Leg{ContactID: c.ID, Queue: c.Queue,
		Agency: c.Agency, Channel: c.Channel, EnqueuedAt: enqueued, Interpreter: c.ConferenceOf != ""})
	if err := w.putCase(ncs); err != nil {
		return err
	}
	n := c.copy()
	n.Status, n.Agent, n.OfferID, n.Head, n.Widened = StatusQueued, "", "", true, true
	n.LegIndex, n.EnqueuedAt, n.AnsweredAt = len(ncs.Legs)-1, enqueued, time.Time{}
	if !due.IsZero() {
		n.Status, n.Head, n.Due = StatusScheduled, false, due
	}
	if err := w.putContact(n); err != nil {
		return err
	}
	if n.Status == StatusScheduled {
		if err := w.putTimer(&timerRow{ID: timerID(timerDue, c.ID), Kind: timerDue, Target: c.ID, Due: due}); err != nil {
			return err
		}
	} else if q, err := w.queue(c.Queue); err == nil {
		if err := w.scheduleContactTimersTxn(n, q); err != nil {
			return err
		}
	}
	reason := "agent_lost"
	if disposition != "requeued" {
		reason = disposition
	}
	data := map[string]string{"contact_id": c.ID, "agent": c.Agent, "disposition": disposition}
	for k, v := range extra {
		data[k] = v
	}
	e, err := w.appendCaseEventTxn(c.CaseID, CaseRequeued, "router", "", data)
	if err != nil {
		return err
	}
	v := contactView(n)
	w.emit(Event{Type: EventRequeued, CaseID: c.CaseID, ContactID: c.ID, Queue: c.Queue,
		Agent: c.Agent, Actor: "router", Reason: reason, CaseEvent: &e, Contact: &v,
		Data: map[string]string{"disposition": disposition}})
	if c.WarmTo != "" {
		if err := w.warmFailTxn(c.WarmTo, "agent_lost"); err != nil {
			return err
		}
	}
	if c.Interpreter != "" {
		if err := w.endContactTxn(c.Interpreter, "contact_requeued", "", "router", EventEnded); err != nil {
			return err
		}
	}
	if c.ConferenceOf != "" {
		w.emitInterpreter(c, InterpreterRequested, "")
	}
	if n.Status == StatusQueued {
		w.markWaiting(c.ID)
		w.touch(c.Queue)
	}
	return nil
}

// releaseReservationTxn lets anyone eligible take a contact that was held
// for one agent.
func (w *writer) releaseReservationTxn(c *contactRow) error {
	if err := w.dropTimer(timerID(timerReserve, c.ID)); err != nil {
		return err
	}
	if c.Reserved == "" {
		return nil
	}
	n := c.copy()
	n.Reserved, n.ReservedDirect = "", false
	if err := w.putContact(n); err != nil {
		return err
	}
	w.markWaiting(c.ID)
	return nil
}

// warmFailTxn cancels a pending warm-transfer leg; the first agent keeps the
// contact and is told why.
func (w *writer) warmFailTxn(legID, reason string) error {
	leg, err := w.contact(legID)
	if err != nil || !leg.Status.Live() || leg.WarmOf == "" {
		return nil
	}
	first, err := w.contact(leg.WarmOf)
	if err != nil {
		return err
	}
	if err := w.endContactTxn(leg.ID, "transfer_"+reason, "", "router", EventEnded); err != nil {
		return err
	}
	e, err := w.appendCaseEventTxn(first.CaseID, CaseTransferFailed, "router", reason,
		map[string]string{"contact_id": first.ID, "transfer_contact_id": leg.ID})
	if err != nil {
		return err
	}
	w.emit(Event{Type: EventTransferFailed, CaseID: first.CaseID, ContactID: first.ID,
		Queue: leg.Queue, Agent: first.Agent, Actor: "router", Reason: reason, CaseEvent: &e,
		Data: map[string]string{"transfer_contact_id": leg.ID}})
	return nil
}
