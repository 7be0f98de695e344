package cases

import (
	"maps"
	"slices"
	"time"
)

// Channel is how a citizen reaches the centre.
type Channel string

// Channels a contact may arrive on.
const (
	ChannelVoice    Channel = "voice"
	ChannelChat     Channel = "chat"
	ChannelCallback Channel = "callback"
)

// Valid says whether c is one of the known channels.
func (c Channel) Valid() bool {
	return c == ChannelVoice || c == ChannelChat || c == ChannelCallback
}

// Strategy decides which of several eligible agents gets a contact.
type Strategy string

// Strategies a queue may use; the zero value means StrategyLongestIdle.
const (
	StrategyLongestIdle    Strategy = "longest-idle"
	StrategyRoundRobin     Strategy = "round-robin"
	StrategyFewestContacts Strategy = "fewest-contacts"
	StrategyBestSkill      Strategy = "best-skill"
)

// OverflowPolicy says how a queue's agents weigh contacts that overflowed
// into the queue against the queue's own contacts.
type OverflowPolicy string

// Overflow policies; the zero value means OverflowOwnFirst.
const (
	OverflowOwnFirst    OverflowPolicy = "own-first"
	OverflowOldestFirst OverflowPolicy = "oldest-first"
)

// OverflowRule lets the agents of queue To take a contact once it has waited
// After in its own queue.
type OverflowRule struct {
	After time.Duration
	To    string
}

// HelpWhile is the health a queue keeps before its agents help other
// queues: they take contacts overflowed into it only while it holds.
type HelpWhile struct {
	// MinIdle is a reserve: the queue's agents take an overflowed contact
	// only while more than MinIdle of them are free for its channel, so
	// that many stay free for the queue's own callers; zero means no
	// reserve.
	MinIdle int
}

// MaxHelpMinIdle bounds HelpWhile.MinIdle.
const MaxHelpMinIdle = 10000

// SLA is a queue's service-level target (used by statistics, not routing).
type SLA struct {
	AnswerWithin time.Duration
	TargetPct    int
}

// Defaults for queue timings, from the routing policy.
const (
	DefaultOfferTimeout = 20 * time.Second
	DefaultWrapup       = 10 * time.Second
)

// QueueConfig is one agency queue as the directory configures it.
type QueueConfig struct {
	ID             string
	Agency         string
	Name           string
	Channels       []Channel
	RequiredSkills map[string]int
	Strategy       Strategy
	// OfferTimeout is how long an agent has to accept; zero means 20s.
	OfferTimeout time.Duration
	// Wrapup is the after-contact work time; zero means 10s and a negative
	// value means no wrap-up at all (the API's wrapup_s: 0).
	Wrapup time.Duration
	// WidenAfter is how long a best-skill contact waits for the most
	// proficient agents before lower levels may take it; zero means no wait.
	WidenAfter     time.Duration
	Overflow       []OverflowRule
	OverflowPolicy OverflowPolicy
	// HelpWhile limits when the queue's agents take contacts that
	// overflowed into it from other queues; the zero value: always.
	HelpWhile HelpWhile
	SLA       SLA
	// CallbackAfter is the estimated wait past which a caller may ask for
	// a callback; zero means callbacks are not offered to waiting callers
	// (the queue may still take callback contacts). The router does not
	// use it: the estimate lives outside the router, so the API layer
	// decides when to offer one.
	CallbackAfter time.Duration
	// CallbackRetries is how many times a callback nobody answered is
	// tried again before it closes as callback_failed.
	CallbackRetries int
	// CallbackRetryAfter is the pause before such a retry; zero means 5m.
	CallbackRetryAfter time.Duration
	// MaxWaiting bounds the waiting line; zero means unbounded.
	MaxWaiting int
	// Kind is QueueService (citizens' lines) or QueueInterpreter (agents
	// who join other contacts as interpreters); empty means service.
	Kind QueueKind
	// Aging lets a waiting contact gain one priority step per Aging of
	// its case's age, so low priorities are not starved; zero means off.
	// The rank is continuous (see the router's contactRow.computeRank).
	Aging time.Duration
	// Hours says when the queue takes new contacts; nil means always.
	Hours Hours
}

// Hours is a queue's opening hours as the router asks them, always for the
// time of the call (schedule.Schedule implements it).
type Hours interface {
	Open(t time.Time) bool
	// NextOpen is the first moment at or after t when the queue is open;
	// ok is false when it never opens.
	NextOpen(t time.Time) (at time.Time, ok bool)
	// Location is the zone the hours are told in.
	Location() *time.Location
}

// MaxAging bounds QueueConfig.Aging so the aged rank keeps its width.
const MaxAging = 24 * time.Hour

// QueueKind says whom a queue serves.
type QueueKind string

// Queue kinds.
const (
	// QueueService takes citizens' contacts and transfers.
	QueueService QueueKind = "service"
	// QueueInterpreter takes only interpreter requests from agents: a
	// conference leg waits here for an agent with the needed language.
	QueueInterpreter QueueKind = "interpreter"
)

// DefaultCallbackRetryAfter is the pause before a failed callback is tried
// again when the queue sets none.
const DefaultCallbackRetryAfter = 5 * time.Minute

// Interpreters says whether the queue is an interpreter line.
func (q QueueConfig) Interpreters() bool { return q.Kind == QueueInterpreter }

// OffersCallbacks says whether waiting callers may ever be offered a
// callback: the queue takes callbacks and CallbackAfter is above zero.
func (q QueueConfig) OffersCallbacks() bool {
	return q.CallbackAfter > 0 && !q.Interpreters() && hasChannel(q.Channels, ChannelCallback)
}

// OffersCallback says whether a caller facing an estimated wait may ask for
// a callback now: the queue offers callbacks and the wait passes
// CallbackAfter.
func (q QueueConfig) OffersCallback(wait time.Duration) bool {
	return q.OffersCallbacks() && wait > q.CallbackAfter
}

// EffectiveCallbackRetryAfter is CallbackRetryAfter with its default.
func (q QueueConfig) EffectiveCallbackRetryAfter() time.Duration {
	if q.CallbackRetryAfter <= 0 {
		return DefaultCallbackRetryAfter
	}
	return q.CallbackRetryAfter
}

// Clone copies q with its own slices and maps.
func (q QueueConfig) Clone() QueueConfig {
	q.Channels = slices.Clone(q.Channels)
	q.RequiredSkills = maps.Clone(q.RequiredSkills)
	q.Overflow = slices.Clone(q.Overflow)
	return q
}

// EffectiveOfferTimeout is OfferTimeout with its default.
func (q QueueConfig) EffectiveOfferTimeout() time.Duration {
	if q.OfferTimeout <= 0 {
		return DefaultOfferTimeout
	}
	return q.OfferTimeout
}

// EffectiveWrapup is the wrap-up time with its default; zero means none.
func (q QueueConfig) EffectiveWrapup() time.Duration {
	switch {
	case q.Wrapup == 0:
		return DefaultWrapup
	case q.Wrapup < 0:
		return 0
	}
	return q.Wrapup
}

// EffectiveStrategy is Strategy with its default.
func (q QueueConfig) EffectiveStrategy() Strategy {
	if q.Strategy == "" {
		return StrategyLongestIdle
	}
	return q.Strategy
}

// OldestFirst says whether overflowed contacts compete by age alone.
func (q QueueConfig) OldestFirst() bool { return q.OverflowPolicy == OverflowOldestFirst }

// AgentProfile is an agent as the directory configures them.
type AgentProfile struct {
	Username string
	Name     string
	Agency   string
	// Skills maps a skill ("lang:en", "topic:tax") to a proficiency level.
	Skills map[string]int
	// Queues maps a queue id to the agent's level in it; the highest level
	// (then the lowest id) is the agent's first queue.
	Queues map[string]int
	// MaxChats is how many chats the agent handles at once; zero means 1.
	MaxChats int
	// Phone is the agent's SIP address (the directory's sip_uri) that a
	// telephony edge rings to bridge a call; empty: the phone the agent
	// registered with the edge under their username.
	Phone string
}

// Clone copies p with its own maps.
func (p AgentProfile) Clone() AgentProfile {
	p.Skills = maps.Clone(p.Skills)
	p.Queues = maps.Clone(p.Queues)
	return p
}

// EffectiveMaxChats is MaxChats with its default.
func (p AgentProfile) EffectiveMaxChats() int {
	if p.MaxChats <= 0 {
		return 1
	}
	return p.MaxChats
}

// FirstQueue is where a direct transfer to this agent falls back to.
func (p AgentProfile) FirstQueue() string {
	best, bestLevel := "", 0
	for q, lvl := range p.Queues {
		if best == "" || lvl > bestLevel || (lvl == bestLevel && q < best) {
			best, bestLevel = q, lvl
		}
	}
	return best
}

// AgentState is an agent's routing state. Offline, available, break and
// not_ready are chosen (not_ready by the router after an offer timeout);
// busy and wrapup are derived from the capacity in use.
type AgentState string

// Agent states.
const (
	StateOffline   AgentState = "offline"
	StateAvailable AgentState = "available"
	StateBreak     AgentState = "break"
	StateNotReady  AgentState = "not_ready"
	StateBusy      AgentState = "busy"
	StateWrapup    AgentState = "wrapup"
)

// ContactStatus is where a contact is in its life.
type ContactStatus string

// Contact statuses.
const (
	StatusQueued ContactStatus = "queued"
	// StatusScheduled is a callback waiting for its time (a booked slot or
	// a retry) before it joins the line.
	StatusScheduled ContactStatus = "scheduled"
	StatusOffered   ContactStatus = "offered"
	StatusAssigned  ContactStatus = "assigned"
	StatusEnded     ContactStatus = "ended"
)

// Live says whether the contact has not ended.
func (s ContactStatus) Live() bool { return s != StatusEnded }

// Caller describes the citizen as the conversation shows them. ID labels
// the conversation (a phone number, or what a chat user typed); it proves
// nothing: the one-place rule and case ownership key on the request's
// Identity.
type Caller struct {
	ID       string
	Name     string
	Language string
}

// ContactContext is what the citizen already told the IVR or the widget.
type ContactContext struct {
	Summary    string
	IVR        []string
	Attributes map[string]string
}

// Clone copies c with its own slice and map.
func (c ContactContext) Clone() ContactContext {
	c.IVR = slices.Clone(c.IVR)
	c.Attributes = maps.Clone(c.Attributes)
	return c
}

// TransferMode is cold (hand over now) or warm (hand over when the target
// accepts).
type TransferMode string

// Transfer modes.
const (
	TransferCold TransferMode = "cold"
	TransferWarm TransferMode = "warm"
)

// PartyRole says who speaks in a contact.
type PartyRole string

// Party roles.
const (
	RoleAgent   PartyRole = "agent"
	RoleCitizen PartyRole = "citizen"
	// RoleInterpreter is an agent speaking as the interpreter of a contact
	// (only in transcripts from the gateway; chat messages of an
	// interpreter come from their own conference leg).
	RoleInterpreter PartyRole = "interpreter"
)

// Party is the author of a message: an agent (with username) or the citizen.
type Party struct {
	Role     PartyRole
	Username string
}

// AsAgent is the agent username as a message author.
func AsAgent(username string) Party { return Party{Role: RoleAgent, Username: username} }

// AsCitizen is the contact's citizen as a message author.
func AsCitizen() Party { return Party{Role: RoleCitizen} }

func hasChannel(chs []Channel, c Channel) bool {
	return slices.Contains(chs, c)
}
