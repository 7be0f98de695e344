package switchboard

import (
	"context"

	"tellonce/cases"
	"tellonce/router"
)

// The requests clients make, one method each. Every one applies the
// request to the router and, when the router accepts it, waits until its
// events are committed to SQL (an error wrapping ErrNotDurable when that
// cannot be confirmed before ctx ends); a refusal of the router comes back
// as it is, for Classify. Who may make a request is the adapter's to check
// before it calls: these trust their arguments' identities.

// EnqueueRequest asks for a new contact in a queue: the router's request,
// named here so that adapters build it without the router.
type EnqueueRequest = router.EnqueueRequest

// Enqueue opens a contact (a citizen's chat, a gateway's call or
// callback) and routes it: the view is the contact after routing.
func (s *Switchboard) Enqueue(ctx context.Context, req EnqueueRequest) (cases.ContactView, error) {
	c, evs, err := s.r.Enqueue(req)
	return c, s.commit(ctx, evs, err)
}

// RequestCallback turns a waiting contact into a callback, kept in line or
// booked for a slot.
func (s *Switchboard) RequestCallback(ctx context.Context, contactID string, req cases.CallbackRequest) (cases.ContactView, error) {
	c, evs, err := s.r.RequestCallback(contactID, req)
	return c, s.commit(ctx, evs, err)
}

// EndContact ends a contact for actor (its citizen, the agent holding it, a
// supervisor, its gateway) before it was served; the timeline names actor.
func (s *Switchboard) EndContact(ctx context.Context, contactID, actor string) error {
	evs, err := s.r.AbandonBy(contactID, actor)
	return s.commit(ctx, evs, err)
}

// A citizen's frames.

// CitizenSay is a citizen's chat message.
func (s *Switchboard) CitizenSay(ctx context.Context, contactID, text string) error {
	evs, err := s.r.Say(cases.AsCitizen(), contactID, text)
	return s.commit(ctx, evs, err)
}

// CitizenLeave is a citizen leaving their contact, whatever its status.
func (s *Switchboard) CitizenLeave(ctx context.Context, contactID string) error {
	evs, err := s.r.Abandon(contactID)
	return s.commit(ctx, evs, err)
}

// An agent's frames.

// SetState sets an agent's state (available, a break, not ready).
func (s *Switchboard) SetState(ctx context.Context, username string, state cases.AgentState, reason string) error {
	evs, err := s.r.SetState(username, state, reason)
	return s.commit(ctx, evs, err)
}

// Accept takes an offer.
func (s *Switchboard) Accept(ctx context.Context, username, offerID string) error {
	evs, err := s.r.Accept(username, offerID)
	return s.commit(ctx, evs, err)
}

// Decline refuses an offer.
func (s *Switchboard) Decline(ctx context.Context, username, offerID, reason string) error {
	evs, err := s.r.Decline(username, offerID, reason)
	return s.commit(ctx, evs, err)
}

// AgentSay is an agent's (or an interpreter's) message into a contact.
// On a voice or callback call there is no chat to carry it: the words are
// kept as the agent's internal note on the case instead, never a message
// to a caller who cannot read it (docs/protocol.md, say).
func (s *Switchboard) AgentSay(ctx context.Context, username, contactID, text string) error {
	if caseID, ok := s.spokenCall(username, contactID); ok {
		evs, err := s.r.Note(username, caseID, text)
		return s.commit(ctx, evs, err)
	}
	evs, err := s.r.Say(cases.AsAgent(username), contactID, text)
	return s.commit(ctx, evs, err)
}

// spokenCall is the case of contactID when username holds it and it is a
// phone call (for an interpreter's leg: when the contact they interpret
// is). Anything else — a chat, a contact they do not hold — goes to the
// router's Say, which answers it as before.
func (s *Switchboard) spokenCall(username, contactID string) (string, bool) {
	c, err := s.r.Peek(contactID)
	if err != nil || c.Agent != username || c.Status != cases.StatusAssigned {
		return "", false
	}
	if c.ConferenceOf != "" {
		if c, err = s.r.Peek(c.ConferenceOf); err != nil || !c.Status.Live() {
			return "", false
		}
	}
	return c.CaseID, c.Channel == cases.ChannelVoice || c.Channel == cases.ChannelCallback
}

// Note adds an agent's note to a case.
func (s *Switchboard) Note(ctx context.Context, username, caseID, text string) error {
	evs, err := s.r.Note(username, caseID, text)
	return s.commit(ctx, evs, err)
}

// Transfer moves an assigned contact to a queue or a named agent, cold or
// warm, with the whole case.
func (s *Switchboard) Transfer(ctx context.Context, username, contactID string, to cases.Target, mode cases.TransferMode, note string) error {
	_, evs, err := s.r.Transfer(username, contactID, to, mode, note)
	return s.commit(ctx, evs, err)
}

// End ends an assigned contact with its disposition and summary.
func (s *Switchboard) End(ctx context.Context, username, contactID, disposition, summary string) error {
	evs, err := s.r.End(username, contactID, disposition, summary)
	return s.commit(ctx, evs, err)
}

// EndWithCallback ends an assigned contact and files a follow-up callback
// in another queue, as a new leg of the same case.
func (s *Switchboard) EndWithCallback(ctx context.Context, username, contactID string, f cases.FollowUp) error {
	_, evs, err := s.r.EndWithCallback(username, contactID, f)
	return s.commit(ctx, evs, err)
}

// Interpret brings an interpreter into an assigned contact.
func (s *Switchboard) Interpret(ctx context.Context, username, contactID string, req cases.InterpretRequest) error {
	_, evs, err := s.r.InterpretWith(username, contactID, req)
	return s.commit(ctx, evs, err)
}

// ReleaseInterpreter ends an interpreter's leg of an assigned contact.
func (s *Switchboard) ReleaseInterpreter(ctx context.Context, username, contactID string) error {
	evs, err := s.r.ReleaseInterpreter(username, contactID)
	return s.commit(ctx, evs, err)
}

// CallbackResult is the result of a callback the agent placed.
func (s *Switchboard) CallbackResult(ctx context.Context, username, contactID, result string) error {
	evs, err := s.r.CallbackResult(username, contactID, result)
	return s.commit(ctx, evs, err)
}

// A telephony gateway's frames.

// Transcript is a speech-to-text segment of a call.
func (s *Switchboard) Transcript(ctx context.Context, contactID string, speaker cases.PartyRole, text string) error {
	evs, err := s.r.Transcript(contactID, speaker, text)
	return s.commit(ctx, evs, err)
}

// CallerHangup is the caller hanging up: a waiting call is abandoned, a
// call in progress ends.
func (s *Switchboard) CallerHangup(ctx context.Context, contactID string) error {
	evs, err := s.r.CallerHangup(contactID)
	return s.commit(ctx, evs, err)
}

// DialResult is the result of a callback the gateway dialled.
func (s *Switchboard) DialResult(ctx context.Context, contactID, result string) error {
	evs, err := s.r.CallbackResult("", contactID, result)
	return s.commit(ctx, evs, err)
}

// ConnectFailed is the agent's phone not taking an answered call.
func (s *Switchboard) ConnectFailed(ctx context.Context, contactID, result string) error {
	evs, err := s.r.ConnectFailed(contactID, result)
	return s.commit(ctx, evs, err)
}

// AgentHangup is the agent's phone hanging up an answered call.
func (s *Switchboard) AgentHangup(ctx context.Context, contactID string) error {
	evs, err := s.r.AgentHangup(contactID)
	return s.commit(ctx, evs, err)
}

// Record adds a leg's recording to its live case, by actor.
func (s *Switchboard) Record(ctx context.Context, contactID, actor string, rec cases.Recording) error {
	evs, err := s.r.Record(contactID, actor, rec)
	return s.commit(ctx, evs, err)
}

// A socket's life. These are not acknowledged to anyone, so they do not
// wait for durability: a restart restores every agent disconnected and
// every waiting contact in line anyway.

// Connect marks an agent connected and returns their desk (contacts kept
// through the reconnect grace, pending offers) and the sequence number of
// the last event it reflects (0: none of this call's).
func (s *Switchboard) Connect(username string) (cases.Desk, uint64, error) {
	desk, evs, err := s.r.Connect(username)
	var seq uint64
	if len(evs) > 0 {
		seq = evs[len(evs)-1].Seq
	}
	return desk, seq, err
}

// Disconnect starts an agent's reconnect grace.
func (s *Switchboard) Disconnect(username string) error {
	_, err := s.r.Disconnect(username)
	return err
}

// LeaveAbsent takes a waiting chat whose citizen has gone out of line.
func (s *Switchboard) LeaveAbsent(contactID string) error {
	_, err := s.r.LeaveAbsent(contactID)
	return err
}
