package web

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"tellonce/clocktest"
	"tellonce/router"
)

// The write group metrics take each group's size, its time on the
// caller's clock from WriteGroup to done, and the calls each commit
// published.
func TestWriteGroupMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	clock := clocktest.New(clockStart)
	m, err := NewWriteGroupMetrics(reg, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	var _ router.WriteObserver = m
	done := m.WriteGroup(5)
	clock.Advance(3 * time.Millisecond)
	done()
	m.WriteGroup(1)()
	m.Published(6)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][2]float64{} // name → count, sum
	for _, mf := range mfs {
		h := mf.GetMetric()[0].GetHistogram()
		got[mf.GetName()] = [2]float64{float64(h.GetSampleCount()), h.GetSampleSum()}
	}
	if g := got["tellonce_router_write_group_size"]; g != [2]float64{2, 6} {
		t.Errorf("write group size: count, sum = %v; want 2, 6", g)
	}
	if g := got["tellonce_router_write_group_seconds"]; g != [2]float64{2, 0.003} {
		t.Errorf("write group seconds: count, sum = %v; want 2, 0.003", g)
	}
	if g := got["tellonce_router_publish_calls"]; g != [2]float64{1, 6} {
		t.Errorf("publish calls: count, sum = %v; want 1, 6", g)
	}
	if _, err := NewWriteGroupMetrics(reg, clock.Now); err == nil {
		t.Error("registering the metrics twice in one registry succeeded")
	}
}
