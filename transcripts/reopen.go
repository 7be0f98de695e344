package transcripts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"tellonce/cases"
)

// The queries of ClosedCase: Load's, for one closed case.
const (
	closedCase = `SELECT id, caller_id, caller_name, caller_language, context, created_at, identity, closed_at
		FROM cases WHERE id = ? AND status = 'closed'`
	closedContacts = `SELECT id, case_id, queue_id, agency_id, channel, status, priority, context,
		callback_number, skills, seq, head, agent, enqueued_at, answered_at, ended_at,
		disposition, warm_of, due_at, slot, attempts, conference_of, identity, origin, idempotency_key
		FROM contacts WHERE case_id = ?`
	closedLegs = `SELECT contact_id, case_id, queue_id, agency_id, channel, seq, agent,
		enqueued_at, answered_at, ended_at, disposition FROM requeued_legs WHERE case_id = ?`
	closedEvents = `SELECT case_id, seq, at, type, actor, text, data FROM case_events WHERE case_id = ? ORDER BY seq`
)

// ClosedCase reads a closed case whole — legs and timeline — in the shape
// cases.EnqueueRequest.Reopen takes, with when it closed: a citizen
// continuing a case that closed lately reopens it. A case that is open,
// or that the log does not hold (never was, or purged), is ErrNotFound.
func (rv *Review) ClosedCase(ctx context.Context, caseID string) (cases.CaseSnapshot, time.Time, error) {
	var (
		s      cases.CaseSnapshot
		closed time.Time
	)
	err := rv.db.InTx(ctx, func(tx *sqlx.Tx) error {
		var c struct {
			loadedCase
			ClosedAt time.Time `db:"closed_at"`
		}
		err := tx.GetContext(ctx, &c, rv.db.Rebind(closedCase), caseID)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		var contacts []loadedContact
		if err := tx.SelectContext(ctx, &contacts, rv.db.Rebind(closedContacts), caseID); err != nil {
			return fmt.Errorf("read contacts: %w", err)
		}
		var legs []loadedLeg
		if err := tx.SelectContext(ctx, &legs, rv.db.Rebind(closedLegs), caseID); err != nil {
			return fmt.Errorf("read requeued legs: %w", err)
		}
		var events []loadedEvent
		if err := tx.SelectContext(ctx, &events, rv.db.Rebind(closedEvents), caseID); err != nil {
			return fmt.Errorf("read case events: %w", err)
		}
		byID := gather([]loadedCase{c.loadedCase}, contacts, legs, events)
		if s, err = snapshotOf(c.loadedCase, byID[c.ID]); err != nil {
			return err
		}
		closed = c.ClosedAt.UTC()
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return cases.CaseSnapshot{}, time.Time{}, ErrNotFound
	}
	if err != nil {
		return cases.CaseSnapshot{}, time.Time{}, fmt.Errorf("read closed case %s: %w", caseID, err)
	}
	s.Contacts = nil // a closed case has none live; a stray row must not come back
	return s, closed, nil
}
