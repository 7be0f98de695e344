package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The edge's debug server serves its /metrics (its calls, its gateway
// socket, the Go runtime and the process) and /debug/pprof/ on
// --debug-addr. Profiles carry no personal data but cost CPU and have no
// authentication, so the address must be a loopback one.

// edgeGauges is what the debug page reads from the edge.
type edgeGauges interface {
	Active() int
	Online() bool
}

// checkDebugAddr refuses a --debug-addr that is not on loopback.
func checkDebugAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--debug-addr %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("--debug-addr %q: must be a loopback address (127.0.0.1:PORT, [::1]:PORT or localhost:PORT): profiles have no authentication", addr)
	}
	return nil
}

func newEdgeDebugServer(ln net.Listener, e edgeGauges, log *slog.Logger) *sideServer {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tellonce_edge_calls_active", Help: "Calls the edge carries now, callbacks included."},
			func() float64 { return float64(e.Active()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tellonce_edge_gateway_online", Help: "1 while the edge's gateway socket to the server is up."},
			func() float64 {
				if e.Online() {
					return 1
				}
				return 0
			}))
	mux := pprofMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return newSideServer("edge debug server", ln, mux, 0, log)
}

// pprofMux serves /debug/pprof/ and POST /debug/free-os-memory: the
// edge's and serve's --debug-addr.
func pprofMux() *http.ServeMux {
	mux := http.NewServeMux()
	// A collection that also hands every freed page back to the system:
	// what the socket drill asks for before it reads the resident memory,
	// so that the difference it takes is the sockets', not the garbage or
	// the free pages the process happened to hold.
	mux.HandleFunc("POST /debug/free-os-memory", func(w http.ResponseWriter, _ *http.Request) {
		debug.FreeOSMemory()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return mux
}
