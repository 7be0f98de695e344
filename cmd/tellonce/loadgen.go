package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
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
	fs.IntVar(&cfg.Queues, "queues", loadgen.DefaultQueues, "queues to spread the agents and contacts over")
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
	if cfg.AdminPassword == "" {
		return errors.New("loadgen: give --admin-password or set TELLONCE_ADMIN_PASSWORD")
	}
	pp := newProgressPrinter(stderr)
	cfg.Progress = pp.print
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
