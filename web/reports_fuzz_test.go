package web

import (
	"testing"
	"time"

	"tellonce/stats"
)

// FuzzReportDate: a date either parses to its midnight in the zone and
// reads back the same, or is refused with the field named; the Accept and
// If-None-Match readers never fail.
func FuzzReportDate(f *testing.F) {
	for _, s := range []string{"2026-03-02", "2026-3-2", "", "2026-02-30", "9999-12-31", "0000-01-01", "2026-03-02T00:00:00Z", "\x00", "text/csv;q=0.9, */*", `W/"a", "b"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		acceptsCSV(s)
		etagMatches(s, `"tag"`)
		d, err := reportDate(s, "from", stats.Seoul)
		if err != nil {
			if he, ok := err.(*httpError); !ok || he.Field != "from" {
				t.Fatalf("reportDate(%q) = %v; want a validation error naming from", s, err)
			}
			return
		}
		if d.Format(time.DateOnly) != s || d.Hour() != 0 || d.Minute() != 0 || d.Location() != stats.Seoul {
			t.Fatalf("reportDate(%q) = %v", s, d)
		}
	})
}
