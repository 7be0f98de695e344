// Package loadgen drives a running tellonce server the way a busy day does
// — many agents on real WebSockets, contacts arriving at a set rate — and
// measures how fast the router gets each contact in front of an agent.
//
// # What a run does
//
// Setup makes everything a run needs through the admin REST API, under
// names unique to the run (agency lg-<run>, queues q1…qN, users
// lg-<run>-a0001…, a gateway account lg-<run>-gw of the run's agency): it
// creates the users with bounded concurrency (each costs the server one
// argon2id hash), logs every agent in, opens each agent's socket on
// /v1/agent/ws with its bearer token, waits for hello and sets the agent
// available (waiting for the ack). Agent i is a member of queue i mod N.
//
// Drive posts contacts to POST /v1/contacts — voice contacts as the
// gateway account by default (chat is public and rate-limited per client
// address, a protection the load generator respects rather than dodges) —
// spread round-robin over the queues, at a target rate with a bound on
// requests in flight. Each simulated agent accepts every offer it gets and
// ends the contact as soon as it is assigned, so capacity frees at once
// (the run's queues have no wrap-up).
//
// Close disconnects the agents and, unless Config.Keep, deletes the run's
// users, queues and agency again.
//
// # Surge drill
//
// With Config.Hold an agent keeps each contact for that long before ending
// it, so contacts that come faster than the agents can take them build a
// line. With Config.Citizens (chat) each chat is posted from its own
// citizen's loopback address, as a crowd of phones would, within the
// server's per-address chat limit, and followed on the citizen socket
// until it ends. The report then adds what the citizens heard: how soon a
// new socket said where they stand, how many places each heard, the
// longest line, and any place that went up (none should: everyone has the
// same priority), and how soon a freed agent got the next waiting caller.
//
// # What is measured
//
// The clock starts when the POST is handed to the HTTP client. For every
// contact, keyed by its caller id (chosen by the load generator, so the
// offer can be matched whether it arrives before or after the POST's
// answer): POST latency (until the answer's body is read), POST → offer
// (the offer frame for that contact read off the chosen agent's socket),
// POST → assigned (after the agent's accept). Client and server share the
// machine, so the figures include the load generator's own scheduling.
//
// # Logins and the server's limits
//
// The server limits logins per client address (by default 20, then one
// every 6 s). Real agents log in from their own desks; on loopback the load
// generator does the same by giving every group of Config.LoginsPerAddr
// agents its own source address in 127.0.0.0/8 (Linux routes the whole
// block to the loopback interface), picked at random per run. A 429 is
// still honoured: the login waits Retry-After and tries again.
//
// Only loopback servers are accepted (127.0.0.0/8, ::1, localhost).
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Config is one load-generation run.
type Config struct {
	// URL is the server's base URL, e.g. http://127.0.0.1:8080.
	URL string
	// AdminUser (default "admin") and AdminPassword log in the admin who
	// creates the run's agency, queues and users.
	AdminUser, AdminPassword string

	// Agents is how many agents connect (default 100); Queues how many
	// queues they are spread over (default 10, at most Agents).
	Agents, Queues int
	// Channel is "voice" (default: posted by the run's gateway account) or
	// "chat" (public, rate-limited per client address by the server).
	Channel string
	// MaxChats is every agent's chat capacity (default 1).
	MaxChats int

	// Contacts is how many contacts are posted (default 1000).
	Contacts int
	// Rate is the target contacts per second; 0 posts as fast as
	// Concurrency allows.
	Rate float64
	// Concurrency bounds the POSTs in flight (default 32).
	Concurrency int
	// Duration bounds the contact phase: posting stops and unfinished
	// contacts are abandoned when it is over (default 5 minutes).
	Duration time.Duration
	// Hold is how long an agent keeps each contact before ending it
	// (default 0: at once). Contacts that come faster than Agents × chats
	// per Hold build a line: a surge.
	Hold time.Duration
	// Citizens (chat only) posts every chat from a citizen's own loopback
	// address and follows it on the citizen socket until it ends: the
	// report says how soon each citizen heard their place, how often, and
	// whether a place ever went up. Each waiting citizen holds a socket.
	Citizens bool
	// CitizensPerAddr is how many citizens share one source address
	// (default 1, as phones do; the server limits chats per address).
	CitizensPerAddr int

	// SetupConcurrency bounds the requests in flight during setup (user
	// creation and logins each cost the server a password hash; default 8).
	SetupConcurrency int
	// SetupTimeout bounds setup (default 15 minutes).
	SetupTimeout time.Duration
	// LoginsPerAddr is how many agents share one loopback source address
	// for their login and socket (default 10, half the server's default
	// per-address burst). Negative: every agent uses the system's choice
	// (then the server's login limit paces the logins).
	LoginsPerAddr int
	// Keep leaves the run's agency, queues and users on the server.
	Keep bool
	// FleetFile, when set, keeps the run's agency, users and their open
	// sessions in this file: the first run writes it (and keeps its
	// agency), a later run against the same server reads it and skips
	// creating users and logging them in — each of which costs the server
	// a password hash, minutes for 10,000 agents.
	FleetFile string

	// IdleCitizens (Sockets) is how many citizens post a chat to the run's
	// hold queues, which nobody staffs, and keep its socket open, idle.
	IdleCitizens int
	// Sockets runs the socket drill (RunSockets): what each idle agent
	// and citizen socket costs the server, its CPU at idle, and the
	// contacts' latency while every socket is held open.
	Sockets bool
	// MetricsURL is where the socket drill reads the server's figures
	// (default: the server's /metrics); MetricsToken its bearer token.
	MetricsURL, MetricsToken string
	// DebugURL, when set, is the server's --debug-addr (http://host:port):
	// the socket drill has it collect garbage and return freed memory to
	// the system before each settled reading, so that the resident memory
	// and the heap goal are the live heap's at that moment.
	DebugURL string
	// Settle is how long the socket drill lets the server settle before
	// each reading of its memory (default 10s); Idle how long it measures
	// the server's CPU with every socket open and nothing else going on
	// (default 1 minute).
	Settle, Idle time.Duration

	// beforeConnect, when set, is called by Setup once the agents are
	// logged in, before their sockets open (the socket drill's first
	// reading).
	beforeConnect func(context.Context)
	// skipConnect ends Setup before the sockets open (a fleet file is
	// all that is wanted).
	skipConnect bool

	// ServerPID, when set, is the server's process on this machine: each
	// contact phase then reads its CPU time (/proc/PID/stat, Linux)
	// before the first POST and after the last contact ended, and reports
	// the server's CPU per contact, a figure the machine's load does not
	// move the way it moves latencies.
	ServerPID int
	// ServerStages reads the server's /metrics (MetricsURL, MetricsToken)
	// before and after each contact phase and reports the creation's
	// stages inside the server over it: the handler's, the router's, the
	// journal's p50 and p99 beside the load generator's own.
	ServerStages bool

	// Progress, if set, hears how setup, the contact phase and cleanup
	// advance. It is called from several goroutines, never concurrently.
	Progress func(Progress)
}

// Progress is a snapshot of a phase.
type Progress struct {
	// Phase is "create users", "log in", "connect", "contacts" or
	// "cleanup".
	Phase string
	// Done of Total units (users, logins, sockets, contacts ended).
	Done, Total int
	// Elapsed since the phase began.
	Elapsed time.Duration
	// Detail is a short extra for the contact phase: posted and offered
	// counts.
	Detail string
}

// Defaults.
const (
	DefaultAgents           = 100
	DefaultQueues           = 10
	DefaultContacts         = 1000
	DefaultConcurrency      = 32
	DefaultDuration         = 5 * time.Minute
	DefaultSetupConcurrency = 8
	DefaultSetupTimeout     = 15 * time.Minute
	DefaultLoginsPerAddr    = 10
	// DefaultIdleCitizensPerAddr is the server's default chat burst per
	// address: the socket drill's citizens post at once, never waiting
	// out the refill.
	DefaultIdleCitizensPerAddr = 5
	DefaultSettle              = 10 * time.Second
	DefaultIdle                = time.Minute
)

// Bounds: a run is bounded in count and time.
const (
	MaxAgents   = 20_000
	MaxQueues   = 1000
	MaxContacts = 10_000_000
	// MaxCitizens bounds a run that follows its chats: a socket each.
	MaxCitizens = 50_000
	// MaxIdleCitizens bounds the socket drill's idle citizens.
	MaxIdleCitizens = 200_000
	// citizensPerHoldQueue is how many idle citizens wait in one hold
	// queue: a line the server refreshes as a whole stays modest.
	citizensPerHoldQueue = 1000
)

// citizenGrace bounds the wait for citizens to hear their chat ended once
// every agent has.
const citizenGrace = 10 * time.Second

func (c Config) withDefaults() (Config, error) {
	if c.AdminUser == "" {
		c.AdminUser = "admin"
	}
	if c.AdminPassword == "" && !fleetFileExists(c.FleetFile) {
		return c, errors.New("loadgen: the admin password is required (a fleet file that exists needs none)")
	}
	if c.Agents == 0 {
		c.Agents = DefaultAgents
	}
	if c.Queues == 0 {
		c.Queues = min(DefaultQueues, c.Agents)
	}
	if c.Channel == "" {
		c.Channel = "voice"
	}
	if c.MaxChats == 0 {
		c.MaxChats = 1
	}
	l := c.Load().withDefaults()
	c.Contacts, c.Concurrency, c.Duration = l.Contacts, l.Concurrency, l.Duration
	if c.SetupConcurrency == 0 {
		c.SetupConcurrency = DefaultSetupConcurrency
	}
	if c.SetupTimeout == 0 {
		c.SetupTimeout = DefaultSetupTimeout
	}
	if c.LoginsPerAddr == 0 {
		c.LoginsPerAddr = DefaultLoginsPerAddr
	}
	if c.CitizensPerAddr == 0 {
		c.CitizensPerAddr = 1
		if c.Sockets {
			c.CitizensPerAddr = DefaultIdleCitizensPerAddr
		}
	}
	if c.FleetFile != "" {
		c.Keep = true // the file names what it keeps
	}
	if c.Settle == 0 {
		c.Settle = DefaultSettle
	}
	if c.Idle == 0 {
		c.Idle = DefaultIdle
	}
	switch {
	case c.Agents < 1 || c.Agents > MaxAgents:
		return c, fmt.Errorf("loadgen: agents %d: want 1 to %d", c.Agents, MaxAgents)
	case c.Queues < 1 || c.Queues > MaxQueues || c.Queues > c.Agents:
		return c, fmt.Errorf("loadgen: queues %d: want 1 to %d and no more than the agents", c.Queues, MaxQueues)
	case c.Channel != "voice" && c.Channel != "chat":
		return c, fmt.Errorf("loadgen: channel %q: want voice or chat", c.Channel)
	case c.MaxChats < 1 || c.MaxChats > 20:
		return c, fmt.Errorf("loadgen: max chats %d: want 1 to 20", c.MaxChats)
	case c.SetupConcurrency < 1 || c.SetupConcurrency > 256:
		return c, fmt.Errorf("loadgen: setup concurrency %d: want 1 to 256", c.SetupConcurrency)
	case c.SetupTimeout < 0:
		return c, fmt.Errorf("loadgen: setup timeout %s is negative", c.SetupTimeout)
	case c.Hold < 0 || c.Hold > time.Hour:
		return c, fmt.Errorf("loadgen: hold %s: want 0 to 1h", c.Hold)
	case c.Citizens && c.Channel != "chat":
		return c, errors.New("loadgen: citizens follow chats: use channel chat")
	case c.Citizens && c.Contacts > MaxCitizens:
		return c, fmt.Errorf("loadgen: %d contacts with citizens: at most %d (each waiting citizen holds a socket)", c.Contacts, MaxCitizens)
	case c.CitizensPerAddr < 1 || c.CitizensPerAddr > 1000:
		return c, fmt.Errorf("loadgen: citizens per address %d: want 1 to 1000", c.CitizensPerAddr)
	case c.IdleCitizens < 0 || c.IdleCitizens > MaxIdleCitizens:
		return c, fmt.Errorf("loadgen: idle citizens %d: want 0 to %d", c.IdleCitizens, MaxIdleCitizens)
	case c.IdleCitizens > 0 && !c.Sockets:
		return c, errors.New("loadgen: idle citizens belong to the socket drill: add sockets")
	case c.Sockets && c.Citizens:
		return c, errors.New("loadgen: the socket drill holds idle citizens; it does not follow the contacts' chats")
	case c.ServerPID < 0:
		return c, fmt.Errorf("loadgen: server pid %d is negative", c.ServerPID)
	case c.Settle < 0 || c.Settle > 10*time.Minute:
		return c, fmt.Errorf("loadgen: settle %s: want 0 to 10m", c.Settle)
	case c.Idle < 0 || c.Idle > time.Hour:
		return c, fmt.Errorf("loadgen: idle %s: want 0 to 1h", c.Idle)
	}
	return c, c.Load().check()
}

// Load is the contact phase's part of the Config.
func (c Config) Load() Load {
	return Load{Contacts: c.Contacts, Rate: c.Rate, Concurrency: c.Concurrency, Duration: c.Duration}
}

// Load is one contact phase: how many contacts, how fast, how many POSTs
// in flight, and the bound on its duration.
type Load struct {
	Contacts    int
	Rate        float64
	Concurrency int
	Duration    time.Duration
}

func (l Load) check() error {
	switch {
	case l.Contacts < 1 || l.Contacts > MaxContacts:
		return fmt.Errorf("loadgen: contacts %d: want 1 to %d", l.Contacts, MaxContacts)
	case l.Rate < 0 || l.Rate > 1e6:
		return fmt.Errorf("loadgen: rate %g: want 0 (as fast as possible) to 1e6 per second", l.Rate)
	case l.Concurrency < 1 || l.Concurrency > 4096:
		return fmt.Errorf("loadgen: concurrency %d: want 1 to 4096", l.Concurrency)
	case l.Duration <= 0 || l.Duration > 24*time.Hour:
		return fmt.Errorf("loadgen: duration %s: want more than 0, at most 24h", l.Duration)
	}
	return nil
}

// Run sets up the run's agents, drives the contacts and cleans up: Setup,
// Drive and Close in one call. The report is returned even when Drive was
// cut short (ctx ended); the error then says why. A cleanup failure is
// returned only when nothing else failed.
func Run(ctx context.Context, cfg Config) (Report, error) {
	f, err := Setup(ctx, cfg)
	if err != nil {
		return Report{}, err
	}
	rep, err := f.Drive(ctx, f.cfg.Load())
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if cerr := f.Close(cctx); err == nil {
		err = cerr
	}
	return rep, err
}
