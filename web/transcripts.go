package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"tellonce/agents"
	"tellonce/auth"
	"tellonce/directory"
	"tellonce/privacy"
	"tellonce/transcripts"
)

// Supervision: transcript search, review and export, and the access audit.
//
// Who sees what (docs/api.md, Supervision): an admin every case; a supervisor
// the cases that touched their agency (any leg in one of its queues); an
// agent the cases in which they answered a leg; a gateway none. Personal
// data (invariant 7): resident registration numbers were masked before
// storage; phone and card numbers are masked here for a reader without the
// pii permission. An export needs the export permission besides the read
// rule. Every search, read and export — refused ones too — is
// written to the access audit before the answer, and a read whose audit
// row cannot be written is not answered.

// supervisionRoutes registers the supervision endpoints.
func (s *Server) supervisionRoutes(h func(string, http.HandlerFunc)) {
	h("GET /v1/transcripts", s.authed(s.searchTranscripts))
	h("GET /v1/transcripts/{case_id}", s.authed(s.getTranscript))
	h("GET /v1/transcripts/{case_id}/export", s.authed(s.exportTranscript))
	h("GET /v1/audit", s.authed(s.listAudit))
}

// Bounds of what a reader may send.
const (
	maxSearchText   = 200 // characters of ?q=
	maxExportReason = 500 // characters of ?reason=
)

var errNoReview = errorf(http.StatusServiceUnavailable, codeUnavailable, "", "transcript review is not configured on this server")

// errNoExport refuses an export or a download to a reader without the
// export permission. It is answered before the case is looked at, so it
// says nothing of whether the case exists.
var errNoExport = forbiddenField("", "taking a transcript or a recording away needs the export permission, which an admin grants")

// reviewScope is what p may read, and false for a role that reads no
// transcripts (a gateway).
func reviewScope(p auth.Principal) (transcripts.Scope, bool) {
	switch p.Role {
	case directory.RoleAdmin:
		return transcripts.Scope{All: true}, true
	case directory.RoleSupervisor:
		if p.Agency != "" {
			return transcripts.Scope{Agency: p.Agency}, true
		}
	case directory.RoleAgent:
		return transcripts.Scope{Agent: p.Username}, true
	}
	return transcripts.Scope{}, false
}

// audit writes one access audit row for p's request. A server built
// without a Review (tools and tests that have no case log) has no audit
// to write to.
func (s *Server) audit(r *http.Request, p auth.Principal, e transcripts.AuditEntry) error {
	if s.review == nil {
		return nil
	}
	e.At = s.now()
	e.Username, e.Role, e.Agency, e.ClientAddr = p.Username, p.Role, p.Agency, s.clientAddr(r)
	if err := s.review.Record(r.Context(), e); err != nil {
		s.log.ErrorContext(r.Context(), "access audit not written; the read is refused", "err", err)
		return errorf(http.StatusServiceUnavailable, codeUnavailable, "", "the access audit could not be written; nothing was read")
	}
	return nil
}

// auditRefusal records a refused attempt on personal data: p is who tried
// (the zero Principal for an anonymous citizen). The refusal stands
// whether or not the row could be written: a failed audit is logged.
func (s *Server) auditRefusal(r *http.Request, p auth.Principal, e transcripts.AuditEntry) {
	s.recordRefusal(r.Context(), p, s.clientAddr(r), e)
}

// socketRefusal audits a frame refused on someone else's contact, case
// or offer.
func (s *Server) socketRefusal(rf agents.Refusal) {
	e := transcripts.AuditEntry{Action: transcripts.ActionContact, CaseID: rf.CaseID, Query: "op=" + rf.Frame}
	if rf.ContactID != "" {
		e.Query += "&contact_id=" + rf.ContactID
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.recordRefusal(ctx, rf.Login, rf.Addr, e)
}

// recordRefusal writes a denied row for p from addr (the zero Principal
// is an anonymous citizen). The refusal stands whether or not the row
// could be written: a failed audit is logged.
func (s *Server) recordRefusal(ctx context.Context, p auth.Principal, addr string, e transcripts.AuditEntry) {
	if s.review == nil {
		return
	}
	e.Outcome, e.At = transcripts.OutcomeDenied, s.now()
	e.Username, e.Role, e.Agency, e.ClientAddr = p.Username, p.Role, p.Agency, addr
	if e.Role == "" {
		e.Role = "citizen"
	}
	if err := s.review.Record(ctx, e); err != nil {
		s.log.ErrorContext(ctx, "access audit of a refusal not written", "action", e.Action, "err", err)
	}
}

// refuse audits a refused access and answers with why it was refused.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, p auth.Principal, e transcripts.AuditEntry, why error) {
	outcome := transcripts.OutcomeDenied
	var he *httpError
	if errors.As(why, &he) && he.status == http.StatusNotFound {
		outcome = transcripts.OutcomeNotFound
	}
	s.refuseAs(w, r, p, e, outcome, why)
}

// refuseAs is refuse with the audit's outcome given: a refusal answered
// as "not found" is still recorded as denied.
func (s *Server) refuseAs(w http.ResponseWriter, r *http.Request, p auth.Principal, e transcripts.AuditEntry, outcome string, why error) {
	e.Outcome = outcome
	if err := s.audit(r, p, e); err != nil {
		why = err
	}
	s.writeError(w, r, why)
}

func (s *Server) searchTranscripts(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if s.review == nil {
		s.writeError(w, r, errNoReview)
		return
	}
	entry := transcripts.AuditEntry{Action: transcripts.ActionSearch, Query: auditQuery(r.URL.Query())}
	scope, ok := reviewScope(p)
	if !ok {
		s.refuse(w, r, p, entry, forbiddenField("", "transcripts are for admins, supervisors and agents"))
		return
	}
	f, err := searchFilter(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !p.PII && searchesByNumber(f.Text) {
		s.refuse(w, r, p, entry, forbiddenField("q", "searching by a phone, card or registration number needs the pii permission"))
		return
	}
	entry.Outcome = transcripts.OutcomeOK
	if err := s.audit(r, p, entry); err != nil {
		s.writeError(w, r, err)
		return
	}
	f.Redact = !p.PII
	page, err := s.review.Search(r.Context(), scope, f)
	if errors.Is(err, transcripts.ErrCursor) {
		s.writeError(w, r, errorf(http.StatusBadRequest, codeValidation, "cursor", "is not a cursor this server gave out"))
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	list(w, page.Items, page.Next != "", func(transcripts.Summary) string { return page.Next })
}

// searchesByNumber reports whether a search text holds a registration,
// phone, card or account number: as written, or — for a number search,
// which ignores separators — once its separators are taken out
// ("0 1 0 1 2 3 4 5 6 7 8" is a phone number to the search).
func searchesByNumber(text string) bool {
	if privacy.ContainsContact(text) {
		return true
	}
	digits, ok := transcripts.NumberQuery(text)
	return ok && privacy.ContainsContact(digits)
}

// auditQuery is a search's parameters as the audit keeps them: without
// the cursor, and with any resident registration number masked before
// the values are URL-encoded (which would hide "900101 1234567" behind a
// '+').
func auditQuery(q url.Values) string {
	q.Del("cursor")
	for k, vs := range q {
		for i, v := range vs {
			vs[i] = privacy.MaskRRN(v)
		}
		q[k] = vs
	}
	return q.Encode()
}

// searchFilter reads the query parameters of a search.
func searchFilter(r *http.Request) (transcripts.Filter, error) {
	q := r.URL.Query()
	pg, err := parsePage(r)
	if err != nil {
		return transcripts.Filter{}, err
	}
	f := transcripts.Filter{
		Agency: q.Get("agency"), Queue: q.Get("queue"), Agent: q.Get("agent"),
		Disposition: q.Get("disposition"), Text: strings.TrimSpace(q.Get("q")),
		Limit: pg.Limit, After: pg.After,
	}
	if utf8.RuneCountInString(f.Text) > maxSearchText {
		return f, errorf(http.StatusBadRequest, codeValidation, "q", "is longer than 200 characters")
	}
	if f.From, err = timeParam(q, "from"); err != nil {
		return f, err
	}
	if f.To, err = timeParam(q, "to"); err != nil {
		return f, err
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return f, errorf(http.StatusBadRequest, codeValidation, "to", "must be after from")
	}
	return f, nil
}

// timeParam reads an optional RFC 3339 time.
func timeParam(q url.Values, name string) (time.Time, error) {
	v := q.Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, errorf(http.StatusBadRequest, codeValidation, name, "must be an RFC 3339 time, like 2026-03-02T09:00:00Z")
	}
	return t, nil
}

// readable reads the case of the request's {case_id} for p, auditing a
// refusal (and answering it) itself; ok is false when it answered.
func (s *Server) readable(w http.ResponseWriter, r *http.Request, p auth.Principal, entry transcripts.AuditEntry) (transcripts.Timeline, bool) {
	t, ok := s.reachable(w, r, p, entry, "transcripts", errorf(http.StatusNotFound, codeNotFound, "", "no such case in the case log"))
	if !ok {
		return transcripts.Timeline{}, false
	}
	entry.Outcome = transcripts.OutcomeOK
	if err := s.audit(r, p, entry); err != nil {
		s.writeError(w, r, err)
		return transcripts.Timeline{}, false
	}
	if !p.PII {
		t = t.Redacted()
	}
	return t, true
}

// auditReason is the reason a request gives for taking personal data
// away (an export, a download), which the access audit keeps.
func auditReason(q url.Values, doing string) (string, error) {
	reason := strings.TrimSpace(q.Get("reason"))
	switch n := utf8.RuneCountInString(reason); {
	case n == 0:
		return "", errorf(http.StatusBadRequest, codeValidation, "reason", "say why you "+doing+": it is written to the access audit")
	case n > maxExportReason:
		return "", errorf(http.StatusBadRequest, codeValidation, "reason", "is longer than 500 characters")
	}
	return reason, nil
}

// reachable is entry's case as p may see it (an interpreter's agency sees
// its part only), unmasked and not yet audited as read; otherwise it
// answers and audits the refusal: what names what is refused to a role
// outside review, and notFound answers both a case the log does not hold
// and one p may not reach, so the two cannot be told apart.
func (s *Server) reachable(w http.ResponseWriter, r *http.Request, p auth.Principal, entry transcripts.AuditEntry, what string, notFound error) (transcripts.Timeline, bool) {
	scope, ok := reviewScope(p)
	if !ok {
		s.refuse(w, r, p, entry, forbiddenField("", what+" are for admins, supervisors and agents"))
		return transcripts.Timeline{}, false
	}
	t, err := s.review.Timeline(r.Context(), entry.CaseID)
	if errors.Is(err, transcripts.ErrNotFound) {
		s.refuse(w, r, p, entry, notFound)
		return transcripts.Timeline{}, false
	}
	if err != nil {
		s.writeError(w, r, err)
		return transcripts.Timeline{}, false
	}
	if !t.Allowed(scope) {
		part, ok := t.InterpreterPart(scope)
		if !ok {
			// The audit keeps that it was a refusal.
			s.refuseAs(w, r, p, entry, transcripts.OutcomeDenied, notFound)
			return transcripts.Timeline{}, false
		}
		t = part
	}
	return t, true
}

func (s *Server) getTranscript(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if s.review == nil {
		s.writeError(w, r, errNoReview)
		return
	}
	t, ok := s.readable(w, r, p, transcripts.AuditEntry{Action: transcripts.ActionRead, CaseID: r.PathValue("case_id")})
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, t)
}

// unsafeFileChars are what a download's file name may not hold.
var unsafeFileChars = regexp.MustCompile(`[^A-Za-z0-9_.-]`)

func (s *Server) exportTranscript(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if s.review == nil {
		s.writeError(w, r, errNoReview)
		return
	}
	q := r.URL.Query()
	format := q.Get("format")
	if !slices.Contains(transcripts.ExportFormats, format) {
		s.writeError(w, r, errorf(http.StatusBadRequest, codeValidation, "format", "must be txt, json or csv"))
		return
	}
	reason, err := auditReason(q, "export this transcript")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	entry := transcripts.AuditEntry{Action: transcripts.ActionExport, CaseID: r.PathValue("case_id"), Format: format, Reason: reason}
	if !p.Export {
		s.refuse(w, r, p, entry, errNoExport)
		return
	}
	t, ok := s.readable(w, r, p, entry)
	if !ok {
		return
	}
	name := "case-" + unsafeFileChars.ReplaceAllString(t.CaseID, "_") + "." + format
	w.Header().Set("Content-Type", transcripts.ContentType(format))
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.WriteHeader(http.StatusOK)
	if err := t.Export(w, format); err != nil {
		// The status is sent; all that is left is to log it.
		s.log.WarnContext(r.Context(), "export cut short", "case", t.CaseID, "err", err)
	}
}

// auditActions are the actions ?action= may name.
var auditActions = []string{transcripts.ActionSearch, transcripts.ActionRead, transcripts.ActionExport,
	transcripts.ActionContinue, transcripts.ActionContact, transcripts.ActionAudit, transcripts.ActionOffer, transcripts.ActionErase,
	transcripts.ActionRemask}

func (s *Server) listAudit(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if s.review == nil {
		s.writeError(w, r, errNoReview)
		return
	}
	entry := transcripts.AuditEntry{Action: transcripts.ActionAudit, Query: auditQuery(r.URL.Query())}
	if !isAdmin(p) && p.Role != directory.RoleSupervisor {
		s.refuse(w, r, p, entry, forbiddenField("", "the access audit is for admins and supervisors"))
		return
	}
	q := r.URL.Query()
	pg, err := parsePage(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	f := transcripts.AuditFilter{User: q.Get("user"), CaseID: q.Get("case_id"), Action: q.Get("action"),
		Limit: pg.Limit, After: pg.After}
	if !isAdmin(p) {
		// A supervisor reviews who read their own agency's cases.
		f.Agency = p.Agency
	}
	if f.Action != "" && !slices.Contains(auditActions, f.Action) {
		s.writeError(w, r, errorf(http.StatusBadRequest, codeValidation, "action", "must be one of "+strings.Join(auditActions, ", ")))
		return
	}
	if f.From, err = timeParam(q, "from"); err != nil {
		s.writeError(w, r, err)
		return
	}
	if f.To, err = timeParam(q, "to"); err != nil {
		s.writeError(w, r, err)
		return
	}
	entry.Outcome = transcripts.OutcomeOK
	if err := s.audit(r, p, entry); err != nil {
		s.writeError(w, r, err)
		return
	}
	page, err := s.review.Audit(r.Context(), f)
	if errors.Is(err, transcripts.ErrCursor) {
		s.writeError(w, r, errorf(http.StatusBadRequest, codeValidation, "cursor", "is not a cursor this server gave out"))
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	list(w, maskAudit(page.Items, p.PII), page.Next != "", func(transcripts.AuditEntry) string { return page.Next })
}
