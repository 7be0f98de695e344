package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"tellonce/lease"
	tsql "tellonce/sql"
)

// alone is the leadership of a server on the embedded database: the
// file's lock made it the only one, so it always leads, at epoch 0.
type alone struct{ addr string }

func (a alone) Status() lease.Status {
	return lease.Status{Role: lease.RoleLeader, Leader: a.addr}
}
func (alone) IsPeer(string) bool { return false }

// defaultNodeID is the host name and the port.
func defaultNodeID(addr net.Addr) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return net.JoinHostPort(host, strconv.Itoa(port(addr)))
}

// advertised is where the other nodes reach this one when --advertise is
// not given: the listening address, or the host name for a wildcard one.
func advertised(addr net.Addr) string {
	if ta, ok := addr.(*net.TCPAddr); ok && !ta.IP.IsUnspecified() {
		return ta.String()
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return net.JoinHostPort(host, strconv.Itoa(port(addr)))
}

func port(addr net.Addr) int {
	if ta, ok := addr.(*net.TCPAddr); ok {
		return ta.Port
	}
	return 0
}

// schemaVersion is the schema this binary knows.
func schemaVersion(db *tsql.DB) (int, error) {
	ms, err := tsql.Migrations(db.Dialect)
	if err != nil {
		return 0, err
	}
	return len(ms), nil
}

// termMetrics gathers the metrics of the current term as leader (its
// statistics and HTTP counters), which a standby does not have.
type termMetrics struct {
	mu  sync.Mutex
	reg *prometheus.Registry
}

func (m *termMetrics) set(reg *prometheus.Registry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reg = reg
}

func (m *termMetrics) Gather() ([]*dto.MetricFamily, error) {
	m.mu.Lock()
	reg := m.reg
	m.mu.Unlock()
	if reg == nil {
		return nil, nil
	}
	return reg.Gather()
}

// serveFront serves the node's front door on ln until ctx ends, then
// drains in-flight requests for up to 15 seconds.
func serveFront(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		// Relayed WebSockets are hijacked: Shutdown does not wait for them.
		srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("stopped")
	return nil
}
