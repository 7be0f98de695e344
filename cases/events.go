package cases

import "time"

// EventType names a router event. The names follow the WebSocket frames of
// the API contract where one exists.
type EventType string

// Event types.
const (
	EventContactCreated EventType = "contact_created"
	EventQueued         EventType = "queued"        // the new contact's place in line
	EventQueueChanged   EventType = "queue_changed" // positions in Queue moved
	EventOffered        EventType = "offered"
	EventOfferRevoked   EventType = "offer_revoked"
	EventAccepted       EventType = "accepted" // the "assigned" frame
	EventDeclined       EventType = "declined"
	EventOfferTimeout   EventType = "offer_timeout"
	EventMessage        EventType = "message"
	EventTranscript     EventType = "transcript"
	EventNote           EventType = "note"
	EventTransferred    EventType = "transferred"
	EventTransferFailed EventType = "transfer_failed"
	EventEnded          EventType = "ended"
	EventAbandoned      EventType = "abandoned"
	EventRequeued       EventType = "requeued"
	EventAgentState     EventType = "agent_state"
	EventCaseClosed     EventType = "case_closed"
	// EventCaseReopened: a closed case came back from the durable log
	// (EnqueueRequest.Reopen); CaseEvent is its reopened entry, and the
	// contact_created of its new contact follows.
	EventCaseReopened EventType = "case_reopened"
	// EventCallbackRequested: a contact became a callback (keeping its
	// place, or booked into a slot). Contact holds its new state.
	EventCallbackRequested EventType = "callback_requested"
	// EventCallbackDue: a scheduled callback joined its line.
	EventCallbackDue EventType = "callback_due"
	// EventCallbackAttempt: the gateway or the agent reported how a
	// callback call went (Reason: answered, no_answer, busy or failed).
	EventCallbackAttempt EventType = "callback_attempt"
	// EventInterpreter: an interpreter leg of ContactID was requested,
	// joined or left (Reason); Agent is the contact's agent and Data holds
	// interpreter_contact_id, interpreter and language.
	EventInterpreter EventType = "interpreter"
	// EventRecording: the telephony edge recorded a leg of ContactID
	// (CaseEvent holds the timeline's recording entry).
	EventRecording EventType = "recording"
)

// Case timeline entry types (CaseEvent.Type).
const (
	CaseContactCreated = "contact_created"
	CaseAssigned       = "assigned"
	CaseMessage        = "message"
	CaseTranscript     = "transcript"
	CaseNote           = "note"
	CaseTransfer       = "transfer"
	CaseTransferFailed = "transfer_failed"
	CaseRequeued       = "requeued"
	CaseEnded          = "ended"
	// CaseCallbackRequested: the citizen asked to be called back.
	CaseCallbackRequested = "callback_requested"
	// CaseCallbackAttempt: one callback call and how it went.
	CaseCallbackAttempt = "callback_attempt"
	// CaseInterpreterRequested: an agent asked for an interpreter.
	CaseInterpreterRequested = "interpreter_requested"
	// CaseReopened: a closed case came back with a new contact
	// (EnqueueRequest.Reopen); data closed_at is when it had closed.
	CaseReopened = "reopened"
	// CaseRecording: the telephony edge recorded an answered leg; Data
	// holds contact_id, file, seconds and started_at, never the audio.
	CaseRecording = "recording"
)

// Interpreter event reasons (Event.Reason of EventInterpreter).
const (
	InterpreterRequested = "requested"
	InterpreterJoined    = "joined"
	InterpreterLeft      = "left"
)

// Event is one state change. Every write method returns the events it
// produced, and the Sink receives the same events in commit order. Pointer
// fields point at fresh copies made for this event, never at router state.
type Event struct {
	// Seq increases by one for every event this router publishes.
	Seq       uint64
	Type      EventType
	At        time.Time
	CaseID    string
	ContactID string
	Queue     string
	// Agent is the agent the event concerns (the one to notify).
	Agent string
	// AgentAgency is Agent's own agency, on offered events: an offer
	// shows the agent the case, and the access audit records who read it
	// as of the agency they belong to, which for an interpreter or a
	// queue of another agency is not the contact's.
	AgentAgency string
	OfferID     string
	// Actor is who caused the change: "agent:<u>", "citizen:<caller>",
	// "gateway" or "router".
	Actor     string
	Text      string
	Reason    string
	Position  int
	ExpiresAt time.Time
	// CaseEvent is the entry this change appended to the case timeline;
	// the persistence layer stores exactly these.
	CaseEvent *CaseEvent
	Contact   *ContactView
	Case      *CaseView
	AgentView *AgentView
	Data      map[string]string
}
