package transcripts

import (
	"context"
	"fmt"
	"strings"
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
	var earlier []struct {
		ID        string    `db:"id"`
		Context   string    `db:"context"`
		CreatedAt time.Time `db:"created_at"`
		ClosedAt  time.Time `db:"closed_at"`
	}
	err := rv.db.SelectContext(ctx, &earlier, rv.db.Rebind(`SELECT id, context, created_at, closed_at FROM cases
		WHERE identity = ? AND status = 'closed' AND identity <> '' AND closed_at >= ? AND id <> ?
		ORDER BY closed_at DESC, id DESC LIMIT ?`), identity, since.UTC(), except, limit)
	if err != nil {
		return nil, fmt.Errorf("read earlier cases: %w", err)
	}
	if len(earlier) == 0 {
		return nil, nil
	}
	ids := make([]string, len(earlier))
	for i, c := range earlier {
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
	out := make([]cases.PastCase, 0, len(earlier))
	for _, c := range earlier {
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
		out = append(out, cases.PastCase{ID: c.ID, OpenedAt: c.CreatedAt.UTC(), ClosedAt: c.ClosedAt.UTC(),
			Agencies: agencies, Dispositions: dispositions, Summary: summary, LastNote: storable(texts[c.ID].note)})
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
