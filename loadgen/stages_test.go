package loadgen

import (
	"math"
	"strings"
	"testing"
)

const stagesBefore = `# HELP tellonce_journal_commit_seconds Time to write and commit one batch of the case log.
# TYPE tellonce_journal_commit_seconds histogram
tellonce_journal_commit_seconds_bucket{le="0.001"} 10
tellonce_journal_commit_seconds_bucket{le="0.002"} 10
tellonce_journal_commit_seconds_bucket{le="0.004"} 10
tellonce_journal_commit_seconds_bucket{le="+Inf"} 10
tellonce_journal_commit_seconds_sum 0.005
tellonce_journal_commit_seconds_count 10
tellonce_http_request_duration_seconds_bucket{method="GET",route="/v1/agencies",le="+Inf"} 3
tellonce_http_request_duration_seconds_bucket{method="POST",route="/v1/contacts",le="0.01"} 0
tellonce_http_request_duration_seconds_bucket{method="POST",route="/v1/contacts",le="+Inf"} 0
tellonce_http_request_duration_seconds_sum{method="POST",route="/v1/contacts"} 0
go_goroutines 12
`

// After the phase: 100 more commits, 50 under 1 ms, 48 in 1–2 ms and 2 in
// 2–4 ms; 4 POSTs, one past the largest bucket.
const stagesAfter = `tellonce_journal_commit_seconds_bucket{le="0.001"} 60
tellonce_journal_commit_seconds_bucket{le="0.002"} 108
tellonce_journal_commit_seconds_bucket{le="0.004"} 110
tellonce_journal_commit_seconds_bucket{le="+Inf"} 110
tellonce_journal_commit_seconds_sum 0.155
tellonce_journal_commit_seconds_count 110
tellonce_http_request_duration_seconds_bucket{route="/v1/contacts",method="POST",le="0.01"} 3
tellonce_http_request_duration_seconds_bucket{route="/v1/contacts",method="POST",le="+Inf"} 4 1700000000000
tellonce_http_request_duration_seconds_sum{route="/v1/contacts",method="POST"} 0.5
`

func TestStageFiguresAreThePhasesOwn(t *testing.T) {
	before, err := parseHistograms(strings.NewReader(stagesBefore))
	if err != nil {
		t.Fatal(err)
	}
	after, err := parseHistograms(strings.NewReader(stagesAfter))
	if err != nil {
		t.Fatal(err)
	}
	figs := map[string]StageFigure{}
	for _, f := range stageFigures(before, after) {
		figs[f.Name] = f
	}
	if len(figs) != 2 {
		t.Fatalf("%d stages, want the 2 the server exported: %+v", len(figs), figs)
	}
	near := func(got, want float64) bool { return math.Abs(got-want) < 1e-9 }
	c := figs["journal: batch commit"]
	// p50: rank 50 of 100, the 50th of the 50 in the first bucket: 1 ms.
	// p99: rank 99, the 1st of 2 in the 2–4 ms bucket: 3 ms.
	if c.N != 100 || !near(c.Mean, 0.0015) || !near(c.P50, 0.001) || !near(c.P99, 0.003) || c.Over {
		t.Errorf("commit = %+v; want n 100, mean 1.5 ms, p50 1 ms, p99 3 ms", c)
	}
	h := figs["POST /v1/contacts, the handler"]
	if h.N != 4 || !h.Over || !near(h.P99, 0.01) {
		t.Errorf("handler = %+v; want n 4 and a p99 past the largest bucket, shown as its bound", h)
	}
	if got := h.format(h.P99, h.Over); got != ">10.000ms" {
		t.Errorf("a p99 past the buckets prints %q; want >10.000ms", got)
	}
}

func TestParseHistogramsRefusesBrokenBuckets(t *testing.T) {
	for _, in := range []string{
		`tellonce_journal_commit_seconds_bucket{le="0.002"} 1` + "\n" + `tellonce_journal_commit_seconds_bucket{le="0.001"} 1`,
		`tellonce_journal_commit_seconds_bucket{le="0.001"} 1`,
		`tellonce_journal_commit_seconds_bucket{le="x"} 1`,
		`tellonce_journal_commit_seconds_bucket{le=0.1} 1`,
		`tellonce_journal_commit_seconds_sum nope`,
	} {
		// Each line ends as the format requires, so that the refusal is
		// the buckets' own and not that of an input cut short.
		if _, err := parseHistograms(strings.NewReader(in + "\n")); err == nil {
			t.Errorf("parseHistograms(%q) accepted it", in)
		}
	}
}

func FuzzParseHistograms(f *testing.F) {
	f.Add(stagesBefore)
	f.Add(stagesAfter)
	f.Add(`tellonce_contact_create_stage_seconds_bucket{stage="a b}",le="+Inf"} 1`)
	f.Add(`tellonce_journal_queued_seconds_bucket{le="1e-4"} 5 123`)
	f.Fuzz(func(t *testing.T, in string) {
		hs, err := parseHistograms(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, f := range stageFigures(nil, hs) {
			if f.N < 0 && (math.IsNaN(f.P50) || math.IsNaN(f.P99)) {
				t.Errorf("%+v", f)
			}
		}
		stageFigures(hs, hs)
	})
}
