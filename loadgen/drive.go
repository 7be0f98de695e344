package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// contact is one posted contact's record, keyed by its caller id.
type contact struct {
	queue     string
	contactID string
	token     string // chat: the citizen token, to abandon it
	sent      time.Time
	answered  time.Time // the POST's answer was read
	offered   time.Time
	assigned  time.Time
	ended     time.Time
	failed    bool // the POST failed: there is no contact
	reoffers  int
	citizen   citizen // what its citizen heard (Config.Citizens)
}

// finished: nothing more will happen to it in this run.
func (c *contact) finished() bool { return c.failed || !c.ended.IsZero() }

// drive is one contact phase's shared state, guarded by Fleet.mu.
type drive struct {
	byCaller  map[string]*contact
	byContact map[string]*contact
	errs      map[string]int
	posted    int // POSTs sent
	created   int
	offered   int
	ended     int
	failed    int
	first     time.Time // first POST sent
	last      time.Time // last offer received

	// freed is when each agent last sent an end: the next offer it gets
	// for a contact that was already waiting then measures how soon a
	// freed agent hears of the next caller (freeToOffer).
	freed       map[string]time.Time
	freeToOffer []time.Duration

	// Citizens follow their chats with cctx, cancelled when the phase is
	// over; citizens counts the followers still running.
	cctx     context.Context
	cancel   context.CancelFunc
	citizens sync.WaitGroup
}

// contactPath is where contacts are posted.
const contactPath = "/v1/contacts"

// Drive posts l.Contacts contacts and waits until each has been offered,
// accepted and ended, or until l.Duration is over (then the unfinished
// ones are abandoned). It returns the report, and ctx.Err() if ctx ended
// first (the report then covers what happened until then). Drive calls
// must not overlap.
func (f *Fleet) Drive(ctx context.Context, l Load) (Report, error) {
	if err := l.check(); err != nil {
		return Report{}, err
	}
	d := &drive{byCaller: make(map[string]*contact, l.Contacts), byContact: make(map[string]*contact, l.Contacts),
		errs: map[string]int{}, freed: map[string]time.Time{}}
	d.cctx, d.cancel = context.WithCancel(ctx)
	defer func() { // the followers of contacts left open end here
		d.cancel()
		d.citizens.Wait()
	}()
	f.mu.Lock()
	if f.drive != nil || f.closed {
		f.mu.Unlock()
		return Report{}, errors.New("loadgen: Drive called while another runs, or after Close")
	}
	f.drive = d
	for k, n := range f.errs { // errors since setup or the last Drive
		d.errs[k] += n
	}
	clear(f.errs)
	f.mu.Unlock()

	var cpu0 time.Duration
	if pid := f.cfg.ServerPID; pid > 0 {
		var err error
		if cpu0, err = serverCPU(pid); err != nil {
			f.mu.Lock()
			f.drive = nil
			f.mu.Unlock()
			return Report{}, fmt.Errorf("loadgen: %w", err)
		}
	}
	var stages0 histograms
	probe := f.stagesProbe()
	if probe != nil {
		var err error
		if stages0, err = probe.readHistograms(ctx); err != nil {
			f.mu.Lock()
			f.drive = nil
			f.mu.Unlock()
			return Report{}, fmt.Errorf("loadgen: the server's stages: %w", err)
		}
	}
	dctx, cancel := context.WithTimeout(ctx, l.Duration)
	defer cancel()
	start := time.Now()
	stopProgress := f.progressTicker(start, l.Contacts)

	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(l.Concurrency, l.Contacts) {
		wg.Go(func() {
			for i := range jobs {
				f.post(dctx, d, i)
			}
		})
	}
	// Open loop: contact i is due at start + i/rate; a send that falls
	// behind (all workers busy) goes as soon as a worker is free.
	timer := time.NewTimer(0)
	<-timer.C
schedule:
	for i := range l.Contacts {
		if l.Rate > 0 {
			due := start.Add(time.Duration(float64(i) / l.Rate * float64(time.Second)))
			if wait := time.Until(due); wait > 0 {
				timer.Reset(wait)
				select {
				case <-dctx.Done():
					break schedule
				case <-timer.C:
				}
			}
		}
		select {
		case <-dctx.Done():
			break schedule
		case jobs <- i:
		}
	}
	close(jobs)
	wg.Wait()
	f.settle(dctx, d)
	if f.cfg.Citizens {
		// The citizens of ended contacts hear ended a moment after their
		// agents hear contact_ended.
		actx, acancel := context.WithTimeout(ctx, citizenGrace)
		f.awaitCitizens(actx, d)
		acancel()
	}
	stopProgress()
	for _, a := range f.agents {
		a.stopHolds()
	}
	var cpu1 time.Duration
	var cpuErr error
	if pid := f.cfg.ServerPID; pid > 0 {
		cpu1, cpuErr = serverCPU(pid)
	}
	var stages1 histograms
	var stagesErr error
	if probe != nil {
		stages1, stagesErr = probe.readHistograms(context.WithoutCancel(ctx))
	}

	f.mu.Lock()
	f.drive = nil
	rep := f.buildReport(d, l)
	f.mu.Unlock()
	if cpuErr != nil {
		rep.Errors[cpuErr.Error()]++
	} else if f.cfg.ServerPID > 0 {
		rep.ServerCPU = cpu1 - cpu0
	}
	if stagesErr != nil {
		rep.Errors["the server's stages: "+stagesErr.Error()]++
	} else if probe != nil {
		rep.Stages = stageFigures(stages0, stages1)
	}
	if f.driven != nil {
		f.driven(d.byCaller)
	}
	f.abandonUnfinished(context.WithoutCancel(ctx), d)
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	return rep, nil
}

// stagesProbe reads the server's /metrics for Config.ServerStages; nil
// without it.
func (f *Fleet) stagesProbe() *metricsProbe {
	if !f.cfg.ServerStages {
		return nil
	}
	u := f.cfg.MetricsURL
	if u == "" {
		u = f.gateway.base + "/metrics"
	}
	return &metricsProbe{url: u, token: f.cfg.MetricsToken, hc: &http.Client{Timeout: 30 * time.Second}}
}

// post sends contact i and records the answer.
func (f *Fleet) post(ctx context.Context, d *drive, i int) {
	caller := fmt.Sprintf("%s-c%d", f.agency, f.seq.Add(1))
	c := &contact{queue: f.queues[i%len(f.queues)]}
	body := map[string]any{
		"channel": f.cfg.Channel, "queue": c.queue,
		"caller":  map[string]string{"id": caller, "name": "loadgen caller " + strconv.Itoa(i+1), "language": "ko"},
		"context": map[string]any{"summary": "loadgen contact", "ivr": []string{"1", "3"}},
	}
	poster := f.gateway
	var from *origin
	if f.cfg.Citizens {
		from = f.citizenOrigin(i)
		poster = &client{base: f.gateway.base, hc: from.hc}
	}
	f.mu.Lock()
	d.byCaller[caller] = c
	d.posted++
	c.sent = time.Now()
	if d.first.IsZero() {
		d.first = c.sent
	}
	f.mu.Unlock()

	var out struct {
		ContactID    string `json:"contact_id"`
		CitizenToken string `json:"citizen_token"`
	}
	err := poster.do(ctx, http.MethodPost, contactPath, body, &out)
	now := time.Now()
	if from != nil && f.cfg.CitizensPerAddr == 1 {
		from.hc.CloseIdleConnections() // the citizen's socket is all it keeps open
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	c.answered = now
	if err != nil {
		// A POST whose answer was lost may still have made a contact: if
		// its offer arrived, it is followed to the end like any other.
		if c.contactID == "" {
			c.failed = true
			d.failed++
		}
		d.errs[errorKind("POST "+contactPath, err)]++
		return
	}
	d.created++
	c.token = out.CitizenToken
	if c.contactID == "" {
		c.contactID = out.ContactID
		d.byContact[out.ContactID] = c
	}
	if from != nil && out.CitizenToken != "" {
		c.citizen.followed = true
		d.citizens.Go(func() { f.follow(d.cctx, from, c, out.ContactID, out.CitizenToken) })
	}
}

// offered records an offer frame read at at.
func (f *Fleet) offered(at time.Time, caller, contactID, agent string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.drive
	if d == nil {
		return
	}
	c := d.byCaller[caller]
	if c == nil {
		d.errs["offer for an unknown contact"]++
		return
	}
	if freed, ok := d.freed[agent]; ok {
		delete(d.freed, agent)
		if c.sent.Before(freed) {
			d.freeToOffer = append(d.freeToOffer, at.Sub(freed))
		}
	}
	if !c.offered.IsZero() {
		c.reoffers++
		d.errs["contact offered again"]++
		return
	}
	c.offered = at
	d.offered++
	d.last = at
	if c.contactID == "" {
		c.contactID = contactID
		d.byContact[contactID] = c
	}
}

func (f *Fleet) assigned(at time.Time, caller string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if d := f.drive; d != nil {
		if c := d.byCaller[caller]; c != nil && c.assigned.IsZero() {
			c.assigned = at
		}
	}
}

// freedAt records that agent sent an end at at.
func (f *Fleet) freedAt(at time.Time, agent string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if d := f.drive; d != nil {
		d.freed[agent] = at
	}
}

func (f *Fleet) ended(at time.Time, contactID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if d := f.drive; d != nil {
		if c := d.byContact[contactID]; c != nil && c.ended.IsZero() {
			c.ended = at
			d.ended++
		}
	}
}

// settle waits until every posted contact is finished or ctx ends.
func (f *Fleet) settle(ctx context.Context, d *drive) {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		f.mu.Lock()
		open := d.posted - d.failed - d.ended
		f.mu.Unlock()
		if open <= 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// progressTicker reports the contact phase once a second until stopped.
func (f *Fleet) progressTicker(start time.Time, total int) (stop func()) {
	if f.progress == nil {
		return func() {}
	}
	quit := make(chan struct{})
	done := make(chan struct{})
	snapshot := func() {
		f.mu.Lock()
		d := f.drive
		p := Progress{Phase: "contacts", Total: total, Elapsed: time.Since(start)}
		if d != nil {
			p.Done = d.ended + d.failed
			p.Detail = fmt.Sprintf("posted %d, offered %d, failed %d", d.posted, d.offered, d.failed)
		}
		f.mu.Unlock()
		f.report(p)
	}
	go func() {
		defer close(done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-quit:
				snapshot()
				return
			case <-t.C:
				snapshot()
			}
		}
	}()
	return func() { close(quit); <-done }
}

// abandonUnfinished ends, as the caller would by hanging up, every contact
// the run left open, so the next run (or the queue's deletion) finds the
// queues empty. Best effort, bounded in time.
func (f *Fleet) abandonUnfinished(ctx context.Context, d *drive) {
	var open []*contact
	for _, c := range d.byContact {
		if !c.finished() && c.contactID != "" {
			open = append(open, c)
		}
	}
	if len(open) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for _, c := range open {
		cl := f.gateway
		if f.cfg.Channel == "chat" {
			cl = &client{base: f.gateway.base, hc: f.gateway.hc}
		}
		path := contactPath + "/" + c.contactID
		if c.token != "" && f.cfg.Channel == "chat" {
			path += "?token=" + url.QueryEscape(c.token)
		}
		_ = cl.do(ctx, http.MethodDelete, path, nil, nil)
	}
}
