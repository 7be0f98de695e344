package router

import (
	"fmt"
	"strconv"
	"time"
)

// What a telephony edge reports about the legs it bridges: the agent's
// phone that did not answer, the agent or the caller hanging up during the
// call, a recording of a leg.

// DispositionMissed is the disposition of an answered leg whose agent's
// phone never took the call: the contact went back to its line.
const DispositionMissed = "missed"

// ConnectFailed is the edge reporting that the phone of the agent holding
// the voice call contactID did not answer (result no_answer, busy or
// failed). It is a missed offer: the contact goes back to the head of its
// line, keeping its place and its case's age; the agent's leg ends as
// "missed" and the agent goes not_ready, as after an offer timeout, and is
// not offered the contact again.
func (r *Router) ConnectFailed(contactID, result string) ([]Event, error) {
	if !ValidConnectResult(result) {
		return nil, fmt.Errorf("connect failed on %s: %w", contactID, invalid("result", "must be no_answer, busy or failed"))
	}
	return r.write(func(w *writer) error {
		c, err := w.onCallTxn(contactID, "connect failed")
		if err != nil {
			return err
		}
		agent := c.Agent
		if err := w.requeueWithTxn(c, DispositionMissed, time.Time{}, map[string]string{"result": result}); err != nil {
			return err
		}
		moved, err := w.contact(contactID)
		if err != nil {
			return err
		}
		n := moved.copy()
		n.Declined = withAdded(moved.Declined, agent)
		if err := w.putContact(n); err != nil {
			return err
		}
		return w.notReadyTxn(agent, "missed")
	})
}

// notReadyTxn sets an available agent not_ready (a missed offer or call)
// until they choose available again.
func (w *writer) notReadyTxn(username, reason string) error {
	a, err := w.agent(username)
	if err != nil || a.State != StateAvailable {
		return nil // removed meanwhile, or not routable anyway
	}
	n := a.copy()
	n.State, n.Reason, n.StateSince = StateNotReady, reason, w.now
	if err := w.putAgent(n); err != nil {
		return err
	}
	w.emitAgentState(n, n.Reason)
	return w.recheckQueuesTxn(n)
}

// AgentHangup is the edge reporting that the agent's phone hung up during
// the call contactID: the contact ends as the agent's own end would
// (disposition "completed", the agent wraps up), with reason agent_hangup
// on the timeline.
func (r *Router) AgentHangup(contactID string) ([]Event, error) {
	return r.write(func(w *writer) error {
		c, err := w.onCallTxn(contactID, "agent hangup")
		if err != nil {
			return err
		}
		return w.endContactWithTxn(contactID, "completed", "", "agent:"+c.Agent, EventEnded,
			map[string]string{"reason": EndAgentHangup})
	})
}

// CallerHangup is the caller hanging up. A call waiting or offered is
// abandoned (as Abandon); a call in progress ends — answered and handled,
// not abandoned — with the disposition caller_hangup.
func (r *Router) CallerHangup(contactID string) ([]Event, error) {
	return r.write(func(w *writer) error {
		c, err := w.contact(contactID)
		if err != nil {
			return fmt.Errorf("hangup: %w", err)
		}
		if !c.Status.Live() {
			return fmt.Errorf("hangup %s: contact already ended: %w", contactID, ErrConflict)
		}
		actor := "citizen:" + c.Caller.ID
		if c.Status != StatusAssigned {
			if c.WarmOf != "" {
				if err := w.endContactTxn(c.WarmOf, "abandoned", "", actor, EventAbandoned); err != nil {
					return err
				}
			}
			return w.endContactTxn(contactID, "abandoned", "", actor, EventAbandoned)
		}
		return w.endContactWithTxn(contactID, EndCallerHangup, "", actor, EventEnded,
			map[string]string{"reason": EndCallerHangup})
	})
}

// onCallTxn returns a live contact an agent holds; any other status is a
// conflict.
func (w *writer) onCallTxn(contactID, what string) (*contactRow, error) {
	c, err := w.contact(contactID)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if !c.Status.Live() {
		return nil, fmt.Errorf("%s on %s: contact ended: %w", what, contactID, ErrConflict)
	}
	if c.Status != StatusAssigned {
		return nil, fmt.Errorf("%s on %s: contact is %s, not assigned: %w", what, contactID, c.Status, ErrConflict)
	}
	return c, nil
}

// Record appends a recording entry to the case of contactID (live: the
// leg may have just ended, its case not closed), by actor, the gateway
// ("gateway:<username>").
func (r *Router) Record(contactID, actor string, rec Recording) ([]Event, error) {
	if err := rec.Validate(); err != nil {
		return nil, fmt.Errorf("recording of %s: %w", contactID, err)
	}
	if err := checkActor(actor); err != nil {
		return nil, fmt.Errorf("recording of %s: %w", contactID, err)
	}
	return r.write(func(w *writer) error {
		c, err := w.contact(contactID)
		if err != nil {
			return fmt.Errorf("recording: %w", err)
		}
		if c.AnsweredAt.IsZero() {
			return fmt.Errorf("recording of %s: no agent has answered: %w", contactID, ErrConflict)
		}
		data := map[string]string{"contact_id": c.ID, "file": rec.File,
			"seconds": strconv.Itoa(rec.Seconds), "started_at": rec.StartedAt.UTC().Format(time.RFC3339)}
		e, err := w.appendCaseEventTxn(c.CaseID, CaseRecording, actor, "", data)
		if err != nil {
			return err
		}
		w.emit(Event{Type: EventRecording, CaseID: c.CaseID, ContactID: c.ID, Queue: c.Queue,
			Agent: c.Agent, Actor: actor, CaseEvent: &e})
		return nil
	})
}
