package transcripts

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"tellonce/cases"
	"tellonce/clocktest"
	"tellonce/sql/sqltest"
)

// Every router transaction is timed from its publishing to its batch and
// to its commit, and every batch from its commit to its delivery: the
// write path's stages that `tellonce loadgen --server-stages` reads.
func TestJournalMetricsTimeEachStage(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		var delivered atomic.Int64
		j := NewJournal(b.DB, Options{Log: quiet, Deliver: func(evs []cases.Event) { delivered.Add(int64(len(evs))) }})
		reg := prometheus.NewRegistry()
		if err := j.RegisterMetrics(reg); err != nil {
			t.Fatal(err)
		}
		p := newPublisher(j)
		start(t, j)
		const transactions = 5
		for i := range transactions {
			if err := j.Wait(context.Background(), p.say("cs-m", i+1)); err != nil {
				t.Fatal(err)
			}
		}
		clocktest.Eventually(t, "every event delivered", guard, func() bool { return delivered.Load() == 15 })
		counts := histogramCounts(t, reg)
		for _, name := range []string{"tellonce_journal_queued_seconds", "tellonce_journal_durable_seconds"} {
			if counts[name] != transactions {
				t.Errorf("%s counted %d; want %d, one per router transaction", name, counts[name], transactions)
			}
		}
		batches := counts["tellonce_journal_commit_seconds"]
		if batches < 1 || batches > transactions || counts["tellonce_journal_batch_events"] != batches {
			t.Errorf("commit and batch histograms counted %d and %d; want the same, 1 to %d", batches,
				counts["tellonce_journal_batch_events"], transactions)
		}
		clocktest.Eventually(t, "every batch's delivery timed", guard, func() bool {
			return histogramCounts(t, reg)["tellonce_journal_deliver_seconds"] == batches
		})
	})
}

// histogramCounts is each histogram's observation count in reg.
func histogramCounts(t *testing.T, reg *prometheus.Registry) map[string]uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]uint64{}
	for _, mf := range mfs {
		if mf.GetType() != dto.MetricType_HISTOGRAM {
			continue
		}
		for _, m := range mf.GetMetric() {
			out[mf.GetName()] += m.GetHistogram().GetSampleCount()
		}
	}
	return out
}
