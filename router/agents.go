package router

import (
	"fmt"

	memdb "github.com/hashicorp/go-memdb"
)

const maxReasonLen = 200

// UpsertAgent creates an agent (offline, disconnected) or replaces an
// existing agent's profile keeping their live state and contacts.
func (r *Router) UpsertAgent(p AgentProfile) ([]Event, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("upsert agent %s: %w", p.Username, err)
	}
	return r.write(func(w *writer) error {
		row := &agentRow{AgentProfile: p.Clone(), State: StateOffline, StateSince: w.now, IdleSince: w.now}
		if old, err := w.agent(p.Username); err == nil {
			row = old.copy()
			row.AgentProfile = p.Clone()
		}
		if err := w.putAgent(row); err != nil {
			return err
		}
		w.markFreed(row.Username)
		return w.recheckQueuesTxn(row)
	})
}

// RemoveAgent deletes an agent; it refuses (ErrConflict) while the agent has
// offers or assigned contacts.
func (r *Router) RemoveAgent(username string) ([]Event, error) {
	return r.write(func(w *writer) error {
		a, err := w.agent(username)
		if err != nil {
			return fmt.Errorf("remove agent: %w", err)
		}
		held, err := w.agentContacts(username)
		if err != nil {
			return err
		}
		if len(held) > 0 {
			return fmt.Errorf("remove agent %s: holds %d contacts: %w", username, len(held), ErrConflict)
		}
		if err := w.dropTimersOf(username); err != nil {
			return err
		}
		if err := w.clearReservationsTxn(username); err != nil {
			return err
		}
		if err := w.deleteAgent(username); err != nil {
			return fmt.Errorf("remove agent %s: %w", username, err)
		}
		gone := a.copy()
		gone.State, gone.Connected, gone.Voice, gone.Chats, gone.Wraps = StateOffline, false, 0, 0, 0
		w.emitAgentState(gone, "removed")
		return w.recheckQueuesTxn(a)
	})
}

// Connect marks the agent's console connected (a new or restored
// WebSocket). Within the reconnect grace the agent keeps everything; the
// returned Desk is what the hello frame shows.
func (r *Router) Connect(username string) (Desk, []Event, error) {
	var desk Desk
	events, err := r.write(func(w *writer) error {
		a, err := w.agent(username)
		if err != nil {
			return fmt.Errorf("connect: %w", err)
		}
		n := a.copy()
		n.Connected = true
		if err := w.putAgent(n); err != nil {
			return err
		}
		if err := w.dropTimer(timerID(timerGrace, username)); err != nil {
			return err
		}
		w.emitAgentState(n, "connected")
		w.markFreed(username)
		if err := w.settle(); err != nil {
			return err
		}
		// The desk is read through the call's own view, not a flush to
		// memdb and a read through the transaction: that would write the
		// call's rows twice and, in a write group, make the calls after
		// it copy their radix paths again (router/BENCHMARKS.md).
		desk, err = deskOf(username, w.agent, w.contact, w.getCase)
		return err
	})
	return desk, events, err
}

// Disconnect marks the agent's console gone. Pending offers go to the next
// agent at once; assigned contacts stay for the reconnect grace, after which
// the agent goes offline and those contacts return to the head of their
// queues.
func (r *Router) Disconnect(username string) ([]Event, error) {
	return r.write(func(w *writer) error {
		a, err := w.agent(username)
		if err != nil {
			return fmt.Errorf("disconnect: %w", err)
		}
		if !a.Connected {
			return nil
		}
		n := a.copy()
		n.Connected = false
		if err := w.putAgent(n); err != nil {
			return err
		}
		if err := w.revokeAgentOffersTxn(username, "agent_disconnected"); err != nil {
			return err
		}
		// A held contact never waits for an agent who is not there.
		if err := w.clearReservationsTxn(username); err != nil {
			return err
		}
		grace := &timerRow{ID: timerID(timerGrace, username), Kind: timerGrace,
			Target: username, Agent: username, Due: w.now.Add(w.r.cfg.ReconnectGrace)}
		if err := w.putTimer(grace); err != nil {
			return err
		}
		w.emitAgentState(n, "disconnected")
		return w.recheckQueuesTxn(n)
	})
}

// SetState is the agent's choice: available, break or offline. Break and
// offline revoke pending offers; offline is refused (ErrConflict) while the
// agent holds contacts. Available and break need a connected console.
func (r *Router) SetState(username string, state AgentState, reason string) ([]Event, error) {
	switch state {
	case StateAvailable, StateBreak, StateOffline:
	default:
		return nil, fmt.Errorf("set state %s: %w", username, invalid("state", "must be available, break or offline, not %q", state))
	}
	if len(reason) > maxReasonLen {
		return nil, fmt.Errorf("set state %s: %w", username, invalid("reason", "is longer than %d bytes", maxReasonLen))
	}
	return r.write(func(w *writer) error { return w.setStateTxn(username, state, reason) })
}

func (w *writer) setStateTxn(username string, state AgentState, reason string) error {
	a, err := w.agent(username)
	if err != nil {
		return fmt.Errorf("set state: %w", err)
	}
	if state != StateOffline && !a.Connected {
		return fmt.Errorf("set state %s: agent is not connected: %w", username, ErrConflict)
	}
	if state == StateOffline {
		held, err := w.agentContacts(username)
		if err != nil {
			return err
		}
		for _, c := range held {
			if c.Status == StatusAssigned {
				return fmt.Errorf("set state %s offline: contact %s is assigned: %w", username, c.ID, ErrConflict)
			}
		}
	}
	n := a.copy()
	if n.State != state {
		n.StateSince = w.now
		if state == StateAvailable {
			n.IdleSince = w.now
		}
	}
	n.State, n.Reason = state, reason
	if err := w.putAgent(n); err != nil {
		return err
	}
	if state != StateAvailable {
		if err := w.revokeAgentOffersTxn(username, "agent_"+string(state)); err != nil {
			return err
		}
	} else {
		w.markFreed(username)
	}
	if state == StateOffline {
		if err := w.clearReservationsTxn(username); err != nil {
			return err
		}
	}
	w.emitAgentState(n, reason)
	if state != StateAvailable {
		return w.recheckQueuesTxn(n)
	}
	return nil
}

// graceEndTxn runs when a disconnected agent's grace ends: the agent goes
// offline, their contacts return to the head of their queues and any
// wrap-up ends.
func (w *writer) graceEndTxn(username string) error {
	a, err := w.agent(username)
	if err != nil || a.Connected {
		return nil // removed or back: nothing to do
	}
	held, err := w.agentContacts(username)
	if err != nil {
		return err
	}
	for _, c := range held {
		if c.Status == StatusAssigned {
			if err := w.requeueHeadTxn(c); err != nil {
				return err
			}
		}
	}
	if err := w.dropWrapupsTxn(username); err != nil {
		return err
	}
	a, err = w.agent(username)
	if err != nil {
		return err
	}
	n := a.copy()
	n.State, n.Reason, n.StateSince = StateOffline, "reconnect_grace_ended", w.now
	if err := w.putAgent(n); err != nil {
		return err
	}
	w.emitAgentState(n, n.Reason)
	return w.recheckQueuesTxn(n)
}

// dropWrapupsTxn ends an agent's wrap-ups early, freeing their slots.
func (w *writer) dropWrapupsTxn(username string) error {
	var wraps []*timerRow
	for _, t := range w.m.timersOf(username) {
		if t.Kind == timerWrapup {
			wraps = append(wraps, t)
		}
	}
	for _, t := range wraps {
		if err := w.wrapupEndTxn(t); err != nil {
			return err
		}
	}
	return nil
}

// adjustAgentTxn copies the agent, applies fn and stores the copy.
func (w *writer) adjustAgentTxn(username string, fn func(a *agentRow)) (*agentRow, error) {
	a, err := w.agent(username)
	if err != nil {
		return nil, err
	}
	n := a.copy()
	fn(n)
	return n, w.putAgent(n)
}

// releaseSlotTxn frees one slot of class; the agent may take more work.
func (w *writer) releaseSlotTxn(username string, class capClass, wrap bool) error {
	n, err := w.adjustAgentTxn(username, func(a *agentRow) {
		*a.load(class)--
		if wrap {
			a.Wraps--
		}
		if a.Voice+a.Chats == 0 {
			a.IdleSince = w.now
		}
	})
	if err != nil {
		return fmt.Errorf("release %s slot of %s: %w", class, username, err)
	}
	w.markFreed(n.Username)
	return nil
}

// revokeAgentOffersTxn takes back every pending offer of the agent; the
// contacts go back to waiting (not counted as declines).
func (w *writer) revokeAgentOffersTxn(username, reason string) error {
	held, err := w.agentContacts(username)
	if err != nil {
		return err
	}
	offers := agentOffers(held)
	for _, o := range offers {
		if err := w.revokeOfferTxn(o, reason); err != nil {
			return err
		}
	}
	return nil
}

// clearReservationsTxn releases contacts held for the agent (sticky or
// direct transfer) to their queues.
func (w *writer) clearReservationsTxn(username string) error {
	it, err := w.tx().Get(tableHeldFor, indexContactReserved, username)
	if err != nil {
		return fmt.Errorf("contacts held for %s: %w", username, err)
	}
	var held []*contactRow
	for raw := it.Next(); raw != nil; raw = it.Next() {
		held = append(held, raw.(*contactRow))
	}
	for _, c := range held {
		if err := w.releaseReservationTxn(c); err != nil {
			return err
		}
	}
	return nil
}

// recheckQueuesTxn re-places the waiting contacts of the agent's queues whose
// eligibility depends on who else is around: contacts passed over by their
// decliners while this agent was a candidate, and best-skill contacts
// waiting for the top level. Called when the agent stops being routable or
// their profile changes. The contacts overflowed into those queues count
// too: the agent was a candidate for them as well.
func (w *writer) recheckQueuesTxn(a *agentRow) error {
	recheck := func(c *contactRow) bool {
		if len(c.Declined) > 0 || !c.Widened {
			w.markWaiting(c.ID)
		}
		return true
	}
	for q := range a.Queues {
		for _, class := range classes {
			scanLine(w.m.line(q, class), recheck)
			scanLine(w.m.overflow[lineID(q, class)], recheck)
		}
	}
	return nil
}

func (w *writer) emitAgentState(a *agentRow, reason string) {
	v := agentView(a)
	w.emit(Event{Type: EventAgentState, Agent: a.Username, Reason: reason, AgentView: &v})
}

// Agent returns an agent's live state.
func (r *Router) Agent(username string) (AgentView, error) {
	var out AgentView
	err := r.read(func(txn *memdb.Txn) error {
		a, err := getAgent(txn, username)
		if err != nil {
			return err
		}
		out = agentView(a)
		return nil
	})
	return out, err
}

// Desk returns what an agent holds: assigned contacts with their cases and
// pending offers.
func (r *Router) Desk(username string) (Desk, error) {
	var out Desk
	err := r.read(func(txn *memdb.Txn) error {
		var err error
		out, err = deskTxn(txn, username)
		return err
	})
	return out, err
}

func deskTxn(txn *memdb.Txn, username string) (Desk, error) {
	return deskOf(username, func(u string) (*agentRow, error) { return getAgent(txn, u) },
		func(id string) (*contactRow, error) { return getContact(txn, id) }, snapshotCases(txn))
}

// deskOf is an agent's desk read through the lookups given: a snapshot's
// (Desk) or a write call's own (Connect).
func deskOf(username string, agent func(string) (*agentRow, error), contact func(string) (*contactRow, error), cases caseGetter) (Desk, error) {
	a, err := agent(username)
	if err != nil {
		return Desk{}, err
	}
	desk := Desk{Agent: agentView(a)}
	held, err := heldBy(username, agent, contact)
	if err != nil {
		return Desk{}, err
	}
	for _, c := range held {
		if c.Status != StatusAssigned {
			continue
		}
		cv, err := offerCaseView(cases, c)
		if err != nil {
			return Desk{}, err
		}
		desk.Contacts = append(desk.Contacts, Assignment{Contact: contactView(c), Case: cv})
	}
	offers := agentOffers(held)
	for _, o := range offers {
		desk.Offers = append(desk.Offers, OfferView{ID: o.ID, ContactID: o.ContactID, Agent: o.Agent, ExpiresAt: o.ExpiresAt})
	}
	return desk, nil
}
