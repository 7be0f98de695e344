package loadgen

import (
	"maps"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// exposition is reg's /metrics as the server writes it.
func exposition(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range fams {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// The server's own text — a labelled histogram whose label value needs
// escaping, comments that do too, the runtime's gauges — gives the
// figures it was made from.
func TestParseExpositionReadsTheServersText(t *testing.T) {
	reg := prometheus.NewRegistry()
	stages := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "tellonce_contact_create_stage_seconds",
		Help:    `Time each stage took: "admit", "history" \ and so on` + "\nby stage.",
		Buckets: []float64{.001, .002, .004},
	}, []string{"stage"})
	odd := "a \"quoted\" stage, with \\ and\nnewline}"
	for _, v := range []float64{.0005, .0005, .0015, .003} {
		stages.WithLabelValues("admit").Observe(v)
	}
	stages.WithLabelValues(odd).Observe(.01)
	reg.MustRegister(stages)
	for name, v := range map[string]float64{
		"process_resident_memory_bytes": 1.5e7, "go_memstats_heap_inuse_bytes": 4096,
		"go_memstats_stack_inuse_bytes": 8192, "go_memstats_next_gc_bytes": 65536,
		"go_goroutines": 12, "process_cpu_seconds_total": 3.25,
	} {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: "the runtime's " + name})
		g.Set(v)
		reg.MustRegister(g)
	}
	text := exposition(t, reg)
	if !strings.Contains(text, `\"quoted\"`) || !strings.Contains(text, `\\`) || !strings.Contains(text, `\n`) {
		t.Fatalf("the exposition escapes nothing; the test needs it to:\n%s", text)
	}

	hs, err := parseHistograms(strings.NewReader(text))
	if err != nil {
		t.Fatalf("parseHistograms: %v\n%s", err, text)
	}
	admit := hs["tellonce_contact_create_stage_seconds|stage=admit"]
	wantBounds := []float64{.001, .002, .004, math.Inf(1)}
	if admit == nil || !slices.Equal(admit.bounds, wantBounds) || !slices.Equal(admit.counts, []float64{2, 3, 4, 4}) ||
		math.Abs(admit.sum-.0055) > 1e-12 {
		t.Errorf("stage admit = %+v; want bounds %v, counts [2 3 4 4], sum 0.0055", admit, wantBounds)
	}
	if h := hs["tellonce_contact_create_stage_seconds|stage="+odd]; h == nil || !slices.Equal(h.counts, []float64{0, 0, 0, 1}) {
		t.Errorf("the stage whose label needs escaping = %+v; want its one observation past the buckets (have %v)", h, slices.Sorted(maps.Keys(hs)))
	}

	s, err := parseSample(strings.NewReader(text))
	if err != nil || s.RSS != 1.5e7 || s.HeapInuse != 4096 || s.StackInuse != 8192 || s.HeapGoal != 65536 ||
		s.Goroutines != 12 || s.CPUSeconds != 3.25 {
		t.Errorf("parseSample = %+v, %v", s, err)
	}
}

// What the format allows is read as it defines it, and what it does not is
// refused. The hand-written parsers this replaced failed a timestamped
// gauge, missed a line that starts with blanks or has a blank before its
// labels, and took Go's escapes (\x41) in label values.
func TestParseExpositionAsTheFormatDefines(t *testing.T) {
	for _, c := range []struct {
		name, in string
		want     map[string]float64 // by series, as model.Metric prints it; nil: refused
	}{
		{"timestamp", "go_goroutines 12 1700000000000\n", map[string]float64{"go_goroutines": 12}},
		{"blanks", "\tgo_goroutines\t12\n  # a comment\n", map[string]float64{"go_goroutines": 12}},
		{"blank before labels", "x_bucket {le=\"+Inf\"} 3\n", map[string]float64{`x_bucket{le="+Inf"}`: 3}},
		{"escapes", `x{a="q\"b\\c\nd",b=""} 1` + "\n", map[string]float64{`x{a="q\"b\\c\nd", b=""}`: 1}},
		{"trailing comma", `x{a="1",} 2` + "\n", map[string]float64{`x{a="1"}`: 2}},
		{"typed histogram's +Inf from its count", "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_sum 1.5\nh_count 5\n",
			map[string]float64{`h_bucket{le="1"}`: 2, `h_bucket{le="+Inf"}`: 5, "h_sum": 1.5, "h_count": 5}},
		{"Go's escape", `x{a="\x41"} 1` + "\n", nil},
		{"unterminated value", `x{a="b} 1` + "\n", nil},
		{"not a number", "x nope\n", nil},
		{"cut short", "x 1\ny", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseExposition(strings.NewReader(c.in))
			if c.want == nil {
				if err == nil {
					t.Fatalf("parseExposition(%q) = %v; want it refused", c.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseExposition(%q): %v", c.in, err)
			}
			series := map[string]float64{}
			for _, s := range got {
				series[s.Metric.String()] = float64(s.Value)
			}
			if len(series) != len(c.want) {
				t.Errorf("parseExposition(%q) = %v; want %v", c.in, series, c.want)
			}
			for k, v := range c.want {
				if g, ok := series[k]; !ok || g != v {
					t.Errorf("parseExposition(%q)[%s] = %v, %v; want %v (all: %v)", c.in, k, g, ok, v, series)
				}
			}
		})
	}
}
