package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"tellonce/auth"
	"tellonce/clocktest"
	"tellonce/directory"
	"tellonce/sql/sqltest"
)

// A takeover at scale: a PostgreSQL pair with many agents at their desks
// and a long line waiting, the leader killed with SIGKILL. It measures
// what an operator would: the new leader's restore, when every desk has
// its hello again (reconnecting as the console does: when a server that
// cannot serve yet says, else on its schedule), when the first and the last agent get an offer; and
// checks that every waiting contact is still waiting. `make drill` runs
// 1,000 agents and 10,000 waiting contacts (TELLONCE_DRILL_SCALE=1000x10000,
// TELLONCE_SCALE_KILLS=20); `make test` a small form.
func TestTakeoverAtScale(t *testing.T) {
	if os.Getenv(sqltest.EnvPostgres) == "" && os.Getenv("CI") == "" {
		t.Skip("no PostgreSQL: run with scripts/with-postgres")
	}
	agents, waiting := scaleOf(t)
	kills := drillRounds(t, "TELLONCE_SCALE_KILLS")
	bin := filepath.Join(t.TempDir(), "tellonce")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dsn := sqltest.DSN(t, "postgres")
	// The default lease (1 s, 5 s): the takeover an operator gets. The
	// other drills' 200 ms renewals are too tight here: a journal commit
	// holds the lease row until it commits, and on a loaded machine a
	// large one outlasts TTL-renew (docs/operations.md).
	flags := []string{"--log-level", "info"}
	first := startBinary(t, bin, dsn, flags...)
	admin := first.server.admin(t)
	first.server.call(t, "POST", "/v1/agencies", admin, obj{"id": "scale", "name": "Scale"}, http.StatusCreated, nil)
	queue := first.server.createQueue(t, "scale", "work", obj{"wrapup_s": 0, "offer_timeout_s": 120})

	// The agents go straight into the directory, with one password hash
	// and sessions made in the store (a thousand logins would measure the
	// password hash); the leader learns them when it restores.
	ctx := context.Background()
	db := openDB(t, dsn)
	dir := directory.NewStore(db, nil)
	hash, err := auth.DefaultHasher().Hash(drillPassword)
	if err != nil {
		t.Fatal(err)
	}
	sessions := auth.NewSessions(db, 24*time.Hour, nil)
	names := make([]string, agents)
	tokens := make([]string, agents)
	began := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i := range agents {
		names[i] = fmt.Sprintf("scale.a%04d", i)
		g.Go(func() error {
			one := 1
			if _, err := dir.CreateUser(gctx, directory.UserCreate{Username: names[i], Name: "상담원 " + names[i], Password: drillPassword,
				Role: directory.RoleAgent, Agency: "scale", Skills: map[string]int{"lang:ko": 5},
				Queues: []directory.Membership{{Queue: queue, Level: 3}}, MaxChats: &one}, hash); err != nil {
				return err
			}
			token, _, err := sessions.Create(gctx, names[i], "127.0.0.1")
			tokens[i] = token
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	second := startBinary(t, bin, dsn, flags...)
	nodes := [2]*binaryProcess{first, second}
	if err := first.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	clocktest.Eventually(t, "the second server leads with the agents", waitTime, func() bool { return readyRole(second.server) == "leader" })
	<-first.exited
	nodes[0] = startBinary(t, bin, dsn, flags...)
	leader := 1
	setup := time.Since(began)

	// The line: every contact acknowledged, through both servers.
	began = time.Now()
	var posted atomic.Int64
	g, _ = errgroup.WithContext(ctx)
	g.SetLimit(16)
	for i := range waiting {
		g.Go(func() error {
			s := nodes[i%2].server
			for try := 0; ; try++ {
				code, body, err := s.request("POST", "/v1/contacts", "", chatRequest(queue, fmt.Sprintf("scale-%06d", i), "시민", "대기"))
				if err == nil && code == http.StatusCreated {
					posted.Add(1)
					return nil
				}
				// A 429 comes while the leader does not yet count a new
				// standby as a peer (it looks every --lease-renew) and
				// takes the relayed requests for one client's.
				if try == 20 {
					return fmt.Errorf("POST /v1/contacts #%d: %d %s %v", i, code, body, err)
				}
				time.Sleep(250 * time.Millisecond)
			}
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	line := time.Since(began)

	// Every agent at a desk, through either server, not yet available:
	// the line stays whole until the first kill.
	desks := make([]*scaleDesk, agents)
	g, _ = errgroup.WithContext(ctx)
	g.SetLimit(32)
	for i := range agents {
		desks[i] = &scaleDesk{username: names[i], token: tokens[i]}
		g.Go(func() error { return desks[i].connect(nodes[:], i, waitTime, false) })
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	t.Logf("scale: %d agents made in %s; %d contacts waiting, posted in %s (%.0f/s); every desk open",
		agents, setup.Round(time.Millisecond), posted.Load(), line.Round(time.Millisecond), float64(posted.Load())/line.Seconds())

	// Over every kill: kill → the new leader's first offer, its restore,
	// and kill → the last desk's hello.
	var firsts, restores, lastHellos []time.Duration
	defer func() {
		if len(firsts) == 0 {
			return
		}
		q := func(ds []time.Duration, p int) time.Duration {
			s := slices.Sorted(slices.Values(ds))
			return s[min(len(s)-1, len(s)*p/100)].Round(time.Millisecond)
		}
		t.Logf("scale over %d kills (%d agents, %d waiting): SIGKILL → first offer p50 %s, p99 %s, max %s; restore p50 %s, p99 %s; every desk's hello p50 %s, p99 %s",
			len(firsts), agents, waiting, q(firsts, 50), q(firsts, 99), q(firsts, 100), q(restores, 50), q(restores, 99),
			q(lastHellos, 50), q(lastHellos, 99))
	}()
	for k := range kills {
		killed := time.Now()
		nodes[leader].kill(t)
		next := nodes[1-leader]
		var wg sync.WaitGroup
		for i, d := range desks {
			wg.Add(1)
			go func() { defer wg.Done(); d.takeover(nodes[:], i, killed) }()
		}
		wg.Wait()
		restore, ok := logDurationAfter(next.server.logs.String(), "leading: live state restored", "took", killed)
		if !ok {
			t.Errorf("kill %d: the new leader logged no restore", k+1)
		}
		// The restore's steps, as the new leader logged them.
		for _, line := range strings.Split(next.server.logs.String(), "\n") {
			for _, step := range []string{"lease: leading", "router restored", "statistics loaded", "live state restored", "term as leader failed", "stepping down", "renewal failed"} {
				if at, ok := logTimeAfter(line, step, killed); ok && !at.IsZero() {
					t.Logf("kill %d: +%s %s", k+1, at.Sub(killed).Round(time.Millisecond), line)
				}
			}
		}
		var hellos, offers []time.Duration
		for _, d := range desks {
			if d.err != nil {
				t.Errorf("kill %d: %s: %v", k+1, d.username, d.err)
				continue
			}
			hellos = append(hellos, d.hello)
			offers = append(offers, d.offer)
		}
		var live int
		if err := db.GetContext(ctx, &live, db.Rebind(`SELECT COUNT(*) FROM contacts WHERE queue_id = ? AND status <> 'ended'`), queue); err != nil {
			t.Fatal(err)
		}
		if live < waiting { // a retried POST may have made one more
			t.Errorf("kill %d: %d contacts of the line are live in the store; want all %d acknowledged", k+1, live, waiting)
		}
		if len(offers) == agents {
			slices.Sort(hellos)
			slices.Sort(offers)
			firsts, restores, lastHellos = append(firsts, offers[0]), append(restores, restore), append(lastHellos, hellos[len(hellos)-1])
			t.Logf("scale kill %d (%d agents, %d waiting): restore %s; SIGKILL → every desk's hello p50 %s, p99 %s, last %s; → first offer %s, every agent offered %s",
				k+1, agents, waiting, restore.Round(time.Millisecond), hellos[len(hellos)/2].Round(time.Millisecond),
				hellos[len(hellos)*99/100].Round(time.Millisecond), hellos[len(hellos)-1].Round(time.Millisecond),
				offers[0].Round(time.Millisecond), offers[len(offers)-1].Round(time.Millisecond))
		}
		if t.Failed() {
			return
		}
		nodes[leader] = startBinary(t, bin, dsn, flags...)
		leader = 1 - leader
	}
}

// scaleOf reads TELLONCE_DRILL_SCALE (agents x waiting contacts).
func scaleOf(t *testing.T) (agents, waiting int) {
	t.Helper()
	v := os.Getenv("TELLONCE_DRILL_SCALE")
	if v == "" {
		return 20, 200
	}
	a, w, ok := strings.Cut(v, "x")
	agents, err1 := strconv.Atoi(a)
	waiting, err2 := strconv.Atoi(w)
	if !ok || err1 != nil || err2 != nil || agents < 1 || waiting < agents {
		t.Fatalf("TELLONCE_DRILL_SCALE=%q: want AGENTSxWAITING, e.g. 1000x10000, with at least as many contacts as agents", v)
	}
	return agents, waiting
}

// scaleDesk is one agent's console socket, reopened after each kill.
type scaleDesk struct {
	username, token string
	ws              *wsClient
	offered         bool // the last hello carried offers
	// Of the last takeover: from the kill to the hello, and to the first offer.
	hello, offer time.Duration
	err          error
}

// deskRetries are the console's waits before each reconnect
// (web/static/socket.js), each with ±20 % jitter: a thousand desks do not
// hammer a server that is restoring.
var deskRetries = []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second,
	4 * time.Second, 8 * time.Second, 15 * time.Second}

// connect opens the desk through one server or the other until a hello
// comes, for up to limit; after a drop (retry) it first waits as the
// console does, and between failed tries too: the wait a server asked for
// in its close (4503, a takeover under way), with up to a quarter added,
// else the next of deskRetries.
func (d *scaleDesk) connect(nodes []*binaryProcess, i int, limit time.Duration, retry bool) error {
	deadline := time.Now().Add(limit)
	var hint time.Duration
	for try, backoff := 0, 0; ; try++ {
		switch {
		case !retry:
		case hint > 0:
			time.Sleep(time.Duration(float64(hint) * (1 + 0.25*rand.Float64())))
		default:
			base := deskRetries[min(backoff, len(deskRetries)-1)]
			backoff++
			time.Sleep(time.Duration(float64(base) * (0.8 + 0.4*rand.Float64())))
		}
		retry, hint = true, 0
		// As a load balancer would, a server that refuses the
		// connection (dead) passes the try to the next one.
		var ws *wsClient
		var err error
		for k := range nodes {
			s := nodes[(i+try+k)%len(nodes)].server
			var resp *http.Response
			if ws, resp, err = dialErr(d.username, s.wsURL("/v1/agent/ws"), bearerHeader(d.token)); err == nil || resp != nil {
				break
			}
		}
		if err == nil {
			var hello frame
			if hello, err = ws.Await("hello", waitTime); err == nil {
				d.ws, d.offered = ws, len(hello.list("offers")) > 0
				return nil
			}
			hint = ws.retryHint()
			ws.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no hello within %s: %w", limit, err)
		}
	}
}

// takeover waits for the desk's socket to drop (the leader died, or the
// standby it went through closed it), opens it again, becomes available
// and waits for an offer.
func (d *scaleDesk) takeover(nodes []*binaryProcess, i int, killed time.Time) {
	d.err = nil
	select {
	case <-d.ws.done:
	case <-time.After(60 * time.Second):
		d.err = fmt.Errorf("the socket did not drop within 60s of the kill")
		return
	}
	d.ws.Close()
	if d.err = d.connect(nodes, i, 120*time.Second, true); d.err != nil {
		return
	}
	d.hello = time.Since(killed)
	for try := 0; ; try++ {
		_, err := d.ws.Send(obj{"type": "state", "state": "available"})
		if err == nil {
			break
		}
		if try == 50 || d.ws.closed() {
			d.err = fmt.Errorf("available: %w", err)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	// An agent still available at the takeover may have its offer in
	// the hello already.
	if !d.offered {
		if _, err := d.ws.Await("offer", 120*time.Second); err != nil {
			d.err = err
			return
		}
	}
	d.offer = time.Since(killed)
}

// logDurationAfter is the duration field key of the first log line at or
// after since that holds msg.
func logDurationAfter(logs, msg, key string, since time.Time) (time.Duration, bool) {
	for _, line := range strings.Split(logs, "\n") {
		if !strings.Contains(line, msg) {
			continue
		}
		if at, ok := logTimeAfter(line, msg, since); !ok || at.IsZero() {
			continue
		}
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, key+"="); ok {
				if d, err := time.ParseDuration(v); err == nil {
					return d, true
				}
			}
		}
	}
	return 0, false
}
