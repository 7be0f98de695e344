package stats

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"tellonce/cases"
)

// Counters are the Prometheus counters of the contact flow, by queue:
// they only grow while the process lives (a restart starts them at zero,
// which rate() and increase() expect), where the API's "today" figures
// start again at midnight. Alerts and dashboards are built on these.
type Counters struct {
	offered, answered, abandoned, transferredIn, transferredOut *prometheus.CounterVec
	offers, offersAccepted, offersMissed                        *prometheus.CounterVec
	wait, handle                                                *prometheus.HistogramVec
}

// WaitBuckets bound the answered contacts' waits: 20 s is the usual
// service-level threshold, so it is a bucket edge.
var WaitBuckets = []float64{5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1200}

// NewCounters makes the counters and registers them in reg.
func NewCounters(reg prometheus.Registerer) (*Counters, error) {
	q := []string{"queue"}
	cv := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	c := &Counters{
		offered:        cv("tellonce_queue_offered_total", "Legs that entered the queue (new contacts, transfers in, contacts back in line).", q...),
		answered:       cv("tellonce_queue_answered_total", "Legs of the queue an agent accepted.", q...),
		abandoned:      cv("tellonce_queue_abandoned_total", "Legs the citizen left while waiting in the queue.", q...),
		transferredIn:  cv("tellonce_queue_transferred_in_total", "Transfers into the queue completed.", q...),
		transferredOut: cv("tellonce_queue_transferred_out_total", "Legs of the queue that ended in a transfer.", q...),
		offers:         cv("tellonce_offers_total", "Offers of a contact made to an agent.", q...),
		offersAccepted: cv("tellonce_offers_accepted_total", "Offers the agent accepted.", q...),
		offersMissed: cv("tellonce_offers_missed_total",
			"Offers not accepted, by reason: declined, timeout (the agent did not answer in time), revoked (the contact went elsewhere or left).", "queue", "reason"),
		wait: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tellonce_queue_answer_wait_seconds",
			Help: "How long answered legs waited in the queue; the share under the SLA threshold is the service level.", Buckets: WaitBuckets}, q),
		handle: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tellonce_queue_handle_seconds",
			Help:    "Handle time (answer to end) of legs that ended answered.",
			Buckets: []float64{30, 60, 120, 180, 300, 450, 600, 900, 1200, 1800, 3600}}, q),
	}
	for _, m := range []prometheus.Collector{c.offered, c.answered, c.abandoned, c.transferredIn, c.transferredOut,
		c.offers, c.offersAccepted, c.offersMissed, c.wait, c.handle} {
		if err := reg.Register(m); err != nil {
			return nil, fmt.Errorf("register contact counters: %w", err)
		}
	}
	return c, nil
}

// Observe counts a committed batch of the router's events; it is one of
// the journal's deliveries, as Stats.Observe is, and counts the same way.
func (c *Counters) Observe(evs []cases.Event) {
	for i := range evs {
		c.observe(&evs[i])
	}
}

func (c *Counters) observe(e *cases.Event) {
	ct := e.Contact
	queue := e.Queue
	if ct != nil {
		queue = ct.Queue // a transfer's new leg: the queue it entered
	}
	switch e.Type {
	case cases.EventContactCreated, cases.EventRequeued:
		if ct != nil {
			c.offered.WithLabelValues(queue).Inc()
		}
	case cases.EventTransferred:
		switch {
		case ct != nil:
			c.offered.WithLabelValues(queue).Inc()
			if e.Reason == string(cases.TransferCold) {
				c.transferredIn.WithLabelValues(queue).Inc()
			}
		case e.Reason == string(cases.TransferWarm):
			c.transferredIn.WithLabelValues(e.Data["queue"]).Inc()
		}
	case cases.EventOffered:
		c.offers.WithLabelValues(queue).Inc()
	case cases.EventAccepted:
		c.offersAccepted.WithLabelValues(queue).Inc()
		if ct != nil {
			c.answered.WithLabelValues(queue).Inc()
			c.wait.WithLabelValues(queue).Observe(e.At.Sub(ct.EnqueuedAt).Seconds())
		}
	case cases.EventDeclined:
		c.offersMissed.WithLabelValues(queue, "declined").Inc()
	case cases.EventOfferTimeout:
		c.offersMissed.WithLabelValues(queue, "timeout").Inc()
	case cases.EventOfferRevoked:
		c.offersMissed.WithLabelValues(queue, "revoked").Inc()
	case cases.EventEnded, cases.EventAbandoned:
		if ct == nil {
			return
		}
		switch {
		case !ct.AnsweredAt.IsZero() && ct.Disposition != dispRequeued:
			c.handle.WithLabelValues(queue).Observe(e.At.Sub(ct.AnsweredAt).Seconds())
		case ct.AnsweredAt.IsZero() && ct.Disposition == dispAbandoned:
			c.abandoned.WithLabelValues(queue).Inc()
		}
		if ct.Disposition == dispTransferred {
			c.transferredOut.WithLabelValues(queue).Inc()
		}
	}
}

// Zero makes every series of the given queues exist at zero, so that a
// queue's rates and alerts work from the first scrape rather than from its
// first contact.
func (c *Counters) Zero(queues []string) {
	for _, q := range queues {
		for _, v := range []*prometheus.CounterVec{c.offered, c.answered, c.abandoned, c.transferredIn, c.transferredOut, c.offers, c.offersAccepted} {
			v.WithLabelValues(q)
		}
		for _, reason := range []string{"declined", "timeout", "revoked"} {
			c.offersMissed.WithLabelValues(q, reason)
		}
		c.wait.WithLabelValues(q)
		c.handle.WithLabelValues(q)
	}
}
