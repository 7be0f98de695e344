package stats

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"tellonce/cases"
)

// The counters follow the committed events: arrivals, answers with their
// waits, abandons, transfers, and every offer's outcome.
func TestCountersFollowTheEvents(t *testing.T) {
	reg := prometheus.NewRegistry()
	c, err := NewCounters(reg)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	leg := func(id, queue string) *cases.ContactView {
		return &cases.ContactView{ID: id, Queue: queue, EnqueuedAt: t0}
	}
	answered := leg("a", "q1")
	answered.AnsweredAt = t0.Add(12 * time.Second)
	ended := *answered
	ended.Disposition = "handled"
	left := leg("b", "q1")
	left.Disposition = dispAbandoned
	moved := *answered
	moved.Disposition = dispTransferred
	c.Observe([]cases.Event{
		{Type: cases.EventContactCreated, At: t0, Contact: leg("a", "q1")},
		{Type: cases.EventContactCreated, At: t0, Contact: leg("b", "q1")},
		{Type: cases.EventOffered, At: t0, Queue: "q1", Contact: leg("a", "q1")},
		{Type: cases.EventOfferTimeout, At: t0.Add(5 * time.Second), Queue: "q1"},
		{Type: cases.EventOffered, At: t0, Queue: "q1", Contact: leg("a", "q1")},
		{Type: cases.EventDeclined, At: t0.Add(8 * time.Second), Queue: "q1"},
		{Type: cases.EventOffered, At: t0, Queue: "q1", Contact: leg("a", "q1")},
		{Type: cases.EventAccepted, At: t0.Add(12 * time.Second), Queue: "q1", Contact: answered},
		{Type: cases.EventAbandoned, At: t0.Add(40 * time.Second), Contact: left},
		{Type: cases.EventEnded, At: t0.Add(312 * time.Second), Contact: &moved},
		{Type: cases.EventTransferred, At: t0.Add(312 * time.Second), Reason: string(cases.TransferCold), Contact: leg("c", "q2")},
	})
	for _, w := range []struct {
		series string
		want   float64
	}{
		{`tellonce_queue_offered_total{queue="q1"}`, 2},
		{`tellonce_queue_offered_total{queue="q2"}`, 1},
		{`tellonce_queue_transferred_in_total{queue="q2"}`, 1},
		{`tellonce_queue_transferred_out_total{queue="q1"}`, 1},
		{`tellonce_queue_answered_total{queue="q1"}`, 1},
		{`tellonce_queue_abandoned_total{queue="q1"}`, 1},
		{`tellonce_offers_total{queue="q1"}`, 3},
		{`tellonce_offers_accepted_total{queue="q1"}`, 1},
		{`tellonce_offers_missed_total{queue="q1",reason="timeout"}`, 1},
		{`tellonce_offers_missed_total{queue="q1",reason="declined"}`, 1},
	} {
		if got := counterValue(t, reg, w.series); got != w.want {
			t.Errorf("%s = %v, want %v", w.series, got, w.want)
		}
	}
	// The 12 s wait lies under the 20 s edge the service-level alert reads.
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		if mf.GetName() != "tellonce_queue_answer_wait_seconds" {
			continue
		}
		h := mf.GetMetric()[0].GetHistogram()
		found = h.GetSampleCount() == 1 && h.GetSampleSum() == 12
		for _, b := range h.GetBucket() {
			want := uint64(0)
			if b.GetUpperBound() >= 12 {
				want = 1
			}
			if b.GetCumulativeCount() != want {
				t.Errorf("wait bucket le=%v holds %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
			}
		}
	}
	if !found {
		t.Error("no answer wait of 12 s in the histogram")
	}
}

// counterValue reads one counter series, written name{label="value",…}.
func counterValue(t *testing.T, reg *prometheus.Registry, series string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			name := mf.GetName() + "{"
			for i, l := range m.GetLabel() {
				if i > 0 {
					name += ","
				}
				name += l.GetName() + `="` + l.GetValue() + `"`
			}
			if name+"}" == series {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
