package stats

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"tellonce/router"
	tsql "tellonce/sql"
)

// legRow is one leg as the case log keeps it: a row of contacts (a
// contact's current leg) or of requeued_legs (an earlier leg of a contact
// that went back to its queue).
type legRow struct {
	ContactID   string         `db:"contact_id"`
	CaseID      string         `db:"case_id"`
	Queue       string         `db:"queue_id"`
	Agency      string         `db:"agency_id"`
	Channel     string         `db:"channel"`
	Agent       string         `db:"agent"`
	EnqueuedAt  time.Time      `db:"enqueued_at"`
	AnsweredAt  sql.NullTime   `db:"answered_at"`
	EndedAt     sql.NullTime   `db:"ended_at"`
	Disposition sql.NullString `db:"disposition"`
}

func (l legRow) leg() router.Leg {
	return router.Leg{ContactID: l.ContactID, Queue: l.Queue, Agency: l.Agency, Agent: l.Agent,
		Channel: router.Channel(l.Channel), EnqueuedAt: l.EnqueuedAt, AnsweredAt: l.AnsweredAt.Time,
		EndedAt: l.EndedAt.Time, Disposition: l.Disposition.String}
}

type transferRow struct {
	CaseID string    `db:"case_id"`
	At     time.Time `db:"at"`
	Data   string    `db:"data"`
}

type closedRow struct {
	ID       string    `db:"id"`
	ClosedAt time.Time `db:"closed_at"`
}

// The queries of Load: plain SQL on the tables of migration 0002, the same
// on both backends. Legs are read when they ended today or are still open,
// plus every leg of a case that closed today (its citizen's whole wait).
const (
	closedToday   = `SELECT id FROM cases WHERE status = 'closed' AND closed_at >= ?`
	loadContacts  = `SELECT id AS contact_id, case_id, queue_id, agency_id, channel, agent, enqueued_at, answered_at, ended_at, disposition FROM contacts WHERE ended_at IS NULL OR ended_at >= ? OR case_id IN (` + closedToday + `)`
	loadRequeued  = `SELECT contact_id, case_id, queue_id, agency_id, channel, agent, enqueued_at, answered_at, ended_at, disposition FROM requeued_legs WHERE ended_at >= ? OR case_id IN (` + closedToday + `)`
	loadTransfers = `SELECT case_id, at, data FROM case_events WHERE type = 'transfer' AND at >= ?`
	loadClosed    = `SELECT id, closed_at FROM cases WHERE status = 'closed' AND closed_at >= ?`
)

// transferLookback reaches back before midnight for warm transfers that
// were asked for before it and accepted after (a warm transfer waits at
// most the router's WarmWait, a minute by default).
const transferLookback = time.Hour

// Load rebuilds today's counters, and the estimator's inputs, from the
// case log, and today's history from the samples saved by RunHistory, so
// that a restart keeps the day's figures and charts: call it at start,
// after the router is restored and before the journal delivers events to
// Observe. It replaces whatever was counted and sampled before.
func (s *Stats) Load(ctx context.Context, db *tsql.DB) error {
	now := s.clock.Now()
	today := newDay(now, s.cfg.Location)
	start := today.start.UTC()
	var legs, requeued []legRow
	var transfers []transferRow
	var closed []closedRow
	if err := db.SelectContext(ctx, &legs, db.Rebind(loadContacts), start, start); err != nil {
		return fmt.Errorf("load today's statistics: contacts: %w", err)
	}
	if err := db.SelectContext(ctx, &requeued, db.Rebind(loadRequeued), start, start); err != nil {
		return fmt.Errorf("load today's statistics: requeued legs: %w", err)
	}
	if err := db.SelectContext(ctx, &transfers, db.Rebind(loadTransfers), start.Add(-transferLookback)); err != nil {
		return fmt.Errorf("load today's statistics: transfers: %w", err)
	}
	if err := db.SelectContext(ctx, &closed, db.Rebind(loadClosed), start); err != nil {
		return fmt.Errorf("load today's statistics: closed cases: %w", err)
	}
	samples, err := loadHistory(ctx, db, today)
	if err != nil {
		return err
	}
	if err := s.learnAgents(); err != nil {
		return err
	}
	facts, err := factsOf(s, start, legs, requeued, transfers, closed)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.c.today, s.c.previous = today, nil
	s.c.models = map[string]*model{}
	for _, f := range facts {
		f.apply()
	}
	today.restore(samples)
	s.cfg.Log.Info("today's statistics loaded", "legs", len(legs)+len(requeued), "closed_cases", len(closed),
		"history_samples", len(samples))
	return nil
}

// fact is one counted happening, applied in time order so that the moving
// averages age as they would have live.
type fact struct {
	at    time.Time
	apply func()
}

// factsOf turns the rows into the facts Observe would have counted since
// start.
func factsOf(s *Stats, start time.Time, legs, requeued []legRow, transfers []transferRow, closed []closedRow) ([]fact, error) {
	var facts []fact
	add := func(at time.Time, f func()) {
		if !at.Before(start) {
			facts = append(facts, fact{at: at, apply: f})
		}
	}
	byCase := map[string][]router.Leg{}
	firstLeg := map[string]legRow{} // by contact id: the leg a transfer made
	for _, rows := range [][]legRow{legs, requeued} {
		for _, l := range rows {
			byCase[l.CaseID] = append(byCase[l.CaseID], l.leg())
			if f, ok := firstLeg[l.ContactID]; !ok || l.EnqueuedAt.Before(f.EnqueuedAt) {
				firstLeg[l.ContactID] = l
			}
			add(l.EnqueuedAt, func() { s.arrival(l.Queue, router.Channel(l.Channel), l.EnqueuedAt) })
			if l.AnsweredAt.Valid {
				add(l.AnsweredAt.Time, func() { s.answered(l.Queue, l.AnsweredAt.Time.Sub(l.EnqueuedAt), l.AnsweredAt.Time) })
			}
			if l.EndedAt.Valid {
				add(l.EndedAt.Time, func() {
					s.ended(l.Queue, l.Agent, l.Disposition.String, l.EnqueuedAt, l.AnsweredAt.Time, l.EndedAt.Time)
				})
			}
		}
	}
	for _, t := range transfers {
		var data map[string]string
		if err := json.Unmarshal([]byte(t.Data), &data); err != nil {
			return nil, fmt.Errorf("load today's statistics: transfer of case %s: %w", t.CaseID, err)
		}
		if data["mode"] == string(router.TransferWarm) {
			// Counted when the target accepted: the new leg's answer.
			if l, ok := firstLeg[data["new_contact_id"]]; ok && l.AnsweredAt.Valid {
				add(l.AnsweredAt.Time, func() { s.transferredIn(l.Queue, l.AnsweredAt.Time) })
			}
			continue
		}
		add(t.At, func() { s.transferredIn(data["to_queue"], t.At) })
	}
	for _, c := range closed {
		legs := byCase[c.ID]
		slices.SortStableFunc(legs, func(a, b router.Leg) int { return a.EnqueuedAt.Compare(b.EnqueuedAt) })
		if cc, ok := summarise(legs, c.ClosedAt); ok {
			add(c.ClosedAt, func() { s.caseClosed(cc, c.ClosedAt) })
		}
	}
	slices.SortStableFunc(facts, func(a, b fact) int { return a.at.Compare(b.at) })
	return facts, nil
}
