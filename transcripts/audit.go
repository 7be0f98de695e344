package transcripts

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Audit actions.
const (
	ActionSearch = "search"
	ActionRead   = "read"
	ActionExport = "export"
	// ActionContinue is an attempt to continue a case with a new contact;
	// ActionContact one to read, follow, end or change a live contact.
	// Both are audited when refused.
	ActionContinue = "continue"
	ActionContact  = "contact"
	// ActionAudit is a read of the access audit itself.
	ActionAudit = "audit"
	// ActionOffer is an offer that showed an agent a case's history: the
	// journal records it with the batch that made the offer (offers.go).
	ActionOffer = "offer"
	// ActionErase is a case erased ahead of its retention, with the
	// reason given.
	ActionErase = "erase"
	// ActionRemask is a run of "tellonce remask", which rewrote stored
	// rows under the current masking rules: its query holds how many
	// rows of each table it rewrote.
	ActionRemask = "remask"
)

// Audit outcomes: the reader got the answer, was refused, or asked for a
// case the log does not hold.
const (
	OutcomeOK       = "ok"
	OutcomeDenied   = "denied"
	OutcomeNotFound = "not_found"
	// OutcomeFailed is a maintenance run (remask) that stopped on an
	// error; what it did before stays done.
	OutcomeFailed = "failed"
)

// AuditEntry is one access to the case log: who (user, role, agency),
// when, from which address, what (a search's filters, or a case read or
// exported) and why (an export's stated reason).
type AuditEntry struct {
	ID         int64     `json:"id" db:"id"`
	At         time.Time `json:"at" db:"at"`
	Username   string    `json:"user" db:"username"`
	Role       string    `json:"role" db:"role"`
	Agency     string    `json:"agency" db:"agency_id"`
	ClientAddr string    `json:"client_addr" db:"client_addr"`
	Action     string    `json:"action" db:"action"`
	CaseID     string    `json:"case_id" db:"case_id"`
	Query      string    `json:"query" db:"query"`
	Format     string    `json:"format" db:"format"`
	Reason     string    `json:"reason" db:"reason"`
	Outcome    string    `json:"outcome" db:"outcome"`
}

// Record writes one audit row; At defaults to now. The caller answers
// only once this returned nil: a read that cannot be audited is not
// answered.
func (rv *Review) Record(ctx context.Context, e AuditEntry) error {
	if e.At.IsZero() {
		e.At = rv.now()
	}
	_, err := rv.db.ExecContext(ctx, rv.db.Rebind(`INSERT INTO access_audit
		(at, username, role, agency_id, client_addr, action, case_id, query, format, reason, outcome)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		ts(e.At), e.Username, e.Role, e.Agency, clean(e.ClientAddr), e.Action, storable(e.CaseID), storable(e.Query),
		e.Format, storable(e.Reason), e.Outcome)
	if err != nil {
		return fmt.Errorf("record %s audit: %w", e.Action, err)
	}
	return nil
}

// storableQuery is storable for a search's encoded parameters: each value
// decoded, masked and encoded again (the encoding would hide "900101
// 1234567" behind a '+'), or q itself when nothing changes.
func storableQuery(q string) string {
	vs, err := url.ParseQuery(q)
	if err != nil {
		return storable(q)
	}
	changed := false
	for _, list := range vs {
		for i, v := range list {
			if m := storable(v); m != v {
				list[i], changed = m, true
			}
		}
	}
	if !changed {
		return q
	}
	return vs.Encode()
}

// AuditFilter narrows an audit listing; every field is optional.
type AuditFilter struct {
	// Agency keeps the rows about cases that had a leg of their own in
	// this agency (not an interpreter's): what a supervisor may review of
	// who read their agency's cases.
	Agency   string
	User     string
	CaseID   string
	Action   string
	From, To time.Time // at or after From, before To
	Limit    int       // 1–500, default 50
	After    string    // the cursor of the previous page
}

// AuditPage is one page of the audit, newest first; Next is the cursor of
// the page after it, "" on the last page.
type AuditPage struct {
	Items []AuditEntry
	Next  string
}

// Audit lists audit rows matching f, newest first.
func (rv *Review) Audit(ctx context.Context, f AuditFilter) (AuditPage, error) {
	if f.Limit <= 0 {
		f.Limit = DefaultLimit
	}
	f.Limit = min(f.Limit, MaxLimit)
	var where []string
	var args []any
	cond := func(sql string, a ...any) {
		where = append(where, sql)
		args = append(args, a...)
	}
	if f.Agency != "" {
		cond(`case_id <> '' AND EXISTS (SELECT 1 FROM contacts c WHERE c.case_id = access_audit.case_id
			AND c.agency_id = ? AND c.conference_of = '')`, f.Agency)
	}
	if f.User != "" {
		cond("username = ?", f.User)
	}
	if f.CaseID != "" {
		cond("case_id = ?", f.CaseID)
	}
	if f.Action != "" {
		cond("action = ?", f.Action)
	}
	if !f.From.IsZero() {
		cond("at >= ?", ts(f.From))
	}
	if !f.To.IsZero() {
		cond("at < ?", ts(f.To))
	}
	if f.After != "" {
		at, id, err := decodeCursor(f.After)
		if err != nil {
			return AuditPage{}, err
		}
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			return AuditPage{}, ErrCursor
		}
		cond("(at < ? OR (at = ? AND id < ?))", at, at, n)
	}
	q := `SELECT id, at, username, role, agency_id, client_addr, action, case_id, query, format, reason, outcome
		FROM access_audit`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY at DESC, id DESC LIMIT ?"
	args = append(args, f.Limit+1)
	var rows []AuditEntry
	if err := rv.db.SelectContext(ctx, &rows, rv.db.Rebind(q), args...); err != nil {
		return AuditPage{}, fmt.Errorf("list audit: %w", err)
	}
	page := AuditPage{Items: rows}
	if len(rows) > f.Limit {
		page.Items = rows[:f.Limit]
		last := page.Items[f.Limit-1]
		page.Next = encodeCursor(last.At, strconv.FormatInt(last.ID, 10))
	}
	for i := range page.Items {
		it := &page.Items[i]
		it.At = it.At.UTC()
		// Rows recorded under older masking rules (see storable).
		it.CaseID, it.Query, it.Reason = storable(it.CaseID), storableQuery(it.Query), storable(it.Reason)
	}
	if page.Items == nil {
		page.Items = []AuditEntry{}
	}
	return page, nil
}
