package main

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The edge's figures (docs/benchmarks.md): a real server, the edge, and Go
// user agents as callers and agents' phones, all in this process on
// loopback. The callers' frames carry their send time, so the agents'
// phones measure each frame's one-way delay across the edge's relay.

// benchCalls is how many calls BenchmarkEdgeBridgedCalls bridges at once:
// TELLONCE_BENCH_CALLS, or 100.
func benchCalls(b *testing.B) int {
	n := 100
	if v := os.Getenv("TELLONCE_BENCH_CALLS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("TELLONCE_BENCH_CALLS=%q: want a positive number", v)
		}
	}
	return n
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[min(len(d)-1, int(float64(len(d))*p))]
}

// BenchmarkEdgeBridgedCalls bridges TELLONCE_BENCH_CALLS calls at once
// (G.711 μ-law both sides, relayed without transcoding) and measures over
// b.N seconds of steady talk: the p99 one-way delay of the callers'
// frames to the agents' phones (sender, edge and receiver together: an
// upper bound of what the edge adds), the frames lost, and the CPU per
// call (the whole process: the edge, the router and every phone).
func BenchmarkEdgeBridgedCalls(b *testing.B) {
	calls := benchCalls(b)
	s := startServer(b, "sqlite", "--login-burst-addr", strconv.Itoa(calls+50))
	e := startEdge(b, s, "--max-calls", strconv.Itoa(calls+10))
	delays := &delayLog{base: time.Now()}
	callers := make([]*phoneCall, calls)
	phones := make([]*phone, calls)
	var wg sync.WaitGroup
	for i := range calls {
		name := fmt.Sprintf("e2e.bench%03d", i)
		s.createAgent(b, name, "nts126", 1, "nts126.year-end")
		phones[i] = newPhone(b, "bench-phone")
		phones[i].delays = delays
		s.call(b, "PATCH", "/v1/users/"+name, s.admin(b), obj{"sip_uri": "sip:" + name + "@" + phones[i].addr,
			"skills": obj{"lang:ko": 5, "topic:tax": 5}}, 200, nil)
		agent, _ := s.agentDesk(b, name, e2eAgentPassword)
		agent.ack(b, obj{"type": "state", "state": "available"})
		wg.Add(1)
		go func() {
			defer wg.Done()
			if offer, err := agent.AwaitFunc("an offer", 2*time.Minute, typed("offer")); err == nil {
				_, _ = agent.Send(obj{"type": "accept", "offer_id": offer.str("offer_id")})
			}
		}()
	}
	for i := range calls {
		caller := newPhone(b, "bench-caller")
		caller.stamp = &delays.base
		d, c := caller.call(b, e, "126", fmt.Sprintf("+8210777%05d", i))
		walkToYearEnd(b, d)
		callers[i] = c
	}
	wg.Wait()
	for _, p := range phones {
		awaitAnswered(b, p)
	}
	// Every call bridged and talking: start measuring afresh.
	time.Sleep(time.Second) // let the last bridges settle; nothing to await
	delays.mu.Lock()
	delays.d = delays.d[:0]
	delays.mu.Unlock()
	var sent0, heard0 int64
	for i := range calls {
		sent0 += callers[i].sent.Load()
	}
	heardNow := func() int64 {
		delays.mu.Lock()
		defer delays.mu.Unlock()
		return int64(len(delays.d))
	}
	heard0 = heardNow()
	cpu0, wall0 := cpuTime(), time.Now()
	b.ResetTimer()
	for range b.N {
		time.Sleep(time.Second) // the measured unit: one second of every call talking
	}
	b.StopTimer()
	cpu, wall := cpuTime()-cpu0, time.Since(wall0)
	var sent int64
	for i := range calls {
		sent += callers[i].sent.Load()
	}
	// Frames in flight at the end are not lost: compare with the sent
	// count of one frame time earlier.
	heard := heardNow() - heard0
	sent = sent - sent0 - int64(calls)
	delays.mu.Lock()
	d := slices.Clone(delays.d)
	delays.mu.Unlock()
	lost := max(0, float64(sent-heard)/float64(max(sent, 1))*100)
	b.ReportMetric(float64(calls), "calls")
	b.ReportMetric(float64(percentile(d, 0.99).Microseconds())/1000, "p99-delay-ms")
	b.ReportMetric(float64(percentile(d, 0.50).Microseconds())/1000, "p50-delay-ms")
	b.ReportMetric(lost, "loss-%")
	b.ReportMetric(float64(cpu)/float64(wall)*100/float64(calls), "cpu-%-per-call")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkEdgeMenuKeyToRing: one call at a time, an agent free and
// waiting, from the caller's last menu key (sent as SIP INFO) to the
// agent's phone receiving the INVITE: the menu, the router's enqueue and
// offer, the desk's accept, and the edge's dial. Reported as p50 and p99.
func BenchmarkEdgeMenuKeyToRing(b *testing.B) {
	s := startServer(b, "sqlite")
	// No wrap-up: the agent is free again as soon as a call ends.
	s.call(b, "PATCH", "/v1/queues/nts126.year-end", s.admin(b), obj{"wrapup_s": 0}, 200, nil)
	e := startEdge(b, s)
	agentPhone := newPhone(b, "agent-phone")
	agentPhone.register(b, e, "han.jiwon")
	agent := s.availableAgent(b, "han.jiwon")
	caller := newPhone(b, "caller")
	var took []time.Duration
	b.ResetTimer()
	for i := range b.N {
		d, c := caller.call(b, e, "126", fmt.Sprintf("+8210666%05d", i))
		info(b, d, "1")
		last := time.Now()
		info(b, d, "1")
		offer := agent.awaitFunc(b, "the call's offer", typed("offer"))
		agent.ack(b, obj{"type": "accept", "offer_id": offer.str("offer_id")})
		call := awaitAnswered(b, agentPhone)
		took = append(took, call.rang.Sub(last))
		b.StopTimer()
		agent.ack(b, obj{"type": "end", "contact_id": offer.str("contact", "contact_id"), "disposition": "resolved", "summary": "bench"})
		awaitEnded(b, "the caller's call", c.done)
		agent.ack(b, obj{"type": "state", "state": "available"})
		_ = d.Close()
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(percentile(took, 0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(took, 0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(0, "ns/op")
}
