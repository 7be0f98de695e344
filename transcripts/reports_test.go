package transcripts

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	tsql "tellonce/sql"
	"tellonce/sql/sqltest"
)

// The report's reads by date are served by indexes on both backends
// (migration 0016), not by reading every leg and every case event: each
// table of ReadRange is reached through an index, and none is scanned
// whole.
func TestReportRangeUsesIndexes(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		ctx := context.Background()
		conn, err := b.DB.Connx(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if b.DB.Dialect == tsql.Postgres {
			// On tables this small the planner rightly prefers a scan;
			// forbidding scans shows whether an index can serve the query
			// (a query no index serves is still planned as a scan).
			if _, err := conn.ExecContext(ctx, `SET enable_seqscan = off`); err != nil {
				t.Fatal(err)
			}
			defer conn.ExecContext(ctx, `RESET enable_seqscan`)
		}
		to := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
		from := to.AddDate(0, 0, -1)
		for _, q := range []struct {
			name  string
			sql   string
			args  []any
			using []string // the plan names each, or one of each "a|b"
		}{
			{"contacts", rangeContacts, []any{to, from, from, to}, []string{"contacts_ended|contacts_enqueued", "contacts_case"}},
			{"requeued legs", rangeRequeued, []any{to, from, from, to}, []string{"requeued_legs_ended|requeued_legs_enqueued", "requeued_legs_case"}},
			{"transfers", rangeTransfers, []any{from, to}, []string{"case_events_transfers"}},
			{"closed cases", rangeClosedAt, []any{from, to}, nil},
		} {
			plan := explain(t, conn, b.DB, q.sql, q.args)
			for _, want := range q.using {
				if !slices.ContainsFunc(strings.Split(want, "|"), func(idx string) bool { return strings.Contains(plan, idx) }) {
					t.Errorf("%s: the plan uses none of %s:\n%s", q.name, want, plan)
				}
			}
			if testing.Verbose() {
				t.Logf("%s:\n%s", q.name, plan)
			}
			if whole := regexp.MustCompile(`(?m)Seq Scan on \w+|^SCAN \w+$`).FindString(plan); whole != "" {
				t.Errorf("%s: the plan reads a table whole (%s):\n%s", q.name, whole, plan)
			}
		}
	})
}

// explain is the query's plan as text: EXPLAIN on PostgreSQL, EXPLAIN
// QUERY PLAN on SQLite.
func explain(t *testing.T, conn interface {
	SelectContext(ctx context.Context, dest any, query string, args ...any) error
}, db *tsql.DB, q string, args []any) string {
	t.Helper()
	ctx := context.Background()
	var plan []string
	switch db.Dialect {
	case tsql.Postgres:
		if err := conn.SelectContext(ctx, &plan, `EXPLAIN `+db.Rebind(q), args...); err != nil {
			t.Fatalf("explain %s: %v", q, err)
		}
	case tsql.SQLite:
		var rows []struct {
			ID      int    `db:"id"`
			Parent  int    `db:"parent"`
			NotUsed int    `db:"notused"`
			Detail  string `db:"detail"`
		}
		if err := conn.SelectContext(ctx, &rows, `EXPLAIN QUERY PLAN `+q, args...); err != nil {
			t.Fatalf("explain %s: %v", q, err)
		}
		for _, r := range rows {
			plan = append(plan, r.Detail)
		}
	}
	return strings.Join(plan, "\n")
}
