// Package directory owns the registry of agencies, their queues and the
// people and machines who log in: the records, their validation, and their
// storage on either SQL backend. Who may change what is decided by the
// caller (web); directory keeps every record consistent on its own.
package directory

import (
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"tellonce/schedule"
)

// Sentinel errors, matched with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
)

// ValidationError says which field of a request is wrong and why.
type ValidationError struct {
	Field   string
	Message string
}

func (e *ValidationError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

func invalid(field, format string, args ...any) *ValidationError {
	return &ValidationError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// ConflictError is an ErrConflict with a message a person can act on.
type ConflictError struct{ Message string }

func (e *ConflictError) Error() string { return e.Message }

// Unwrap makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Unwrap() error { return ErrConflict }

func conflict(format string, args ...any) error {
	return &ConflictError{Message: fmt.Sprintf(format, args...)}
}

// Roles.
const (
	RoleAdmin      = "admin"
	RoleSupervisor = "supervisor"
	RoleAgent      = "agent"
	RoleGateway    = "gateway"
)

// Channels a queue can serve.
const (
	ChannelVoice    = "voice"
	ChannelChat     = "chat"
	ChannelCallback = "callback"
)

// Queue strategies.
const (
	StrategyLongestIdle    = "longest-idle"
	StrategyRoundRobin     = "round-robin"
	StrategyFewestContacts = "fewest-contacts"
	StrategyBestSkill      = "best-skill"
)

// Queue kinds: whom a queue serves.
const (
	// KindService is a citizens' line: contacts, transfers, callbacks.
	KindService = "service"
	// KindInterpreter holds interpreters whom agents bring into their
	// contacts; it takes no citizen of its own, so it is never public and
	// offers no callbacks.
	KindInterpreter = "interpreter"
)

// Overflow policies.
const (
	OverflowOwnFirst    = "own-first"
	OverflowOldestFirst = "oldest-first"
)

// Agency is one public body with its own call centre.
type Agency struct {
	ID          string `json:"id" db:"id"`
	Name        string `json:"name" db:"name"`
	Description string `json:"description" db:"description"`
	// TimeZone (IANA) is the zone of the agency's queues' opening hours
	// and holidays.
	TimeZone string `json:"time_zone" db:"time_zone"`
	// Holidays close every queue of the agency that has opening hours.
	Holidays  Holidays  `json:"holidays" db:"holidays"`
	CreatedAt time.Time `json:"created_at" db:"created_at"`
	UpdatedAt time.Time `json:"updated_at" db:"updated_at"`
}

// Holidays is an agency's holiday calendar, stored as JSON text.
type Holidays []schedule.Holiday

// Value stores the calendar as JSON text.
func (h Holidays) Value() (driver.Value, error) {
	if h == nil {
		return "[]", nil
	}
	b, err := json.Marshal([]schedule.Holiday(h))
	return string(b), err
}

// Scan reads the calendar from JSON text.
func (h *Holidays) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("holidays: cannot scan %T", src)
	}
	out := Holidays{}
	if err := json.Unmarshal(b, &out); err != nil {
		return fmt.Errorf("holidays: %w", err)
	}
	*h = out
	return nil
}

// SLA is a queue's service-level target: TargetPct of contacts answered
// within AnswerWithinS seconds.
type SLA struct {
	AnswerWithinS int `json:"answer_within_s"`
	TargetPct     int `json:"target_pct"`
}

// OverflowRule lets the agents of queue To take this queue's contacts once
// they have waited AfterS seconds.
type OverflowRule struct {
	AfterS int    `json:"after_s"`
	To     string `json:"to"`
}

// Queue is a line of waiting contacts owned by one agency. Its ID is
// "<agency>.<slug>".
type Queue struct {
	ID             string         `json:"id"`
	Agency         string         `json:"agency"`
	Name           string         `json:"name"`
	Kind           string         `json:"kind"`
	Channels       []string       `json:"channels"`
	RequiredSkills map[string]int `json:"required_skills"`
	Strategy       string         `json:"strategy"`
	OfferTimeoutS  int            `json:"offer_timeout_s"`
	WrapupS        int            `json:"wrapup_s"`
	WidenAfterS    int            `json:"widen_after_s"`
	Overflow       []OverflowRule `json:"overflow"`
	OverflowPolicy string         `json:"overflow_policy"`
	// HelpWhile: the queue's agents take contacts overflowed into it only
	// while more than MinIdle of them are free.
	HelpWhile      HelpWhile `json:"help_while"`
	SLA            SLA       `json:"sla"`
	CallbackAfterS int       `json:"callback_after_s"`
	// CallbackRetries is how often a callback nobody answered is tried
	// again, CallbackRetryS seconds apart.
	CallbackRetries int  `json:"callback_retries"`
	CallbackRetryS  int  `json:"callback_retry_s"`
	MaxWaiting      int  `json:"max_waiting"`
	Public          bool `json:"public"`
	// Hours are the weekly opening hours in the agency's zone; nil is
	// always open.
	Hours *schedule.Week `json:"hours"`
	// AgingS: a waiting contact gains a priority step every AgingS
	// seconds; 0 is off.
	AgingS    int       `json:"aging_s"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// HelpWhile is the health a queue keeps before its agents help other
// queues: MinIdle of them stay free for its own callers (0: always help).
type HelpWhile struct {
	MinIdle int `json:"min_idle"`
}

// MaxHelpMinIdle bounds HelpWhile.MinIdle.
const MaxHelpMinIdle = 10000

// Membership places a user in a queue at a proficiency level.
type Membership struct {
	Queue string `json:"queue"`
	Level int    `json:"level"`
}

// User is a person (admin, supervisor, agent) or a machine (gateway) that
// logs in. The password hash never leaves the store through this type.
type User struct {
	Username string         `json:"username"`
	Name     string         `json:"name"`
	Role     string         `json:"role"`
	Agency   string         `json:"agency"`
	Skills   map[string]int `json:"skills"`
	Queues   []Membership   `json:"queues"`
	MaxChats int            `json:"max_chats"`
	PII      bool           `json:"pii"`
	// Export lets the user take a transcript or a recording away (an
	// export, a download) from the cases they may read.
	Export bool `json:"export"`
	// SIPURI is the phone a telephony edge rings to bridge a call to this
	// agent (or supervisor who takes calls); "" when they have none.
	SIPURI    string    `json:"sip_uri"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Page asks for one page of a list, in id order after the cursor.
type Page struct {
	After string
	Limit int
}
