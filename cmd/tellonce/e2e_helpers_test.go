package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tellonce/demo"
	"tellonce/servertest"
	tsql "tellonce/sql"
	"tellonce/sql/sqltest"
)

// This file starts real tellonce servers for the end-to-end tests and
// speaks their REST API; wsclient_test.go speaks their WebSockets.

const e2eAdminPassword = "admin-password-1"

// backends are the stores every end-to-end scenario runs on.
var backends = []string{"sqlite", "postgres"}

// eachBackend runs fn as parallel subtests, one per backend, each of which
// starts its own server on a fresh database.
func eachBackend(t *testing.T, fn func(t *testing.T, backend string)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			fn(t, b)
		})
	}
}

// testServer is a running tellonce server: in this process (startServer)
// or a built binary (crash_test.go).
type testServer struct {
	base string // http://127.0.0.1:port/
	dsn  string
	logs *servertest.LogBuffer

	adminOnce  sync.Once
	adminToken string
}

// startServer runs "tellonce serve --demo" in-process on a fresh database
// of the backend, on a free loopback port, with extra flags; it stops
// gracefully when the test ends. --trust-proxy lets each simulated citizen
// come from an address of its own (X-Forwarded-For), as real citizens do,
// so the per-address chat limit does not see one client.
func startServer(t testing.TB, backend string, flags ...string) *testServer {
	t.Helper()
	s, _ := serveOn(t, sqltest.DSN(t, backend), append([]string{"--trust-proxy", "127.0.0.1,::1"}, flags...)...)
	return s
}

// serveOn runs "tellonce serve --demo" in-process on dsn, on a free
// loopback port, with extra flags, until the stop it returns is called or
// the test ends: a graceful stop, as on SIGTERM.
func serveOn(t testing.TB, dsn string, flags ...string) (*testServer, func()) {
	t.Helper()
	s := &testServer{dsn: dsn, logs: &servertest.LogBuffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	var out servertest.LogBuffer
	done := make(chan error, 1)
	args := append([]string{"serve", "--demo", "--addr", "127.0.0.1:0", "--db", dsn, "--log-level", "warn"}, flags...)
	go func() {
		done <- run(ctx, args, &out, s.logs, env(map[string]string{"TELLONCE_ADMIN_PASSWORD": e2eAdminPassword}))
	}()
	s.base = waitFor(t, &out, done)
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("server stopped with %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("server did not stop within 30s")
		}
		if t.Failed() {
			t.Logf("server log:\n%s", tail(s.logs.String(), 60))
		}
	}
	t.Cleanup(stop)
	return s, stop
}

func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// clientAddrs hands out distinct X-Forwarded-For addresses.
var clientAddrs atomic.Uint32

func nextClientAddr() string {
	n := clientAddrs.Add(1)
	return fmt.Sprintf("10.%d.%d.%d", n>>16&255, n>>8&255, n&255)
}

var httpClient = &http.Client{Timeout: waitTime}

// request sends one API request (body marshalled as JSON unless nil) and
// returns the status and body. Every request comes from a fresh client
// address.
func (s *testServer) request(method, path, token string, body any, header ...string) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.base+strings.TrimPrefix(path, "/"), rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	req.Header.Set("X-Forwarded-For", nextClientAddr())
	res, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}

// call is request that fails the test unless the status is want; the
// answer is decoded into out when out is not nil.
func (s *testServer) call(t testing.TB, method, path, token string, body any, want int, out any) []byte {
	t.Helper()
	status, b, err := s.request(method, path, token, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if status != want {
		t.Fatalf("%s %s = %d %s; want %d", method, path, status, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
	return b
}

func (s *testServer) login(t testing.TB, username, password string) string {
	t.Helper()
	var res struct {
		Token string `json:"token"`
	}
	s.call(t, "POST", "/v1/sessions", "", obj{"username": username, "password": password}, http.StatusCreated, &res)
	return res.Token
}

// loginDemo logs a demo account in.
func (s *testServer) loginDemo(t testing.TB, username string) string {
	t.Helper()
	return s.login(t, username, demo.Password)
}

// admin is the first admin's token.
func (s *testServer) admin(t testing.TB) string {
	t.Helper()
	s.adminOnce.Do(func() { s.adminToken = s.login(t, "admin", e2eAdminPassword) })
	if s.adminToken == "" {
		t.Fatal("admin login failed earlier")
	}
	return s.adminToken
}

// contactAnswer is the answer of POST and GET /v1/contacts.
type contactAnswer struct {
	ContactID    string `json:"contact_id"`
	CaseID       string `json:"case_id"`
	Queue        string `json:"queue"`
	Channel      string `json:"channel"`
	Status       string `json:"status"`
	Position     int    `json:"position"`
	Light        string `json:"light"`
	CitizenToken string `json:"citizen_token"`
}

// chatRequest is a citizen's chat contact in a queue; the caller speaks
// Korean, as the demo agents do.
func chatRequest(queue, callerID, name, summary string) obj {
	return obj{"channel": "chat", "queue": queue,
		"caller":  obj{"id": callerID, "name": name, "language": "ko"},
		"context": obj{"summary": summary}}
}

// createChat opens a chat contact the way the web widget does.
func (s *testServer) createChat(t testing.TB, queue, callerID, summary string) contactAnswer {
	t.Helper()
	var c contactAnswer
	s.call(t, "POST", "/v1/contacts", "", chatRequest(queue, callerID, "시민 "+callerID, summary), http.StatusCreated, &c)
	if c.ContactID == "" || c.CitizenToken == "" || c.CaseID == "" {
		t.Fatalf("POST /v1/contacts answered %+v; want contact, case and citizen token", c)
	}
	return c
}

// contactStatus reads a contact as its citizen.
func (s *testServer) contactStatus(t testing.TB, c contactAnswer) contactAnswer {
	t.Helper()
	var out contactAnswer
	s.call(t, "GET", "/v1/contacts/"+c.ContactID+"?token="+url.QueryEscape(c.CitizenToken), "", nil, http.StatusOK, &out)
	return out
}

func (s *testServer) wsURL(path string) string {
	return "ws" + strings.TrimPrefix(s.base, "http") + strings.TrimPrefix(path, "/")
}

func bearerHeader(token string) http.Header {
	return http.Header{"Authorization": {"Bearer " + token}}
}

// agentDesk logs an agent in over REST, opens the console socket and
// waits for hello.
func (s *testServer) agentDesk(t testing.TB, username, password string) (*wsClient, frame) {
	t.Helper()
	token := s.login(t, username, password)
	return s.agentSocket(t, username, token)
}

// agentSocket opens a console socket with a token already held.
func (s *testServer) agentSocket(t testing.TB, username, token string) (*wsClient, frame) {
	t.Helper()
	c := dial(t, username, s.wsURL("/v1/agent/ws"), bearerHeader(token))
	hello := c.await(t, "hello")
	if got := hello.str("agent", "username"); got != username {
		t.Fatalf("hello for %s names agent %q: %s", username, got, hello)
	}
	return c, hello
}

// availableAgent is a demo agent at their desk, available.
func (s *testServer) availableAgent(t testing.TB, username string) *wsClient {
	t.Helper()
	c, _ := s.agentDesk(t, username, demo.Password)
	c.ack(t, obj{"type": "state", "state": "available"})
	return c
}

// citizen opens the chat socket of a contact.
func (s *testServer) citizen(t testing.TB, c contactAnswer) *wsClient {
	t.Helper()
	return dial(t, "citizen-"+c.ContactID, s.wsURL("/v1/contacts/"+c.ContactID+"/ws?token="+url.QueryEscape(c.CitizenToken)), nil)
}

// createQueue makes a queue as the admin; body holds everything but id.
func (s *testServer) createQueue(t testing.TB, agency, slug string, body obj) string {
	t.Helper()
	b := obj{"id": slug, "name": "E2E " + slug, "channels": []string{"chat"}}
	for k, v := range body {
		b[k] = v
	}
	var q struct {
		ID string `json:"id"`
	}
	s.call(t, "POST", "/v1/agencies/"+agency+"/queues", s.admin(t), b, http.StatusCreated, &q)
	return q.ID
}

const e2eAgentPassword = "agent-password-1"

// createAgent makes a Korean-speaking agent of the agency in the queues,
// with e2eAgentPassword.
func (s *testServer) createAgent(t testing.TB, username, agency string, maxChats int, queues ...string) {
	t.Helper()
	ms := make([]obj, len(queues))
	for i, q := range queues {
		ms[i] = obj{"queue": q, "level": 3}
	}
	s.call(t, "POST", "/v1/users", s.admin(t), obj{"username": username, "name": "상담원 " + username,
		"password": e2eAgentPassword, "role": "agent", "agency": agency, "skills": obj{"lang:ko": 5},
		"queues": ms, "max_chats": maxChats}, http.StatusCreated, nil)
}

// The shapes of GET /v1/cases/{id} and of cases in frames.

type caseDoc struct {
	CaseID       string     `json:"case_id"`
	Status       string     `json:"status"`
	Legs         []legDoc   `json:"legs"`
	Events       []eventDoc `json:"events"`
	TransferNote *eventDoc  `json:"transfer_note"`
}

type legDoc struct {
	ContactID   string     `json:"contact_id"`
	Queue       string     `json:"queue"`
	Agency      string     `json:"agency"`
	Agent       string     `json:"agent"`
	EndedAt     *time.Time `json:"ended_at"`
	Disposition string     `json:"disposition"`
}

type eventDoc struct {
	Seq   int64             `json:"seq"`
	Type  string            `json:"type"`
	Actor string            `json:"actor"`
	Text  string            `json:"text"`
	Data  map[string]string `json:"data"`
}

// find returns the first event of the type whose text is text ("" matches
// any text) and whose data holds the key/value pairs.
func (c caseDoc) find(typ, text string, data ...string) (eventDoc, bool) {
	for _, e := range c.Events {
		if e.Type != typ || (text != "" && e.Text != text) {
			continue
		}
		ok := true
		for i := 0; i+1 < len(data); i += 2 {
			if e.Data[data[i]] != data[i+1] {
				ok = false
			}
		}
		if ok {
			return e, true
		}
	}
	return eventDoc{}, false
}

func (c caseDoc) describe() string {
	var b strings.Builder
	for _, l := range c.Legs {
		fmt.Fprintf(&b, "\n  leg %s %s/%s agent=%q disposition=%q", l.ContactID, l.Agency, l.Queue, l.Agent, l.Disposition)
	}
	for _, e := range c.Events {
		fmt.Fprintf(&b, "\n  #%d %s by %s %q %v", e.Seq, e.Type, e.Actor, e.Text, e.Data)
	}
	return b.String()
}

// openDB opens the server's database from the test, to read what was made
// durable (closed cases, which the API reads only while open).
func openDB(t testing.TB, dsn string) *tsql.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	db, err := tsql.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("open %s: %v", dsn, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// storedCase reads a case from the durable store: its status, its legs
// (one per contact row) and its timeline in seq order.
func storedCase(ctx context.Context, db *tsql.DB, caseID string) (caseDoc, error) {
	c := caseDoc{CaseID: caseID}
	if err := db.GetContext(ctx, &c.Status, db.Rebind(`SELECT status FROM cases WHERE id = ?`), caseID); err != nil {
		return c, fmt.Errorf("case %s: %w", caseID, err)
	}
	var legs []struct {
		ID, Queue, Agency, Agent, Status, Disposition string
	}
	rows, err := db.QueryContext(ctx, db.Rebind(`SELECT id, queue_id, agency_id, agent, status, disposition
		FROM contacts WHERE case_id = ? ORDER BY seq`), caseID)
	if err != nil {
		return c, err
	}
	for rows.Next() {
		var l struct{ ID, Queue, Agency, Agent, Status, Disposition string }
		if err := rows.Scan(&l.ID, &l.Queue, &l.Agency, &l.Agent, &l.Status, &l.Disposition); err != nil {
			rows.Close()
			return c, err
		}
		legs = append(legs, l)
	}
	rows.Close()
	for _, l := range legs {
		ld := legDoc{ContactID: l.ID, Queue: l.Queue, Agency: l.Agency, Agent: l.Agent, Disposition: l.Disposition}
		if l.Status == "ended" {
			now := time.Now()
			ld.EndedAt = &now // only "ended or not" is read from stored legs
		}
		c.Legs = append(c.Legs, ld)
	}
	rows, err = db.QueryContext(ctx, db.Rebind(`SELECT seq, type, actor, text, data FROM case_events
		WHERE case_id = ? ORDER BY seq`), caseID)
	if err != nil {
		return c, err
	}
	defer rows.Close()
	for rows.Next() {
		var e eventDoc
		var data string
		if err := rows.Scan(&e.Seq, &e.Type, &e.Actor, &e.Text, &data); err != nil {
			return c, err
		}
		if data != "" && data != "null" {
			if err := json.Unmarshal([]byte(data), &e.Data); err != nil {
				return c, fmt.Errorf("event %d data %q: %w", e.Seq, data, err)
			}
		}
		c.Events = append(c.Events, e)
	}
	return c, rows.Err()
}

// statusOK is a condition for clocktest.EventuallyNil: GET path answers 200.
func statusOK(s *testServer, path, token string) error {
	status, b, err := s.request("GET", path, token, nil)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("GET %s = %d %s", path, status, b)
	}
	return nil
}

// recordingDir is where the server keeps uploaded recordings: serve's
// default beside the SQLite file.
func (s *testServer) recordingDir() string {
	return filepath.Join(filepath.Dir(s.dsn), "recordings")
}
