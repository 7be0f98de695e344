package loadgen

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/prometheus/common/model"
)

// serverStage is one of the server's histograms that a contact phase
// reports: the stages of a creation's write path (docs/operations.md
// lists them).
type serverStage struct {
	name   string // as printed
	metric string // the histogram's name
	labels string // its labels but le, sorted, as "k=v,k=v"; "" for none
	events bool   // a count of events, not seconds
}

// serverStages are the creation's stages in the order a contact meets
// them; the journal's split the enqueue stage.
var serverStages = []serverStage{
	{name: "POST /v1/contacts, the handler", metric: "tellonce_http_request_duration_seconds", labels: "method=POST,route=/v1/contacts"},
	{name: "  admit (auth, limit, decode)", metric: "tellonce_contact_create_stage_seconds", labels: "stage=admit"},
	{name: "  history (earlier cases)", metric: "tellonce_contact_create_stage_seconds", labels: "stage=history"},
	{name: "  enqueue (router + commit)", metric: "tellonce_contact_create_stage_seconds", labels: "stage=enqueue"},
	{name: "  answer (tokens, 201)", metric: "tellonce_contact_create_stage_seconds", labels: "stage=answer"},
	{name: "router write group (lock held)", metric: "tellonce_router_write_group_seconds"},
	{name: "router: calls per memdb commit", metric: "tellonce_router_publish_calls", events: true},
	{name: "journal: published → batch", metric: "tellonce_journal_queued_seconds"},
	{name: "journal: batch commit", metric: "tellonce_journal_commit_seconds"},
	{name: "journal: published → durable", metric: "tellonce_journal_durable_seconds"},
	{name: "journal: durable → delivered", metric: "tellonce_journal_deliver_seconds"},
	{name: "journal: events per batch", metric: "tellonce_journal_batch_events", events: true},
}

// StageFigure is one server stage over a contact phase, read from the
// difference of its histogram before and after: quantiles interpolated
// within buckets, as Prometheus' histogram_quantile does, so they are
// as fine as the buckets (0.25–1 ms below 5 ms).
type StageFigure struct {
	Name string
	// Events: a count per batch, not a time.
	Events bool
	// N observations; Mean, P50 and P99 in seconds (or events). Over is
	// set when the p99 fell past the largest bucket: P99 is then that
	// bucket's bound, a floor.
	N              int
	Mean, P50, P99 float64
	Over           bool
}

// histogram is one series of a Prometheus histogram: cumulative counts
// per upper bound, ascending, the last +Inf.
type histogram struct {
	bounds []float64
	counts []float64
	sum    float64
}

// histograms maps "metric|labels" to its series.
type histograms map[string]*histogram

// readHistograms scrapes the server's /metrics for the stages' histograms.
func (p *metricsProbe) readHistograms(ctx context.Context) (histograms, error) {
	var hs histograms
	err := p.scrape(ctx, func(r io.Reader) (err error) {
		hs, err = parseHistograms(r)
		return err
	})
	return hs, err
}

// parseHistograms reads the buckets and sums of the stages' histograms
// out of Prometheus's text format; other series are skipped. A series is
// taken by its name, as Prometheus's histogram_quantile takes it, so
// buckets exposed without a # TYPE line count too.
func parseHistograms(r io.Reader) (histograms, error) {
	wanted := map[string]bool{}
	for _, s := range serverStages {
		wanted[s.metric] = true
	}
	samples, err := parseExposition(r)
	if err != nil {
		return nil, err
	}
	hs := histograms{}
	for _, smp := range samples {
		name := string(smp.Metric[model.MetricNameLabel])
		var base string
		var bucket bool
		switch {
		case strings.HasSuffix(name, "_bucket"):
			base, bucket = strings.TrimSuffix(name, "_bucket"), true
		case strings.HasSuffix(name, "_sum"):
			base = strings.TrimSuffix(name, "_sum")
		default:
			continue
		}
		if !wanted[base] {
			continue
		}
		key := base + "|" + stageLabels(smp.Metric)
		h := hs[key]
		if h == nil {
			h = &histogram{}
			hs[key] = h
		}
		if !bucket {
			h.sum = float64(smp.Value)
			continue
		}
		le := string(smp.Metric[model.BucketLabel])
		bound, err := strconv.ParseFloat(le, 64) // "+Inf" parses as +Inf
		if err != nil {
			return nil, fmt.Errorf("%s: le %q: %w", name, le, err)
		}
		h.bounds = append(h.bounds, bound)
		h.counts = append(h.counts, float64(smp.Value))
	}
	for key, h := range hs {
		if len(h.bounds) == 0 || !math.IsInf(h.bounds[len(h.bounds)-1], 1) ||
			!sort.Float64sAreSorted(h.bounds) {
			return nil, fmt.Errorf("%s: buckets not in ascending order up to +Inf", key)
		}
	}
	return hs, nil
}

// stageLabels is a series' labels but its name and le as sorted "k=v"
// pairs joined by commas, as serverStage.labels writes them.
func stageLabels(m model.Metric) string {
	var pairs []string
	for k, v := range m {
		if k != model.MetricNameLabel && k != model.BucketLabel {
			pairs = append(pairs, string(k)+"="+string(v))
		}
	}
	slices.Sort(pairs)
	return strings.Join(pairs, ",")
}

// stageFigures is what each stage saw between two readings.
func stageFigures(before, after histograms) []StageFigure {
	var out []StageFigure
	for _, s := range serverStages {
		key := s.metric + "|" + s.labels
		a := after[key]
		if a == nil {
			continue // a server without this stage's histogram
		}
		d := histogram{bounds: a.bounds, counts: slices.Clone(a.counts), sum: a.sum}
		if b := before[key]; b != nil && slices.Equal(b.bounds, a.bounds) {
			for i := range d.counts {
				d.counts[i] -= b.counts[i]
			}
			d.sum -= b.sum
		}
		n := d.counts[len(d.counts)-1]
		f := StageFigure{Name: s.name, Events: s.events, N: int(n)}
		if n > 0 {
			f.Mean = d.sum / n
			f.P50, _ = d.quantile(0.50)
			f.P99, f.Over = d.quantile(0.99)
		}
		out = append(out, f)
	}
	return out
}

// quantile interpolates the q-quantile linearly within its bucket (the
// first bucket from 0). One that falls in the +Inf bucket is the largest
// finite bound, with over set.
func (h histogram) quantile(q float64) (v float64, over bool) {
	n := h.counts[len(h.counts)-1]
	rank := q * n
	for i, c := range h.counts {
		if c < rank {
			continue
		}
		if math.IsInf(h.bounds[i], 1) {
			if i == 0 {
				return 0, true
			}
			return h.bounds[i-1], true
		}
		lo, below := 0.0, 0.0
		if i > 0 {
			lo, below = h.bounds[i-1], h.counts[i-1]
		}
		if c == below {
			return h.bounds[i], false
		}
		return lo + (h.bounds[i]-lo)*(rank-below)/(c-below), false
	}
	return h.bounds[len(h.bounds)-1], false
}

// format prints a stage's figure: milliseconds, or events; over marks a
// floor (past the largest bucket).
func (s StageFigure) format(v float64, over bool) string {
	out := fmt.Sprintf("%.3fms", v*1000)
	if s.Events {
		out = fmt.Sprintf("%.1f", v)
	}
	if over {
		out = ">" + out
	}
	return out
}

// printStages writes the stages' p50/p99 per rate, a column a rate.
func printStages(b *strings.Builder, reps []Report) {
	var cols []Report
	for _, r := range reps {
		if len(r.Stages) > 0 {
			cols = append(cols, r)
		}
	}
	if len(cols) == 0 {
		return
	}
	b.WriteString("\nin the server (its /metrics over each phase), p50 / p99:\n")
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "stage\t")
	for _, r := range cols {
		fmt.Fprintf(tw, "%s\t", rateName(r.Load.Rate))
	}
	fmt.Fprintln(tw)
	for i, s := range cols[0].Stages {
		fmt.Fprintf(tw, "%s\t", s.Name)
		for _, r := range cols {
			if i >= len(r.Stages) || r.Stages[i].Name != s.Name {
				fmt.Fprint(tw, "-\t")
				continue
			}
			f := r.Stages[i]
			fmt.Fprintf(tw, "%s / %s\t", f.format(f.P50, false), f.format(f.P99, f.Over))
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
}

// rateName is a rate as asked: "200/s", or "max".
func rateName(rate float64) string {
	if rate > 0 {
		return fmt.Sprintf("%g/s", rate)
	}
	return "max"
}
