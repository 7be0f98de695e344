package cases

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors; every error the router returns wraps one of them, so the
// web layer maps them to status codes with errors.Is.
var (
	ErrNotFound    = errors.New("not found")
	ErrForbidden   = errors.New("forbidden")
	ErrConflict    = errors.New("conflict")
	ErrInvalid     = errors.New("invalid")
	ErrUnavailable = errors.New("unavailable")
	// ErrClosed: the queue is outside its opening hours (ClosedError).
	ErrClosed = errors.New("closed")
)

// FieldError is an invalid input field; it wraps ErrInvalid.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return fmt.Sprintf("invalid %s: %s", e.Field, e.Reason) }

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// Invalid is a FieldError for field, its reason formatted.
func Invalid(field, format string, args ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// ClosedError says a queue takes no new contacts at the moment asked
// (outside its opening hours); it wraps ErrClosed and carries when it next
// opens (zero when it never does).
type ClosedError struct {
	Queue   string
	OpensAt time.Time
}

func (e *ClosedError) Error() string {
	if e.OpensAt.IsZero() {
		return fmt.Sprintf("queue %s is closed", e.Queue)
	}
	return fmt.Sprintf("queue %s is closed until %s", e.Queue, e.OpensAt.UTC().Format(time.RFC3339))
}

// Unwrap makes errors.Is(err, ErrClosed) hold.
func (e *ClosedError) Unwrap() error { return ErrClosed }

// DuplicateContactError says the caller already holds a live contact in the
// queue; it wraps ErrConflict and carries the existing contact's id.
type DuplicateContactError struct {
	Queue     string
	CallerID  string
	ContactID string
}

func (e *DuplicateContactError) Error() string {
	return fmt.Sprintf("caller already has live contact %s in queue %s", e.ContactID, e.Queue)
}

// Unwrap makes errors.Is(err, ErrConflict) hold.
func (e *DuplicateContactError) Unwrap() error { return ErrConflict }
