package sql

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Deletion that cannot be undone (PIPA enforcement decree art. 16) needs
// more than DELETE: both backends leave deleted rows' bytes in their files
// until something overwrites them. docs/retention.md says what each
// backend guarantees; in short:
//
// SQLite: every connection runs with secure_delete on (see openSQLite), so
// a DELETE overwrites the row's cell with zeros within its page, and a page
// it frees is zeroed before it joins the freelist. The old pages still sit
// in the WAL, though, in the frames written before the delete, until the
// WAL is reset. Scrub copies the WAL into the file (the zeroed pages
// overwrite the old ones there) and truncates the WAL to zero bytes.
//
// PostgreSQL: a DELETE only marks tuples dead. Scrub VACUUMs the tables:
// the dead tuples and the index entries that point at them are removed, so
// nothing reads them as rows any more and their space is reused by later
// writes. VACUUM does not zero that space; only VACUUM FULL (which rewrites
// the table under an exclusive lock) or reuse overwrites it.

// scrubBusyTimeout is how long one truncating checkpoint waits for the
// write lock and for readers of older pages. It holds the write lock while
// it waits for readers, so it must not wait as long as a commit may (the
// connections' busy_timeout): commits wait meanwhile.
const scrubBusyTimeout = 250 * time.Millisecond

// scrubPause is the pause between two tries, in which commits go on.
const scrubPause = 100 * time.Millisecond

// scrubPatience bounds how long Scrub keeps trying on SQLite before it
// gives up with ErrScrubBusy.
const scrubPatience = 30 * time.Second

// ErrScrubBusy is returned when SQLite could not truncate the WAL in time:
// a long read kept using pages older than the WAL's end. Scrub may be
// tried again later.
var ErrScrubBusy = errors.New("the WAL could not be truncated: readers kept it in use")

var tableName = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// Scrub makes what was just deleted from tables unreadable in the
// database's files as far as the backend allows: on SQLite it checkpoints
// the WAL into the file and truncates it (which tables does not matter:
// the deletes zeroed the rows already); on PostgreSQL it runs VACUUM on
// the tables. Call it after the deleting transactions have committed, not
// inside one: it takes a connection of the pool, outside any transaction
// (VACUUM refuses to run in one).
func (db *DB) Scrub(ctx context.Context, tables ...string) error {
	for _, t := range tables {
		if !tableName.MatchString(t) {
			return fmt.Errorf("scrub: %q is not a table name", t)
		}
	}
	switch db.Dialect {
	case SQLite:
		return db.truncateWAL(ctx)
	case Postgres:
		if len(tables) == 0 {
			return nil
		}
		// INDEX_CLEANUP ON: by default (AUTO) a VACUUM that finds few dead
		// tuples may skip the indexes, leaving the entries of the deleted
		// rows, which hold the indexed values (a caller id, say).
		q := `VACUUM (INDEX_CLEANUP ON) ` + strings.Join(tables, ", ")
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("scrub: %s: %w", q, err)
		}
		return nil
	}
	return fmt.Errorf("scrub: unknown dialect %q", db.Dialect)
}

// truncateWAL runs SQLite's TRUNCATE checkpoint: it takes the write lock,
// waits until no reader uses a page older than the WAL's end, copies every
// frame into the file and truncates the WAL to zero bytes. It runs on a
// connection of its own with a short busy timeout, and tries again after a
// pause while another checkpoint runs (SQLite does not wait for that) or a
// reader outlasts the timeout.
func (db *DB) truncateWAL(ctx context.Context) (err error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("scrub: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA busy_timeout = `+strconv.Itoa(int(scrubBusyTimeout.Milliseconds()))); err != nil {
		return fmt.Errorf("scrub: %w", err)
	}
	defer func() {
		// The connection goes back to the pool: with the pool's busy
		// timeout, or not at all.
		if _, rerr := conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA busy_timeout = `+sqliteBusyTimeoutMS); rerr != nil {
			conn.Raw(func(any) error { return driver.ErrBadConn })
			err = errors.Join(err, fmt.Errorf("scrub: restore busy_timeout: %w", rerr))
		}
	}()
	deadline := time.Now().Add(scrubPatience)
	for {
		var busy, frames, copied int
		err := conn.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &frames, &copied)
		if err != nil {
			return fmt.Errorf("scrub: checkpoint: %w", err)
		}
		// A TRUNCATE checkpoint that finished reports an empty WAL.
		if busy == 0 && frames == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("scrub: %w (%d of %d frames copied)", ErrScrubBusy, copied, frames)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("scrub: %w", ctx.Err())
		case <-time.After(scrubPause):
		}
	}
}
