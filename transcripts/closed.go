package transcripts

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"

	"tellonce/cases"
	tsql "tellonce/sql"
)

// ErrCaseOpen says a case is still open in the durable log: its changes
// are the router's to make (or its closing is not durable yet).
var ErrCaseOpen = errors.New("case is open")

// AppendRecording adds a telephony edge's recording entry to a case that
// closed before the edge finished the leg's file: the edge closes a leg's
// recording when the leg ends, and ending the last leg closes the case.
// An open case's entries are the router's (Router.Record); here only a
// closed one is written, so no entry of the router's can share its seq.
//
// gatewayAgency is the reporting gateway's ("" for every agency): as on
// the live socket it reaches a voice or callback contact of its agency or
// of a chain of legs that started there; anything else, a chat, an unknown
// contact, is cases.ErrNotFound. A contact nobody answered is
// cases.ErrConflict, a case still open ErrCaseOpen. The entry is durable
// when it returns.
func (rv *Review) AppendRecording(ctx context.Context, gatewayAgency, contactID, actor string, rec cases.Recording) error {
	if err := rec.Validate(); err != nil {
		return fmt.Errorf("recording of %s: %w", contactID, err)
	}
	return rv.db.InTx(ctx, func(tx *sqlx.Tx) error {
		var c struct {
			CaseID   string       `db:"case_id"`
			Agency   string       `db:"agency_id"`
			Channel  string       `db:"channel"`
			Origin   string       `db:"origin"`
			Answered sql.NullTime `db:"answered_at"`
		}
		err := tx.GetContext(ctx, &c, rv.db.Rebind(`SELECT case_id, agency_id, channel, origin, answered_at
			FROM contacts WHERE id = ?`), contactID)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("contact %s: %w", contactID, cases.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("recording of %s: %w", contactID, err)
		}
		if c.Channel == string(cases.ChannelChat) {
			return fmt.Errorf("contact %s: %w", contactID, cases.ErrNotFound)
		}
		if gatewayAgency != "" && c.Agency != gatewayAgency {
			origin := c.Origin
			if origin == "" {
				origin = contactID
			}
			var n int
			if err := tx.GetContext(ctx, &n, rv.db.Rebind(`SELECT COUNT(*) FROM contacts WHERE id = ? AND agency_id = ?`),
				origin, gatewayAgency); err != nil {
				return fmt.Errorf("recording of %s: %w", contactID, err)
			}
			if n == 0 {
				return fmt.Errorf("contact %s: %w", contactID, cases.ErrNotFound)
			}
		}
		// Serialise appends to one case (PostgreSQL; SQLite has one writer).
		lock := `SELECT status FROM cases WHERE id = ?`
		if rv.db.Dialect == tsql.Postgres {
			lock += ` FOR UPDATE`
		}
		var status string
		if err := tx.GetContext(ctx, &status, rv.db.Rebind(lock), c.CaseID); err != nil {
			return fmt.Errorf("recording of %s: case %s: %w", contactID, c.CaseID, err)
		}
		if status != "closed" {
			return fmt.Errorf("recording of %s: %w", contactID, ErrCaseOpen)
		}
		if !c.Answered.Valid {
			var n int
			if err := tx.GetContext(ctx, &n, rv.db.Rebind(`SELECT COUNT(*) FROM requeued_legs
				WHERE contact_id = ? AND answered_at IS NOT NULL`), contactID); err != nil {
				return fmt.Errorf("recording of %s: %w", contactID, err)
			}
			if n == 0 {
				return fmt.Errorf("recording of %s: no agent has answered: %w", contactID, cases.ErrConflict)
			}
		}
		var last sql.NullInt64
		if err := tx.GetContext(ctx, &last, rv.db.Rebind(`SELECT MAX(seq) FROM case_events WHERE case_id = ?`), c.CaseID); err != nil {
			return fmt.Errorf("recording of %s: %w", contactID, err)
		}
		data, err := json.Marshal(storableMap(map[string]string{"contact_id": contactID, "file": rec.File,
			"seconds": strconv.Itoa(rec.Seconds), "started_at": rec.StartedAt.UTC().Format(time.RFC3339)}))
		if err != nil {
			return fmt.Errorf("encode recording data: %w", err)
		}
		if _, err := tx.ExecContext(ctx, rv.db.Rebind(`INSERT INTO case_events (case_id, seq, at, type, actor, contact_id, text, data)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`), c.CaseID, last.Int64+1, ts(rv.now()), cases.CaseRecording, clean(actor),
			contactID, "", string(data)); err != nil {
			return fmt.Errorf("recording of %s: %w", contactID, err)
		}
		return nil
	})
}
