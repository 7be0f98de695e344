package agents

import (
	"github.com/prometheus/client_golang/prometheus"
)

var (
	descSockets = prometheus.NewDesc("tellonce_websockets_open",
		"WebSockets open now, by kind: agent, citizen, gateway.", []string{"kind"}, nil)
	descSlowCut = prometheus.NewDesc("tellonce_websocket_slow_clients_cut_total",
		"WebSockets cut because their send buffer filled (close 1013; the client reconnects).", nil, nil)
	descDropped = prometheus.NewDesc("tellonce_websocket_frames_dropped_total",
		"Frames not queued because their connection was full or closing.", nil, nil)
)

// Collector exports the hub's open sockets and losses on each scrape.
func (h *Hub) Collector() prometheus.Collector { return hubCollector{h} }

type hubCollector struct{ h *Hub }

func (c hubCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descSockets
	ch <- descSlowCut
	ch <- descDropped
}

func (c hubCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.h.Stats()
	for kind, n := range map[string]int{"agent": s.Agents, "citizen": s.Citizens, "gateway": s.Gateways} {
		ch <- prometheus.MustNewConstMetric(descSockets, prometheus.GaugeValue, float64(n), kind)
	}
	ch <- prometheus.MustNewConstMetric(descSlowCut, prometheus.CounterValue, float64(s.SlowClientsCut))
	ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(s.FramesDropped))
}
