// Package sipptest runs SIPp, an independent SIP implementation, against
// tellonce in tests: a scenario as a child process bounded by a context,
// on free ports, with its statistics, message counts and RTP packet counts
// read back. The scenarios (scenarios/*.xml, embedded) are a caller that
// dials a number, sends DTMF and waits in line; a caller who abandons; and
// a phone that answers with RTP echo (an agent's phone, or a citizen's
// phone taking a callback).
//
// Only tests import this package. SIPp is the Debian package sip-tester;
// `make test` installs it (scripts/install-deps sipp). Without it the
// tests that need it fail with a message saying so: they never skip.
package sipptest

import (
	"bufio"
	"bytes"
	"context"
	"embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The embedded scenarios, by name for Config.Scenario.
const (
	// Caller dials Config.Service, sends Config.Media (tone, DTMF digits,
	// tone) and waits for the far end's BYE; after Config.Hold without
	// one, it hangs up itself.
	Caller = "caller.xml"
	// Abandon is Caller that hangs up after Config.Hold; a BYE from the
	// far end before then fails the call.
	Abandon = "abandon.xml"
	// Phone answers, echoes RTP (Config.Echo) and waits for the far end's
	// BYE; after Config.Hold without one, it hangs up itself. It is an
	// agent's phone and a citizen's phone answering a callback.
	Phone = "phone.xml"
)

//go:embed scenarios/*.xml
var scenarios embed.FS

// Config is one SIPp run.
type Config struct {
	// Scenario is one of the embedded scenarios or the path of another.
	Scenario string
	// Remote is the host:port to call; empty for a scenario that answers.
	Remote string
	// Service is the number a caller dials (-s).
	Service string
	// Calls is how many calls to make or answer before exiting (-m); 1 if
	// zero.
	Calls int
	// Rate is how many calls a second a caller starts (-r); SIPp's 10 if
	// zero. Limit caps the calls at once (-l); SIPp's default if zero.
	Rate, Limit int
	// Hold is how long a caller waits for the far end's BYE before
	// hanging up (-recv_timeout, and -d for Abandon); 30 s if zero.
	Hold time.Duration
	// Media, for a caller, is the RTP it sends once answered.
	Media *Media
	// Echo makes SIPp echo the RTP it receives on its media port, the
	// port its SDP answer names (-rtp_echo).
	Echo bool
	// Timeout ends the run with an error (-timeout, -timeout_error);
	// Hold plus 30 s if zero. The context can end it sooner.
	Timeout time.Duration
	// Args are appended to SIPp's command line.
	Args []string
}

// Result is what a finished run reports.
type Result struct {
	// ExitCode is SIPp's: 0 when every call succeeded, 1 when some failed,
	// 97 or 99 for other ends, negative for fatal errors.
	ExitCode int
	// Created, Successful and Failed count calls (-trace_stat's
	// TotalCallCreated, SuccessfulCall(C), FailedCall(C)).
	Created, Successful, Failed int
	// RTPSent counts the RTP packets a caller's scenario sent from its
	// pcap; RTPEchoed those a phone echoed back (received and returned).
	// -1 when SIPp did not report them. With many calls at once both may
	// fall short: RTPSent by a packet or two (SIPp's pcap-playing threads
	// share the counter without a lock), RTPEchoed by what the echo socket
	// dropped on a busy machine. SIPp reports them on its screen,
	// which the runner dumps every ScreenEvery; the counts are those of
	// the last dump, so media should end that long before the call.
	RTPSent, RTPEchoed int
	// Counts is -trace_counts' last row: how many times each scenario
	// step happened, by column ("7_BYE_Recv", "12_BYE_Sent").
	Counts map[string]int
	// Errors is SIPp's error log (-trace_err).
	Errors string
	// Dir holds every file of the run.
	Dir string
}

// Count sums the Counts columns whose names end with suffix: Count("BYE_Recv").
func (r Result) Count(suffix string) int {
	n := 0
	for k, v := range r.Counts {
		if strings.HasSuffix(k, "_"+suffix) {
			n += v
		}
	}
	return n
}

func (r Result) String() string {
	errs := r.Errors
	if len(errs) > 2000 {
		errs = errs[:2000] + "…"
	}
	return fmt.Sprintf("exit %d, calls created %d, successful %d, failed %d, RTP sent %d, echoed %d (files in %s)\n%s",
		r.ExitCode, r.Created, r.Successful, r.Failed, r.RTPSent, r.RTPEchoed, r.Dir, errs)
}

// ScreenEvery is how often a running SIPp is asked (SIGUSR2) to dump its
// screens, which carry the RTP counts.
const ScreenEvery = 100 * time.Millisecond

// Process is a running SIPp.
type Process struct {
	// Addr is the SIP address it listens on (127.0.0.1:port).
	Addr string
	// MediaPort is its RTP port (-mp): where Phone's SDP points.
	MediaPort int

	dir  string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Binary is SIPp's executable, found on PATH; a missing one fails t with
// what to install.
func Binary(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("sipp")
	if err != nil {
		t.Fatalf("sipptest: sipp not found on PATH (%v): install it with `scripts/install-deps sipp` "+
			"(Debian package sip-tester); `make test` installs it", err)
	}
	return path
}

// Start starts SIPp with cfg in a new directory under t.TempDir() and
// returns once it listens on its SIP port. The process ends when its
// calls are done, at its timeout, or when ctx ends.
func Start(ctx context.Context, t testing.TB, cfg Config) *Process {
	t.Helper()
	p, err := start(ctx, t, cfg)
	if err != nil {
		t.Fatalf("sipptest: %v", err)
	}
	t.Cleanup(func() {
		if p.cmd.Process != nil {
			_ = p.cmd.Process.Kill()
		}
		<-p.done
	})
	return p
}

// Run is Start and Wait.
func Run(ctx context.Context, t testing.TB, cfg Config) Result {
	t.Helper()
	res, err := Start(ctx, t, cfg).Wait()
	if err != nil {
		t.Fatalf("sipptest: %v", err)
	}
	return res
}

func start(ctx context.Context, t testing.TB, cfg Config) (*Process, error) {
	bin := Binary(t)
	dir, err := os.MkdirTemp(t.TempDir(), "sipp-")
	if err != nil {
		return nil, err
	}
	scenario, err := scenarioFile(dir, cfg.Scenario)
	if err != nil {
		return nil, err
	}
	if cfg.Media != nil {
		if err := cfg.Media.WritePcap(filepath.Join(dir, "caller.pcap")); err != nil {
			return nil, err
		}
	}
	sipPort, err := freePorts(1)
	if err != nil {
		return nil, err
	}
	// The media port and the one two above it, which SIPp binds for a
	// second (video) echo stream.
	mediaPort, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	controlPort, err := freePorts(1)
	if err != nil {
		return nil, err
	}
	calls := max(cfg.Calls, 1)
	hold := cfg.Hold
	if hold <= 0 {
		hold = 30 * time.Second
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = hold + 30*time.Second
	}
	args := []string{}
	if cfg.Remote != "" {
		args = append(args, cfg.Remote)
	}
	args = append(args,
		"-sf", scenario,
		"-i", "127.0.0.1", "-p", strconv.Itoa(sipPort),
		"-mi", "127.0.0.1", "-mp", strconv.Itoa(mediaPort),
		"-cp", strconv.Itoa(controlPort),
		"-m", strconv.Itoa(calls),
		"-recv_timeout", strconv.FormatInt(hold.Milliseconds(), 10),
		"-d", strconv.FormatInt(hold.Milliseconds(), 10),
		"-timeout", strconv.FormatInt(int64(timeout.Seconds()+0.999), 10)+"s", "-timeout_error",
		"-trace_stat", "-stf", "stats.csv", "-fd", "1",
		"-trace_counts", "-trace_err", "-trace_screen",
		// Answer in-dialog OPTIONS, INFO, NOTIFY and UPDATE with 200, as a
		// phone would, instead of failing the call on them.
		"-aa",
		"-nostdin",
	)
	if cfg.Service != "" {
		args = append(args, "-s", cfg.Service)
	}
	if cfg.Rate > 0 {
		args = append(args, "-r", strconv.Itoa(cfg.Rate))
	}
	if cfg.Limit > 0 {
		args = append(args, "-l", strconv.Itoa(cfg.Limit))
	}
	if cfg.Echo {
		args = append(args, "-rtp_echo")
	}
	args = append(args, cfg.Args...)

	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	out, err := os.Create(filepath.Join(dir, "output.txt"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		_ = out.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	p := &Process{Addr: fmt.Sprintf("127.0.0.1:%d", sipPort), MediaPort: mediaPort, dir: dir, cmd: cmd, done: make(chan struct{})}
	listening := make(chan struct{})
	go func() {
		defer close(p.done)
		p.err = cmd.Wait()
		_ = out.Close()
	}()
	go p.dumpScreens(sipPort, listening)
	select {
	case <-listening:
		return p, nil
	case <-p.done:
		res, _ := p.result()
		return nil, fmt.Errorf("sipp ended before listening on port %d: %v\n%s", sipPort, p.err, res)
	case <-time.After(listenWithin):
		_ = cmd.Process.Kill()
		<-p.done
		return nil, fmt.Errorf("sipp did not listen on port %d within %s", sipPort, listenWithin)
	}
}

// listenWithin bounds SIPp's start. It binds its port within
// milliseconds on an idle machine; a loaded test machine (every package
// building and testing at once) has been seen to take over 10 s.
const listenWithin = 45 * time.Second

// dumpScreens waits until SIPp has bound its SIP port (it installs its
// signal handlers before, and a SIGUSR2 before them would kill it), says
// so, then sends SIGUSR2 every ScreenEvery until it exits.
func (p *Process) dumpScreens(sipPort int, listening chan<- struct{}) {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !udpBound(sipPort) {
		select {
		case <-p.done:
			return
		case <-tick.C:
		}
	}
	close(listening)
	tick.Reset(ScreenEvery)
	for {
		select {
		case <-p.done:
			return
		case <-tick.C:
			_ = p.cmd.Process.Signal(syscall.SIGUSR2)
		}
	}
}

// Wait waits for SIPp to exit and reads its results. The error is for a
// run whose results cannot be read; a run whose calls failed is told by
// the Result.
func (p *Process) Wait() (Result, error) {
	<-p.done
	var exit *exec.ExitError
	if p.err != nil && !errors.As(p.err, &exit) {
		return Result{Dir: p.dir}, fmt.Errorf("sipp: %w", p.err)
	}
	return p.result()
}

func (p *Process) result() (Result, error) {
	r := Result{ExitCode: p.cmd.ProcessState.ExitCode(), RTPSent: -1, RTPEchoed: -1, Dir: p.dir}
	if b, err := readGlob(p.dir, "*_errors.log"); err == nil {
		r.Errors = string(b)
	}
	stats, err := lastRow(filepath.Join(p.dir, "stats.csv"))
	if err != nil {
		out, _ := os.ReadFile(filepath.Join(p.dir, "output.txt"))
		return r, fmt.Errorf("reading statistics: %w; sipp's output:\n%s", err, out)
	}
	r.Created = stats["TotalCallCreated"]
	r.Successful = stats["SuccessfulCall(C)"]
	r.Failed = stats["FailedCall(C)"]
	if matches, _ := filepath.Glob(filepath.Join(p.dir, "*_counts.csv")); len(matches) == 1 {
		r.Counts, _ = lastRow(matches[0])
	}
	if b, err := readGlob(p.dir, "*_screen.log"); err == nil {
		r.RTPSent, r.RTPEchoed = rtpCounts(b)
	}
	return r, nil
}

// scenarioFile copies the scenario into dir, where SIPp writes its files
// next to it and finds caller.pcap.
func scenarioFile(dir, name string) (string, error) {
	b, err := scenarios.ReadFile("scenarios/" + name)
	if err != nil {
		if b, err = os.ReadFile(name); err != nil {
			return "", fmt.Errorf("scenario %q: neither embedded nor a readable file: %w", name, err)
		}
	}
	path := filepath.Join(dir, filepath.Base(name))
	return path, os.WriteFile(path, b, 0o644)
}

// freePorts finds a free UDP port on 127.0.0.1 whose n-1 even successors
// (port+2, …) are free too.
func freePorts(n int) (int, error) {
	for range 50 {
		first, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := first.LocalAddr().(*net.UDPAddr).Port
		held := []net.PacketConn{first}
		ok := true
		for i := 1; i < n && ok; i++ {
			c, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port+2*i))
			if err != nil {
				ok = false
				break
			}
			held = append(held, c)
		}
		for _, c := range held {
			_ = c.Close()
		}
		if ok {
			return port, nil
		}
	}
	return 0, errors.New("no free UDP ports")
}

// udpBound reports whether some socket is bound to the UDP port, from
// /proc/net/udp: looking, not binding, so as not to take the port from
// SIPp at the moment it binds.
func udpBound(port int) bool {
	f, err := os.Open("/proc/net/udp")
	if err != nil {
		return false
	}
	defer f.Close()
	want := fmt.Sprintf(":%04X", port)
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) > 1 && strings.HasSuffix(fields[1], want) {
			return true
		}
	}
	return false
}

// lastRow reads a SIPp CSV (';'-separated, a header row) into its last
// row's integer columns.
func lastRow(path string) (map[string]int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	rd := csv.NewReader(bytes.NewReader(b))
	rd.Comma = ';'
	rd.FieldsPerRecord = -1
	rd.LazyQuotes = true
	var header, last []string
	for {
		rec, err := rd.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Base(path), err)
		}
		if header == nil {
			header = rec
			continue
		}
		last = rec
	}
	if last == nil {
		return nil, fmt.Errorf("%s: no rows", filepath.Base(path))
	}
	row := make(map[string]int, len(header))
	for i, name := range header {
		if i >= len(last) {
			break
		}
		if v, err := strconv.Atoi(strings.TrimSpace(last[i])); err == nil {
			row[name] = v
		}
	}
	return row, nil
}

var (
	sentLine   = regexp.MustCompile(`(?m)^\s*(\d+) Total RTP pckts sent`)
	echoedLine = regexp.MustCompile(`(?m)^\s*(\d+) Total echo RTP pckts 1st stream`)
)

// rtpCounts reads the last RTP counts from SIPp's screen dumps.
func rtpCounts(screens []byte) (sent, echoed int) {
	last := func(re *regexp.Regexp) int {
		m := re.FindAllSubmatch(screens, -1)
		if len(m) == 0 {
			return -1
		}
		n, _ := strconv.Atoi(string(m[len(m)-1][1]))
		return n
	}
	return last(sentLine), last(echoedLine)
}

func readGlob(dir, pattern string) ([]byte, error) {
	matches, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil || len(matches) == 0 {
		return nil, fmt.Errorf("no %s", pattern)
	}
	return os.ReadFile(matches[0])
}

// RTP reads a running SIPp's RTP counts from its latest screen dump (see
// Result.RTPSent and RTPEchoed), so that a test can await media instead
// of sleeping until the run ends; -1 before the first dump that has them.
func (p *Process) RTP() (sent, echoed int) {
	b, err := readGlob(p.dir, "*_screen.log")
	if err != nil {
		return -1, -1
	}
	return rtpCounts(b)
}
