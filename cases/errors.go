package cases

import (
	"errors"
	"fmt"
)

// Sentinel errors; every error the router returns wraps one of them, so the
// web layer maps them to status codes with errors.Is.
var (
	ErrNotFound    = errors.New("not found")
	ErrForbidden   = errors.New("forbidden")
	ErrConflict    = errors.New("conflict")
	ErrInvalid     = errors.New("invalid")
	ErrUnavailable = errors.New("unavailable")
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
