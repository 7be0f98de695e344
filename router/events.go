package router

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
	Agent   string
	OfferID string
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
