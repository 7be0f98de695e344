package lease

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	leader       prometheus.Gauge
	epoch        prometheus.Gauge
	renewals     *prometheus.CounterVec
	renewSeconds prometheus.Histogram
	takeovers    prometheus.Counter
	fenced       prometheus.Counter
	failedTerms  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		leader: prometheus.NewGauge(prometheus.GaugeOpts{Name: "tellonce_lease_leader",
			Help: "1 while this node holds the leader's lease and routes, 0 as a standby."}),
		epoch: prometheus.NewGauge(prometheus.GaugeOpts{Name: "tellonce_lease_epoch",
			Help: "The lease's epoch as this node last saw it."}),
		renewals: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tellonce_lease_renewals_total",
			Help: "Lease renewals by this node as leader, by result: ok, lost (taken or expired), error."}, []string{"result"}),
		renewSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tellonce_lease_renewal_seconds",
			Help:    "How long one lease renewal took.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}}),
		takeovers: prometheus.NewCounter(prometheus.CounterOpts{Name: "tellonce_lease_takeovers_total",
			Help: "Times this node took the lease and began to lead."}),
		fenced: prometheus.NewCounter(prometheus.CounterOpts{Name: "tellonce_lease_fenced_commits_total",
			Help: "Journal commits refused because this node no longer held the lease."}),
		failedTerms: prometheus.NewCounter(prometheus.CounterOpts{Name: "tellonce_lease_failed_terms_total",
			Help: "Terms as leader that ended in an error (a failed restore, a journal that could not commit); the node stood by."}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.leader, m.epoch, m.renewals, m.renewSeconds, m.takeovers, m.fenced, m.failedTerms} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("lease metrics: %w", err)
		}
	}
	return m, nil
}
