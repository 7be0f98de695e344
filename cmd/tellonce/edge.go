package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"tellonce/dialplan"
	"tellonce/edge"
	"tellonce/iceservers"
	"tellonce/prompts"
	"tellonce/recordings"
)

// runEdge is "tellonce edge": the SIP edge, a gateway client of a running
// tellonce server.
func runEdge(ctx context.Context, args []string, stderr io.Writer, getenv func(string) string) error {
	cfg, opts, err := parseEdge(args, stderr, getenv)
	if err != nil {
		return err
	}
	log, err := opts.logger(stderr)
	if err != nil {
		return err
	}
	e, err := buildEdge(ctx, cfg, opts, log)
	if err != nil {
		return err
	}
	log.Info("edge starting", "udp", cfg.UDP, "tcp", cfg.TCP, "tls", cfg.TLS, "router", cfg.Router.Redacted(), "numbers", len(cfg.Plan.Numbers))
	if opts.debugAddr == "" {
		return e.Run(ctx)
	}
	ln, err := net.Listen("tcp", opts.debugAddr)
	if err != nil {
		return fmt.Errorf("--debug-addr: %w", err)
	}
	log.Info("edge debug page", "url", "http://"+ln.Addr().String()+"/metrics")
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return e.Run(gctx) })
	g.Go(func() error { return newEdgeDebugServer(ln, e, log).Run(gctx) })
	return g.Wait()
}

// edgeOptions are the flags of "tellonce edge" outside edge.Config.
type edgeOptions struct {
	serveConfig        // the log flags
	promptsDir         string
	menuPrompts        string
	recordingDir       string
	recordingRetention time.Duration
	debugAddr          string
}

// buildEdge loads what the edge plays and records with, and builds it.
func buildEdge(ctx context.Context, cfg edge.Config, opts edgeOptions, log *slog.Logger) (*edge.Edge, error) {
	lib, err := prompts.Load(ctx, opts.promptsDir)
	if err != nil {
		return nil, fmt.Errorf("--prompts: %w", err)
	}
	voice := edge.Library{Lib: lib}
	if opts.menuPrompts != "" {
		var missing []string
		if voice.Menus, missing, err = edge.LoadMenuPrompts(opts.menuPrompts, cfg.Plan); err != nil {
			return nil, err
		}
		if len(missing) > 0 {
			log.Warn("menus without their own greeting play the generic one", "missing", missing)
		}
	}
	if opts.recordingDir != "" {
		ret := opts.recordingRetention
		if ret == 0 {
			return nil, errors.New("--recording-retention: 0 would delete every recording at once; negative keeps them for ever")
		}
		if cfg.Recordings, err = recordings.New(recordings.Config{Dir: opts.recordingDir, Retention: ret, Log: log}); err != nil {
			return nil, fmt.Errorf("--recording-dir: %w", err)
		}
	}
	return edge.New(cfg, log, voice)
}

func parseEdge(args []string, stderr io.Writer, getenv func(string) string) (edge.Config, edgeOptions, error) {
	var c edge.Config
	var lc edgeOptions
	fs := flag.NewFlagSet("edge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var router, plan, allow, phones, ice, publicIPs string
	fs.StringVar(&c.UDP, "sip-udp", "0.0.0.0:5060", "SIP over UDP listen address (empty: none)")
	fs.StringVar(&c.TCP, "sip-tcp", "0.0.0.0:5060", "SIP over TCP listen address (empty: none)")
	fs.StringVar(&c.TLS, "sip-tls", "", "SIP over TLS listen address, with --tls-cert and --tls-key (empty: none)")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "PEM certificate file for --sip-tls")
	fs.StringVar(&c.TLSKey, "tls-key", "", "PEM key file for --sip-tls")
	fs.StringVar(&c.ExternalHost, "external-host", "", "address put in Contact and SDP when the edge is behind NAT (default: the listen address)")
	fs.StringVar(&router, "router", "http://127.0.0.1:8080/", "base URL of the tellonce server")
	fs.StringVar(&c.Username, "gateway-user", "", "the gateway account's username; its password comes from TELLONCE_GATEWAY_PASSWORD (or give TELLONCE_GATEWAY_TOKEN instead)")
	fs.StringVar(&plan, "dialplan", "", "the dial plan file (YAML or JSON; see docs/telephony.md)")
	fs.DurationVar(&c.AnnounceEvery, "announce-every", time.Minute, "how often a waiting caller hears their place and estimated wait")
	fs.IntVar(&c.MaxCalls, "max-calls", 200, "calls carried at once; more are answered 503 with Retry-After")
	fs.DurationVar(&c.RingTimeout, "ring-timeout", 20*time.Second, "how long an agent's phone rings before the offer counts as missed")
	fs.DurationVar(&c.TransferGrace, "transfer-grace", 2*time.Second, "after a transfer, how long the first agent stays on the line waiting for the next agent's phone to ring (a warm transfer's rings at once)")
	fs.StringVar(&allow, "trunk-allow", "", "comma-separated addresses and networks whose INVITEs are accepted (empty: any)")
	fs.StringVar(&c.Trunk, "trunk", "", "outbound trunk SIP URI for callbacks (sip:host:port); numbers are dialled as its user")
	fs.StringVar(&c.TrunkUsername, "trunk-user", "", "username for the trunk's digest challenge; the password comes from TELLONCE_TRUNK_PASSWORD")
	fs.StringVar(&phones, "phones", "", "the agents' phones file: usernames and passwords of phones that REGISTER with the edge")
	fs.StringVar(&lc.recordingDir, "recording-dir", "", "directory where answered legs are recorded, one WAV per leg, and wait for their upload to the server (empty: nothing is recorded)")
	fs.DurationVar(&lc.recordingRetention, "recording-retention", 365*24*time.Hour, "how long a recording the server has not taken stays in the spool after its leg started; set it to the server's --transcript-retention (negative: forever)")
	fs.StringVar(&lc.promptsDir, "prompts", "", "directory of the operator's prompt recordings replacing the built-in ones (ko/please-hold.wav, …; see docs/telephony.md)")
	fs.StringVar(&lc.menuPrompts, "menu-prompts", "", "directory of the menus' greetings: <lang>/<greeting key>.wav (8 kHz mono μ-law)")
	fs.StringVar(&ice, "ice-servers", "", "comma-separated STUN/TURN URLs of the browser softphone's peer connections (turn:user:pass@host:port); give serve the same list (none: loopback and a LAN)")
	turnFile, turnTTL := "", iceservers.DefaultTTL
	fs.StringVar(&turnFile, "turn-secret-file", "", "file holding the secret shared with the TURN servers (coturn's static-auth-secret): the edge mints its own short-lived TURN credentials, and --ice-servers lists TURN servers without user:pass@ (TELLONCE_TURN_SECRET gives the secret itself instead; it is never logged)")
	fs.DurationVar(&turnTTL, "turn-credential-ttl", turnTTL, "how long the edge's minted TURN credentials last (each peer connection gets fresh ones)")
	fs.DurationVar(&c.SoftphoneGrace, "softphone-grace", 30*time.Second, "how long a browser agent's call waits, the caller on hold audio, for the desk to reconnect its audio before the agent's leg ends")
	fs.StringVar(&c.RTCPorts, "webrtc-ports", "", "UDP ports of the softphones' peer connections: PORT (one port for all, demultiplexed) or LOW-HIGH (one per peer); empty: any ephemeral port")
	fs.StringVar(&c.RTCIP, "webrtc-ip", "", "the one local address the softphones' peer connections use (empty: every interface)")
	fs.StringVar(&publicIPs, "webrtc-public-ip", "", "comma-separated public addresses put in the softphones' candidates when the edge is behind 1:1 NAT")
	fs.StringVar(&lc.debugAddr, "debug-addr", "", "loopback address serving /metrics (calls, Go runtime, process) and /debug/pprof/ (empty: none)")
	fs.StringVar(&lc.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&lc.logFormat, "log-format", "text", "text or json")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: tellonce edge [flags]\n\nThe SIP edge: answers calls, plays the dial plan's menus, puts callers in line\nand bridges them to agents' phones, as a gateway client of --router.\n\nFlags (each also read from the environment variable shown):\n")
		fs.VisitAll(func(f *flag.Flag) {
			fmt.Fprintf(stderr, "  --%s  (%s)\n      %s", f.Name, envOf(f.Name), f.Usage)
			if f.DefValue != "" && f.DefValue != "false" {
				fmt.Fprintf(stderr, " [default %s]", f.DefValue)
			}
			fmt.Fprintln(stderr)
		})
		fmt.Fprintln(stderr, "\nTELLONCE_GATEWAY_PASSWORD, TELLONCE_GATEWAY_TOKEN, TELLONCE_TRUNK_PASSWORD and TELLONCE_TURN_SECRET are read from the environment only.")
	}
	if err := fs.Parse(args); err != nil {
		return c, lc, err
	}
	if fs.NArg() > 0 {
		return c, lc, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		env := envOf(f.Name)
		if v := getenv(env); envErr == nil && !set[f.Name] && v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				envErr = fmt.Errorf("%s=%q: %w", env, v, err)
			}
		}
	})
	if envErr != nil {
		return c, lc, envErr
	}
	if lc.debugAddr != "" {
		if err := checkDebugAddr(lc.debugAddr); err != nil {
			return c, lc, err
		}
	}
	c.Password = getenv("TELLONCE_GATEWAY_PASSWORD")
	c.Token = getenv("TELLONCE_GATEWAY_TOKEN")
	c.TrunkPassword = getenv("TELLONCE_TRUNK_PASSWORD")
	u, err := url.Parse(router)
	if err != nil {
		return c, lc, fmt.Errorf("--router %q: %w", router, err)
	}
	c.Router = u
	if plan == "" {
		return c, lc, errors.New("--dialplan: a dial plan file is needed (see demo/dialplan.yaml)")
	}
	data, err := os.ReadFile(plan)
	if err != nil {
		return c, lc, fmt.Errorf("--dialplan: %w", err)
	}
	if c.Plan, err = dialplan.Parse(data); err != nil {
		return c, lc, fmt.Errorf("--dialplan %s: %w", plan, err)
	}
	if c.TrunkAllow, err = edge.ParseAllowList(allow); err != nil {
		return c, lc, err
	}
	if phones != "" {
		if c.Phones, err = edge.LoadPhones(phones); err != nil {
			return c, lc, err
		}
	}
	if c.TURN, err = turnMinter(turnFile, turnTTL, getenv); err != nil {
		return c, lc, err
	}
	if c.ICEServers, err = parseICE(ice, c.TURN); err != nil {
		return c, lc, err
	}
	for _, ip := range strings.Split(publicIPs, ",") {
		if ip = strings.TrimSpace(ip); ip != "" {
			c.NAT1To1IPs = append(c.NAT1To1IPs, ip)
		}
	}
	return c, lc, c.Validate()
}
