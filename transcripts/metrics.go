package transcripts

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// StageBuckets are the bounds, in seconds, of the write path's latency
// histograms (the journal's and the contact's stages in web): fine below
// 5 ms, where the targets are, so that a p99 read from the buckets is
// within a fraction of a millisecond there.
var StageBuckets = []float64{.0001, .00025, .0005, .00075, .001, .0015, .002, .003, .004, .005,
	.0075, .01, .015, .02, .03, .05, .075, .1, .25, .5, 1, 2.5, 5}

// journalMetrics are the writer's figures: how much each commit carries,
// how long it takes, how long events wait for it, and how long the
// fan-out after it takes.
type journalMetrics struct {
	batch   prometheus.Histogram
	commit  prometheus.Histogram
	queued  prometheus.Histogram
	durable prometheus.Histogram
	deliver prometheus.Histogram
}

// RegisterMetrics exports the journal's batch size, commit latency,
// waits and backlog in reg. Call it before Run.
func (j *Journal) RegisterMetrics(reg prometheus.Registerer) error {
	h := func(name, help string) prometheus.Histogram {
		return prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: StageBuckets})
	}
	m := &journalMetrics{
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tellonce_journal_batch_events",
			Help:    "Router events written per committed transaction (group commit).",
			Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000}}),
		commit: h("tellonce_journal_commit_seconds",
			"Time to write and commit one batch of the case log."),
		queued: h("tellonce_journal_queued_seconds",
			"Per router transaction: published by the router → taken into a batch by the writer (waiting for the commit before it)."),
		durable: h("tellonce_journal_durable_seconds",
			"Per router transaction: published by the router → committed, what an acknowledgement waits for."),
		deliver: h("tellonce_journal_deliver_seconds",
			"Per batch: committed → handed to the sockets and statistics (waiting for the batches before it, then the fan-out)."),
	}
	backlog := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tellonce_journal_backlog_events",
		Help: "Router events published and not yet taken for a commit; acknowledgements wait for them."},
		func() float64 { return float64(j.pendingCount()) })
	for _, c := range []prometheus.Collector{m.batch, m.commit, m.queued, m.durable, m.deliver, backlog} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("register journal metrics: %w", err)
		}
	}
	j.metrics = m
	return nil
}

func (m *journalMetrics) committed(events int, took time.Duration) {
	if m == nil {
		return
	}
	m.batch.Observe(float64(events))
	m.commit.Observe(took.Seconds())
}

// taken observes the wait of router transactions published at the times
// given, taken into a batch at now.
func (m *journalMetrics) taken(published []time.Time, now time.Time) {
	if m == nil {
		return
	}
	for _, at := range published {
		m.queued.Observe(now.Sub(at).Seconds())
	}
}

// durableAt observes router transactions published at the times given and
// committed at now.
func (m *journalMetrics) durableAt(published []time.Time, now time.Time) {
	if m == nil {
		return
	}
	for _, at := range published {
		m.durable.Observe(now.Sub(at).Seconds())
	}
}

func (m *journalMetrics) delivered(took time.Duration) {
	if m == nil {
		return
	}
	m.deliver.Observe(took.Seconds())
}
