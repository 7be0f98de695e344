package web

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// MetricsHandler serves reg in Prometheus' exposition format. With a
// token, a scrape must send it as a bearer token: the figures are every
// agency's, so they are not for anyone who can reach the port.
func MetricsHandler(reg prometheus.Gatherer, token string) http.Handler {
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	if token == "" {
		return h
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			writeJSON(w, http.StatusUnauthorized, map[string]any{"error": apiError{Code: codeUnauthorized,
				Message: "send the metrics token: Authorization: Bearer <--metrics-token>"}})
			return
		}
		h.ServeHTTP(w, r)
	})
}

// WriteGroupMetrics exposes the router's write groups (router.Config's
// Writes): how many calls each group took and how long it took to apply
// them and hand their events to the journal, timed with now, so the router
// itself reads no clock for it; and how many calls each memdb commit
// published to readers.
type WriteGroupMetrics struct {
	size      prometheus.Histogram
	seconds   prometheus.Histogram
	published prometheus.Histogram
	now       func() time.Time
}

// NewWriteGroupMetrics registers the write group metrics in reg.
func NewWriteGroupMetrics(reg prometheus.Registerer, now func() time.Time) (*WriteGroupMetrics, error) {
	m := &WriteGroupMetrics{
		size: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tellonce_router_write_group_size",
			Help:    "Write calls the router ran in one group.",
			Buckets: []float64{1, 2, 4, 8, 16, 32}}),
		published: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tellonce_router_publish_calls",
			Help:    "Write calls in each memdb commit that published them to readers.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128}}),
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tellonce_router_write_group_seconds",
			Help:    "Time a write group held the router's write lock: its calls, matching, a commit if it made one and handing the events to the journal.",
			Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1}}),
		now: now,
	}
	for _, c := range []prometheus.Collector{m.size, m.seconds, m.published} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("write group metrics: %w", err)
		}
	}
	return m, nil
}

// WriteGroup implements router.WriteObserver.
func (m *WriteGroupMetrics) WriteGroup(size int) func() {
	m.size.Observe(float64(size))
	start := m.now()
	return func() { m.seconds.Observe(m.now().Sub(start).Seconds()) }
}

// Published implements router.WriteObserver.
func (m *WriteGroupMetrics) Published(calls int) { m.published.Observe(float64(calls)) }
