package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tellonce/clocktest"
	"tellonce/sql/sqltest"
)

// PostgreSQL restarted under traffic (pg_ctl restart, fast and
// immediate), first under one server, then under a pair: no request is
// acknowledged unless committed (nothing acknowledged is missing after
// the restart), the leading server's /readyz answers 503 while the
// database is away, and the servers recover by themselves: one leads
// again and offers flow. The restarts need a cluster of their own (the
// shared one serves every other package's tests meanwhile): it comes
// from scripts/with-postgres, kept running for the test. `make test`
// restarts four times (fast and immediate, under one server and under
// two); `make drill` sets TELLONCE_PG_RESTARTS=5, twenty restarts.
func TestPostgresRestartDrill(t *testing.T) {
	if os.Getenv(sqltest.EnvPostgres) == "" && os.Getenv("CI") == "" {
		t.Skip("no PostgreSQL: run with scripts/with-postgres")
	}
	pg := ownPostgres(t)
	bin := filepath.Join(t.TempDir(), "tellonce")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	lease := []string{"--lease-renew", "200ms", "--lease-ttl", drillLeaseTTL.String()}
	nodes := [2]*binaryProcess{startBinary(t, bin, pg.dsn, lease...)}
	d := newDrill(t, nodes[:1])
	d.setup()
	var recoveries []time.Duration
	round := 0
	restart := func(mode string, serving []*binaryProcess) {
		t.Helper()
		d.run(300 * time.Millisecond)
		// The last restart may have outlasted the leader's lease: it then
		// stepped down after the database came back, and a takeover may
		// still be under way. Restart under a settled leader.
		var leader *binaryProcess
		clocktest.Eventually(t, "a server leads before the restart "+mode, 60*time.Second, func() bool {
			leader = leaderOf(serving)
			return leader != nil
		})
		// /readyz of the leader, polled through the restart.
		var saw503 atomic.Bool
		stopPolling := make(chan struct{})
		var polling sync.WaitGroup
		polling.Add(1)
		go func() {
			defer polling.Done()
			for {
				select {
				case <-stopPolling:
					return
				case <-time.After(10 * time.Millisecond):
				}
				if code, _, err := leader.server.request("GET", "/readyz", "", nil); err == nil && code == http.StatusServiceUnavailable {
					saw503.Store(true)
				}
			}
		}()
		began := time.Now()
		pg.restart(t, mode)
		back := time.Now()
		d.firstOffer.Store(0)
		d.killedAt.Store(back.UnixNano())
		clocktest.Eventually(t, "a server leads again after the restart", 60*time.Second, func() bool {
			return leaderOf(serving) != nil
		})
		d.awaitOffer(nodes[0].server)
		recovered := time.Duration(d.firstOffer.Load() - back.UnixNano())
		recoveries = append(recoveries, recovered)
		close(stopPolling)
		polling.Wait()
		if !saw503.Load() {
			t.Errorf("restart %s: the leader's /readyz never answered 503 while PostgreSQL was away", mode)
		}
		d.pause()
		// A leader that served the first offer may still step down (its
		// last renewal came too late): the check reads through whichever
		// server leads once the lease has settled.
		var now *binaryProcess
		clocktest.Eventually(t, "a server leads for the check", 60*time.Second, func() bool {
			now = leaderOf(serving)
			return now != nil
		})
		d.verify(round, now.server)
		round++
		d.nextRound()
		t.Logf("pg_ctl restart -m %s with %d server(s): the database was back after %s; back → first offer %s",
			mode, len(serving), back.Sub(began).Round(time.Millisecond), recovered.Round(time.Millisecond))
	}
	rounds := drillRounds(t, "TELLONCE_PG_RESTARTS")
	for range rounds {
		restart("fast", nodes[:1])
		restart("immediate", nodes[:1])
	}
	d.setNodes(&nodes, 1, startBinary(t, bin, pg.dsn, lease...))
	for range rounds {
		restart("fast", nodes[:])
		restart("immediate", nodes[:])
	}
	d.stopAll()
	sort.Slice(recoveries, func(i, j int) bool { return recoveries[i] < recoveries[j] })
	t.Logf("PostgreSQL restart drill: %d restarts; database back → first offer median %s, max %s; acknowledged %d contacts, %d accepts, %d timeline entries, legs %s",
		len(recoveries), recoveries[len(recoveries)/2].Round(time.Millisecond), recoveries[len(recoveries)-1].Round(time.Millisecond),
		d.count(&d.contacts), d.count(&d.accepted), d.count(&d.events), d.legKinds())
}

// leaderOf is the server among nodes whose /readyz says it leads.
func leaderOf(nodes []*binaryProcess) *binaryProcess {
	for _, p := range nodes {
		if readyRole(p.server) == "leader" {
			return p
		}
	}
	return nil
}

// postgresCluster is a PostgreSQL cluster of one test's own, from
// scripts/with-postgres, which stops it and removes it when the test ends.
type postgresCluster struct {
	dsn, data, log string
	pgCtl          string
	asPostgres     []string // runs pg_ctl as the postgres user when the test runs as root
}

func ownPostgres(t *testing.T) *postgresCluster {
	t.Helper()
	script, err := filepath.Abs("../../scripts/with-postgres")
	if err != nil {
		t.Fatal(err)
	}
	// The command prints where the cluster is, then waits for its input
	// to close: then the script stops the cluster.
	cmd := exec.Command(script, "sh", "-c", `printf '%s %s\n' "$TELLONCE_TEST_POSTGRES" "$TELLONCE_TEST_POSTGRES_LOG"; exec cat >/dev/null`)
	cmd.Env = append(os.Environ(), "WITH_POSTGRES_QUIET=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(90 * time.Second):
			t.Errorf("scripts/with-postgres did not stop its cluster within 90s")
			_ = cmd.Process.Kill()
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("scripts/with-postgres: %v", err)
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	dsn, log, ok := strings.Cut(strings.TrimSpace(line), " ")
	if !ok || dsn == "" || log == "" {
		t.Fatalf("scripts/with-postgres printed %q; want the URL and the log", line)
	}
	c := &postgresCluster{dsn: dsn, log: log, data: filepath.Join(filepath.Dir(log), "data")}
	bindir := os.Getenv("PG_BINDIR")
	if bindir == "" {
		dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
		sort.Slice(dirs, func(i, j int) bool { return pgMajor(dirs[i]) < pgMajor(dirs[j]) })
		if len(dirs) > 0 {
			bindir = dirs[len(dirs)-1]
		}
	}
	if c.pgCtl = filepath.Join(bindir, "pg_ctl"); bindir == "" {
		if c.pgCtl, err = exec.LookPath("pg_ctl"); err != nil {
			t.Fatal("pg_ctl not found: set PG_BINDIR")
		}
	}
	if os.Geteuid() == 0 {
		c.asPostgres = []string{"runuser", "-u", "postgres", "--"}
	}
	return c
}

func pgMajor(dir string) int {
	var n int
	fmt.Sscanf(filepath.Base(filepath.Dir(dir)), "%d", &n)
	return n
}

// restart runs pg_ctl restart in mode (fast or immediate) and waits until
// the database accepts connections again.
func (c *postgresCluster) restart(t *testing.T, mode string) {
	t.Helper()
	args := append(append([]string{}, c.asPostgres...), c.pgCtl, "restart", "-D", c.data, "-m", mode, "-l", c.log, "-w", "-t", "60")
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = filepath.Dir(c.data) // the postgres user may not enter the test's directory
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pg_ctl restart -m %s: %v\n%s", mode, err, out)
	}
}

// drillRounds is the positive number in the environment variable name,
// 1 when it is not set.
func drillRounds(t *testing.T, name string) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return 1
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}
