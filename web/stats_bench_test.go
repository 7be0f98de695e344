package web

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"tellonce/directory"
	"tellonce/sql/sqltest"
	"tellonce/switchboard"
)

// BenchmarkStatus is GET /v1/status over loopback: clients on keep-alive
// connections (64 per GOMAXPROCS, -cpu to vary), against a server with 40
// public queues whose figures are computed afresh every second, as they
// are live. See stats/BENCHMARKS.md for the figures.
//
//	go test -run '^$' -bench BenchmarkStatus -benchtime 10s ./web/
func BenchmarkStatus(b *testing.B) {
	h := statusHarness(b)
	// The live figures move on every second of real time.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go tickClock(ctx, h)
	const perProc = 64
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024}}
	url := h.ts.URL + "/v1/status"
	computed := h.stats.Computations()
	b.SetParallelism(perProc)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			res, err := client.Get(url)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				b.Errorf("status %d", res.StatusCode)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	b.ReportMetric(float64(h.stats.Computations()-computed), "computations")
}

// tickClock moves the harness clock on by a second every second.
func tickClock(ctx context.Context, h *harness) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			h.clock.Advance(time.Second)
		}
	}
}

// statusHarness is a server with 40 public queues.
func statusHarness(tb testing.TB) *harness {
	h := newHarness(tb, sqltest.Open(tb, "sqlite"))
	for i := range 38 {
		agency := []string{"gov110", "nts126"}[i%2]
		name := "Queue " + strconv.Itoa(i)
		q, err := h.dir.CreateQueue(h.ctx(), agency, directory.QueueCreate{ID: "q" + strconv.Itoa(i),
			QueueSettings: directory.QueueSettings{Name: &name}})
		if err != nil {
			tb.Fatal(err)
		}
		if err := switchboard.New(h.router, instantDurability{}, h.dir).SyncQueue(h.ctx(), q); err != nil {
			tb.Fatal(err)
		}
	}
	return h
}
