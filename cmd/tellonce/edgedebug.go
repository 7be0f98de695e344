package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// edgeDebugServer serves the edge's /metrics (its calls, its gateway
// socket, the Go runtime and the process) and /debug/pprof/ on
// --debug-addr. Profiles carry no personal data but cost CPU and have no
// authentication, so the address must be a loopback one.
type edgeDebugServer struct {
	ln  net.Listener
	srv *http.Server
}

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

func newEdgeDebugServer(ln net.Listener, e edgeGauges, log *slog.Logger) *edgeDebugServer {
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
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return &edgeDebugServer{ln: ln, srv: &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}}
}

func (d *edgeDebugServer) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- d.srv.Serve(d.ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("edge debug server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	// A profile being taken holds its request open: cut it rather than wait.
	if err := d.srv.Shutdown(sctx); err != nil {
		_ = d.srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("edge debug server: %w", err)
	}
	return nil
}
