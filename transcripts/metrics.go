package transcripts

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// journalMetrics are the writer's figures: how much each commit carries,
// how long it takes, and how much waits for the next.
type journalMetrics struct {
	batch  prometheus.Histogram
	commit prometheus.Histogram
}

// RegisterMetrics exports the journal's batch size, commit latency and
// backlog in reg. Call it before Run.
func (j *Journal) RegisterMetrics(reg prometheus.Registerer) error {
	m := &journalMetrics{
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tellonce_journal_batch_events",
			Help:    "Router events written per committed transaction (group commit).",
			Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000}}),
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tellonce_journal_commit_seconds",
			Help:    "Time to write and commit one batch of the case log.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}}),
	}
	backlog := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tellonce_journal_backlog_events",
		Help: "Router events published and not yet taken for a commit; acknowledgements wait for them."},
		func() float64 { return float64(j.pendingCount()) })
	for _, c := range []prometheus.Collector{m.batch, m.commit, backlog} {
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
