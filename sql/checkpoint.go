package sql

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// sqliteAutoCheckpointPages is the WAL size, in pages, at which a commit on
// the embedded database checkpoints by itself. SQLite's default (1,000
// pages, 4 MB) makes every few seconds of traffic end in a commit that
// also copies the WAL into the database file and syncs it, a stall of tens
// to hundreds of milliseconds on the path of whatever waited for that
// commit (an agent's offer waits for its events' commit). RunCheckpoints
// does that work off the commit path instead; this larger limit is only a
// safety net for a process that does not run it, or when it falls behind.
const sqliteAutoCheckpointPages = 8192 // 32 MB with 4 KB pages

// DefaultCheckpointEvery is how often RunCheckpoints copies the WAL into
// the embedded database file.
const DefaultCheckpointEvery = 250 * time.Millisecond

// Checkpoint copies what the embedded database's WAL holds into the
// database file, without waiting for readers or writers (SQLite's PASSIVE
// checkpoint: commits go on meanwhile). It reports how many frames the WAL
// holds and how many of them are in the database file now. On PostgreSQL
// it does nothing.
func (db *DB) Checkpoint(ctx context.Context) (walFrames, copied int, err error) {
	if db.Dialect != SQLite {
		return 0, 0, nil
	}
	var busy int
	if err := db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &walFrames, &copied); err != nil {
		return 0, 0, fmt.Errorf("checkpoint: %w", err)
	}
	return walFrames, copied, nil
}

// RunCheckpoints checkpoints the embedded database every interval until ctx
// ends (see sqliteAutoCheckpointPages for why); a failed checkpoint is
// logged and tried again at the next tick. On PostgreSQL it returns at
// once. It returns ctx's error.
func (db *DB) RunCheckpoints(ctx context.Context, every time.Duration, log *slog.Logger) error {
	if db.Dialect != SQLite {
		return nil
	}
	if every <= 0 {
		every = DefaultCheckpointEvery
	}
	t := time.NewTicker(every)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		_, _, err := db.Checkpoint(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return ctx.Err()
		case err != nil && !failing:
			// Once per run of failures: a stuck file would log every tick.
			log.Warn("checkpoint of the embedded database failed; commits will checkpoint by themselves past the WAL limit",
				"err", err, "wal_limit_pages", sqliteAutoCheckpointPages)
			failing = true
		case err == nil && failing:
			log.Info("checkpoints of the embedded database work again")
			failing = false
		}
	}
}
