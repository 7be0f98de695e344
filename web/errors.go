package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"tellonce/auth"
	"tellonce/cases"
	"tellonce/directory"
	"tellonce/stats"
	"tellonce/switchboard"
)

// Error codes of the API contract.
const (
	codeValidation   = "validation"
	codeUnauthorized = "unauthorized"
	codeForbidden    = "forbidden"
	codeNotFound     = "not_found"
	codeConflict     = "conflict"
	codeTooLarge     = "too_large"
	codeRateLimited  = "rate_limited"
	codeUnavailable  = "unavailable"
	codeClosed       = "closed"
	codeInternal     = "internal"
)

// apiError is the body of every error answer.
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// httpError is an error that already knows its answer.
type httpError struct {
	status int
	apiError
}

func (e *httpError) Error() string { return e.Message }

func errorf(status int, code, field, message string) *httpError {
	return &httpError{status: status, apiError: apiError{Code: code, Message: message, Field: field}}
}

var (
	errUnauthorized = errorf(http.StatusUnauthorized, codeUnauthorized, "", "log in first: send a valid session token")
	errForbidden    = errorf(http.StatusForbidden, codeForbidden, "", "your role or agency does not allow this")
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only a value the API never answers with fails; as before, the
		// status goes out without a body.
		b.Reset()
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	// With its length the answer is complete once flushed, before the
	// access log is written, rather than when its last chunk goes.
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes()) // the client may have gone; nothing else to do
}

// writeError answers with the contract's error shape. Errors it does not
// recognise are logged and answered as a 500 without their text, which may
// hold internals.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	he := s.classify(err)
	if he.status >= 500 {
		s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	body := map[string]any{"error": he.apiError}
	var dup *cases.DuplicateContactError
	if errors.As(err, &dup) {
		body["contact_id"] = dup.ContactID // the caller's place in line
	}
	var closed *cases.ClosedError
	if errors.As(err, &closed) {
		s.closedDetails(body, closed)
	}
	writeJSON(w, he.status, body)
}

// closedDetails tells a client refused by a closed queue when it opens, in
// words for a person (Korean, English) and as a time for a machine, and
// whether the queue takes callbacks (a gateway may book one for a slot
// after the opening: GET /v1/queues/{id}/callback-slots).
func (s *Server) closedDetails(body map[string]any, ce *cases.ClosedError) {
	var loc *time.Location
	callbacks := false
	if q, err := s.board.Queue(ce.Queue); err == nil {
		if q.Hours != nil {
			loc = q.Hours.Location()
		}
		callbacks = slices.Contains(q.Channels, cases.ChannelCallback)
	}
	now := s.now()
	body["opens_at"] = nil
	if !ce.OpensAt.IsZero() {
		body["opens_at"] = ce.OpensAt.UTC()
	}
	body["label"] = stats.ClosedLabel("ko", now, ce.OpensAt, loc)
	body["label_en"] = stats.ClosedLabel("en", now, ce.OpensAt, loc)
	body["callbacks"] = callbacks
}

// classifyRouter is the contract's answer to an error of the router,
// over HTTP; nil for anything else.
func classifyRouter(err error) *httpError {
	f, ok := switchboard.Classify(err)
	if !ok {
		return nil
	}
	status := map[string]int{
		switchboard.CodeValidation: http.StatusBadRequest, switchboard.CodeNotFound: http.StatusNotFound,
		switchboard.CodeForbidden: http.StatusForbidden, switchboard.CodeConflict: http.StatusConflict,
		switchboard.CodeUnavailable: http.StatusServiceUnavailable, switchboard.CodeClosed: http.StatusConflict,
	}[f.Code]
	return errorf(status, f.Code, f.Field, f.Message)
}

func (s *Server) classify(err error) *httpError {
	var he *httpError
	var ve *directory.ValidationError
	var ce *directory.ConflictError
	switch {
	case errors.As(err, &he):
		return he
	case errors.As(err, &ve):
		return errorf(http.StatusBadRequest, codeValidation, ve.Field, ve.Message)
	case errors.As(err, &ce):
		return errorf(http.StatusConflict, codeConflict, "", ce.Message)
	case errors.Is(err, directory.ErrNotFound):
		return errorf(http.StatusNotFound, codeNotFound, "", err.Error())
	case errors.Is(err, auth.ErrInvalidToken):
		return errUnauthorized
	}
	if errors.Is(err, switchboard.ErrNotDurable) {
		// The change may be in SQL after all: the client checks first.
		return errorf(http.StatusServiceUnavailable, codeUnavailable, "", "the change could not be saved in time; it will be retried, please check its state before repeating it")
	}
	if he := classifyRouter(err); he != nil {
		return he
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return errorf(http.StatusRequestEntityTooLarge, codeTooLarge, "", "the request body is too large")
	}
	return errorf(http.StatusInternalServerError, codeInternal, "", "internal error; it has been logged")
}
