package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"tellonce/clocktest"
	"tellonce/servertest"
	tsql "tellonce/sql"
	"tellonce/sql/sqltest"
)

// TestCrashLosesNoAcknowledgedChange is docs/architecture.md's durability invariant end to
// end: the real binary takes chat traffic from several citizens and agents
// at once (contacts, accepts, messages both ways, notes, transfers, ends),
// every acknowledged change is written down, and the process is killed
// with SIGKILL in the middle of it. Restarted on the same database it must
// hold every acknowledged contact and timeline entry, put the waiting
// contacts back in their original order, and give assigned contacts back
// to their agents when they reconnect.
func TestCrashLosesNoAcknowledgedChange(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "tellonce")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	eachBackend(t, func(t *testing.T, backend string) {
		dsn := sqltest.DSN(t, backend)
		first := startBinary(t, bin, dsn)
		tr := newCrashTraffic(t, first.server)
		tr.setup()
		tr.run(func() { first.kill(t) })
		t.Logf("%s: killed after %d acknowledged changes: %d contacts (%d in the waiting lines), %d accepts, %d timeline entries, %d transfers, %d ends",
			backend, tr.acked.Load(), len(tr.contacts), tr.lineCount(), len(tr.assigned), len(tr.events), tr.count("transfer"), tr.count("ended"))

		second := startBinary(t, bin, dsn)
		tr.s = second.server
		tr.verify()
	})
}

// binaryProcess is the tellonce binary serving on loopback.
type binaryProcess struct {
	cmd    *exec.Cmd
	server *testServer
	exited chan struct{}
}

// startBinary runs "tellonce serve" on the database and waits until it
// reports its address and /readyz answers 200. A long reconnect grace keeps
// restored assignments with their agents while the test checks them.
func startBinary(t *testing.T, bin, dsn string, flags ...string) *binaryProcess {
	t.Helper()
	p := &binaryProcess{server: &testServer{dsn: dsn, logs: &servertest.LogBuffer{}}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, append([]string{"serve", "--demo", "--addr", "127.0.0.1:0", "--db", dsn, "--trust-proxy", "127.0.0.1,::1",
		"--reconnect-grace", "5m", "--log-level", "warn"}, flags...)...)
	p.cmd.Env = append(os.Environ(), "TELLONCE_ADMIN_PASSWORD="+e2eAdminPassword)
	p.cmd.Stderr = p.server.logs
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("server log (pid %d):\n%s", p.cmd.Process.Pid, tail(p.server.logs.String(), 40))
		}
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := servertest.ServingURL(sc.Text()); ok {
				addr <- u
				break
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case p.server.base = <-addr:
	case <-p.exited:
		t.Fatalf("the binary exited before serving: %s", p.server.logs.String())
	case <-time.After(waitTime):
		t.Fatalf("the binary did not report its address within %s: %s", waitTime, p.server.logs.String())
	}
	clocktest.EventuallyNil(t, "GET /readyz", waitTime, func() error { return statusOK(p.server, "/readyz", "") })
	return p
}

// kill ends the process with SIGKILL: no drain, no flush, no goodbye.
func (p *binaryProcess) kill(t *testing.T) {
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Errorf("SIGKILL: %v", err)
	}
	<-p.exited
}

// Traffic and its record.

const (
	crashAgency   = "crash"
	crashWork     = "crash.work" // agents take these
	crashNext     = "crash.next" // transfers go here
	crashPassword = "crash-password-1"
	// The kill comes once killAfter changes are acknowledged, killEvents
	// of them timeline entries, with two transfers among them, or when
	// crashTimeLimit has passed. Each citizen driver stops after
	// crashPerDriver contacts.
	killAfter      = 300
	killEvents     = 150
	crashTimeLimit = 12 * time.Second
	crashPerDriver = 60
)

var crashLines = []string{"crash.line1", "crash.line2", "crash.line3"} // nobody serves these

// crashContact is an acknowledged contact (201 from POST /v1/contacts).
type crashContact struct {
	contactAnswer
	queue, caller string
	index         int // creation order in its queue, for the waiting lines
}

// ackedEvent is a timeline entry whose change was acknowledged.
type ackedEvent struct {
	caseID, typ, text, actor, contactID string
}

type crashTraffic struct {
	t *testing.T
	s *testServer

	stop  chan struct{} // closed at the kill
	acked atomic.Int64

	mu       sync.Mutex
	contacts map[string]*crashContact   // by contact id
	lines    map[string][]*crashContact // waiting-line queue → contacts in creation order
	assigned map[string]string          // contact id → agent, acknowledged accepts
	touched  map[string]bool            // contacts an end or transfer was sent for, acknowledged or not
	events   []ackedEvent
	agents   []string
}

func newCrashTraffic(t *testing.T, s *testServer) *crashTraffic {
	return &crashTraffic{t: t, s: s, stop: make(chan struct{}), contacts: map[string]*crashContact{},
		lines: map[string][]*crashContact{}, assigned: map[string]string{}, touched: map[string]bool{}}
}

func (tr *crashTraffic) stopped() bool {
	select {
	case <-tr.stop:
		return true
	default:
		return false
	}
}

func (tr *crashTraffic) lineCount() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	n := 0
	for _, l := range tr.lines {
		n += len(l)
	}
	return n
}

func (tr *crashTraffic) eventCount() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return len(tr.events)
}

func (tr *crashTraffic) count(typ string) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	n := 0
	for _, e := range tr.events {
		if e.typ == typ {
			n++
		}
	}
	return n
}

func (tr *crashTraffic) recordEvent(e ackedEvent) {
	tr.mu.Lock()
	tr.events = append(tr.events, e)
	tr.mu.Unlock()
	tr.acked.Add(1)
}

// setup makes the agency, its queues and its agents through the admin API.
func (tr *crashTraffic) setup() {
	t, s := tr.t, tr.s
	admin := s.admin(t)
	s.call(t, "POST", "/v1/agencies", admin, obj{"id": crashAgency, "name": "Crash test"}, http.StatusCreated, nil)
	for _, q := range append([]string{crashWork, crashNext}, crashLines...) {
		_, slug, _ := strings.Cut(q, ".")
		s.createQueue(t, crashAgency, slug, obj{"wrapup_s": 0})
	}
	tr.agents = []string{"crash.a1", "crash.a2", "crash.a3", "crash.b1"}
	for _, a := range tr.agents {
		queue := crashWork
		if a == "crash.b1" {
			queue = crashNext
		}
		s.call(t, "POST", "/v1/users", admin, obj{"username": a, "name": "상담원 " + a, "password": crashPassword,
			"role": "agent", "agency": crashAgency, "skills": obj{"lang:ko": 5},
			"queues": []obj{{"queue": queue, "level": 3}}, "max_chats": 5}, http.StatusCreated, nil)
	}
}

// run drives the traffic until enough changes are acknowledged (or the
// time limit passes), then calls kill while everything is still in flight,
// and waits for every driver to notice.
func (tr *crashTraffic) run(kill func()) {
	var wg sync.WaitGroup
	goDriver := func(f func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f()
		}()
	}
	for _, a := range tr.agents {
		token := tr.s.login(tr.t, a, crashPassword)
		goDriver(func() { tr.agent(a, token, a != "crash.b1") })
	}
	for _, q := range crashLines {
		goDriver(func() { tr.line(q) })
	}
	for i := range 2 {
		goDriver(func() { tr.citizens(i, &wg) })
	}

	limit := time.After(crashTimeLimit)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		select {
		case <-limit:
			break wait
		case <-tick.C:
			if tr.acked.Load() >= killAfter && tr.eventCount() >= killEvents && tr.count("transfer") >= 2 {
				break wait
			}
		}
	}
	kill()
	close(tr.stop)
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(waitTime):
		tr.t.Fatal("the traffic drivers did not stop after the kill")
	}
	if tr.count("transfer") == 0 || len(tr.assigned) == 0 || tr.lineCount() == 0 {
		tr.t.Fatalf("the traffic did too little before the kill to test anything: %d acks", tr.acked.Load())
	}
}

// failed reports an unexpected answer while the server is up; after the
// kill any failure is expected and only ends the driver.
func (tr *crashTraffic) failed(what string, err error) {
	var fe *frameError
	if !tr.stopped() && errors.As(err, &fe) {
		tr.t.Errorf("%s: %v", what, err)
	}
}

// line creates contacts in one waiting line, one after the other, so that
// their creation order is known.
func (tr *crashTraffic) line(queue string) {
	for i := 0; i < crashPerDriver && !tr.stopped(); i++ {
		c, ok := tr.createContact(queue, fmt.Sprintf("%s-%03d", queue, i))
		if !ok {
			return
		}
		tr.mu.Lock()
		c.index = len(tr.lines[queue])
		tr.lines[queue] = append(tr.lines[queue], c)
		tr.mu.Unlock()
	}
}

// citizens opens chats for the agents; every other citizen also types.
func (tr *crashTraffic) citizens(n int, wg *sync.WaitGroup) {
	for i := 0; i < crashPerDriver && !tr.stopped(); i++ {
		c, ok := tr.createContact(crashWork, fmt.Sprintf("work-%d-%03d", n, i))
		if !ok {
			return
		}
		if i%2 == 0 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tr.citizenTalks(c)
			}()
		}
	}
}

func (tr *crashTraffic) createContact(queue, caller string) (*crashContact, bool) {
	status, b, err := tr.s.request("POST", "/v1/contacts", "", chatRequest(queue, caller, "시민 "+caller, "문의 "+caller))
	if err != nil {
		return nil, false // the server is gone
	}
	if status != http.StatusCreated {
		if !tr.stopped() {
			tr.t.Errorf("POST /v1/contacts in %s = %d %s", queue, status, b)
		}
		return nil, false
	}
	c := &crashContact{queue: queue, caller: caller}
	if err := json.Unmarshal(b, &c.contactAnswer); err != nil {
		tr.t.Errorf("decode %s: %v", b, err)
		return nil, false
	}
	tr.mu.Lock()
	tr.contacts[c.ContactID] = c
	tr.mu.Unlock()
	tr.acked.Add(1)
	return c, true
}

// citizenTalks says a few things on its chat once an agent has joined.
func (tr *crashTraffic) citizenTalks(c *crashContact) {
	ws, _, err := dialErr("citizen-"+c.ContactID, tr.s.wsURL("/v1/contacts/"+c.ContactID+"/ws?token="+url.QueryEscape(c.CitizenToken)), nil)
	if err != nil {
		return
	}
	defer ws.Close()
	for !tr.stopped() {
		if _, err := ws.Await("agent_joined", 50*time.Millisecond); err == nil {
			break
		} else if ws.closed() {
			return
		}
	}
	for i := range 3 {
		text := fmt.Sprintf("시민 %s 의 말 %d", c.ContactID, i)
		if _, err := ws.Send(obj{"type": "say", "text": text}); err != nil {
			var fe *frameError
			if errors.As(err, &fe) && (fe.Code == "not_found" || fe.Code == "conflict") {
				return // an agent ended the chat meanwhile: the citizen is told so
			}
			tr.failed("citizen say", err)
			return
		}
		tr.recordEvent(ackedEvent{caseID: c.CaseID, typ: "message", text: text, actor: "citizen:" + c.caller}) // on whichever leg is live
	}
}

// agent works a desk: accepts what it is offered, talks on its contacts,
// writes notes, transfers some (cold, to crashNext) and ends some.
func (tr *crashTraffic) agent(username, token string, transfers bool) {
	ws, _, err := dialErr(username, tr.s.wsURL("/v1/agent/ws"), bearerHeader(token))
	if err != nil {
		tr.t.Errorf("%s: dial: %v", username, err)
		return
	}
	defer ws.Close()
	if _, err := ws.Await("hello", waitTime); err != nil {
		tr.t.Errorf("%s: %v", username, err)
		return
	}
	if _, err := ws.Send(obj{"type": "state", "state": "available"}); err != nil {
		tr.failed(username+" available", err)
		return
	}
	type held struct{ contactID, caseID string }
	var desk []held
	for i := 0; !tr.stopped() && !ws.closed(); i++ {
		if offer, err := ws.Await("offer", 5*time.Millisecond); err == nil {
			if _, err := ws.Send(obj{"type": "accept", "offer_id": offer.str("offer_id")}); err != nil {
				tr.failed(username+" accept", err)
				continue
			}
			h := held{offer.str("contact", "contact_id"), offer.str("case", "case_id")}
			desk = append(desk, h)
			tr.mu.Lock()
			tr.assigned[h.contactID] = username
			tr.mu.Unlock()
			tr.recordEvent(ackedEvent{caseID: h.caseID, typ: "assigned", actor: "agent:" + username, contactID: h.contactID})
			continue
		}
		if len(desk) == 0 {
			continue
		}
		k := i % len(desk)
		h := desk[k]
		text := fmt.Sprintf("%s 의 답변 %d (%s)", username, i, h.contactID)
		switch i % 9 {
		case 0, 1, 2, 3, 4:
			if _, err := ws.Send(obj{"type": "say", "contact_id": h.contactID, "text": text}); err != nil {
				tr.failed(username+" say", err)
				continue
			}
			tr.recordEvent(ackedEvent{caseID: h.caseID, typ: "message", text: text, actor: "agent:" + username, contactID: h.contactID})
		case 5, 6:
			if _, err := ws.Send(obj{"type": "note", "case_id": h.caseID, "text": "메모 " + text}); err != nil {
				tr.failed(username+" note", err)
				continue
			}
			tr.recordEvent(ackedEvent{caseID: h.caseID, typ: "note", text: "메모 " + text, actor: "agent:" + username})
		case 7:
			if !transfers || tr.count("transfer") >= 4 {
				continue
			}
			tr.touch(h.contactID)
			desk = append(desk[:k], desk[k+1:]...)
			note := "이관 " + text
			if _, err := ws.Send(obj{"type": "transfer", "contact_id": h.contactID, "to": obj{"queue": crashNext}, "mode": "cold", "note": note}); err != nil {
				tr.failed(username+" transfer", err)
				continue
			}
			tr.recordEvent(ackedEvent{caseID: h.caseID, typ: "transfer", text: note, actor: "agent:" + username, contactID: h.contactID})
		case 8:
			if len(desk) < 3 {
				continue // keep most contacts assigned through the crash
			}
			tr.touch(h.contactID)
			desk = append(desk[:k], desk[k+1:]...)
			summary := "종결 " + text
			if _, err := ws.Send(obj{"type": "end", "contact_id": h.contactID, "disposition": "resolved", "summary": summary}); err != nil {
				tr.failed(username+" end", err)
				continue
			}
			tr.recordEvent(ackedEvent{caseID: h.caseID, typ: "ended", text: summary, actor: "agent:" + username, contactID: h.contactID})
		}
	}
}

func (tr *crashTraffic) touch(contactID string) {
	tr.mu.Lock()
	tr.touched[contactID] = true
	tr.mu.Unlock()
}

// verify checks the restarted server against the record.
func (tr *crashTraffic) verify() {
	t, s := tr.t, tr.s
	admin := s.admin(t)
	db := openDB(t, s.dsn)
	ctx := context.Background()

	// Every acknowledged contact exists; untouched ones are still live.
	var ids []string
	if err := db.SelectContext(ctx, &ids, `SELECT id FROM contacts`); err != nil {
		t.Fatal(err)
	}
	stored := make(map[string]bool, len(ids))
	for _, id := range ids {
		stored[id] = true
	}
	for id, c := range tr.contacts {
		if !stored[id] {
			t.Errorf("acknowledged contact %s (%s) is not in the store", id, c.queue)
			continue
		}
		if tr.touched[id] {
			continue
		}
		st := s.contactStatus(t, c.contactAnswer)
		want := "queued"
		if tr.assigned[id] != "" {
			want = "assigned"
		}
		if st.Status != want && !(want == "queued" && st.Status == "assigned") {
			t.Errorf("contact %s after the restart is %q; want %q", id, st.Status, want)
		}
	}

	// The waiting lines come back in their original order.
	for _, q := range crashLines {
		for _, c := range tr.lines[q] {
			st := s.contactStatus(t, c.contactAnswer)
			if st.Status != "queued" || st.Position != c.index+1 {
				t.Errorf("%s: contact #%d (%s) is %s at position %d after the restart; want queued at %d",
					q, c.index, c.ContactID, st.Status, st.Position, c.index+1)
			}
		}
	}

	// Every acknowledged timeline entry is in its case, once.
	byCase := map[string][]ackedEvent{}
	for _, e := range tr.events {
		byCase[e.caseID] = append(byCase[e.caseID], e)
	}
	cases := make([]string, 0, len(byCase))
	for id := range byCase {
		cases = append(cases, id)
	}
	sort.Strings(cases)
	for _, id := range cases {
		cs, where := tr.caseAfterRestart(ctx, db, admin, id)
		for _, e := range byCase[id] {
			n := 0
			for _, got := range cs.Events {
				if got.Type == e.typ && (e.text == "" || got.Text == e.text) && got.Actor == e.actor &&
					(e.contactID == "" || got.Data["contact_id"] == e.contactID) {
					n++
				}
			}
			if n != 1 {
				t.Errorf("case %s (%s): the acknowledged %s %q by %s is there %d times; want once:%s",
					id, where, e.typ, e.text, e.actor, n, cs.describe())
			}
			if e.typ == "transfer" && !hasLegIn(cs, crashNext) {
				t.Errorf("case %s (%s): the acknowledged transfer left no leg in %s:%s", id, where, crashNext, cs.describe())
			}
		}
	}

	// Assigned contacts go back to their agents on reconnect.
	want := map[string][]string{}
	for id, agent := range tr.assigned {
		if !tr.touched[id] {
			want[agent] = append(want[agent], id)
		}
	}
	restoredSome := false
	for _, agent := range tr.agents {
		ws, hello := s.agentDesk(t, agent, crashPassword)
		got := map[string]string{}
		var desk []struct {
			Contact struct {
				ContactID string `json:"contact_id"`
				Status    string `json:"status"`
				Agent     string `json:"agent"`
			} `json:"contact"`
			Case caseDoc `json:"case"`
		}
		if err := hello.decode(&desk, "contacts"); err != nil {
			t.Fatal(err)
		}
		for _, d := range desk {
			got[d.Contact.ContactID] = d.Contact.Status
			if d.Contact.Agent != agent || d.Case.CaseID == "" || len(d.Case.Events) == 0 {
				t.Errorf("%s's hello holds %+v without its agent or case", agent, d.Contact)
			}
		}
		for _, id := range want[agent] {
			if got[id] != "assigned" {
				t.Errorf("%s's hello after the restart lacks the acknowledged assignment %s (has %v)", agent, id, got)
			}
		}
		// The conversation goes on where it stopped (on a first leg, whose
		// citizen token the record holds).
		if c := tr.contacts[firstOf(want[agent])]; c != nil && !restoredSome {
			restoredSome = true
			citizen := s.citizen(t, c.contactAnswer)
			if j := citizen.await(t, "agent_joined"); j.str("agent_name") != "상담원 "+agent {
				t.Errorf("reconnected citizen got %s; want agent_joined of %s", j, agent)
			}
			ws.ack(t, obj{"type": "say", "contact_id": c.ContactID, "text": "재시작 후에도 이어집니다"})
			citizen.awaitFunc(t, "the agent after the restart", typed("message", "text", "재시작 후에도 이어집니다"))
			citizen.ack(t, obj{"type": "say", "text": "다행이네요"})
			ws.awaitFunc(t, "the citizen after the restart", typed("message", "text", "다행이네요"))
		}
	}
	if !restoredSome {
		t.Errorf("no acknowledged assignment survived untouched to check the reconnect: %v", tr.assigned)
	}
}

// caseAfterRestart reads a case through the API while it is open, from the
// store once closed.
func (tr *crashTraffic) caseAfterRestart(ctx context.Context, db *tsql.DB, admin, id string) (caseDoc, string) {
	t, s := tr.t, tr.s
	var cs caseDoc
	status, b, err := s.request("GET", "/v1/cases/"+id, admin, nil)
	if err != nil {
		t.Fatal(err)
	}
	switch status {
	case http.StatusOK:
		if err := json.Unmarshal(b, &cs); err != nil {
			t.Fatal(err)
		}
		return cs, "open, read through the API"
	case http.StatusNotFound:
		cs, err := storedCase(ctx, db, id)
		if err != nil {
			t.Fatalf("case %s is neither open nor stored: %v", id, err)
		}
		if cs.Status != "closed" {
			t.Errorf("case %s is %q in the store but unknown to the restarted router", id, cs.Status)
		}
		return cs, "closed, read from the store"
	}
	t.Fatalf("GET /v1/cases/%s = %d %s", id, status, b)
	return cs, ""
}

func firstOf(ids []string) string {
	if len(ids) == 0 {
		return ""
	}
	return ids[0]
}

func hasLegIn(cs caseDoc, queue string) bool {
	for _, l := range cs.Legs {
		if l.Queue == queue {
			return true
		}
	}
	return false
}
