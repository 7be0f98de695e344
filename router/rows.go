package router

import (
	"fmt"
	"slices"
	"time"
)

// The row types below are what memdb stores. A row read from memdb is never
// changed in place: writers take a copy (the copy methods), change the copy
// and insert it. Slices and maps inside rows are treated as immutable too:
// a change builds a new slice (withAdded, withLeg), so a shallow copy is a
// safe copy.

// queueRow is a queue's configuration plus its round-robin pointer.
type queueRow struct {
	QueueConfig
	// RRLast is the username that round-robin served last in this queue.
	RRLast string
}

func (q *queueRow) copy() *queueRow { c := *q; return &c }

// agentRow is an agent's profile plus live state.
type agentRow struct {
	AgentProfile
	Connected  bool
	State      AgentState // offline, available, break or not_ready
	Reason     string
	StateSince time.Time
	// IdleSince is when the agent last became free or last got an offer:
	// the order of longest-idle routing.
	IdleSince time.Time
	// Voice and Chats count the slots in use per capacity class: offers,
	// assigned contacts and wrap-ups alike.
	Voice int
	Chats int
	// Wraps counts the slots that are only wrap-up.
	Wraps int
	// Held are the contacts offered or assigned to the agent, by id (see
	// holderOf): kept on the row, which changes with the agent's load
	// anyway, instead of a contacts index that every contact write would
	// touch. A new slice on every change, like every slice of a row.
	Held []string
}

func (a *agentRow) copy() *agentRow { c := *a; return &c }

// free reports whether the agent has capacity for one more contact of class.
// Voice is exclusive: one voice contact and nothing else.
func (a *agentRow) free(class capClass) bool {
	if a.Voice > 0 {
		return false
	}
	if class == classVoice {
		return a.Chats == 0
	}
	return a.Chats < a.EffectiveMaxChats()
}

// routable reports whether the router may offer this agent anything.
func (a *agentRow) routable() bool { return a.Connected && a.State == StateAvailable }

func (a *agentRow) load(class capClass) *int {
	if class == classVoice {
		return &a.Voice
	}
	return &a.Chats
}

// display is the state the wallboard and the agent see.
func (a *agentRow) display() AgentState {
	switch {
	case a.State == StateOffline:
		return StateOffline
	case a.Voice+a.Chats > a.Wraps:
		return StateBusy
	case a.Wraps > 0:
		return StateWrapup
	}
	return a.State
}

// memberRow says an agent belongs to a queue (see membersTableSchema).
type memberRow struct {
	Queue    string
	Username string
}

// contactRow is one leg of a case: a contact waiting, offered, assigned or
// ended (ended rows stay until their case closes, for reads).
type contactRow struct {
	ID     string
	CaseID string
	// Identity keys the caller's one place per queue (see
	// EnqueueRequest.Identity); Origin is the first contact of the
	// citizen's chain of legs (see originOf).
	Identity       string
	Origin         string
	IdemKey        string // the request's idempotency key, if it gave one
	Queue          string
	Agency         string
	Channel        Channel
	Caller         Caller
	Priority       int
	Context        ContactContext
	CallbackNumber string
	// Skills is everything an agent needs for this contact: the queue's
	// requirements, the contact's own and the caller's language.
	Skills map[string]int
	// Extra is the contact's own requirements from the request.
	Extra         map[string]int
	Seq           uint64
	CaseCreatedAt time.Time
	EnqueuedAt    time.Time
	// Head puts a re-queued contact ahead of everything in its queue.
	Head    bool
	Status  ContactStatus
	Agent   string
	OfferID string
	// OfferExpires is when the pending offer (OfferID) runs out.
	OfferExpires time.Time
	Overflowed   []string // queues whose agents may take it now
	Widened      bool     // best-skill: lower levels may take it now
	Declined     []string // agents who declined or let the offer time out
	// Reserved holds the contact for one agent (sticky or direct transfer).
	Reserved       string
	ReservedDirect bool
	WarmOf         string // this leg is a warm transfer of that contact
	WarmTo         string // a warm transfer of this contact is pending
	TransferSeq    int64  // case seq of the transfer note that created this leg
	// Rank caches computeRank; putContact keeps it current.
	Rank        string
	LegIndex    int
	AnsweredAt  time.Time
	EndedAt     time.Time
	Disposition string
	// Due is when a scheduled contact joins its line; Slot marks a due
	// time that is a booked callback slot (it counts against the slot's
	// capacity and the caller's one booking). Attempts counts callback
	// calls nobody answered.
	Due      time.Time
	Slot     bool
	Attempts int
	// ConferenceOf marks an interpreter leg: it brings an interpreter into
	// that contact. Interpreter is the other direction: the contact's
	// interpreter leg, pending or joined.
	ConferenceOf string
	Interpreter  string
	// RequestedBy is the agent who asked for an interpreter leg: never
	// offered it themself.
	RequestedBy string
}

func (c *contactRow) copy() *contactRow { n := *c; return &n }

// getID is the id of c, or of other when c is nil.
func (c *contactRow) getID(other *contactRow) string {
	if c != nil {
		return c.ID
	}
	return other.ID
}

func (c *contactRow) class() capClass { return classOf(c.Channel) }

// rank orders waiting contacts: head-of-queue first, then priority
// (higher first), then case age (older first), then enqueue sequence. It is
// a fixed-width string so memdb's byte order is routing order.
//
// In a queue with aging, priority and age merge: a contact is ranked as
// if its case had started priority × aging earlier, which is the order of
// "priority + age/aging" — a priority step per aging of wait, counted
// continuously, not in whole steps — and stays static while time passes.
// Its priority field is then that of priority 0, so where an aging queue's
// contacts meet others' (an overflow line) they compare as priority 0.
func (c *contactRow) computeRank(aging time.Duration) string {
	band := 1
	if c.Head {
		band = 0
	}
	age := c.CaseCreatedAt.UnixNano()
	prio := c.Priority
	if aging > 0 {
		age -= int64(c.Priority) * int64(aging)
		prio = 0
	}
	if age < 0 {
		age = 0
	}
	p := maxPriority - prio
	if p < 0 || p > 9999 {
		return fmt.Sprintf("%d%04d%020d%020d", band, p, age, c.Seq) // out of the validated range
	}
	// The same text as the Sprintf above, built without fmt: a rank is
	// computed on every contact write.
	var b [45]byte
	b[0] = byte('0' + band)
	putDigits(b[1:5], uint64(p))
	putDigits(b[5:25], uint64(age))
	putDigits(b[25:45], c.Seq)
	return string(b[:])
}

// putDigits writes v in decimal into b, zero-padded to len(b) (which
// holds every digit of v).
func putDigits(b []byte, v uint64) {
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
}

// rank is the cached routing order key.
func (c *contactRow) rank() string { return c.Rank }

// reach is every queue whose agents may take the contact now.
func (c *contactRow) reach() []string {
	return append([]string{c.Queue}, c.Overflowed...)
}

// A line is the contacts of one class waiting in a queue, in rank order:
// the writer keeps every line in an ordered tree (see matching.go).

// lineID names the line of a queue and class.
func lineID(queue string, class capClass) lineKey { return lineKey{queue, class} }

// lineKey names a line: a queue and a class. A struct rather than a joined
// string, so looking a line up allocates nothing.
type lineKey struct {
	queue string
	class capClass
}

// lineOf is the line c waits in, the zero key when it waits in none.
func lineOf(c *contactRow) lineKey {
	if c == nil || c.Status != StatusQueued {
		return lineKey{}
	}
	return lineID(c.Queue, c.class())
}

// caseRow is an open case: the caller, its legs, its timeline and its
// live-leg count.
type caseRow struct {
	ID       string
	CallerID string
	// Identity is who opened the case: a request of the same identity may
	// continue it without its continuation token.
	Identity  string
	Caller    Caller
	Context   ContactContext
	CreatedAt time.Time
	Legs      []Leg
	// Agents is everyone ever assigned to the case: they may write notes.
	Agents    []string
	LastAgent string
	Live      int
	NextSeq   int64
	// Events is the timeline in seq order. It only ever grows, by
	// withEvent, which may append in place into spare capacity that an
	// older version of the row shares: an older version never reads past
	// its own length, and every write starts from the newest version, so
	// no two versions ever fill the same place. A timeline kept as rows of
	// its own cost an index insert and delete per entry.
	Events []CaseEvent
	// History is the caller's earlier cases (EnqueueRequest.History).
	History []PastCase
	// PreviousCaseID is the closed case this one continues (see
	// EnqueueRequest.PreviousCaseID).
	PreviousCaseID string
}

// withEvent returns events plus e (see caseRow.Events on sharing). A new
// timeline has room for four entries: a call's case usually has three
// (created, assigned, ended), and every open case keeps its room.
func withEvent(events []CaseEvent, e CaseEvent) []CaseEvent {
	if len(events) == cap(events) {
		grown := make([]CaseEvent, len(events), 2*len(events)+4)
		copy(grown, events)
		events = grown
	}
	return append(events, e)
}

func (c *caseRow) copy() *caseRow { n := *c; return &n }

// withLeg returns a copy of legs with legs[i] replaced.
func withLeg(legs []Leg, i int, l Leg) []Leg {
	out := slices.Clone(legs)
	out[i] = l
	return out
}

// withAdded returns s plus v in a new slice, or s itself if v is already in.
func withAdded(s []string, v string) []string {
	if slices.Contains(s, v) {
		return s
	}
	out := make([]string, len(s), len(s)+1)
	copy(out, s)
	return append(out, v)
}

// offerRow reserves a contact for one agent until ExpiresAt. It is not a
// memdb row: the offered contact's row holds it (OfferID, Agent,
// OfferExpires), and the matching state keeps one per offered contact,
// soonest expiry first (see offerOf).
type offerRow struct {
	ID          string
	ContactID   string
	Agent       string
	Class       capClass
	ExpiresAt   time.Time
	ExpiresNano int64
}

// holderOf is the agent a contact is offered or assigned to, "" when
// none: the agent whose row lists it in Held.
func holderOf(c *contactRow) string {
	if c == nil || (c.Status != StatusOffered && c.Status != StatusAssigned) {
		return ""
	}
	return c.Agent
}

// withHeld returns held with id added (in order) or removed, as a new
// slice.
func withHeld(held []string, id string, add bool) []string {
	i, found := slices.BinarySearch(held, id)
	if found == add {
		return held
	}
	if add {
		return slices.Insert(slices.Clip(held), i, id)
	}
	return slices.Delete(slices.Clone(held), i, i+1)
}

// offerOf is the pending offer an offered contact's row holds; nil when
// it is not offered.
func offerOf(c *contactRow) *offerRow {
	if c == nil || c.Status != StatusOffered {
		return nil
	}
	return &offerRow{ID: c.OfferID, ContactID: c.ID, Agent: c.Agent, Class: c.class(),
		ExpiresAt: c.OfferExpires, ExpiresNano: c.OfferExpires.UnixNano()}
}

// timerKind names what a timer does when it fires.
type timerKind string

const (
	timerOverflow timerKind = "overflow" // contact reaches Overflow[Rule].To
	timerWiden    timerKind = "widen"    // best-skill contact widens
	timerReserve  timerKind = "reserve"  // sticky or direct hold ends
	timerWarm     timerKind = "warm"     // pending warm transfer gives up
	timerWrapup   timerKind = "wrapup"   // an agent's wrap-up slot frees
	timerGrace    timerKind = "grace"    // a disconnected agent goes offline
	timerDue      timerKind = "due"      // a scheduled callback joins its line
)

// timerRow is something due at Due. Target is the contact (or agent, for
// grace and wrap-up) it belongs to, so ending a contact drops its timers.
// Timers are not memdb rows: nobody reads them but the writer, which keeps
// them in the matching state by id, due time and target.
type timerRow struct {
	ID      string
	Kind    timerKind
	Target  string
	Agent   string
	Class   capClass
	Rule    int
	Due     time.Time
	DueNano int64
}
