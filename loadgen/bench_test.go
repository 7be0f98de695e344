package loadgen

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"tellonce/sql/sqltest"
)

// Benchmark knobs, as test flags (go test … -bench EndToEnd ./loadgen/
// -loadgen.agents 1000 -loadgen.rates 200,500,0).
var (
	benchAgents      = flag.Int("loadgen.agents", 1000, "BenchmarkEndToEnd: agents connected")
	benchQueues      = flag.Int("loadgen.queues", 10, "BenchmarkEndToEnd: queues")
	benchRates       = flag.String("loadgen.rates", "200,500,0", "BenchmarkEndToEnd: contact rates per second, comma-separated (0: as fast as the concurrency allows)")
	benchConcurrency = flag.Int("loadgen.concurrency", 32, "BenchmarkEndToEnd: POSTs in flight at most")
)

// BenchmarkEndToEnd runs a real server in process (the serve wiring, a
// cheap password hasher) on each backend, connects -loadgen.agents agents
// over real WebSockets on loopback, and drives b.N voice contacts per
// sub-benchmark through POST /v1/contacts, each offered, accepted and
// ended by an agent. The metrics are the latency from sending the POST to
// the agent reading its offer (p50, p99, max), the POST's own p99, the
// offers per second, the CPU time of the process (server and simulated
// clients together) per contact, and the split of POST → offer into
// route, commit and push (see segments); ns/op is wall time per contact,
// so at a fixed rate it is about 1/rate.
//
// Setup (the server, the agents' accounts, logins and sockets) happens
// once per backend, outside the timer; every sub-benchmark round shares it.
func BenchmarkEndToEnd(b *testing.B) {
	var rates []float64
	for _, s := range strings.Split(*benchRates, ",") {
		var r float64
		if _, err := fmt.Sscan(strings.TrimSpace(s), &r); err != nil || r < 0 {
			b.Fatalf("-loadgen.rates: %q is not a rate", s)
		}
		rates = append(rates, r)
	}
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			if backend == "postgres" && os.Getenv(sqltest.EnvPostgres) == "" {
				b.Skipf("%s is not set: run under scripts/with-postgres", sqltest.EnvPostgres)
			}
			ts := startServer(b, backend)
			ctx := context.Background()
			f, err := Setup(ctx, Config{URL: ts.URL, AdminPassword: testAdminPassword,
				Agents: *benchAgents, Queues: *benchQueues, SetupConcurrency: 16})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() {
				if err := f.Close(ctx); err != nil {
					b.Error(err)
				}
			})
			b.Logf("%s: %d agents connected in %s", backend, *benchAgents, f.SetupTime().Round(time.Millisecond))
			for _, rate := range rates {
				name := fmt.Sprintf("agents=%d/rate=%g", *benchAgents, rate)
				if rate == 0 {
					name = fmt.Sprintf("agents=%d/rate=max", *benchAgents)
				}
				b.Run(name, func(b *testing.B) {
					load := Load{Contacts: b.N, Rate: rate, Concurrency: *benchConcurrency, Duration: 10 * time.Minute}
					var seg segments
					f.driven = func(cs map[string]*contact) { seg = breakdown(ts.probe, cs) }
					defer func() { f.driven = nil }()
					stopProfiles := func() {}
					if dir := os.Getenv("LOADGEN_PROFILE_DIR"); dir != "" && b.N > 1 {
						stopProfiles = startProfiles(b, filepath.Join(dir, strings.NewReplacer("/", "-", "=", "").Replace(b.Name())))
					}
					b.ResetTimer()
					cpu0 := processCPU()
					rep, err := f.Drive(ctx, load)
					cpu := processCPU() - cpu0
					b.StopTimer()
					stopProfiles()
					if err != nil {
						b.Fatal(err)
					}
					if !rep.OK() {
						var s strings.Builder
						_ = rep.Print(&s)
						b.Fatalf("the run was not clean:\n%s", s.String())
					}
					b.ReportMetric(msOf(rep.Offer.P50), "p50-offer-ms")
					b.ReportMetric(msOf(rep.Offer.P99), "p99-offer-ms")
					b.ReportMetric(msOf(rep.Offer.Max), "max-offer-ms")
					b.ReportMetric(msOf(rep.Post.P99), "p99-post-ms")
					b.ReportMetric(rep.OfferRate, "offers/s")
					b.ReportMetric(msOf(cpu)/float64(b.N), "cpu-ms/contact")
					b.ReportMetric(msOf(seg.route.P99), "p99-route-ms")
					b.ReportMetric(msOf(seg.commit.P99), "p99-commit-ms")
					b.ReportMetric(msOf(seg.push.P99), "p99-push-ms")
					if b.N > 1 {
						b.Logf("POST sent → offer read, by segment (n=%d):\n%s", b.N, seg)
					}
				})
			}
		})
	}
}

// startProfiles records CPU, block and mutex profiles of the contact phase
// alone (not the setup) into prefix-{cpu,block,mutex}.pprof; set
// LOADGEN_PROFILE_DIR to have the benchmark do it.
func startProfiles(b *testing.B, prefix string) (stop func()) {
	cpu, err := os.Create(prefix + "-cpu.pprof")
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(cpu); err != nil {
		b.Fatal(err)
	}
	runtime.SetBlockProfileRate(int(10 * time.Microsecond))
	runtime.SetMutexProfileFraction(5)
	return func() {
		pprof.StopCPUProfile()
		cpu.Close()
		for _, name := range []string{"block", "mutex"} {
			f, err := os.Create(prefix + "-" + name + ".pprof")
			if err != nil {
				b.Fatal(err)
			}
			if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
				b.Error(err)
			}
			f.Close()
		}
		runtime.SetBlockProfileRate(0)
		runtime.SetMutexProfileFraction(0)
	}
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// segments splits POST sent → offer read in three, with the server-side
// timestamps of the probe: route (sent → the router published the offer:
// HTTP, session lookup, enqueue and match), commit (published → handed to
// the sockets: the journal's queue, SQL write and commit) and push (handed
// to the sockets → read by the agent: hub, WebSocket, client scheduling).
type segments struct{ route, commit, push Latencies }

func breakdown(p *probe, cs map[string]*contact) segments {
	published, delivered := p.take()
	var route, commit, push []time.Duration
	for caller, c := range cs {
		pub, ok1 := published[caller]
		del, ok2 := delivered[caller]
		if !ok1 || !ok2 || c.offered.IsZero() {
			continue
		}
		route = append(route, pub.Sub(c.sent))
		commit = append(commit, del.Sub(pub))
		push = append(push, c.offered.Sub(del))
	}
	return segments{summarize(route), summarize(commit), summarize(push)}
}

func (s segments) String() string {
	var b strings.Builder
	for _, r := range []struct {
		name string
		l    Latencies
	}{{"route (sent → published)", s.route}, {"commit (published → delivered)", s.commit}, {"push (delivered → read)", s.push}} {
		fmt.Fprintf(&b, "  %-32s p50 %s  p95 %s  p99 %s  max %s\n", r.name, ms(r.l.P50), ms(r.l.P95), ms(r.l.P99), ms(r.l.Max))
	}
	return b.String()
}
