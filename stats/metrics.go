package stats

import (
	"github.com/prometheus/client_golang/prometheus"
)

// The Prometheus gauges, labelled by queue and agency (and, for agents, by
// one of the six states): as many series as queues, never per contact or
// agent. The "today" figures are not exported: they start again at
// midnight, which rate() cannot tell from a restart; the contact flow's
// counters (Counters) stand in for them.
var (
	queueLabels = []string{"queue", "agency"}

	descWaiting = prometheus.NewDesc("tellonce_queue_waiting",
		"Contacts waiting in the queue now.", queueLabels, nil)
	descLongest = prometheus.NewDesc("tellonce_queue_longest_wait_seconds",
		"How long the longest-waiting contact of the queue has waited.", queueLabels, nil)
	descAgents = prometheus.NewDesc("tellonce_queue_agents",
		"Member agents of the queue by displayed state.", append(queueLabels[:2:2], "state"), nil)
	descEstimate = prometheus.NewDesc("tellonce_queue_estimated_wait_seconds",
		"Expected wait of a contact arriving now (absent while nobody staffs the queue).", queueLabels, nil)
	descLight = prometheus.NewDesc("tellonce_queue_light",
		"Traffic light of the queue: 0 green (원활), 1 yellow (지연), 2 red (혼잡), 3 closed (outside its opening hours).", queueLabels, nil)
	descStaffed = prometheus.NewDesc("tellonce_queue_staffed_agents",
		"Agents working the queue: available, busy or wrapping up.", queueLabels, nil)
)

// collector exposes the live figures (computed at most once per Interval)
// on a scrape.
type collector struct{ s *Stats }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descWaiting, descLongest, descAgents, descEstimate, descLight, descStaffed} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, q := range c.s.current().queues {
		l := []string{q.Queue, q.Agency}
		gauge(descWaiting, float64(q.Waiting), l...)
		gauge(descLongest, float64(q.LongestWaitS), l...)
		for state, n := range map[string]int{
			"available": q.Agents.Available, "busy": q.Agents.Busy, "wrapup": q.Agents.Wrapup,
			"break": q.Agents.Break, "offline": q.Agents.Offline, "not_ready": q.Agents.NotReady,
		} {
			gauge(descAgents, float64(n), q.Queue, q.Agency, state)
		}
		if q.EstimatedWaitS != nil {
			gauge(descEstimate, float64(*q.EstimatedWaitS), l...)
		}
		gauge(descLight, lightValue(q.Light), l...)
		gauge(descStaffed, float64(q.Model.Staffed), l...)
	}
}

func lightValue(light string) float64 {
	switch light {
	case LightGreen:
		return 0
	case LightYellow:
		return 1
	case LightClosed:
		return 3
	}
	return 2
}
