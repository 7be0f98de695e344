package stats

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"tellonce/clocktest"
	"tellonce/router"
	tsql "tellonce/sql"
	"tellonce/sql/sqltest"
)

// savedSamples shows the rows of queue_samples as "queue hh:mm" (Seoul),
// by queue and time.
func savedSamples(t *testing.T, db *tsql.DB) []string {
	t.Helper()
	var rows []sampleRow
	if err := db.SelectContext(context.Background(), &rows,
		`SELECT queue_id, at, waiting, longest_wait_s, service_level_pct, answered, abandoned FROM queue_samples ORDER BY queue_id, at`); err != nil {
		t.Fatalf("read queue_samples: %v", err)
	}
	out := []string{}
	for _, r := range rows {
		out = append(out, r.Queue+" "+r.At.In(Seoul).Format("15:04"))
	}
	return out
}

// closedDB is a handle on b's database that fails every statement.
func closedDB(t *testing.T, b sqltest.Backend) *tsql.DB {
	t.Helper()
	db, err := tsql.Open(context.Background(), b.DSN)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	return db
}

func save(t *testing.T, st *Stats, db *tsql.DB) int {
	t.Helper()
	n, err := st.SaveHistory(context.Background(), db)
	if err != nil {
		t.Fatalf("SaveHistory: %v", err)
	}
	return n
}

func TestHistorySurvivesARestart(t *testing.T) {
	saved := []string{
		"09:00 waiting=0 longest=0 answered=0 abandoned=0 sl=null",
		"09:01 waiting=1 longest=50 answered=1 abandoned=0 sl=100.0",
		"09:02 waiting=0 longest=0 answered=1 abandoned=1 sl=50.0",
	}
	for _, tc := range []struct {
		name    string
		restart time.Time
		// want is the history of the restarted server; wantSaved how many
		// samples it saves then: its first one, not those it loaded.
		want      []string
		wantSaved int
	}{{
		// The gap is where no server ran; the first sample after it has
		// the day's counters, rebuilt from the case log.
		name:    "minutes later",
		restart: day0.Add(5*time.Minute + 20*time.Second),
		want: append(saved[:3:3],
			"09:05 waiting=0 longest=0 answered=1 abandoned=1 sl=50.0"),
		wantSaved: 1,
	}, {
		// The minute of the last saved sample keeps that sample.
		name:      "within the minute",
		restart:   day0.Add(2*time.Minute + 40*time.Second),
		want:      saved,
		wantSaved: 0,
	}, {
		// Yesterday's samples stay in the database but not in today's
		// history, nor do yesterday's counters.
		name:      "the next day",
		restart:   time.Date(2026, 3, 3, 0, 0, 30, 0, Seoul),
		want:      []string{"00:00 waiting=0 longest=0 answered=0 abandoned=0 sl=null"},
		wantSaved: 1,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
				ctx := context.Background()
				d := journalDesk(t, b)
				c2 := d.morningStart()
				d.at("09:01:00")
				d.st.Queues()
				d.at("09:01:30")
				d.abandon(c2)
				d.at("09:02:00")
				d.st.Queues()
				if n := save(t, d.st, b.DB); n != 3 {
					t.Errorf("SaveHistory wrote %d samples; want 3", n)
				}
				checkHistory(t, "History before the restart", d.st.History(general, time.Time{}), saved)

				// The restart: a new Stats loads the day from the database.
				d.clock.Set(tc.restart)
				st := d.newStats()
				if err := st.Load(ctx, b.DB); err != nil {
					t.Fatalf("Load: %v", err)
				}
				checkHistory(t, "History after the restart", st.History(general, time.Time{}), tc.want)
				if n := save(t, st, b.DB); n != tc.wantSaved {
					t.Errorf("after the restart SaveHistory wrote %d samples; want %d", n, tc.wantSaved)
				}
				// And once more: what the restarted server saved is loaded too.
				again := d.newStats()
				if err := again.Load(ctx, b.DB); err != nil {
					t.Fatalf("Load: %v", err)
				}
				checkHistory(t, "History after a second restart", again.History(general, time.Time{}), tc.want)
			})
		})
	}
}

func TestSaveHistoryIsIdempotent(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		ctx := context.Background()
		d := newDesk(t, nil, nil)
		d.queue(queueCfg(general, 20))
		d.queue(queueCfg(tax, 30))
		d.enqueue(tax, "A", router.ChannelVoice) // nobody staffs tax: A waits
		d.st.Queues()
		d.at("09:01:00")
		d.st.Queues()
		want := []string{general + " 09:00", general + " 09:01", tax + " 09:00", tax + " 09:01"}

		if n := save(t, d.st, b.DB); n != 4 {
			t.Errorf("first SaveHistory wrote %d samples; want 4", n)
		}
		if n := save(t, d.st, b.DB); n != 0 {
			t.Errorf("second SaveHistory wrote %d samples; want 0 (all saved)", n)
		}
		// A retry of a write whose outcome was unknown writes the same rows.
		d.st.mu.Lock()
		d.st.c.today.saved = nil // as if nothing had been saved
		rows := d.st.c.today.unsaved()
		d.st.mu.Unlock()
		if err := writeSamples(ctx, b.DB, rows); err != nil {
			t.Errorf("writing saved samples again: %v; want no error", err)
		}
		if n := save(t, d.st, b.DB); n != 4 {
			t.Errorf("SaveHistory of samples saved before wrote %d; want 4, ignored", n)
		}
		// Another server's sample of the same minute leaves the first.
		d.at("09:01:30")
		other := d.newStats()
		d.enqueue(tax, "B", router.ChannelVoice)
		other.Queues()
		if n := save(t, other, b.DB); n != 2 {
			t.Errorf("the other server's SaveHistory wrote %d; want 2, ignored", n)
		}
		if got := savedSamples(t, b.DB); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("queue_samples = %q; want %q", got, want)
		}
		st := d.newStats()
		if err := st.Load(ctx, b.DB); err != nil {
			t.Fatalf("Load: %v", err)
		}
		checkHistory(t, "History(tax) loaded", st.History(tax, time.Time{})[:2], []string{
			"09:00 waiting=1 longest=0 answered=0 abandoned=0 sl=null",
			"09:01 waiting=1 longest=60 answered=0 abandoned=0 sl=null",
		})
	})
}

func TestSaveHistoryKeepsWhatFailed(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		d := newDesk(t, nil, nil)
		d.queue(queueCfg(general, 20))
		d.st.Queues()
		if n, err := d.st.SaveHistory(context.Background(), closedDB(t, b)); err == nil || n != 0 ||
			!strings.Contains(err.Error(), "save the queue history") {
			t.Errorf("SaveHistory on a closed database = %d, %v; want 0 and a wrapped error", n, err)
		}
		// Sampling goes on, and nothing is lost from memory.
		d.at("09:01:00")
		want := []string{
			"09:00 waiting=0 longest=0 answered=0 abandoned=0 sl=null",
			"09:01 waiting=0 longest=0 answered=0 abandoned=0 sl=null",
		}
		checkHistory(t, "History after a failed save", d.st.History(general, time.Time{}), want)
		// The next save writes both minutes.
		if n := save(t, d.st, b.DB); n != 2 {
			t.Errorf("SaveHistory after a failed one wrote %d samples; want 2", n)
		}
		if got, want := savedSamples(t, b.DB), []string{general + " 09:00", general + " 09:01"}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("queue_samples = %q; want %q", got, want)
		}
	})
}

func TestSaveHistoryFinishesTheDayBefore(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		d := newDesk(t, nil, nil)
		d.queue(queueCfg(general, 20))
		d.at("23:59:00")
		d.st.Queues()
		if _, err := d.st.SaveHistory(context.Background(), closedDB(t, b)); err == nil {
			t.Fatal("SaveHistory on a closed database succeeded")
		}
		d.clock.Set(time.Date(2026, 3, 3, 0, 0, 10, 0, Seoul))
		d.st.Queues() // a new day, and its first sample
		if n := save(t, d.st, b.DB); n != 2 {
			t.Errorf("SaveHistory after midnight wrote %d samples; want 2 (23:59 and 00:00)", n)
		}
		if got, want := savedSamples(t, b.DB), []string{general + " 23:59", general + " 00:00"}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("queue_samples = %q; want %q", got, want)
		}
		d.st.mu.Lock()
		previous := d.st.c.previous
		d.st.mu.Unlock()
		if previous != nil {
			t.Error("the day before is still held after all of it was saved")
		}
	})
}

func TestPurgeHistoryKeepsTheRetention(t *testing.T) {
	day := 24 * time.Hour
	ages := []time.Duration{9 * day, 8*day + time.Minute, 8 * day, 8*day - time.Minute, 2*day + time.Minute, 2 * day, time.Hour, 0}
	for _, tc := range []struct {
		name      string
		retention time.Duration
		want      []time.Duration // the ages kept
	}{
		{"default, 8 days", 0, ages[2:]},
		{"2 days", 2 * day, ages[5:]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
				ctx := context.Background()
				d := newDesk(t, nil, nil, func(c *Config) { c.HistoryRetention = tc.retention })
				var rows []sampleRow
				for _, age := range ages {
					rows = append(rows, sampleRow{Queue: general, At: day0.Add(-age).UTC()})
				}
				if err := writeSamples(ctx, b.DB, rows); err != nil {
					t.Fatal(err)
				}
				n, err := d.st.PurgeHistory(ctx, b.DB)
				if err != nil {
					t.Fatalf("PurgeHistory: %v", err)
				}
				var kept []time.Time
				if err := b.DB.SelectContext(ctx, &kept, `SELECT at FROM queue_samples ORDER BY at`); err != nil {
					t.Fatal(err)
				}
				var got []time.Duration
				for _, at := range kept {
					got = append(got, day0.Sub(at))
				}
				if fmt.Sprint(got) != fmt.Sprint(tc.want) || n != int64(len(ages)-len(tc.want)) {
					t.Errorf("PurgeHistory deleted %d, kept samples aged %v; want %d deleted, %v kept",
						n, got, len(ages)-len(tc.want), tc.want)
				}
			})
		})
	}
}

// runHistory runs st.RunHistory on db until the stop it returns (or the
// end of the test) and gives RunHistory's error.
func runHistory(t *testing.T, st *Stats, db *tsql.DB) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- st.RunHistory(ctx, db) }()
	stop = sync.OnceValue(func() error {
		cancel()
		return <-done
	})
	t.Cleanup(func() { _ = stop() })
	return stop
}

func TestRunHistorySavesEachMinute(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		d := newDesk(t, nil, nil)
		d.queue(queueCfg(general, 20))
		old := sampleRow{Queue: general, At: day0.Add(-9 * 24 * time.Hour).UTC()}
		if err := writeSamples(context.Background(), b.DB, []sampleRow{old}); err != nil {
			t.Fatal(err)
		}
		stop := runHistory(t, d.st, b.DB)
		savedAre := func(want ...string) func() bool {
			return func() bool { return fmt.Sprint(savedSamples(t, b.DB)) == fmt.Sprint(want) }
		}
		d.st.Queues()
		clocktest.Eventually(t, "09:00 saved and the 9-day-old sample deleted", 10*time.Second, savedAre(general+" 09:00"))
		d.at("09:01:00")
		d.st.Queues()
		clocktest.Eventually(t, "09:01 saved", 10*time.Second, savedAre(general+" 09:00", general+" 09:01"))
		// Stopping saves the minute just taken.
		d.at("09:02:00")
		d.st.Queues()
		if err := stop(); !errors.Is(err, context.Canceled) {
			t.Errorf("RunHistory returned %v; want context.Canceled", err)
		}
		if !savedAre(general+" 09:00", general+" 09:01", general+" 09:02")() {
			t.Errorf("after RunHistory stopped, queue_samples = %q; want 09:00 to 09:02", savedSamples(t, b.DB))
		}
	})
}

// logMessages is a slog handler that passes each record's message on.
type logMessages chan string

func (c logMessages) Enabled(context.Context, slog.Level) bool { return true }
func (c logMessages) WithAttrs([]slog.Attr) slog.Handler       { return c }
func (c logMessages) WithGroup(string) slog.Handler            { return c }
func (c logMessages) Handle(_ context.Context, r slog.Record) error {
	select {
	case c <- r.Message:
	default: // the test is not listening for so many
	}
	return nil
}

// await reads messages until one starts with prefix.
func (c logMessages) await(t *testing.T, prefix string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m := <-c:
			if strings.HasPrefix(m, prefix) {
				return
			}
		case <-timeout:
			t.Fatalf("no log message %q within 10s", prefix)
		}
	}
}

func TestRunHistoryGoesOnWhenWritesFail(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		logs := make(logMessages, 64)
		d := newDesk(t, nil, nil, func(c *Config) { c.Log = slog.New(logs) })
		d.queue(queueCfg(general, 20))
		stop := runHistory(t, d.st, closedDB(t, b))
		d.st.Queues()
		logs.await(t, "stats: queue history not saved")
		d.at("09:01:00")
		d.st.Queues()
		logs.await(t, "stats: queue history not saved")
		if err := stop(); !errors.Is(err, context.Canceled) {
			t.Errorf("RunHistory returned %v; want context.Canceled", err)
		}
		checkHistory(t, "History after failed writes", d.st.History(general, time.Time{}), []string{
			"09:00 waiting=0 longest=0 answered=0 abandoned=0 sl=null",
			"09:01 waiting=0 longest=0 answered=0 abandoned=0 sl=null",
		})
		if n := save(t, d.st, b.DB); n != 2 {
			t.Errorf("SaveHistory once the database is back wrote %d samples; want 2", n)
		}
	})
}
