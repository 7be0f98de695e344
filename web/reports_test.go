package web

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"tellonce/router"
	"tellonce/sql/sqltest"
	"tellonce/stats"
)

type reportPage struct {
	By       string            `json:"by"`
	Interval string            `json:"interval"`
	TimeZone string            `json:"time_zone"`
	Items    []stats.ReportRow `json:"items"`
}

// reportHistory builds a known history through the router and the journal,
// on the harness's clock (09:00 UTC, 18:00 in Seoul, on 2 March 2026):
//
//	09:00:00 c1 chats into gov110.general
//	09:00:10 gov110-agent answers c1 (waited 10 s: within the 20 s threshold)
//	09:00:40 c2 chats into gov110.general
//	09:01:10 c2 leaves unanswered (waited 30 s: abandoned after the threshold);
//	         its case closes in gov110.general, its citizen having waited 30 s
//	09:02:10 gov110-agent transfers c1 cold to nts126.tax (handled 120 s)
//	09:03:10 nts126-agent answers the new leg (waited 60 s: not within)
//	09:05:10 nts126-agent ends it (handled 120 s); the case closes, its
//	         citizen having waited 10 + 60 = 70 s across the transfer
func reportHistory(t *testing.T, h *harness) {
	t.Helper()
	j := withJournal(t, h)
	c1 := h.chat(t, "gov110.general", "c1")
	h.clock.Advance(10 * time.Second)
	h.answer(t, asAgent, c1.ContactID)
	h.clock.Advance(30 * time.Second)
	c2 := h.chat(t, "gov110.general", "c2")
	h.clock.Advance(30 * time.Second)
	evs, err := h.router.Abandon(c2.ContactID)
	durable(t, j, evs, err)
	h.clock.Advance(time.Minute)
	leg, evs, err := h.router.Transfer(asAgent, c1.ContactID, router.Target{Queue: "nts126.tax"}, router.TransferCold, "국세청으로")
	durable(t, j, evs, err)
	h.clock.Advance(time.Minute)
	h.answer(t, asOtherAgent, leg.ID)
	h.clock.Advance(2 * time.Minute)
	evs, err = h.router.End(asOtherAgent, leg.ID, "resolved", "처리 완료")
	durable(t, j, evs, err)
}

// fig renders a row's figures in one line, nulls as "-".
func fig(r stats.ReportRow) string {
	f := func(p *float64) string {
		if p == nil {
			return "-"
		}
		return fmt.Sprint(*p)
	}
	return fmt.Sprintf("%s %s offered=%d answered=%d within=%d abandoned=%d abandoned_before=%d in=%d out=%d handled=%d sl=%s asa=%s aht=%s occ=%s closed=%d citizen_wait=%s",
		r.Key, r.Start.Format("2006-01-02T15:04Z07:00"), r.Offered, r.Answered, r.AnsweredWithinThreshold, r.Abandoned, r.AbandonedBeforeThreshold,
		r.TransferredIn, r.TransferredOut, r.Handled, f(r.ServiceLevelPct), f(r.ASAS), f(r.AHTS), f(r.OccupancyPct), r.CasesClosed, f(r.CitizenWaitAvgS))
}

func (h *harness) report(t *testing.T, as, path string) []string {
	t.Helper()
	var page reportPage
	r := h.do(http.MethodGet, path, as, nil)
	if !r.wantStatus(t, http.StatusOK) || !r.decode(t, &page) {
		t.FailNow()
	}
	var out []string
	for _, it := range page.Items {
		out = append(out, fig(it))
	}
	return out
}

func wantLines(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\n got %s\nwant %s", what, strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
}

// Every figure of the reports, per queue, agency and agent, per 15
// minutes, hour and day, from the case log on both backends.
func TestReportsFromTheLog(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newHarness(t, b)
		reportHistory(t, h)
		const day = "from=2026-03-02&to=2026-03-02"

		wantLines(t, "queues by hour", h.report(t, asAdmin, "/v1/reports/queues?interval=hour&"+day),
			"gov110.general 2026-03-02T18:00+09:00 offered=2 answered=1 within=1 abandoned=1 abandoned_before=0 in=0 out=1 handled=1 sl=50 asa=10 aht=120 occ=3.3 closed=1 citizen_wait=30",
			"nts126.tax 2026-03-02T18:00+09:00 offered=1 answered=1 within=0 abandoned=0 abandoned_before=0 in=1 out=0 handled=1 sl=0 asa=60 aht=120 occ=3.3 closed=1 citizen_wait=70")
		wantLines(t, "queues by 15 minutes", h.report(t, asAdmin, "/v1/reports/queues?interval=15m&"+day),
			"gov110.general 2026-03-02T18:00+09:00 offered=2 answered=1 within=1 abandoned=1 abandoned_before=0 in=0 out=1 handled=1 sl=50 asa=10 aht=120 occ=13.3 closed=1 citizen_wait=30",
			"nts126.tax 2026-03-02T18:00+09:00 offered=1 answered=1 within=0 abandoned=0 abandoned_before=0 in=1 out=0 handled=1 sl=0 asa=60 aht=120 occ=13.3 closed=1 citizen_wait=70")
		wantLines(t, "agencies by day", h.report(t, asAdmin, "/v1/reports/agencies?interval=day&"+day),
			"gov110 2026-03-02T00:00+09:00 offered=2 answered=1 within=1 abandoned=1 abandoned_before=0 in=0 out=1 handled=1 sl=50 asa=10 aht=120 occ=0.1 closed=1 citizen_wait=30",
			"nts126 2026-03-02T00:00+09:00 offered=1 answered=1 within=0 abandoned=0 abandoned_before=0 in=1 out=0 handled=1 sl=0 asa=60 aht=120 occ=0.1 closed=1 citizen_wait=70")
		wantLines(t, "agents by hour", h.report(t, asAdmin, "/v1/reports/agents?"+day),
			"gov110-agent 2026-03-02T18:00+09:00 offered=0 answered=1 within=1 abandoned=0 abandoned_before=0 in=0 out=1 handled=1 sl=100 asa=10 aht=120 occ=3.3 closed=0 citizen_wait=-",
			"nts126-agent 2026-03-02T18:00+09:00 offered=0 answered=1 within=0 abandoned=0 abandoned_before=0 in=0 out=0 handled=1 sl=0 asa=60 aht=120 occ=3.3 closed=0 citizen_wait=-")
		// Another day holds nothing; the day before and after together
		// hold the same figures.
		wantLines(t, "the next day", h.report(t, asAdmin, "/v1/reports/queues?from=2026-03-03&to=2026-03-03"))
		if got := h.report(t, asAdmin, "/v1/reports/agencies?interval=day&from=2026-03-01&to=2026-03-03"); len(got) != 2 {
			t.Errorf("three days by day have %d rows; want the 2 of 2 March", len(got))
		}
	})
}

// Who may read which report: supervisors their agency, admins all,
// agents only their own row of the agents' report.
func TestReportsRoles(t *testing.T) {
	h := newHarness(t, sqltest.Open(t, "sqlite"))
	reportHistory(t, h)
	const day = "from=2026-03-02"
	keys := func(as, path string) string {
		var ks []string
		for _, l := range h.report(t, as, path) {
			ks = append(ks, strings.Fields(l)[0])
		}
		return strings.Join(ks, " ")
	}
	for _, c := range []struct{ as, path, want string }{
		{asAdmin, "/v1/reports/queues?" + day, "gov110.general nts126.tax"},
		{asAdmin, "/v1/reports/queues?agency=nts126&" + day, "nts126.tax"},
		{asAdmin, "/v1/reports/queues?queue=gov110.general&" + day, "gov110.general"},
		{asSup, "/v1/reports/queues?" + day, "gov110.general"},
		{asSup, "/v1/reports/agencies?" + day, "gov110"},
		{asSup, "/v1/reports/agents?" + day, "gov110-agent"},
		{asOtherSup, "/v1/reports/agents?" + day, "nts126-agent"},
		{asAgent, "/v1/reports/agents?" + day, "gov110-agent"},
		{asAgent, "/v1/reports/agents?agent=gov110-agent&" + day, "gov110-agent"},
	} {
		if got := keys(c.as, c.path); got != c.want {
			t.Errorf("%s GET %s: keys %q; want %q", c.as, c.path, got, c.want)
		}
	}
	for _, c := range []struct {
		as, path string
		status   int
	}{
		{asAnon, "/v1/reports/queues?" + day, http.StatusUnauthorized},
		{asGateway, "/v1/reports/queues?" + day, http.StatusForbidden},
		{asAgent, "/v1/reports/queues?" + day, http.StatusForbidden},
		{asAgent, "/v1/reports/agencies?" + day, http.StatusForbidden},
		{asAgent, "/v1/reports/agents?agent=nts126-agent&" + day, http.StatusForbidden},
		{asSup, "/v1/reports/queues?agency=nts126&" + day, http.StatusForbidden},
		{asSup, "/v1/reports/queues?queue=nts126.tax&" + day, http.StatusForbidden},
		{asOtherSup, "/v1/reports/agencies?agency=gov110&" + day, http.StatusForbidden},
	} {
		h.do(http.MethodGet, c.path, c.as, nil).wantStatus(t, c.status)
	}
}

// Bad parameters get a 400 naming the field; nothing is computed.
func TestReportsValidation(t *testing.T) {
	h := newHarness(t, sqltest.Open(t, "sqlite"))
	for _, c := range []struct{ query, field string }{
		{"", "from"},
		{"from=2026-3-2", "from"},
		{"from=2026-03-02&to=yesterday", "to"},
		{"from=2026-03-02&to=2026-03-01", "to"},
		{"from=2025-01-01&to=2026-03-02", "to"},
		{"from=2026-03-02&interval=week", "interval"},
		{"from=2026-01-01&to=2026-03-01&interval=15m", "interval"},
		{"from=2026-03-02&format=xml", "format"},
		{"from=2026-03-02&queue=nts126.tax&agency=gov110", "queue"},
	} {
		h.do(http.MethodGet, "/v1/reports/queues?"+c.query, asAdmin, nil).wantError(t, http.StatusBadRequest, codeValidation, c.field)
	}
	h.do(http.MethodGet, "/v1/reports/queues?from=2026-03-02&agency=nope", asAdmin, nil).wantError(t, http.StatusNotFound, codeNotFound, "agency")
}

// CSV by ?format=csv or Accept: text/csv: a header and the JSON's rows.
func TestReportsCSV(t *testing.T) {
	h := newHarness(t, sqltest.Open(t, "sqlite"))
	reportHistory(t, h)
	for _, r := range []*response{
		h.do(http.MethodGet, "/v1/reports/queues?from=2026-03-02&format=csv", asAdmin, nil),
		h.do(http.MethodGet, "/v1/reports/queues?from=2026-03-02", asAdmin, nil, withHeader("Accept", "text/csv")),
	} {
		if !r.wantStatus(t, http.StatusOK) {
			continue
		}
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
			t.Errorf("%s: Content-Type %q", r, ct)
		}
		recs, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		want := [][]string{reportColumns,
			{"gov110.general", "2026-03-02T18:00:00+09:00", "2026-03-02T19:00:00+09:00", "2", "1", "1", "1", "0", "0", "1", "1", "50", "10", "120", "3.3", "1", "30"},
			{"nts126.tax", "2026-03-02T18:00:00+09:00", "2026-03-02T19:00:00+09:00", "1", "1", "0", "0", "0", "1", "0", "1", "0", "60", "120", "3.3", "1", "70"}}
		if fmt.Sprint(recs) != fmt.Sprint(want) {
			t.Errorf("%s:\n got %q\nwant %q", r, recs, want)
		}
	}
}
