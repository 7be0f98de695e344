package transcripts

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	tsql "tellonce/sql"
	"tellonce/sql/sqltest"
)

// BenchmarkSearch measures search latency over a generated case log of
// searchMessages messages (default 1,000,000; TELLONCE_BENCH_MESSAGES
// overrides it) in searchMessages/10 cases on PostgreSQL. The data is made
// once per run, in the run's own schema (see BENCHMARKS.md). Each
// sub-benchmark is one kind of query; each iteration is one Search, as the
// web handler calls it (a page of 50, snippets included). Metrics:
// p50-ms, p95-ms, p99-ms of the iterations' latencies.
func BenchmarkSearch(b *testing.B) {
	n := 1_000_000
	if v := os.Getenv("TELLONCE_BENCH_MESSAGES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1000 {
			b.Fatalf("TELLONCE_BENCH_MESSAGES=%q: want a number ≥ 1000", v)
		}
	}
	db := sqltest.Open(b, "postgres")
	began := time.Now()
	if err := generateCaseLog(context.Background(), db.DB, n); err != nil {
		b.Fatal(err)
	}
	b.Logf("generated %d messages in %d cases in %v", n, n/10, time.Since(began).Round(time.Second))
	rv, err := NewReview(db.DB, ReviewOptions{Log: quiet})
	if err != nil {
		b.Fatal(err)
	}
	sup := Scope{Agency: "agency03"}
	queries := []struct {
		name  string
		scope Scope
		f     Filter
	}{
		{"korean-common/admin", all, Filter{Text: "증명서"}},
		{"korean-common/supervisor", sup, Filter{Text: "증명서"}},
		{"korean-rare/admin", all, Filter{Text: "여권재발급"}},
		{"korean-rare/supervisor", sup, Filter{Text: "여권재발급"}},
		{"korean-none/admin", all, Filter{Text: "존재하지않는말"}},
		{"english-common/admin", all, Filter{Text: "refund"}},
		{"english-rare/admin", all, Filter{Text: "apostille"}},
		{"english-rare/supervisor", sup, Filter{Text: "apostille"}},
		{"korean-two-chars/admin", all, Filter{Text: "등본"}},
		{"korean-two-chars-rare/admin", all, Filter{Text: "여권"}},
		{"no-text/supervisor", sup, Filter{}},
		{"korean-common/supervisor-last-month", sup, Filter{Text: "증명서", From: benchEpoch.Add(335 * 24 * time.Hour)}},
	}
	for _, q := range queries {
		b.Run(q.name, func(b *testing.B) {
			ctx := context.Background()
			lat := make([]time.Duration, 0, b.N)
			found := 0
			b.ResetTimer()
			for range b.N {
				t := time.Now()
				p, err := rv.Search(ctx, q.scope, q.f)
				if err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t))
				found = len(p.Items)
			}
			b.StopTimer()
			slices.Sort(lat)
			pct := func(p int) float64 { return float64(lat[(len(lat)-1)*p/100].Microseconds()) / 1000 }
			b.ReportMetric(pct(50), "p50-ms")
			b.ReportMetric(pct(95), "p95-ms")
			b.ReportMetric(pct(99), "p99-ms")
			b.ReportMetric(float64(found), "cases/page")
		})
	}
}

// benchEpoch is when the generated log starts; it spans a year.
var benchEpoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// Phrases of the generated messages. Each message is two or three of the
// common phrases; rare terms are mixed in at the rates noted.
var (
	benchKorean = []string{
		"안녕하세요 문의드립니다", "가족관계증명서가 필요합니다", "주민등록등본 발급 방법을 알려주세요",
		"세금 환급이 아직 안 들어왔어요", "확인해 드리겠습니다", "잠시만 기다려 주세요", "담당 부서로 연결해 드릴게요",
		"신청서를 다시 제출해야 하나요", "온라인으로도 가능합니다", "처리 기간은 일주일 정도입니다",
		"납세증명서 발급은 홈택스에서 됩니다", "예방접종 예약을 변경하고 싶어요", "체류 기간 연장 신청",
		"감사합니다 좋은 하루 되세요", "서류를 팩스로 보내주세요", "본인 확인이 필요합니다",
	}
	benchEnglish = []string{
		"hello I need help", "where is my refund", "please hold the line", "thank you for calling",
		"I would like to book a visa appointment", "the form is available online",
	}
)

// benchMessage is message i's text. Rates: "증명서" in about a quarter of
// messages (two of the sixteen Korean phrases), "refund" in about one in
// twenty, "여권재발급" in 1 in 5,000, "apostille" in 1 in 20,000.
func benchMessage(r *rand.Rand, i int) string {
	var parts []string
	for range 2 + r.IntN(2) {
		if r.IntN(5) == 0 {
			parts = append(parts, benchEnglish[r.IntN(len(benchEnglish))])
		} else {
			parts = append(parts, benchKorean[r.IntN(len(benchKorean))])
		}
	}
	switch {
	case i%20_000 == 7:
		parts = append(parts, "apostille certificate needed")
	case i%5_000 == 3:
		parts = append(parts, "여권재발급 문의")
	}
	parts = append(parts, strconv.Itoa(r.IntN(100_000)))
	return strings.Join(parts, " ")
}

// generateCaseLog writes n messages in n/10 closed cases: twenty agencies
// of three queues, one leg per case and a transferred second leg in one
// case of five, cases spread over a year. COPY writes the rows and the
// trigram index is built afterwards, as a bulk load would.
func generateCaseLog(ctx context.Context, db *tsql.DB, n int) error {
	conn, err := db.Connx(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	for _, s := range []string{`SET maintenance_work_mem = '512MB'`, `DROP INDEX case_events_text_trgm`} {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	tx, err := conn.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	copyIn := func(table string, cols ...string) (func(...any) error, func() error, error) {
		st, err := tx.PrepareContext(ctx, "COPY "+table+" ("+strings.Join(cols, ", ")+") FROM STDIN")
		if err != nil {
			return nil, nil, fmt.Errorf("copy into %s: %w", table, err)
		}
		add := func(v ...any) error { _, err := st.ExecContext(ctx, v...); return err }
		done := func() error {
			if _, err := st.ExecContext(ctx); err != nil {
				return fmt.Errorf("copy into %s: %w", table, err)
			}
			return st.Close()
		}
		return add, done, nil
	}
	addCase, doneCases, err := copyIn("cases", casesTable.cols...)
	if err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(1, 2))
	cases := n / 10
	span := 365 * 24 * time.Hour
	type leg struct {
		id, caseID, queue, agency, agent, disposition string
		at                                            time.Time
	}
	var legs []leg
	firstLeg := make([]int, cases)
	for c := range cases {
		firstLeg[c] = len(legs)
		id := fmt.Sprintf("cs-%07d", c)
		at := benchEpoch.Add(time.Duration(c) * (span / time.Duration(cases)))
		a := r.IntN(20)
		first := leg{id: "ct-" + id[3:] + "-1", caseID: id, agency: fmt.Sprintf("agency%02d", a), at: at,
			agent: fmt.Sprintf("agent%03d", a*10+r.IntN(10)), disposition: "resolved"}
		first.queue = first.agency + fmt.Sprintf(".q%d", r.IntN(3))
		legs = append(legs, first)
		if c%5 == 0 {
			b := (a + 1 + r.IntN(19)) % 20
			second := leg{id: "ct-" + id[3:] + "-2", caseID: id, agency: fmt.Sprintf("agency%02d", b),
				at: at.Add(time.Minute), agent: fmt.Sprintf("agent%03d", b*10+r.IntN(10)), disposition: "resolved"}
			second.queue = second.agency + ".q0"
			legs[len(legs)-1].disposition = "transferred"
			legs = append(legs, second)
		}
		closed := at.Add(10 * time.Minute)
		if err := addCase(id, "caller-"+strconv.Itoa(c), "시민", "ko", `{"summary":"민원 상담","ivr":null,"attributes":null}`,
			"closed", at, closed); err != nil {
			return err
		}
	}
	if err := doneCases(); err != nil {
		return err
	}
	addContact, doneContacts, err := copyIn("contacts", contactsTable.cols...)
	if err != nil {
		return err
	}
	for i, l := range legs {
		answered := l.at.Add(30 * time.Second)
		if err := addContact(l.id, l.caseID, l.queue, l.agency, "chat", "ended", 0, "caller", `{}`, "", `{}`, int64(i),
			false, l.agent, l.at, answered, l.at.Add(10*time.Minute), l.disposition, "",
			nil, false, 0, ""); err != nil { // due_at, slot, attempts, conference_of
			return err
		}
	}
	if err := doneContacts(); err != nil {
		return err
	}
	addEvent, doneEvents, err := copyIn("case_events", eventsTable.cols...)
	if err != nil {
		return err
	}
	for m := range n {
		c := m / 10
		l := legs[firstLeg[c]]
		if m%10 >= 5 && firstLeg[c]+1 < len(legs) && legs[firstLeg[c]+1].caseID == l.caseID {
			l = legs[firstLeg[c]+1] // the second half of a transferred case
		}
		actor := "citizen:caller-" + strconv.Itoa(c)
		if m%2 == 1 {
			actor = "agent:" + l.agent
		}
		if err := addEvent(l.caseID, int64(m%10+1), l.at.Add(time.Duration(m%10)*time.Second), "message", actor, l.id,
			benchMessage(r, m), `{"contact_id":"`+l.id+`"}`); err != nil {
			return err
		}
	}
	if err := doneEvents(); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	for _, s := range []string{`CREATE INDEX case_events_text_trgm ON case_events USING gin (text gin_trgm_ops)`,
		`VACUUM ANALYZE cases`, `VACUUM ANALYZE contacts`, `VACUUM ANALYZE case_events`} {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}
