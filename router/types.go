package router

import (
	"slices"
	"time"
)

// capClass is the capacity an agent spends on a contact: voice and callback
// contacts use the exclusive voice slot, chats use one of MaxChats slots.
type capClass string

const (
	classVoice capClass = "voice"
	classChat  capClass = "chat"
)

func classOf(c Channel) capClass {
	if c == ChannelChat {
		return classChat
	}
	return classVoice
}

// EnqueueRequest asks for a new contact in a queue.
type EnqueueRequest struct {
	Channel        Channel
	Queue          string
	Caller         Caller
	Priority       int
	Context        ContactContext
	CallbackNumber string
	// Identity is who the request is known to come from, kind and all: the
	// key of the one-place rule and of a case's ownership ("tel:<number>"
	// for a number the phone network asserted, "chat:<device>" for one
	// chat device). Empty means the caller id is trusted as it stands
	// (callers inside the process: simulations, tests).
	Identity string
	// CaseID continues an open case: allowed when CaseProven (the caller
	// checked the case's continuation token) or when Identity is the one
	// the case was opened with; otherwise the case is not found.
	CaseID     string
	CaseProven bool
	// IdempotencyKey names this request: the same identity sending the
	// same key again while its contact is live gets that contact back
	// rather than a conflict (a retry after a lost answer keeps its place).
	IdempotencyKey string
	// Skills are extra routing requirements of this contact, on top of the
	// queue's and the caller's language (lang:<language>, level 1).
	Skills map[string]int
	// CallbackAt books a callback time slot (see CallbackSlots): the
	// contact waits, scheduled, until the slot starts. Only for channel
	// callback.
	CallbackAt time.Time
	// HandleTime is the queue's average handle time, which sizes the slots
	// of a booking; zero means 5m.
	HandleTime time.Duration
	// History is the caller's earlier cases, newest first, as the API
	// layer looked them up in the durable log for a trusted Identity (at
	// most MaxHistory). A new case keeps them and its offers show them;
	// a continued case keeps the history it was opened with.
	History []PastCase
	// Reopen brings back a closed case that CaseID names, from the durable
	// log (no live contacts), when the router no longer holds it: the case
	// opens again with its whole timeline and the new contact is a new leg
	// of it. The API layer decides which closed cases may be reopened (the
	// caller's proof, the window). Ignored when the case is live.
	Reopen *CaseSnapshot
	// PreviousCaseID links a new case to an earlier, closed one that the
	// caller continued too late to reopen; the new case's first timeline
	// entry names it (data previous_case_id).
	PreviousCaseID string
}

func hasChannel(chs []Channel, c Channel) bool { return slices.Contains(chs, c) }
