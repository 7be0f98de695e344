package stats

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"tellonce/cases"
	"tellonce/sql/sqltest"
	"tellonce/transcripts"
)

var rday = time.Date(2026, 3, 2, 0, 0, 0, 0, Seoul)

func at(hm string) time.Time {
	t, err := time.ParseInLocation("15:04:05", hm, Seoul)
	if err != nil {
		panic(err)
	}
	return rday.Add(time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute + time.Duration(t.Second())*time.Second)
}

// A leg handled across an interval's end is busy in both; a warm transfer
// counts into its target when the target accepts, in that interval.
func TestBuildReportSpreadsAndWarmTransfers(t *testing.T) {
	day := transcripts.Day{
		Legs: []transcripts.DayLeg{
			{ContactID: "c1", CaseID: "k1", Queue: "a.q", Agency: "a", Agent: "ann", Channel: "voice",
				EnqueuedAt: at("09:05:00"), AnsweredAt: at("09:10:00"), EndedAt: at("09:20:00"), Disposition: "transferred"},
			{ContactID: "c2", CaseID: "k1", Queue: "b.q", Agency: "b", Agent: "bob", Channel: "voice",
				EnqueuedAt: at("09:14:00"), AnsweredAt: at("09:16:00"), EndedAt: at("09:40:00"), Disposition: "resolved"},
		},
		Transfers: []transcripts.DayTransfer{{CaseID: "k1", At: at("09:14:00"),
			Data: map[string]string{"mode": string(cases.TransferWarm), "new_contact_id": "c2", "to_queue": "b.q"}}},
		Closed: []transcripts.DayClosed{{CaseID: "k1", ClosedAt: at("09:40:00")}},
	}
	q := ReportQuery{By: ByQueue, Interval: Interval15m, From: rday, To: rday.AddDate(0, 0, 1), Location: Seoul, Now: at("12:00:00")}
	rows, err := BuildReport(day, q)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows {
		got = append(got, r.Key+"@"+r.Start.Format("15:04")+" "+strings.Join([]string{
			itoa(r.Offered), itoa(r.Answered), itoa(r.TransferredIn), itoa(r.TransferredOut), itoa(r.Handled),
			pct(r.OccupancyPct), pct(r.CitizenWaitAvgS)}, " "))
	}
	// offered answered in out handled occupancy citizen_wait
	want := []string{
		"a.q@09:00 1 1 0 0 0 33.3 -",   // busy 09:10–09:15 of 15 min
		"a.q@09:15 0 0 0 1 1 33.3 -",   // 09:15–09:20
		"b.q@09:00 1 0 0 0 0 - -",      // offered at 09:14
		"b.q@09:15 0 1 1 0 0 93.3 -",   // accepted at 09:16 (the warm transfer counts then); busy 09:16–09:30
		"b.q@09:30 0 0 0 0 1 66.7 300", // ended 09:40; the citizen waited 09:05–09:10 only: the warm leg's wait was with ann on the line
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
}

func itoa(n int) string { return fmt.Sprint(n) }

func pct(p *float64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprint(*p)
}

// Buckets: days are calendar days in the location; a bad query is an
// error.
func TestReportBuckets(t *testing.T) {
	q := ReportQuery{Interval: IntervalDay, From: rday, To: rday.AddDate(0, 0, 3), Location: Seoul}
	b, err := q.Buckets()
	if err != nil || len(b) != 4 || !b[1].Equal(rday.AddDate(0, 0, 1)) || !b[3].Equal(q.To) {
		t.Errorf("three days: %v, %v", b, err)
	}
	for _, bad := range []ReportQuery{
		{Interval: IntervalHour, From: rday, To: rday},
		{Interval: "week", From: rday, To: rday.AddDate(0, 0, 1)},
		{Interval: Interval15m, From: rday, To: rday.AddDate(0, 0, 32)},
	} {
		if _, err := bad.Buckets(); err == nil {
			t.Errorf("Buckets(%v %s–%s) = nil error", bad.Interval, bad.From, bad.To)
		}
	}
}

// A report of the day, computed from the case log on either backend,
// agrees with the live counters of the same day (the script of
// counters_test.go, wantToday): per queue every shared figure, per agent
// the handled legs and their handle time.
func TestReportAgreesWithToday(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		d := journalDesk(t, b)
		d.clock.Set(day0)
		script(d)
		start := newDay(day0, Seoul).start
		log, err := transcripts.ReadRange(context.Background(), b.DB, start, start.AddDate(0, 0, 1), start.Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		thresholds := map[string]time.Duration{general: 20 * time.Second, tax: 30 * time.Second}
		q := ReportQuery{By: ByQueue, Interval: IntervalDay, From: start, To: start.AddDate(0, 0, 1), Location: Seoul,
			Now: d.clock.Now(), Threshold: func(queue string) time.Duration { return thresholds[queue] }}
		rows, err := BuildReport(log, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != len(wantToday) {
			t.Fatalf("%d rows; want one per queue, %d", len(rows), len(wantToday))
		}
		for _, r := range rows {
			w := wantToday[r.Key]
			got := fmt.Sprint(r.Offered, r.Answered, r.AnsweredWithinThreshold, r.Abandoned, r.AbandonedBeforeThreshold,
				r.TransferredIn, r.TransferredOut, r.Handled, pct(r.ASAS), pct(r.AHTS), pct(r.ServiceLevelPct), r.CasesClosed, pct(r.CitizenWaitAvgS))
			want := fmt.Sprint(w.Offered, w.Answered, w.AnsweredWithinThreshold, w.Abandoned, w.AbandonedBeforeThreshold,
				w.TransferredIn, w.TransferredOut, w.Handled, pct(w.ASAS), pct(w.AHTS), pct(w.ServiceLevelPct), w.CasesClosed, pct(w.CitizenWaitAvgS))
			if got != want {
				t.Errorf("%s: report %s; today %s", r.Key, got, want)
			}
		}
		q.By = ByAgent
		rows, err = BuildReport(log, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			w := wantAgents[r.Key]
			if r.Handled != w.Handled || pct(r.AHTS) != pct(w.AHTS) {
				t.Errorf("agent %s: handled %d, aht %s; today %d, %s", r.Key, r.Handled, pct(r.AHTS), w.Handled, pct(w.AHTS))
			}
		}
	})
}
