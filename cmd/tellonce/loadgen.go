package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"tellonce/loadgen"
)

// runLoadgen is "tellonce loadgen": drive a running server on this machine
// with simulated agents and contacts, then print the latency report.
func runLoadgen(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var cfg loadgen.Config
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.URL, "url", "http://127.0.0.1:8080", "base URL of the server (loopback only)")
	fs.StringVar(&cfg.AdminUser, "admin-user", "admin", "admin account that creates the run's agency, queues and users")
	fs.StringVar(&cfg.AdminPassword, "admin-password", "", "its password (default: $TELLONCE_ADMIN_PASSWORD)")
	fs.IntVar(&cfg.Agents, "agents", loadgen.DefaultAgents, "agents to connect, each on its own WebSocket")
	fs.IntVar(&cfg.Queues, "queues", loadgen.DefaultQueues, "queues to spread the agents and contacts over (with a fleet file that exists: the file's)")
	fs.IntVar(&cfg.Contacts, "contacts", loadgen.DefaultContacts, "contacts to post")
	fs.Float64Var(&cfg.Rate, "rate", 100, "contacts per second (0: as fast as --concurrency allows)")
	fs.IntVar(&cfg.Concurrency, "concurrency", loadgen.DefaultConcurrency, "POST /v1/contacts requests in flight at most")
	fs.DurationVar(&cfg.Duration, "duration", loadgen.DefaultDuration, "bound on the contact phase; unfinished contacts are abandoned")
	fs.StringVar(&cfg.Channel, "channel", "voice", "voice (posted by the run's gateway account) or chat (public; the server rate-limits it per address)")
	fs.IntVar(&cfg.MaxChats, "max-chats", 1, "chat capacity of each agent")
	fs.DurationVar(&cfg.Hold, "hold", 0, "how long an agent keeps each contact before ending it; contacts faster than the agents can hold them build a line")
	fs.BoolVar(&cfg.Citizens, "citizens", false, "chat only: post each chat from its own loopback address and follow it on the citizen socket (a surge drill: what waiting citizens hear)")
	fs.IntVar(&cfg.CitizensPerAddr, "citizens-per-addr", 1, "citizens sharing one loopback source address (the server limits chats per address)")
	fs.IntVar(&cfg.SetupConcurrency, "setup-concurrency", loadgen.DefaultSetupConcurrency, "requests in flight while creating users and logging in (each costs the server a password hash)")
	fs.DurationVar(&cfg.SetupTimeout, "setup-timeout", loadgen.DefaultSetupTimeout, "bound on setup")
	fs.IntVar(&cfg.LoginsPerAddr, "logins-per-addr", loadgen.DefaultLoginsPerAddr, "agents per loopback source address (the server limits logins per address); -1: one address")
	fs.BoolVar(&cfg.Keep, "keep", false, "keep the run's agency, queues and users afterwards")
	fs.StringVar(&cfg.FleetFile, "fleet", "", "keep the run's agency, users and sessions in this file (made on the first run, read on later ones: setup then hashes no passwords); implies --keep")
	fs.BoolVar(&cfg.Sockets, "sockets", false, "the socket drill: the server's memory per idle agent and citizen socket, its CPU at idle, and the contacts' latency with every socket open")
	fs.IntVar(&cfg.IdleCitizens, "idle-citizens", 0, "socket drill: citizens who post a chat to a hold queue nobody staffs and keep its socket open")
	var rates string
	var warmup int
	fs.StringVar(&rates, "rates", "", "a sweep: comma-separated rates (contacts/s, 0: as fast as possible), each a phase of --contacts contacts over the same agents, then a line per rate (replaces --rate)")
	fs.IntVar(&warmup, "warmup", 0, "with --rates: contacts posted at the first rate before the measured phases, left out of the report")
	fs.IntVar(&cfg.ServerPID, "server-pid", 0, "the server's process id on this machine: report its CPU time per contact (utime+stime from /proc/PID/stat over each phase)")
	fs.BoolVar(&cfg.ServerStages, "server-stages", false, "read the server's /metrics before and after each contact phase and report the creation's stages inside the server (handler, router, journal: p50 and p99)")
	fs.StringVar(&cfg.MetricsURL, "metrics-url", "", "socket drill and --server-stages: where to read the server's figures (default: the server's /metrics)")
	fs.StringVar(&cfg.DebugURL, "debug-url", "", "socket drill: the server's --debug-addr as http://host:port, to collect its garbage and return freed memory before each reading (default: none)")
	fs.StringVar(&cfg.MetricsToken, "metrics-token", "", "socket drill and --server-stages: bearer token for /metrics (default: $TELLONCE_METRICS_TOKEN)")
	fs.DurationVar(&cfg.Settle, "settle", loadgen.DefaultSettle, "socket drill: wait this long before each reading of the server's memory")
	fs.DurationVar(&cfg.Idle, "idle", loadgen.DefaultIdle, "socket drill: measure the server's CPU over this long with every socket open and no contacts")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: tellonce loadgen [flags]

Creates an agency with queues, agents and a gateway account through the admin
API (names unique to the run), logs every agent in on a WebSocket, posts
contacts, has the agents accept and end them, and reports the latency from
POST /v1/contacts to the agent's offer. Everything it created is deleted at
the end unless --keep.

Example:
  tellonce loadgen --url http://127.0.0.1:8080 --admin-password … --agents 1000 --contacts 5000 --rate 500

A surge drill: chats arrive faster than the agents, who keep each for a
while, can take them; every citizen follows their chat on its socket, and
the report says how soon each heard where they stand and whether any place
went up:
  tellonce loadgen --admin-password … --channel chat --citizens --agents 50 --hold 2s --contacts 5000 --rate 500

The socket drill: 10,000 agents and 50,000 citizens holding their sockets
open; it reads the server's /metrics before and after each group connects
(memory per socket), over a quiet minute (CPU at idle), then drives the
contacts with every socket open, and counts sockets the server closed. Give
both processes enough open files (each socket is one on either side), and
keep the sessions in a fleet file to skip 20,000 password hashes next time:
  prlimit --nofile=200000 tellonce loadgen --admin-password … --sockets \
    --agents 10000 --queues 100 --idle-citizens 50000 --contacts 18000 --rate 100 \
    --fleet /tmp/fleet.json

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if cfg.AdminPassword == "" {
		cfg.AdminPassword = getenv("TELLONCE_ADMIN_PASSWORD")
	}
	if cfg.AdminPassword == "" && cfg.FleetFile == "" {
		return errors.New("loadgen: give --admin-password or set TELLONCE_ADMIN_PASSWORD")
	}
	if cfg.MetricsToken == "" {
		cfg.MetricsToken = getenv("TELLONCE_METRICS_TOKEN")
	}
	raiseOpenFiles() // each simulated socket is an open file here too
	pp := newProgressPrinter(stderr)
	cfg.Progress = pp.print
	if cfg.Sockets {
		rep, err := loadgen.RunSockets(ctx, cfg)
		pp.finish()
		if rep.Before.At.IsZero() { // nothing measured: the error says why
			return err
		}
		fmt.Fprintln(stdout)
		if perr := rep.Print(stdout); perr != nil {
			return perr
		}
		if err != nil {
			return err
		}
		if !rep.OK() {
			return errors.New("loadgen: the socket drill was not clean (sockets lost or errors)")
		}
		return nil
	}
	if rates != "" {
		return runRates(ctx, cfg, rates, warmup, stdout, pp)
	}
	rep, err := loadgen.Run(ctx, cfg)
	pp.finish()
	if rep.Posted == 0 && err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	if perr := rep.Print(stdout); perr != nil {
		return perr
	}
	if err != nil {
		return err
	}
	if !rep.OK() {
		return fmt.Errorf("loadgen: the run was not clean (%d errors)", rep.ErrorCount())
	}
	return nil
}

// runRates is "tellonce loadgen --rates": one sweep, each rate's report,
// then the summary table.
func runRates(ctx context.Context, cfg loadgen.Config, list string, warmup int, stdout io.Writer, pp *progressPrinter) error {
	var rs loadgen.Rates
	rs.Warmup = warmup
	for _, f := range strings.Split(list, ",") {
		r, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			return fmt.Errorf("loadgen: --rates: %q is not a number", f)
		}
		rs.Rates = append(rs.Rates, r)
	}
	reps, err := loadgen.RunRates(ctx, cfg, rs)
	pp.finish()
	for _, rep := range reps {
		fmt.Fprintln(stdout)
		if perr := rep.Print(stdout); perr != nil {
			return perr
		}
	}
	if len(reps) > 0 {
		fmt.Fprintln(stdout)
		if perr := loadgen.PrintRates(stdout, reps); perr != nil {
			return perr
		}
	}
	if err != nil {
		return err
	}
	for _, rep := range reps {
		if !rep.OK() {
			return fmt.Errorf("loadgen: the run at %g/s was not clean (%d errors)", rep.Load.Rate, rep.ErrorCount())
		}
	}
	return nil
}

// progressPrinter shows one progress line per phase: rewritten in place on
// a terminal, otherwise a line at most every second and at the end of
// each phase.
type progressPrinter struct {
	w        io.Writer
	terminal bool
	mu       sync.Mutex
	phase    string
	last     time.Time
	open     bool // a terminal line is waiting for its newline
	complete bool // the phase's last line is out
}

func newProgressPrinter(w io.Writer) *progressPrinter {
	p := &progressPrinter{w: w}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.terminal = true
		}
	}
	return p
}

func (p *progressPrinter) print(pr loadgen.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	newPhase := pr.Phase != p.phase
	complete := pr.Total > 0 && pr.Done >= pr.Total
	every := time.Second
	if p.terminal {
		every = 100 * time.Millisecond
	}
	if !newPhase && (p.complete || !complete && now.Sub(p.last) < every) {
		return
	}
	if newPhase && p.open {
		fmt.Fprintln(p.w)
		p.open = false
	}
	p.phase, p.last, p.complete = pr.Phase, now, complete
	line := fmt.Sprintf("%-13s %6d/%-6d %5.1f%%  %6.1fs", pr.Phase, pr.Done, pr.Total, percent(pr.Done, pr.Total), pr.Elapsed.Seconds())
	if pr.Detail != "" {
		line += "  " + pr.Detail
	}
	if p.terminal {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		p.open = true
		return
	}
	fmt.Fprintln(p.w, line)
}

func (p *progressPrinter) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.open {
		fmt.Fprintln(p.w)
		p.open = false
	}
}

func percent(done, total int) float64 {
	if total == 0 {
		return 0
	}
	return 100 * float64(done) / float64(total)
}
