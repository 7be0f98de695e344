package web

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"tellonce/sql/sqltest"
	"tellonce/stats"
)

type historyPage struct {
	Items []struct {
		Queue  string        `json:"queue"`
		Points []stats.Point `json:"points"`
	} `json:"items"`
	NextCursor string    `json:"next_cursor"`
	DayStart   time.Time `json:"day_start"`
}

// history reads GET path as as and shows each queue's samples as
// "queue: waiting@hh:mm …" (UTC), in the answer's order.
func (h *harness) history(t *testing.T, as, path string) ([]string, historyPage) {
	t.Helper()
	var page historyPage
	r := h.do(http.MethodGet, path, as, nil)
	if !r.wantStatus(t, ok200) || !r.decode(t, &page) {
		t.FailNow()
	}
	var out []string
	for _, it := range page.Items {
		s := it.Queue + ":"
		for _, p := range it.Points {
			s += fmt.Sprintf(" %d@%s", p.Waiting, p.At.UTC().Format("15:04"))
		}
		out = append(out, s)
	}
	return out, page
}

func TestStatsHistory(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newHarness(t, b)
		const path = "/v1/stats/queues/history"
		// Nobody is online: every chat waits. The clock stands at 09:00 UTC;
		// the server may sample 09:00 while the chats arrive, so the checks
		// start at 09:01, sampled by the reads below.
		h.stats.Queues() // 09:00 is sampled
		h.chat(t, "gov110.general", "c1")
		h.chat(t, "nts126.tax", "c2")
		h.clock.Advance(time.Minute)
		h.stats.Queues() // the 09:01 sample
		h.clock.Advance(30 * time.Second)
		h.chat(t, "gov110.general", "c3")
		h.clock.Advance(30 * time.Second)
		h.stats.Queues() // the 09:02 sample

		check := func(as, path string, want ...string) historyPage {
			t.Helper()
			got, page := h.history(t, as, path)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("GET %s as %s =\n  %q\nwant\n  %q", path, who(as), got, want)
			}
			return page
		}
		// A supervisor sees their own agency's queues; the other agency's
		// supervisor theirs; admins every queue, or one agency's.
		const from = "?since=2026-03-02T09:01:00Z"
		page := check(asSup, path+from, "gov110.general: 1@09:01 2@09:02")
		check(asOtherSup, path+from, "nts126.tax: 1@09:01 1@09:02")
		check(asAdmin, path+from, "gov110.general: 1@09:01 2@09:02", "nts126.tax: 1@09:01 1@09:02")
		check(asAdmin, path+from+"&agency=nts126", "nts126.tax: 1@09:01 1@09:02")
		check(asSup, path+from+"&queue=gov110.general", "gov110.general: 1@09:01 2@09:02")
		check(asAdmin, path+from+"&queue=nts126.tax", "nts126.tax: 1@09:01 1@09:02")
		if want := time.Date(2026, 3, 1, 15, 0, 0, 0, time.UTC); !page.DayStart.Equal(want) || page.NextCursor != "" {
			t.Errorf("day_start %v, next_cursor %q; want %v (midnight in Seoul), \"\"", page.DayStart, page.NextCursor, want)
		}
		p := page.Items[0].Points[0]
		if p.LongestWaitS != 60 || p.Answered != 0 || p.Abandoned != 0 || p.ServiceLevelPct != nil {
			t.Errorf("09:01 sample = %+v; want longest 60 s, nothing answered or abandoned, no service level", p)
		}
		// Without since, the whole day: a sample a minute since 09:00.
		if _, all := h.history(t, asSup, path); len(all.Items) != 1 || len(all.Items[0].Points) != 3 ||
			!all.Items[0].Points[0].At.Equal(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)) {
			t.Errorf("GET %s as %s = %+v; want gov110.general sampled at 09:00, 09:01 and 09:02", path, who(asSup), all.Items)
		}

		// since keeps the samples from then on, in any offset.
		check(asSup, path+"?since="+url.QueryEscape("2026-03-02T18:01:30+09:00"), "gov110.general: 2@09:02")
		check(asSup, path+"?since=2026-03-02T09:02:00Z&queue=gov110.general", "gov110.general: 2@09:02")
		check(asSup, path+"?since=2026-03-02T10:00:00Z", "gov110.general:")

		// Isolation: another agency's queue is refused before it is looked
		// up, so an unknown one is refused alike.
		for _, q := range []string{"nts126.tax", "nts126.nope"} {
			h.do(http.MethodGet, path+"?queue="+q, asSup, nil).wantError(t, http.StatusForbidden, codeForbidden, "")
		}
		h.do(http.MethodGet, path+"?queue=gov110.general", asOtherSup, nil).wantError(t, http.StatusForbidden, codeForbidden, "")
		h.do(http.MethodGet, path+"?agency=nts126", asSup, nil).wantError(t, http.StatusForbidden, codeForbidden, "")
		h.do(http.MethodGet, path, asAgent, nil).wantError(t, http.StatusForbidden, codeForbidden, "")

		// Validation.
		for _, bad := range []struct {
			query       string
			status      int
			code, field string
		}{
			{"?since=yesterday", http.StatusBadRequest, codeValidation, "since"},
			{"?since=2026-03-02", http.StatusBadRequest, codeValidation, "since"},
			{"?since=2026-03-02T09:00:00", http.StatusBadRequest, codeValidation, "since"},
			{"?queue=gov110.nope", http.StatusNotFound, codeNotFound, "queue"},
		} {
			h.do(http.MethodGet, path+bad.query, asSup, nil).wantError(t, bad.status, bad.code, bad.field)
		}
		h.do(http.MethodGet, path+"?agency=nts126&queue=gov110.general", asAdmin, nil).
			wantError(t, http.StatusBadRequest, codeValidation, "queue")
	})
}
