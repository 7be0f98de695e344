package loadgen

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"tellonce/clocktest"
	tsql "tellonce/sql"
)

// TestPrepareSocketDrill makes the socket drill's database and fleet file
// in $LOADGEN_DRILL_DIR (skipped without it): LOADGEN_DRILL_AGENTS agents
// (default 10,000) over LOADGEN_DRILL_QUEUES queues (default 100, at most
// one per agent), logged in, and hold queues for LOADGEN_DRILL_CITIZENS
// idle citizens (default 50,000; 0 for none). Through a real server each
// account costs two argon2id hashes — an hour for 10,000 agents on a
// small shared machine — so the accounts are made here, in a test process
// with the tests' cheap hasher, on the database that `tellonce serve` then
// serves (a login checks a password with the parameters stored in its
// hash): the SQLite file tellonce.db in the directory, or the PostgreSQL
// database LOADGEN_DRILL_DB names (a postgres:// URL; scripts/e2e-load
// uses it). The accounts' passwords are weak: the database is for the
// drills only.
func TestPrepareSocketDrill(t *testing.T) {
	dir := os.Getenv("LOADGEN_DRILL_DIR")
	if dir == "" {
		t.Skip("LOADGEN_DRILL_DIR is not set: see loadgen/BENCHMARKS.md, the socket drill")
	}
	agents := envInt(t, "LOADGEN_DRILL_AGENTS", 10_000)
	queues := envInt(t, "LOADGEN_DRILL_QUEUES", min(100, agents))
	citizens := 50_000
	if os.Getenv("LOADGEN_DRILL_CITIZENS") != "0" {
		citizens = envInt(t, "LOADGEN_DRILL_CITIZENS", citizens)
	} else {
		citizens = 0
	}
	ctx := context.Background()
	backend, dsn := "sqlite", filepath.Join(dir, "tellonce.db")
	if u := os.Getenv("LOADGEN_DRILL_DB"); u != "" {
		if !strings.HasPrefix(u, "postgres://") && !strings.HasPrefix(u, "postgresql://") {
			t.Fatalf("LOADGEN_DRILL_DB=%q: want a postgres:// URL (SQLite: leave it unset)", u)
		}
		backend, dsn = "postgres", u
	}
	db, err := tsql.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	ts := startServerOn(t, backend, db)
	f, err := Setup(ctx, Config{URL: ts.URL, AdminPassword: testAdminPassword, Agents: agents,
		Queues: queues, Sockets: true, IdleCitizens: citizens, SetupConcurrency: 16,
		FleetFile: filepath.Join(dir, "fleet.json"), skipConnect: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// The fleet file names the test's address; the drill's server has its
	// own.
	path := filepath.Join(dir, "fleet.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data = []byte(strings.Replace(string(data), `"server": "`+ts.URL+`"`, `"server": ""`, 1))
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Logf("made the %s database and %s: %d agents over %d queues, hold queues for %d citizens", backend, path, agents, queues, citizens)
}

func envInt(t *testing.T, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive number", name, s)
	}
	return n
}

// metricsServer serves this process's Go and process figures, as serve's
// /metrics does: the in-process server is this process.
func metricsServer(t *testing.T) string {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// The socket drill in short: agents and idle citizens connect, every
// reading is taken, the contacts flow with every socket open, none is
// lost, and what the drill made is gone afterwards.
func TestSocketDrillShort(t *testing.T) {
	ts := startServer(t, "sqlite")
	ctx := context.Background()
	// The server's debug address: each settled reading first asks it to
	// collect its garbage and return freed memory.
	var collections atomic.Int64
	debug := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/debug/free-os-memory" {
			collections.Add(1)
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(debug.Close)
	rep, err := RunSockets(ctx, Config{URL: ts.URL, AdminPassword: testAdminPassword, Agents: 20, Queues: 2,
		IdleCitizens: 30, Contacts: 40, MetricsURL: metricsServer(t), DebugURL: debug.URL,
		Settle: time.Millisecond, Idle: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if n := collections.Load(); n != 4 {
		t.Errorf("the server was asked to collect its garbage %d times; want 4, before each settled reading", n)
	}
	var out strings.Builder
	if err := rep.Print(&out); err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("the drill was not clean:\n%s", out.String())
	}
	if !rep.Collected || !strings.Contains(out.String(), "returned freed memory") {
		t.Errorf("the report does not say its readings followed a collection:\n%s", out.String())
	}
	for _, s := range []Sample{rep.Before, rep.AgentsOpen, rep.ChatsPosted, rep.CitizensOpen, rep.AfterLoad} {
		if s.RSS <= 0 || s.HeapInuse <= 0 || s.HeapGoal <= 0 || s.Goroutines <= 0 {
			t.Fatalf("a reading is empty: %+v\n%s", s, out.String())
		}
	}
	if rep.Load.Offered != 40 || rep.LostAgents != 0 || rep.LostCitizens != 0 {
		t.Fatalf("offered %d, lost %d agents and %d citizens; want 40, 0, 0", rep.Load.Offered, rep.LostAgents, rep.LostCitizens)
	}
	for _, want := range []string{"idle agent socket", "idle citizen socket", "goal+stacks KiB", "server CPU at idle", "sockets lost: 0 agents, 0 citizens"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the report lacks %q:\n%s", want, out.String())
		}
	}
	clocktest.Eventually(t, "the idle chats are taken out of their lines", 10*time.Second, func() bool {
		n := 0
		for _, q := range ts.rt.Queues() {
			if st, err := ts.rt.QueueSnapshot(q.ID); err == nil {
				n += st.Waiting
			}
		}
		return n == 0
	})
}

// A socket the server closes during the drill is counted lost.
func TestSocketDrillCountsALostCitizen(t *testing.T) {
	ts := startServer(t, "sqlite")
	ctx := context.Background()
	f, err := Setup(ctx, Config{URL: ts.URL, AdminPassword: testAdminPassword, Agents: 1, Sockets: true, IdleCitizens: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close(ctx)
	h := &holder{f: f, base: ts.URL, v4: true, lost: &atomic.Int64{}}
	defer h.release(ctx)
	if err := h.post(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if err := h.open(ctx); err != nil {
		t.Fatal(err)
	}
	// The citizen leaves through the REST API: the server ends the chat
	// and closes its socket.
	c := h.citizens[0]
	cl := &client{base: ts.URL, hc: f.mainOrigin.hc}
	if err := cl.do(ctx, http.MethodDelete, contactPath+"/"+c.contactID+"?token="+url.QueryEscape(c.token), nil, nil); err != nil {
		t.Fatal(err)
	}
	clocktest.Eventually(t, "the closed socket is counted", 10*time.Second, func() bool { return h.lost.Load() == 1 })
}

// A fleet file made by one run is taken up by the next: the same agency
// and agents, no admin needed, no account made again.
func TestFleetFileIsResumed(t *testing.T) {
	ts := startServer(t, "sqlite")
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "fleet.json")
	f1, err := Setup(ctx, Config{URL: ts.URL, AdminPassword: testAdminPassword, Agents: 3, Queues: 1, FleetFile: path})
	if err != nil {
		t.Fatal(err)
	}
	if err := f1.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("fleet file: %v, %v; want it readable by its owner only", info, err)
	}
	f2, err := Setup(ctx, Config{URL: ts.URL, Agents: 2, FleetFile: path})
	if err != nil {
		t.Fatal(err)
	}
	defer f2.Close(ctx)
	if f2.Agency() != f1.Agency() || len(f2.agents) != 2 || f2.agents[0].username != f1.agents[0].username {
		t.Fatalf("resumed %s with %d agents; want %s's first 2", f2.Agency(), len(f2.agents), f1.Agency())
	}
	if _, err := Setup(ctx, Config{URL: ts.URL, Agents: 4, FleetFile: path}); err == nil || !strings.Contains(err.Error(), "fewer than the 4") {
		t.Fatalf("asking for more agents than the file holds: %v", err)
	}
}

func TestParseSampleNamesWhatIsMissing(t *testing.T) {
	in := "# HELP x\nprocess_resident_memory_bytes 1.5e+07\ngo_goroutines 12\nprocess_cpu_seconds_total 3.25\ngo_memstats_heap_inuse_bytes 4096\n" +
		"go_memstats_next_gc_bytes 65536\n"
	_, err := parseSample(strings.NewReader(in))
	if err == nil || !strings.Contains(err.Error(), "go_memstats_stack_inuse_bytes") {
		t.Fatalf("err = %v; want it to name go_memstats_stack_inuse_bytes", err)
	}
	s, err := parseSample(strings.NewReader(in + "go_memstats_stack_inuse_bytes 8192\n"))
	if err != nil || s.RSS != 1.5e7 || s.Goroutines != 12 || s.CPUSeconds != 3.25 || s.StackInuse != 8192 || s.HeapGoal != 65536 {
		t.Fatalf("parseSample = %+v, %v", s, err)
	}
}
