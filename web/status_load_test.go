//go:build statusload

package web

import (
	"cmp"
	"context"
	"net"
	"os"
	"testing"
	"time"
)

// TestStatusUnderLoad serves /v1/status and /status to an outside load
// generator: with TELLONCE_STATUS_LOAD=<duration> it serves the harness of
// BenchmarkStatus through Server.Serve (the production http.Server) on
// TELLONCE_STATUS_LOAD_ADDR (default 127.0.0.1:18080) for that long.
//
//	TELLONCE_STATUS_LOAD=40s go test -tags statusload -run TestStatusUnderLoad ./web/ &
//	wrk -t2 -c200 -d10s http://127.0.0.1:18080/status
//	wrk -t2 -c200 -d10s http://127.0.0.1:18080/v1/status
//
// It is a tool for measuring, not a check, so it builds only with the
// statusload tag.
func TestStatusUnderLoad(t *testing.T) {
	d, err := time.ParseDuration(os.Getenv("TELLONCE_STATUS_LOAD"))
	if err != nil {
		t.Fatal("set TELLONCE_STATUS_LOAD to a duration to serve /v1/status to a load generator")
	}
	addr := cmp.Or(os.Getenv("TELLONCE_STATUS_LOAD_ADDR"), "127.0.0.1:18080")
	h := statusHarness(t)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	go tickClock(ctx, h)
	computed := h.stats.Computations()
	if err := h.server.Serve(ctx, ln); err != nil {
		t.Fatal(err)
	}
	t.Logf("served for %v with %d computations", d, h.stats.Computations()-computed)
}
