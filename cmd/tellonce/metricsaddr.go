package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	tsql "tellonce/sql"
	"tellonce/web"
)

// sideServer is a small HTTP server beside the main one, on an address
// of its own: /metrics alone on --metrics-addr, where a monitoring
// network reaches and citizens do not; the edge's --debug-addr.
type sideServer struct {
	name string
	ln   net.Listener
	srv  *http.Server
}

func newSideServer(name string, ln net.Listener, h http.Handler, writeTimeout time.Duration, log *slog.Logger) *sideServer {
	return &sideServer{name: name, ln: ln, srv: &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		WriteTimeout:      writeTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}}
}

func newMetricsServer(ln net.Listener, reg prometheus.Gatherer, token string, log *slog.Logger) *sideServer {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", web.MetricsHandler(reg, token))
	return newSideServer("metrics server", ln, mux, 30*time.Second, log)
}

func (m *sideServer) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- m.srv.Serve(m.ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("%s: %w", m.name, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	// A request still open (a profile being taken) is cut rather than
	// waited for.
	if err := m.srv.Shutdown(sctx); err != nil {
		_ = m.srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("%s: %w", m.name, err)
	}
	return nil
}

// listen opens --addr, in TLS when configured, warning when plain HTTP
// faces the network.
func listen(cfg serveConfig, log *slog.Logger) (net.Listener, *certReloader, error) {
	var certs *certReloader
	if cfg.tlsCert != "" {
		var err error
		if certs, err = newCertReloader(cfg.tlsCert, cfg.tlsKey, log); err != nil {
			return nil, nil, err
		}
	}
	ln, err := net.Listen("tcp", cfg.web.Addr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen %s: %w", cfg.web.Addr, err)
	}
	if certs != nil {
		ln = listenTLS(ln, certs)
	} else {
		warnPlainHTTP(log, ln.Addr().String())
	}
	return ln, certs, nil
}

// listenMetrics opens --metrics-addr when set (nil otherwise).
func listenMetrics(cfg serveConfig, g prometheus.Gatherer, log *slog.Logger) (*sideServer, error) {
	if cfg.metricsAddr == "" {
		return nil, nil
	}
	mln, err := net.Listen("tcp", cfg.metricsAddr)
	if err != nil {
		return nil, fmt.Errorf("listen --metrics-addr %s: %w", cfg.metricsAddr, err)
	}
	log.Info("metrics listening", "addr", mln.Addr().String())
	return newMetricsServer(mln, g, cfg.web.MetricsToken, log), nil
}

// listenDebug opens --debug-addr when set (nil otherwise): the profiles of
// the Go runtime, on loopback only (they have no authentication).
func listenDebug(cfg serveConfig, log *slog.Logger) (*sideServer, error) {
	if cfg.debugAddr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", cfg.debugAddr)
	if err != nil {
		return nil, fmt.Errorf("listen --debug-addr %s: %w", cfg.debugAddr, err)
	}
	log.Info("debug listening", "addr", ln.Addr().String())
	// No write timeout: a profile or a trace streams for the seconds asked.
	return newSideServer("debug server", ln, pprofMux(), 0, log), nil
}

// readiness is tellonce_ready: 1 while the database answers with a current
// schema (what /readyz checks), asked at each scrape.
func readiness(ctx context.Context, db *tsql.DB) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tellonce_ready",
		Help: "1 while the database answers and its schema is current (as /readyz), else 0."},
		func() float64 {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			defer cancel()
			if db.Ready(rctx) != nil {
				return 0
			}
			return 1
		})
}
