package web

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"tellonce/directory"
	"tellonce/router"
	"tellonce/sql/sqltest"
	"tellonce/stats"
	"tellonce/switchboard"
)

// guard bounds every wait for a stream event: a guard against a hang, not
// a timing assumption (everything awaited has already been sent).
const guard = 20 * time.Second

var statsRoles = []struct {
	path string
	want map[string]int
}{
	// Columns:                                          admin  sup    oSup   agent  oAgent gateway
	{"/v1/stats/queues", codes(ok200, ok200, ok200, ok200, ok200, no403)},
	{"/v1/stats/queues?agency=gov110", codes(ok200, ok200, no403, ok200, no403, no403)},
	{"/v1/stats/queues/history", codes(ok200, ok200, ok200, no403, no403, no403)},
	{"/v1/stats/queues/history?agency=gov110", codes(ok200, ok200, no403, no403, no403, no403)},
	{"/v1/stats/queues/history?queue=gov110.general", codes(ok200, ok200, no403, no403, no403, no403)},
	{"/v1/stats/agents", codes(ok200, ok200, ok200, no403, no403, no403)},
	{"/v1/stats/agents?agency=gov110", codes(ok200, ok200, no403, no403, no403, no403)},
	{"/v1/stats/stream", codes(ok200, ok200, ok200, ok200, ok200, no403)},
	{"/v1/stats/stream?agency=gov110", codes(ok200, ok200, no403, ok200, no403, no403)},
}

func TestStatsRoles(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newHarness(t, b)
		for _, row := range statsRoles {
			for _, as := range everyone {
				want := row.want[as]
				if strings.HasPrefix(row.path, "/v1/stats/stream") {
					s := h.openStream(t, as, row.path)
					if s.status != want {
						t.Errorf("GET %s as %s = %d; want %d", row.path, who(as), s.status, want)
					}
					s.close()
					continue
				}
				r := h.do(http.MethodGet, row.path, as, nil)
				if want == ok200 {
					r.wantStatus(t, want)
				} else {
					r.wantError(t, want, map[int]string{401: codeUnauthorized, 403: codeForbidden}[want], "")
				}
			}
		}
		// The public status needs no login, and a login changes nothing.
		for _, as := range everyone {
			h.do(http.MethodGet, "/v1/status", as, nil).wantStatus(t, ok200)
		}
	})
}

// queueStatsOf reads GET /v1/stats/queues as as, by queue id.
func (h *harness) queueStatsOf(t *testing.T, as string) map[string]stats.QueueStats {
	t.Helper()
	var page listPage[stats.QueueStats]
	r := h.do(http.MethodGet, "/v1/stats/queues", as, nil)
	if !r.wantStatus(t, ok200) || !r.decode(t, &page) {
		t.FailNow()
	}
	out := map[string]stats.QueueStats{}
	for _, q := range page.Items {
		out[q.Queue] = q
	}
	return out
}

// online connects agent in the router and makes them available, as their
// console would.
func (h *harness) online(t *testing.T, agent string) {
	t.Helper()
	if _, _, err := h.router.Connect(agent); err != nil {
		t.Fatal(err)
	}
	if _, err := h.router.SetState(agent, router.StateAvailable, ""); err != nil {
		t.Fatal(err)
	}
}

func TestStatsQueuesAndAgents(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newHarness(t, b)
		h.online(t, asAgent)
		// Three chats go to the agent (max_chats 3), the next two wait.
		for _, caller := range []string{"c1", "c2", "c3", "c4", "c5"} {
			h.chat(t, "gov110.general", caller)
		}
		h.clock.Advance(5 * time.Second) // and the figures are computed afresh

		got := h.queueStatsOf(t, asSup)
		if len(got) != 1 {
			t.Errorf("supervisor of gov110 sees %d queues; want 1 (own agency only)", len(got))
		}
		q := got["gov110.general"]
		if q.Agency != "gov110" || q.Name != "Queue general" || q.Waiting != 2 || q.LongestWaitS != 5 ||
			q.Agents.Busy != 1 || q.Agents.Available != 0 || q.Today.Offered != 5 {
			t.Errorf("gov110.general = %+v; want 5 offered, 2 waiting for 5 s, 1 busy agent", q)
		}
		// A 180 s prior handle time plus the 10 s default wrap-up, one
		// agent with 3 chat slots (all arrivals are chats): position 3
		// waits 3 × 190 s / 3 = 190 s.
		if q.EstimatedWaitS == nil || *q.EstimatedWaitS != 190 || q.Light != "red" || q.Label != "혼잡" {
			t.Errorf("estimate %s s %s %s; want 190 s, red, 혼잡", numOf(q.EstimatedWaitS), q.Light, q.Label)
		}
		if all := h.queueStatsOf(t, asAdmin); len(all) != 2 {
			t.Errorf("admin sees %d queues; want 2", len(all))
		}

		var agents listPage[stats.AgentStats]
		r := h.do(http.MethodGet, "/v1/stats/agents", asSup, nil)
		if !r.wantStatus(t, ok200) || !r.decode(t, &agents) {
			return
		}
		if len(agents.Items) != 1 || agents.Items[0].Username != asAgent || agents.Items[0].State != "busy" ||
			agents.Items[0].Chats != 3 || !agents.Items[0].Connected || agents.Items[0].TimeInStateS != 5 {
			t.Errorf("gov110 agents = %+v; want %s busy with three chats for 5 s", agents.Items, asAgent)
		}
	})
}

func TestContactsCarryTheEstimate(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newHarness(t, b)
		// Nobody staffs the queue: the estimate is the cap, and red.
		r := h.do(http.MethodPost, "/v1/contacts", asAnon, map[string]any{
			"channel": "chat", "queue": "gov110.general", "caller": map[string]string{"id": "c1"}})
		var st contactStatus
		if !r.wantStatus(t, new201) || !r.decode(t, &st) {
			return
		}
		if st.EstimatedWaitS == nil || *st.EstimatedWaitS != 3600 || st.Light != "red" {
			t.Errorf("POST /v1/contacts with nobody staffed: estimated_wait_s %v, light %q; want 3600, red", st.EstimatedWaitS, st.Light)
		}
	})
}

func TestPublicStatus(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newHarness(t, b)
		hidden := h.freshQueue("gov110")
		no := false
		if _, err := h.dir.UpdateQueue(h.ctx(), hidden, directory.QueueSettings{Public: &no}); err != nil {
			t.Fatal(err)
		}
		if err := switchboard.New(h.router, instantDurability{}, h.dir).SyncQueue(h.ctx(), must(h.dir.GetQueue(h.ctx(), hidden))); err != nil {
			t.Fatal(err)
		}
		h.online(t, asAgent)
		h.clock.Advance(time.Second)

		before := h.stats.Computations()
		r := h.do(http.MethodGet, "/v1/status", asAnon, nil)
		r2 := h.do(http.MethodGet, "/v1/status", asAnon, nil)
		if n := h.stats.Computations() - before; n != 1 {
			t.Errorf("two calls within a second computed %d times; want 1", n)
		}
		if string(r.body) != string(r2.body) {
			t.Errorf("two calls within a second differ:\n  %s\n  %s", r.body, r2.body)
		}
		if cc := r.header.Get("Cache-Control"); cc != "public, max-age=1" {
			t.Errorf("Cache-Control %q; want public, max-age=1", cc)
		}
		var items []stats.PublicQueue
		if !r.wantStatus(t, ok200) || !r.decode(t, &items) {
			return
		}
		want := map[string]string{"gov110.general": "green 원활 0", "nts126.tax": "red 혼잡 null"}
		if len(items) != len(want) {
			t.Errorf("status lists %d queues; want %d (public only): %s", len(items), len(want), r.body)
		}
		for _, it := range items {
			wait := "null"
			if it.EstimatedWaitS != nil {
				wait = strings.TrimSpace(string(must(json.Marshal(*it.EstimatedWaitS))))
			}
			if got := it.Light + " " + it.Label + " " + wait; got != want[it.Queue] || it.Agency == "" || it.Name == "" {
				t.Errorf("status of %s = %q (agency %q, name %q); want %q", it.Queue, got, it.Agency, it.Name, want[it.Queue])
			}
		}
		// A second later the figures are computed again.
		h.clock.Advance(time.Second)
		h.do(http.MethodGet, "/v1/status", asAnon, nil)
		if n := h.stats.Computations() - before; n != 2 {
			t.Errorf("a call a second later: %d computations in all; want 2", n)
		}
	})
}

func TestStatsMetrics(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newHarness(t, b)
		h.chat(t, "gov110.general", "c1")
		h.clock.Advance(time.Second)
		body := string(h.do(http.MethodGet, "/metrics", asAnon, nil).body)
		for _, want := range []string{
			`tellonce_queue_waiting{agency="gov110",queue="gov110.general"} 1`,
			`tellonce_queue_agents{agency="gov110",queue="gov110.general",state="offline"} 1`,
			`tellonce_queue_light{agency="gov110",queue="gov110.general"} 2`,
			`tellonce_queue_staffed_agents{agency="nts126",queue="nts126.tax"} 0`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
		// Figures that start again at midnight are the API's, not gauges.
		if strings.Contains(body, "tellonce_queue_today_") {
			t.Error("/metrics exports a today gauge")
		}
	})
}

func numOf(p *int) string {
	if p == nil {
		return "null"
	}
	return strconv.Itoa(*p)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// stream is an open GET of the statistics stream.
type stream struct {
	status int
	res    *http.Response
	events chan sse // closed when the stream ends
}

// sse is one server-sent event; a heartbeat comment has kind "heartbeat".
type sse struct {
	kind string
	data string
}

// openStream opens the stream as as; a refusal is read whole.
func (h *harness) openStream(t *testing.T, as, path string) *stream {
	t.Helper()
	return openStreamAt(t, h.client, h.ts.URL, h.tokens[as], path)
}

func openStreamAt(t *testing.T, client *http.Client, base, token, path string) *stream {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	s := &stream{status: res.StatusCode, res: res, events: make(chan sse, 1024)}
	if res.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		close(s.events)
		return s
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Errorf("GET %s: Content-Type %q; want text/event-stream", path, ct)
	}
	go s.read()
	return s
}

func (s *stream) read() {
	defer close(s.events)
	sc := bufio.NewScanner(s.res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	var ev sse
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if ev.kind != "" {
				s.events <- ev
			}
			ev = sse{}
		case strings.HasPrefix(line, ":"):
			ev.kind = "heartbeat"
		case strings.HasPrefix(line, "event: "):
			ev.kind = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			ev.data = strings.TrimPrefix(line, "data: ")
		}
	}
}

// next returns the next event, failing the test if none comes.
func (s *stream) next(t *testing.T) sse {
	t.Helper()
	select {
	case ev, ok := <-s.events:
		if !ok {
			t.Fatal("the stream ended")
		}
		return ev
	case <-time.After(guard):
		t.Fatal("no stream event")
	}
	return sse{}
}

// ended waits until the stream has ended.
func (s *stream) ended(t *testing.T) {
	t.Helper()
	deadline := time.After(guard)
	for {
		select {
		case _, ok := <-s.events:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("the stream did not end")
		}
	}
}

// none checks that no event is waiting (everything sent is read before
// the check: the caller has just awaited a later one or sent nothing).
func (s *stream) none(t *testing.T, what string) {
	t.Helper()
	select {
	case ev := <-s.events:
		t.Errorf("%s: got event %+v; want none", what, ev)
	default:
	}
}

func (s *stream) close() {
	if s.res != nil {
		s.res.Body.Close()
	}
}

// queuesOf decodes a "queues" event.
func queuesOf(t *testing.T, ev sse) map[string]stats.QueueStats {
	t.Helper()
	if ev.kind != "queues" {
		t.Fatalf("event %q; want queues", ev.kind)
	}
	var msg struct {
		At     time.Time          `json:"at"`
		Queues []stats.QueueStats `json:"queues"`
	}
	if err := json.Unmarshal([]byte(ev.data), &msg); err != nil {
		t.Fatalf("queues event: %v\n%s", err, ev.data)
	}
	out := map[string]stats.QueueStats{}
	for _, q := range msg.Queues {
		out[q.Queue] = q
	}
	return out
}

func TestStatsStream(t *testing.T) {
	h := newHarness(t, sqltest.Open(t, "sqlite"))
	all := h.openStream(t, asAdmin, "/v1/stats/stream")
	own := h.openStream(t, asSup, "/v1/stats/stream")
	mine := h.openStream(t, asAgent, "/v1/stats/stream")
	other := h.openStream(t, asOtherSup, "/v1/stats/stream")
	defer func() {
		for _, s := range []*stream{all, own, mine, other} {
			s.close()
		}
	}()
	// Each starts with the current figures, filtered by agency.
	for _, c := range []struct {
		s    *stream
		want int
	}{{all, 2}, {own, 1}, {mine, 1}, {other, 1}} {
		if got := queuesOf(t, c.s.next(t)); len(got) != c.want {
			t.Errorf("first event has %d queues; want %d", len(got), c.want)
		}
	}

	// A change in gov110: one computation for every watcher, and only
	// gov110's watchers (and the admin's) hear of it.
	h.chat(t, "gov110.general", "c1")
	h.clock.Advance(time.Second)
	before := h.stats.Computations()
	h.stats.Tick()
	h.stats.Tick() // within the same second: nothing new
	if n := h.stats.Computations() - before; n != 1 {
		t.Errorf("two ticks for 4 watchers computed %d times; want 1", n)
	}
	for _, s := range []*stream{all, own, mine} {
		if q := queuesOf(t, s.next(t))["gov110.general"]; q.Waiting != 1 {
			t.Errorf("update: gov110.general waiting %d; want 1", q.Waiting)
		}
	}
	// Nothing changed for nts126: a second later the other supervisor
	// still hears nothing (the first event after its queue list is the
	// heartbeat below).
	h.clock.Advance(time.Second)
	h.stats.Tick()
	for _, s := range []*stream{all, own, mine} {
		if q := queuesOf(t, s.next(t))["gov110.general"]; q.LongestWaitS != 2 {
			t.Errorf("update: longest wait %d; want 2", q.LongestWaitS)
		}
	}

	// Fifteen seconds without a change: a heartbeat.
	h.clock.Advance(15 * time.Second)
	h.stats.Tick()
	if ev := other.next(t); ev.kind != "heartbeat" {
		t.Errorf("after 15 s without change: event %q; want a heartbeat", ev.kind)
	}
	other.none(t, "after the heartbeat")
	if h.stats.Watchers() != 4 {
		t.Errorf("%d watchers; want 4", h.stats.Watchers())
	}
}

func TestStatsStreamDropsSlowWatchers(t *testing.T) {
	h := newHarness(t, sqltest.Open(t, "sqlite"))
	// Small socket buffers on both sides, so that a reader who stops
	// reading blocks the server's writes after a few updates.
	const small = 4 << 10
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h.server.Handler()}
	go func() { _ = srv.Serve(smallBuffers{ln, small}) }()
	t.Cleanup(func() { srv.Close() })
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil {
			err = c.(*net.TCPConn).SetReadBuffer(small)
		}
		return c, err
	}}}
	base := "http://" + ln.Addr().String()

	h.chat(t, "gov110.general", "c1") // the longest wait changes every second
	slow := openStreamAt(t, client, base, h.tokens[asAdmin], "/v1/stats/stream")
	defer slow.close()
	fast := openStreamAt(t, client, base, h.tokens[asSup], "/v1/stats/stream")
	defer fast.close()
	fast.next(t)
	slow.next(t) // then never read again

	ticks := 0
	for ; h.stats.Dropped() == 0; ticks++ {
		if ticks == 10_000 {
			t.Fatal("the slow watcher was never dropped")
		}
		h.clock.Advance(time.Second)
		h.stats.Tick()
		fast.next(t) // the fast watcher keeps up
	}
	t.Logf("the slow watcher was dropped after %d updates", ticks)
	if h.stats.Watchers() != 1 {
		t.Errorf("%d watchers after the drop; want 1 (the fast one)", h.stats.Watchers())
	}
	slow.close() // the server's pending write fails; its handler ends
	h.clock.Advance(time.Second)
	h.stats.Tick()
	fast.next(t)
}

// smallBuffers gives every accepted connection a small send buffer.
type smallBuffers struct {
	net.Listener
	size int
}

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		err = c.(*net.TCPConn).SetWriteBuffer(l.size)
	}
	return c, err
}

func TestStatsStreamEndsOnShutdown(t *testing.T) {
	h := newHarness(t, sqltest.Open(t, "sqlite"))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- h.server.Serve(ctx, ln) }()
	s := openStreamAt(t, &http.Client{}, "http://"+ln.Addr().String(), h.tokens[asSup], "/v1/stats/stream")
	defer s.close()
	if s.status != http.StatusOK {
		t.Fatalf("stream status %d", s.status)
	}
	s.next(t)
	cancel()
	s.ended(t)
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve = %v; want a clean stop", err)
		}
	case <-time.After(guard):
		t.Fatal("Serve did not return: the stream held the shutdown")
	}
}
