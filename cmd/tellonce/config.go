package main

import (
	"bytes"
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"tellonce/agents"
	"tellonce/auth"
	"tellonce/iceservers"
	"tellonce/lease"
	tsql "tellonce/sql"
	"tellonce/stats"
	"tellonce/transcripts"
	"tellonce/web"
)

// serveConfig is everything "tellonce serve" can be told. Every flag has
// an environment variable; a flag given on the command line wins.
type serveConfig struct {
	web   web.Config
	db    string
	demo  bool
	grace time.Duration
	// sessionCache is how long a looked-up session is trusted from memory.
	sessionCache time.Duration
	retention    transcripts.Retention
	// historyRetention is how long the wallboard's per-minute samples are
	// kept in the database.
	historyRetention time.Duration
	logLevel         string
	logFormat        string
	// tlsCert and tlsKey are PEM files; with them the server speaks HTTPS.
	tlsCert, tlsKey string
	// metricsAddr, when set, serves /metrics there instead of on --addr.
	metricsAddr string
	// debugAddr, when set, serves /debug/pprof/ there (loopback only).
	debugAddr string
	// lease is this node's part in electing a leader on PostgreSQL.
	lease lease.Config
	// recordingDir keeps the recordings edges upload; "" with SQLite is
	// recordings/ beside the database file, "" with PostgreSQL stores none.
	recordingDir string
}

// isPostgres says whether a --db value names PostgreSQL.
func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// envOf is the environment variable that sets a flag when the command
// line does not: TELLONCE_ and the flag's name in capitals, dashes as
// underscores. Every flag has one, so flags are declared once.
func envOf(flagName string) string {
	return "TELLONCE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func parseServe(name string, args []string, stderr io.Writer, getenv func(string) string) (serveConfig, error) {
	c := serveConfig{web: web.DefaultConfig()}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	origins, ice := "", ""
	fs.StringVar(&c.web.Addr, "addr", c.web.Addr, "listen address, host:port")
	fs.StringVar(&c.db, "db", "", "database: a postgres:// URL, or an SQLite file path (default ./data/tellonce.db; DATABASE_URL also works)")
	fs.BoolVar(&c.demo, "demo", false, "seed demo agencies, queues and users and print their logins")
	fs.StringVar(&origins, "allowed-origins", "", "comma-separated extra origins (https://host:port) allowed for cookie writes and WebSockets")
	proxies := ""
	fs.StringVar(&proxies, "trust-proxy", "", "comma-separated addresses or CIDRs of the reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are believed (the client is the first untrusted address from the right)")
	fs.BoolVar(&c.web.SecureCookies, "secure-cookies", false, "mark the session cookie Secure (set this when served over HTTPS)")
	fs.DurationVar(&c.web.SessionTTL, "session-ttl", c.web.SessionTTL, "how long a login lasts")
	fs.DurationVar(&c.sessionCache, "session-cache", auth.DefaultSessionCache, "how long a checked login is trusted from memory; a logout or a user change on another server takes effect here within it, on requests and open WebSockets (0: check the database on every request, and open sockets every second)")
	fs.DurationVar(&c.grace, "reconnect-grace", 30*time.Second, "how long an agent whose connection dropped keeps their contacts before they return to the head of their queues")
	fs.DurationVar(&c.retention.Cases, "transcript-retention", 365*24*time.Hour, "how long a closed case's transcript is kept after it closed (negative: forever)")
	fs.DurationVar(&c.retention.Audit, "audit-retention", 5*365*24*time.Hour, "how long access-audit rows are kept; at least the transcript retention (negative: forever)")
	fs.StringVar(&c.recordingDir, "recording-dir", "", "directory of the call recordings edges upload (default: recordings/ beside the SQLite file; with PostgreSQL none are kept unless set, and a pair of servers needs one shared filesystem)")
	fs.DurationVar(&c.historyRetention, "history-retention", stats.DefaultHistoryRetention, "how long the wallboard's per-minute queue samples are kept (at least 24h: the day's charts)")
	fs.IntVar(&c.web.HistoryDays, "history-days", c.web.HistoryDays, "how many days back a returning caller's earlier cases are shown to the agent, and a closed case may be reopened by continuing it (0: off)")
	fs.StringVar(&c.web.CentralQueue, "central-queue", c.web.CentralQueue, "the queue a citizen's chat starts in when they do not know which agency to ask")
	fs.IntVar(&c.web.ChatBurst, "chat-burst", c.web.ChatBurst, "public chats one client address may open at once, before the refill paces it (phones behind a mobile carrier's shared address count as one)")
	fs.DurationVar(&c.web.ChatRefill, "chat-refill", c.web.ChatRefill, "one more chat per address every this long, after the burst")
	fs.IntVar(&c.web.LoginBurstAddr, "login-burst-addr", c.web.LoginBurstAddr, "logins one client address may try at once (an office whose agents share one address needs about its number of seats); each user name also has its own limit of 10")
	fs.DurationVar(&c.web.LoginRefill, "login-refill", c.web.LoginRefill, "one more login try per address, and per user name, every this long, after the burst")
	fs.IntVar(&c.web.Sockets.SendBuffer, "ws-send-buffer", 256, "frames that may wait for one WebSocket before it is cut as too slow")
	fs.DurationVar(&c.web.Sockets.WriteTimeout, "ws-write-timeout", 10*time.Second, "how long one WebSocket write may take")
	fs.DurationVar(&c.web.Sockets.PongWait, "ws-pong-wait", 60*time.Second, "how long a WebSocket that answers no ping lives (pings go every nine tenths of it, at most 25s)")
	fs.Int64Var(&c.web.Sockets.MaxFrameBytes, "ws-max-frame", 64<<10, "the largest WebSocket frame read, in bytes (a larger one is answered too_large)")
	fs.DurationVar(&c.web.Sockets.AckTimeout, "ws-ack-timeout", 10*time.Second, "how long a frame waits for its change to be durable before it is answered unavailable")
	fs.DurationVar(&c.web.Sockets.ChatAbsent, "chat-absent", 2*time.Minute, "how long a waiting chat keeps its place after the citizen's page went away without leaving (0: for ever)")
	fs.IntVar(&c.web.Sockets.MessageBurst, "chat-message-burst", 10, "messages a citizen may send on one chat at once, before the refill paces them")
	fs.DurationVar(&c.web.Sockets.MessageRefill, "chat-message-refill", time.Second, "one more message per chat every this long, after the burst")
	fs.StringVar(&ice, "ice-servers", "", "comma-separated STUN/TURN URLs the desk's browser softphone uses (turn:user:pass@host:port); the same list as the edge's --ice-servers (none: loopback and a LAN)")
	turnFile, turnTTL := "", iceservers.DefaultTTL
	fs.StringVar(&turnFile, "turn-secret-file", "", "file holding the secret shared with the TURN servers (coturn's static-auth-secret): each desk gets short-lived TURN credentials minted from it, and --ice-servers lists its TURN servers without user:pass@ (TELLONCE_TURN_SECRET gives the secret itself instead; it is never logged)")
	fs.DurationVar(&turnTTL, "turn-credential-ttl", turnTTL, "how long a minted TURN credential lasts; longer than the longest call (each offer of a call gets fresh ones)")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "PEM certificate chain: serve HTTPS (with --tls-key); re-read on SIGHUP and when the file changes")
	fs.StringVar(&c.tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	fs.StringVar(&c.web.MetricsToken, "metrics-token", "", "bearer token /metrics asks for (empty: none; then keep /metrics off public networks with --metrics-addr)")
	fs.StringVar(&c.metricsAddr, "metrics-addr", "", "serve /metrics on this host:port alone, not on --addr")
	fs.StringVar(&c.debugAddr, "debug-addr", "", "loopback host:port serving /debug/pprof/: CPU and heap profiles, execution traces (empty: none)")
	fs.StringVar(&c.lease.NodeID, "node-id", "", "this server's name among the servers on one PostgreSQL database, unique among them (default: host name and port)")
	fs.StringVar(&c.lease.Address, "advertise", "", "host:port where the other servers reach this one, to pass requests to it while it leads (default: the listening address, or the host name and port)")
	fs.DurationVar(&c.lease.Renew, "lease-renew", lease.DefaultRenew, "how often the leading server renews its lease on PostgreSQL, and a standby looks at it")
	fs.DurationVar(&c.lease.TTL, "lease-ttl", lease.DefaultTTL, "how long the lease lasts after a renewal; a standby takes over this long after the leader died (a SIGTERM hands over at once)")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.logFormat, "log-format", "text", "text or json")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: tellonce %s [flags]\n\nFlags (each also read from the environment variable shown):\n", name)
		fs.VisitAll(func(f *flag.Flag) {
			fmt.Fprintf(stderr, "  --%s  (%s)\n      %s", f.Name, envOf(f.Name), f.Usage)
			if f.DefValue != "" && f.DefValue != "false" {
				fmt.Fprintf(stderr, " [default %s]", f.DefValue)
			}
			fmt.Fprintln(stderr)
		})
		fmt.Fprintln(stderr, "\nTELLONCE_ADMIN_PASSWORD sets the first admin's password on an empty database, and TELLONCE_TURN_SECRET the TURN secret (environment only).")
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		env := envOf(f.Name)
		v := getenv(env)
		if envErr != nil || set[f.Name] || v == "" {
			return
		}
		if err := fs.Set(f.Name, v); err != nil {
			envErr = fmt.Errorf("%s=%q: %w", env, v, err)
		}
	})
	if envErr != nil {
		return c, envErr
	}
	if !set["db"] && c.db == "" {
		c.db = getenv("DATABASE_URL")
	}
	if c.recordingDir == "" && !isPostgres(c.db) {
		c.recordingDir = filepath.Join(filepath.Dir(strings.TrimPrefix(strings.TrimPrefix(cmp.Or(c.db, tsql.DefaultSQLitePath), "sqlite://"), "file:")), "recordings")
	}
	origins = strings.TrimSpace(origins)
	if origins != "" {
		for _, o := range strings.Split(origins, ",") {
			if o = strings.TrimSpace(o); o != "" {
				c.web.AllowedOrigins = append(c.web.AllowedOrigins, o)
			}
		}
	}
	trusted, err := parseProxies(proxies)
	if err != nil {
		return c, err
	}
	c.web.TrustedProxies = trusted
	minter, err := turnMinter(turnFile, turnTTL, getenv)
	if err != nil {
		return c, err
	}
	servers, err := parseICE(ice, minter)
	if err != nil {
		return c, err
	}
	if minter != nil {
		c.web.Sockets.TURNCredentials = minter.Mint
	}
	for _, sv := range servers {
		c.web.Sockets.ICEServers = append(c.web.Sockets.ICEServers,
			agents.ICEServer{URLs: []string{sv.URL}, Username: sv.Username, Credential: sv.Credential})
	}
	if c.grace < time.Second || c.grace > time.Hour {
		return c, fmt.Errorf("--reconnect-grace %s: want 1s to 1h", c.grace)
	}
	if c.sessionCache < 0 || c.sessionCache > time.Minute {
		return c, fmt.Errorf("--session-cache %s must be 0-1m", c.sessionCache)
	}
	if c.historyRetention < 24*time.Hour {
		return c, fmt.Errorf("--history-retention %s is too short (at least 24h, or today's charts would lose their morning)", c.historyRetention)
	}
	if c.web.HistoryDays < 0 || c.web.HistoryDays > 3650 {
		return c, fmt.Errorf("--history-days %d: want 0 (off) to 3650", c.web.HistoryDays)
	}
	for _, b := range []struct {
		flag string
		n    int
	}{{"--chat-burst", c.web.ChatBurst}, {"--login-burst-addr", c.web.LoginBurstAddr}} {
		if b.n < 1 || b.n > 100_000 {
			return c, fmt.Errorf("%s %d: want 1 to 100000", b.flag, b.n)
		}
	}
	for _, r := range []struct {
		flag string
		d    time.Duration
	}{{"--chat-refill", c.web.ChatRefill}, {"--login-refill", c.web.LoginRefill}} {
		if r.d < 10*time.Millisecond || r.d > time.Hour {
			return c, fmt.Errorf("%s %s: want 10ms to 1h", r.flag, r.d)
		}
	}
	s := c.web.Sockets
	switch {
	case s.MessageBurst < 1 || s.MessageBurst > 10000:
		return c, fmt.Errorf("--chat-message-burst %d: want 1 to 10000", s.MessageBurst)
	case s.MessageRefill < time.Millisecond || s.MessageRefill > time.Minute:
		return c, fmt.Errorf("--chat-message-refill %s: want 1ms to 1m", s.MessageRefill)
	case s.SendBuffer < 16 || s.SendBuffer > 1<<16:
		return c, fmt.Errorf("--ws-send-buffer %d: want 16 to 65536", s.SendBuffer)
	case s.WriteTimeout < time.Second || s.WriteTimeout > time.Minute:
		return c, fmt.Errorf("--ws-write-timeout %s: want 1s to 1m", s.WriteTimeout)
	case s.PongWait < 5*time.Second || s.PongWait > 10*time.Minute:
		return c, fmt.Errorf("--ws-pong-wait %s: want 5s to 10m", s.PongWait)
	case s.MaxFrameBytes < 4<<10 || s.MaxFrameBytes > 16<<20:
		return c, fmt.Errorf("--ws-max-frame %d: want 4096 to 16777216", s.MaxFrameBytes)
	case s.AckTimeout < time.Second || s.AckTimeout > time.Minute:
		return c, fmt.Errorf("--ws-ack-timeout %s: want 1s to 1m", s.AckTimeout)
	case s.ChatAbsent != 0 && (s.ChatAbsent < 10*time.Second || s.ChatAbsent > 24*time.Hour):
		return c, fmt.Errorf("--chat-absent %s: want 0, or 10s to 24h", s.ChatAbsent)
	}
	if c.debugAddr != "" {
		if err := checkDebugAddr(c.debugAddr); err != nil {
			return c, err
		}
	}
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return c, errTLSPair
	}
	if c.tlsCert != "" {
		// Over HTTPS the session cookie never goes in clear.
		c.web.SecureCookies = true
	}
	c.web.MetricsElsewhere = c.metricsAddr != ""
	probe := c.lease
	probe.NodeID, probe.Address = "n", "h:1" // their defaults come from the listener
	if c.lease.NodeID != "" {
		probe.NodeID = c.lease.NodeID
	}
	if c.lease.Address != "" {
		probe.Address = c.lease.Address
	}
	if err := probe.Check(); err != nil {
		return c, err
	}
	if c.web.SessionTTL < time.Minute {
		return c, fmt.Errorf("--session-ttl %s is too short (at least 1m)", c.web.SessionTTL)
	}
	return c, nil
}

func (c serveConfig) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", c.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch c.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", c.logFormat)
}

// parseProxies reads --trust-proxy: addresses (a host of its own) and
// networks in CIDR form, separated by commas.
func parseProxies(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("--trust-proxy %q: want IP addresses or CIDRs (10.0.0.0/8, 2001:db8::1), separated by commas", f)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// turnMinter reads the TURN secret (--turn-secret-file, or
// TELLONCE_TURN_SECRET from the environment); nil without one. Errors
// never show the secret.
func turnMinter(file string, ttl time.Duration, getenv func(string) string) (*iceservers.Minter, error) {
	secret := []byte(getenv("TELLONCE_TURN_SECRET"))
	if file != "" {
		if len(secret) > 0 {
			return nil, errors.New("--turn-secret-file and TELLONCE_TURN_SECRET: give one of them")
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("--turn-secret-file: %w", err)
		}
		secret = bytes.TrimRight(data, "\r\n")
	}
	if len(secret) == 0 {
		return nil, nil
	}
	m, err := iceservers.NewMinter(secret, ttl)
	if err != nil {
		return nil, fmt.Errorf("--turn-secret-file/TELLONCE_TURN_SECRET, --turn-credential-ttl: %w", err)
	}
	return m, nil
}

// parseICE reads --ice-servers: with a TURN secret, TURN servers carry no
// credentials (they are minted).
func parseICE(list string, minter *iceservers.Minter) ([]iceservers.Server, error) {
	if minter == nil {
		servers, err := iceservers.Parse(list)
		if err != nil {
			return nil, fmt.Errorf("--ice-servers: %w", err)
		}
		return servers, nil
	}
	servers, err := iceservers.ParseMinted(list)
	if err != nil {
		return nil, fmt.Errorf("--ice-servers (with a TURN secret): %w", err)
	}
	return servers, nil
}
