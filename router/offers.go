package router

import (
	"errors"
	"fmt"
	"time"

	memdb "github.com/hashicorp/go-memdb"
)

// Accept assigns the offered contact to the agent. Accepting the new leg of
// a warm transfer ends the first agent's leg as transferred.
func (r *Router) Accept(username, offerID string) ([]Event, error) {
	return r.write(func(w *writer) error {
		if err := w.acceptTxn(username, offerID); err != nil {
			return fmt.Errorf("accept %s: %w", offerID, err)
		}
		return nil
	})
}

func (w *writer) acceptTxn(username, offerID string) error {
	o, err := w.ownOffer(username, offerID)
	if err != nil {
		return err
	}
	if !w.now.Before(o.ExpiresAt) {
		return fmt.Errorf("offer expired at %s: %w", o.ExpiresAt.Format("15:04:05.000"), ErrConflict)
	}
	c, err := w.contact(o.ContactID)
	if err != nil {
		return err
	}
	if c.WarmOf != "" {
		// The first leg ends before this one enters the caller index.
		if err := w.completeWarmTxn(c, username); err != nil {
			return err
		}
	}
	n := c.copy()
	n.Status, n.OfferID, n.OfferExpires, n.AnsweredAt, n.Reserved, n.ReservedDirect, n.WarmOf = StatusAssigned, "", time.Time{}, w.now, "", false, ""
	if err := w.putContact(n); err != nil {
		return err
	}
	if err := w.dropTimersOf(c.ID); err != nil {
		return err
	}
	if err := w.setLegTxn(c, func(l *Leg) { l.Agent, l.AnsweredAt = username, w.now }); err != nil {
		return err
	}
	ncs, err := w.caseToChange(c.CaseID)
	if err != nil {
		return err
	}
	ncs.Agents, ncs.LastAgent = withAdded(ncs.Agents, username), username
	e, err := w.appendCaseEventTxn(c.CaseID, CaseAssigned, "agent:"+username, "",
		map[string]string{"contact_id": c.ID, "queue": c.Queue})
	if err != nil {
		return err
	}
	cv, err := offerCaseView(w.getCase, n)
	if err != nil {
		return err
	}
	v := contactView(n)
	w.emit(Event{Type: EventAccepted, CaseID: c.CaseID, ContactID: c.ID, Queue: c.Queue,
		Agent: username, OfferID: o.ID, Actor: e.Actor, CaseEvent: &e, Contact: &v, Case: &cv})
	if n.ConferenceOf != "" {
		w.emitInterpreter(n, InterpreterJoined, username)
	}
	return nil
}

// completeWarmTxn ends the first leg of a warm transfer whose new leg the
// target just accepted.
func (w *writer) completeWarmTxn(leg *contactRow, username string) error {
	first, err := w.contact(leg.WarmOf)
	if errors.Is(err, ErrNotFound) {
		return nil // the first leg's case closed meanwhile
	}
	if err != nil {
		return err
	}
	if !first.Status.Live() {
		return nil
	}
	if dup, err := w.liveContactOf(leg.Queue, leg.Identity); err != nil {
		return err
	} else if dup != nil && dup.ID != first.ID {
		return &DuplicateContactError{Queue: leg.Queue, CallerID: leg.Caller.ID, ContactID: dup.ID}
	}
	nf := first.copy()
	nf.WarmTo = "" // so ending it does not cancel the leg being accepted
	if err := w.putContact(nf); err != nil {
		return err
	}
	w.emit(Event{Type: EventTransferred, CaseID: first.CaseID, ContactID: first.ID, Queue: leg.Queue,
		Agent: first.Agent, Actor: "agent:" + username, Reason: string(TransferWarm),
		Data: map[string]string{"new_contact_id": leg.ID, "queue": leg.Queue, "agency": leg.Agency, "agent": username}})
	return w.endContactTxn(first.ID, "transferred", "", "agent:"+first.Agent, EventEnded)
}

// Decline gives the offered contact to the next agent. Declining the new
// leg of a warm transfer cancels that transfer: the first agent keeps the
// contact.
func (r *Router) Decline(username, offerID, reason string) ([]Event, error) {
	if len(reason) > maxReasonLen {
		return nil, fmt.Errorf("decline %s: %w", offerID, invalid("reason", "is longer than %d bytes", maxReasonLen))
	}
	return r.write(func(w *writer) error {
		o, err := w.ownOffer(username, offerID)
		if err != nil {
			return fmt.Errorf("decline %s: %w", offerID, err)
		}
		return w.refuseOfferTxn(o, EventDeclined, reason)
	})
}

// refuseOfferTxn handles a decline or a timeout: the agent is remembered as
// a decliner and the contact goes back to waiting (or, for a warm leg, the
// transfer fails).
func (w *writer) refuseOfferTxn(o *offerRow, typ EventType, reason string) error {
	c, err := w.contact(o.ContactID)
	if err != nil {
		return err
	}
	w.emit(Event{Type: typ, CaseID: c.CaseID, ContactID: c.ID, Queue: c.Queue, Agent: o.Agent,
		OfferID: o.ID, Actor: "agent:" + o.Agent, Reason: reason})
	if c.WarmOf != "" {
		return w.warmFailTxn(c.ID, string(typ))
	}
	if err := w.returnOfferTxn(o); err != nil {
		return err
	}
	c, err = w.contact(o.ContactID)
	if err != nil {
		return err
	}
	n := c.copy()
	n.Declined = withAdded(c.Declined, o.Agent)
	if err := w.putContact(n); err != nil {
		return err
	}
	if c.Reserved == o.Agent {
		return w.releaseReservationTxn(n)
	}
	return nil
}

// expireOfferTxn is an offer timing out: like a decline, and the agent goes
// not_ready until they choose available again.
func (w *writer) expireOfferTxn(o *offerRow) error {
	if err := w.refuseOfferTxn(o, EventOfferTimeout, "offer_timeout"); err != nil {
		return err
	}
	a, err := w.agent(o.Agent)
	if errors.Is(err, ErrNotFound) {
		return nil // removed meanwhile
	}
	if err != nil {
		return err
	}
	if a.State != StateAvailable {
		return nil
	}
	n := a.copy()
	n.State, n.Reason, n.StateSince = StateNotReady, "offer_timeout", w.now
	if err := w.putAgent(n); err != nil {
		return err
	}
	w.emitAgentState(n, n.Reason)
	return w.recheckQueuesTxn(n)
}

// revokeOfferTxn takes an offer back without blaming the agent.
func (w *writer) revokeOfferTxn(o *offerRow, reason string) error {
	c, err := w.contact(o.ContactID)
	if err != nil {
		return err
	}
	w.emit(Event{Type: EventOfferRevoked, CaseID: c.CaseID, ContactID: c.ID, Queue: c.Queue,
		Agent: o.Agent, OfferID: o.ID, Actor: "router", Reason: reason})
	return w.returnOfferTxn(o)
}

// returnOfferTxn deletes an offer and puts its contact back in line.
func (w *writer) returnOfferTxn(o *offerRow) error {
	if err := w.dropOfferTxn(o.ID); err != nil {
		return err
	}
	c, err := w.contact(o.ContactID)
	if err != nil {
		return err
	}
	n := c.copy()
	n.Status, n.Agent, n.OfferID, n.OfferExpires = StatusQueued, "", "", time.Time{}
	if err := w.putContact(n); err != nil {
		return err
	}
	w.markWaiting(c.ID)
	w.touch(c.Queue)
	return nil
}

// dropOfferTxn frees the slot of an offer; the caller then writes its
// contact out of StatusOffered, which ends the offer.
func (w *writer) dropOfferTxn(offerID string) error {
	o, err := w.offer(offerID)
	if err != nil {
		return err
	}
	return w.releaseSlotTxn(o.Agent, o.Class, false)
}

// ownOffer returns the offer if it was made to username.
func (w *writer) ownOffer(username, offerID string) (*offerRow, error) {
	o, err := w.offer(offerID)
	if err != nil {
		return nil, err
	}
	if o.Agent != username {
		return nil, notYours("offer", offerID)
	}
	return o, nil
}

// Offer returns a pending offer.
func (r *Router) Offer(offerID string) (OfferView, error) {
	var o *offerRow
	r.fresh(func(*memdb.MemDB) { o = r.offers[offerID] })
	if o == nil {
		return OfferView{}, fmt.Errorf("offer %s: %w", offerID, ErrNotFound)
	}
	return OfferView{ID: o.ID, ContactID: o.ContactID, Agent: o.Agent, ExpiresAt: o.ExpiresAt}, nil
}
