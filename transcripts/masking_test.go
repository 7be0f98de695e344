package transcripts

import (
	"context"
	"strings"
	"testing"

	"tellonce/router"
	tsql "tellonce/sql"
	"tellonce/sql/sqltest"
)

// rrn is a resident registration number as a caller would say it, and
// rrnMasked what may be stored of it.
const (
	rrn       = "900101-1234567"
	rrnMasked = "900101-1******"
	rrnBack   = "1234567" // the part that must never reach the disk
)

// Resident registration numbers are masked before they are stored
// (docs/privacy.md): wherever free text reaches the database — the
// contact's context (summary, IVR path, attributes), the caller's name,
// messages, speech-to-text, notes, transfer notes, end summaries and
// dispositions — the raw rows hold only the masked form.
func TestRRNIsMaskedBeforeStorage(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		w := newWorld(t, b, Retention{})
		c := w.enqueue(caller("rrn-caller", func(r *router.EnqueueRequest) {
			r.Channel = router.ChannelChat
			r.Caller.Name = "홍길동 " + rrn
			r.Context = router.ContactContext{
				Summary:    "주민번호 " + rrn + " 증명서 발급",
				IVR:        []string{"1", "주민번호 9001011234567"},
				Attributes: map[string]string{"resident_no": rrn, "note": "생년 900101 1234567"},
			}
		}))
		w.accept(c.ID)
		c = w.contact(c.ID)
		w.say(c, "제 주민번호는 "+rrn+"입니다", "확인: "+rrn)
		w.ack(w.r.Note(c.Agent, c.CaseID, "caller gave "+rrn))
		w.ack(w.r.Transcript(c.ID, router.RoleCitizen, "구공공일공일 다시 900101 1234567"))
		next, evs, err := w.r.Transfer(c.Agent, c.ID, router.Target{Queue: "nts126.tax"}, router.TransferCold, "주민번호 "+rrn)
		w.ack(evs, err)
		w.accept(next.ID)
		w.ack(w.r.End("lee", next.ID, "resolved "+rrn, "summary "+rrn))

		texts := rawTexts(t, b.DB, c.CaseID)
		if len(texts) < 10 {
			t.Fatalf("read %d stored texts; want every text column of the case", len(texts))
		}
		for _, s := range texts {
			if strings.Contains(s.value, rrnBack) {
				t.Errorf("%s holds the RRN unmasked: %q", s.where, s.value)
			}
		}
		for _, where := range []string{"case_events.text", "cases.context", "contacts.context", "cases.caller_name"} {
			if !anyHolds(texts, where, rrnMasked) {
				t.Errorf("no %s holds the masked form %q", where, rrnMasked)
			}
		}
		// The masked text is still searchable by what was kept.
		if got := w.search(all, Filter{Text: "900101-1"}); len(got) != 1 || got[0] != c.CaseID {
			t.Errorf("Search(900101-1) = %v; want the case", got)
		}
	})
}

type stored struct{ where, value string }

func anyHolds(texts []stored, where, sub string) bool {
	for _, s := range texts {
		if s.where == where && strings.Contains(s.value, sub) {
			return true
		}
	}
	return false
}

// rawTexts reads every text column of a case's rows straight from the
// tables, bypassing the review code, including the SQLite search index.
func rawTexts(t *testing.T, db *tsql.DB, caseID string) []stored {
	t.Helper()
	queries := map[string]string{
		"cases.caller_name":         `SELECT caller_name FROM cases WHERE id = ?`,
		"cases.context":             `SELECT context FROM cases WHERE id = ?`,
		"contacts.context":          `SELECT context FROM contacts WHERE case_id = ?`,
		"contacts.disposition":      `SELECT disposition FROM contacts WHERE case_id = ?`,
		"contacts.callback":         `SELECT callback_number FROM contacts WHERE case_id = ?`,
		"case_events.text":          `SELECT text FROM case_events WHERE case_id = ?`,
		"case_events.data":          `SELECT data FROM case_events WHERE case_id = ?`,
		"requeued_legs.disposition": `SELECT disposition FROM requeued_legs WHERE case_id = ?`,
	}
	if db.Dialect == tsql.SQLite {
		queries["case_events_fts.text"] = `SELECT text FROM case_events_fts WHERE case_id = ?`
	}
	var out []stored
	for where, q := range queries {
		var vals []string
		if err := db.SelectContext(context.Background(), &vals, db.Rebind(q), caseID); err != nil {
			t.Fatalf("read %s: %v", where, err)
		}
		for _, v := range vals {
			out = append(out, stored{where, v})
		}
	}
	return out
}

// The search is served by an index on both backends: the trigram GIN
// index on PostgreSQL (whose trigrams of Hangul need a UTF-8 LC_CTYPE),
// the FTS5 trigram table on SQLite.
func TestSearchUsesTheTextIndex(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		w := newWorld(t, b, Retention{})
		w.chat("gov110.general", "resolved", "가족관계증명서가 필요합니다")
		q, args, err := w.rv.searchQuery(all, Filter{Text: "증명서", Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		conn, err := b.DB.Connx(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var plan []string
		switch b.DB.Dialect {
		case tsql.Postgres:
			var n int
			if err := conn.GetContext(ctx, &n, `SELECT cardinality(show_trgm('증명서'))`); err != nil || n == 0 {
				t.Fatalf("show_trgm('증명서') has %d trigrams (%v): the database's LC_CTYPE does not class Hangul as letters", n, err)
			}
			// On a table this small the planner rightly prefers a scan;
			// forbidding scans shows the index can serve the query.
			if _, err := conn.ExecContext(ctx, `SET enable_seqscan = off`); err != nil {
				t.Fatal(err)
			}
			defer conn.ExecContext(ctx, `RESET enable_seqscan`)
			err = conn.SelectContext(ctx, &plan, `EXPLAIN `+b.DB.Rebind(q), args...)
		case tsql.SQLite:
			var rows []struct {
				ID      int    `db:"id"`
				Parent  int    `db:"parent"`
				NotUsed int    `db:"notused"`
				Detail  string `db:"detail"`
			}
			err = conn.SelectContext(ctx, &rows, `EXPLAIN QUERY PLAN `+q, args...)
			for _, r := range rows {
				plan = append(plan, r.Detail)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		want := map[tsql.Dialect]string{tsql.Postgres: "case_events_text_trgm", tsql.SQLite: "VIRTUAL TABLE INDEX"}[b.DB.Dialect]
		if !strings.Contains(strings.Join(plan, "\n"), want) {
			t.Errorf("plan of the text search does not use %s:\n%s", want, strings.Join(plan, "\n"))
		}
	})
}
