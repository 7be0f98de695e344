package transcripts

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/jmoiron/sqlx"

	tsql "tellonce/sql"
)

// maxParams keeps every statement of writeRows under SQLite's default
// limit of 32766 bound parameters.
const maxParams = 30000

// table is one multi-row INSERT target: its columns in argument order and
// what to do with a row that exists (which makes a retried write a no-op).
type table struct {
	name       string
	cols       []string
	onConflict string
}

var (
	// A case's row is written with its first contact; a contact on a case
	// the log holds closed is a reopened case (router CaseReopened), whose
	// row opens again. Any other conflict (a retried batch, a continued
	// open case) changes nothing.
	casesTable = table{"cases",
		[]string{"id", "caller_id", "caller_name", "caller_language", "context", "status", "created_at", "closed_at", "identity"},
		"ON CONFLICT (id) DO UPDATE SET status = excluded.status, closed_at = excluded.closed_at WHERE cases.status <> excluded.status"}
	closedCasesTable = table{"cases", casesTable.cols,
		"ON CONFLICT (id) DO UPDATE SET status = excluded.status, closed_at = excluded.closed_at"}
	contactsTable = table{"contacts",
		[]string{"id", "case_id", "queue_id", "agency_id", "channel", "status", "priority", "caller_id", "context",
			"callback_number", "skills", "seq", "head", "agent", "enqueued_at", "answered_at", "ended_at",
			"disposition", "warm_of", "due_at", "slot", "attempts", "conference_of", "identity", "origin", "idempotency_key"},
		""} // set in init: every column but id from excluded
	legsTable = table{"requeued_legs",
		[]string{"contact_id", "enqueued_at", "case_id", "queue_id", "agency_id", "channel", "seq", "agent",
			"answered_at", "ended_at", "disposition"},
		"ON CONFLICT (contact_id, enqueued_at) DO NOTHING"}
	eventsTable = table{"case_events",
		[]string{"case_id", "seq", "at", "type", "actor", "contact_id", "text", "data"},
		"ON CONFLICT (case_id, seq) DO NOTHING"}
)

func init() {
	sets := make([]string, 0, len(contactsTable.cols)-1)
	for _, c := range contactsTable.cols[1:] {
		sets = append(sets, c+" = excluded."+c)
	}
	contactsTable.onConflict = "ON CONFLICT (id) DO UPDATE SET " + strings.Join(sets, ", ")
}

// requeuedLegFromRow copies a contact's current leg into requeued_legs
// before the contact row moves on to its new leg, for a contact the writer
// never saw assigned (it was, before a restart; its row is committed). The
// enqueued_at guard keeps a retry (the row already moved on) from copying
// the new leg.
const requeuedLegFromRow = `INSERT INTO requeued_legs
	(contact_id, enqueued_at, case_id, queue_id, agency_id, channel, seq, agent, answered_at, ended_at, disposition)
	SELECT id, enqueued_at, case_id, queue_id, agency_id, channel, seq, agent, answered_at, ?, ?
	FROM contacts WHERE id = ? AND enqueued_at < ?
	ON CONFLICT (contact_id, enqueued_at) DO NOTHING`

// maxPreparedRows is the largest multi-row statement kept prepared: small
// batches, the common case under load, skip parsing and planning; bigger
// ones are rare and built each time.
const maxPreparedRows = 64

// statements builds and prepares the SQL for one dialect: writeRows's
// per-table statements on SQLite, pgBatch on PostgreSQL.
type statements struct {
	db *tsql.DB
	// fromRow is requeuedLegFromRow rebound for the dialect.
	fromRow string

	mu       sync.Mutex
	prepared map[stmtKey]*sqlx.Stmt
}

type stmtKey struct {
	table, conflict string
	rows            int
}

func newStatements(db *tsql.DB) *statements {
	return &statements{db: db, fromRow: db.Rebind(requeuedLegFromRow), prepared: map[stmtKey]*sqlx.Stmt{}}
}

// insert returns the statement inserting n rows into t.
func (s *statements) insert(t table, n int) string {
	var b strings.Builder
	row := "(" + strings.Repeat("?, ", len(t.cols)-1) + "?)"
	b.Grow(64 + n*(len(row)+2) + len(t.onConflict))
	b.WriteString("INSERT INTO ")
	b.WriteString(t.name)
	b.WriteString(" (")
	b.WriteString(strings.Join(t.cols, ", "))
	b.WriteString(") VALUES ")
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	b.WriteString(" ")
	b.WriteString(t.onConflict)
	return s.db.Rebind(b.String())
}

// exec runs the n-row insert into t within tx.
func (s *statements) exec(ctx context.Context, tx *sqlx.Tx, t table, n int, args []any) error {
	if n > maxPreparedRows {
		_, err := tx.ExecContext(ctx, s.insert(t, n), args...)
		return err
	}
	st, err := s.prepare(ctx, t, n)
	if err != nil {
		return err
	}
	// database/sql prepares it once per connection and reuses it.
	_, err = tx.StmtxContext(ctx, st).ExecContext(ctx, args...)
	return err
}

func (s *statements) prepare(ctx context.Context, t table, n int) (*sqlx.Stmt, error) {
	return s.prepareOnce(ctx, stmtKey{t.name, t.onConflict, n}, func() string { return s.insert(t, n) })
}

// prepareBatch returns pgBatch(shape, fence), prepared: the fence's query
// is the same for a whole term (its values are parameters), and a journal
// lives one term.
func (s *statements) prepareBatch(ctx context.Context, shape batchShape, fence string) (*sqlx.Stmt, error) {
	k := stmtKey{table: "batch", conflict: fence}
	if shape.audit {
		k.table += "+audit"
	}
	if shape.copyLegs {
		k.table += "+copy"
	}
	return s.prepareOnce(ctx, k, func() string { return pgBatch(shape, fence) })
}

// batchShape is which of pgBatch's optional parts a batch needs.
type batchShape struct {
	// audit: access_audit rows of offers.
	audit bool
	// copyLegs: legs to copy from contact rows (batchRows.requeuedFromDB),
	// rare: only for contacts assigned before a restart. The common
	// statement leaves its join out: a prepared statement keeps the plan
	// PostgreSQL made for it on each connection, and one made while
	// contacts was empty hashed the whole table in every batch as it grew.
	copyLegs bool
}

func (s *statements) prepareOnce(ctx context.Context, k stmtKey, query func() string) (*sqlx.Stmt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.prepared[k]; st != nil {
		return st, nil
	}
	st, err := s.db.PreparexContext(ctx, query())
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	s.prepared[k] = st
	return st, nil
}

// pgBatch writes a whole batch in one statement on PostgreSQL, committed on
// its own: each table's rows travel as one JSON array, numbered in this
// order from $1 (cases, ended legs, with copyLegs legs to copy from
// contact rows, contacts, case events and, with audit, access_audit rows
// of offers: see offers.go; the parts a batch lacks take no number), so
// a batch costs one round trip and one WAL flush, and its size is bound by
// no parameter limit. A statement is atomic, so the batch commits whole or
// not at all. It does what the per-table statements of writeRows do, with
// the same conflict rules, in one snapshot: the legs copied from contact
// rows read them as they were before this statement moved them on, the
// order writeRows keeps on SQLite. New, reopened and closed cases share one
// INSERT (a statement may not touch a row twice; batchRows.caseRows merges
// them), and so do the two kinds of ended legs. A batch without audit rows, the
// common kind, uses the statement without their insert.
//
// With a fence (Options.FenceQuery, its parameters after the rows'), every
// row is written only if the fence yields a row, and the statement
// returns how many it yielded: 0 means nothing was written.
func pgBatch(shape batchShape, fence string) string {
	cols := func(t table) string { return strings.Join(t.cols, ", ") }
	n := 0
	param := func() string { n++; return "$" + strconv.Itoa(n) }
	pCases, pLegs := param(), param()
	pCopy := ""
	if shape.copyLegs {
		pCopy = param()
	}
	pContacts, pEvents := param(), param()
	pAudit := ""
	if shape.audit {
		pAudit = param()
	}
	guard, head, tail := "", "WITH ", ""
	if fence != "" {
		guard = "\n\tWHERE EXISTS (SELECT FROM f)"
		head = "WITH f AS (\n\t" + fence + "\n), "
	}
	au := ""
	if shape.audit {
		au = `, au AS (
	INSERT INTO access_audit (` + cols(offerAuditTable) + `)
	SELECT ` + cols(offerAuditTable) + ` FROM json_populate_recordset(NULL::access_audit, ` + pAudit + `::json)` + guard + `
	` + offerAuditTable.onConflict + `
)`
	}
	events := `INSERT INTO case_events (` + cols(eventsTable) + `)
SELECT ` + cols(eventsTable) + ` FROM json_populate_recordset(NULL::case_events, ` + pEvents + `::json)` + guard + `
` + eventsTable.onConflict
	if fence != "" {
		// Every sub-statement runs whether or not the main query reads
		// it; the main query reports the fence.
		au += `, ev AS (
` + events + `
)`
		tail = "\nSELECT count(*) FROM f"
		events = ""
	}
	copied := ""
	if shape.copyLegs {
		copied = `
	UNION ALL
	SELECT c.id, c.enqueued_at, c.case_id, c.queue_id, c.agency_id, c.channel, c.seq, c.agent,
		c.answered_at, r.ended_at, r.disposition
	FROM json_to_recordset(` + pCopy + `::json) AS r(contact_id TEXT, disposition TEXT, ended_at TIMESTAMPTZ, enqueued_at TIMESTAMPTZ)
	JOIN contacts c ON c.id = r.contact_id AND c.enqueued_at < r.enqueued_at` + guard
	}
	return head + `cs AS (
	INSERT INTO cases (` + cols(casesTable) + `)
	SELECT ` + cols(casesTable) + ` FROM json_populate_recordset(NULL::cases, ` + pCases + `::json)` + guard + `
	` + casesTable.onConflict + `
), lg AS (
	INSERT INTO requeued_legs (` + cols(legsTable) + `)
	SELECT ` + cols(legsTable) + ` FROM json_populate_recordset(NULL::requeued_legs, ` + pLegs + `::json)` + guard + copied + `
	` + legsTable.onConflict + `
), ct AS (
	INSERT INTO contacts (` + cols(contactsTable) + `)
	SELECT ` + cols(contactsTable) + ` FROM json_populate_recordset(NULL::contacts, ` + pContacts + `::json)` + guard + `
	` + contactsTable.onConflict + `
)` + au + `
` + events + tail
}

// writeRows writes a batch's rows in tx, on SQLite. Every statement is
// idempotent, so writing a batch again after an unacknowledged commit
// changes nothing.
func (j *Journal) writeRows(ctx context.Context, tx *sqlx.Tx, b batchRows) error {
	if err := j.insertRows(ctx, tx, casesTable, len(b.cases), func(i int, a []any) []any {
		return b.cases[i].appendArgs(a)
	}); err != nil {
		return err
	}
	// Earlier legs are copied before the contact rows move on.
	for _, r := range b.requeuedFromDB {
		if _, err := tx.ExecContext(ctx, j.sqls.fromRow, r.EndedAt, r.Disposition, r.ContactID, r.EnqueuedAt); err != nil {
			return fmt.Errorf("keep requeued leg of %s: %w", r.ContactID, err)
		}
	}
	if err := j.insertRows(ctx, tx, legsTable, len(b.legs), func(i int, a []any) []any {
		return b.legs[i].appendArgs(a)
	}); err != nil {
		return err
	}
	if err := j.insertRows(ctx, tx, contactsTable, len(b.contacts), func(i int, a []any) []any {
		return b.contacts[i].appendArgs(a)
	}); err != nil {
		return err
	}
	if err := j.insertRows(ctx, tx, eventsTable, len(b.events), func(i int, a []any) []any {
		return b.events[i].appendArgs(a)
	}); err != nil {
		return err
	}
	if err := j.insertRows(ctx, tx, offerAuditTable, len(b.audit), func(i int, a []any) []any {
		return b.audit[i].appendArgs(a)
	}); err != nil {
		return err
	}
	return j.insertRows(ctx, tx, closedCasesTable, len(b.closed), func(i int, a []any) []any {
		return b.closed[i].appendArgs(a)
	})
}

// writeRowsPG writes a batch with pgBatch, on PostgreSQL, committed on its
// own (with Options.FenceQuery folded in, when set) or in tx, which
// Options.Fence has checked; like writeRows it is idempotent.
func (j *Journal) writeRowsPG(ctx context.Context, tx *sqlx.Tx, b batchRows) error {
	shape := batchShape{audit: len(b.audit) > 0, copyLegs: len(b.requeuedFromDB) > 0}
	args := make([]any, 0, 6)
	w := &j.pgJSON
	args = append(args,
		array(w, b.caseRows(), (*caseRow).appendJSON))
	rare := []any{b.legs} // encoding/json
	if shape.copyLegs {
		rare = append(rare, b.requeuedFromDB)
	}
	for _, rows := range rare {
		doc, err := jsonRows(rows)
		if err != nil {
			return err
		}
		args = append(args, doc)
	}
	args = append(args,
		array(w, b.contacts, (*contactRow).appendJSON),
		array(w, b.events, (*eventRow).appendJSON))
	if shape.audit {
		doc, err := jsonRows(b.audit)
		if err != nil {
			return err
		}
		args = append(args, doc)
	}
	fence := ""
	if tx == nil && j.opts.FenceQuery != nil {
		q, fargs := j.opts.FenceQuery(len(args) + 1)
		fence = q
		args = append(args, fargs...)
	}
	st, err := j.sqls.prepareBatch(ctx, shape, fence)
	if err != nil {
		return err
	}
	if tx != nil {
		st = tx.StmtxContext(ctx, st)
	}
	if fence == "" {
		if _, err := st.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("write batch: %w", err)
		}
		return nil
	}
	var current int
	if err := st.QueryRowContext(ctx, args...).Scan(&current); err != nil {
		return fmt.Errorf("write batch: %w", err)
	}
	if current == 0 {
		return errNotCurrent
	}
	return nil
}

// jsonRows is rows as a JSON array ("[]" for none, never null).
func jsonRows(rows any) (string, error) {
	b, err := json.Marshal(rows)
	if err != nil {
		return "", fmt.Errorf("encode rows: %w", err)
	}
	if string(b) == "null" {
		return "[]", nil
	}
	return string(b), nil
}

// insertRows writes n rows into t with as few statements as the parameter
// limit allows; args appends row i's values.
func (j *Journal) insertRows(ctx context.Context, tx *sqlx.Tx, t table, n int, args func(i int, a []any) []any) error {
	per := maxParams / len(t.cols)
	var a []any
	for start := 0; start < n; start += per {
		end := min(start+per, n)
		a = a[:0]
		for i := start; i < end; i++ {
			a = args(i, a)
		}
		if err := j.sqls.exec(ctx, tx, t, end-start, a); err != nil {
			return fmt.Errorf("insert %d rows into %s: %w", end-start, t.name, err)
		}
	}
	return nil
}

func (r caseRow) appendArgs(a []any) []any {
	return append(a, r.ID, r.CallerID, r.CallerName, r.CallerLanguage, r.Context, r.Status, r.CreatedAt, r.ClosedAt, r.Identity)
}

func (r contactRow) appendArgs(a []any) []any {
	return append(a, r.ID, r.CaseID, r.Queue, r.Agency, r.Channel, r.Status, r.Priority, r.CallerID, r.Context,
		r.CallbackNumber, r.Skills, r.Seq, r.Head, r.Agent, r.EnqueuedAt, r.AnsweredAt, r.EndedAt,
		r.Disposition, r.WarmOf, r.DueAt, r.Slot, r.Attempts, r.ConferenceOf, r.Identity, r.Origin, r.IdemKey)
}

func (r legRow) appendArgs(a []any) []any {
	return append(a, r.ContactID, r.EnqueuedAt, r.CaseID, r.Queue, r.Agency, r.Channel, r.Seq, r.Agent,
		r.AnsweredAt, r.EndedAt, r.Disposition)
}

func (r eventRow) appendArgs(a []any) []any {
	return append(a, r.CaseID, r.Seq, r.At, r.Type, r.Actor, r.ContactID, r.Text, r.Data)
}
