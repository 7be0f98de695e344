package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emiago/diago"
	"github.com/emiago/diago/media"
	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/pion/webrtc/v4"
	pmedia "github.com/pion/webrtc/v4/pkg/media"
	"golang.org/x/net/ipv4"

	"tellonce/clocktest"
	"tellonce/demo"
	"tellonce/rtpsock"
	"tellonce/servertest"
	"tellonce/sql/sqltest"
)

// The edge under load, measured alone (docs/telephony.md#figures): the
// server and the edge are the built binary, each its own process, and
// this test process plays every caller, every agent's desk and every
// agent's phone (or browser). The edge's CPU and memory come from
// /proc/PID and its --debug-addr; the one-way delay of each RTP frame is
// measured here on one clock, from the send time the sender writes into
// the payload. Off unless asked for:
//
//	TELLONCE_EDGE_LOAD=500 go test -count=1 -v -timeout 30m -run '^TestEdgeLoadSIP$' ./cmd/tellonce/
//	TELLONCE_EDGE_LOAD_BROWSER=200 go test -count=1 -v -timeout 30m -run '^TestEdgeLoadBrowser$' ./cmd/tellonce/
//
// Without TELLONCE_EDGE_LOAD (or _BROWSER) each runs its short form: 10
// SIP or 4 browser calls for 3 s, in `make test`.
// TELLONCE_EDGE_LOAD_SECONDS (default 20) is the measured stretch;
// TELLONCE_EDGE_LOAD_PHASES=N sends the load side's frames in N bursts
// every 20 ms instead of each leg on its own phase (see loadPacing);
// TELLONCE_EDGE_LOAD_MEDIA=per-leg has each of the load side's legs
// hear the edge on its own socket instead of on a few shared ones (see
// loadMediaShared);
// TELLONCE_EDGE_LOAD_STRACE=1 counts the edge's system calls over the
// window with strace (which slows it);
// TELLONCE_EDGE_LOAD_PROFILE=FILE keeps a CPU profile of the edge over
// it and logs its top entries (and the load process's in FILE.load);
// TELLONCE_EDGE_LOAD_BIN=FILE runs that
// binary as the server and the edge instead of building this tree's
// (an older edge against the same load side, back to back).

// loadCalls reads the calls to bridge from name. Unset, the test runs its
// short form, short calls for a few seconds, so that `make test` carries
// the whole rig (server and edge as processes of their own, the load
// side's SIP or browser legs) and checks that audio flows both ways,
// without measuring anything.
func loadCalls(t *testing.T, name string, short int) (calls int, isShort bool) {
	if n := loadEnv(t, name); n > 0 {
		return n, false
	}
	return short, true
}

// shortWindow is the measured stretch of a short form, unless
// TELLONCE_EDGE_LOAD_SECONDS says otherwise.
func (r *loadRig) shortWindow() {
	if os.Getenv("TELLONCE_EDGE_LOAD_SECONDS") == "" {
		r.window = 3 * time.Second
	}
}

// checkBothWays fails the test when a direction of the bridged calls
// carried no audio.
func checkBothWays(t *testing.T, up, down loadResult) {
	t.Helper()
	if up.heard == 0 || down.heard == 0 {
		t.Errorf("frames heard: %d towards the agents, %d towards the callers; want audio both ways", up.heard, down.heard)
	}
}

// loadEnv reads a positive number from the environment; 0 when unset.
func loadEnv(t *testing.T, name string) int {
	v := os.Getenv(name)
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

// loadPace reads TELLONCE_EDGE_LOAD_BROWSER_PACE: the time between two
// desks' accepts in the browser load test (0: every desk at once).
func loadPace(t *testing.T) time.Duration {
	v := os.Getenv("TELLONCE_EDGE_LOAD_BROWSER_PACE")
	if v == "" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 || d > 10*time.Second {
		t.Fatalf("TELLONCE_EDGE_LOAD_BROWSER_PACE=%q: want a duration above 0 and at most 10s", v)
	}
	return d
}

// loadRig is the server and the edge as processes of their own.
type loadRig struct {
	t       *testing.T
	bin     string
	server  *binaryProcess
	edge    *exec.Cmd
	edgeBin string
	edgeLog *servertest.LogBuffer
	sipAddr string
	debug   string // http://127.0.0.1:port
	calls   int
	window  time.Duration
	// idleGoroutines is the edge's goroutine count before the first call.
	idleGoroutines float64
	// edgeCPU and loadCPU are the edge's and this process's CPU time
	// (utime + stime) over the window.
	edgeCPU, loadCPU time.Duration
	// syscalls is strace -c's count of the edge's system calls over the
	// window, by name, with TELLONCE_EDGE_LOAD_STRACE; nil without.
	syscalls map[string]int64
}

// strace counts the edge's system calls (strace -c -f) from now until
// the function it returns is called, when TELLONCE_EDGE_LOAD_STRACE=1;
// that function returns the counts by name and logs strace's table.
// strace stops the edge at every system call, so the window's delays
// and its CPU are not the edge's own then; the counts are.
func (r *loadRig) strace() func() map[string]int64 {
	if loadEnv(r.t, "TELLONCE_EDGE_LOAD_STRACE") == 0 {
		return func() map[string]int64 { return nil }
	}
	out := &servertest.LogBuffer{}
	cmd := exec.Command("strace", "-c", "-f", "-p", strconv.Itoa(r.edge.Process.Pid))
	cmd.Stderr, cmd.Stdout = out, out
	if err := cmd.Start(); err != nil {
		r.t.Errorf("strace: %v", err)
		return func() map[string]int64 { return nil }
	}
	// strace attaches to every thread before it counts: a fixed wait,
	// there being nothing of it to await from here.
	time.Sleep(time.Second)
	return func() map[string]int64 {
		_ = cmd.Process.Signal(syscall.SIGINT)
		_ = cmd.Wait()
		r.t.Logf("the edge's system calls over the window (strace -c -f):\n%s", out.String())
		counts := map[string]int64{}
		for line := range strings.SplitSeq(out.String(), "\n") {
			f := strings.Fields(line)
			// % time, seconds, usecs/call, calls, [errors,] syscall
			if len(f) < 5 || len(f) > 6 || f[len(f)-1] == "total" {
				continue
			}
			if n, err := strconv.ParseInt(f[3], 10, 64); err == nil {
				counts[f[len(f)-1]] = n
			}
		}
		return counts
	}
}

// startEdge starts the edge process on ports of its own and waits for its
// gateway socket to be up; false when the process exited first.
func (r *loadRig) startEdge(plan string, edgeFlags []string) bool {
	t := r.t
	t.Helper()
	r.sipAddr = "127.0.0.1:" + strconv.Itoa(freePort(t))
	debugAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	r.debug = "http://" + debugAddr
	r.edgeLog = &servertest.LogBuffer{}
	edge, logs := exec.Command(r.edgeBin, append([]string{"edge", "--sip-udp", r.sipAddr, "--sip-tcp", "", "--router", r.server.server.base,
		"--gateway-user", "gateway", "--dialplan", plan, "--max-calls", strconv.Itoa(r.calls + 10), "--ring-timeout", "60s",
		"--announce-every", "1m", "--debug-addr", debugAddr}, edgeFlags...)...), r.edgeLog
	r.edge = edge
	edge.Env = append(os.Environ(), "TELLONCE_GATEWAY_PASSWORD="+demo.Password)
	edge.Stderr = logs
	if err := edge.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = edge.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = edge.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = edge.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("edge log (pid %d):\n%s", edge.Process.Pid, tail(logs.String(), 60))
		}
	})
	up := false
	clocktest.EventuallyNil(t, "the edge's gateway socket up", time.Minute, func() error {
		select {
		case <-exited:
			return nil // nothing more to wait for
		default:
		}
		if v := r.metric("tellonce_edge_gateway_online"); v != 1 {
			return fmt.Errorf("tellonce_edge_gateway_online %v", v)
		}
		up = true
		return nil
	})
	return up
}

func startLoadRig(t *testing.T, calls int, edgeFlags ...string) *loadRig {
	t.Helper()
	r := &loadRig{t: t, calls: calls, window: 20 * time.Second}
	if s := loadEnv(t, "TELLONCE_EDGE_LOAD_SECONDS"); s > 0 {
		r.window = time.Duration(s) * time.Second
	}
	dir := t.TempDir()
	r.bin = filepath.Join(dir, "tellonce")
	if bin := os.Getenv("TELLONCE_EDGE_LOAD_BIN"); bin != "" {
		r.bin = bin
	} else if out, err := exec.Command("go", "build", "-o", r.bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	r.server = startBinary(t, r.bin, sqltest.DSN(t, "sqlite"), "--login-burst-addr", strconv.Itoa(calls+50))
	plan := filepath.Join(dir, "dialplan.yaml")
	if err := os.WriteFile(plan, []byte(edgePlan), 0o600); err != nil {
		t.Fatal(err)
	}
	// TELLONCE_EDGE_LOAD_EDGE_BIN runs another build's edge against this
	// tree's server and load: a before/after comparison back to back.
	r.edgeBin = cmp.Or(os.Getenv("TELLONCE_EDGE_LOAD_EDGE_BIN"), r.bin)
	// The edge's ports were free when freePort handed them out, but
	// another process may bind one first (the debug port is probed for
	// UDP and bound for TCP, and the tests beside this one open TCP
	// connections all the time): an edge that could not bind its ports is
	// started again on others.
	for attempt := 1; !r.startEdge(plan, edgeFlags); attempt++ {
		if attempt == 3 || !strings.Contains(r.edgeLog.String(), "address already in use") {
			t.Fatalf("the edge exited before its gateway socket was up:\n%s", tail(r.edgeLog.String(), 40))
		}
		t.Logf("the edge could not bind its ports; again on others: %s", tail(r.edgeLog.String(), 2))
	}
	r.idleGoroutines = r.metric("go_goroutines")
	return r
}

// warnings are the edge's log lines above info, the first 40.
func (r *loadRig) warnings() string {
	var out []string
	for line := range strings.SplitSeq(r.edgeLog.String(), "\n") {
		if !strings.Contains(line, "level=INFO") && strings.TrimSpace(line) != "" && len(out) < 40 {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// metric reads one unlabelled value from the edge's /metrics; -1 when
// it cannot.
func (r *loadRig) metric(name string) float64 {
	// Bounded: whatever holds the port may not be the edge.
	c := http.Client{Timeout: 5 * time.Second}
	res, err := c.Get(r.debug + "/metrics")
	if err != nil {
		return -1
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

// procUsage is a process's CPU time so far and resident memory now.
type procUsage struct {
	cpu time.Duration
	rss int64 // bytes
}

// clockTicks is the kernel's USER_HZ, the unit of /proc/PID/stat's times.
func clockTicks() int64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if n, perr := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err == nil && perr == nil && n > 0 {
		return n
	}
	return 100
}

func readProc(t *testing.T, pid int, hz int64) procUsage {
	t.Helper()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command name, which may hold spaces: state is
	// field 3, utime 14, stime 15.
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	var u procUsage
	u.cpu = time.Duration((ut + st) * int64(time.Second) / hz)
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			u.rss = kb * 1024
		}
	}
	return u
}

// profile takes a CPU profile of the edge over d into TELLONCE_EDGE_LOAD_PROFILE,
// when set, and one of the load process until the returned function is
// called into FILE.load; that function waits for both and logs their top.
func (r *loadRig) profile(d time.Duration) func() {
	path := os.Getenv("TELLONCE_EDGE_LOAD_PROFILE")
	if path == "" {
		return func() {}
	}
	lf, lerr := os.Create(path + ".load")
	if lerr == nil {
		if lerr = pprof.StartCPUProfile(lf); lerr != nil {
			_ = lf.Close()
		}
	}
	stopLoad := func() {
		if lerr == nil {
			pprof.StopCPUProfile()
			lerr = lf.Close()
		}
		if lerr != nil {
			r.t.Errorf("the load process's CPU profile: %v", lerr)
			return
		}
		out, err := exec.Command("go", "tool", "pprof", "-top", "-nodecount=30", path+".load").CombinedOutput()
		if err != nil {
			r.t.Errorf("go tool pprof: %v", err)
		}
		r.t.Logf("load process CPU profile %s.load:\n%s", path, out)
	}
	done := make(chan error, 1)
	go func() {
		res, err := http.Get(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", r.debug, int(d.Seconds())))
		if err != nil {
			done <- err
			return
		}
		defer res.Body.Close()
		f, err := os.Create(path)
		if err != nil {
			done <- err
			return
		}
		_, err = io.Copy(f, res.Body)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		done <- err
	}()
	return func() {
		stopLoad()
		if err := <-done; err != nil {
			r.t.Errorf("edge CPU profile: %v", err)
			return
		}
		out, err := exec.Command("go", "tool", "pprof", "-top", "-nodecount=30", r.edgeBin, path).CombinedOutput()
		if err != nil {
			r.t.Errorf("go tool pprof: %v", err)
		}
		r.t.Logf("edge CPU profile %s:\n%s", path, out)
	}
}

// Frames on the load side: 8 bytes of send time (ns since the run's
// base), then the direction's mark to the end of the 160-byte frame,
// so that prompts and hold music are never taken for a frame.
const (
	markCaller = 0x22 // the caller's frames, heard by the agent
	markAgent  = 0x11 // the agent's frames, heard by the caller
)

// loadLeg is one side of a call on the load side.
type loadLeg struct {
	// send writes a frame unpaced: one sender serves many legs (an RTP
	// packetizer's Write would wait for its own 20 ms clock after each).
	send func([]byte) error
	// out, when set (a SIP leg), has run send the leg's frames from its
	// own sockets in batches instead of send: the leg's RTP stream.
	out  *rtpOut
	mark byte
	// sent counts the frames sent inside the window; the peer leg's
	// heard those heard; delays their one-way delays.
	sent, heard atomic.Int64
	mu          sync.Mutex
	// delays to each frame's arrival, readDelays to its read (see
	// loadResult).
	delays, readDelays []time.Duration
	// first is when the first frame of the other side was heard.
	first atomic.Int64
}

// loadMedia sends every leg's frames every 20 ms from a few goroutines
// (not one timer per leg: the load process must not starve the edge it
// measures) and takes each leg's frames on its reader. Each leg has a
// slot of the 20 ms, fixed when it is added; see pacing.
type loadMedia struct {
	base     time.Time
	pace     loadPacing
	from, to atomic.Int64 // the window, in ns since base; 0: not yet
	mu       sync.Mutex
	legs     []*loadLeg
	// slots[s][k] are sender s's legs of slot k.
	slots [][][]*loadLeg
	// recv, when set, are the shared sockets the SIP legs hear on (see
	// loadMediaShared); nextRecv spreads the legs over them.
	recv     []*loadRecv
	nextRecv atomic.Int64
}

// loadPacing is when in the 20 ms the load side's legs send.
//
// Spread (the default) stands for real phones: each leg's 20 ms packet
// clock starts when its call is answered, so the legs' phases are
// independent. A leg gets a slot of 1 ms drawn uniformly from the 20
// when it is added; two senders wake every millisecond and send the
// legs of that slot, and the edge sees the frames of all calls spread
// over the 20 ms.
//
// TELLONCE_EDGE_LOAD_PHASES=N puts the legs on N phases 20/N ms apart,
// leg i on phase i mod N, each phase sent at once by its own sender:
// every 20/N ms the edge gets a burst of 1/N of all frames, a worst case
// no set of independent phones produces. Before 2026-12-07 16:00 UTC the
// load side always ran with 4.
type loadPacing struct {
	slots   int           // slots in the 20 ms
	tick    time.Duration // 20 ms / slots
	senders int
	spread  bool // a leg's slot is drawn at random, not its index mod slots
}

func (p loadPacing) String() string {
	if p.spread {
		return fmt.Sprintf("spread: each leg on a random %s slot of the 20 ms, %d senders", p.tick, p.senders)
	}
	return fmt.Sprintf("%d phases %s apart, one sender each", p.slots, p.tick)
}

// loadPacingFromEnv reads TELLONCE_EDGE_LOAD_PHASES.
func loadPacingFromEnv(t *testing.T) loadPacing {
	if n := loadEnv(t, "TELLONCE_EDGE_LOAD_PHASES"); n > 0 {
		if n > 20 {
			t.Fatalf("TELLONCE_EDGE_LOAD_PHASES=%d: want at most 20", n)
		}
		return loadPacing{slots: n, tick: 20 * time.Millisecond / time.Duration(n), senders: n}
	}
	return loadPacing{slots: 20, tick: time.Millisecond, senders: 2, spread: true}
}

// newLoadMedia paces every leg as p says, from base.
func newLoadMedia(p loadPacing) *loadMedia {
	// The wall clock, not Go's monotonic one: a frame's arrival is the
	// kernel's receive stamp, a wall-clock time, and every offset from
	// base must be on the same clock.
	m := &loadMedia{base: time.Now().Round(0), pace: p, slots: make([][][]*loadLeg, p.senders)}
	for s := range m.slots {
		m.slots[s] = make([][]*loadLeg, p.slots)
	}
	return m
}

// rtpOut is a SIP leg's RTP stream as the load side sends it: to the
// address the leg's SDP answer named, from a socket shared by many legs
// (the edge takes a leg's RTP from any source, as diago does by
// default).
type rtpOut struct {
	to        *net.UDPAddr
	pt        uint8
	seq       uint16
	ts, ssrc  uint32
	sentFirst bool
}

// sipLeg makes the load side's leg of a SIP call: its frames go out in
// run's batches; those of want it hears are read from the leg's own
// RTP socket directly (one recvmmsg a wake-up, no RTP stack), until the
// call's media closes.
func (m *loadMedia) sipLeg(med *diago.DialogMedia, mark, want byte) (*loadLeg, error) {
	sess := med.MediaSession()
	conn, err := rtpsock.Conn(sess)
	if err != nil {
		return nil, err
	}
	to := sess.Raddr
	l := &loadLeg{mark: mark, out: &rtpOut{to: &to, pt: media.CodecAudioFromSession(sess).PayloadType, ssrc: uint32(time.Now().UnixNano())}}
	r, err := rtpsock.NewReaderWith(conn, 4, rtpsock.ReaderOptions{Arrival: true})
	if err != nil {
		return nil, err
	}
	go func() {
		var p rtpsock.Packet
		_ = r.RunMeta(func(d []byte, meta *rtpsock.Meta) {
			if rtpsock.Parse(d, &p) == nil {
				m.heard(l, p.Payload, want, meta.Arrival)
			}
		})
	}()
	return l, nil
}

// add starts the leg's frames at its slot from the next one on.
func (m *loadMedia) add(l *loadLeg) {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := len(m.legs)
	m.legs = append(m.legs, l)
	slot := i % m.pace.slots
	if m.pace.spread {
		slot = rand.IntN(m.pace.slots)
	}
	s := i % m.pace.senders
	m.slots[s][slot] = append(m.slots[s][slot], l)
}

func (m *loadMedia) inWindow(at int64) bool {
	from, to := m.from.Load(), m.to.Load()
	return from != 0 && at >= from && (to == 0 || at < to)
}

// run sends until ctx ends, each sender from its own socket. A SIP
// leg's frames leave in sendmmsg batches of sendBatch, each batch's
// frames stamped just before it goes: the load process's system calls,
// not the edge's, were half its CPU. A sender late for a tick sends
// every slot it missed at once, so each leg keeps its 50 frames a
// second (and the stamp, the send, not the slot, is what the delay
// counts from).
func (m *loadMedia) run(ctx context.Context) error {
	conns := make([]*net.UDPConn, m.pace.senders)
	for s := range conns {
		var err error
		if conns[s], err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
			return fmt.Errorf("the load side's sending socket: %w", err)
		}
		defer conns[s].Close()
	}
	var wg sync.WaitGroup
	for s := range m.pace.senders {
		wg.Go(func() { m.sender(ctx, s, conns[s]) })
	}
	wg.Wait()
	return nil
}

const sendBatch = 16

// sender sends the legs of slots[s], each in its slot, until ctx ends.
func (m *loadMedia) sender(ctx context.Context, s int, conn *net.UDPConn) {
	pc := ipv4.NewPacketConn(conn)
	msgs := make([]ipv4.Message, sendBatch)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{make([]byte, 12+160)}
	}
	batched := make([]*loadLeg, 0, sendBatch)
	flush := func() {
		at := int64(time.Since(m.base))
		for i := range batched {
			binary.BigEndian.PutUint64(msgs[i].Buffers[0][12:], uint64(at))
		}
		sent := 0
		for sent < len(batched) {
			n, err := pc.WriteBatch(msgs[sent:len(batched)], 0)
			if err != nil || n == 0 {
				break
			}
			sent += n
		}
		if m.inWindow(at) {
			for _, l := range batched[:sent] {
				l.sent.Add(1)
			}
		}
		batched = batched[:0]
	}
	frame := make([]byte, 160)
	send := func(legs []*loadLeg) {
		for _, l := range legs {
			if o := l.out; o != nil {
				msg := &msgs[len(batched)]
				b := msg.Buffers[0]
				rtpsock.Header(b, o.pt, !o.sentFirst, o.seq, o.ts, o.ssrc)
				o.sentFirst, o.seq, o.ts = true, o.seq+1, o.ts+160
				for j := 12 + 8; j < len(b); j++ {
					b[j] = l.mark
				}
				msg.Addr = o.to
				batched = append(batched, l)
				if len(batched) == sendBatch {
					flush()
				}
				continue
			}
			for j := 8; j < len(frame); j++ {
				frame[j] = l.mark
			}
			at := int64(time.Since(m.base))
			binary.BigEndian.PutUint64(frame, uint64(at))
			if err := l.send(frame); err == nil && m.inWindow(at) {
				l.sent.Add(1)
			}
		}
		flush()
	}
	tick := time.NewTicker(m.pace.tick)
	defer tick.Stop()
	start := time.Now()
	next := int64(0) // the next tick to send
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := int64(time.Since(start) / m.pace.tick)
		// A sender more than 20 ms behind skips ahead rather than send a
		// leg's frames twice in one go.
		next = max(next, now-int64(m.pace.slots)+1)
		for ; next <= now; next++ {
			k := int(next % int64(m.pace.slots))
			m.mu.Lock()
			legs := m.slots[s][k]
			m.mu.Unlock()
			send(legs)
		}
	}
}

// heard counts a frame l heard at arrival: the kernel's receive stamp
// on the load side's socket, so that how long the load process took to
// read it (its own scheduling on the cores it shares with the edge) is
// not counted as the edge's delay; zero is now (a browser's frames,
// read through pion).
func (m *loadMedia) heard(l *loadLeg, p []byte, want byte, arrival time.Time) {
	if len(p) != 160 || p[8] != want || p[159] != want || bytes.Count(p[8:], []byte{want}) != 152 {
		return
	}
	read := time.Since(m.base)
	now := read
	if !arrival.IsZero() {
		now = arrival.Sub(m.base)
	}
	l.first.CompareAndSwap(0, int64(now))
	at := int64(binary.BigEndian.Uint64(p))
	if !m.inWindow(at) {
		return
	}
	l.heard.Add(1)
	l.mu.Lock()
	l.delays = append(l.delays, now-time.Duration(at))
	l.readDelays = append(l.readDelays, read-time.Duration(at))
	l.mu.Unlock()
}

// loadResult is one direction's figures over the window.
type loadResult struct {
	sent, heard int64
	// delays run to each frame's arrival at the load side's socket (the
	// kernel's stamp) where there is one; readDelays to when the load
	// process read it, its own scheduling included.
	delays, readDelays []time.Duration
}

func (res loadResult) String() string {
	loss := float64(res.sent-res.heard) / float64(max(res.sent, 1)) * 100
	return fmt.Sprintf("sent %d heard %d loss %.3f%% delay p50 %.2f ms p99 %.2f ms p99.9 %.2f ms max %.2f ms (to the read: p50 %.2f ms p99 %.2f ms)", res.sent, res.heard, max(loss, 0),
		ms(percentile(res.delays, 0.50)), ms(percentile(res.delays, 0.99)), ms(percentile(res.delays, 0.999)), ms(percentile(res.delays, 1)),
		ms(percentile(res.readDelays, 0.50)), ms(percentile(res.readDelays, 0.99)))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// collect sums the senders' counts against the hearers'.
func collect(senders, hearers []*loadLeg) loadResult {
	var res loadResult
	for _, l := range senders {
		res.sent += l.sent.Load()
	}
	for _, l := range hearers {
		res.heard += l.heard.Load()
		l.mu.Lock()
		res.delays = append(res.delays, l.delays...)
		res.readDelays = append(res.readDelays, l.readDelays...)
		l.mu.Unlock()
	}
	return res
}

// measure runs the window over calls already talking and reports the
// edge's share: CPU per call, memory per call over idle.
func (r *loadRig) measure(m *loadMedia, idle procUsage, idleHeap float64) (cpuPerCall float64, report string) {
	t := r.t
	hz := clockTicks()
	pid := r.edge.Process.Pid
	spid := r.server.cmd.Process.Pid
	time.Sleep(2 * time.Second) // let the last bridges settle before the window; nothing to await
	done := r.profile(r.window)
	traced := r.strace()
	e0, s0, l0 := readProc(t, pid, hz), readProc(t, spid, hz), cpuTime()
	wall0 := time.Now()
	m.from.Store(int64(time.Since(m.base)))
	time.Sleep(r.window) // the measured stretch of every call talking
	m.to.Store(int64(time.Since(m.base)))
	wall := time.Since(wall0)
	e1, s1, l1 := readProc(t, pid, hz), readProc(t, spid, hz), cpuTime()
	r.syscalls = traced()
	heap, goroutines := r.metric("go_memstats_heap_inuse_bytes"), r.metric("go_goroutines")
	time.Sleep(time.Second) // frames in flight at the window's end arrive; later ones count as lost
	done()
	r.edgeCPU, r.loadCPU = e1.cpu-e0.cpu, l1-l0
	core := func(d time.Duration) float64 { return float64(d) / float64(wall) * 100 }
	cpuPerCall = core(e1.cpu-e0.cpu) / float64(r.calls)
	report = fmt.Sprintf("edge: CPU %.1f%% of a core (%.3f%% per call); RSS %.1f MiB, %.1f MiB idle (%.1f KiB per call); Go heap in use %.1f MiB, %.1f MiB idle (%.1f KiB per call)\n"+
		"edge goroutines: %.0f, %.0f idle (%.1f per call)\nserver: CPU %.1f%% of a core; load process: CPU %.1f%% of a core; window %s",
		core(e1.cpu-e0.cpu), cpuPerCall, float64(e1.rss)/(1<<20), float64(idle.rss)/(1<<20), float64(e1.rss-idle.rss)/float64(r.calls)/1024,
		heap/(1<<20), idleHeap/(1<<20), (heap-idleHeap)/float64(r.calls)/1024,
		goroutines, r.idleGoroutines, (goroutines-r.idleGoroutines)/float64(r.calls),
		core(s1.cpu-s0.cpu), core(l1-l0), wall.Round(time.Millisecond))
	return cpuPerCall, report
}

// loadAgent makes an agent of nts126.year-end with the skills the menu's
// queue asks for, phone at sipURI ("" for none), at their desk and
// available. It fails with an error, not the test: setups run in parallel.
func (r *loadRig) loadAgent(admin, name, sipURI string) (*wsClient, error) {
	s := r.server.server
	ms := []obj{{"queue": "nts126.year-end", "level": 3}}
	code, body, err := s.request("POST", "/v1/users", admin, obj{"username": name, "name": "상담원 " + name, "password": e2eAgentPassword,
		"role": "agent", "agency": "nts126", "skills": obj{"lang:ko": 5, "topic:tax": 5}, "queues": ms, "max_chats": 1,
		"sip_uri": sipURI})
	if err != nil || code != http.StatusCreated {
		return nil, fmt.Errorf("creating %s: %d %s %v", name, code, body, err)
	}
	code, body, err = s.request("POST", "/v1/sessions", "", obj{"username": name, "password": e2eAgentPassword})
	var sess struct {
		Token string `json:"token"`
	}
	if err == nil && code == http.StatusCreated {
		err = json.Unmarshal(body, &sess)
	}
	if err != nil || code != http.StatusCreated {
		return nil, fmt.Errorf("logging %s in: %d %s %v", name, code, body, err)
	}
	agent, _, err := dialErr(name, s.wsURL("/v1/agent/ws"), bearerHeader(sess.Token))
	if err != nil {
		return nil, fmt.Errorf("%s's desk: %w", name, err)
	}
	r.t.Cleanup(agent.Close)
	if _, err := agent.Await("hello", time.Minute); err != nil {
		return nil, err
	}
	if _, err := agent.Send(obj{"type": "state", "state": "available"}); err != nil {
		return nil, fmt.Errorf("%s available: %w", name, err)
	}
	return agent, nil
}

// inParallel runs fn(0..n-1) on a few workers and fails the test with
// the first error.
func inParallel(t *testing.T, n, workers int, fn func(i int) error) {
	t.Helper()
	next := atomic.Int64{}
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
					next.Store(int64(n))
					return
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		t.Fatal(first)
	}
}

// loadUA is a SIP user agent of the load process on a port of its own.
func loadUA(t *testing.T, name string, handle func(*diago.DialogServerSession)) (*diago.Diago, string) {
	ua, err := sipgo.NewUA(sipgo.WithUserAgent(name))
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	dg := diago.NewDiago(ua, diago.WithTransport(diago.Transport{Transport: "udp", BindHost: "127.0.0.1", BindPort: port}),
		diago.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); ua.Close() })
	if handle == nil {
		handle = func(d *diago.DialogServerSession) { _ = d.Respond(486, "Busy Here", nil) }
	}
	if err := dg.ServeBackground(ctx, handle); err != nil {
		t.Fatal(err)
	}
	return dg, "127.0.0.1:" + strconv.Itoa(port)
}

// dialEdge calls 126 on the edge and walks its menu to the year-end
// queue by SIP INFO; the caller's leg sends and hears through m.
func (r *loadRig) dialEdge(dg *diago.Diago, m *loadMedia, i int) (*loadLeg, error) {
	var uri sip.Uri
	if err := sip.ParseUri("sip:126@"+r.sipAddr, &uri); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	opts := diago.InviteOptions{Headers: []sip.Header{sip.NewHeader("P-Asserted-Identity", fmt.Sprintf("<sip:+8210777%05d@carrier.example>", i))}}
	var d *diago.DialogClientSession
	var med *diago.DialogMedia
	var l *loadLeg
	var err error
	for {
		if m.recv != nil {
			d, l, err = m.inviteShared(ctx, dg, uri, opts.Headers, markCaller, markAgent)
		} else {
			d, med, err = dg.Invite(ctx, uri, opts)
		}
		// The user agent's first call may race its listener for the port.
		if err == nil || !strings.Contains(err.Error(), "address already in use") || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("call %d: %w", i, err)
	}
	r.t.Cleanup(func() { _ = d.Hangup(context.Background()); _ = d.Close() })
	if l == nil {
		if l, err = m.sipLeg(med, markCaller, markAgent); err != nil {
			return nil, err
		}
	}
	for _, digit := range "11" {
		req := sip.NewRequest(sip.INFO, d.InviteRequest.Recipient)
		req.AppendHeader(sip.NewHeader("Content-Type", "application/dtmf-relay"))
		req.SetBody([]byte("Signal=" + string(digit) + "\r\nDuration=160\r\n"))
		res, err := d.Do(ctx, req)
		if err != nil || res.StatusCode != 200 {
			return nil, fmt.Errorf("call %d: INFO %c: %v %v", i, digit, res, err)
		}
	}
	m.add(l)
	return l, nil
}

// TestEdgeLoadSIP bridges TELLONCE_EDGE_LOAD calls at once through the
// edge to agents' SIP phones (G.711 μ-law both sides, relayed as is) and
// reports each direction's one-way delay and loss and the edge's CPU and
// memory per call.
//
// Its short form runs with both ways of hearing the edge (see
// loadMediaShared) unless TELLONCE_EDGE_LOAD_MEDIA names one, so that
// neither instrument goes stale.
func TestEdgeLoadSIP(t *testing.T) {
	calls, short := loadCalls(t, "TELLONCE_EDGE_LOAD", 10)
	if !short || os.Getenv("TELLONCE_EDGE_LOAD_MEDIA") != "" {
		edgeLoadSIP(t, calls, short, loadMediaShared(t))
		return
	}
	for _, shared := range []bool{true, false} {
		t.Run(map[bool]string{true: "shared", false: "per-leg"}[shared], func(t *testing.T) { edgeLoadSIP(t, calls, short, shared) })
	}
}

func edgeLoadSIP(t *testing.T, calls int, short, shared bool) {
	r := startLoadRig(t, calls)
	if short {
		r.shortWindow()
	}
	hz := clockTicks()
	idle, idleHeap := readProc(t, r.edge.Process.Pid, hz), r.metric("go_memstats_heap_inuse_bytes")
	m := newLoadMedia(loadPacingFromEnv(t))
	if shared {
		m.listenShared(t)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		if err := m.run(ctx); err != nil {
			t.Error(err)
		}
	}()

	// One user agent answers every agent's phone (each agent's sip_uri
	// names it); one places every call.
	var agentLegs []*loadLeg
	var amu sync.Mutex
	var answered atomic.Int64
	_, phones := loadUA(t, "load-phones", func(d *diago.DialogServerSession) {
		var l *loadLeg
		if m.recv != nil {
			var err error
			if l, err = m.answerShared(d, markAgent, markCaller); err != nil {
				t.Errorf("an agent's phone: %v", err)
				return
			}
		} else {
			med, err := d.Answer(diago.AnswerOptions{})
			if err != nil {
				return
			}
			if l, err = m.sipLeg(med, markAgent, markCaller); err != nil {
				t.Errorf("an agent's phone: %v", err)
				return
			}
		}
		amu.Lock()
		agentLegs = append(agentLegs, l)
		amu.Unlock()
		m.add(l)
		answered.Add(1)
		<-d.Context().Done()
	})
	callersUA, _ := loadUA(t, "load-callers", nil)

	start := time.Now()
	admin := r.server.server.admin(t)
	agents := make([]*wsClient, calls)
	inParallel(t, calls, 8, func(i int) error {
		name := fmt.Sprintf("e2e.load%03d", i)
		var err error
		agents[i], err = r.loadAgent(admin, name, "sip:"+name+"@"+phones)
		return err
	})
	var wg sync.WaitGroup
	for _, agent := range agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if offer, err := agent.AwaitFunc("an offer", 5*time.Minute, typed("offer")); err == nil {
				_, _ = agent.Send(obj{"type": "accept", "offer_id": offer.str("offer_id")})
			}
		}()
	}
	t.Logf("%d agents at their desks in %s", calls, time.Since(start).Round(time.Second))
	callerLegs := make([]*loadLeg, calls)
	inParallel(t, calls, 16, func(i int) error {
		var err error
		callerLegs[i], err = r.dialEdge(callersUA, m, i)
		return err
	})
	wg.Wait()
	// Every phone answered, or no more for 30 s: a call lost in setup
	// (a missed ring under load makes its agent not ready) is reported,
	// not waited for.
	last, lastAt := int64(-1), time.Now()
	for n := answered.Load(); n < int64(calls); n = answered.Load() {
		if n != last {
			last, lastAt = n, time.Now()
		} else if time.Since(lastAt) > 30*time.Second {
			break
		}
		time.Sleep(100 * time.Millisecond) // polling a count
	}
	bridged := answered.Load()
	t.Logf("%d of %d calls bridged in %s", bridged, calls, time.Since(start).Round(time.Second))
	if bridged < int64(calls)*95/100 {
		t.Fatalf("only %d of %d calls bridged; the edge's warnings:\n%s", bridged, calls, r.warnings())
	}
	if bridged < int64(calls) {
		t.Logf("the edge's warnings:\n%s", r.warnings())
	}
	r.calls = int(bridged)
	_, report := r.measure(m, idle, idleHeap)
	amu.Lock()
	phoneLegs := slices.Clone(agentLegs)
	amu.Unlock()
	// A caller never bridged hears no agent: its frames, stopped at the
	// edge, are not lost ones.
	callerLegs = slices.DeleteFunc(callerLegs, func(l *loadLeg) bool { return l.first.Load() == 0 })
	up, down := collect(callerLegs, phoneLegs), collect(phoneLegs, callerLegs)
	both := loadResult{sent: up.sent + down.sent, heard: up.heard + down.heard, delays: append(slices.Clone(up.delays), down.delays...),
		readDelays: append(slices.Clone(up.readDelays), down.readDelays...)}
	t.Logf("%d SIP-bridged calls (%d asked for), the load side's frames %s, heard %s:\ncaller → agent: %s\nagent → caller: %s\nboth: %s\n%s", r.calls, calls, m.pace, m.hearing(), up, down, both, report)
	checkBothWays(t, up, down)
	// Per frame the edge relayed (heard on the far side) and per frame
	// the load process sent or heard: measures the machine's load does
	// not move the way it moves the delays.
	t.Logf("CPU per frame: edge %.1f µs a frame relayed (%d frames); load process %.1f µs a frame sent or heard",
		float64(r.edgeCPU.Nanoseconds())/1000/float64(max(both.heard, 1)), both.heard,
		float64(r.loadCPU.Nanoseconds())/1000/float64(max(both.sent+both.heard, 1)))
	if sent := r.syscalls["sendto"]; sent > 0 {
		// Per sendto, one a frame the edge relayed: strace slows the edge
		// enough that the frames heard in the window are not the ones it
		// relayed while traced.
		var total int64
		var each []string
		for _, name := range []string{"recvmmsg", "epoll_pwait", "futex", "nanosleep", "write", "read"} {
			each = append(each, fmt.Sprintf("%s %.3f", name, float64(r.syscalls[name])/float64(sent)))
		}
		for _, n := range r.syscalls {
			total += n
		}
		t.Logf("the edge's system calls a frame relayed (a sendto each; strace attached, which slows the edge): %d frames; all %.3f; %s",
			sent, float64(total)/float64(sent), strings.Join(each, ", "))
	}
	if both.heard == 0 {
		t.Error("no frame crossed the edge in the window")
	}
	if n := strings.Count(r.edgeLog.String(), "went negative"); n > 0 {
		t.Logf("the edge logged %d 'ref went negative' warnings", n)
	}
}

// loadBrowser answers the edge's offer on an agent's desk socket with a
// pion peer standing for the page, whose track sends and hears through m.
// cert is the page's certificate (a browser makes one per page, not per
// call); st gets the setup's stages as they happen.
func loadBrowser(agent *wsClient, api *webrtc.API, cert webrtc.Certificate, m *loadMedia, l *loadLeg, st *setupStages) (*webrtc.PeerConnection, error) {
	offer, err := agent.Await("rtc_offer", 5*time.Minute)
	if err != nil {
		return nil, err
	}
	st.offer.Store(int64(time.Since(m.base)))
	pc, err := api.NewPeerConnection(webrtc.Configuration{Certificates: []webrtc.Certificate{cert}})
	if err != nil {
		return nil, err
	}
	pc.OnICEConnectionStateChange(func(s webrtc.ICEConnectionState) {
		if s == webrtc.ICEConnectionStateConnected {
			st.ice.CompareAndSwap(0, int64(time.Since(m.base)))
		}
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected { // ICE and DTLS
			st.dtls.CompareAndSwap(0, int64(time.Since(m.base)))
		}
	})
	track, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000, Channels: 1}, "mic", "desk")
	if err == nil {
		err = pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer.str("sdp")})
	}
	if err == nil {
		_, err = pc.AddTrack(track)
	}
	if err != nil {
		_ = pc.Close()
		return nil, err
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			m.heard(l, p.Payload, markCaller, time.Time{})
		}
	})
	ans, err := pc.CreateAnswer(nil)
	if err == nil {
		gathered := webrtc.GatheringCompletePromise(pc)
		if err = pc.SetLocalDescription(ans); err == nil {
			<-gathered
		}
	}
	if err != nil {
		_ = pc.Close()
		return nil, err
	}
	l.send = func(b []byte) error {
		return track.WriteSample(pmedia.Sample{Data: b, Duration: 20 * time.Millisecond})
	}
	m.add(l)
	st.answer.Store(int64(time.Since(m.base)))
	if _, err := agent.Send(obj{"type": "rtc_answer", "contact_id": offer.str("contact_id"), "session": offer.str("session"), "sdp": pc.LocalDescription().SDP}); err != nil {
		_ = pc.Close()
		return nil, err
	}
	return pc, nil
}

// TestEdgeLoadBrowser bridges TELLONCE_EDGE_LOAD_BROWSER calls at once
// through the edge to agents' browser softphones (pion peers in this
// process, DTLS-SRTP on loopback) and reports the setup from the
// agent's accept to the caller's first frame heard in the browser, stage
// by stage, the edge's CPU per setup, each direction's delay and loss,
// and the edge's CPU and memory per call. Every call is offered first;
// then every desk accepts at the same instant.
func TestEdgeLoadBrowser(t *testing.T) {
	calls, short := loadCalls(t, "TELLONCE_EDGE_LOAD_BROWSER", 4)
	r := startLoadRig(t, calls, "--webrtc-ip", "127.0.0.1")
	if short {
		r.shortWindow()
	}
	hz := clockTicks()
	idle, idleHeap := readProc(t, r.edge.Process.Pid, hz), r.metric("go_memstats_heap_inuse_bytes")
	m := newLoadMedia(loadPacingFromEnv(t))
	if loadMediaShared(t) {
		m.listenShared(t)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go m.run(ctx)
	api := browserAPI(t)
	callersUA, _ := loadUA(t, "load-callers", nil)

	start := time.Now()
	admin := r.server.server.admin(t)
	agents := make([]*wsClient, calls)
	certs := make([]webrtc.Certificate, calls)
	inParallel(t, calls, 8, func(i int) error {
		var err error
		if agents[i], err = r.loadAgent(admin, fmt.Sprintf("e2e.web%03d", i), ""); err != nil {
			return err
		}
		// The page's certificate, made when the page opens, as a
		// browser does: the setup measured is the edge's.
		if certs[i], err = pageCertificate(); err != nil {
			return err
		}
		_, err = agents[i].Send(obj{"type": "softphone", "on": true})
		return err
	})
	t.Logf("%d agents at their desks, softphones on, in %s", calls, time.Since(start).Round(time.Second))
	tabs := make([]*loadLeg, calls)
	stages := make([]setupStages, calls)
	var pcs sync.Map
	// The first browser that failed, reported with the figures (not from
	// its goroutine, which may outlive the test).
	var browserErr atomic.Pointer[error]
	t.Cleanup(func() {
		pcs.Range(func(_, v any) bool { _ = v.(*webrtc.PeerConnection).Close(); return true })
	})
	var offered atomic.Int64
	release := make(chan struct{})
	// With TELLONCE_EDGE_LOAD_BROWSER_PACE (a duration), the desks accept
	// one after another that far apart from the release, as agents do in
	// a working day, instead of all at the same instant.
	pace := loadPace(t)
	var releasedAt time.Time
	for i, agent := range agents {
		tabs[i] = &loadLeg{mark: markAgent}
		go func() {
			offer, err := agent.AwaitFunc("an offer", 5*time.Minute, typed("offer"))
			if err != nil {
				return
			}
			offered.Add(1)
			<-release
			if pace > 0 {
				// A schedule of accepts, not a wait for a condition.
				time.Sleep(time.Until(releasedAt.Add(time.Duration(i) * pace)))
			}
			stages[i].accept.Store(int64(time.Since(m.base)))
			if _, err := agent.Send(obj{"type": "accept", "offer_id": offer.str("offer_id")}); err != nil {
				return
			}
			pc, err := loadBrowser(agent, api, certs[i], m, tabs[i], &stages[i])
			if err != nil {
				e := fmt.Errorf("browser %d: %w", i, err)
				browserErr.CompareAndSwap(nil, &e)
				return
			}
			pcs.Store(i, pc)
		}()
	}
	callerLegs := make([]*loadLeg, calls)
	inParallel(t, calls, 16, func(i int) error {
		var err error
		callerLegs[i], err = r.dialEdge(callersUA, m, i)
		return err
	})
	burst := r.acceptAtOnce(m, &offered, release, &releasedAt, tabs, stages)
	burst.pace = pace
	bridged := burst.heard
	t.Logf("%d of %d browsers hearing their caller in %s", bridged, calls, time.Since(start).Round(time.Second))
	if e := browserErr.Load(); e != nil {
		t.Logf("the first browser that failed: %v", *e)
	}
	if bridged < int64(calls)*95/100 {
		t.Fatalf("only %d of %d calls bridged; the edge's warnings:\n%s\n%s", bridged, calls, r.warnings(), burst)
	}
	var live []*loadLeg
	for _, tab := range tabs {
		if tab.first.Load() != 0 {
			live = append(live, tab)
		}
	}
	r.calls = int(bridged)
	_, report := r.measure(m, idle, idleHeap)
	callerLegs = slices.DeleteFunc(callerLegs, func(l *loadLeg) bool { return l.first.Load() == 0 })
	up, down := collect(callerLegs, live), collect(live, callerLegs)
	t.Logf("%d browser-bridged calls (%d asked for), the load side's frames %s, its callers heard %s:\n%s\ncaller → browser: %s\nbrowser → caller: %s\n%s",
		r.calls, calls, m.pace, m.hearing(), burst, up, down, report)
	checkBothWays(t, up, down)
}
