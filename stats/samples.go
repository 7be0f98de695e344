package stats

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	tsql "tellonce/sql"
)

// The history on disk: RunHistory writes each minute's samples to the
// table queue_samples of migration 0007 as they are taken, Load reads
// today's back at start, and samples older than Config.HistoryRetention
// are deleted.

// DefaultHistoryRetention is how long saved samples are kept unless
// Config.HistoryRetention says otherwise.
const DefaultHistoryRetention = 8 * 24 * time.Hour

const (
	// historyPurgeEvery is how often RunHistory deletes the samples past
	// the retention.
	historyPurgeEvery = time.Hour
	// finalSaveTimeout bounds RunHistory's last write, when it stops.
	finalSaveTimeout = 5 * time.Second
	// samplesPerInsert bounds one INSERT: at 7 parameters a row it stays
	// well below SQLite's 32,766 and PostgreSQL's 65,535. A minute of a
	// few hundred queues is one statement; only a backlog left by failed
	// writes takes more, in the same transaction.
	samplesPerInsert = 500
)

// The queries, the same on both backends. A sample already saved is left
// as it is, so that a write retried after an unknown outcome (or the same
// minute written by two servers) changes nothing.
const (
	insertSamples = `INSERT INTO queue_samples (queue_id, at, waiting, longest_wait_s, service_level_pct, answered, abandoned, closed) VALUES `
	sampleValues  = `(?, ?, ?, ?, ?, ?, ?, ?)`
	samplesExist  = ` ON CONFLICT (queue_id, at) DO NOTHING`
	loadSamples   = `SELECT queue_id, at, waiting, longest_wait_s, service_level_pct, answered, abandoned, closed FROM queue_samples WHERE at >= ? AND at < ? ORDER BY queue_id, at`
	purgeSamples  = `DELETE FROM queue_samples WHERE at < ?`
)

// sampleRow is a row of queue_samples.
type sampleRow struct {
	Queue           string          `db:"queue_id"`
	At              time.Time       `db:"at"`
	Waiting         int             `db:"waiting"`
	LongestWaitS    int             `db:"longest_wait_s"`
	ServiceLevelPct sql.NullFloat64 `db:"service_level_pct"`
	Answered        int             `db:"answered"`
	Abandoned       int             `db:"abandoned"`
	Closed          bool            `db:"closed"`
	minute          int32           // of the day it was taken in
}

func (d *day) row(queue string, x sample) sampleRow {
	r := sampleRow{Queue: queue, At: d.at(x).UTC(), Waiting: int(x.waiting), LongestWaitS: int(x.longest),
		Answered: int(x.answered), Abandoned: int(x.abandoned), Closed: x.closed, minute: x.minute}
	if x.slTenths >= 0 {
		r.ServiceLevelPct = sql.NullFloat64{Float64: float64(x.slTenths) / 10, Valid: true}
	}
	return r
}

// unsaved lists the day's samples that are not in the database yet; it
// holds s.mu.
func (d *day) unsaved() []sampleRow {
	var rows []sampleRow
	for q, h := range d.history {
		last, some := d.saved[q]
		i := len(h)
		for i > 0 && (!some || h[i-1].minute > last) {
			i--
		}
		for _, x := range h[i:] {
			rows = append(rows, d.row(q, x))
		}
	}
	return rows
}

// markSaved notes that rows of the day are in the database; it holds s.mu.
func (d *day) markSaved(rows []sampleRow) {
	if d.saved == nil {
		d.saved = map[string]int32{}
	}
	for _, r := range rows {
		if last, some := d.saved[r.Queue]; !some || r.minute > last {
			d.saved[r.Queue] = r.minute
		}
	}
}

// restore puts saved samples of the day, by queue and time, back into its
// history, as saved; it holds s.mu.
func (d *day) restore(rows []sampleRow) {
	for i := range rows {
		r := &rows[i]
		r.minute = int32(r.At.Sub(d.start) / time.Minute)
		if h := d.history[r.Queue]; r.minute < 0 || len(h) > 0 && h[len(h)-1].minute >= r.minute {
			continue
		}
		sl := int32(-1)
		if r.ServiceLevelPct.Valid {
			sl = int32(math.Round(r.ServiceLevelPct.Float64 * 10))
		}
		d.add(r.Queue, sample{minute: r.minute, waiting: int32(r.Waiting), longest: int32(r.LongestWaitS),
			answered: int32(r.Answered), abandoned: int32(r.Abandoned), slTenths: sl, closed: r.Closed})
	}
	d.markSaved(rows)
}

// loadHistory reads the samples saved for the day d from db.
func loadHistory(ctx context.Context, db *tsql.DB, d *day) ([]sampleRow, error) {
	var rows []sampleRow
	if err := db.SelectContext(ctx, &rows, db.Rebind(loadSamples), d.start.UTC(), d.end.UTC()); err != nil {
		return nil, fmt.Errorf("load today's statistics: queue history: %w", err)
	}
	return rows, nil
}

// sampled tells RunHistory, without waiting, that there are new samples.
func (s *Stats) sampled() {
	select {
	case s.sampledC <- struct{}{}:
	default: // a signal is already pending
	}
}

// SaveHistory writes the samples of the history that are not in db yet —
// normally the minute just sampled, of every queue — in one transaction,
// and returns how many it wrote. Samples it could not write stay in memory
// and unsaved, for the next call; writing a sample again changes nothing,
// so a retry is always safe. Samples of the day before that were still
// unsaved at midnight are written too.
func (s *Stats) SaveHistory(ctx context.Context, db *tsql.DB) (int, error) {
	s.mu.Lock()
	s.c.saving = true
	days := []*day{s.c.previous, s.c.today}
	var rows [2][]sampleRow
	for i, d := range days {
		if d != nil {
			rows[i] = d.unsaved()
		}
	}
	s.mu.Unlock()

	all := slices.Concat(rows[0], rows[1]) // sorted by writeSamples, unlike rows
	if len(all) > 0 {
		if err := writeSamples(ctx, db, all); err != nil {
			return 0, fmt.Errorf("save the queue history: %w", err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, d := range days {
		if d != nil {
			d.markSaved(rows[i])
		}
	}
	if s.c.previous == days[0] {
		s.c.previous = nil // a past day takes no new samples: all saved
	}
	return len(all), nil
}

// writeSamples inserts rows in one transaction, in key order (so that two
// servers writing the same minute take their row locks in the same order).
func writeSamples(ctx context.Context, db *tsql.DB, rows []sampleRow) error {
	slices.SortFunc(rows, func(a, b sampleRow) int {
		return cmp.Or(strings.Compare(a.Queue, b.Queue), a.At.Compare(b.At))
	})
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		for len(rows) > 0 {
			chunk := rows[:min(len(rows), samplesPerInsert)]
			rows = rows[len(chunk):]
			var q strings.Builder
			q.WriteString(insertSamples)
			args := make([]any, 0, 8*len(chunk))
			for i, r := range chunk {
				if i > 0 {
					q.WriteString(", ")
				}
				q.WriteString(sampleValues)
				args = append(args, r.Queue, r.At, r.Waiting, r.LongestWaitS, r.ServiceLevelPct, r.Answered, r.Abandoned, r.Closed)
			}
			q.WriteString(samplesExist)
			if _, err := tx.ExecContext(ctx, db.Rebind(q.String()), args...); err != nil {
				return err
			}
		}
		return nil
	})
}

// PurgeHistory deletes the saved samples older than
// Config.HistoryRetention and returns how many it deleted.
func (s *Stats) PurgeHistory(ctx context.Context, db *tsql.DB) (int64, error) {
	cutoff := s.clock.Now().Add(-s.cfg.HistoryRetention).UTC()
	res, err := db.ExecContext(ctx, db.Rebind(purgeSamples), cutoff)
	if err != nil {
		return 0, fmt.Errorf("delete old queue history: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete old queue history: %w", err)
	}
	return n, nil
}

// RunHistory keeps the history durable until ctx ends: it writes each
// minute's samples to db as soon as they are taken (SaveHistory, off the
// computation that takes them), and once an hour deletes the samples past
// Config.HistoryRetention. A failure is logged and never stops it, nor
// sampling: what was not written stays in memory and is written with the
// next minute's samples. When ctx ends it writes what is left, for at most
// a few seconds, and returns ctx.Err().
func (s *Stats) RunHistory(ctx context.Context, db *tsql.DB) error {
	var purged time.Time
	failing := false
	save := func(ctx context.Context) {
		n, err := s.SaveHistory(ctx, db)
		switch {
		case err != nil && ctx.Err() == nil:
			s.cfg.Log.WarnContext(ctx, "stats: queue history not saved; retrying with the next minute", "err", err)
			failing = true
		case err == nil && failing:
			s.cfg.Log.InfoContext(ctx, "stats: queue history saved again", "samples", n)
			failing = false
		}
	}
	for {
		select {
		case <-ctx.Done():
			last, cancel := context.WithTimeout(context.WithoutCancel(ctx), finalSaveTimeout)
			save(last)
			cancel()
			return ctx.Err()
		case <-s.sampledC:
		}
		save(ctx)
		now := s.clock.Now()
		if now.Sub(purged) < historyPurgeEvery && !now.Before(purged) {
			continue
		}
		n, err := s.PurgeHistory(ctx, db)
		switch {
		case err != nil && !errors.Is(err, context.Canceled):
			s.cfg.Log.WarnContext(ctx, "stats: old queue history not deleted", "err", err)
		case err == nil:
			purged = now
			if n > 0 {
				s.cfg.Log.InfoContext(ctx, "stats: deleted old queue history", "samples", n,
					"retention", s.cfg.HistoryRetention.String())
			}
		}
	}
}
