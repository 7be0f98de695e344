package transcripts

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"

	"tellonce/privacy"
	tsql "tellonce/sql"
)

// ErrNotFound is returned for a case the log does not hold (never stored,
// or purged).
var ErrNotFound = errors.New("case not found")

// ErrCursor is returned for a cursor this store did not give out.
var ErrCursor = errors.New("not a cursor this server gave out")

// Review reads the case log for people: search, one case's timeline, and
// the access audit; and it purges what outlived its retention. The caller
// (web) decides who may see what and passes it as a Scope.
type Review struct {
	db   *tsql.DB
	now  func() time.Time
	log  *slog.Logger
	keep Retention
	// retained, when set (by tests), hears of every purge RunRetention
	// has finished.
	retained func()
	// owed holds the tables whose deleted rows still await a scrub (see
	// scrub in retention.go).
	scrubMu sync.Mutex
	owed    map[string]bool
	// files deletes a case's recordings with it; nil when the server
	// keeps none.
	files CaseFiles
	// earlier is Earlier's query, prepared (see earlierQuery).
	earlier earlierStmt
}

// CaseFiles deletes the files that belong to a case (its recordings):
// what a purge or an erasure removes besides the case's rows.
type CaseFiles interface {
	PurgeCase(ctx context.Context, caseID string) (int, error)
}

// ReviewOptions configures a Review.
type ReviewOptions struct {
	// Retention says how long closed cases and audit rows are kept; the
	// zero value keeps the defaults.
	Retention Retention
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Log defaults to slog.Default().
	Log *slog.Logger
	// Files, when set, holds the cases' recordings: a purge or an erasure
	// deletes a case's files in the same operation as its rows.
	Files CaseFiles
}

// NewReview returns a Review over db, or an error when the retention
// settings contradict each other.
func NewReview(db *tsql.DB, opts ReviewOptions) (*Review, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	keep := opts.Retention.withDefaults()
	if err := keep.Validate(); err != nil {
		return nil, err
	}
	owed := map[string]bool{"access_audit": true}
	for _, t := range caseTables {
		owed[t] = true
	}
	return &Review{db: db, now: opts.Now, log: opts.Log, keep: keep, owed: owed, files: opts.Files}, nil
}

// Scope is what a reader may see: every case (All), the cases that
// touched Agency (any leg in one of its queues), or the cases in which
// Agent answered a leg. The zero Scope sees nothing.
type Scope struct {
	All    bool
	Agency string
	Agent  string
}

// Filter narrows a search. Every field is optional; all that are set must
// hold.
type Filter struct {
	Agency      string    // a leg in this agency
	Queue       string    // a leg in this queue
	Agent       string    // a leg answered by this agent
	Disposition string    // a leg ended with this disposition
	From, To    time.Time // started at or after From, before To
	// Text is found anywhere in the timeline's text (messages, speech-to-
	// text, notes, summaries, transfer notes), as a substring, ignoring
	// case; a number (NumberQuery) is found written with any separators
	// or none.
	Text  string
	Limit int    // 1–500, default 50
	After string // the cursor of the previous page
	// Redact masks phone and card numbers in the snippets, for a reader
	// without the pii permission. The whole text is masked before it is
	// cut, so a cut never leaves part of a number unmasked.
	Redact bool
}

// Default and largest page sizes.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// MinIndexedText is the shortest search text the trigram indexes serve:
// shorter text is looked for by scanning (LIKE), which is slower.
const MinIndexedText = 3

// Summary is one case in a search answer.
type Summary struct {
	CaseID       string     `json:"case_id"`
	Status       string     `json:"status"`
	StartedAt    time.Time  `json:"started_at"`
	EndedAt      *time.Time `json:"ended_at"`
	Agencies     []string   `json:"agencies"`
	Queues       []string   `json:"queues"`
	Agents       []string   `json:"agents"`
	Dispositions []string   `json:"dispositions"`
	// Snippet is the text around the first match of Filter.Text, or the
	// case's summary when there is no text to match.
	Snippet string `json:"snippet"`
}

// SearchPage is one page of a search. Next is the cursor (Filter.After)
// of the page after it, "" on the last page.
type SearchPage struct {
	Items []Summary
	Next  string
}

type foundCase struct {
	ID        string     `db:"id"`
	Status    string     `db:"status"`
	Context   string     `db:"context"`
	CreatedAt time.Time  `db:"created_at"`
	ClosedAt  *time.Time `db:"closed_at"`
}

// Search lists the cases in scope that match f, newest first, a page at a
// time (keyset pagination on started_at and case id).
//
// A text search finds text only as the reader sees it: a case whose
// matches are all masked for this reader (the middle of a phone number
// without pii; a resident registration number stored under an older rule,
// for anyone) is not found, so a search cannot confirm a masked number
// one digit at a time. The store is read in batches until a page of
// visible cases and one more are found, or it runs out, so that neither a
// short page nor a cursor to an empty page tells of a hidden match.
func (rv *Review) Search(ctx context.Context, scope Scope, f Filter) (SearchPage, error) {
	if f.Limit <= 0 {
		f.Limit = DefaultLimit
	}
	f.Limit = min(f.Limit, MaxLimit)
	want := f.Limit
	if f.Text != "" {
		f.Limit = max(f.Limit, searchBatch)
	}
	var (
		kept     []foundCase
		snippets = map[string]string{}
	)
	for {
		q, args, err := rv.searchQuery(scope, f)
		if err != nil {
			return SearchPage{}, err
		}
		var found []foundCase
		if err := rv.selectCases(ctx, &found, f.Text, q, args); err != nil {
			return SearchPage{}, fmt.Errorf("search cases: %w", err)
		}
		more := len(found) > f.Limit
		if more {
			found = found[:f.Limit]
		}
		if f.Text == "" {
			kept = found
			if more {
				kept = append(kept, foundCase{}) // stands for "there is more"
			}
			break
		}
		if len(found) > 0 {
			ids := make([]string, len(found))
			for i, c := range found {
				ids[i] = c.ID
			}
			batch, err := rv.snippets(ctx, ids, f.Text, f.Redact)
			if err != nil {
				return SearchPage{}, err
			}
			for _, c := range found {
				if snip, visible := batch[c.ID]; visible {
					kept = append(kept, c)
					snippets[c.ID] = snip
				}
			}
		}
		if len(kept) > want || !more {
			break
		}
		last := found[len(found)-1]
		f.After = encodeCursor(last.CreatedAt, last.ID)
	}
	page := SearchPage{Items: []Summary{}}
	if len(kept) > want {
		kept = kept[:want]
		last := kept[want-1]
		page.Next = encodeCursor(last.CreatedAt, last.ID)
	}
	if len(kept) == 0 {
		return page, nil
	}
	ids := make([]string, len(kept))
	for i, c := range kept {
		ids[i] = c.ID
	}
	legs, err := rv.legsOf(ctx, ids)
	if err != nil {
		return SearchPage{}, err
	}
	for _, c := range kept {
		s := Summary{CaseID: c.ID, Status: c.Status, StartedAt: c.CreatedAt.UTC(), EndedAt: utcPtr(c.ClosedAt)}
		s.Agencies, s.Queues, s.Agents, s.Dispositions = touched(legs[c.ID])
		s.Dispositions = mapSlice(s.Dispositions, func(d string) string { return privacy.Mask(d, !f.Redact) })
		if f.Text != "" {
			s.Snippet = snippets[c.ID]
		} else if cx, err := parseContext(c.Context); err == nil {
			s.Snippet = cut(privacy.Mask(cx.Summary, !f.Redact), 0, 0)
		}
		page.Items = append(page.Items, s)
	}
	return page, nil
}

// searchBatch is how many cases a text search reads from the store at a
// time, at least: some may be dropped as invisible to the reader.
const searchBatch = 100

// searchQuery builds the search's SQL (with ? placeholders) and its
// arguments. Each condition is an EXISTS on the legs or the timeline, so
// the planner may walk cases newest first and stop at the page's end, or
// start from the text index when the text is rare.
func (rv *Review) searchQuery(scope Scope, f Filter) (string, []any, error) {
	var where []string
	var args []any
	cond := func(sql string, a ...any) {
		where = append(where, sql)
		args = append(args, a...)
	}
	switch {
	case scope.All:
	case scope.Agency != "":
		// Interpreter legs give an agency no part in a search: see
		// Timeline.InterpreterPart.
		cond(legIn("c.agency_id = ? AND c.conference_of = ''"), scope.Agency)
	case scope.Agent != "":
		cond(answeredOwnLeg(), scope.Agent, scope.Agent)
	default:
		cond("1 = 0")
	}
	if f.Agency != "" {
		cond(legIn("c.agency_id = ?"), f.Agency)
	}
	if f.Queue != "" {
		cond(legIn("c.queue_id = ?"), f.Queue)
	}
	if f.Agent != "" {
		cond(answeredBy(), f.Agent, f.Agent)
	}
	if f.Disposition != "" {
		cond(legIn("c.disposition = ?"), f.Disposition)
	}
	if !f.From.IsZero() {
		cond("k.created_at >= ?", ts(f.From))
	}
	if !f.To.IsZero() {
		cond("k.created_at < ?", ts(f.To))
	}
	if f.Text != "" {
		sql, a := rv.textMatch(f.Text)
		cond(sql, a...)
	}
	if f.After != "" {
		at, id, err := decodeCursor(f.After)
		if err != nil {
			return "", nil, err
		}
		cond("(k.created_at < ? OR (k.created_at = ? AND k.id < ?))", at, at, id)
	}
	q := `SELECT k.id, k.status, k.context, k.created_at, k.closed_at FROM cases k`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY k.created_at DESC, k.id DESC LIMIT ?"
	args = append(args, f.Limit+1)
	return q, args, nil
}

// legIn is "some contact (leg) of case k matches cond". Re-queued legs
// need no second look here: they keep their contact's queue and agency,
// and their disposition is always "requeued".
func legIn(cond string) string {
	return "EXISTS (SELECT 1 FROM contacts c WHERE c.case_id = k.id AND " + cond + ")"
}

// answeredBy is "an agent (the two ? are the same name) answered a leg of
// case k": the agent of a contact row is also the one it was merely
// offered to, so only answered legs count; a leg that went back to its
// queue is kept in requeued_legs.
func answeredBy() string {
	return "(EXISTS (SELECT 1 FROM contacts c WHERE c.case_id = k.id AND c.agent = ? AND c.answered_at IS NOT NULL)" +
		" OR EXISTS (SELECT 1 FROM requeued_legs l WHERE l.case_id = k.id AND l.agent = ? AND l.answered_at IS NOT NULL))"
}

// answeredOwnLeg is answeredBy without interpreter legs: an interpreter's
// access to a case ends with their leg.
func answeredOwnLeg() string {
	return "(EXISTS (SELECT 1 FROM contacts c WHERE c.case_id = k.id AND c.agent = ? AND c.answered_at IS NOT NULL AND c.conference_of = '')" +
		" OR EXISTS (SELECT 1 FROM requeued_legs l WHERE l.case_id = k.id AND l.agent = ? AND l.answered_at IS NOT NULL" +
		" AND NOT EXISTS (SELECT 1 FROM contacts x WHERE x.id = l.contact_id AND x.conference_of <> '')))"
}

// textMatch is the condition "some timeline entry of case k holds text".
// PostgreSQL: ILIKE, which the trigram GIN index serves for three
// characters or more; shorter text is found where it begins or ends a
// word (see shortWordThreshold). SQLite: the FTS5 trigram table for three
// characters or more; shorter text falls back to LIKE over case_events (a
// scan).
//
// A number search (NumberQuery) compares the entries' text with its
// separators taken out: no index serves it, so it reads the entries of
// the cases it walks.
func (rv *Review) textMatch(text string) (string, []any) {
	if digits, ok := NumberQuery(text); ok {
		return `EXISTS (SELECT 1 FROM case_events e WHERE e.case_id = k.id AND ` + strippedSQL("e.text") + ` LIKE ?)`,
			[]any{"%" + digits + "%"}
	}
	like := "%" + escapeLike(text) + "%"
	short := utf8.RuneCountInString(text) < MinIndexedText
	if rv.db.Dialect == tsql.Postgres {
		if short {
			return `EXISTS (SELECT 1 FROM case_events e WHERE e.case_id = k.id AND ? <% e.text AND e.text ILIKE ? ESCAPE '\')`,
				[]any{text, like}
		}
		return `EXISTS (SELECT 1 FROM case_events e WHERE e.case_id = k.id AND e.text ILIKE ? ESCAPE '\')`, []any{like}
	}
	if short {
		return `EXISTS (SELECT 1 FROM case_events e WHERE e.case_id = k.id AND e.text LIKE ? ESCAPE '\')`, []any{like}
	}
	return `k.id IN (SELECT case_id FROM case_events_fts WHERE case_events_fts MATCH ?)`, []any{ftsPhrase(text)}
}

// shortWordThreshold is the word similarity at which a one- or
// two-character search on PostgreSQL finds a word that begins or ends with
// it. pg_trgm pads each word with spaces, so "여권" is the trigrams "  여",
// " 여권" and "여권 ": a word that begins with it ("여권을") holds two of the
// three, one that ends with it ("재발급여권") one. A third is enough for the
// GIN index to find both; the ILIKE beside it keeps only real matches.
// Inside a longer word ("분실여권을") there is no trigram to find it by:
// searching anywhere inside words takes three characters. On the embedded
// SQLite store short text is scanned for and found anywhere.
const shortWordThreshold = 0.3

// selectCases runs the search query. A short PostgreSQL search sets the
// word-similarity threshold for its own read-only transaction.
func (rv *Review) selectCases(ctx context.Context, dest *[]foundCase, text, q string, args []any) error {
	if rv.db.Dialect != tsql.Postgres || text == "" || utf8.RuneCountInString(text) >= MinIndexedText {
		return rv.db.SelectContext(ctx, dest, rv.db.Rebind(q), args...)
	}
	tx, err := rv.db.BeginTxx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("SET LOCAL pg_trgm.word_similarity_threshold = %g", shortWordThreshold)); err != nil {
		return err
	}
	return tx.SelectContext(ctx, dest, rv.db.Rebind(q), args...)
}

// escapeLike makes s match itself in a LIKE pattern with ESCAPE '\'.
func escapeLike(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}

// ftsPhrase quotes s as one FTS5 phrase: with the trigram tokenizer, a
// phrase matches wherever s occurs as a substring.
func ftsPhrase(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// legRow is one leg of a case, from contacts or requeued_legs.
type reviewLeg struct {
	CaseID         string     `db:"case_id"`
	ContactID      string     `db:"id"`
	Queue          string     `db:"queue_id"`
	Agency         string     `db:"agency_id"`
	Channel        string     `db:"channel"`
	Status         string     `db:"status"`
	Agent          string     `db:"agent"`
	CallbackNumber string     `db:"callback_number"`
	EnqueuedAt     time.Time  `db:"enqueued_at"`
	AnsweredAt     *time.Time `db:"answered_at"`
	EndedAt        *time.Time `db:"ended_at"`
	Disposition    string     `db:"disposition"`
	// ConferenceOf is set on an interpreter's leg (from contacts only;
	// sortLegs copies it to the same contact's earlier legs).
	ConferenceOf string `db:"conference_of"`
}

const legsOfCases = `SELECT case_id, id, queue_id, agency_id, channel, status, agent, callback_number,
		enqueued_at, answered_at, ended_at, disposition, conference_of
	FROM contacts WHERE case_id IN (?)
	UNION ALL
	SELECT case_id, contact_id, queue_id, agency_id, channel, 'ended', agent, '',
		enqueued_at, answered_at, ended_at, disposition, ''
	FROM requeued_legs WHERE case_id IN (?)`

// legsOf reads the legs of the given cases, each case's in the order they
// started.
func (rv *Review) legsOf(ctx context.Context, ids []string) (map[string][]reviewLeg, error) {
	q, args, err := sqlx.In(legsOfCases, ids, ids)
	if err != nil {
		return nil, fmt.Errorf("read legs: %w", err)
	}
	var rows []reviewLeg
	if err := rv.db.SelectContext(ctx, &rows, rv.db.Rebind(q), args...); err != nil {
		return nil, fmt.Errorf("read legs: %w", err)
	}
	sortLegs(rows)
	out := map[string][]reviewLeg{}
	for _, l := range rows {
		out[l.CaseID] = append(out[l.CaseID], l)
	}
	return out, nil
}

// touched lists, in the order the case met them, the agencies and queues
// of its legs, the agents who answered one, and the legs' dispositions.
func touched(legs []reviewLeg) (agencies, queues, agents, dispositions []string) {
	agencies, queues, agents, dispositions = []string{}, []string{}, []string{}, []string{}
	add := func(list []string, s string) []string {
		if s == "" || slices.Contains(list, s) {
			return list
		}
		return append(list, s)
	}
	for _, l := range legs {
		agencies = add(agencies, l.Agency)
		queues = add(queues, l.Queue)
		if l.AnsweredAt != nil {
			agents = add(agents, l.Agent)
		}
		dispositions = add(dispositions, l.Disposition)
	}
	return agencies, queues, agents, dispositions
}

// snippets finds, for each case, the first timeline text holding text as
// the reader sees it (masked when redact is set) and cuts it around the
// match. A case whose matches were all masked away has no snippet.
func (rv *Review) snippets(ctx context.Context, ids []string, text string, redact bool) (map[string]string, error) {
	op := "LIKE"
	if rv.db.Dialect == tsql.Postgres {
		op = "ILIKE"
	}
	digits, number := NumberQuery(text)
	cond, pattern := "text "+op+` ? ESCAPE '\'`, "%"+escapeLike(text)+"%"
	if number {
		cond, pattern = strippedSQL("text")+" LIKE ?", "%"+digits+"%"
	}
	q, args, err := sqlx.In(`SELECT case_id, seq, text FROM case_events WHERE case_id IN (?) AND `+cond+` ORDER BY case_id, seq`,
		ids, pattern)
	if err != nil {
		return nil, fmt.Errorf("read snippets: %w", err)
	}
	var rows []struct {
		CaseID string `db:"case_id"`
		Seq    int64  `db:"seq"`
		Text   string `db:"text"`
	}
	if err := rv.db.SelectContext(ctx, &rows, rv.db.Rebind(q), args...); err != nil {
		return nil, fmt.Errorf("read snippets: %w", err)
	}
	out := map[string]string{}
	for _, r := range rows {
		if _, ok := out[r.CaseID]; ok {
			continue
		}
		t := privacy.Mask(r.Text, !redact)
		if number {
			if i, n := indexDigits(t, digits); i >= 0 {
				out[r.CaseID] = cut(t, i, n)
			}
		} else if i := indexFold(t, text); i >= 0 {
			out[r.CaseID] = cut(t, i, len(text))
		}
	}
	return out, nil
}

// Snippet bounds, in characters.
const (
	snippetBefore = 30
	snippetLen    = 120
)

// cut is up to snippetLen characters of s around the match at byte offset
// i, with "…" where it was cut.
func cut(s string, i, n int) string {
	start := i
	for k := 0; k < snippetBefore && start > 0; k++ {
		_, size := utf8.DecodeLastRuneInString(s[:start])
		start -= size
	}
	end := start
	for k := 0; k < snippetLen && end < len(s); k++ {
		_, size := utf8.DecodeRuneInString(s[end:])
		end += size
	}
	end = max(end, min(i+n, len(s)))
	out := s[start:end]
	if start > 0 {
		out = "…" + out
	}
	if end < len(s) {
		out += "…"
	}
	return out
}

// indexFold is the byte offset of the first match of sub in s ignoring
// case, or -1.
func indexFold(s, sub string) int {
	n := utf8.RuneCountInString(sub)
	for i := range s {
		end := i
		for k := 0; k < n && end < len(s); k++ {
			_, size := utf8.DecodeRuneInString(s[end:])
			end += size
		}
		if strings.EqualFold(s[i:end], sub) {
			return i
		}
	}
	return -1
}

// A cursor is the last case of a page: its start time and id.
func encodeCursor(at time.Time, id string) string {
	b, _ := json.Marshal([]string{at.UTC().Format(time.RFC3339Nano), id})
	return string(b)
}

func decodeCursor(s string) (time.Time, string, error) {
	var parts []string
	if err := json.Unmarshal([]byte(s), &parts); err != nil || len(parts) != 2 {
		return time.Time{}, "", ErrCursor
	}
	at, err := time.Parse(time.RFC3339Nano, parts[0])
	if err != nil {
		return time.Time{}, "", ErrCursor
	}
	return ts(at), parts[1], nil
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
