package cases

import (
	"maps"
	"slices"
	"time"
)

// Views are copies handed to callers; changing them changes nothing inside.

// Leg is one contact of a case: who handled it, when, and how it ended.
type Leg struct {
	ContactID   string
	Queue       string
	Agency      string
	Agent       string
	Channel     Channel
	EnqueuedAt  time.Time
	AnsweredAt  time.Time
	EndedAt     time.Time
	Disposition string
	// Interpreter marks a leg that brought an interpreter into the case.
	Interpreter bool
}

// CaseEvent is one entry of a case's timeline. Seq increases per case.
// An entry never changes once appended, and the router shares its Data
// map with every event and view that carries the entry: read it, never
// change it (Clone first to change a copy).
type CaseEvent struct {
	Seq   int64
	At    time.Time
	Type  string
	Actor string
	Text  string
	Data  map[string]string
}

// Clone copies e with its own map.
func (e CaseEvent) Clone() CaseEvent {
	e.Data = maps.Clone(e.Data)
	return e
}

// CaseView is a case with its whole context.
type CaseView struct {
	ID string
	// Identity is who opened the case (EnqueueRequest.Identity), for the
	// durable store; it is never shown.
	Identity  string
	Caller    Caller
	Context   ContactContext
	Status    string // "open" or "closed"
	CreatedAt time.Time
	Legs      []Leg
	// Events is the timeline in seq order, except in an offer made by a
	// transfer: there the transfer's note comes first (also in TransferNote),
	// so the receiving agent reads it before anything else.
	Events       []CaseEvent
	TransferNote *CaseEvent
	Agents       []string
	// History is the caller's earlier cases the case was opened with
	// (EnqueueRequest.History); an interpreter's view has none.
	History []PastCase
	// PreviousCaseID is the closed case this one continues, if any.
	PreviousCaseID string
}

// ContactView is a contact as the API shows it.
type ContactView struct {
	ID     string
	CaseID string
	// Identity keys the caller's one place (EnqueueRequest.Identity);
	// Origin is the citizen's first contact of this chain of legs, whose
	// citizen token reaches this leg (ID itself for a first contact).
	// Neither is shown to anyone: they are for the API layer's rules and
	// the durable store.
	Identity       string
	Origin         string
	IdemKey        string // the idempotency key of the request that made it
	Queue          string
	Agency         string
	Channel        Channel
	Status         ContactStatus
	Caller         Caller
	Priority       int
	Context        ContactContext
	CallbackNumber string
	Skills         map[string]int
	Agent          string
	OfferID        string
	// Position counts from 1 while queued; 0 otherwise.
	Position    int
	EnqueuedAt  time.Time
	AnsweredAt  time.Time
	EndedAt     time.Time
	Disposition string
	// WarmOf is set on the new leg of a pending warm transfer.
	WarmOf string
	// Seq is the contact's enqueue order and Head marks a contact re-queued
	// to the head of its line: with the case age they fix its place in line,
	// so the durable store can restore the line exactly.
	Seq  uint64
	Head bool
	// CaseCreatedAt is when the contact's case began: its age in line.
	CaseCreatedAt time.Time
	// Due is when a scheduled callback joins its line; Slot says it is a
	// booked slot; Attempts counts unanswered callback calls.
	Due      time.Time
	Slot     bool
	Attempts int
	// ConferenceOf is set on an interpreter leg: the contact it joins.
	// Interpreter is set on a contact with an interpreter leg.
	ConferenceOf string
	Interpreter  string
}

// AgentView is an agent's live state.
type AgentView struct {
	Username   string
	Name       string
	Agency     string
	State      AgentState // as displayed: busy and wrapup are derived
	Chosen     AgentState // offline, available, break or not_ready
	Reason     string
	Connected  bool
	StateSince time.Time
	IdleSince  time.Time
	Voice      int
	Chats      int
	MaxChats   int
	Queues     map[string]int
	Skills     map[string]int
	Phone      string // AgentProfile.Phone
}

// OfferView is a pending offer.
type OfferView struct {
	ID        string
	ContactID string
	Agent     string
	ExpiresAt time.Time
}

// Assignment is a contact on an agent's desk with its case.
type Assignment struct {
	Contact ContactView
	Case    CaseView
}

// Desk is everything an agent holds: for the hello frame on (re)connect.
type Desk struct {
	Agent    AgentView
	Contacts []Assignment
	Offers   []OfferView
}

// QueueStats is a live snapshot of one queue.
type QueueStats struct {
	Queue            string
	Agency           string
	Name             string
	Waiting          int
	LongestWait      time.Duration
	OldestEnqueuedAt time.Time
	// Agents counts the queue's members by displayed state.
	Agents map[AgentState]int
}

// MaxHistory bounds the earlier cases an offer shows.
const MaxHistory = 5

// PastCase is one of a returning caller's earlier, closed cases as an
// offer shows it: enough to recognise the caller, never the transcript.
type PastCase struct {
	ID           string
	OpenedAt     time.Time
	ClosedAt     time.Time
	Agencies     []string
	Dispositions []string
	Summary      string
	LastNote     string
}

// ClonePastCases copies h deeply.
func ClonePastCases(h []PastCase) []PastCase {
	if len(h) == 0 {
		return nil
	}
	out := make([]PastCase, len(h))
	for i, p := range h {
		p.Agencies, p.Dispositions = slices.Clone(p.Agencies), slices.Clone(p.Dispositions)
		out[i] = p
	}
	return out
}
