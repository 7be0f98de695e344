package cases

import "time"

// The requests the router takes whose shape its callers build: a
// transfer's target, a callback, a follow-up, an interpreter,
// and the results a gateway reports.

// Target is where a transfer goes: exactly one of Queue and Agent.
type Target struct {
	Queue string
	Agent string
}

// DefaultHandleTime sizes callback slots when a queue has no handle time
// measured yet.
const DefaultHandleTime = 5 * time.Minute

// CallbackRequest turns a waiting contact into a callback.
type CallbackRequest struct {
	// Number is the phone number to call back.
	Number string
	// At books the slot that starts then (see CallbackSlots); zero keeps
	// the contact's place in line (virtual hold).
	At time.Time
	// HandleTime is the queue's average handle time, which sizes the
	// slots; zero means DefaultHandleTime.
	HandleTime time.Duration
}

// Slot is a callback time slot of a queue. Capacity follows the staffing:
// the queue's agents logged in now, times the slot's length over the
// handle time, times the callback share (Config.CallbackSharePct). It is
// recomputed on every read, so as agents log in or out, the open slots grow
// or shrink; bookings already made stay.
type Slot struct {
	Start    time.Time
	End      time.Time
	Capacity int
	Booked   int
}

// Free is how many more callbacks the slot takes.
func (s Slot) Free() int { return max(0, s.Capacity-s.Booked) }

// Callback results a gateway (or the agent placing the call) reports.
const (
	CallbackAnswered = "answered"
	CallbackNoAnswer = "no_answer"
	CallbackBusy     = "busy"
	CallbackFailed   = "failed"
)

// ValidCallbackResult reports whether s is one of the callback results.
func ValidCallbackResult(s string) bool {
	switch s {
	case CallbackAnswered, CallbackNoAnswer, CallbackBusy, CallbackFailed:
		return true
	}
	return false
}

// FollowUp is a second-line callback: the agent ends the contact and files
// a callback in another queue (of any agency) carrying the whole case.
type FollowUp struct {
	// Queue takes the callback; it must offer callbacks.
	Queue string
	// Number to call; empty means the contact's own callback number.
	Number string
	// Note is shown first to the agent who makes the call.
	Note string
	// Summary closes the current contact (its disposition is
	// callback_filed).
	Summary string
}

// InterpretRequest is an agent's request for an interpreter.
type InterpretRequest struct {
	// Language defaults to the caller's.
	Language string
	// Note is for the interpreter: what they are needed for.
	Note string
	// ShareHistory lets the interpreter read the case's earlier messages
	// and speech-to-text (never its notes) besides the conversation from
	// the moment they join.
	ShareHistory bool
}

// Results of ConnectFailed: why the agent's phone did not take the call.
const (
	ConnectNoAnswer = "no_answer"
	ConnectBusy     = "busy"
	ConnectFailed   = "failed"
)

// ValidConnectResult says whether s is a result ConnectFailed takes.
func ValidConnectResult(s string) bool {
	return s == ConnectNoAnswer || s == ConnectBusy || s == ConnectFailed
}

// Ending reasons of a call, in the ended entry's data ("reason") and the
// ended event's Data.
const (
	EndAgentHangup  = "agent_hangup"
	EndCallerHangup = "caller_hangup"
)
