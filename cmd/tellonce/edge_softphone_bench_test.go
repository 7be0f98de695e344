package main

import (
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

// BenchmarkEdgeBrowserCalls bridges TELLONCE_BENCH_CALLS calls (default
// 100) at once to agents' browser softphones — pion peer connections
// played by this test, DTLS-SRTP on loopback — and reports, over b.N
// seconds of every call talking both ways: the CPU per call and the
// memory per call (the whole process: the server, the edge, the SIP
// callers and the browsers' peers, so an upper bound of the edge's
// share), and the p50 and p99 from the agent's accept to the first of
// the caller's frames heard in the browser (the edge's offer, the desk's
// answer, ICE and DTLS).
func BenchmarkEdgeBrowserCalls(b *testing.B) {
	calls := benchCalls(b)
	s := startServer(b, "sqlite", "--login-burst-addr", strconv.Itoa(calls+50))
	e := startEdge(b, s, "--max-calls", strconv.Itoa(calls+10), "--webrtc-ip", "127.0.0.1", "--ring-timeout", "30s")
	var ms0 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)

	tabs := make([]*browser, calls)
	accepted := make([]time.Time, calls)
	var wg sync.WaitGroup
	for i := range calls {
		name := fmt.Sprintf("e2e.web%03d", i)
		s.createAgent(b, name, "nts126", 1, "nts126.year-end")
		s.call(b, "PATCH", "/v1/users/"+name, s.admin(b), obj{"skills": obj{"lang:ko": 5, "topic:tax": 5}}, 200, nil)
		agent, _ := s.agentDesk(b, name, e2eAgentPassword)
		agent.ack(b, obj{"type": "state", "state": "available"})
		agent.ack(b, obj{"type": "softphone", "on": true})
		tabs[i] = newBrowser(b, agent)
		tabs[i].wait = 2 * time.Minute // a loaded machine sets 200 calls up slowly
		wg.Add(1)
		go func() {
			defer wg.Done()
			offer, err := agent.AwaitFunc("an offer", 2*time.Minute, typed("offer"))
			if err != nil {
				return
			}
			accepted[i] = time.Now()
			if _, err := agent.Send(obj{"type": "accept", "offer_id": offer.str("offer_id")}); err == nil {
				tabs[i].answer()
			}
		}()
	}
	callers := make([]*phoneCall, calls)
	for i := range calls {
		caller := newPhone(b, "bench-caller")
		d, c := caller.call(b, e, "126", fmt.Sprintf("+8210888%05d", i))
		walkToYearEnd(b, d)
		callers[i] = c
	}
	wg.Wait()
	var setup []time.Duration
	for i, tab := range tabs {
		growing(b, "browser "+strconv.Itoa(i)+" hearing its caller", &tab.heard, 5)
		setup = append(setup, time.Unix(0, tab.first.Load()).Sub(accepted[i]))
	}
	for i, c := range callers {
		growing(b, "caller "+strconv.Itoa(i)+" hearing the browser", &c.heard, 5)
	}

	var heard0 int64
	for _, tab := range tabs {
		heard0 += tab.heard.Load()
	}
	cpu0, wall0 := cpuTime(), time.Now()
	b.ResetTimer()
	for range b.N {
		time.Sleep(time.Second) // the measured unit: one second of every call talking
	}
	b.StopTimer()
	cpu, wall := cpuTime()-cpu0, time.Since(wall0)
	var heard int64
	for _, tab := range tabs {
		heard += tab.heard.Load()
	}
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(calls), "calls")
	b.ReportMetric(float64(cpu)/float64(wall)*100/float64(calls), "cpu-%-per-call")
	b.ReportMetric(float64(ms.HeapInuse-min(ms.HeapInuse, ms0.HeapInuse))/float64(calls)/1024, "heap-KiB-per-call")
	b.ReportMetric(float64(ms.Sys-min(ms.Sys, ms0.Sys))/float64(calls)/1024, "sys-KiB-per-call")
	b.ReportMetric(float64(heard-heard0)/wall.Seconds()/float64(calls), "frames/s-per-call-to-browser")
	b.ReportMetric(float64(percentile(setup, 0.50).Microseconds())/1000, "accept-to-audio-p50-ms")
	b.ReportMetric(float64(percentile(setup, 0.99).Microseconds())/1000, "accept-to-audio-p99-ms")
	b.ReportMetric(0, "ns/op")
}
