package router

import (
	"fmt"
	"unicode/utf8"
)

func checkText(text string) error {
	if text == "" {
		return invalid("text", "is required")
	}
	if utf8.RuneCountInString(text) > maxTextLen {
		return invalid("text", "is longer than %d characters", maxTextLen)
	}
	return nil
}

// Say appends a chat message to the contact's case. An agent may speak only
// on a contact assigned to them; the citizen on their own live contact.
func (r *Router) Say(from Party, contactID, text string) ([]Event, error) {
	if err := checkText(text); err != nil {
		return nil, fmt.Errorf("say on %s: %w", contactID, err)
	}
	return r.write(func(w *writer) error {
		var actor string
		switch from.Role {
		case RoleAgent:
			c, err := w.assignedTo(from.Username, contactID)
			if err != nil {
				return fmt.Errorf("say: %w", err)
			}
			actor = "agent:" + from.Username
			if c.ConferenceOf != "" {
				// An interpreter speaks into the contact they joined.
				main, err := w.contact(c.ConferenceOf)
				if err != nil || !main.Status.Live() {
					return fmt.Errorf("say on %s: the interpreted contact ended: %w", contactID, ErrConflict)
				}
				contactID = main.ID
			}
		case RoleCitizen:
			c, err := w.contact(contactID)
			if err != nil {
				return fmt.Errorf("say: %w", err)
			}
			if !c.Status.Live() {
				return fmt.Errorf("say on %s: contact ended: %w", contactID, ErrConflict)
			}
			if c.Channel == ChannelCallback {
				// The chat became a phone call: its words go to the agent on
				// the line, not into a chat nobody at the desk is reading.
				return fmt.Errorf("say on %s: the chat became a phone callback: %w", contactID, ErrConflict)
			}
			actor = "citizen:" + c.Caller.ID
		default:
			return fmt.Errorf("say: %w", invalid("from", "must be an agent or the citizen"))
		}
		return w.speakTxn(contactID, CaseMessage, EventMessage, actor, text)
	})
}

// Transcript appends a speech-to-text segment from the telephony gateway;
// speaker is RoleAgent or RoleCitizen.
func (r *Router) Transcript(contactID string, speaker PartyRole, text string) ([]Event, error) {
	if err := checkText(text); err != nil {
		return nil, fmt.Errorf("transcript on %s: %w", contactID, err)
	}
	if speaker != RoleAgent && speaker != RoleCitizen && speaker != RoleInterpreter {
		return nil, fmt.Errorf("transcript on %s: %w", contactID, invalid("speaker", "must be agent, citizen or interpreter"))
	}
	return r.write(func(w *writer) error {
		c, err := w.contact(contactID)
		if err != nil {
			return fmt.Errorf("transcript: %w", err)
		}
		if !c.Status.Live() {
			return fmt.Errorf("transcript on %s: contact ended: %w", contactID, ErrConflict)
		}
		actor := "citizen:" + c.Caller.ID
		switch speaker {
		case RoleAgent:
			// An agent it is only offered to has not answered: nothing
			// said on the line is theirs yet.
			if c.Status != StatusAssigned {
				return fmt.Errorf("transcript on %s: no agent has answered: %w", contactID, ErrConflict)
			}
			actor = "agent:" + c.Agent
		case RoleInterpreter:
			conf := w.conferenceData(c)
			if conf == nil {
				return fmt.Errorf("transcript on %s: no interpreter has joined: %w", contactID, ErrConflict)
			}
			actor = "agent:" + conf["interpreter"]
		}
		return w.speakTxn(contactID, CaseTranscript, EventTranscript, actor, text)
	})
}

func (w *writer) speakTxn(contactID, caseType string, typ EventType, actor, text string) error {
	c, err := w.contact(contactID)
	if err != nil {
		return err
	}
	e, err := w.appendCaseEventTxn(c.CaseID, caseType, actor, text, map[string]string{"contact_id": c.ID})
	if err != nil {
		return err
	}
	w.emit(Event{Type: typ, CaseID: c.CaseID, ContactID: c.ID, Queue: c.Queue, Agent: c.Agent,
		Actor: actor, Text: e.Text, CaseEvent: &e, Data: w.conferenceData(c)})
	return nil
}

// Note appends an agent's note to a case; only agents who are or were
// assigned to the case may write one.
func (r *Router) Note(username, caseID, text string) ([]Event, error) {
	if err := checkText(text); err != nil {
		return nil, fmt.Errorf("note on %s: %w", caseID, err)
	}
	return r.write(func(w *writer) error {
		cs, err := w.getCase(caseID)
		if err != nil {
			return fmt.Errorf("note: %w", err)
		}
		// An interpreter's part in a case ends with their leg: a note
		// after it would be written by someone who may no longer read it.
		if !containsString(cs.Agents, username) ||
			interpreterOnly(cs, username) && !holdsInterpreterLeg(cs, username) {
			return fmt.Errorf("note: %w", notYours("case", caseID))
		}
		// A note says whose it is, so a reader of another agency can tell
		// that agency's internal note from their own.
		var data map[string]string
		if a, err := w.agent(username); err == nil && a.Agency != "" {
			data = map[string]string{"agency": a.Agency}
		}
		e, err := w.appendCaseEventTxn(caseID, CaseNote, "agent:"+username, text, data)
		if err != nil {
			return err
		}
		w.emit(Event{Type: EventNote, CaseID: caseID, Agent: username, Actor: e.Actor, Text: e.Text, CaseEvent: &e})
		return nil
	})
}
