package transcripts

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	tsql "tellonce/sql"
	"tellonce/sql/sqltest"
)

// The legs' queries before migration 0016: one WHERE joining the time
// filter and the closed cases with OR, which no index serves on
// PostgreSQL. Kept to measure against.
const (
	rangeContactsOR = `SELECT id AS contact_id, case_id, queue_id, agency_id, channel, agent, enqueued_at, answered_at, ended_at, disposition
		FROM contacts WHERE (enqueued_at < ? AND (ended_at IS NULL OR ended_at >= ?)) OR case_id IN (` + rangeClosed + `)`
	rangeRequeuedOR = `SELECT contact_id, case_id, queue_id, agency_id, channel, agent, enqueued_at, answered_at, ended_at, disposition
		FROM requeued_legs WHERE (enqueued_at < ? AND ended_at >= ?) OR case_id IN (` + rangeClosed + `)`
)

// reportIndexes are migration 0016's indexes, dropped for the "before" runs.
var reportIndexes = map[string]string{
	"contacts_ended":         `CREATE INDEX contacts_ended ON contacts (ended_at)`,
	"contacts_enqueued":      `CREATE INDEX contacts_enqueued ON contacts (enqueued_at)`,
	"requeued_legs_ended":    `CREATE INDEX requeued_legs_ended ON requeued_legs (ended_at)`,
	"requeued_legs_enqueued": `CREATE INDEX requeued_legs_enqueued ON requeued_legs (enqueued_at)`,
	"case_events_transfers":  `CREATE INDEX case_events_transfers ON case_events (at) WHERE type = 'transfer'`,
}

// BenchmarkReportRange measures what a report reads from the case log
// (ReadRange: its legs, requeued legs, transfers and closings) over a
// generated year of reportContacts contacts (default 1,000,000;
// TELLONCE_BENCH_CONTACTS overrides it) on PostgreSQL, before migration
// 0016 (its indexes dropped, the legs read with the OR queries) and after,
// back to back on the same data. Each iteration is one ReadRange of the
// sub-benchmark's dates. Metrics: p50-ms and max-ms of the iterations,
// legs read, and pages: the 8 kB pages the four queries touch, from
// EXPLAIN (ANALYZE, BUFFERS), which the machine's load does not move. The plan of the after-run's legs query is logged (-v).
func BenchmarkReportRange(b *testing.B) {
	n := 1_000_000
	if v := os.Getenv("TELLONCE_BENCH_CONTACTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1200 {
			b.Fatalf("TELLONCE_BENCH_CONTACTS=%q: want a number ≥ 1200", v)
		}
	}
	db := sqltest.Open(b, "postgres")
	ctx := context.Background()
	began := time.Now()
	end, err := generateReportLog(ctx, db.DB, n)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("generated %d contacts over a year in %v", n, time.Since(began).Round(time.Second))
	ranges := []struct {
		name     string
		from, to time.Time
	}{
		{"last-day", end.AddDate(0, 0, -1), end},
		{"last-week", end.AddDate(0, 0, -7), end},
		{"day-six-months-back", end.AddDate(0, -6, 0), end.AddDate(0, -6, 1)},
		{"today-so-far", end.Add(-2 * time.Hour), end.AddDate(100, 0, 0)}, // ReadDay's shape
	}
	for _, phase := range []string{"before", "after"} {
		built := time.Now()
		for name, create := range reportIndexes {
			stmt := `DROP INDEX IF EXISTS ` + name
			if phase == "after" {
				stmt = create
			}
			if _, err := db.DB.ExecContext(ctx, stmt); err != nil {
				b.Fatalf("%s: %v", stmt, err)
			}
		}
		if phase == "after" {
			// What migration 0016 costs on such a log: PostgreSQL's
			// CREATE INDEX holds off writes to the table while it builds.
			b.Logf("built migration 0016's indexes in %v", time.Since(built).Round(time.Millisecond))
		}
		for _, t := range []string{"contacts", "requeued_legs", "case_events", "cases"} {
			if _, err := db.DB.ExecContext(ctx, `ANALYZE `+t); err != nil {
				b.Fatal(err)
			}
		}
		for _, r := range ranges {
			b.Run(phase+"/"+r.name, func(b *testing.B) {
				lat := make([]time.Duration, 0, b.N)
				legs := 0
				for range b.N {
					t := time.Now()
					var err error
					if phase == "before" {
						legs, err = readRangeOR(ctx, db.DB, r.from, r.to)
					} else {
						var d Day
						d, err = ReadRange(ctx, db.DB, r.from, r.to, r.from.Add(-time.Hour))
						legs = len(d.Legs)
					}
					if err != nil {
						b.Fatal(err)
					}
					lat = append(lat, time.Since(t))
				}
				queries := map[string][2]string{"before": {rangeContactsOR, rangeRequeuedOR}, "after": {rangeContacts, rangeRequeued}}[phase]
				pages := 0
				for _, q := range []struct {
					sql  string
					args []any
				}{
					{queries[0], []any{r.to, r.from, r.from, r.to}}, {queries[1], []any{r.to, r.from, r.from, r.to}},
					{rangeTransfers, []any{r.from.Add(-time.Hour), r.to}}, {rangeClosedAt, []any{r.from, r.to}},
				} {
					pages += pagesRead(b, db.DB, q.sql, q.args)
				}
				b.ReportMetric(float64(pages), "pages")
				slices.Sort(lat)
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
				b.ReportMetric(float64(legs), "legs")
				b.ReportMetric(0, "ns/op")
			})
		}
		if phase == "after" {
			r := ranges[0]
			var plan []string
			if err := db.DB.SelectContext(ctx, &plan, `EXPLAIN (ANALYZE, COSTS OFF) `+db.DB.Rebind(rangeContacts), r.to, r.from, r.from, r.to); err != nil {
				b.Fatal(err)
			}
			b.Logf("the legs of the last day, after:\n%s", strings.Join(plan, "\n"))
		}
	}
}

// pagesRead is the 8 kB pages (shared buffers hit or read) one run of the
// query touches: the work it does, which the machine's load does not move.
func pagesRead(b *testing.B, db *tsql.DB, q string, args []any) int {
	b.Helper()
	var out string
	if err := db.GetContext(context.Background(), &out, `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) `+db.Rebind(q), args...); err != nil {
		b.Fatal(err)
	}
	var plans []struct {
		Plan struct {
			Hit  int `json:"Shared Hit Blocks"`
			Read int `json:"Shared Read Blocks"`
		}
	}
	if err := json.Unmarshal([]byte(out), &plans); err != nil || len(plans) != 1 {
		b.Fatalf("plan %q: %v", out, err)
	}
	return plans[0].Plan.Hit + plans[0].Plan.Read
}

// readRangeOR is ReadRange's reads as they were before migration 0016; it
// returns the number of legs.
func readRangeOR(ctx context.Context, db *tsql.DB, from, to time.Time) (int, error) {
	legs := 0
	for _, q := range []string{rangeContactsOR, rangeRequeuedOR} {
		var rows []loadedLeg
		if err := db.SelectContext(ctx, &rows, db.Rebind(q), to, from, from, to); err != nil {
			return 0, err
		}
		legs += len(rows)
	}
	var transfers []struct {
		CaseID string    `db:"case_id"`
		At     time.Time `db:"at"`
		Data   string    `db:"data"`
	}
	if err := db.SelectContext(ctx, &transfers, db.Rebind(rangeTransfers), from.Add(-time.Hour), to); err != nil {
		return 0, err
	}
	var closed []struct {
		ID       string    `db:"id"`
		ClosedAt time.Time `db:"closed_at"`
	}
	return legs, db.SelectContext(ctx, &closed, db.Rebind(rangeClosedAt), from, to)
}

// generateReportLog fills the case log with a year of n contacts, made in
// the database: cases spread evenly over the year from benchEpoch, each
// with a first contact of five minutes; every fifth case transferred (a
// second contact and a transfer event), every twentieth with a requeued
// leg before its first; two message events a case; the last 50 cases still
// open. It returns the end of the year.
func generateReportLog(ctx context.Context, db *tsql.DB, n int) (time.Time, error) {
	cases := n * 5 / 6 // a fifth of them with a second contact
	span := 365 * 24 * time.Hour
	step := span.Seconds() / float64(cases)
	open := cases - 50
	at := `($1::timestamptz + make_interval(secs => i * $2::float8))`
	for _, s := range []string{
		`SET maintenance_work_mem = '512MB'`,
		`INSERT INTO cases (id, caller_id, caller_name, caller_language, context, status, created_at, closed_at)
		SELECT 'cs-' || i, 'caller-' || i, '시민', 'ko', '{}',
			CASE WHEN i < $3 THEN 'closed' ELSE 'open' END, ` + at + `,
			CASE WHEN i < $3 THEN ` + at + ` + interval '10 minutes' END
		FROM generate_series(0, $4 - 1) i`,
		`INSERT INTO contacts (id, case_id, queue_id, agency_id, channel, status, priority, caller_id, context,
			callback_number, skills, seq, head, agent, enqueued_at, answered_at, ended_at, disposition, warm_of)
		SELECT 'ct-' || i || '-1', 'cs-' || i, 'agency' || (i % 20) || '.q0', 'agency' || (i % 20), 'voice',
			CASE WHEN i < $3 THEN 'ended' ELSE 'assigned' END, 0, 'caller-' || i, '{}', '', '{}', 2 * i, false,
			'agent' || (i % 200), ` + at + `, ` + at + ` + interval '30 seconds',
			CASE WHEN i < $3 THEN ` + at + ` + interval '5 minutes' END,
			CASE WHEN i % 5 = 0 THEN 'transferred' WHEN i < $3 THEN 'resolved' ELSE '' END, ''
		FROM generate_series(0, $4 - 1) i`,
		`INSERT INTO contacts (id, case_id, queue_id, agency_id, channel, status, priority, caller_id, context,
			callback_number, skills, seq, head, agent, enqueued_at, answered_at, ended_at, disposition, warm_of)
		SELECT 'ct-' || i || '-2', 'cs-' || i, 'agency' || ((i + 7) % 20) || '.q0', 'agency' || ((i + 7) % 20), 'voice',
			CASE WHEN i < $3 THEN 'ended' ELSE 'queued' END, 0, 'caller-' || i, '{}', '', '{}', 2 * i + 1, false,
			'agent' || ((i + 70) % 200), ` + at + ` + interval '5 minutes', ` + at + ` + interval '6 minutes',
			CASE WHEN i < $3 THEN ` + at + ` + interval '10 minutes' END, CASE WHEN i < $3 THEN 'resolved' ELSE '' END, ''
		FROM generate_series(0, $4 - 1) i WHERE i % 5 = 0`,
		`INSERT INTO requeued_legs (contact_id, enqueued_at, case_id, queue_id, agency_id, channel, seq, agent,
			answered_at, ended_at, disposition)
		SELECT 'ct-' || i || '-1', ` + at + ` - interval '2 minutes', 'cs-' || i, 'agency' || (i % 20) || '.q0',
			'agency' || (i % 20), 'voice', 2 * i, 'agent' || ((i + 1) % 200), ` + at + ` - interval '90 seconds',
			` + at + ` - interval '1 minute', 'requeued'
		FROM generate_series(0, $4 - 1) i WHERE i % 20 = 0`,
		`INSERT INTO case_events (case_id, seq, at, type, actor, contact_id, text, data)
		SELECT 'cs-' || i, m, ` + at + ` + make_interval(secs => 40 + m), 'message', 'citizen:caller-' || i,
			'ct-' || i || '-1', '민원 상담', '{"contact_id":"ct-' || i || '-1"}'
		FROM generate_series(0, $4 - 1) i, generate_series(1, 2) m`,
		`INSERT INTO case_events (case_id, seq, at, type, actor, contact_id, text, data)
		SELECT 'cs-' || i, 3, ` + at + ` + interval '5 minutes', 'transfer', 'agent:agent' || (i % 200),
			'ct-' || i || '-1', '', '{"contact_id":"ct-' || i || '-2","from_queue":"agency' || (i % 20) || '.q0"}'
		FROM generate_series(0, $4 - 1) i WHERE i % 5 = 0`,
	} {
		// The counts are written into the text: PostgreSQL wants a type
		// for every parameter of a statement, even one it does not use.
		s = strings.NewReplacer("$2::float8", strconv.FormatFloat(step, 'g', -1, 64)+"::float8",
			"$3", strconv.Itoa(open), "$4", strconv.Itoa(cases)).Replace(s)
		var args []any
		if strings.Contains(s, "$1") {
			args = []any{benchEpoch}
		}
		if _, err := db.ExecContext(ctx, s, args...); err != nil {
			return time.Time{}, fmt.Errorf("%.60s…: %w", s, err)
		}
	}
	return benchEpoch.Add(span), nil
}
