package loadgen

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// cleanupTimeout bounds Close when Run calls it.
const cleanupTimeout = 2 * time.Minute

// Fleet is a run's server-side setup and its connected agents. Make it
// with Setup; Drive it one or more times; Close it once.
type Fleet struct {
	cfg    Config
	runID  string
	agency string
	queues []string // full ids, agency.qN
	// holdQueues (agency.hN) hold the socket drill's idle citizens.
	holdQueues []string
	password   string // every account of the run

	admin   *client
	gateway *client // voice: the run's gateway; chat: anonymous

	// Citizens' source addresses (Config.Citizens): a /16 of their own
	// (nil without IPv4 loopback: then they share mainOrigin), by group.
	mainOrigin     *origin
	citizenBlock   []byte
	citizenOrigins map[int]*origin // guarded by mu
	agents         []*agent
	users          []string // created, for cleanup

	setupTime time.Duration
	seq       atomic.Uint64 // caller ids across Drive calls
	// driven, if set (by tests), gets every contact of a finished phase,
	// by caller id.
	driven func(map[string]*contact)

	pmu      sync.Mutex // serialises progress calls
	progress func(Progress)

	mu     sync.Mutex
	drive  *drive // the contact phase in progress, if any
	errs   map[string]int
	closed bool
}

// origin is one client address: a dialer bound to a loopback source
// address (or unbound) and an HTTP client using it.
type origin struct {
	dialer *net.Dialer
	hc     *http.Client
}

func newOrigin(local net.IP, conns int) *origin {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if local != nil {
		d.LocalAddr = &net.TCPAddr{IP: local}
	}
	tr := &http.Transport{
		DialContext:         d.DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &origin{dialer: d, hc: &http.Client{Transport: tr, Timeout: 60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// loopbackBlock picks a random /16 in 127.0.0.0/8 away from 127.0.0.x,
// so runs one after the other do not share login budgets.
func loopbackBlock() (byte, byte) {
	var b [2]byte
	_, _ = rand.Read(b[:])
	return 1 + b[0]%254, b[1]
}

// sourceAddr is the k-th source address of a block: 127.a.(b+k/254).(k%254+1).
func sourceAddr(a, b byte, k int) net.IP {
	return net.IPv4(127, a, b+byte(k/254), byte(k%254+1))
}

// Setup logs in the admin, creates the run's agency, queues and users,
// logs every agent in, connects their sockets and makes them available.
// On failure it removes what it created (unless Keep) and returns the
// error. The Fleet's Progress reports each phase.
func Setup(ctx context.Context, cfg Config) (*Fleet, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	base, v4, err := checkLoopback(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("loadgen: %w", err)
	}
	start := time.Now()
	sctx, cancel := context.WithTimeout(ctx, cfg.SetupTimeout)
	defer cancel()

	var id [3]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, err
	}
	var pw [12]byte
	if _, err := rand.Read(pw[:]); err != nil {
		return nil, err
	}
	f := &Fleet{
		cfg: cfg, runID: hex.EncodeToString(id[:]), password: "lg-" + hex.EncodeToString(pw[:]),
		progress: cfg.Progress, errs: map[string]int{},
	}
	f.agency = "lg-" + f.runID
	main := newOrigin(nil, cfg.Concurrency+cfg.SetupConcurrency)
	anon := &client{base: base, hc: main.hc}
	saved, err := loadFleetFile(cfg.FleetFile, base)
	if err != nil {
		return nil, fmt.Errorf("loadgen: %w", err)
	}
	if saved != nil {
		return f.resume(ctx, sctx, saved, base, v4, main, anon, start)
	}
	if f.admin, err = anon.login(sctx, cfg.AdminUser, cfg.AdminPassword); err != nil {
		return nil, fmt.Errorf("loadgen: %w", err)
	}
	fail := func(err error) (*Fleet, error) {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if cerr := f.Close(cctx); cerr != nil {
			err = fmt.Errorf("%w (and cleaning up: %v)", err, cerr)
		}
		return nil, fmt.Errorf("loadgen: setup: %w", err)
	}
	if err := f.createDirectory(sctx); err != nil {
		return fail(err)
	}
	if err := f.createUsers(sctx); err != nil {
		return fail(err)
	}

	// Agents log in and connect from their own source addresses.
	origins := f.agentOrigins(base, v4, main)
	if err := f.loginAgents(sctx, &client{base: base}); err != nil {
		return fail(err)
	}
	for _, o := range origins {
		o.hc.CloseIdleConnections()
	}
	if cfg.Channel == "voice" {
		if f.gateway, err = anon.login(sctx, f.agency+"-gw", f.password); err != nil {
			return fail(err)
		}
	} else {
		f.gateway = anon
	}
	if cfg.FleetFile != "" {
		if err := f.saveFleetFile(base); err != nil {
			return fail(err)
		}
	}
	if cfg.skipConnect {
		f.setupTime = time.Since(start)
		return f, nil
	}
	if cfg.beforeConnect != nil {
		cfg.beforeConnect(sctx)
	}
	if err := f.connectAgents(sctx); err != nil {
		return fail(err)
	}
	f.mainOrigin, f.citizenOrigins = main, map[int]*origin{}
	if cfg.Citizens && v4 {
		a, b := loopbackBlock()
		f.citizenBlock = []byte{a, b}
	}
	f.setupTime = time.Since(start)
	return f, nil
}

// agentOrigins gives every agent its source address: groups of
// Config.LoginsPerAddr share one (on IPv4 loopback), else all use main.
func (f *Fleet) agentOrigins(base string, v4 bool, main *origin) map[int]*origin {
	origins := map[int]*origin{}
	if v4 && f.cfg.LoginsPerAddr > 0 {
		a, b := loopbackBlock()
		for k := 0; k*f.cfg.LoginsPerAddr < len(f.agents); k++ {
			origins[k] = newOrigin(sourceAddr(a, b, k), 2)
		}
	}
	for i, ag := range f.agents {
		ag.origin = main
		if o, ok := origins[i/max(f.cfg.LoginsPerAddr, 1)]; ok {
			ag.origin = o
		}
		ag.base = base
	}
	return origins
}

// RunID is the run's random id; its agency is "lg-" + RunID.
func (f *Fleet) RunID() string { return f.runID }

// Agency is the id of the run's agency.
func (f *Fleet) Agency() string { return f.agency }

// SetupTime is how long Setup took.
func (f *Fleet) SetupTime() time.Duration { return f.setupTime }

func (f *Fleet) report(p Progress) {
	f.pmu.Lock()
	defer f.pmu.Unlock()
	if f.progress != nil {
		f.progress(p)
	}
}

// createDirectory makes the run's agency and queues.
func (f *Fleet) createDirectory(ctx context.Context) error {
	err := f.admin.do(ctx, http.MethodPost, "/v1/agencies", map[string]string{
		"id": f.agency, "name": "loadgen run " + f.runID, "description": "made by tellonce loadgen; deleted when the run ends",
	}, nil)
	if err != nil {
		return fmt.Errorf("create agency %s: %w", f.agency, err)
	}
	for i := range f.cfg.Queues {
		slug := fmt.Sprintf("q%d", i+1)
		err := f.admin.do(ctx, http.MethodPost, "/v1/agencies/"+f.agency+"/queues", map[string]any{
			"id": slug, "name": "loadgen " + slug, "channels": []string{"voice", "chat"},
			"wrapup_s": 0, "offer_timeout_s": 30, "public": false,
		}, nil)
		if err != nil {
			return fmt.Errorf("create queue %s.%s: %w", f.agency, slug, err)
		}
		f.queues = append(f.queues, f.agency+"."+slug)
	}
	// The socket drill's idle citizens wait in hold queues nobody staffs.
	for i := range (f.cfg.IdleCitizens + citizensPerHoldQueue - 1) / citizensPerHoldQueue {
		slug := fmt.Sprintf("h%d", i+1)
		err := f.admin.do(ctx, http.MethodPost, "/v1/agencies/"+f.agency+"/queues", map[string]any{
			"id": slug, "name": "loadgen hold " + slug, "channels": []string{"chat"},
			"wrapup_s": 0, "offer_timeout_s": 30, "public": false,
		}, nil)
		if err != nil {
			return fmt.Errorf("create queue %s.%s: %w", f.agency, slug, err)
		}
		f.holdQueues = append(f.holdQueues, f.agency+"."+slug)
	}
	return nil
}

// createUsers makes the agents and (for voice) the gateway account, with
// bounded concurrency: each is one password hash on the server.
func (f *Fleet) createUsers(ctx context.Context) error {
	type userReq struct {
		Username string           `json:"username"`
		Name     string           `json:"name"`
		Password string           `json:"password"`
		Role     string           `json:"role"`
		Agency   string           `json:"agency"`
		Skills   map[string]int   `json:"skills,omitempty"`
		Queues   []map[string]any `json:"queues,omitempty"`
		MaxChats int              `json:"max_chats,omitempty"`
	}
	var reqs []userReq
	if f.cfg.Channel == "voice" {
		reqs = append(reqs, userReq{Username: f.agency + "-gw", Name: "loadgen gateway", Password: f.password, Role: "gateway", Agency: f.agency})
	}
	f.agents = make([]*agent, f.cfg.Agents)
	for i := range f.agents {
		name := fmt.Sprintf("%s-a%04d", f.agency, i+1)
		f.agents[i] = &agent{fleet: f, username: name, acks: map[string]chan error{}}
		reqs = append(reqs, userReq{Username: name, Name: fmt.Sprintf("loadgen agent %d", i+1), Password: f.password,
			Role: "agent", Agency: f.agency, MaxChats: f.cfg.MaxChats, Skills: map[string]int{"lang:ko": 5},
			Queues: []map[string]any{{"queue": f.queues[i%len(f.queues)], "level": 1}}})
	}
	var done atomic.Int64
	start := time.Now()
	f.report(Progress{Phase: "create users", Total: len(reqs)})
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(f.cfg.SetupConcurrency)
	var mu sync.Mutex
	for _, r := range reqs {
		g.Go(func() error {
			if err := f.admin.do(gctx, http.MethodPost, "/v1/users", r, nil); err != nil {
				return fmt.Errorf("create user %s: %w", r.Username, err)
			}
			mu.Lock()
			f.users = append(f.users, r.Username)
			mu.Unlock()
			f.report(Progress{Phase: "create users", Done: int(done.Add(1)), Total: len(reqs), Elapsed: time.Since(start)})
			return nil
		})
	}
	return g.Wait()
}

// loginAgents opens a session for every agent, each from its origin.
func (f *Fleet) loginAgents(ctx context.Context, proto *client) error {
	var done atomic.Int64
	start := time.Now()
	n := len(f.agents)
	f.report(Progress{Phase: "log in", Total: n})
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(f.cfg.SetupConcurrency)
	for _, a := range f.agents {
		g.Go(func() error {
			c := &client{base: proto.base, hc: a.origin.hc}
			s, err := c.login(gctx, a.username, f.password)
			if err != nil {
				return err
			}
			a.token = s.token
			f.report(Progress{Phase: "log in", Done: int(done.Add(1)), Total: n, Elapsed: time.Since(start)})
			return nil
		})
	}
	return g.Wait()
}

// connectAgents opens every agent's socket and sets them available.
func (f *Fleet) connectAgents(ctx context.Context) error {
	var done atomic.Int64
	start := time.Now()
	n := len(f.agents)
	f.report(Progress{Phase: "connect", Total: n})
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(f.cfg.SetupConcurrency, 32)) // no hashing here
	for _, a := range f.agents {
		g.Go(func() error {
			if err := a.connect(gctx); err != nil {
				return fmt.Errorf("agent %s: %w", a.username, err)
			}
			f.report(Progress{Phase: "connect", Done: int(done.Add(1)), Total: n, Elapsed: time.Since(start)})
			return nil
		})
	}
	return g.Wait()
}

// countError adds one to an error kind of the current contact phase (or
// of the fleet, outside one).
func (f *Fleet) countError(kind string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.drive != nil {
		f.drive.errs[kind]++
		return
	}
	f.errs[kind]++
}

// Close disconnects every agent and, unless Config.Keep, deletes the run's
// users, queues and agency and logs the admin and gateway out. It reports
// what it could not remove; calling it again does nothing.
func (f *Fleet) Close(ctx context.Context) error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	f.mu.Unlock()

	var wg sync.WaitGroup
	for _, a := range f.agents {
		a.stopHolds()
		wg.Go(a.close)
	}
	wg.Wait()

	var errs []error
	if f.gateway != nil && f.gateway.token != "" && f.cfg.FleetFile == "" {
		if err := f.gateway.logout(ctx); err != nil {
			errs = append(errs, fmt.Errorf("log the gateway out: %w", err))
		}
	}
	if f.admin == nil {
		return errors.Join(errs...)
	}
	if !f.cfg.Keep {
		errs = append(errs, f.removeDirectory(ctx)...)
	}
	if err := f.admin.logout(ctx); err != nil {
		errs = append(errs, fmt.Errorf("log the admin out: %w", err))
	}
	if len(errs) > 5 {
		errs = append(errs[:5], fmt.Errorf("and %d more", len(errs)-5))
	}
	if len(errs) > 0 {
		return fmt.Errorf("loadgen: cleanup: %w", errors.Join(errs...))
	}
	return nil
}

// removeDirectory deletes the run's users, then queues, then agency.
func (f *Fleet) removeDirectory(ctx context.Context) []error {
	var (
		mu   sync.Mutex
		errs []error
		done atomic.Int64
	)
	total := len(f.users) + len(f.queues) + 1
	start := time.Now()
	step := func(what, path string) {
		err := f.admin.do(ctx, http.MethodDelete, path, nil, nil)
		var ae *APIError
		if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
			err = nil
		}
		if err != nil {
			mu.Lock()
			errs = append(errs, fmt.Errorf("delete %s: %w", what, err))
			mu.Unlock()
		}
		f.report(Progress{Phase: "cleanup", Done: int(done.Add(1)), Total: total, Elapsed: time.Since(start)})
	}
	f.report(Progress{Phase: "cleanup", Total: total})
	var g errgroup.Group
	g.SetLimit(max(f.cfg.SetupConcurrency, 16))
	for _, u := range f.users {
		g.Go(func() error { step("user "+u, "/v1/users/"+u); return nil })
	}
	_ = g.Wait()
	for _, q := range append(slices.Clone(f.queues), f.holdQueues...) {
		step("queue "+q, "/v1/queues/"+q)
	}
	step("agency "+f.agency, "/v1/agencies/"+f.agency)
	return errs
}
