package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"tellonce/auth"
	"tellonce/clocktest"
	"tellonce/directory"
	"tellonce/router"
	"tellonce/servertest"
	tsql "tellonce/sql"
	"tellonce/sql/sqltest"
	"tellonce/stats"
	"tellonce/transcripts"
)

// The test harness: a real server on a loopback listener over a fresh
// database of one backend, seeded with an admin, two agencies (gov110 and
// nts126) that each have a queue, a supervisor and an agent, and a gateway
// account of gov110, each logged in through POST /v1/sessions. The admin
// and the supervisors hold the export permission.

// Principals of the seed, as the role tables name them. The "own" agency
// of every role table is gov110; nts126 is the other one.
const (
	asAnon       = ""
	asAdmin      = "admin"
	asSup        = "gov110-sup"
	asOtherSup   = "nts126-sup"
	asAgent      = "gov110-agent"
	asOtherAgent = "nts126-agent"
	asGateway    = "gov110-gw"
)

// everyone lists every principal of the role tables, anonymous first.
var everyone = []string{asAnon, asAdmin, asSup, asOtherSup, asAgent, asOtherAgent, asGateway}

func who(as string) string {
	if as == asAnon {
		return "anonymous"
	}
	return as
}

// testPassword is every seeded account's password.
const testPassword = "correct-horse-battery"

// testHasher is cheap: tests hash many passwords and verify many logins.
var testHasher = auth.Hasher{Time: 1, Memory: 64, Threads: 1}

// clockStart is where the harness's clock starts: the clock of the router,
// the statistics, the store, the sessions and the rate limits, which moves
// only when a test advances it.
var clockStart = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

type harness struct {
	t        testing.TB
	backend  string
	db       *tsql.DB
	cfg      Config
	clock    *clocktest.Clock
	dir      *directory.Store
	sessions *auth.Sessions
	server   *Server
	ts       *servertest.Endpoint
	reg      *prometheus.Registry
	client   *http.Client
	hash     string            // testPassword hashed, for seeding
	tokens   map[string]string // bearer token by username
	seq      *int              // shared by the copies on() makes
	router   *router.Router
	stats    *stats.Stats
	// enders records who ended each case (its timeline's last "ended"
	// entry), from the router's events: a closed case leaves the router.
	enders *sync.Map
	// toHub, once set (deliverToHub), hands every change's events to the
	// server's WebSocket hub too, as the journal does after committing.
	toHub *atomic.Bool
	// journal, once set (withJournal), writes every change to the case
	// log too, as in production.
	journal *atomic.Pointer[transcripts.Journal]
}

// on returns the harness reporting to t (a subtest's), sharing everything
// else, so that a harness failure inside a subtest stops that subtest.
func (h *harness) on(t testing.TB) *harness {
	c := *h
	c.t = t
	return &c
}

// newHarness starts a seeded server on b: servertest's whole server with
// the journal left out (every change counts as durable at once) and a
// clock that moves only when a test moves it. opts adjust the
// configuration (whose login limits are generous unless a test tightens
// them).
func newHarness(t testing.TB, b sqltest.Backend, opts ...func(*Config)) *harness {
	t.Helper()
	cfg := DefaultConfig()
	cfg.MaxBodyBytes = 64 << 10
	cfg.LoginBurstAddr = 10_000
	cfg.LoginBurstUser = 10_000
	cfg.ChatBurst = 10_000
	for _, o := range opts {
		o(&cfg)
	}
	clock := clocktest.New(clockStart)
	h := &harness{
		t: t, backend: b.Name, db: b.DB, cfg: cfg, clock: clock,
		reg:    prometheus.NewRegistry(),
		tokens: map[string]string{},
		seq:    new(int),
	}
	// The statistics hear every change, as the journal's Deliver tells them.
	h.enders = &sync.Map{}
	h.toHub = &atomic.Bool{}
	h.journal = &atomic.Pointer[transcripts.Journal]{}
	var err error
	if h.hash, err = testHasher.Hash(testPassword); err != nil {
		t.Fatal(err)
	}
	ts := servertest.Start(t, servertest.Options{
		DB: b.DB, Clock: clock, Hasher: testHasher, SessionTTL: cfg.SessionTTL,
		Tokens: auth.NewContactTokens([]byte("test-key-0123456789abcdef0123456")),
		Stats:  true, Registry: h.reg, Instant: true,
		Published: func(evs []router.Event) {
			if j := h.journal.Load(); j != nil {
				j.Publish(evs)
			}
			h.stats.Observe(evs)
			if h.toHub.Load() {
				h.server.Deliver(evs)
			}
			for _, e := range evs {
				if e.CaseEvent != nil && e.CaseEvent.Type == router.CaseEnded {
					h.enders.Store(e.CaseID, e.CaseEvent.Actor)
				}
			}
		},
		// The seed goes straight to the store; the router gets its copy
		// after, as the server's start does.
		Seed: func(_ context.Context, p *servertest.Parts) error {
			h.dir, h.sessions, h.stats = p.Directory, p.Sessions, p.Stats
			h.seed()
			return nil
		},
		Front: func(p *servertest.Parts) (servertest.Front, error) {
			srv, err := New(cfg, Deps{
				Stats: p.Stats, Estimator: p.Stats,
				DB: p.DB, Directory: p.Directory, Sessions: p.Sessions, Hasher: p.Hasher,
				Registry: p.Registry, Now: clock.Now,
				Switchboard: p.Switchboard, Tokens: p.Tokens,
			})
			if err != nil {
				return nil, fmt.Errorf("web.New: %w", err)
			}
			h.server = srv
			return srv, nil
		},
	})
	h.router, h.ts = ts.Router, ts.Endpoint
	h.client = h.ts.Client()
	h.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	h.relogin()
	return h
}

// deliverToHub makes the sockets hear the router's events from now on
// (offers, messages, endings), as a deployment's journal makes them hear
// every committed change.
func (h *harness) deliverToHub() { h.toHub.Store(true) }

// instantDurability stands in for the journal: every change counts as
// committed at once.
type instantDurability struct{}

func (instantDurability) Wait(context.Context, uint64) error { return nil }

func (h *harness) seed() {
	h.t.Helper()
	h.mkUser(asAdmin, directory.RoleAdmin, "")
	for _, a := range []struct{ id, queue string }{{"gov110", "general"}, {"nts126", "tax"}} {
		h.mkAgency(a.id)
		h.mkQueue(a.id, a.queue)
		h.mkUser(a.id+"-sup", directory.RoleSupervisor, a.id)
		h.mkUser(a.id+"-agent", directory.RoleAgent, a.id, a.id+"."+a.queue)
	}
	h.mkUser(asGateway, directory.RoleGateway, "gov110")
	// Admins and supervisors export, as after the upgrade that brought the
	// export permission; agents do not.
	for _, u := range []string{asAdmin, asSup, asOtherSup} {
		if _, err := h.dir.UpdateUser(h.ctx(), u, directory.UserPatch{Export: new(true)}, "", nil); err != nil {
			h.t.Fatalf("seed export of %s: %v", u, err)
		}
	}
}

// relogin logs every seeded principal in afresh (after the clock moved
// past the sessions' end, say). Each logs in from its own address, so that
// a test's tight per-address login limit (with TrustedProxies) is not spent.
func (h *harness) relogin() {
	h.t.Helper()
	for i, u := range everyone[1:] {
		h.tokens[u] = h.loginToken(u, testPassword, withHeader("X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i+1)))
	}
}

// fresh returns a name no other call of this harness returned.
func (h *harness) fresh(prefix string) string {
	*h.seq++
	return fmt.Sprintf("%s-%d", prefix, *h.seq)
}

func (h *harness) ctx() context.Context { return context.Background() }

// mkAgency stores an agency directly, bypassing the API.
func (h *harness) mkAgency(id string) directory.Agency {
	h.t.Helper()
	a, err := h.dir.CreateAgency(h.ctx(), directory.AgencyCreate{ID: id, Name: "Agency " + id})
	if err != nil {
		h.t.Fatalf("seed agency %s: %v", id, err)
	}
	return a
}

// mkQueue stores a queue directly; overflow, when given, names the
// queues it overflows into after 30 s.
func (h *harness) mkQueue(agency, slug string, overflow ...string) directory.Queue {
	h.t.Helper()
	name := "Queue " + slug
	req := directory.QueueCreate{ID: slug, QueueSettings: directory.QueueSettings{Name: &name}}
	if len(overflow) > 0 {
		rules := []directory.OverflowRule{}
		for _, to := range overflow {
			rules = append(rules, directory.OverflowRule{AfterS: 30, To: to})
		}
		req.Overflow = &rules
	}
	q, err := h.dir.CreateQueue(h.ctx(), agency, req)
	if err != nil {
		h.t.Fatalf("seed queue %s.%s: %v", agency, slug, err)
	}
	return q
}

// mkUser stores a user directly, with testPassword and the given queue
// memberships at level 1.
func (h *harness) mkUser(username, role, agency string, queues ...string) directory.User {
	h.t.Helper()
	req := directory.UserCreate{Username: username, Name: "User " + username, Password: testPassword, Role: role, Agency: agency}
	for _, q := range queues {
		req.Queues = append(req.Queues, directory.Membership{Queue: q, Level: 1})
	}
	u, err := h.dir.CreateUser(h.ctx(), req, h.hash)
	if err != nil {
		h.t.Fatalf("seed user %s: %v", username, err)
	}
	return u
}

// freshAgent stores a new agent of agency and returns its name.
func (h *harness) freshAgent(agency string, queues ...string) string {
	h.t.Helper()
	name := h.fresh(agency + "-agent")
	h.mkUser(name, directory.RoleAgent, agency, queues...)
	return name
}

// freshQueue stores a new queue of agency and returns its id.
func (h *harness) freshQueue(agency string) string {
	h.t.Helper()
	return h.mkQueue(agency, h.fresh("q")).ID
}

// response is one answer, read whole.
type response struct {
	method, path, as string
	status           int
	header           http.Header
	body             []byte
	cookies          []*http.Cookie
}

func (r *response) String() string {
	return fmt.Sprintf("%s %s as %s", r.method, r.path, who(r.as))
}

// reqOpt changes a request before it is sent.
type reqOpt func(*http.Request)

func withHeader(k, v string) reqOpt { return func(r *http.Request) { r.Header.Set(k, v) } }

func withOrigin(o string) reqOpt { return withHeader("Origin", o) }

// withCookie sends token as the session cookie.
func withCookie(token string) reqOpt {
	return func(r *http.Request) { r.AddCookie(&http.Cookie{Name: sessionCookie, Value: token}) }
}

// withToken sends token as the bearer token, replacing the principal's.
func withToken(token string) reqOpt {
	return withHeader("Authorization", "Bearer "+token)
}

// rawBody marks a body to send as it is, not as JSON of a Go value.
type rawBody string

// do sends one request as the principal as (asAnon: no credentials). body
// is nil (none), a rawBody, or a value sent as JSON.
func (h *harness) do(method, path, as string, body any, opts ...reqOpt) *response {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case rawBody:
		rd = strings.NewReader(string(b))
	default:
		js, err := json.Marshal(b)
		if err != nil {
			h.t.Fatalf("marshal body of %s %s: %v", method, path, err)
		}
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, h.ts.URL+path, rd)
	if err != nil {
		h.t.Fatalf("new request %s %s: %v", method, path, err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if as != asAnon {
		tok, ok := h.tokens[as]
		if !ok {
			h.t.Fatalf("no session for %q", as)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for _, o := range opts {
		o(req)
	}
	res, err := h.client.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s as %s: %v", method, path, who(as), err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		h.t.Fatalf("%s %s as %s: read body: %v", method, path, who(as), err)
	}
	return &response{method: method, path: path, as: as, status: res.StatusCode, header: res.Header, body: b, cookies: res.Cookies()}
}

// wantStatus reports whether the answer has status code want, and says
// what came instead when not.
func (r *response) wantStatus(t testing.TB, want int) bool {
	t.Helper()
	if r.status != want {
		t.Errorf("%s = %d; want %d\n  body: %s", r, r.status, want, truncate(r.body))
		return false
	}
	return true
}

// wantError checks an error answer: its status, its strict shape, its
// code and its field ("" for none).
func (r *response) wantError(t testing.TB, status int, code, field string) {
	t.Helper()
	if !r.wantStatus(t, status) {
		return
	}
	e, ok := strictError(t, r)
	if !ok {
		return
	}
	if e.Code != code {
		t.Errorf("%s: error code %q; want %q (message %q)", r, e.Code, code, e.Message)
	}
	if e.Field != field {
		t.Errorf("%s: error field %q; want %q (message %q)", r, e.Field, field, e.Message)
	}
}

// decode reads the answer's JSON body into v.
func (r *response) decode(t testing.TB, v any) bool {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Errorf("%s: body is not the JSON of %T: %v\n  body: %s", r, v, err, truncate(r.body))
		return false
	}
	return true
}

func truncate(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "…"
	}
	return string(b)
}

// contractCodes are the error codes of the API contract (docs/api.md), plus the two
// the server adds for a wrong method and an internal failure.
var contractCodes = map[string]bool{
	codeValidation: true, codeUnauthorized: true, codeForbidden: true, codeNotFound: true,
	codeConflict: true, codeTooLarge: true, codeRateLimited: true, codeUnavailable: true, codeClosed: true,
	"method_not_allowed": true, codeInternal: true,
}

// strictError decodes an error answer, insisting on exactly the shape
// {"error":{"code","message"[,"field"]}}: JSON content type, no other key
// at either level, a known code, a message, and a field that is absent
// rather than empty.
func strictError(t testing.TB, r *response) (apiError, bool) {
	t.Helper()
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: error Content-Type %q; want application/json", r, ct)
	}
	var env struct {
		Error *struct {
			Code    *string `json:"code"`
			Message *string `json:"message"`
			Field   *string `json:"field"`
		} `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil {
		t.Errorf("%s: error body is not {\"error\":{code,message[,field]}}: %v\n  body: %s", r, err, truncate(r.body))
		return apiError{}, false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		t.Errorf("%s: error body has data after the object: %s", r, truncate(r.body))
		return apiError{}, false
	}
	e := env.Error
	switch {
	case e == nil:
		t.Errorf("%s: error body has no \"error\" object: %s", r, truncate(r.body))
	case e.Code == nil || !contractCodes[*e.Code]:
		t.Errorf("%s: error code missing or not in the contract: %s", r, truncate(r.body))
	case e.Message == nil || *e.Message == "":
		t.Errorf("%s: error message missing or empty: %s", r, truncate(r.body))
	case e.Field != nil && *e.Field == "":
		t.Errorf("%s: error field present but empty: %s", r, truncate(r.body))
	default:
		out := apiError{Code: *e.Code, Message: *e.Message}
		if e.Field != nil {
			out.Field = *e.Field
		}
		return out, true
	}
	return apiError{}, false
}

// login posts credentials to POST /v1/sessions.
// answer has agent connect, go available and accept the contact, which
// the router must offer them at once.
func (h *harness) answer(t testing.TB, agent, contactID string) {
	t.Helper()
	if _, _, err := h.router.Connect(agent); err != nil {
		t.Fatal(err)
	}
	if _, err := h.router.SetState(agent, router.StateAvailable, ""); err != nil {
		t.Fatal(err)
	}
	ct, err := h.router.Contact(contactID)
	if err != nil || ct.OfferID == "" || ct.Agent != agent {
		t.Fatalf("contact after %s went available = %+v, %v; want it offered to them", agent, ct, err)
	}
	if _, err := h.router.Accept(agent, ct.OfferID); err != nil {
		t.Fatal(err)
	}
}

func (h *harness) login(username, password string, opts ...reqOpt) *response {
	h.t.Helper()
	return h.do(http.MethodPost, "/v1/sessions", asAnon, loginRequest{Username: username, Password: password}, opts...)
}

// loginToken logs in and returns the session token.
func (h *harness) loginToken(username, password string, opts ...reqOpt) string {
	h.t.Helper()
	r := h.login(username, password, opts...)
	var out struct {
		Token string `json:"token"`
	}
	if !r.wantStatus(h.t, http.StatusCreated) || !r.decode(h.t, &out) || out.Token == "" {
		h.t.Fatalf("log in %s: no token", username)
	}
	return out.Token
}

// listPage is one page of a list answer.
type listPage[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// getAgency, getQueue and getUser read one record back as admin; ok is
// false when it does not exist (404).
func (h *harness) getAgency(id string) (directory.Agency, bool) {
	h.t.Helper()
	var a directory.Agency
	return a, h.readBack("/v1/agencies/"+id, &a)
}

func (h *harness) getQueue(id string) (directory.Queue, bool) {
	h.t.Helper()
	var q directory.Queue
	return q, h.readBack("/v1/queues/"+id, &q)
}

func (h *harness) getUser(username string) (directory.User, bool) {
	h.t.Helper()
	var u directory.User
	return u, h.readBack("/v1/users/"+username, &u)
}

func (h *harness) readBack(path string, v any) bool {
	h.t.Helper()
	r := h.do(http.MethodGet, path, asAdmin, nil)
	switch r.status {
	case http.StatusOK:
		return r.decode(h.t, v)
	case http.StatusNotFound:
		return false
	}
	h.t.Fatalf("read back %s = %d: %s", path, r.status, truncate(r.body))
	return false
}

// snapshot is every list of the directory as admin sees it, to compare
// before and after a request that must change nothing.
func (h *harness) snapshot() string {
	h.t.Helper()
	var b strings.Builder
	for _, p := range []string{"/v1/agencies?limit=500", "/v1/queues?limit=500", "/v1/users?limit=500"} {
		r := h.do(http.MethodGet, p, asAdmin, nil)
		if !r.wantStatus(h.t, http.StatusOK) {
			h.t.FailNow()
		}
		b.Write(r.body)
	}
	return b.String()
}

// unchanged checks that the directory reads back as it did at before.
func (h *harness) unchanged(t testing.TB, before, what string) {
	t.Helper()
	if after := h.snapshot(); after != before {
		t.Errorf("%s changed the directory:\n  before: %s\n  after:  %s", what, truncate([]byte(before)), truncate([]byte(after)))
	}
}
