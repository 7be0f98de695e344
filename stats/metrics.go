package stats

import (
	"github.com/prometheus/client_golang/prometheus"
)

// The Prometheus gauges, labelled by queue and agency (and, for agents, by
// one of the six states): as many series as queues, never per contact or
// agent. The "today" figures are gauges because they start again at
// midnight.
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
	descOffered = prometheus.NewDesc("tellonce_queue_today_offered",
		"Legs that entered the queue since midnight.", queueLabels, nil)
	descAnswered = prometheus.NewDesc("tellonce_queue_today_answered",
		"Legs of the queue answered since midnight.", queueLabels, nil)
	descAbandoned = prometheus.NewDesc("tellonce_queue_today_abandoned",
		"Legs abandoned while waiting in the queue since midnight.", queueLabels, nil)
	descTransIn = prometheus.NewDesc("tellonce_queue_today_transferred_in",
		"Transfers into the queue completed since midnight.", queueLabels, nil)
	descTransOut = prometheus.NewDesc("tellonce_queue_today_transferred_out",
		"Legs of the queue that ended in a transfer since midnight.", queueLabels, nil)
	descASA = prometheus.NewDesc("tellonce_queue_today_asa_seconds",
		"Average speed of answer since midnight.", queueLabels, nil)
	descAHT = prometheus.NewDesc("tellonce_queue_today_aht_seconds",
		"Average handle time (answer to end) since midnight.", queueLabels, nil)
	descSL = prometheus.NewDesc("tellonce_queue_today_service_level_ratio",
		"Share of contacts answered within the queue's SLA threshold since midnight (see the stats package doc).", queueLabels, nil)
)

// collector exposes the live figures (computed at most once per Interval)
// on a scrape.
type collector struct{ s *Stats }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descWaiting, descLongest, descAgents, descEstimate, descLight,
		descStaffed, descOffered, descAnswered, descAbandoned, descTransIn, descTransOut, descASA, descAHT, descSL} {
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
		t := q.Today
		gauge(descOffered, float64(t.Offered), l...)
		gauge(descAnswered, float64(t.Answered), l...)
		gauge(descAbandoned, float64(t.Abandoned), l...)
		gauge(descTransIn, float64(t.TransferredIn), l...)
		gauge(descTransOut, float64(t.TransferredOut), l...)
		if t.ASAS != nil {
			gauge(descASA, *t.ASAS, l...)
		}
		if t.AHTS != nil {
			gauge(descAHT, *t.AHTS, l...)
		}
		if t.ServiceLevelPct != nil {
			gauge(descSL, *t.ServiceLevelPct/100, l...)
		}
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
