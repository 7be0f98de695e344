package transcripts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"

	tsql "tellonce/sql"
)

// Erase deletes one closed case ahead of its retention — an erasure the
// law requires (PIPA art. 36) — exactly as a purge would: its recordings,
// then every row it owns, then a scrub of the database's files. A case
// the log does not hold is ErrNotFound; an open one is ErrCaseOpen: the
// router still works on it, and its next change would bring it back.
// The audit rows about the case stay: who read it is still answered.
func (rv *Review) Erase(ctx context.Context, caseID string) error {
	err := rv.db.InTx(ctx, func(tx *sqlx.Tx) error {
		if rv.db.Dialect == tsql.SQLite {
			if err := ftsSecureDelete(ctx, tx); err != nil {
				return err
			}
		}
		lock := `SELECT status FROM cases WHERE id = ?`
		if rv.db.Dialect == tsql.Postgres {
			lock += ` FOR UPDATE`
		}
		var status string
		err := tx.GetContext(ctx, &status, rv.db.Rebind(lock), caseID)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if status != "closed" {
			return ErrCaseOpen
		}
		return rv.deleteCases(ctx, tx, []string{caseID})
	})
	if err != nil {
		return fmt.Errorf("erase case %s: %w", caseID, err)
	}
	if err := rv.scrub(ctx, true, caseTables...); err != nil {
		return fmt.Errorf("erased case %s: %w", caseID, err)
	}
	return nil
}
