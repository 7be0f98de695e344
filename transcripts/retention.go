package transcripts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"

	tsql "tellonce/sql"
)

// Retention defaults. A public body keeps what it must and no longer
// (PIPA art. 21: destroy personal data once its purpose is served); each
// agency's records schedule may say otherwise, hence the settings.
const (
	// DefaultCaseRetention keeps a closed case's transcript for a year
	// after it closed: long enough for complaints about the handling,
	// appeals and quality review.
	DefaultCaseRetention = 365 * 24 * time.Hour
	// DefaultAuditRetention keeps the access audit for five years after
	// each read: longer than the transcripts, so that who read a purged
	// case can still be answered, and well past the two years the PIPC's
	// safeguard standard asks for the access logs of systems that hold
	// resident registration numbers.
	DefaultAuditRetention = 5 * 365 * 24 * time.Hour
	// DefaultRetentionEvery is how often RunRetention purges.
	DefaultRetentionEvery = time.Hour
)

// purgeBatch is how many cases one purge transaction deletes, so that a
// first purge of a large backlog does not hold one huge transaction.
const purgeBatch = 500

// Retention says how long closed cases and audit rows are kept. A zero
// field takes its default; a negative period keeps for ever.
type Retention struct {
	// Cases: a closed case (its row, legs, timeline and search index
	// entries) is deleted this long after it closed. Open cases are never
	// purged.
	Cases time.Duration
	// Audit: an audit row is deleted this long after the access it
	// records. It must be at least Cases.
	Audit time.Duration
	// Every is how often RunRetention purges.
	Every time.Duration
}

func (r Retention) withDefaults() Retention {
	if r.Cases == 0 {
		r.Cases = DefaultCaseRetention
	}
	if r.Audit == 0 {
		r.Audit = DefaultAuditRetention
	}
	if r.Every <= 0 {
		r.Every = DefaultRetentionEvery
	}
	return r
}

// Validate refuses an audit kept for less time than the transcripts it
// records reads of.
func (r Retention) Validate() error {
	r = r.withDefaults()
	if r.Audit > 0 && (r.Cases < 0 || r.Audit < r.Cases) {
		return errors.New("retention: the audit must be kept at least as long as the transcripts")
	}
	return nil
}

// Purge deletes the closed cases that closed more than the case retention
// before now, with their legs, timeline and search index entries, and
// returns how many cases it deleted. Audit rows are not touched. The
// deleted rows are then scrubbed from the database's files (see
// tsql.DB.Scrub and docs/retention.md): a purge is done when its error is
// nil, not before.
func (rv *Review) Purge(ctx context.Context, now time.Time) (int, error) {
	if rv.keep.Cases < 0 {
		return 0, nil
	}
	cutoff := ts(now.Add(-rv.keep.Cases))
	total := 0
	for {
		n, err := rv.purgeBatch(ctx, cutoff)
		total += n
		if err != nil {
			err = fmt.Errorf("purge cases closed before %s: %w", cutoff.Format(time.RFC3339), err)
			return total, errors.Join(err, rv.scrub(ctx, total > 0, caseTables...))
		}
		if n < purgeBatch {
			break
		}
	}
	if err := rv.scrub(ctx, total > 0, caseTables...); err != nil {
		return total, fmt.Errorf("purged %d cases closed before %s: %w", total, cutoff.Format(time.RFC3339), err)
	}
	return total, nil
}

// caseTables are the tables a purged case has rows in (on SQLite the
// search index too, whose rows go with them: see purgeBatch).
var caseTables = []string{"case_events", "contacts", "requeued_legs", "cases"}

// scrub makes the rows just deleted from tables unrecoverable from the
// database's files (tsql.DB.Scrub) when deleted says there are any. A
// scrub that fails is owed: it is retried, with the tables it was for,
// at the next purge, whether or not that purge deletes anything. A new
// Review owes one for every table it purges, for a purge that deleted and
// then stopped (a crash, a shutdown) before its scrub.
func (rv *Review) scrub(ctx context.Context, deleted bool, tables ...string) error {
	rv.scrubMu.Lock()
	defer rv.scrubMu.Unlock()
	if !deleted && len(rv.owed) == 0 {
		return nil
	}
	if deleted {
		for _, t := range tables {
			rv.owed[t] = true
		}
	}
	owed := slices.Sorted(maps.Keys(rv.owed))
	if err := rv.db.Scrub(ctx, owed...); err != nil {
		return err
	}
	clear(rv.owed)
	return nil
}

func (rv *Review) purgeBatch(ctx context.Context, cutoff time.Time) (int, error) {
	n := 0
	err := rv.db.InTx(ctx, func(tx *sqlx.Tx) error {
		if rv.db.Dialect == tsql.SQLite {
			if err := ftsSecureDelete(ctx, tx); err != nil {
				return err
			}
		}
		var ids []string
		if err := tx.SelectContext(ctx, &ids, rv.db.Rebind(`SELECT id FROM cases
			WHERE status = 'closed' AND closed_at < ? ORDER BY closed_at LIMIT ?`), cutoff, purgeBatch); err != nil {
			return fmt.Errorf("find cases: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		if err := rv.deleteCases(ctx, tx, ids); err != nil {
			return err
		}
		n = len(ids)
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// deleteCases deletes the cases' recordings and then, in tx, every row
// they own. The files go first: if the transaction then fails, the case
// is still there to be purged again, and no audio outlives its
// transcript.
func (rv *Review) deleteCases(ctx context.Context, tx *sqlx.Tx, ids []string) error {
	if rv.files != nil {
		for _, id := range ids {
			if _, err := rv.files.PurgeCase(ctx, id); err != nil {
				return fmt.Errorf("delete the recordings of %s: %w", id, err)
			}
		}
	}
	tables := slices.Clone(caseTables)
	if rv.db.Dialect == tsql.SQLite {
		// The FTS5 table is filled by a trigger but emptied here: its
		// case_id is not indexed, so one scan per batch beats a trigger
		// scanning once per deleted entry.
		tables = append([]string{"case_events_fts"}, tables...)
	}
	for _, table := range tables {
		col := "case_id"
		if table == "cases" {
			col = "id"
		}
		q, args, err := sqlx.In(`DELETE FROM `+table+` WHERE `+col+` IN (?)`, ids)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, rv.db.Rebind(q), args...); err != nil {
			return fmt.Errorf("delete from %s: %w", table, err)
		}
	}
	return nil
}

// ftsSecureDelete turns on the search index's secure-delete option,
// once per database (FTS5 keeps it in its config table). Without it,
// deleting from an FTS5 table does not remove the text's terms from the
// index: it adds tombstones, and the terms stay in the index's segments,
// and in the tombstones themselves, until segments happen to merge. With
// it, a delete rewrites the segments without the deleted entries, and
// secure_delete zeroes the rewritten blocks' old copies.
//
// The first time, it also merges the whole index into one segment
// ('optimize'), which drops whatever deletes made before the option left
// behind. That rewrites the index, once, inside the purge's transaction.
func ftsSecureDelete(ctx context.Context, tx *sqlx.Tx) error {
	var on int
	err := tx.GetContext(ctx, &on, `SELECT v FROM case_events_fts_config WHERE k = 'secure-delete'`)
	switch {
	case err == nil && on == 1:
		return nil
	case err != nil && !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("read the search index's config: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO case_events_fts (case_events_fts, rank) VALUES ('secure-delete', 1)`); err != nil {
		return fmt.Errorf("turn on the search index's secure delete: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO case_events_fts (case_events_fts) VALUES ('optimize')`); err != nil {
		return fmt.Errorf("merge the search index: %w", err)
	}
	return nil
}

// PurgeAudit deletes the audit rows older than the audit retention and
// returns how many, then scrubs them from the files as Purge does (a
// search's query may hold what a reader typed: a name, a number).
func (rv *Review) PurgeAudit(ctx context.Context, now time.Time) (int, error) {
	if rv.keep.Audit < 0 {
		return 0, nil
	}
	cutoff := ts(now.Add(-rv.keep.Audit))
	res, err := rv.db.ExecContext(ctx, rv.db.Rebind(`DELETE FROM access_audit WHERE at < ?`), cutoff)
	if err != nil {
		return 0, fmt.Errorf("purge audit before %s: %w", cutoff.Format(time.RFC3339), err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("purge audit: %w", err)
	}
	if err := rv.scrub(ctx, n > 0, "access_audit"); err != nil {
		return int(n), fmt.Errorf("purged %d audit rows: %w", n, err)
	}
	return int(n), nil
}

// RunRetention purges on start and then every Retention.Every until ctx
// ends, when it returns nil. A failed purge is logged and tried again at
// the next tick: retention must not take the server down.
func (rv *Review) RunRetention(ctx context.Context) error {
	tick := time.NewTicker(rv.keep.Every)
	defer tick.Stop()
	for {
		rv.retain(ctx)
		if rv.retained != nil {
			rv.retained()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// retain runs both purges once.
func (rv *Review) retain(ctx context.Context) {
	now := rv.now()
	if n, err := rv.Purge(ctx, now); err != nil {
		if ctx.Err() == nil {
			rv.log.Error("retention: purging closed cases failed", "err", err, "purged", n)
		}
	} else if n > 0 {
		rv.log.Info("retention: purged closed cases", "cases", n, "older_than", rv.keep.Cases.String())
	}
	if n, err := rv.PurgeAudit(ctx, now); err != nil {
		if ctx.Err() == nil {
			rv.log.Error("retention: purging the audit failed", "err", err)
		}
	} else if n > 0 {
		rv.log.Info("retention: purged audit rows", "rows", n, "older_than", rv.keep.Audit.String())
	}
}
