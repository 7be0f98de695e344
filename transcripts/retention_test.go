package transcripts

import (
	"context"
	"reflect"
	"testing"
	"time"

	tsql "tellonce/sql"
	"tellonce/sql/sqltest"
)

func TestAuditRecordsAndLists(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		w := newWorld(t, b, Retention{})
		ctx := context.Background()
		t0 := w.clock.Now()
		entries := []AuditEntry{
			{Username: "gov110-sup", Role: "supervisor", Agency: "gov110", ClientAddr: "203.0.113.7", Action: ActionSearch,
				Query: "q=%EC%A6%9D%EB%AA%85%EC%84%9C", Outcome: OutcomeOK},
			{Username: "gov110-sup", Role: "supervisor", Agency: "gov110", ClientAddr: "203.0.113.7", Action: ActionRead,
				CaseID: "cs1", Outcome: OutcomeOK},
			{Username: "admin", Role: "admin", ClientAddr: "198.51.100.2", Action: ActionExport, CaseID: "cs1",
				Format: "csv", Reason: "정보공개청구 " + rrn, Outcome: OutcomeOK},
			{Username: "nts126-agent", Role: "agent", Agency: "nts126", ClientAddr: "192.0.2.9", Action: ActionRead,
				CaseID: "cs1", Outcome: OutcomeDenied},
		}
		for i, e := range entries {
			e.At = t0.Add(time.Duration(i) * time.Minute)
			if err := w.rv.Record(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		list := func(f AuditFilter) []string {
			t.Helper()
			p, err := w.rv.Audit(ctx, f)
			if err != nil {
				t.Fatalf("Audit(%+v) = %v", f, err)
			}
			out := []string{}
			for _, e := range p.Items {
				out = append(out, e.Username+" "+e.Action+" "+e.Outcome)
			}
			return out
		}
		tests := []struct {
			f    AuditFilter
			want []string
		}{
			{AuditFilter{}, []string{"nts126-agent read denied", "admin export ok", "gov110-sup read ok", "gov110-sup search ok"}},
			{AuditFilter{User: "gov110-sup"}, []string{"gov110-sup read ok", "gov110-sup search ok"}},
			{AuditFilter{CaseID: "cs1", Action: ActionRead}, []string{"nts126-agent read denied", "gov110-sup read ok"}},
			{AuditFilter{From: t0.Add(time.Minute), To: t0.Add(3 * time.Minute)}, []string{"admin export ok", "gov110-sup read ok"}},
		}
		for _, tt := range tests {
			if got := list(tt.f); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Audit(%+v) = %v; want %v", tt.f, got, tt.want)
			}
		}
		p, err := w.rv.Audit(ctx, AuditFilter{Action: ActionExport})
		if err != nil {
			t.Fatal(err)
		}
		got := p.Items[0]
		if got.Reason != "정보공개청구 "+rrnMasked || got.Format != "csv" || got.ClientAddr != "198.51.100.2" ||
			!got.At.Equal(t0.Add(2*time.Minute)) || got.ID == 0 {
			t.Errorf("export row = %+v; want the reason (its RRN masked), csv, the address and the time", got)
		}
		var seen []string
		after := ""
		for {
			p, err := w.rv.Audit(ctx, AuditFilter{Limit: 3, After: after})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range p.Items {
				seen = append(seen, e.Username+" "+e.Action+" "+e.Outcome)
			}
			if p.Next == "" {
				break
			}
			after = p.Next
		}
		if !reflect.DeepEqual(seen, tests[0].want) {
			t.Errorf("paged audit = %v; want %v", seen, tests[0].want)
		}
	})
}

// Retention: closed cases older than the period go, with every row they
// own (legs, timeline, search index); open cases and recent ones stay,
// and so do the audit rows, which have their own, longer period.
func TestPurgeRemovesOldClosedCasesOnly(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		keep := Retention{Cases: 30 * 24 * time.Hour, Audit: 90 * 24 * time.Hour}
		w := newWorld(t, b, keep)
		ctx := context.Background()
		old := w.transferred("오래된 증명서 문의")
		oldOpen := w.open("gov110.cert", "오래된 미결 증명서")
		if err := w.rv.Record(ctx, AuditEntry{Username: "admin", Role: "admin", Action: ActionRead, CaseID: old,
			Outcome: OutcomeOK}); err != nil {
			t.Fatal(err)
		}
		w.clock.Advance(20 * 24 * time.Hour)
		recent := w.chat("gov110.general", "resolved", "최근 증명서 문의")
		if err := w.rv.Record(ctx, AuditEntry{Username: "admin", Role: "admin", Action: ActionRead, CaseID: recent,
			Outcome: OutcomeOK}); err != nil {
			t.Fatal(err)
		}
		w.clock.Advance(15 * 24 * time.Hour) // old closed 35 days ago, recent 15

		before := rowsOf(t, b.DB, old)
		if before["case_events"] == 0 || before["contacts"] != 2 {
			t.Fatalf("rows of the old case before the purge = %v; want its events and two legs", before)
		}
		n, err := w.rv.Purge(ctx, w.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("Purge = %d cases; want 1", n)
		}
		for table, n := range rowsOf(t, b.DB, old) {
			if n != 0 {
				t.Errorf("%s still holds %d rows of the purged case", table, n)
			}
		}
		if got := w.search(all, Filter{Text: "증명서"}); !reflect.DeepEqual(got, []string{recent, oldOpen.CaseID}) {
			t.Errorf("after the purge, Search(증명서) = %v; want the recent and the open case", got)
		}
		// The two reads, and the offer of the old case's transferred leg.
		if got := countRows(t, b.DB, "access_audit"); got != 3 {
			t.Errorf("Purge left %d audit rows; want all three", got)
		}
		if n, err := w.rv.Purge(ctx, w.clock.Now()); err != nil || n != 0 {
			t.Errorf("second Purge = %d, %v; want 0, nil", n, err)
		}

		// The audit has its own period: 90 days after each access.
		w.clock.Advance(60 * 24 * time.Hour) // the offer and the first read are 95 days old, the second read 75
		if n, err := w.rv.PurgeAudit(ctx, w.clock.Now()); err != nil || n != 2 {
			t.Errorf("PurgeAudit = %d, %v; want 2, nil", n, err)
		}
		p, err := w.rv.Audit(ctx, AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Items) != 1 || p.Items[0].CaseID != recent {
			t.Errorf("audit after PurgeAudit = %+v; want only the read of the recent case", p.Items)
		}
		if _, err := w.rv.Timeline(ctx, oldOpen.CaseID); err != nil {
			t.Errorf("the open case is gone: %v", err)
		}
	})
}

// rowsOf counts the rows a case owns in each table.
func rowsOf(t *testing.T, db *tsql.DB, caseID string) map[string]int {
	t.Helper()
	out := map[string]int{}
	tables := map[string]string{"cases": "id", "contacts": "case_id", "requeued_legs": "case_id", "case_events": "case_id"}
	if db.Dialect == tsql.SQLite {
		tables["case_events_fts"] = "case_id"
	}
	for table, col := range tables {
		var n int
		if err := db.GetContext(context.Background(), &n, db.Rebind(`SELECT COUNT(*) FROM `+table+` WHERE `+col+` = ?`), caseID); err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
		out[table] = n
	}
	return out
}

func TestRetentionSettings(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		name string
		r    Retention
		ok   bool
	}{
		{"defaults", Retention{}, true},
		{"audit longer", Retention{Cases: 30 * day, Audit: 60 * day}, true},
		{"audit as long", Retention{Cases: 30 * day, Audit: 30 * day}, true},
		{"audit shorter", Retention{Cases: 60 * day, Audit: 30 * day}, false},
		{"audit shorter than the default cases", Retention{Audit: 30 * day}, false},
		{"cases for ever, audit purged", Retention{Cases: -1}, false},
		{"both for ever", Retention{Cases: -1, Audit: -1}, true},
		{"audit for ever", Retention{Audit: -1}, true},
	}
	for _, tt := range tests {
		if err := tt.r.Validate(); (err == nil) != tt.ok {
			t.Errorf("%s: Validate(%+v) = %v; want ok %v", tt.name, tt.r, err, tt.ok)
		}
	}
	if d := (Retention{}).withDefaults(); d.Cases != DefaultCaseRetention || d.Audit != DefaultAuditRetention ||
		d.Every != DefaultRetentionEvery || d.Audit <= d.Cases {
		t.Errorf("defaults = %+v; want the documented ones, audit longer than cases", d)
	}
}

// RunRetention purges on its own, at start and on every tick, and stops
// with its context.
func TestRunRetentionPurgesOnSchedule(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		w := newWorld(t, b, Retention{Cases: time.Hour, Audit: 2 * time.Hour, Every: time.Millisecond})
		old := w.chat("gov110.general", "resolved", "old")
		w.clock.Advance(2 * time.Hour)
		purged := make(chan struct{}, 1)
		w.rv.retained = func() {
			select {
			case purged <- struct{}{}:
			default:
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- w.rv.RunRetention(ctx) }()
		// The first purge runs at once; a case that ages while it runs
		// goes at a later tick.
		awaitPurged := func(id string) {
			t.Helper()
			for rowsOf(t, b.DB, id)["cases"] != 0 {
				select {
				case <-purged:
				case <-time.After(guard):
					t.Fatalf("RunRetention did not purge case %s", id)
				}
			}
		}
		awaitPurged(old)
		later := w.chat("gov110.general", "resolved", "later")
		w.clock.Advance(2 * time.Hour)
		awaitPurged(later)
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("RunRetention = %v; want nil after its context ended", err)
			}
		case <-time.After(guard):
			t.Fatal("RunRetention did not return after its context ended")
		}
	})
}
