package loadgen

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/common/model"
	"golang.org/x/sync/errgroup"
)

// The socket drill (Config.Sockets, RunSockets) measures what holding
// sockets open costs the server: it reads the server's memory before the
// agents connect, after, after the idle citizens' chats are posted and
// after their sockets open; the server's CPU over a quiet stretch with
// every socket open; then it drives the contacts as Drive does, every
// socket still open, and counts the sockets the server closed.

// Sample is one reading of the server's own figures from /metrics.
type Sample struct {
	At         time.Time
	RSS        float64 // process_resident_memory_bytes
	HeapInuse  float64 // go_memstats_heap_inuse_bytes
	StackInuse float64 // go_memstats_stack_inuse_bytes
	// HeapGoal is the heap size the collector lets the heap reach before
	// the next collection, set at the end of the last one from the heap it
	// found live: unlike RSS and HeapInuse it counts no garbage and no
	// memory freed but not yet returned, so its difference is steady.
	HeapGoal   float64 // go_memstats_next_gc_bytes
	Goroutines float64 // go_goroutines
	CPUSeconds float64 // process_cpu_seconds_total
}

// SocketsReport is what the socket drill measured.
type SocketsReport struct {
	Agents, Citizens int
	// Before agents connect, after, after the citizens' chats were posted
	// and after their sockets opened; after the contact phase.
	Before, AgentsOpen, ChatsPosted, CitizensOpen, AfterLoad Sample
	// Collected: the server collected its garbage and returned freed
	// memory before each settled reading (Config.DebugURL).
	Collected bool
	// IdleCPU is the server's CPU seconds per second over Idle.
	IdleCPU float64
	Idle    time.Duration
	// LostAgents and LostCitizens count sockets the server closed before
	// the drill ended (none should be).
	LostAgents, LostCitizens int
	// Load is the contact phase's report.
	Load Report
	// Setup, Posting, Opening: how long the agents' setup, the citizens'
	// chats and their sockets took.
	Setup, Posting, Opening time.Duration
	Errors                  map[string]int
}

// OK: no socket lost, no error, every contact served.
func (r SocketsReport) OK() bool {
	return r.LostAgents == 0 && r.LostCitizens == 0 && len(r.Errors) == 0 && r.Load.OK()
}

// idleCitizen is one held citizen socket.
type idleCitizen struct {
	contactID, token string
	src              net.IP
	ws               *websocket.Conn
	done             chan struct{}
}

// RunSockets runs the socket drill: Setup (reading the server before the
// agents connect), the idle citizens, the quiet stretch, Drive, and Close.
func RunSockets(ctx context.Context, cfg Config) (SocketsReport, error) {
	var rep SocketsReport
	cfg.Sockets = true
	cfg, err := cfg.withDefaults()
	if err != nil {
		return rep, err
	}
	base, v4, err := checkLoopback(cfg.URL)
	if err != nil {
		return rep, fmt.Errorf("loadgen: %w", err)
	}
	if cfg.MetricsURL == "" {
		cfg.MetricsURL = base + "/metrics"
	}
	p := &metricsProbe{url: cfg.MetricsURL, token: cfg.MetricsToken, debug: cfg.DebugURL, hc: &http.Client{Timeout: 30 * time.Second}}
	if _, err := p.sample(ctx); err != nil { // fail before any setup
		return rep, fmt.Errorf("loadgen: %w", err)
	}
	rep.Agents, rep.Citizens, rep.Idle, rep.Collected = cfg.Agents, cfg.IdleCitizens, cfg.Idle, cfg.DebugURL != ""
	rep.Errors = map[string]int{}
	var beforeErr error
	cfg.beforeConnect = func(ctx context.Context) {
		rep.Before, beforeErr = p.settled(ctx, cfg.Settle)
	}
	f, err := Setup(ctx, cfg)
	if err != nil {
		return rep, err
	}
	rep.Setup = f.setupTime
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		_ = f.Close(cctx)
	}()
	if beforeErr != nil {
		return rep, beforeErr
	}
	if rep.AgentsOpen, err = p.settled(ctx, cfg.Settle); err != nil {
		return rep, err
	}

	h := &holder{f: f, base: base, v4: v4, lost: &atomic.Int64{}}
	defer h.release(context.WithoutCancel(ctx))
	start := time.Now()
	if err := h.post(ctx, cfg.IdleCitizens); err != nil {
		return rep, err
	}
	rep.Posting = time.Since(start)
	if rep.ChatsPosted, err = p.settled(ctx, cfg.Settle); err != nil {
		return rep, err
	}
	start = time.Now()
	if err := h.open(ctx); err != nil {
		return rep, err
	}
	rep.Opening = time.Since(start)
	if rep.CitizensOpen, err = p.settled(ctx, cfg.Settle); err != nil {
		return rep, err
	}

	// The quiet stretch: every socket open, no contacts, only heartbeats.
	f.progressFor("idle", cfg.Idle)
	idle0, err := p.sample(ctx)
	if err != nil {
		return rep, err
	}
	if err := sleepCtx(ctx, cfg.Idle); err != nil {
		return rep, err
	}
	idle1, err := p.sample(ctx)
	if err != nil {
		return rep, err
	}
	if el := idle1.At.Sub(idle0.At).Seconds(); el > 0 {
		rep.IdleCPU = (idle1.CPUSeconds - idle0.CPUSeconds) / el
	}

	rep.Load, err = f.Drive(ctx, cfg.Load())
	if err != nil {
		return rep, err
	}
	if rep.AfterLoad, err = p.sample(ctx); err != nil {
		return rep, err
	}
	const agentLost = "agent socket closed by the server"
	rep.LostAgents = rep.Load.Errors[agentLost]
	f.mu.Lock()
	rep.LostAgents += f.errs[agentLost]
	for k, n := range f.errs {
		rep.Errors[k] += n
	}
	f.mu.Unlock()
	rep.LostCitizens = int(h.lost.Load())
	return rep, nil
}

// holder holds the idle citizens' chats and sockets.
type holder struct {
	f        *Fleet
	base     string
	v4       bool
	citizens []*idleCitizen
	lost     *atomic.Int64
	closing  atomic.Bool
}

// post makes n chats in the hold queues, each from its citizen's
// source address (Config.CitizensPerAddr share one), in a /16 of their own.
func (h *holder) post(ctx context.Context, n int) error {
	f := h.f
	a, b := loopbackBlock()
	h.citizens = make([]*idleCitizen, n)
	per := f.cfg.CitizensPerAddr
	groups := (n + per - 1) / per
	var done atomic.Int64
	start := time.Now()
	f.report(Progress{Phase: "post chats", Total: n})
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(f.cfg.Concurrency, 32))
	for k := range groups {
		g.Go(func() error {
			var src net.IP
			if h.v4 {
				src = sourceAddr(a, b, k)
			}
			o := newOrigin(src, 1)
			defer o.hc.CloseIdleConnections()
			cl := &client{base: h.base, hc: o.hc}
			for i := k * per; i < min((k+1)*per, n); i++ {
				var out struct {
					ContactID    string `json:"contact_id"`
					CitizenToken string `json:"citizen_token"`
				}
				body := map[string]any{
					"channel": "chat", "queue": f.holdQueues[i/citizensPerHoldQueue],
					"caller":  map[string]string{"id": fmt.Sprintf("%s-idle%d", f.agency, i+1), "name": "loadgen citizen", "language": "ko"},
					"context": map[string]any{"summary": "loadgen idle citizen"},
				}
				if err := cl.do(gctx, http.MethodPost, contactPath, body, &out); err != nil {
					return fmt.Errorf("post idle chat %d: %w", i+1, err)
				}
				h.citizens[i] = &idleCitizen{contactID: out.ContactID, token: out.CitizenToken, src: src}
				f.report(Progress{Phase: "post chats", Done: int(done.Add(1)), Total: n, Elapsed: time.Since(start)})
			}
			return nil
		})
	}
	return g.Wait()
}

// open opens every idle citizen's socket and reads its first frame; a
// reader per socket then keeps it (gorilla answers the server's pings)
// and counts it lost if the server closes it.
func (h *holder) open(ctx context.Context) error {
	f := h.f
	var done atomic.Int64
	start := time.Now()
	n := len(h.citizens)
	f.report(Progress{Phase: "open sockets", Total: n})
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(f.cfg.Concurrency, 32))
	for _, c := range h.citizens {
		g.Go(func() error {
			nd := &net.Dialer{Timeout: answerTimeout}
			if c.src != nil {
				nd.LocalAddr = &net.TCPAddr{IP: c.src}
			}
			d := websocket.Dialer{NetDialContext: nd.DialContext, HandshakeTimeout: answerTimeout,
				ReadBufferSize: 1 << 10, WriteBufferSize: 256}
			path := contactPath + "/" + url.PathEscape(c.contactID) + "/ws?token=" + url.QueryEscape(c.token)
			ws, resp, err := d.DialContext(gctx, wsURL(h.base, path), http.Header{})
			if err != nil {
				if resp != nil {
					err = fmt.Errorf("%w (HTTP %s)", err, resp.Status)
				}
				return fmt.Errorf("open idle citizen %s's socket: %w", c.contactID, err)
			}
			_ = ws.SetReadDeadline(time.Now().Add(answerTimeout))
			_, data, err := ws.ReadMessage()
			if err != nil || !strings.Contains(string(data), `"queued"`) {
				ws.Close()
				return fmt.Errorf("idle citizen %s: the first frame is not queued: %v %.100s", c.contactID, err, data)
			}
			_ = ws.SetReadDeadline(time.Time{})
			c.ws, c.done = ws, make(chan struct{})
			go h.hold(c)
			f.report(Progress{Phase: "open sockets", Done: int(done.Add(1)), Total: n, Elapsed: time.Since(start)})
			return nil
		})
	}
	return g.Wait()
}

// hold reads one idle socket until it closes.
func (h *holder) hold(c *idleCitizen) {
	defer close(c.done)
	for {
		if _, _, err := c.ws.NextReader(); err != nil {
			if !h.closing.Load() {
				h.lost.Add(1)
			}
			return
		}
	}
}

// release closes the idle sockets and takes the chats out of their
// lines, as citizens who gave up (best effort, bounded in time).
func (h *holder) release(ctx context.Context) {
	h.closing.Store(true)
	for _, c := range h.citizens {
		if c != nil && c.ws != nil {
			_ = c.ws.Close()
			<-c.done
		}
	}
	ctx, cancel := context.WithTimeout(ctx, cleanupTimeout)
	defer cancel()
	var g errgroup.Group
	g.SetLimit(32)
	cl := &client{base: h.base, hc: h.f.mainOrigin.hc}
	for _, c := range h.citizens {
		if c == nil {
			continue
		}
		g.Go(func() error {
			_ = cl.do(ctx, http.MethodDelete, contactPath+"/"+c.contactID+"?token="+url.QueryEscape(c.token), nil, nil)
			return nil
		})
	}
	_ = g.Wait()
}

// progressFor reports a phase that only waits.
func (f *Fleet) progressFor(phase string, d time.Duration) {
	f.report(Progress{Phase: phase, Total: int(d.Seconds())})
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// metricsProbe reads the server's /metrics.
type metricsProbe struct {
	url, token string
	debug      string // the server's debug address, or ""
	hc         *http.Client
}

// settled waits d, has the server collect its garbage when its debug
// address is known, then samples.
func (p *metricsProbe) settled(ctx context.Context, d time.Duration) (Sample, error) {
	if err := sleepCtx(ctx, d); err != nil {
		return Sample{}, err
	}
	if p.debug != "" {
		if err := p.collect(ctx); err != nil {
			return Sample{}, err
		}
	}
	return p.sample(ctx)
}

// collect has the server run a garbage collection and return the memory
// it freed to the system (POST /debug/free-os-memory on its debug
// address).
func (p *metricsProbe) collect(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(p.debug, "/")+"/debug/free-os-memory", nil)
	if err != nil {
		return fmt.Errorf("collect the server's garbage: %w", err)
	}
	resp, err := p.hc.Do(req)
	if err != nil {
		return fmt.Errorf("collect the server's garbage: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("collect the server's garbage at %s: %s", p.debug, resp.Status)
	}
	return nil
}

// scrape reads the server's /metrics and hands the body to parse.
func (p *metricsProbe) scrape(ctx context.Context, parse func(io.Reader) error) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url, nil)
	if err != nil {
		return err
	}
	if p.token != "" {
		req.Header.Set("Authorization", "Bearer "+p.token)
	}
	resp, err := p.hc.Do(req)
	if err != nil {
		return fmt.Errorf("read the server's metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return fmt.Errorf("read the server's metrics at %s: %s (a --metrics-token?)", p.url, resp.Status)
	}
	if err := parse(resp.Body); err != nil {
		return fmt.Errorf("read the server's metrics at %s: %w", p.url, err)
	}
	return nil
}

func (p *metricsProbe) sample(ctx context.Context) (Sample, error) {
	var s Sample
	err := p.scrape(ctx, func(r io.Reader) (err error) {
		s, err = parseSample(r)
		return err
	})
	if err != nil {
		return Sample{}, err
	}
	s.At = time.Now()
	return s, nil
}

// parseSample picks the figures a Sample holds out of Prometheus's text
// format; every one of them must be there, unlabelled.
func parseSample(r io.Reader) (Sample, error) {
	var s Sample
	want := map[string]*float64{
		"process_resident_memory_bytes": &s.RSS,
		"go_memstats_heap_inuse_bytes":  &s.HeapInuse,
		"go_memstats_stack_inuse_bytes": &s.StackInuse,
		"go_memstats_next_gc_bytes":     &s.HeapGoal,
		"go_goroutines":                 &s.Goroutines,
		"process_cpu_seconds_total":     &s.CPUSeconds,
	}
	samples, err := parseExposition(r)
	if err != nil {
		return s, err
	}
	for _, smp := range samples {
		if len(smp.Metric) != 1 { // labels besides the name: another series
			continue
		}
		name := string(smp.Metric[model.MetricNameLabel])
		if dst, ok := want[name]; ok {
			*dst = float64(smp.Value)
			delete(want, name)
		}
	}
	if len(want) > 0 {
		missing := slices.Sorted(maps.Keys(want))
		return s, fmt.Errorf("missing %s", strings.Join(missing, ", "))
	}
	return s, nil
}

// Print writes the drill's figures, then the contact phase's report.
func (r SocketsReport) Print(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "socket drill: %d agent sockets, %d idle citizen sockets\n", r.Agents, r.Citizens)
	fmt.Fprintf(&b, "setup %s, chats posted in %s, citizen sockets opened in %s\n\n",
		r.Setup.Round(time.Millisecond), r.Posting.Round(time.Millisecond), r.Opening.Round(time.Millisecond))
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "server\tRSS MiB\theap MiB\tstacks MiB\theap goal MiB\tgoal+stacks MiB\tgoroutines\t")
	for _, row := range []struct {
		name string
		s    Sample
	}{
		{"before the agents connect", r.Before},
		{"agents connected", r.AgentsOpen},
		{"citizens' chats posted", r.ChatsPosted},
		{"citizens' sockets open", r.CitizensOpen},
		{"after the contacts", r.AfterLoad},
	} {
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.0f\t\n", row.name, row.s.RSS/(1<<20), row.s.HeapInuse/(1<<20),
			row.s.StackInuse/(1<<20), row.s.HeapGoal/(1<<20), (row.s.HeapGoal+row.s.StackInuse)/(1<<20), row.s.Goroutines)
	}
	fmt.Fprintln(tw, "\t\t\t\t\t\t\t")
	fmt.Fprintln(tw, "per socket\tRSS KiB\theap KiB\tstacks KiB\theap goal KiB\tgoal+stacks KiB\tgoroutines\t")
	per := func(name string, a, b Sample, n int) {
		if n == 0 {
			return
		}
		k := float64(n) * 1024
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.2f\t\n", name, (b.RSS-a.RSS)/k, (b.HeapInuse-a.HeapInuse)/k,
			(b.StackInuse-a.StackInuse)/k, (b.HeapGoal-a.HeapGoal)/k,
			(b.HeapGoal+b.StackInuse-a.HeapGoal-a.StackInuse)/k, (b.Goroutines-a.Goroutines)/float64(n))
	}
	per("idle agent socket", r.Before, r.AgentsOpen, r.Agents)
	per("waiting chat (no socket)", r.AgentsOpen, r.ChatsPosted, r.Citizens)
	per("idle citizen socket", r.ChatsPosted, r.CitizensOpen, r.Citizens)
	tw.Flush()
	if r.Collected {
		fmt.Fprintf(&b, "\n(each reading after the server collected its garbage and returned freed memory to the system:\n"+
			"RSS differences are what the sockets hold; heap goal + stacks what they may cost with the collector's headroom)\n")
	} else {
		fmt.Fprintf(&b, "\n(RSS differences count the garbage and freed memory the server held at each reading, which move\n"+
			"between runs; --debug-url has it collect and return them first)\n")
	}
	fmt.Fprintf(&b, "\nserver CPU at idle: %.1f%% of one core over %s\n", 100*r.IdleCPU, r.Idle)
	fmt.Fprintf(&b, "sockets lost: %d agents, %d citizens\n\n", r.LostAgents, r.LostCitizens)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	if r.Load.Load.Contacts == 0 { // the drill stopped before its contacts
		return nil
	}
	return r.Load.Print(w)
}
