package transcripts

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	tsql "tellonce/sql"
	"tellonce/sql/sqltest"
)

// olderForm is a resident registration number as rows written before the
// masking rules recognised its form still hold it; rrnBack is the part
// that must never be read back.
const olderForm = "900101 – 1234567"

// storeUnderOlderRules writes olderForm into every free-text column of
// the cases' rows and into one audit row, bypassing the masking on write,
// as the rows of an older deployment hold it.
func storeUnderOlderRules(t *testing.T, db *tsql.DB, caseIDs ...string) {
	t.Helper()
	cx, err := json.Marshal(contextJSON{Summary: "주민번호 " + olderForm, IVR: []string{"1", olderForm},
		Attributes: map[string]string{"resident_no": olderForm}})
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(map[string]string{"note": olderForm})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range caseIDs {
		mustExec(t, db, db.Rebind(`UPDATE cases SET caller_name = ?, context = ? WHERE id = ?`), "홍길동 "+olderForm, string(cx), id)
		mustExec(t, db, db.Rebind(`UPDATE contacts SET context = ?, callback_number = ?, disposition = ? WHERE case_id = ?`),
			string(cx), olderForm, "resolved "+olderForm, id)
		mustExec(t, db, db.Rebind(`UPDATE case_events SET text = ?, data = ? WHERE case_id = ? AND type = 'message'`),
			"제 번호는 "+olderForm+"입니다", string(data), id)
		if db.Dialect == tsql.SQLite {
			mustExec(t, db, `DELETE FROM case_events_fts WHERE case_id = ?`, id)
			mustExec(t, db, `INSERT INTO case_events_fts (text, case_id, seq)
				SELECT text, case_id, seq FROM case_events WHERE case_id = ? AND text <> ''`, id)
		}
	}
	mustExec(t, db, db.Rebind(`UPDATE access_audit SET query = ?, reason = ?`), "q=900101+%E2%80%93+1234567", "asked "+olderForm)
}

func holdsBack(t *testing.T, what string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), rrnBack) {
		t.Errorf("%s holds a registration number in clear: %s", what, b)
	}
}

// Rows stored under older masking rules (docs/privacy.md, "When the
// rules change"): every read — a timeline with and without pii, a restore into
// the router, a search, the audit list, a returning caller's history —
// masks them by the current rules; a search cannot find a case by the
// hidden digits; Remask rewrites the rows themselves, index included,
// reports its progress, and a second run finds nothing to do.
func TestRowsStoredUnderOlderRulesAreMaskedAndRewritten(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		ctx := context.Background()
		w := newWorld(t, b, Retention{})
		closed := w.chat("gov110.general", "resolved", "안녕하세요", "네 말씀하세요")
		live := w.open("gov110.cert", "증명서")
		w.say(live, "여보세요")
		if err := w.rv.Record(ctx, AuditEntry{Username: "sup", Role: "supervisor", Action: ActionSearch, Query: "q=x", Outcome: OutcomeOK}); err != nil {
			t.Fatal(err)
		}
		storeUnderOlderRules(t, b.DB, closed, live.CaseID)

		for _, id := range []string{closed, live.CaseID} {
			tl, err := w.rv.Timeline(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			holdsBack(t, "the timeline (pii) of "+id, tl)
			holdsBack(t, "the timeline (no pii) of "+id, tl.Redacted())
			if !strings.Contains(tl.Caller.Name, "900101") {
				t.Errorf("caller name %q: the birth date should stay", tl.Caller.Name)
			}
		}
		snaps, err := w.j.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(snaps) == 0 {
			t.Fatal("Load restored no open case")
		}
		holdsBack(t, "the restore", snaps)
		s, _, err := w.rv.ClosedCase(ctx, closed)
		if err != nil {
			t.Fatal(err)
		}
		holdsBack(t, "the closed case a continuation reopens", s)

		for _, redact := range []bool{false, true} {
			if got := w.search(all, Filter{Text: "1234567", Redact: redact}); len(got) != 0 {
				t.Errorf("a search (redact %v) for the hidden digits found %v", redact, got)
			}
			p, err := w.rv.Search(ctx, all, Filter{Text: "900101", Redact: redact})
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Items) != 2 {
				t.Errorf("search for the birth date (redact %v) found %v; want both cases", redact, caseIDs(p.Items))
			}
			holdsBack(t, "the search page", p)
		}
		audit, err := w.rv.Audit(ctx, AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		holdsBack(t, "the audit list", audit)

		var progress []RemaskProgress
		totals, err := w.rv.Remask(ctx, func(p RemaskProgress) { progress = append(progress, p) })
		if err != nil {
			t.Fatal(err)
		}
		rewritten := map[string]int{}
		for _, p := range totals {
			rewritten[p.Table] = p.Rewritten
			if !p.Done {
				t.Errorf("table %s: %+v; want read to the end", p.Table, p)
			}
		}
		for table, want := range map[string]int{"cases": 2, "contacts": 2, "case_events": 3, "access_audit": 1, "requeued_legs": 0} {
			if rewritten[table] != want {
				t.Errorf("%s: rewrote %d rows; want %d (totals %+v)", table, rewritten[table], want, totals)
			}
		}
		if len(progress) < len(remaskTables) {
			t.Errorf("progress reported %d times; want once per table at least", len(progress))
		}
		for _, id := range []string{closed, live.CaseID} {
			for _, s := range rawTexts(t, b.DB, id) {
				if strings.Contains(s.value, rrnBack) {
					t.Errorf("after Remask %s still holds %q", s.where, s.value)
				}
			}
		}
		var queries []string
		if err := b.DB.SelectContext(ctx, &queries, `SELECT query || reason FROM access_audit`); err != nil {
			t.Fatal(err)
		}
		holdsBack(t, "the audit rows", queries)
		// The rewritten text is still found by what was kept.
		if got := w.search(all, Filter{Text: "900101"}); len(got) != 2 {
			t.Errorf("after Remask the birth date finds %v; want both cases", got)
		}
		again, err := w.rv.Remask(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range again {
			if p.Rewritten != 0 {
				t.Errorf("a second Remask rewrote %+v", p)
			}
		}
	})
}
