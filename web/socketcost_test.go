package web

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"tellonce/auth"
	"tellonce/directory"
	"tellonce/servertest"
)

// What an idle agent socket costs the server, measured without 10,000
// agents and independently of the machine's load: the whole server runs
// in this process, the agents' consoles in a child process (this test
// binary again, TestIdleAgentSocketClients), so that the runtime's own
// figures (runtime/metrics, after a forced collection) count the server's
// side only. The agents connect, read hello and go available, as the
// socket drill's do; then the server idles for a while with every socket
// open, so that pings and session re-checks run.
//
//	TELLONCE_SOCKET_COST=2000 go test -count=1 -run '^TestIdleAgentSocketCost$' -v ./web/
//
// prints, per idle agent socket: live heap, goroutine stack, goroutines,
// the heap goal (what the collector lets the heap reach before the next
// collection: the resident heap's ceiling), and over the idle stretch the
// bytes allocated and the server's CPU per socket and second.
// TELLONCE_SOCKET_COST_PROFILE=file writes heap profiles, every allocation
// sampled, with every socket open (file) and before the agents connected
// (file.before): `go tool pprof -sample_index=inuse_space
// -diff_base file.before file` shows where a socket's bytes are;
// TELLONCE_SOCKET_COST_IDLE sets the idle stretch (default 10s). Without
// TELLONCE_SOCKET_COST the test runs with 20 agents and checks only that an
// idle agent socket holds one goroutine.
const (
	envSocketCost        = "TELLONCE_SOCKET_COST"
	envSocketCostProfile = "TELLONCE_SOCKET_COST_PROFILE"
	envSocketCostIdle    = "TELLONCE_SOCKET_COST_IDLE"
	// envSocketCostClients, set only in the child, names the file of the
	// server's address and the agents' tokens.
	envSocketCostClients = "TELLONCE_SOCKET_COST_CLIENTS"
)

// runtimeFigures are the runtime/metrics the measure reads.
type runtimeFigures struct {
	heap, stacks, goal, allocs float64
	goroutines                 float64
	cpu                        time.Duration // this process's user + system time
}

func readRuntimeFigures(t testing.TB) runtimeFigures {
	t.Helper()
	s := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/stacks:bytes"},
		{Name: "/gc/heap/goal:bytes"},
		{Name: "/gc/heap/allocs:bytes"},
		{Name: "/sched/goroutines:goroutines"},
	}
	metrics.Read(s)
	var f runtimeFigures
	for i, dst := range []*float64{&f.heap, &f.stacks, &f.goal, &f.allocs, &f.goroutines} {
		if s[i].Value.Kind() != metrics.KindUint64 {
			t.Fatalf("runtime metric %s is not supported", s[i].Name)
		}
		*dst = float64(s[i].Value.Uint64())
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	f.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return f
}

// settledFigures collects twice (stacks shrink during a collection, and the
// second sees what the first freed) and reads the figures.
func settledFigures(t testing.TB) runtimeFigures {
	t.Helper()
	runtime.GC()
	runtime.GC()
	return readRuntimeFigures(t)
}

func TestIdleAgentSocketCost(t *testing.T) {
	n, measuring := 20, false
	if s := os.Getenv(envSocketCost); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			t.Fatalf("%s=%q: want a number of agents", envSocketCost, s)
		}
		n, measuring = v, true
	}
	idle := 10 * time.Second
	if s := os.Getenv(envSocketCostIdle); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("%s=%q: %v", envSocketCostIdle, s, err)
		}
		idle = d
	}
	if !measuring {
		idle = 0
	}

	profile := os.Getenv(envSocketCostProfile)
	if profile != "" {
		// Every allocation sampled, for a profile of a few thousand sockets.
		defer func(rate int) { runtime.MemProfileRate = rate }(runtime.MemProfileRate)
		runtime.MemProfileRate = 1
	}

	cfg := DefaultConfig()
	tokens := make([]string, n)
	ts := servertest.Start(t, servertest.Options{
		SessionTTL: cfg.SessionTTL, SessionCache: auth.DefaultSessionCache, // as serve runs
		Seed: func(ctx context.Context, p *servertest.Parts) error {
			if _, err := p.Directory.CreateAgency(ctx, directory.AgencyCreate{ID: "gov110", Name: "Agency gov110"}); err != nil {
				return err
			}
			name := "General"
			if _, err := p.Directory.CreateQueue(ctx, "gov110", directory.QueueCreate{ID: "general",
				QueueSettings: directory.QueueSettings{Name: &name}}); err != nil {
				return err
			}
			hash, err := p.Hasher.Hash(testPassword)
			if err != nil {
				return err
			}
			for i := range n {
				u := fmt.Sprintf("agent%05d", i)
				if _, err := p.Directory.CreateUser(ctx, directory.UserCreate{Username: u, Name: "Agent " + u, Password: testPassword,
					Role: directory.RoleAgent, Agency: "gov110",
					Queues: []directory.Membership{{Queue: "gov110.general", Level: 1}}}, hash); err != nil {
					return err
				}
				if tokens[i], _, err = p.Sessions.Create(ctx, u, "127.0.0.1"); err != nil {
					return err
				}
			}
			return nil
		},
		Front: func(p *servertest.Parts) (servertest.Front, error) {
			return New(cfg, Deps{DB: p.DB, Directory: p.Directory, Sessions: p.Sessions, Hasher: p.Hasher,
				Log: p.Log, Switchboard: p.Switchboard, Tokens: p.Tokens})
		},
	})

	list := filepath.Join(t.TempDir(), "clients")
	if err := os.WriteFile(list, []byte(ts.URL+"\n"+strings.Join(tokens, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	before := settledFigures(t)
	if profile != "" {
		writeHeapProfile(t, profile+".before")
	}

	child := exec.Command(os.Args[0], "-test.run=^TestIdleAgentSocketClients$", "-test.v")
	child.Env = append(os.Environ(), envSocketCostClients+"="+list)
	child.Stderr = os.Stderr
	stdin, err := child.StdinPipe() // closing it ends the child
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = stdin.Close()
		_ = child.Wait()
	}()
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if line := sc.Text(); strings.HasPrefix(line, "clients: ") {
				ready <- line
				break
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		close(ready)
	}()
	select {
	case line, ok := <-ready:
		if !ok || line != "clients: ready" {
			t.Fatalf("the agents' process: %q", line)
		}
	case <-time.After(5*time.Minute + time.Duration(n)*50*time.Millisecond):
		t.Fatal("the agents' process did not connect its agents in time")
	}

	// The idle stretch: every socket open, only pings and the sessions'
	// re-checks running.
	open := settledFigures(t)
	if idle > 0 {
		time.Sleep(idle)
	}
	after := readRuntimeFigures(t)
	if open := ts.Front.Hub().Stats().Agents; open != n {
		t.Errorf("%d of %d agent sockets open after the idle stretch; want every one", open, n)
	}

	per := func(a, b float64) float64 { return (b - a) / float64(n) }
	goroutines := per(before.goroutines, open.goroutines)
	if !measuring {
		// An idle agent socket holds its reader and nothing else.
		if goroutines > 1.5 {
			t.Fatalf("an idle agent socket holds %.2f goroutines; want 1", goroutines)
		}
		return
	}
	if profile != "" {
		writeHeapProfile(t, profile)
	}
	heap, stacks, goal := per(before.heap, open.heap), per(before.stacks, open.stacks), per(before.goal, open.goal)
	secs := after.cpu.Seconds() - open.cpu.Seconds()
	el := idle.Seconds()
	t.Logf("%d idle agent sockets (GOGC %s), per socket:", n, gogc())
	t.Logf("  live heap           %6.2f KiB", heap/1024)
	t.Logf("  goroutine stacks    %6.2f KiB", stacks/1024)
	t.Logf("  goroutines          %6.2f", goroutines)
	t.Logf("  heap goal           %6.2f KiB (the heap's ceiling before the next collection)", goal/1024)
	t.Logf("  heap goal + stacks  %6.2f KiB (what the Go runtime may hold resident for it)", (goal+stacks)/1024)
	t.Logf("over %s idle, per socket and second: %.0f bytes allocated, %.1f µs of the server's CPU",
		idle, per(open.allocs, after.allocs)/el, 1e6*secs/el/float64(n))
}

// writeHeapProfile writes the heap profile as of the last collection.
func writeHeapProfile(t testing.TB, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		t.Fatal(err)
	}
}

func gogc() string {
	if v := os.Getenv("GOGC"); v != "" {
		return v
	}
	return "100"
}

// TestIdleAgentSocketClients is the agents' side of
// TestIdleAgentSocketCost, in a process of its own: it connects every
// agent of the file, waits for hello, goes available, prints
// "clients: ready" and holds the sockets (answering pings) until its
// standard input closes.
func TestIdleAgentSocketClients(t *testing.T) {
	list := os.Getenv(envSocketCostClients)
	if list == "" {
		t.Skip("the child process of TestIdleAgentSocketCost")
	}
	data, err := os.ReadFile(list)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Fields(string(data))
	base, tokens := "ws"+strings.TrimPrefix(lines[0], "http"), lines[1:]
	var wg sync.WaitGroup
	errs := make(chan error, len(tokens))
	sockets := make([]*websocket.Conn, len(tokens))
	sem := make(chan struct{}, 16)
	for i, token := range tokens {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			ws, err := idleAgent(base, token)
			if err != nil {
				errs <- fmt.Errorf("agent %d: %w", i, err)
				return
			}
			sockets[i] = ws
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		fmt.Println("clients: " + err.Error())
		t.Fatal(err)
	}
	fmt.Println("clients: ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, ws := range sockets {
		_ = ws.Close()
	}
}

// idleAgent opens an agent's console, reads hello, goes available and
// keeps reading (gorilla answers the server's pings) until the socket
// closes.
func idleAgent(base, token string) (*websocket.Conn, error) {
	d := websocket.Dialer{HandshakeTimeout: time.Minute, ReadBufferSize: 1024, WriteBufferSize: 1024}
	ws, _, err := d.Dial(base+"/v1/agent/ws", http.Header{"Authorization": {"Bearer " + token}})
	if err != nil {
		return nil, err
	}
	_ = ws.SetReadDeadline(time.Now().Add(time.Minute))
	var f struct {
		Type string `json:"type"`
		Ref  string `json:"ref"`
	}
	if err := ws.ReadJSON(&f); err != nil || f.Type != "hello" {
		ws.Close()
		return nil, fmt.Errorf("want hello: %v %q", err, f.Type)
	}
	if err := ws.WriteJSON(map[string]string{"type": "state", "id": "1", "state": "available"}); err != nil {
		ws.Close()
		return nil, err
	}
	for f.Type != "ack" {
		if err := ws.ReadJSON(&f); err != nil || f.Type == "error" {
			ws.Close()
			return nil, fmt.Errorf("want the ack of available: %v %q", err, f.Type)
		}
	}
	_ = ws.SetReadDeadline(time.Time{})
	go func() {
		for {
			if _, _, err := ws.NextReader(); err != nil {
				return
			}
		}
	}()
	return ws, nil
}
