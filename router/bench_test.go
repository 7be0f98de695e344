package router

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	memdb "github.com/hashicorp/go-memdb"
)

// Benchmark scale: 10,000 agents and 100,000 waiting contacts across 200
// queues (50 agents and 500 waiting contacts per queue).
const (
	benchQueues   = 200
	benchAgents   = 10_000
	benchContacts = 100_000
	// benchStep is how far the clock moves per routed contact: the
	// benchmarks run at about a thousand contacts a second of router time,
	// so offers, idle times and cases carry distinct times, as a server's
	// do, rather than all one instant.
	benchStep = time.Millisecond
)

type pendingOffer struct{ agent, offer, contact, queue string }

// benchRouter is a router at steady state: every agent holds one offer and
// 100,000 contacts wait behind them.
type benchRouter struct {
	f      *fixture
	offers []pendingOffer
	next   int // caller counter
}

// benchSetup builds the steady state once per process: Restore loads the
// waiting contacts in one transaction, then every agent logs in and gets an
// offer. Ids are made as the server makes them (the router's default, not
// the tests' short counters): their shape decides how go-memdb's radix
// trees are laid out, and short sequential ids made the router look
// faster than a server is (router/BENCHMARKS.md).
var benchSetup = func() func(b *testing.B) *benchRouter {
	var st *benchRouter
	return func(b *testing.B) *benchRouter {
		if st != nil {
			return st
		}
		start := time.Now()
		f := newFixture(b, nil, nil)
		r := f.r
		r.sink = nil  // the test sink keeps every event; a real one hands them on
		r.newID = nil // the server's ids
		var snap Snapshot
		for q := range benchQueues {
			snap.Queues = append(snap.Queues, QueueConfig{ID: fmt.Sprintf("agency%d.q", q), Agency: fmt.Sprintf("agency%d", q),
				Channels: []Channel{ChannelVoice, ChannelChat}, Wrapup: -1, OfferTimeout: time.Hour})
		}
		for a := range benchAgents {
			q := snap.Queues[a%benchQueues].ID
			snap.Agents = append(snap.Agents, AgentProfile{Username: fmt.Sprint("agent", a), Queues: map[string]int{q: 1}})
		}
		for c := range benchContacts {
			at := t0.Add(time.Duration(c) * benchStep)
			id := MakeID("ct", at)
			snap.Cases = append(snap.Cases, CaseSnapshot{ID: MakeID("cs", at), Caller: Caller{ID: fmt.Sprint("w", c)},
				CreatedAt: at,
				Contacts: []ContactSnapshot{{ID: id, Queue: snap.Queues[c%benchQueues].ID, Channel: ChannelVoice,
					Seq: uint64(c + 1), EnqueuedAt: at, Status: StatusQueued}}})
		}
		f.clock.Set(t0.Add(benchContacts * benchStep)) // the newest has just called
		if err := r.Restore(snap); err != nil {
			b.Fatal(err)
		}
		st = &benchRouter{f: f}
		for a := range benchAgents {
			name := fmt.Sprint("agent", a)
			_, _, err := r.Connect(name)
			f.must(err)
			evs, err := r.SetState(name, StateAvailable, "")
			f.must(err)
			st.collect(evs)
		}
		b.Logf("setup: %d queues, %d agents, %d contacts in %s", benchQueues, benchAgents, benchContacts, time.Since(start))
		return st
	}
}()

func (st *benchRouter) collect(evs []Event) {
	for _, e := range evs {
		if e.Type == EventOffered {
			st.offers = append(st.offers, pendingOffer{e.Agent, e.OfferID, e.ContactID, e.Queue})
		}
	}
}

// cpuTime is the CPU time the process has used, on all cores, GC included.
// Per routed contact it is the work the router costs, which unlike wall time
// does not depend on what else the machine is running.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func p99(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[len(d)*99/100]
}

// BenchmarkRouteSteadyState routes one contact per iteration through the
// whole path at full scale: the agent accepts their offer and ends the
// contact, which frees them and makes the router offer them the best of
// 500 waiting contacts; a new contact is enqueued at the back so the line
// stays at 100,000.
func BenchmarkRouteSteadyState(b *testing.B) { routeSteadily(b, false) }

// BenchmarkRouteReadEach is BenchmarkRouteSteadyState with a reader after
// every routed contact: the new contact's place is read on a snapshot, as
// a citizen's page does when it opens. Each read commits the calls before
// it (publish.go), so memdb commits once per routed contact rather than
// once per maxUnpublished calls: the least that calls can share.
func BenchmarkRouteReadEach(b *testing.B) { routeSteadily(b, true) }

func routeSteadily(b *testing.B, read bool) {
	st := benchSetup(b)
	r := st.f.r
	endLat := make([]time.Duration, 0, b.N)
	enqLat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for range b.N {
		st.f.clock.Advance(benchStep)
		o := st.offers[0]
		st.offers = st.offers[1:]
		if _, err := r.Accept(o.agent, o.offer); err != nil {
			b.Fatal(err)
		}
		t := time.Now()
		evs, err := r.End(o.agent, o.contact, "resolved", "")
		endLat = append(endLat, time.Since(t))
		if err != nil {
			b.Fatal(err)
		}
		st.collect(evs)
		st.next++
		t = time.Now()
		c, evs, err := r.Enqueue(EnqueueRequest{Channel: ChannelVoice, Queue: o.queue, Caller: Caller{ID: fmt.Sprint("n", st.next)}})
		enqLat = append(enqLat, time.Since(t))
		if err != nil {
			b.Fatal(err)
		}
		st.collect(evs)
		if read {
			if v, err := r.Contact(c.ID); err != nil || v.Position < 1 {
				b.Fatalf("Contact(%s) = place %d, %v", c.ID, v.Position, err)
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/contact")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "contacts/s")
	b.ReportMetric(float64(p99(endLat).Microseconds()), "p99-end→offer-µs")
	b.ReportMetric(float64(p99(enqLat).Microseconds()), "p99-enqueue-µs")
}

// benchCallers is how many goroutines call the router at once in the
// parallel benchmark: a server has that many HTTP handlers and WebSocket
// readers in flight.
const benchCallers = 16

// BenchmarkRouteParallel is BenchmarkRouteSteadyState with benchCallers
// goroutines routing at once, each taking the next pending offer, as a
// server's concurrent handlers do. Concurrent writes are committed in
// groups (see Router.write), which is what this measures.
func BenchmarkRouteParallel(b *testing.B) {
	st := benchSetup(b)
	r := st.f.r
	var mu sync.Mutex // guards st.offers, st.next and the latencies
	var endLat, enqLat []time.Duration
	b.ReportAllocs()
	b.SetParallelism(max(1, benchCallers/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	cpu0 := cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		var ends, enqs []time.Duration
		for pb.Next() {
			mu.Lock()
			st.f.clock.Advance(benchStep)
			o := st.offers[0]
			st.offers = st.offers[1:]
			st.next++
			caller := fmt.Sprint("p", st.next)
			mu.Unlock()
			if _, err := r.Accept(o.agent, o.offer); err != nil {
				b.Error(err)
				return
			}
			t := time.Now()
			evs, err := r.End(o.agent, o.contact, "resolved", "")
			ends = append(ends, time.Since(t))
			if err != nil {
				b.Error(err)
				return
			}
			t = time.Now()
			_, evs2, err := r.Enqueue(EnqueueRequest{Channel: ChannelVoice, Queue: o.queue, Caller: Caller{ID: caller}})
			enqs = append(enqs, time.Since(t))
			if err != nil {
				b.Error(err)
				return
			}
			mu.Lock()
			st.collect(evs)
			st.collect(evs2)
			mu.Unlock()
		}
		mu.Lock()
		endLat = append(endLat, ends...)
		enqLat = append(enqLat, enqs...)
		mu.Unlock()
	})
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/contact")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "contacts/s")
	b.ReportMetric(float64(p99(endLat).Microseconds()), "p99-end→offer-µs")
	b.ReportMetric(float64(p99(enqLat).Microseconds()), "p99-enqueue-µs")
}

// BenchmarkEnqueueToOffer measures the enqueue → offer path itself: a free
// agent is waiting, so the Enqueue call matches and offers at once. The
// router still holds the 100,000 waiting contacts and 10,000 agents of the
// steady state; the free agents serve two extra queues of their own.
func BenchmarkEnqueueToOffer(b *testing.B) {
	st := benchSetup(b)
	r := st.f.r
	for i := range 2 {
		q := QueueConfig{ID: fmt.Sprint("fast.q", i), Agency: "fast", Channels: []Channel{ChannelChat}, Wrapup: -1}
		_, err := r.UpsertQueue(q)
		st.f.must(err)
		for a := range 25 {
			name := fmt.Sprintf("fast%d-%d", i, a)
			_, err := r.UpsertAgent(AgentProfile{Username: name, Queues: map[string]int{q.ID: 1}, MaxChats: 4})
			st.f.must(err)
			st.f.online(name)
		}
	}
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		st.f.clock.Advance(benchStep)
		st.next++
		t := time.Now()
		c, evs, err := r.Enqueue(EnqueueRequest{Channel: ChannelChat, Queue: fmt.Sprint("fast.q", i%2),
			Caller: Caller{ID: fmt.Sprint("f", st.next)}})
		lat = append(lat, time.Since(t))
		if err != nil {
			b.Fatal(err)
		}
		o := offerEvent(evs, c.ID)
		if o == nil {
			b.Fatalf("enqueue %d made no offer", i)
		}
		if _, err := r.Accept(o.Agent, o.OfferID); err != nil {
			b.Fatal(err)
		}
		if _, err := r.End(o.Agent, c.ID, "resolved", ""); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(p99(lat).Microseconds()), "p99-enqueue→offer-µs")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-enqueue→offer-µs")
}

// BenchmarkMemdbWriteTxn is the ceiling: one go-memdb write transaction per
// iteration inserting one contact row under the router's schema (all its
// indexes), with no routing logic.
func BenchmarkMemdbWriteTxn(b *testing.B) {
	db, err := memdb.NewMemDB(schema())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		c := &contactRow{ID: fmt.Sprint("ct", i), CaseID: fmt.Sprint("cs", i), Queue: fmt.Sprint("q", i%benchQueues),
			Channel: ChannelVoice, Caller: Caller{ID: fmt.Sprint("c", i)}, Seq: uint64(i), Status: StatusQueued}
		c.Rank = c.computeRank(0)
		txn := db.Txn(true)
		if err := txn.Insert(tableContacts, c); err != nil {
			b.Fatal(err)
		}
		txn.Commit()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "txn/s")
}

// BenchmarkEnqueueLongLine is one new caller joining the back of a long
// line (no agents, so nobody leaves it): the enqueue counts the caller's
// position inside the router's write, so its cost must not grow with the
// line. The line grows by one per iteration.
func BenchmarkEnqueueLongLine(b *testing.B) {
	for _, n := range []int{100, 10_000, 50_000} {
		b.Run(fmt.Sprintf("waiting=%d", n), func(b *testing.B) {
			f := newFixture(b, []QueueConfig{queue("q")}, nil)
			f.r.sink = nil
			for i := range n {
				f.enqueue("q", fmt.Sprint("pre", i))
			}
			b.ResetTimer()
			for i := range b.N {
				if v := f.enqueue("q", fmt.Sprint("c", i)); v.Position != n+i+1 {
					b.Fatalf("position %d; want %d", v.Position, n+i+1)
				}
			}
		})
	}
}

// BenchmarkPositionLongLine reads a waiting contact's place on a snapshot
// (GET /v1/contacts/{id}, a citizen's socket opening) in a line of n:
// the newest caller at the back, as in a surge, and one in the middle.
//
//	go test -run '^$' -bench PositionLongLine -benchtime 2000x ./router/
func BenchmarkPositionLongLine(b *testing.B) {
	for _, n := range []int{100, 10_000, 50_000} {
		f := newFixture(b, []QueueConfig{queue("q")}, nil)
		f.r.sink = nil
		ids := make([]string, n)
		for i := range n {
			ids[i] = f.enqueue("q", fmt.Sprint("c", i)).ID
		}
		for _, at := range []struct {
			name string
			i    int
		}{{"back", n - 1}, {"three-quarters", n * 3 / 4}, {"middle", n / 2}} {
			b.Run(fmt.Sprintf("waiting=%d/%s", n, at.name), func(b *testing.B) {
				for range b.N {
					if p, err := f.r.Position(ids[at.i]); err != nil || p != at.i+1 {
						b.Fatalf("position %d (%v); want %d", p, err, at.i+1)
					}
				}
			})
		}
	}
}

// BenchmarkPositionCrowd reads the places of 500 contacts spread over a
// line of 20,000, all at once, as the chat pages of a whole line do after
// a restart (GET /v1/contacts/{id} before reconnecting).
//
//	go test -run '^$' -bench PositionCrowd -benchtime 20x ./router/
func BenchmarkPositionCrowd(b *testing.B) {
	const line, crowd = 20_000, 500
	f := newFixture(b, []QueueConfig{queue("q")}, nil)
	f.r.sink = nil
	ids := make([]string, line)
	for i := range line {
		ids[i] = f.enqueue("q", fmt.Sprint("c", i)).ID
	}
	b.ResetTimer()
	for range b.N {
		var wg sync.WaitGroup
		for k := range crowd {
			i := k * (line / crowd)
			wg.Go(func() {
				if p, err := f.r.Position(ids[i]); err != nil || p != i+1 {
					b.Errorf("position %d (%v); want %d", p, err, i+1)
				}
			})
		}
		wg.Wait()
	}
}
