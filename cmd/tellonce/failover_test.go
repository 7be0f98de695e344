package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"tellonce/clocktest"
	"tellonce/sql/sqltest"
)

// The failover drill: two servers on one PostgreSQL, traffic spread over
// both (the standby relays to the leader), and the leader killed with
// SIGKILL again and again, each time restarted as a standby. After every
// takeover each acknowledged contact, message, note, accept and end is
// in the store, the waiting line keeps its order, every agent's desk
// comes back, and no contact was held by two agents at once. `make test`
// kills three times; `make drill` sets TELLONCE_DRILL_KILLS=20.
func TestFailoverDrill(t *testing.T) {
	if os.Getenv(sqltest.EnvPostgres) == "" && os.Getenv("CI") == "" {
		t.Skip("no PostgreSQL: run with scripts/with-postgres")
	}
	kills := drillKills(t)
	bin := filepath.Join(t.TempDir(), "tellonce")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dsn := sqltest.DSN(t, "postgres")
	lease := []string{"--lease-renew", "200ms", "--lease-ttl", drillLeaseTTL.String()}
	nodes := [2]*binaryProcess{startBinary(t, bin, dsn, lease...)}
	leaderIs := func(p *binaryProcess) func() bool {
		return func() bool { return readyRole(p.server) == "leader" }
	}
	clocktest.Eventually(t, "the first node leads", waitTime, leaderIs(nodes[0]))
	nodes[1] = startBinary(t, bin, dsn, lease...)
	if role := readyRole(nodes[1].server); role != "standby" {
		t.Fatalf("the second node's role = %q; want standby", role)
	}
	d := newDrill(t, nodes[:])
	d.setup()
	var takeovers []time.Duration
	leader := 0
	for k := range kills {
		d.run(300 * time.Millisecond)
		killed := time.Now()
		nodes[leader].kill(t)
		d.killedAt.Store(killed.UnixNano())
		next := 1 - leader
		clocktest.Eventually(t, "the standby takes over", 30*time.Second, leaderIs(nodes[next]))
		d.awaitOffer(nodes[next].server)
		took := time.Duration(d.firstOffer.Load() - killed.UnixNano())
		takeovers = append(takeovers, took)
		d.pause()
		d.verify(k, nodes[next].server)
		d.setNodes(&nodes, leader, startBinary(t, bin, dsn, lease...))
		leader = next
		d.nextRound()
		t.Logf("kill %d: takeover (SIGKILL → first offer by the new leader) %s; %d contacts, %d accepts, %d timeline entries, %d transfer and callback legs acknowledged so far",
			k+1, took.Round(time.Millisecond), d.count(&d.contacts), d.count(&d.accepted), d.count(&d.events), d.count(&d.legs))
	}

	// A planned handover: SIGTERM on the leader drains it and releases
	// the lease at once; the standby takes over within about one
	// renewal plus its restore. Its place is taken by a server that
	// reaches PostgreSQL through a proxy, for the cut below.
	d.run(300 * time.Millisecond)
	leaving, next := nodes[leader], nodes[1-leader]
	termed := time.Now()
	d.killedAt.Store(termed.UnixNano())
	if err := leaving.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	clocktest.Eventually(t, "the standby takes over from a leader stopped with SIGTERM", 30*time.Second, leaderIs(next))
	d.awaitOffer(next.server)
	handover := time.Duration(d.firstOffer.Load() - termed.UnixNano())
	select {
	case <-leaving.exited:
		if code := leaving.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("the leader stopped with SIGTERM exited with status %d; want 0", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the leader did not exit within 30s of SIGTERM")
	}
	d.pause()
	d.verify(kills, next.server)
	proxy := newDBProxy(t, dsn)
	proxied := startBinary(t, bin, proxy.dsn(dsn), lease...)
	proxied.server.dsn = dsn // the drill reads the store directly
	d.setNodes(&nodes, leader, proxied)
	leader = 1 - leader
	d.nextRound()
	t.Logf("SIGTERM handover: SIGTERM → first offer by the new leader %s", handover.Round(time.Millisecond))

	// SIGSTOP the leader for longer than its lease: the standby takes
	// over; on SIGCONT the old leader commits nothing more and stands by.
	d.run(300 * time.Millisecond)
	paused, next := nodes[leader], nodes[1-leader]
	if err := paused.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	d.killedAt.Store(time.Now().UnixNano())
	clocktest.Eventually(t, "the standby takes over from a paused leader", 30*time.Second, leaderIs(next))
	if err := paused.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	// Sockets held by the paused process hang until it resumes; then it
	// finds its lease gone, closes them, and the desks reconnect.
	clocktest.Eventually(t, "the resumed leader stands by", 30*time.Second, func() bool { return readyRole(paused.server) == "standby" })
	clocktest.Eventually(t, "the new leader offers a contact", 30*time.Second, func() bool { return d.firstOffer.Load() != 0 })
	d.run(300 * time.Millisecond) // traffic through both, the resumed one relaying
	d.pause()
	d.verify(kills+1, next.server)
	leader = 1 - leader
	d.nextRound()

	// Cut the leader (the proxied server) off PostgreSQL: it stops
	// acknowledging and steps down before its lease can run out; the
	// other takes over once the lease has expired; nothing acknowledged
	// by either is lost. Healed, the cut server comes back a standby.
	d.run(300 * time.Millisecond)
	cutOff, next := nodes[leader], nodes[1-leader]
	if cutOff != proxied || readyRole(cutOff.server) != "leader" {
		t.Fatalf("the proxied server does not lead before the cut (role %q)", readyRole(cutOff.server))
	}
	cut := time.Now()
	d.killedAt.Store(cut.UnixNano())
	proxy.Cut()
	clocktest.Eventually(t, "the standby takes over from a leader cut off the database", 30*time.Second, leaderIs(next))
	tookOver := time.Now()
	d.awaitOffer(next.server)
	cutTakeover := time.Duration(d.firstOffer.Load() - cut.UnixNano())
	steppedDown, ok := logTimeAfter(cutOff.server.logs.String(), "lease: stepping down", cut)
	switch {
	case !ok:
		t.Errorf("the server cut off the database logged no step-down:\n%s", tail(cutOff.server.logs.String(), 20))
	case steppedDown.Sub(cut) >= drillLeaseTTL:
		t.Errorf("the server cut off the database stepped down %s after the cut; want within its lease (%s)",
			steppedDown.Sub(cut).Round(time.Millisecond), drillLeaseTTL)
	case steppedDown.After(tookOver):
		t.Errorf("the cut server stepped down at %s, after the other was seen leading at %s",
			steppedDown.Format(time.StampMilli), tookOver.Format(time.StampMilli))
	}
	d.run(300 * time.Millisecond)
	proxy.Heal()
	clocktest.Eventually(t, "the healed server stands by", 60*time.Second, func() bool { return readyRole(cutOff.server) == "standby" })
	d.run(300 * time.Millisecond) // traffic through both again
	d.pause()
	d.verify(kills+2, next.server)
	d.resume()
	d.stopAll()
	t.Logf("database cut: the leader stepped down %s after the cut (lease %s); cut → first offer by the new leader %s",
		steppedDown.Sub(cut).Round(time.Millisecond), drillLeaseTTL, cutTakeover.Round(time.Millisecond))

	sort.Slice(takeovers, func(i, j int) bool { return takeovers[i] < takeovers[j] })
	p99 := takeovers[min(len(takeovers)-1, len(takeovers)*99/100)]
	t.Logf("drill: %d kills; takeover median %s, p99 %s, max %s; acknowledged %d contacts, %d accepts, %d timeline entries, legs %s",
		kills, takeovers[len(takeovers)/2].Round(time.Millisecond), p99.Round(time.Millisecond),
		takeovers[len(takeovers)-1].Round(time.Millisecond), d.count(&d.contacts), d.count(&d.accepted), d.count(&d.events), d.legKinds())
}

// drillLeaseTTL is the drill's --lease-ttl.
const drillLeaseTTL = time.Second

// logTimeAfter is the time of the first log line at or after since that
// holds msg (the text handler's time= field).
func logTimeAfter(logs, msg string, since time.Time) (time.Time, bool) {
	for _, line := range strings.Split(logs, "\n") {
		if !strings.Contains(line, msg) || !strings.HasPrefix(line, "time=") {
			continue
		}
		stamp, _, _ := strings.Cut(strings.TrimPrefix(line, "time="), " ")
		at, err := time.Parse(time.RFC3339Nano, stamp)
		if err == nil && !at.Before(since) {
			return at, true
		}
	}
	return time.Time{}, false
}

// readyRole is the role /readyz reports when it answers 200.
func readyRole(s *testServer) string {
	code, body, err := s.request("GET", "/readyz", "", nil)
	if err != nil || code != http.StatusOK {
		return ""
	}
	var r struct{ Role string }
	_ = json.Unmarshal(body, &r)
	return r.Role
}

const (
	drillAgency    = "drill"
	drillWork      = "drill.work"      // the agents take these
	drillLine      = "drill.line"      // nobody serves this one: its order is checked
	drillCallbacks = "drill.callbacks" // second-line callbacks filed by ends; nobody serves it
	drillOther     = "drill2"          // the other agency, whose agents take the transfers
	drillOtherWork = "drill2.work"
	drillPassword  = "drill-password-1"
)

var (
	drillAgents      = []string{"drill.a1", "drill.a2", "drill.a3"}
	drillOtherAgents = []string{"drill2.b1", "drill2.b2"}
)

// drillLeg is a leg an acknowledged transfer (cold or warm, to the
// other agency) or a filed callback made: it must be in the store.
type drillLeg struct{ caseID, queue, kind string }

type drillContact struct {
	contactAnswer
	queue string
	n     int // creation order within its queue
}

type drillEvent struct{ caseID, typ, text string }

// drill is the traffic and its record of what was acknowledged.
type drill struct {
	t     *testing.T
	nodes []*binaryProcess

	running    sync.WaitGroup
	stop       chan struct{}
	paused     atomic.Bool
	killedAt   atomic.Int64 // unix ns of the last kill, 0 between rounds
	firstOffer atomic.Int64 // unix ns of the first offer after it
	said       atomic.Int64 // numbers every text, so each is unique

	mu       sync.Mutex
	contacts []any             // *drillContact, acknowledged
	accepted []any             // acknowledged accepts
	events   []any             // drillEvent, acknowledged
	legs     []any             // drillLeg, acknowledged
	holder   map[string]string // contact → agent holding it (accepted, not ended)
	ended    map[string]bool
	lineN    int
}

func newDrill(t *testing.T, nodes []*binaryProcess) *drill {
	return &drill{t: t, nodes: nodes, stop: make(chan struct{}), holder: map[string]string{}, ended: map[string]bool{}}
}

func (d *drill) count(l *[]any) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(*l)
}

func (d *drill) node(i int) *testServer {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.nodes[i%len(d.nodes)].server
}

func (d *drill) stopped() bool {
	select {
	case <-d.stop:
		return true
	default:
		return false
	}
}

// setup makes the agency, queues and agents, through the standby.
func (d *drill) setup() {
	t, s := d.t, d.node(1)
	admin := s.admin(t)
	s.call(t, "POST", "/v1/agencies", admin, obj{"id": drillAgency, "name": "Drill"}, http.StatusCreated, nil)
	s.createQueue(t, drillAgency, "work", obj{"wrapup_s": 0})
	s.createQueue(t, drillAgency, "line", obj{"wrapup_s": 0})
	s.createQueue(t, drillAgency, "callbacks", obj{"wrapup_s": 0, "channels": []string{"callback"}})
	s.call(t, "POST", "/v1/agencies", admin, obj{"id": drillOther, "name": "Drill 2"}, http.StatusCreated, nil)
	s.createQueue(t, drillOther, "work", obj{"wrapup_s": 0})
	agents := append(slices.Clone(drillAgents), drillOtherAgents...)
	for _, a := range agents {
		agency, queue := drillAgency, drillWork
		if strings.HasPrefix(a, drillOther+".") {
			agency, queue = drillOther, drillOtherWork
		}
		s.call(t, "POST", "/v1/users", admin, obj{"username": a, "name": "상담원 " + a, "password": drillPassword,
			"role": "agent", "agency": agency, "skills": obj{"lang:ko": 5},
			"queues": []obj{{"queue": queue, "level": 3}}, "max_chats": 3}, http.StatusCreated, nil)
	}
	for i, a := range agents {
		d.running.Add(1)
		go func() { defer d.running.Done(); d.agent(i, a) }()
	}
	for i := range 2 {
		d.running.Add(1)
		go func() { defer d.running.Done(); d.citizens(i) }()
	}
}

// run lets the traffic go for at least dur and until something is
// acknowledged in every kind.
func (d *drill) run(dur time.Duration) {
	end := time.Now().Add(dur)
	clocktest.Eventually(d.t, "traffic acknowledged", waitTime, func() bool {
		return time.Now().After(end) && d.count(&d.accepted) > 0 && d.count(&d.events) > 0 && d.count(&d.legs) > 0
	})
}

// setNodes puts p in the place i of nodes, which the traffic then uses.
func (d *drill) setNodes(nodes *[2]*binaryProcess, i int, p *binaryProcess) {
	d.mu.Lock()
	defer d.mu.Unlock()
	nodes[i] = p
	d.nodes = []*binaryProcess{nodes[0], nodes[1]}
}

// nextRound forgets the last fault's times and lets the traffic go on.
func (d *drill) nextRound() {
	d.firstOffer.Store(0)
	d.killedAt.Store(0)
	d.resume()
}

// legKinds counts the acknowledged transfer and callback legs by kind.
func (d *drill) legKinds() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := map[string]int{}
	for _, x := range d.legs {
		n[x.(drillLeg).kind]++
	}
	return fmt.Sprintf("%d cold transfers, %d warm transfers, %d callbacks", n["cold"], n["warm"], n["callback"])
}

func (d *drill) pause()  { d.paused.Store(true) }
func (d *drill) resume() { d.paused.Store(false) }

func (d *drill) stopAll() {
	close(d.stop)
	d.running.Wait()
}

// citizens open chats, alternately in the agents' queue and in the
// waiting line, through alternating nodes; a refused one is not recorded.
func (d *drill) citizens(driver int) {
	for i := 0; !d.stopped(); i++ {
		if d.paused.Load() && d.killedAt.Load() == 0 {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		queue := drillWork
		if i%2 == 1 {
			queue = drillLine
		}
		d.mu.Lock() // the line's creation order is the order of acknowledgement
		s := d.nodes[(driver+i)%len(d.nodes)].server
		code, body, err := s.request("POST", "/v1/contacts", "", chatRequest(queue, fmt.Sprintf("drill-%d-%d", driver, i), "시민", "훈련"))
		if err == nil && code == http.StatusCreated {
			var c drillContact
			if json.Unmarshal(body, &c.contactAnswer) == nil {
				c.queue = queue
				if queue == drillLine {
					c.n = d.lineN
					d.lineN++
				}
				d.contacts = append(d.contacts, &c)
			}
		}
		d.mu.Unlock()
		if err != nil || code != http.StatusCreated {
			time.Sleep(50 * time.Millisecond) // a takeover: try again soon
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// agent works a desk through one node, reconnecting (to the other node)
// whenever the socket drops; its login, stored in the database, outlives
// every takeover, as a desk's does.
func (d *drill) agent(i int, username string) {
	token := ""
	for round := i; !d.stopped(); round++ {
		s := d.node(round)
		if token == "" {
			code, body, err := s.request("POST", "/v1/sessions", "", obj{"username": username, "password": drillPassword})
			var login struct{ Token string }
			if err != nil || code != http.StatusCreated || json.Unmarshal(body, &login) != nil {
				time.Sleep(100 * time.Millisecond)
				continue
			}
			token = login.Token
		}
		if d.desk(s, username, token) == http.StatusUnauthorized {
			token = ""
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// desk works one connection until it drops; it returns the refusal's
// status when the socket could not open.
func (d *drill) desk(s *testServer, username, token string) int {
	ws, resp, err := dialErr(username, s.wsURL("/v1/agent/ws"), bearerHeader(token))
	if err != nil {
		if resp != nil {
			return resp.StatusCode
		}
		return 0
	}
	defer ws.Close()
	hello, err := ws.Await("hello", waitTime)
	if err != nil {
		return 0
	}
	type held struct{ contactID, caseID string }
	var desk []held
	var restored []struct {
		Contact struct {
			ContactID string `json:"contact_id"`
		} `json:"contact"`
		Case struct {
			CaseID string `json:"case_id"`
		} `json:"case"`
	}
	if err := hello.decode(&restored, "contacts"); err == nil {
		for _, r := range restored {
			desk = append(desk, held{r.Contact.ContactID, r.Case.CaseID})
		}
	}
	// Offers made before this connection come in hello, each as an offer
	// frame would be.
	var early []frame
	for _, o := range hello.list("offers") {
		if b, err := json.Marshal(o); err == nil {
			early = append(early, parseFrame(b))
		}
	}
	if _, err := ws.Send(obj{"type": "state", "state": "available"}); err != nil {
		d.t.Logf("%s %s: available refused: %v", time.Now().Format("15:04:05.000"), username, err)
		return 0
	}
	d.t.Logf("%s %s: desk on %s with %d contacts", time.Now().Format("15:04:05.000"), username, s.base, len(desk))
	defer func() { d.t.Logf("%s %s: desk on %s ends", time.Now().Format("15:04:05.000"), username, s.base) }()
	for i := 0; !d.stopped() && !ws.closed(); i++ {
		if d.paused.Load() {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		offer, err := frame{}, error(nil)
		if len(early) > 0 {
			offer, early = early[0], early[1:]
		} else {
			offer, err = ws.Await("offer", 5*time.Millisecond)
		}
		if err == nil {
			if at := d.killedAt.Load(); at != 0 && d.firstOffer.Load() == 0 {
				d.firstOffer.CompareAndSwap(0, time.Now().UnixNano())
			}
			id := offer.str("contact", "contact_id")
			d.mu.Lock()
			if h := d.holder[id]; h != "" && h != username {
				d.t.Errorf("contact %s offered to %s while %s holds it", id, username, h)
			}
			d.mu.Unlock()
			if _, err := ws.Send(obj{"type": "accept", "offer_id": offer.str("offer_id")}); err != nil {
				continue
			}
			d.mu.Lock()
			if h := d.holder[id]; h != "" && h != username {
				d.t.Errorf("contact %s accepted by %s while %s holds it", id, username, h)
			}
			d.holder[id] = username
			d.accepted = append(d.accepted, id)
			d.mu.Unlock()
			desk = append(desk, held{id, offer.str("case", "case_id")})
			continue
		}
		if len(desk) == 0 {
			continue
		}
		k := i % len(desk)
		h := desk[k]
		n := d.said.Add(1)
		text := fmt.Sprintf("%s %d %s", username, n, h.contactID)
		// The first agency's agents hand some contacts to the other
		// agency (cold and warm in turn) and end some with a callback.
		first := !strings.HasPrefix(username, drillOther+".")
		switch {
		case first && i%17 == 1:
			mode := "cold"
			if n%2 == 0 {
				mode = "warm"
			}
			desk = append(desk[:k], desk[k+1:]...)
			d.mu.Lock()
			d.ended[h.contactID] = true // sent: its leg may end, now or when the warm one is taken
			d.mu.Unlock()
			note := "이관 " + text
			if _, err := ws.Send(obj{"type": "transfer", "contact_id": h.contactID, "to": obj{"queue": drillOtherWork},
				"mode": mode, "note": note}); err != nil {
				continue
			}
			d.mu.Lock()
			delete(d.holder, h.contactID)
			d.events = append(d.events, drillEvent{h.caseID, "transfer", note})
			d.legs = append(d.legs, drillLeg{h.caseID, drillOtherWork, mode})
			d.mu.Unlock()
		case first && i%23 == 2:
			desk = append(desk[:k], desk[k+1:]...)
			d.mu.Lock()
			d.ended[h.contactID] = true
			d.mu.Unlock()
			if _, err := ws.Send(obj{"type": "end", "contact_id": h.contactID, "summary": "회신 " + text,
				"callback": obj{"queue": drillCallbacks, "number": fmt.Sprintf("+8210%08d", n), "note": "회신 요청"}}); err != nil {
				continue
			}
			d.mu.Lock()
			delete(d.holder, h.contactID)
			d.legs = append(d.legs, drillLeg{h.caseID, drillCallbacks, "callback"})
			d.mu.Unlock()
		case len(desk) >= 3 && i%5 == 0:
			desk = append(desk[:k], desk[k+1:]...)
			d.mu.Lock()
			d.ended[h.contactID] = true // sent: acknowledged or not, it may be over
			d.mu.Unlock()
			if _, err := ws.Send(obj{"type": "end", "contact_id": h.contactID, "disposition": "resolved", "summary": "끝 " + text}); err != nil {
				continue
			}
			d.mu.Lock()
			delete(d.holder, h.contactID)
			d.events = append(d.events, drillEvent{h.caseID, "ended", "끝 " + text})
			d.mu.Unlock()
		case i%3 == 0:
			if _, err := ws.Send(obj{"type": "note", "case_id": h.caseID, "text": "메모 " + text}); err != nil {
				continue
			}
			d.mu.Lock()
			d.events = append(d.events, drillEvent{h.caseID, "note", "메모 " + text})
			d.mu.Unlock()
		default:
			if _, err := ws.Send(obj{"type": "say", "contact_id": h.contactID, "text": text}); err != nil {
				continue
			}
			d.mu.Lock()
			d.events = append(d.events, drillEvent{h.caseID, "message", text})
			d.mu.Unlock()
		}
		time.Sleep(5 * time.Millisecond)
	}
	return 0
}

// awaitOffer waits for the first offer after the kill; without one it
// says what the store holds, to tell a stuck router from idle traffic.
func (d *drill) awaitOffer(s *testServer) {
	t := d.t
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for d.firstOffer.Load() == 0 {
		if time.Now().After(deadline) {
			db := openDB(t, s.dsn)
			var rows []struct {
				Queue  string `db:"queue_id"`
				Status string `db:"status"`
				Agent  string `db:"agent"`
				N      int    `db:"n"`
			}
			_ = db.Select(&rows, `SELECT queue_id, status, COALESCE(agent, '') AS agent, COUNT(*) AS n FROM contacts GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`)
			t.Fatalf("no offer within 30s of the kill; contacts by queue, status and agent: %+v", rows)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// verify checks the store and the new leader against the record.
func (d *drill) verify(kill int, s *testServer) {
	t := d.t
	d.mu.Lock()
	defer d.mu.Unlock()
	db := openDB(t, s.dsn)
	ctx := context.Background()
	var stored []struct {
		ID     string `db:"id"`
		Status string `db:"status"`
		Agent  string `db:"agent"`
	}
	if err := db.SelectContext(ctx, &stored, `SELECT id, status, COALESCE(agent, '') AS agent FROM contacts`); err != nil {
		t.Fatal(err)
	}
	byID := map[string]int{}
	for i, c := range stored {
		byID[c.ID] = i
	}
	var line []*drillContact
	for _, x := range d.contacts {
		c := x.(*drillContact)
		i, ok := byID[c.ContactID]
		if !ok {
			t.Errorf("kill %d: acknowledged contact %s (%s) is not in the store", kill+1, c.ContactID, c.queue)
			continue
		}
		if c.queue == drillLine {
			if stored[i].Status != "queued" {
				t.Errorf("kill %d: waiting contact %s is %s", kill+1, c.ContactID, stored[i].Status)
			}
			line = append(line, c)
		}
	}
	for id, agent := range d.holder {
		i, ok := byID[id]
		if !ok {
			t.Errorf("kill %d: accepted contact %s is not in the store", kill+1, id)
		} else if !d.ended[id] && (stored[i].Status != "assigned" || stored[i].Agent != agent) {
			t.Errorf("kill %d: contact %s accepted by %s is %s with %q", kill+1, id, agent, stored[i].Status, stored[i].Agent)
		}
	}
	var evs []struct {
		CaseID string `db:"case_id"`
		Type   string `db:"type"`
		Text   string `db:"text"`
	}
	if err := db.SelectContext(ctx, &evs, `SELECT case_id, type, COALESCE(text, '') AS text FROM case_events`); err != nil {
		t.Fatal(err)
	}
	have := map[drillEvent]int{}
	for _, e := range evs {
		have[drillEvent{e.CaseID, e.Type, e.Text}]++
	}
	for _, x := range d.events {
		e := x.(drillEvent)
		if e.typ == "ended" {
			continue // an end's timeline entry carries the summary in its data
		}
		if have[e] != 1 {
			t.Errorf("kill %d: acknowledged %s %q of case %s is stored %d times; want once", kill+1, e.typ, e.text, e.caseID, have[e])
		}
	}
	// Every acknowledged transfer and callback left its leg.
	var legs []struct {
		CaseID string `db:"case_id"`
		Queue  string `db:"queue_id"`
	}
	if err := db.SelectContext(ctx, &legs, `SELECT case_id, queue_id FROM contacts`); err != nil {
		t.Fatal(err)
	}
	haveLeg := map[drillLeg]bool{}
	for _, l := range legs {
		haveLeg[drillLeg{caseID: l.CaseID, queue: l.Queue}] = true
	}
	for _, x := range d.legs {
		l := x.(drillLeg)
		if !haveLeg[drillLeg{caseID: l.caseID, queue: l.queue}] {
			t.Errorf("kill %d: the acknowledged %s of case %s left no leg in %s", kill+1, l.kind, l.caseID, l.queue)
		}
	}
	// The waiting line keeps its order: positions grow with creation.
	// A read answered 503 (no server leads right now: a leader whose
	// renewal came too late steps down after the fault, and the next one
	// is restoring) is read again through whichever server leads next.
	read := func(path string) (int, []byte, error) {
		deadline := time.Now().Add(waitTime)
		for {
			code, body, err := s.request("GET", path, "", nil)
			if code != http.StatusServiceUnavailable || time.Now().After(deadline) {
				return code, body, err
			}
			time.Sleep(50 * time.Millisecond)
			if l := leaderOf(d.nodes); l != nil {
				s = l.server
			}
		}
	}
	prev := 0
	for _, c := range line {
		var st contactAnswer
		code, body, err := read("/v1/contacts/" + c.ContactID + "?token=" + c.CitizenToken)
		if err != nil || code != http.StatusOK || json.Unmarshal(body, &st) != nil {
			t.Errorf("kill %d: read waiting contact %s: %d %v", kill+1, c.ContactID, code, err)
			continue
		}
		if st.Position <= prev {
			t.Errorf("kill %d: waiting contact #%d is at position %d after one at %d", kill+1, c.n, st.Position, prev)
		}
		prev = st.Position
	}
}

// The embedded database under the same traffic: killed with SIGKILL and
// restarted again and again (`make test` three times, `make drill`
// TELLONCE_DRILL_KILLS), nothing acknowledged is lost; and while one
// server runs, a second one on the same file refuses to start.
func TestEmbeddedKillRestartDrill(t *testing.T) {
	kills := drillKills(t)
	bin := filepath.Join(t.TempDir(), "tellonce")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dsn := sqltest.DSN(t, "sqlite")
	node := startBinary(t, bin, dsn)

	second := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--db", dsn)
	out, err := second.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "another tellonce server is running on "+dsn) {
		t.Fatalf("a second server on the same file: %v\n%s\nwant a refusal naming the lock", err, out)
	}

	d := newDrill(t, []*binaryProcess{node})
	d.setup()
	var restarts []time.Duration
	for k := range kills {
		d.run(300 * time.Millisecond)
		killed := time.Now()
		node.kill(t)
		d.killedAt.Store(killed.UnixNano())
		node = startBinary(t, bin, dsn)
		d.mu.Lock()
		d.nodes = []*binaryProcess{node}
		d.mu.Unlock()
		d.awaitOffer(node.server)
		restarts = append(restarts, time.Duration(d.firstOffer.Load()-killed.UnixNano()))
		d.pause()
		d.verify(k, node.server)
		d.firstOffer.Store(0)
		d.killedAt.Store(0)
		d.resume()
	}
	d.stopAll()
	t.Logf("embedded drill: %d kill-restart cycles, %d contacts, %d accepts, %d timeline entries, %d transfer and callback legs acknowledged; SIGKILL → first offer median %s",
		kills, d.count(&d.contacts), d.count(&d.accepted), d.count(&d.events), d.count(&d.legs), median(restarts).Round(time.Millisecond))
}

func drillKills(t *testing.T) int {
	t.Helper()
	v := os.Getenv("TELLONCE_DRILL_KILLS")
	if v == "" {
		return 3
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("TELLONCE_DRILL_KILLS=%q: want a positive number", v)
	}
	return n
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
