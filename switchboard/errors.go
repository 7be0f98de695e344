package switchboard

import (
	"errors"

	"tellonce/cases"
)

// Codes of the contract, for every client.
const (
	CodeValidation  = "validation"
	CodeNotFound    = "not_found"
	CodeForbidden   = "forbidden"
	CodeConflict    = "conflict"
	CodeUnavailable = "unavailable"
	// CodeClosed: the queue is outside its opening hours.
	CodeClosed = "closed"
)

// Failure is an error as the contract tells it: a code, the field it is
// about (if any) and a message the client may show.
type Failure struct {
	Code    string
	Field   string
	Message string
}

// Classify maps an error of the router (or Commit) to the contract's code;
// ok is false for anything else, an internal failure whose text must not
// reach a client.
func Classify(err error) (f Failure, ok bool) {
	var fe *cases.FieldError
	var dup *cases.DuplicateContactError
	switch {
	case errors.As(err, &dup):
		return Failure{Code: CodeConflict, Message: "this caller is already waiting in this queue"}, true
	case errors.Is(err, cases.ErrClosed):
		return Failure{Code: CodeClosed, Field: "queue", Message: err.Error()}, true
	case errors.As(err, &fe):
		return Failure{Code: CodeValidation, Field: fe.Field, Message: fe.Reason}, true
	case errors.Is(err, cases.ErrInvalid):
		return Failure{Code: CodeValidation, Message: err.Error()}, true
	case errors.Is(err, cases.ErrNotFound):
		return Failure{Code: CodeNotFound, Message: err.Error()}, true
	case errors.Is(err, cases.ErrForbidden):
		return Failure{Code: CodeForbidden, Message: err.Error()}, true
	case errors.Is(err, cases.ErrConflict):
		return Failure{Code: CodeConflict, Message: err.Error()}, true
	case errors.Is(err, cases.ErrUnavailable):
		return Failure{Code: CodeUnavailable, Message: err.Error()}, true
	case errors.Is(err, ErrNotDurable):
		return Failure{Code: CodeUnavailable, Message: "the change is not confirmed durable yet; check its state before repeating it"}, true
	}
	return Failure{}, false
}
