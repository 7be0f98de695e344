package cases

import "time"

// Snapshot is the durable state the router is rebuilt from after a restart.
// The persistence layer fills it; Snapshot() produces one from a live router.
type Snapshot struct {
	Queues []QueueConfig
	Agents []AgentProfile
	Cases  []CaseSnapshot
}

// CaseSnapshot is an open case: its legs, timeline and live contacts.
type CaseSnapshot struct {
	ID string
	// Identity is who opened the case (see EnqueueRequest.Identity).
	Identity  string
	Caller    Caller
	Context   ContactContext
	CreatedAt time.Time
	Legs      []Leg
	Events    []CaseEvent
	Contacts  []ContactSnapshot
	// History is the caller's earlier cases (EnqueueRequest.History).
	History []PastCase
	// PreviousCaseID: see CaseView.
	PreviousCaseID string
}

// ContactSnapshot is a live contact. Queued and offered contacts return to
// their queue (offers do not survive a restart); assigned ones are held for
// their agent through the reconnect grace.
type ContactSnapshot struct {
	ID string
	// Identity, Origin and IdemKey: see ContactView.
	Identity       string
	Origin         string
	IdemKey        string
	Queue          string
	Channel        Channel
	Priority       int
	Context        ContactContext
	CallbackNumber string
	// Skills are the contact's own requirements (see EnqueueRequest.Skills).
	Skills map[string]int
	// Seq is the original enqueue order; with the case age and Head it
	// restores the line exactly.
	Seq        uint64
	EnqueuedAt time.Time
	Head       bool
	Status     ContactStatus
	Agent      string
	AnsweredAt time.Time
	WarmOf     string
	// Due, Slot and Attempts keep a scheduled callback (StatusScheduled)
	// and its tries.
	Due      time.Time
	Slot     bool
	Attempts int
	// ConferenceOf marks an interpreter leg of that contact.
	ConferenceOf string
}
