package transcripts

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"

	"tellonce/cases"
)

// Earlier finds a returning caller's earlier cases: the cases opened by
// identity (a keyed digest, cases.EnqueueRequest.Identity) that closed at
// or after since, newest first, at most limit, leaving out the case except
// (one the caller is continuing). Each carries its dates, the agencies its
// legs reached (interpreters' left out), their dispositions, its summary
// (the last summary an agent ended a leg with, or else what the caller
// brought) and the case's last note — not its conversation, which
// stays behind GET /v1/cases/{id} and its audit. The texts are as stored
// (resident registration numbers already masked); whoever shows them masks
// the rest for their reader. The caller decides who may be looked up:
// only an identity asserted by a gateway or this server, never a typed
// caller id. Served by the index cases_identity (migration 0014).
func (rv *Review) Earlier(ctx context.Context, identity string, since time.Time, except string, limit int) ([]cases.PastCase, error) {
	if identity == "" || limit <= 0 {
		return nil, nil
	}
	st, done, err := rv.earlierQuery(ctx)
	if err != nil {
		return nil, err
	}
	var earlier []earlierCase
	err = st.SelectContext(ctx, &earlier, identity, since.UTC(), except, limit)
	done()
	if err != nil {
		return nil, fmt.Errorf("read earlier cases: %w", err)
	}
	if len(earlier) == 0 {
		return nil, nil
	}
	byIdentity, err := rv.pastCases(ctx, earlier, pastCaseBatch)
	if err != nil {
		return nil, err
	}
	return byIdentity[identity], nil
}

// earlierQuery is Earlier's query, prepared: it runs before every
// contact's creation, on the way to its offer, and on PostgreSQL a
// prepared statement is one round trip where a query with parameters is
// two (parse and describe, then bind and execute). done is called when the
// query has been read.
//
// PostgreSQL keeps the generic plan it made for a prepared statement on a
// connection, and the pool keeps its connections: a plan made while cases
// was empty (a new database, whose first purge VACUUMs it, so the planner
// trusts it is empty) scanned the whole table on every call as it grew.
// So the statement is prepared again after earlierReplanFirst calls, then
// after twice as many each time up to every earlierReplanMax: the plans
// follow the table while it grows fast, and cost a prepare per connection
// now and then once it no longer does.
func (rv *Review) earlierQuery(ctx context.Context) (st *sqlx.Stmt, done func(), err error) {
	e := &rv.earlier
	for {
		e.mu.RLock()
		if e.st != nil && e.calls.Add(1) <= e.every {
			return e.st, e.mu.RUnlock, nil
		}
		e.mu.RUnlock()
		if err := rv.prepareEarlier(ctx); err != nil {
			return nil, nil, err
		}
	}
}

// earlierStmt is Earlier's prepared query and how many calls it has
// served. Callers hold mu for reading while they use st, so that it is
// closed only once no query runs on it.
type earlierStmt struct {
	mu       sync.RWMutex
	st       *sqlx.Stmt
	calls    atomic.Int64 // calls served by st
	every    int64        // calls st serves before it is prepared again
	prepared int          // times prepared (tests read it)
}

// earlierReplanFirst and earlierReplanMax bound the calls between two
// preparations of Earlier's query (see earlierQuery).
const (
	earlierReplanFirst = 64
	earlierReplanMax   = 1 << 16
)

// prepareEarlier prepares Earlier's query, first or again, unless another
// caller just did.
func (rv *Review) prepareEarlier(ctx context.Context) error {
	e := &rv.earlier
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.st != nil && e.calls.Load() < e.every {
		return nil
	}
	if e.st != nil {
		if err := e.st.Close(); err != nil {
			rv.log.Warn("read earlier cases: close the query prepared before", "err", err)
		}
		e.st = nil
	}
	st, err := rv.db.PreparexContext(ctx, rv.db.Rebind(`SELECT id, identity, context, created_at, closed_at FROM cases
		WHERE identity = ? AND status = 'closed' AND identity <> '' AND closed_at >= ? AND id <> ?
		ORDER BY closed_at DESC, id DESC LIMIT ?`))
	if err != nil {
		return fmt.Errorf("read earlier cases: prepare: %w", err)
	}
	e.every = min(max(2*e.every, earlierReplanFirst), earlierReplanMax)
	e.st, e.prepared = st, e.prepared+1
	e.calls.Store(0)
	return nil
}

// EarlierOfOpen is Earlier for every open case's caller at once, by
// identity: what a takeover needs to show returning callers' history on
// the offers of the line it restores. One query finds the earlier cases
// of every identity that has an open case (at most limit each, newest
// first), and the legs and texts of those cases come in batches — not one
// look-up per waiting contact. An open case is never among them: only
// closed cases count.
func (rv *Review) EarlierOfOpen(ctx context.Context, since time.Time, limit int) (map[string][]cases.PastCase, error) {
	if limit <= 0 {
		return nil, nil
	}
	var earlier []earlierCase
	err := rv.db.SelectContext(ctx, &earlier, rv.db.Rebind(`SELECT id, identity, context, created_at, closed_at FROM (
			SELECT k.id, k.identity, k.context, k.created_at, k.closed_at,
				ROW_NUMBER() OVER (PARTITION BY k.identity ORDER BY k.closed_at DESC, k.id DESC) AS n
			FROM cases k
			WHERE k.status = 'closed' AND k.identity <> '' AND k.closed_at >= ?
				AND k.identity IN (SELECT o.identity FROM cases o WHERE o.status = 'open' AND o.identity <> '')
		) r WHERE n <= ? ORDER BY identity, closed_at DESC, id DESC`), since.UTC(), limit)
	if err != nil {
		return nil, fmt.Errorf("read earlier cases of the open cases: %w", err)
	}
	return rv.pastCases(ctx, earlier, pastCaseBatch)
}

// earlierCase is a row of an earlier-cases query.
type earlierCase struct {
	ID        string    `db:"id"`
	Identity  string    `db:"identity"`
	Context   string    `db:"context"`
	CreatedAt time.Time `db:"created_at"`
	ClosedAt  time.Time `db:"closed_at"`
}

// pastCaseBatch bounds the case ids of one IN list: the embedded
// database's limit on a statement's parameters is far above it, and a
// takeover's thousands of earlier cases still take only a few queries.
const pastCaseBatch = 500

// pastCases fills in the earlier cases' agencies, dispositions and texts,
// by identity, each identity's in the order given, reading size cases at
// a time.
func (rv *Review) pastCases(ctx context.Context, earlier []earlierCase, size int) (map[string][]cases.PastCase, error) {
	out := map[string][]cases.PastCase{}
	for start := 0; start < len(earlier); start += size {
		batch := earlier[start:min(start+size, len(earlier))]
		ids := make([]string, len(batch))
		for i, c := range batch {
			ids[i] = c.ID
		}
		legs, err := rv.legsOf(ctx, ids)
		if err != nil {
			return nil, fmt.Errorf("read earlier cases: %w", err)
		}
		texts, err := rv.lastTexts(ctx, ids)
		if err != nil {
			return nil, err
		}
		for _, c := range batch {
			cx, err := parseContext(c.Context)
			if err != nil {
				return nil, fmt.Errorf("earlier case %s: %w", c.ID, err)
			}
			served := make([]reviewLeg, 0, len(legs[c.ID]))
			for _, l := range legs[c.ID] {
				if l.ConferenceOf == "" {
					served = append(served, l)
				}
			}
			agencies, _, _, dispositions := touched(served)
			dispositions = mapSlice(dispositions, storable)
			summary := storable(texts[c.ID].summary)
			if summary == "" {
				summary = cx.Summary
			}
			out[c.Identity] = append(out[c.Identity], cases.PastCase{ID: c.ID, OpenedAt: c.CreatedAt.UTC(), ClosedAt: c.ClosedAt.UTC(),
				Agencies: agencies, Dispositions: dispositions, Summary: summary, LastNote: storable(texts[c.ID].note)})
		}
	}
	return out, nil
}

// lastTexts is each case's newest note and newest summary an agent ended
// a leg with, by case id.
func (rv *Review) lastTexts(ctx context.Context, ids []string) (map[string]caseTexts, error) {
	q, args, err := sqlx.In(`SELECT case_id, seq, type, actor, text FROM case_events
		WHERE case_id IN (?) AND type IN (?, ?) AND text <> '' ORDER BY case_id, seq`,
		ids, cases.CaseNote, cases.CaseEnded)
	if err != nil {
		return nil, fmt.Errorf("read last notes: %w", err)
	}
	var rows []struct {
		CaseID string `db:"case_id"`
		Seq    int64  `db:"seq"`
		Type   string `db:"type"`
		Actor  string `db:"actor"`
		Text   string `db:"text"`
	}
	if err := rv.db.SelectContext(ctx, &rows, rv.db.Rebind(q), args...); err != nil {
		return nil, fmt.Errorf("read last notes: %w", err)
	}
	out := make(map[string]caseTexts, len(ids))
	for _, r := range rows { // in seq order: the last of each kind stays
		t := out[r.CaseID]
		switch {
		case r.Type == cases.CaseNote:
			t.note = r.Text
		case strings.HasPrefix(r.Actor, "agent:"):
			t.summary = r.Text
		}
		out[r.CaseID] = t
	}
	return out, nil
}

type caseTexts struct{ note, summary string }
