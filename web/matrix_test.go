package web

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"tellonce/directory"
	"tellonce/router"
	"tellonce/sql/sqltest"
)

// The socket permission matrix: every frame of the agent, gateway and
// citizen protocols, sent by every kind of principal about every kind of
// id, over real sockets to a real server, with the answer the rules give
// (docs/protocol.md, "Who may send what"):
//
//   - ack: applied (and the router's state shows it);
//   - not_found: the principal may not see the id — worded exactly as for
//     an id that does not exist;
//   - forbidden: the principal may see it but the role may not do that;
//   - conflict or validation: the state or the input is wrong.
//
// Only the softphone frames answer forbidden (a socket that does not hold
// the agent's softphone sending rtc_answer or rtc_restart): a role that
// may not use a socket at all is refused at its upgrade (403), and
// everything else a principal may see but not do is a matter of state
// (conflict) or of input (validation).
//
// The softphone and call-control frames (softphone, rtc_*, hold, dtmf)
// are relayed between the desk and the edge and change nothing in the
// router: their acks are not expected to.
//
// Every refused frame must leave the router as it was: the contact, its
// case, the whole router snapshot and the sender's agent state.
//
// The fixtures are made once per backend; a row whose frame changes its
// contact (an end, a transfer, a hangup…) gets a fresh contact, with a
// fresh cast around it, for each cell that is expected to apply.

// mxWait bounds every wait for a frame; nothing sleeps.
const mxWait = 10 * time.Second

// mxFrame is one server frame as JSON decodes it.
type mxFrame map[string]any

func (f mxFrame) str(k string) string { s, _ := f[k].(string); return s }

// mxConn is a test client's socket. A reader goroutine keeps every frame
// (so the hub never finds the client slow); the test goroutine waits for
// the ones it needs.
type mxConn struct {
	name     string
	username string // the account behind an agent or gateway socket
	token    string // its session token
	ws       *websocket.Conn

	mu      sync.Mutex
	frames  []mxFrame
	readErr error
	more    chan struct{}
	done    chan struct{}
	ids     int
	// passed are the frames the last await went past.
	passed []mxFrame
}

func mxDial(url string, hdr http.Header, name string) (*mxConn, *http.Response, error) {
	ws, resp, err := websocket.DefaultDialer.Dial(url, hdr)
	if err != nil {
		return nil, resp, err
	}
	c := &mxConn{name: name, ws: ws, more: make(chan struct{}, 1), done: make(chan struct{})}
	go c.read()
	return c, resp, nil
}

func (c *mxConn) read() {
	defer close(c.done)
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			c.mu.Lock()
			c.readErr = err
			c.mu.Unlock()
			return
		}
		var f mxFrame
		if err := json.Unmarshal(data, &f); err != nil {
			f = mxFrame{"type": "unparsable", "raw": string(data)}
		}
		c.mu.Lock()
		c.frames = append(c.frames, f)
		c.mu.Unlock()
		select {
		case c.more <- struct{}{}:
		default:
		}
	}
}

// await returns the next frame that matches, dropping those before it.
func (c *mxConn) await(t testing.TB, what string, match func(mxFrame) bool) mxFrame {
	t.Helper()
	deadline := time.NewTimer(mxWait)
	defer deadline.Stop()
	c.passed = c.passed[:0]
	for {
		c.mu.Lock()
		for len(c.frames) > 0 {
			f := c.frames[0]
			c.frames = c.frames[1:]
			if match(f) {
				c.mu.Unlock()
				return f
			}
			c.passed = append(c.passed, f)
		}
		err := c.readErr
		c.mu.Unlock()
		select {
		case <-c.more:
		case <-c.done:
			c.mu.Lock()
			n := len(c.frames)
			c.mu.Unlock()
			if n == 0 {
				t.Fatalf("%s: socket closed (%v) while waiting for %s", c.name, err, what)
			}
		case <-deadline.C:
			t.Fatalf("%s: no %s within %s", c.name, what, mxWait)
		}
	}
}

// closed waits until the server has closed the socket.
func (c *mxConn) closed(t testing.TB) {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(mxWait):
		t.Fatalf("%s: socket still open after %s", c.name, mxWait)
	}
}

// call sends frame with a fresh id and returns the ack or error that
// refers to it.
func (c *mxConn) call(t testing.TB, frame map[string]any) mxFrame {
	t.Helper()
	c.ids++
	ref := fmt.Sprintf("m%d", c.ids)
	out := make(map[string]any, len(frame)+1)
	for k, v := range frame {
		out[k] = v
	}
	out["id"] = ref
	_ = c.ws.SetWriteDeadline(time.Now().Add(mxWait))
	if err := c.ws.WriteJSON(out); err != nil {
		t.Fatalf("%s: send %v: %v", c.name, frame, err)
	}
	return c.await(t, "the answer to "+ref, func(f mxFrame) bool {
		return (f.str("type") == "ack" || f.str("type") == "error") && f["ref"] == ref
	})
}

// ok sends frame and insists on an ack.
func (c *mxConn) ok(t testing.TB, frame map[string]any) {
	t.Helper()
	if f := c.call(t, frame); f.str("type") != "ack" {
		t.Fatalf("%s: %v answered %v; want ack", c.name, frame, f)
	}
}

func (c *mxConn) close() { _ = c.ws.Close() }

// Columns of the agent table: principals relative to the row's id.
const (
	colHolder    = iota // the own agency's agent holding the id's contact (for ids without one: the one holding the own voice call)
	colOfferee          // the own agency's agent the waiting voice call is offered to
	colBystander        // an agent of the own agency in none of it
	colStranger         // an agent of the other agency (who holds the other agency's call)
	colInterp           // an interpreter joined to the own chat (holds its interpreter leg)
	colReleased         // an interpreter who joined the own chat and was released
	agentCols
)

var agentColNames = [agentCols]string{"holder", "offeree", "bystander", "other-agency agent", "interpreter", "released interpreter"}

// Columns of the gateway table.
const (
	colGateway      = iota // the own agency's gateway
	colOtherGateway        // the other agency's gateway
	colAllGateway          // the gateway serving every agency
	gatewayCols
)

var gatewayColNames = [gatewayCols]string{"own gateway", "other agency's gateway", "all-agency gateway"}

// Expected answers.
const (
	ack = "ack"
	nf  = "not_found"
	cf  = "conflict"
	va  = "validation"
	fb  = "forbidden"
)

// mxKind is a kind of id, relative to the own agency (gov110).
type mxKind int

const (
	kVoice    mxKind = iota // a voice call held by the holder
	kChat                   // a chat held by the holder, an interpreter joined, another released
	kCallback               // a callback held by the holder, being dialled
	kOffered                // a voice call offered to the offeree, not yet accepted
	kOther                  // a voice call of the other agency, held by its agent
	kMissing                // random ids that exist nowhere
	kEnded                  // a call the holder transferred: ended, its case still open
	kClosed                 // a call the holder ended: its case closed
	kLeg                    // the joined interpreter's leg of the chat
	kOldLeg                 // the released interpreter's leg: ended
	kWaiting                // a chat waiting in line
	kNone                   // no id (state frames)
)

var kindNames = map[mxKind]string{
	kVoice: "own voice call", kChat: "own chat", kCallback: "own callback", kOffered: "call offered to the offeree",
	kOther: "other agency's call", kMissing: "nonexistent", kEnded: "ended contact (case open)",
	kClosed: "contact of a closed case", kLeg: "interpreter's leg", kOldLeg: "released interpreter's leg",
	kWaiting: "waiting chat", kNone: "no id",
}

// mxFix is the fixture of one kind of id.
type mxFix struct {
	id, caseID, offerID string
	token               string  // the citizen token that reaches it
	holder              *mxConn // the holder column's principal for this id
}

// mxScene is the fixtures and the cast around them. Fresh scenes share
// everything with the shared one but the fixture (and cast) they replace.
type mxScene struct {
	fix                                 map[mxKind]*mxFix
	offeree, stranger, interp, released *mxConn
	bystander                           *mxConn
	gw                                  [gatewayCols]*mxConn
}

func (sc *mxScene) with(k mxKind, f *mxFix) *mxScene {
	c := *sc
	c.fix = make(map[mxKind]*mxFix, len(sc.fix))
	for kk, v := range sc.fix {
		c.fix[kk] = v
	}
	c.fix[k] = f
	return &c
}

func (sc *mxScene) agent(col int, k mxKind) *mxConn {
	switch col {
	case colHolder:
		return sc.fix[k].holder
	case colOfferee:
		return sc.offeree
	case colBystander:
		return sc.bystander
	case colStranger:
		return sc.stranger
	case colInterp:
		return sc.interp
	case colReleased:
		return sc.released
	}
	panic("no agent column")
}

// mxWorld is one backend's server with the accounts and sockets of the
// matrix.
type mxWorld struct {
	t      testing.TB
	h      *harness
	n      *int
	conns  *[]*mxConn
	connMu *sync.Mutex
	sink   string // a queue taking every channel that nobody serves
	interp string // the interpreter queue (lang:vi)
	gw     [gatewayCols]*mxConn
	shared *mxScene
}

func (m *mxWorld) on(t testing.TB) *mxWorld {
	c := *m
	c.t, c.h = t, m.h.on(t)
	return &c
}

func (m *mxWorld) fresh(prefix string) string {
	*m.n++
	return fmt.Sprintf("mx-%s-%d", prefix, *m.n)
}

// keep closes c when the backend's test ends (not when a subtest does: a
// closing agent socket disconnects the agent, which would change the
// router under the rows that follow).
func (m *mxWorld) keep(c *mxConn) *mxConn {
	m.connMu.Lock()
	defer m.connMu.Unlock()
	*m.conns = append(*m.conns, c)
	return c
}

// queue makes a queue with no wrap-up (an agent is free again the moment
// a contact ends) through the API.
func (m *mxWorld) queue(agency, kind string, channels ...string) string {
	m.t.Helper()
	slug := m.fresh("q")
	body := map[string]any{"id": slug, "name": "Queue " + slug, "channels": channels, "wrapup_s": 0}
	if kind != "" {
		body["kind"], body["public"] = kind, false
	}
	m.h.do(http.MethodPost, "/v1/agencies/"+agency+"/queues", asAdmin, body).wantStatus(m.t, http.StatusCreated)
	return agency + "." + slug
}

// account makes a user through the API and starts a session for it.
func (m *mxWorld) account(role, agency string, skills map[string]int, queues ...string) (username, token string) {
	m.t.Helper()
	username = m.fresh(role)
	body := map[string]any{"username": username, "name": "User " + username, "password": testPassword, "role": role, "agency": agency}
	if skills != nil {
		body["skills"] = skills
	}
	var ms []map[string]any
	for _, q := range queues {
		ms = append(ms, map[string]any{"queue": q, "level": 1})
	}
	if ms != nil {
		body["queues"] = ms
	}
	if !m.h.do(http.MethodPost, "/v1/users", asAdmin, body).wantStatus(m.t, http.StatusCreated) {
		m.t.FailNow()
	}
	token, _, err := m.h.sessions.Create(m.h.ctx(), username, "192.0.2.1")
	if err != nil {
		m.t.Fatal(err)
	}
	return username, token
}

// socket opens an agent's or gateway's socket and waits for its hello.
func (m *mxWorld) socket(path, username, token string) *mxConn {
	m.t.Helper()
	c, resp, err := mxDial(wsURL(m.h, path), bearerHeader(token), username)
	if err != nil {
		m.t.Fatalf("dial %s as %s: %v (%s)", path, username, err, statusOf(resp))
	}
	c.username, c.token = username, token
	m.keep(c)
	c.await(m.t, "hello", func(f mxFrame) bool { return f.str("type") == "hello" })
	return c
}

func bearerHeader(token string) http.Header {
	return http.Header{"Authorization": {"Bearer " + token}}
}

func statusOf(resp *http.Response) string {
	if resp == nil {
		return "no response"
	}
	return resp.Status
}

// agent makes an agent of agency in queues, connected; available makes
// them take offers.
func (m *mxWorld) agent(agency string, available bool, queues ...string) *mxConn {
	m.t.Helper()
	username, token := m.account(directory.RoleAgent, agency, nil, queues...)
	c := m.socket("/v1/agent/ws", username, token)
	if available {
		c.ok(m.t, map[string]any{"type": "state", "state": "available"})
	}
	return c
}

// interpreter makes an interpreter of Vietnamese, connected, on break.
func (m *mxWorld) interpreter() *mxConn {
	m.t.Helper()
	username, token := m.account(directory.RoleAgent, "gov110", map[string]int{"lang:vi": 5}, m.interp)
	c := m.socket("/v1/agent/ws", username, token)
	c.ok(m.t, map[string]any{"type": "state", "state": "break"})
	return c
}

func (m *mxWorld) gateway(agency string) *mxConn {
	m.t.Helper()
	username, token := m.account(directory.RoleGateway, agency, nil)
	return m.socket("/v1/gateway/ws", username, token)
}

// call is a gateway putting a voice call (or a callback) in queue.
func (m *mxWorld) call(gw *mxConn, queue, channel string) created {
	m.t.Helper()
	body := map[string]any{"channel": channel, "queue": queue, "caller": map[string]any{"id": "010" + fmt.Sprint(1000000+*m.n), "name": "홍길동"}}
	*m.n++
	if channel == "callback" {
		body["callback_number"] = "01055501234"
	}
	var c created
	r := m.h.do(http.MethodPost, "/v1/contacts", asAnon, body, withToken(gw.token))
	if !r.wantStatus(m.t, http.StatusCreated) || !r.decode(m.t, &c) {
		m.t.FailNow()
	}
	return c
}

// chatIn is a citizen opening a chat in queue from a new device.
func (m *mxWorld) chatIn(queue string) created {
	m.t.Helper()
	var c created
	r := m.h.do(http.MethodPost, "/v1/contacts", asAnon, chatBody(queue, m.fresh("caller")))
	if !r.wantStatus(m.t, http.StatusCreated) || !r.decode(m.t, &c) {
		m.t.FailNow()
	}
	return c
}

// offerOf is the pending offer of contactID, which must be to agent.
func (m *mxWorld) offerOf(contactID string, agent *mxConn) string {
	m.t.Helper()
	cv, err := m.h.router.Peek(contactID)
	if err != nil || cv.Status != router.StatusOffered || cv.Agent != agent.username {
		m.t.Fatalf("contact %s is %s for %q (%v); want offered to %s", contactID, cv.Status, cv.Agent, err, agent.username)
	}
	return cv.OfferID
}

func (m *mxWorld) accept(agent *mxConn, contactID string) {
	m.t.Helper()
	agent.ok(m.t, map[string]any{"type": "accept", "offer_id": m.offerOf(contactID, agent)})
}

// held is a contact of channel in a queue of its own, accepted by a new
// agent of agency: voice and callbacks put in line by gw, chats by a
// citizen.
func (m *mxWorld) held(agency, channel string, gw *mxConn) *mxFix {
	m.t.Helper()
	q := m.queue(agency, "", channel)
	holder := m.agent(agency, true, q)
	var c created
	if channel == "chat" {
		c = m.chatIn(q)
	} else {
		c = m.call(gw, q, channel)
	}
	m.accept(holder, c.ContactID)
	return &mxFix{id: c.ContactID, caseID: c.CaseID, token: c.CitizenToken, holder: holder}
}

// join brings interp into the holder's contact f and returns the leg.
func (m *mxWorld) join(f *mxFix, interp *mxConn) *mxFix {
	m.t.Helper()
	interp.ok(m.t, map[string]any{"type": "state", "state": "available"})
	f.holder.ok(m.t, map[string]any{"type": "interpret", "contact_id": f.id, "language": "vi"})
	cv, err := m.h.router.Peek(f.id)
	if err != nil || cv.Interpreter == "" {
		m.t.Fatalf("contact %s has no interpreter leg after interpret (%v)", f.id, err)
	}
	m.accept(interp, cv.Interpreter)
	// On break, the interpreter is offered nothing else.
	interp.ok(m.t, map[string]any{"type": "state", "state": "break"})
	return &mxFix{id: cv.Interpreter, caseID: f.caseID, holder: f.holder}
}

// missing is a fixture of ids that exist nowhere.
func missing(holder *mxConn) *mxFix {
	return &mxFix{id: router.MakeID("ct", time.Now()), caseID: router.MakeID("cs", time.Now()), offerID: router.MakeID("of", time.Now()), holder: holder}
}

// newMatrix builds the world and its shared scene.
func newMatrix(t *testing.T, b sqltest.Backend) *mxWorld {
	h := newHarness(t, b)
	h.deliverToHub()
	m := &mxWorld{t: t, h: h, n: new(int), conns: new([]*mxConn), connMu: &sync.Mutex{}}
	t.Cleanup(func() {
		for _, c := range *m.conns {
			c.close()
		}
	})
	m.sink = m.queue("gov110", "", "voice", "chat", "callback")
	m.interp = m.queue("gov110", "interpreter", "voice", "chat")

	m.gw[colGateway] = m.socket("/v1/gateway/ws", asGateway, h.tokens[asGateway])
	m.gw[colOtherGateway] = m.gateway("nts126")
	m.gw[colAllGateway] = m.gateway("")
	sc := &mxScene{fix: map[mxKind]*mxFix{}, gw: m.gw}
	sc.bystander = m.agent("gov110", false)

	// The voice call: its first leg was transferred back into the line
	// and answered by the same agent, so the first leg is an ended
	// contact of a case that is still open.
	first := m.held("gov110", "voice", sc.gw[colGateway])
	cv, _ := h.router.Peek(first.id)
	first.holder.ok(t, map[string]any{"type": "transfer", "contact_id": first.id, "to": map[string]any{"queue": cv.Queue}, "mode": "cold"})
	legs, err := h.router.Case(first.caseID)
	if err != nil || len(legs.Legs) != 2 {
		t.Fatalf("case after the transfer: %+v (%v); want two legs", legs.Legs, err)
	}
	second := legs.Legs[1].ContactID
	m.accept(first.holder, second)
	sc.fix[kVoice] = &mxFix{id: second, caseID: first.caseID, token: first.token, holder: first.holder}
	sc.fix[kEnded] = first

	// The chat, with one interpreter released and one joined.
	chat := m.held("gov110", "chat", nil)
	sc.fix[kChat] = chat
	sc.released = m.interpreter()
	sc.fix[kOldLeg] = m.join(chat, sc.released)
	chat.holder.ok(t, map[string]any{"type": "interpreter_release", "contact_id": chat.id})
	sc.interp = m.interpreter()
	sc.fix[kLeg] = m.join(chat, sc.interp)

	sc.fix[kCallback] = m.held("gov110", "callback", sc.gw[colGateway])
	sc.fix[kOffered], sc.offeree = m.offered()
	sc.fix[kOffered].holder = sc.fix[kVoice].holder
	other := m.held("nts126", "voice", sc.gw[colOtherGateway])
	sc.stranger = other.holder
	sc.fix[kOther] = &mxFix{id: other.id, caseID: other.caseID, token: other.token, holder: sc.fix[kVoice].holder}

	closed := m.held("gov110", "voice", sc.gw[colGateway])
	closed.holder.ok(t, map[string]any{"type": "end", "contact_id": closed.id, "disposition": "resolved"})
	if _, err := h.router.Case(closed.caseID); err == nil {
		t.Fatalf("case %s is still open after its only contact ended", closed.caseID)
	}
	sc.fix[kClosed] = closed
	sc.fix[kWaiting] = m.waiting()
	sc.fix[kWaiting].holder = sc.fix[kVoice].holder
	sc.fix[kMissing] = missing(sc.fix[kVoice].holder)
	sc.fix[kNone] = &mxFix{holder: sc.fix[kVoice].holder}
	// The voice call's holder and the other agency's agent take voice in
	// the browser (the softphone rows), now that every call is placed.
	sc.fix[kVoice].holder.ok(t, map[string]any{"type": "softphone", "on": true})
	sc.stranger.ok(t, map[string]any{"type": "softphone", "on": true})
	m.shared = sc
	return m
}

// waiting is a chat waiting in a line nobody serves.
func (m *mxWorld) waiting() *mxFix {
	m.t.Helper()
	c := m.chatIn(m.sink)
	return &mxFix{id: c.ContactID, caseID: c.CaseID, token: c.CitizenToken}
}

// offered is a voice call offered to a new agent of the own agency.
func (m *mxWorld) offered() (*mxFix, *mxConn) {
	m.t.Helper()
	q := m.queue("gov110", "", "voice")
	offeree := m.agent("gov110", true, q)
	c := m.call(m.gw[colGateway], q, "voice")
	return &mxFix{id: c.ContactID, caseID: c.CaseID, token: c.CitizenToken, offerID: m.offerOf(c.ContactID, offeree)}, offeree
}

// freshScene is the shared scene with the fixture of kind k, and the cast
// around it, made anew: for a cell whose frame changes its contact.
func (m *mxWorld) freshScene(k mxKind) *mxScene {
	m.t.Helper()
	sc := m.shared
	switch k {
	case kVoice:
		return sc.with(kVoice, m.held("gov110", "voice", m.gw[colGateway]))
	case kChat:
		f := m.held("gov110", "chat", nil)
		// An interpreter asked for and waiting (nobody speaks Thai), as
		// the shared chat has one present.
		f.holder.ok(m.t, map[string]any{"type": "interpret", "contact_id": f.id, "language": "th"})
		return sc.with(kChat, f)
	case kCallback:
		return sc.with(kCallback, m.held("gov110", "callback", m.gw[colGateway]))
	case kWaiting:
		return sc.with(kWaiting, m.waiting())
	case kOffered, kNone:
		f, offeree := m.offered()
		f.holder = sc.fix[kVoice].holder
		c := sc.with(kOffered, f)
		c.offeree = offeree
		return c
	case kOther:
		o := m.held("nts126", "voice", m.gw[colOtherGateway])
		c := sc.with(kOther, &mxFix{id: o.id, caseID: o.caseID, token: o.token, holder: sc.fix[kVoice].holder})
		c.stranger = o.holder
		return c
	case kLeg:
		chat := m.held("gov110", "chat", nil)
		interp := m.interpreter()
		c := sc.with(kLeg, m.join(chat, interp))
		c.interp = interp
		return c
	}
	m.t.Fatalf("no fresh fixture of kind %s", kindNames[k])
	return nil
}

// mxState is what a refused frame must leave as it was: the whole router
// snapshot (cases, their legs and timelines, live contacts), the id's
// contact and offer as the router shows them, and the sender's state.
type mxState struct {
	Snapshot router.Snapshot
	Contact  router.ContactView
	Offer    router.OfferView
	Agent    router.AgentView
	Errs     [4]string
}

func (m *mxWorld) state(f *mxFix, who *mxConn) mxState {
	var s mxState
	var err error
	errText := func(err error) string {
		if err == nil {
			return ""
		}
		return err.Error()
	}
	s.Snapshot, err = m.h.router.Snapshot()
	s.Errs[0] = errText(err)
	if f.id != "" {
		s.Contact, err = m.h.router.Peek(f.id)
		s.Errs[1] = errText(err)
	}
	if f.offerID != "" {
		s.Offer, err = m.h.router.Offer(f.offerID)
		s.Errs[2] = errText(err)
	}
	if who.username != "" {
		if s.Agent, err = m.h.router.Agent(who.username); err != nil && !strings.Contains(err.Error(), "not found") {
			s.Errs[3] = errText(err)
		}
	}
	return s
}

// mxBuild makes a row's frame about fixture f.
type mxBuild func(m *mxWorld, f *mxFix) map[string]any

func frameWith(typ string, idField func(*mxFix) (string, string), extra func(m *mxWorld) map[string]any) mxBuild {
	return func(m *mxWorld, f *mxFix) map[string]any {
		out := map[string]any{"type": typ}
		if idField != nil {
			k, v := idField(f)
			out[k] = v
		}
		if extra != nil {
			for k, v := range extra(m) {
				out[k] = v
			}
		}
		return out
	}
}

func contactID(f *mxFix) (string, string) { return "contact_id", f.id }
func caseID(f *mxFix) (string, string)    { return "case_id", f.caseID }
func offerID(f *mxFix) (string, string)   { return "offer_id", f.offerID }

// contactAsOffer names a contact where an offer belongs.
func contactAsOffer(f *mxFix) (string, string) { return "offer_id", f.id }

func fields(kv map[string]any) func(*mxWorld) map[string]any {
	return func(*mxWorld) map[string]any { return kv }
}

var (
	fSay      = frameWith("say", contactID, fields(map[string]any{"text": "안녕하세요"}))
	fNote     = frameWith("note", caseID, fields(map[string]any{"text": "확인 필요"}))
	fTransfer = frameWith("transfer", contactID, func(m *mxWorld) map[string]any {
		return map[string]any{"to": map[string]any{"queue": m.sink}, "mode": "cold", "note": "넘깁니다"}
	})
	fEnd       = frameWith("end", contactID, fields(map[string]any{"disposition": "resolved", "summary": "안내 완료"}))
	fEndFiling = frameWith("end", contactID, func(m *mxWorld) map[string]any {
		return map[string]any{"summary": "2차 상담 필요", "callback": map[string]any{"queue": m.sink, "number": "01055509876", "note": "서류 확인 후 전화"}}
	})
	fInterpret    = frameWith("interpret", contactID, fields(map[string]any{"language": "th", "note": "태국어"}))
	fRelease      = frameWith("interpreter_release", contactID, nil)
	fCbAnswered   = frameWith("callback_result", contactID, fields(map[string]any{"result": "answered"}))
	fCbNoAnswer   = frameWith("callback_result", contactID, fields(map[string]any{"result": "no_answer"}))
	fAccept       = frameWith("accept", offerID, nil)
	fDecline      = frameWith("decline", offerID, fields(map[string]any{"reason": "busy"}))
	fAcceptOther  = frameWith("accept", contactAsOffer, nil)
	fDeclineOther = frameWith("decline", contactAsOffer, nil)
	fBreak        = frameWith("state", nil, fields(map[string]any{"state": "break"}))
	fOffline      = frameWith("state", nil, fields(map[string]any{"state": "offline"}))

	fTranscript      = frameWith("transcript", contactID, fields(map[string]any{"speaker": "citizen", "text": "여보세요"}))
	fTranscriptAgent = frameWith("transcript", contactID, fields(map[string]any{"speaker": "agent", "text": "네 말씀하세요"}))
	fHangup          = frameWith("hangup", contactID, nil)
	fDialAnswered    = frameWith("dial_result", contactID, fields(map[string]any{"result": "answered"}))
	fDialNoAnswer    = frameWith("dial_result", contactID, fields(map[string]any{"result": "no_answer"}))
	fConnectFailed   = frameWith("connect_failed", contactID, fields(map[string]any{"result": "no_answer"}))
	fAgentHangup     = frameWith("agent_hangup", contactID, nil)
	fRecording       = frameWith("recording", contactID, fields(map[string]any{"file": "rec/leg.wav", "seconds": 60,
		"started_at": "2026-03-02T09:00:00+09:00"}))

	fSoftphoneOn = frameWith("softphone", nil, fields(map[string]any{"on": true}))
	fRTCAnswer   = frameWith("rtc_answer", contactID, fields(map[string]any{"session": "s1", "sdp": mxSDP}))
	fRTCRestart  = frameWith("rtc_restart", contactID, nil)
	fHold        = frameWith("hold", contactID, fields(map[string]any{"on": true}))
	fDTMF        = frameWith("dtmf", contactID, fields(map[string]any{"digits": "1#"}))
	fRTCOffer    = gatewayRTC("rtc_offer", map[string]any{"session": "s1", "sdp": mxSDP})
	fRTCState    = gatewayRTC("rtc_state", map[string]any{"state": "connected"})
)

const mxSDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\n"

// relayFrames are relayed between desk and edge: applied, they leave the
// router as it was.
var relayFrames = []string{"softphone", "rtc_answer", "rtc_restart", "hold", "dtmf", "rtc_offer", "rtc_state"}

// gatewayRTC is an edge's frame about a contact's agent: the one the
// router has on it (the holder for ids without one).
func gatewayRTC(typ string, extra map[string]any) mxBuild {
	return func(m *mxWorld, f *mxFix) map[string]any {
		agent := f.holder.username
		if cv, err := m.h.router.Peek(f.id); err == nil && cv.Agent != "" {
			agent = cv.Agent
		}
		out := map[string]any{"type": typ, "contact_id": f.id, "agent": agent}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
}

// mxRow is one row of a table: a frame about one kind of id, and the
// answer each column's principal must get. fresh marks the columns whose
// applied frame changes the fixture: each such cell gets a fresh scene.
type mxRow struct {
	name  string
	kind  mxKind
	build mxBuild
	fresh uint
	want  []string
}

const freshAll = ^uint(0)

func freshOnly(cols ...int) uint {
	var b uint
	for _, c := range cols {
		b |= 1 << c
	}
	return b
}

// w lists a row's expected answers, one per column.
func w(cells ...string) []string { return cells }

// agentTable is every agent frame about every kind of id.
var agentTable = []mxRow{
	// Columns:                                         holder offeree bystander stranger interp released
	// The softphone: every desk may take its agent's voice. The holder
	// of the voice call and the stranger already hold theirs (newMatrix);
	// the other holders do not, so their softphone frames are forbidden.
	{"softphone on", kNone, fSoftphoneOn, 0, w(ack, ack, ack, ack, ack, ack)},

	{"rtc_answer", kVoice, fRTCAnswer, 0, w(ack, nf, nf, nf, nf, nf)},
	{"rtc_answer", kChat, fRTCAnswer, 0, w(nf, nf, nf, nf, nf, nf)},
	{"rtc_answer", kCallback, fRTCAnswer, 0, w(fb, nf, nf, nf, nf, nf)},
	{"rtc_answer", kOffered, fRTCAnswer, 0, w(nf, cf, nf, nf, nf, nf)},
	{"rtc_answer", kOther, fRTCAnswer, 0, w(nf, nf, nf, ack, nf, nf)},
	{"rtc_answer", kMissing, fRTCAnswer, 0, w(nf, nf, nf, nf, nf, nf)},
	{"rtc_answer", kEnded, fRTCAnswer, 0, w(cf, nf, nf, nf, nf, nf)},
	{"rtc_answer", kClosed, fRTCAnswer, 0, w(nf, nf, nf, nf, nf, nf)},
	{"rtc_answer", kLeg, fRTCAnswer, 0, w(nf, nf, nf, nf, nf, nf)},
	{"rtc_answer", kOldLeg, fRTCAnswer, 0, w(nf, nf, nf, nf, nf, nf)},

	{"rtc_restart", kVoice, fRTCRestart, 0, w(ack, nf, nf, nf, nf, nf)},
	{"rtc_restart", kChat, fRTCRestart, 0, w(nf, nf, nf, nf, nf, nf)},
	{"rtc_restart", kCallback, fRTCRestart, 0, w(fb, nf, nf, nf, nf, nf)},
	{"rtc_restart", kOffered, fRTCRestart, 0, w(nf, cf, nf, nf, nf, nf)},
	{"rtc_restart", kOther, fRTCRestart, 0, w(nf, nf, nf, ack, nf, nf)},
	{"rtc_restart", kMissing, fRTCRestart, 0, w(nf, nf, nf, nf, nf, nf)},
	{"rtc_restart", kEnded, fRTCRestart, 0, w(cf, nf, nf, nf, nf, nf)},
	{"rtc_restart", kClosed, fRTCRestart, 0, w(nf, nf, nf, nf, nf, nf)},
	{"rtc_restart", kLeg, fRTCRestart, 0, w(nf, nf, nf, nf, nf, nf)},

	// Hold and digits: any agent holding a call, phone or browser.
	{"hold", kVoice, fHold, 0, w(ack, nf, nf, nf, nf, nf)},
	{"hold", kChat, fHold, 0, w(nf, nf, nf, nf, nf, nf)},
	{"hold", kCallback, fHold, 0, w(ack, nf, nf, nf, nf, nf)},
	{"hold", kOffered, fHold, 0, w(nf, cf, nf, nf, nf, nf)},
	{"hold", kOther, fHold, 0, w(nf, nf, nf, ack, nf, nf)},
	{"hold", kMissing, fHold, 0, w(nf, nf, nf, nf, nf, nf)},
	{"hold", kEnded, fHold, 0, w(cf, nf, nf, nf, nf, nf)},
	{"hold", kClosed, fHold, 0, w(nf, nf, nf, nf, nf, nf)},
	{"hold", kLeg, fHold, 0, w(nf, nf, nf, nf, nf, nf)},

	{"dtmf", kVoice, fDTMF, 0, w(ack, nf, nf, nf, nf, nf)},
	{"dtmf", kChat, fDTMF, 0, w(nf, nf, nf, nf, nf, nf)},
	{"dtmf", kCallback, fDTMF, 0, w(ack, nf, nf, nf, nf, nf)},
	{"dtmf", kOffered, fDTMF, 0, w(nf, cf, nf, nf, nf, nf)},
	{"dtmf", kOther, fDTMF, 0, w(nf, nf, nf, ack, nf, nf)},
	{"dtmf", kMissing, fDTMF, 0, w(nf, nf, nf, nf, nf, nf)},
	{"dtmf", kEnded, fDTMF, 0, w(cf, nf, nf, nf, nf, nf)},
	{"dtmf", kClosed, fDTMF, 0, w(nf, nf, nf, nf, nf, nf)},
	{"dtmf", kLeg, fDTMF, 0, w(nf, nf, nf, nf, nf, nf)},

	{"say", kVoice, fSay, 0, w(ack, nf, nf, nf, nf, nf)},
	{"say", kChat, fSay, 0, w(ack, nf, nf, nf, nf, nf)},
	{"say", kCallback, fSay, 0, w(ack, nf, nf, nf, nf, nf)},
	{"say", kOffered, fSay, 0, w(nf, cf, nf, nf, nf, nf)},
	{"say", kOther, fSay, 0, w(nf, nf, nf, ack, nf, nf)},
	{"say", kMissing, fSay, 0, w(nf, nf, nf, nf, nf, nf)},
	{"say", kEnded, fSay, 0, w(cf, nf, nf, nf, nf, nf)},
	{"say", kClosed, fSay, 0, w(nf, nf, nf, nf, nf, nf)},
	{"say", kLeg, fSay, 0, w(nf, nf, nf, nf, ack, nf)},
	{"say", kOldLeg, fSay, 0, w(nf, nf, nf, nf, nf, cf)},

	{"note", kChat, fNote, 0, w(ack, nf, nf, nf, ack, nf)},
	{"note", kVoice, fNote, 0, w(ack, nf, nf, nf, nf, nf)},
	{"note", kOffered, fNote, 0, w(nf, nf, nf, nf, nf, nf)},
	{"note", kOther, fNote, 0, w(nf, nf, nf, ack, nf, nf)},
	{"note", kMissing, fNote, 0, w(nf, nf, nf, nf, nf, nf)},
	{"note", kClosed, fNote, 0, w(nf, nf, nf, nf, nf, nf)},

	{"transfer", kVoice, fTransfer, freshAll, w(ack, nf, nf, nf, nf, nf)},
	{"transfer", kChat, fTransfer, freshAll, w(ack, nf, nf, nf, nf, nf)},
	{"transfer", kCallback, fTransfer, freshAll, w(ack, nf, nf, nf, nf, nf)},
	{"transfer", kOffered, fTransfer, freshAll, w(nf, cf, nf, nf, nf, nf)},
	{"transfer", kOther, fTransfer, freshAll, w(nf, nf, nf, ack, nf, nf)},
	{"transfer", kMissing, fTransfer, freshAll, w(nf, nf, nf, nf, nf, nf)},
	{"transfer", kEnded, fTransfer, freshAll, w(cf, nf, nf, nf, nf, nf)},
	{"transfer", kClosed, fTransfer, freshAll, w(nf, nf, nf, nf, nf, nf)},
	{"transfer", kLeg, fTransfer, freshAll, w(nf, nf, nf, nf, va, nf)},
	{"transfer", kOldLeg, fTransfer, freshAll, w(nf, nf, nf, nf, nf, cf)},

	{"end", kVoice, fEnd, freshAll, w(ack, nf, nf, nf, nf, nf)},
	{"end", kChat, fEnd, freshAll, w(ack, nf, nf, nf, nf, nf)},
	{"end", kCallback, fEnd, freshAll, w(ack, nf, nf, nf, nf, nf)},
	{"end", kOffered, fEnd, freshAll, w(nf, cf, nf, nf, nf, nf)},
	{"end", kOther, fEnd, freshAll, w(nf, nf, nf, ack, nf, nf)},
	{"end", kMissing, fEnd, freshAll, w(nf, nf, nf, nf, nf, nf)},
	{"end", kEnded, fEnd, freshAll, w(cf, nf, nf, nf, nf, nf)},
	{"end", kClosed, fEnd, freshAll, w(nf, nf, nf, nf, nf, nf)},
	{"end", kLeg, fEnd, freshAll, w(nf, nf, nf, nf, ack, nf)},
	{"end", kOldLeg, fEnd, freshAll, w(nf, nf, nf, nf, nf, cf)},

	{"end with a callback", kVoice, fEndFiling, freshAll, w(ack, nf, nf, nf, nf, nf)},
	{"end with a callback", kChat, fEndFiling, freshAll, w(ack, nf, nf, nf, nf, nf)},
	{"end with a callback", kCallback, fEndFiling, freshAll, w(ack, nf, nf, nf, nf, nf)},
	{"end with a callback", kOffered, fEndFiling, freshAll, w(nf, cf, nf, nf, nf, nf)},
	{"end with a callback", kOther, fEndFiling, freshAll, w(nf, nf, nf, ack, nf, nf)},
	{"end with a callback", kMissing, fEndFiling, freshAll, w(nf, nf, nf, nf, nf, nf)},
	{"end with a callback", kEnded, fEndFiling, freshAll, w(cf, nf, nf, nf, nf, nf)},
	{"end with a callback", kClosed, fEndFiling, freshAll, w(nf, nf, nf, nf, nf, nf)},
	{"end with a callback", kLeg, fEndFiling, freshAll, w(nf, nf, nf, nf, va, nf)},
	{"end with a callback", kOldLeg, fEndFiling, freshAll, w(nf, nf, nf, nf, nf, cf)},

	{"interpret", kVoice, fInterpret, freshAll, w(ack, nf, nf, nf, nf, nf)},
	{"interpret", kChat, fInterpret, freshAll, w(cf, nf, nf, nf, nf, nf)},
	{"interpret", kCallback, fInterpret, freshAll, w(ack, nf, nf, nf, nf, nf)},
	{"interpret", kOffered, fInterpret, freshAll, w(nf, cf, nf, nf, nf, nf)},
	{"interpret", kOther, fInterpret, freshAll, w(nf, nf, nf, ack, nf, nf)},
	{"interpret", kMissing, fInterpret, freshAll, w(nf, nf, nf, nf, nf, nf)},
	{"interpret", kEnded, fInterpret, freshAll, w(cf, nf, nf, nf, nf, nf)},
	{"interpret", kClosed, fInterpret, freshAll, w(nf, nf, nf, nf, nf, nf)},
	{"interpret", kLeg, fInterpret, freshAll, w(nf, nf, nf, nf, va, nf)},
	{"interpret", kOldLeg, fInterpret, freshAll, w(nf, nf, nf, nf, nf, cf)},

	{"interpreter_release", kVoice, fRelease, freshAll, w(cf, nf, nf, nf, nf, nf)},
	{"interpreter_release", kChat, fRelease, freshAll, w(ack, nf, nf, nf, nf, nf)},
	{"interpreter_release", kCallback, fRelease, freshAll, w(cf, nf, nf, nf, nf, nf)},
	{"interpreter_release", kOffered, fRelease, freshAll, w(nf, cf, nf, nf, nf, nf)},
	{"interpreter_release", kOther, fRelease, freshAll, w(nf, nf, nf, cf, nf, nf)},
	{"interpreter_release", kMissing, fRelease, freshAll, w(nf, nf, nf, nf, nf, nf)},
	{"interpreter_release", kEnded, fRelease, freshAll, w(cf, nf, nf, nf, nf, nf)},
	{"interpreter_release", kClosed, fRelease, freshAll, w(nf, nf, nf, nf, nf, nf)},
	{"interpreter_release", kLeg, fRelease, freshAll, w(nf, nf, nf, nf, cf, nf)},
	{"interpreter_release", kOldLeg, fRelease, freshAll, w(nf, nf, nf, nf, nf, cf)},

	{"callback_result answered", kVoice, fCbAnswered, 0, w(va, nf, nf, nf, nf, nf)},
	{"callback_result answered", kChat, fCbAnswered, 0, w(va, nf, nf, nf, nf, nf)},
	{"callback_result answered", kCallback, fCbAnswered, 0, w(ack, nf, nf, nf, nf, nf)},
	{"callback_result answered", kOffered, fCbAnswered, 0, w(nf, va, nf, nf, nf, nf)},
	{"callback_result answered", kOther, fCbAnswered, 0, w(nf, nf, nf, va, nf, nf)},
	{"callback_result answered", kMissing, fCbAnswered, 0, w(nf, nf, nf, nf, nf, nf)},
	{"callback_result answered", kEnded, fCbAnswered, 0, w(va, nf, nf, nf, nf, nf)},
	{"callback_result answered", kClosed, fCbAnswered, 0, w(nf, nf, nf, nf, nf, nf)},
	{"callback_result answered", kLeg, fCbAnswered, 0, w(nf, nf, nf, nf, va, nf)},
	{"callback_result answered", kOldLeg, fCbAnswered, 0, w(nf, nf, nf, nf, nf, va)},
	{"callback_result no_answer", kCallback, fCbNoAnswer, freshAll, w(ack, nf, nf, nf, nf, nf)},

	{"accept", kOffered, fAccept, freshAll, w(nf, ack, nf, nf, nf, nf)},
	{"accept", kMissing, fAccept, freshAll, w(nf, nf, nf, nf, nf, nf)},
	{"accept a contact id", kVoice, fAcceptOther, freshAll, w(nf, nf, nf, nf, nf, nf)},
	{"decline", kOffered, fDecline, freshAll, w(nf, ack, nf, nf, nf, nf)},
	{"decline", kMissing, fDecline, freshAll, w(nf, nf, nf, nf, nf, nf)},
	{"decline a contact id", kVoice, fDeclineOther, freshAll, w(nf, nf, nf, nf, nf, nf)},

	// Last: they take the agents off the line. Break and offline take
	// back pending offers, so the offeree's cell gets a fresh offer.
	{"state break", kNone, fBreak, freshOnly(colOfferee), w(ack, ack, ack, ack, ack, ack)},
	{"state offline", kNone, fOffline, freshOnly(colOfferee), w(cf, ack, ack, cf, cf, ack)},
}

// gatewayTable is every gateway frame about every kind of id.
var gatewayTable = []mxRow{
	// Columns:                                         own gateway, other agency's, all-agency
	{"transcript", kVoice, fTranscript, 0, w(ack, nf, ack)},
	{"transcript", kChat, fTranscript, 0, w(nf, nf, nf)},
	{"transcript", kCallback, fTranscript, 0, w(ack, nf, ack)},
	{"transcript", kOffered, fTranscript, 0, w(ack, nf, ack)},
	{"transcript", kOther, fTranscript, 0, w(nf, ack, ack)},
	{"transcript", kMissing, fTranscript, 0, w(nf, nf, nf)},
	{"transcript", kEnded, fTranscript, 0, w(cf, nf, cf)},
	{"transcript", kClosed, fTranscript, 0, w(nf, nf, nf)},
	{"transcript", kLeg, fTranscript, 0, w(nf, nf, nf)},
	{"transcript", kOldLeg, fTranscript, 0, w(nf, nf, nf)},

	{"transcript of the agent", kVoice, fTranscriptAgent, 0, w(ack, nf, ack)},
	{"transcript of the agent", kChat, fTranscriptAgent, 0, w(nf, nf, nf)},
	{"transcript of the agent", kCallback, fTranscriptAgent, 0, w(ack, nf, ack)},
	{"transcript of the agent", kOffered, fTranscriptAgent, 0, w(cf, nf, cf)},
	{"transcript of the agent", kOther, fTranscriptAgent, 0, w(nf, ack, ack)},
	{"transcript of the agent", kMissing, fTranscriptAgent, 0, w(nf, nf, nf)},
	{"transcript of the agent", kEnded, fTranscriptAgent, 0, w(cf, nf, cf)},

	{"hangup", kVoice, fHangup, freshAll, w(ack, nf, ack)},
	{"hangup", kChat, fHangup, freshAll, w(nf, nf, nf)},
	{"hangup", kCallback, fHangup, freshAll, w(ack, nf, ack)},
	{"hangup", kOffered, fHangup, freshAll, w(ack, nf, ack)},
	{"hangup", kOther, fHangup, freshAll, w(nf, ack, ack)},
	{"hangup", kMissing, fHangup, freshAll, w(nf, nf, nf)},
	{"hangup", kEnded, fHangup, freshAll, w(cf, nf, cf)},
	{"hangup", kClosed, fHangup, freshAll, w(nf, nf, nf)},
	{"hangup", kLeg, fHangup, freshAll, w(nf, nf, nf)},
	{"hangup", kOldLeg, fHangup, freshAll, w(nf, nf, nf)},

	{"dial_result answered", kVoice, fDialAnswered, 0, w(va, nf, va)},
	{"dial_result answered", kChat, fDialAnswered, 0, w(nf, nf, nf)},
	{"dial_result answered", kCallback, fDialAnswered, 0, w(ack, nf, ack)},
	{"dial_result answered", kOffered, fDialAnswered, 0, w(va, nf, va)},
	{"dial_result answered", kOther, fDialAnswered, 0, w(nf, va, va)},
	{"dial_result answered", kMissing, fDialAnswered, 0, w(nf, nf, nf)},
	{"dial_result answered", kEnded, fDialAnswered, 0, w(va, nf, va)},
	{"dial_result answered", kClosed, fDialAnswered, 0, w(nf, nf, nf)},
	{"dial_result answered", kLeg, fDialAnswered, 0, w(nf, nf, nf)},
	{"dial_result no_answer", kCallback, fDialNoAnswer, freshAll, w(ack, nf, ack)},

	{"connect_failed", kVoice, fConnectFailed, freshAll, w(ack, nf, ack)},
	{"connect_failed", kChat, fConnectFailed, freshAll, w(nf, nf, nf)},
	{"connect_failed", kCallback, fConnectFailed, freshAll, w(ack, nf, ack)},
	{"connect_failed", kOffered, fConnectFailed, freshAll, w(cf, nf, cf)},
	{"connect_failed", kOther, fConnectFailed, freshAll, w(nf, ack, ack)},
	{"connect_failed", kMissing, fConnectFailed, freshAll, w(nf, nf, nf)},
	{"connect_failed", kEnded, fConnectFailed, freshAll, w(cf, nf, cf)},
	{"connect_failed", kClosed, fConnectFailed, freshAll, w(nf, nf, nf)},
	{"connect_failed", kLeg, fConnectFailed, freshAll, w(nf, nf, nf)},
	{"connect_failed", kOldLeg, fConnectFailed, freshAll, w(nf, nf, nf)},

	{"agent_hangup", kVoice, fAgentHangup, freshAll, w(ack, nf, ack)},
	{"agent_hangup", kChat, fAgentHangup, freshAll, w(nf, nf, nf)},
	{"agent_hangup", kCallback, fAgentHangup, freshAll, w(ack, nf, ack)},
	{"agent_hangup", kOffered, fAgentHangup, freshAll, w(cf, nf, cf)},
	{"agent_hangup", kOther, fAgentHangup, freshAll, w(nf, ack, ack)},
	{"agent_hangup", kMissing, fAgentHangup, freshAll, w(nf, nf, nf)},
	{"agent_hangup", kEnded, fAgentHangup, freshAll, w(cf, nf, cf)},
	{"agent_hangup", kClosed, fAgentHangup, freshAll, w(nf, nf, nf)},
	{"agent_hangup", kLeg, fAgentHangup, freshAll, w(nf, nf, nf)},
	{"agent_hangup", kOldLeg, fAgentHangup, freshAll, w(nf, nf, nf)},

	{"recording", kVoice, fRecording, 0, w(ack, nf, ack)},
	{"recording", kChat, fRecording, 0, w(nf, nf, nf)},
	{"recording", kCallback, fRecording, 0, w(ack, nf, ack)},
	{"recording", kOffered, fRecording, 0, w(cf, nf, cf)},
	{"recording", kOther, fRecording, 0, w(nf, ack, ack)},
	{"recording", kMissing, fRecording, 0, w(nf, nf, nf)},
	{"recording", kEnded, fRecording, 0, w(ack, nf, ack)},
	{"recording", kClosed, fRecording, 0, w(nf, nf, nf)},
	{"recording", kLeg, fRecording, 0, w(nf, nf, nf)},
	{"recording", kOldLeg, fRecording, 0, w(nf, nf, nf)},

	// The edge's softphone signalling, about the agent the router has on
	// the contact: relayed to the socket holding that agent's softphone
	// (the voice call's holder and the stranger hold theirs; the
	// callback's holder does not: an offer to them is conflict).
	{"rtc_offer", kVoice, fRTCOffer, 0, w(ack, nf, ack)},
	{"rtc_offer", kChat, fRTCOffer, 0, w(nf, nf, nf)},
	{"rtc_offer", kCallback, fRTCOffer, 0, w(cf, nf, cf)},
	{"rtc_offer", kOffered, fRTCOffer, 0, w(cf, nf, cf)},
	{"rtc_offer", kOther, fRTCOffer, 0, w(nf, ack, ack)},
	{"rtc_offer", kMissing, fRTCOffer, 0, w(nf, nf, nf)},
	{"rtc_offer", kEnded, fRTCOffer, 0, w(cf, nf, cf)},
	{"rtc_offer", kClosed, fRTCOffer, 0, w(nf, nf, nf)},
	{"rtc_offer", kLeg, fRTCOffer, 0, w(nf, nf, nf)},
	{"rtc_offer", kOldLeg, fRTCOffer, 0, w(nf, nf, nf)},

	{"rtc_state", kVoice, fRTCState, 0, w(ack, nf, ack)},
	{"rtc_state", kChat, fRTCState, 0, w(nf, nf, nf)},
	{"rtc_state", kCallback, fRTCState, 0, w(ack, nf, ack)},
	{"rtc_state", kOffered, fRTCState, 0, w(cf, nf, cf)},
	{"rtc_state", kOther, fRTCState, 0, w(nf, ack, ack)},
	{"rtc_state", kMissing, fRTCState, 0, w(nf, nf, nf)},
	{"rtc_state", kEnded, fRTCState, 0, w(cf, nf, cf)},
	{"rtc_state", kClosed, fRTCState, 0, w(nf, nf, nf)},
	{"rtc_state", kLeg, fRTCState, 0, w(nf, nf, nf)},
	{"rtc_state", kOldLeg, fRTCState, 0, w(nf, nf, nf)},
}

// runRow sends the row's frame from every column's principal.
func (m *mxWorld) runRow(t *testing.T, row mxRow, cols []string, who func(sc *mxScene, col int, k mxKind) *mxConn) {
	m = m.on(t)
	if len(row.want) != len(cols) {
		t.Fatalf("row has %d cells; the table has %d columns", len(row.want), len(cols))
	}
	for col, want := range row.want {
		sc := m.shared
		if want == ack && row.fresh&(1<<col) != 0 {
			sc = m.freshScene(row.kind)
		}
		m.cell(t, sc.fix[row.kind], sc.fix[kMissing], who(sc, col, row.kind), cols[col], row, want)
	}
}

// cell sends one frame and checks the answer, and that a refusal changed
// nothing and reads exactly as the refusal of an id that does not exist.
func (m *mxWorld) cell(t *testing.T, f, miss *mxFix, who *mxConn, col string, row mxRow, want string) {
	t.Helper()
	frame := row.build(m, f)
	before := m.state(f, who)
	got := who.call(t, frame)
	after := m.state(f, who)
	what := fmt.Sprintf("%s about the %s, from the %s (%s)", row.name, kindNames[row.kind], col, who.name)
	if want == ack {
		if got.str("type") != "ack" {
			t.Errorf("%s: answered %v; want ack", what, got)
		} else if frame["type"] != "state" && !slices.Contains(relayFrames, frame["type"].(string)) && deepEqual(before, after) {
			t.Errorf("%s: acked, but the router did not change", what)
		}
		return
	}
	if !deepEqual(before, after) {
		t.Errorf("%s: answered %s %s, but the router changed:%s", what, got.str("type"), got.str("code"), stateDiff(before, after))
	}
	if got.str("type") != "error" || got.str("code") != want {
		t.Errorf("%s: answered %v; want error %s", what, got, want)
		return
	}
	for k := range got {
		if !slices.Contains([]string{"type", "ref", "code", "message", "field"}, k) {
			t.Errorf("%s: error frame has an unexpected key %q: %v", what, k, got)
		}
	}
	if got.str("message") == "" {
		t.Errorf("%s: error frame without a message: %v", what, got)
	}
	if want != nf {
		return
	}
	// Not found reads exactly as for ids that do not exist.
	other := who.call(t, row.build(m, miss))
	if a, b := masked(got, f), masked(other, miss); a != b {
		t.Errorf("%s: answered\n  %s\nbut about ids that do not exist\n  %s", what, a, b)
	}
}

// masked is an error frame without its ref and with the fixture's ids
// replaced by placeholders, to compare refusals about different ids.
func masked(f mxFrame, fix *mxFix) string {
	c := mxFrame{}
	for k, v := range f {
		if k != "ref" {
			c[k] = v
		}
	}
	b, _ := json.Marshal(c)
	s := string(b)
	for _, r := range []struct{ id, as string }{{fix.id, "<contact>"}, {fix.caseID, "<case>"}, {fix.offerID, "<offer>"}} {
		if r.id != "" {
			s = strings.ReplaceAll(s, r.id, r.as)
		}
	}
	return s
}

func deepEqual(a, b mxState) bool { return reflect.DeepEqual(a, b) }

// stateDiff says what differs between two states, briefly.
func stateDiff(a, b mxState) string {
	var out strings.Builder
	show := func(what string, x, y any) {
		if !reflect.DeepEqual(x, y) {
			fmt.Fprintf(&out, "\n  %s before: %.600s\n  %s after:  %.600s", what, fmt.Sprintf("%+v", x), what, fmt.Sprintf("%+v", y))
		}
	}
	show("contact", a.Contact, b.Contact)
	show("offer", a.Offer, b.Offer)
	show("agent", a.Agent, b.Agent)
	show("errors", a.Errs, b.Errs)
	cases := func(s router.Snapshot) map[string]router.CaseSnapshot {
		m := map[string]router.CaseSnapshot{}
		for _, c := range s.Cases {
			m[c.ID] = c
		}
		return m
	}
	ca, cb := cases(a.Snapshot), cases(b.Snapshot)
	for id := range ca {
		show("case "+id, ca[id], cb[id])
	}
	for id := range cb {
		if _, ok := ca[id]; !ok {
			show("case "+id, router.CaseSnapshot{}, cb[id])
		}
	}
	show("queues", a.Snapshot.Queues, b.Snapshot.Queues)
	show("agents", a.Snapshot.Agents, b.Snapshot.Agents)
	return out.String()
}

// citizen opens the citizen socket of the contact id with token and waits
// for its first frame, which it returns.
func (m *mxWorld) citizen(id, token string) (*mxConn, mxFrame) {
	m.t.Helper()
	c, resp, err := mxDial(wsURL(m.h, "/v1/contacts/"+id+"/ws"), http.Header{"X-Citizen-Token": {token}}, "citizen of "+id)
	if err != nil {
		m.t.Fatalf("citizen socket of %s: %v (%s)", id, err, statusOf(resp))
	}
	m.keep(c)
	return c, c.await(m.t, "a first frame", func(mxFrame) bool { return true })
}

// citizenRow is a citizen frame on the citizen's own socket (a citizen
// names no ids: the socket is the contact).
type citizenRow struct {
	name  string
	kind  mxKind
	frame map[string]any
	fresh bool
	want  string
}

var citizenTable = []citizenRow{
	{"say", kChat, map[string]any{"type": "say", "text": "서류는 어디서 떼나요?"}, false, ack},
	{"say", kWaiting, map[string]any{"type": "say", "text": "기다리고 있어요"}, false, ack},
	{"say", kCallback, map[string]any{"type": "say", "text": "전화 주세요"}, false, cf},
	{"leave", kChat, map[string]any{"type": "leave"}, true, ack},
	{"leave", kWaiting, map[string]any{"type": "leave"}, true, ack},
	{"leave", kCallback, map[string]any{"type": "leave"}, true, ack},
}

func (m *mxWorld) runCitizenRow(t *testing.T, row citizenRow, sockets map[string]*mxConn) {
	m = m.on(t)
	sc := m.shared
	if row.fresh {
		sc = m.freshScene(row.kind)
	}
	f := sc.fix[row.kind]
	c := sockets[f.id]
	if c == nil {
		c, _ = m.citizen(f.id, f.token)
		sockets[f.id] = c
	}
	what := fmt.Sprintf("%s on the citizen's %s", row.name, kindNames[row.kind])
	before := m.state(f, c)
	got := c.call(t, row.frame)
	after := m.state(f, c)
	if row.want == ack {
		if got.str("type") != "ack" {
			t.Errorf("%s: answered %v; want ack", what, got)
			return
		}
		if deepEqual(before, after) {
			t.Errorf("%s: acked, but the router did not change", what)
		}
		if row.frame["type"] == "leave" {
			// The ended frame may come before the ack or after it.
			if !slices.ContainsFunc(c.passed, func(f mxFrame) bool { return f.str("type") == "ended" }) {
				c.await(t, "ended", func(f mxFrame) bool { return f.str("type") == "ended" })
			}
			c.closed(t)
		}
		return
	}
	if got.str("type") != "error" || got.str("code") != row.want {
		t.Errorf("%s: answered %v; want error %s", what, got, row.want)
	}
	if !deepEqual(before, after) {
		t.Errorf("%s: answered %s %s, but the router changed:%s", what, got.str("type"), got.str("code"), stateDiff(before, after))
	}
}

// upgradeRow is the opening of a socket: who asks, for what. A refusal is
// the REST answer of the socket's URL; like names the id whose 404 this
// one must read exactly as (one that does not exist).
type upgradeRow struct {
	name string
	dial func(m *mxWorld) (path string, hdr http.Header, like string)
	want int
}

func citizenHeader(token string) http.Header { return http.Header{"X-Citizen-Token": {token}} }

func asSession(as string) func(m *mxWorld) http.Header {
	return func(m *mxWorld) http.Header { return bearerHeader(m.h.tokens[as]) }
}

// signedOut is the token of a session that was deleted (logged out).
func (m *mxWorld) signedOut(role, agency string) string {
	m.t.Helper()
	_, token := m.account(role, agency, nil)
	m.h.do(http.MethodDelete, "/v1/sessions/current", asAnon, nil, withToken(token)).wantStatus(m.t, http.StatusNoContent)
	return token
}

var upgradeTable = []upgradeRow{
	{"agent socket: an agent", func(m *mxWorld) (string, http.Header, string) {
		_, token := m.account(directory.RoleAgent, "gov110", nil)
		return "/v1/agent/ws", bearerHeader(token), ""
	}, http.StatusSwitchingProtocols},
	{"agent socket: no session", func(m *mxWorld) (string, http.Header, string) { return "/v1/agent/ws", nil, "" }, http.StatusUnauthorized},
	{"agent socket: a signed-out agent", func(m *mxWorld) (string, http.Header, string) {
		return "/v1/agent/ws", bearerHeader(m.signedOut(directory.RoleAgent, "gov110")), ""
	}, http.StatusUnauthorized},
	{"agent socket: a gateway", func(m *mxWorld) (string, http.Header, string) {
		return "/v1/agent/ws", asSession(asGateway)(m), ""
	}, http.StatusForbidden},
	{"agent socket: a supervisor", func(m *mxWorld) (string, http.Header, string) {
		return "/v1/agent/ws", asSession(asSup)(m), ""
	}, http.StatusForbidden},
	{"agent socket: an admin", func(m *mxWorld) (string, http.Header, string) {
		return "/v1/agent/ws", asSession(asAdmin)(m), ""
	}, http.StatusForbidden},

	{"gateway socket: a gateway", func(m *mxWorld) (string, http.Header, string) {
		_, token := m.account(directory.RoleGateway, "gov110", nil)
		return "/v1/gateway/ws", bearerHeader(token), ""
	}, http.StatusSwitchingProtocols},
	{"gateway socket: no session", func(m *mxWorld) (string, http.Header, string) { return "/v1/gateway/ws", nil, "" }, http.StatusUnauthorized},
	{"gateway socket: a signed-out gateway", func(m *mxWorld) (string, http.Header, string) {
		return "/v1/gateway/ws", bearerHeader(m.signedOut(directory.RoleGateway, "gov110")), ""
	}, http.StatusUnauthorized},
	{"gateway socket: an agent", func(m *mxWorld) (string, http.Header, string) {
		return "/v1/gateway/ws", asSession(asAgent)(m), ""
	}, http.StatusForbidden},

	{"citizen socket: the chat's citizen", func(m *mxWorld) (string, http.Header, string) {
		f := m.shared.fix[kChat]
		return "/v1/contacts/" + f.id + "/ws", citizenHeader(f.token), ""
	}, http.StatusSwitchingProtocols},
	{"citizen socket: the caller, on the transfer leg of their call", func(m *mxWorld) (string, http.Header, string) {
		f := m.shared.fix[kVoice]
		return "/v1/contacts/" + f.id + "/ws", citizenHeader(f.token), ""
	}, http.StatusSwitchingProtocols},
	{"citizen socket: the caller, on their ended first leg", func(m *mxWorld) (string, http.Header, string) {
		f := m.shared.fix[kEnded]
		return "/v1/contacts/" + f.id + "/ws", citizenHeader(f.token), ""
	}, http.StatusSwitchingProtocols},
	{"citizen socket: the citizen of another contact", func(m *mxWorld) (string, http.Header, string) {
		return "/v1/contacts/" + m.shared.fix[kChat].id + "/ws", citizenHeader(m.shared.fix[kWaiting].token), m.shared.fix[kMissing].id
	}, http.StatusNotFound},
	{"citizen socket: the chat's citizen, on the interpreter's leg of their case", func(m *mxWorld) (string, http.Header, string) {
		return "/v1/contacts/" + m.shared.fix[kLeg].id + "/ws", citizenHeader(m.shared.fix[kChat].token), m.shared.fix[kMissing].id
	}, http.StatusNotFound},
	{"citizen socket: the citizen of a contact whose case closed", func(m *mxWorld) (string, http.Header, string) {
		f := m.shared.fix[kClosed]
		return "/v1/contacts/" + f.id + "/ws", citizenHeader(f.token), m.shared.fix[kMissing].id
	}, http.StatusNotFound},
	{"citizen socket: a forged token", func(m *mxWorld) (string, http.Header, string) {
		return "/v1/contacts/" + m.shared.fix[kChat].id + "/ws", citizenHeader("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), m.shared.fix[kMissing].id
	}, http.StatusNotFound},
	{"citizen socket: a contact that does not exist", func(m *mxWorld) (string, http.Header, string) {
		return "/v1/contacts/" + m.shared.fix[kMissing].id + "/ws", citizenHeader(m.shared.fix[kChat].token), ""
	}, http.StatusNotFound},
	{"citizen socket: no token", func(m *mxWorld) (string, http.Header, string) {
		return "/v1/contacts/" + m.shared.fix[kChat].id + "/ws", nil, ""
	}, http.StatusUnauthorized},
	{"citizen socket: an agent's session, no token", func(m *mxWorld) (string, http.Header, string) {
		return "/v1/contacts/" + m.shared.fix[kChat].id + "/ws", asSession(asAgent)(m), ""
	}, http.StatusUnauthorized},
}

// upgrade opens a socket as the row says: 101, or the refusal's answer.
func (m *mxWorld) upgrade(path string, hdr http.Header) *response {
	m.t.Helper()
	c, resp, err := mxDial(wsURL(m.h, path), hdr, path)
	if err == nil {
		m.keep(c)
		c.await(m.t, "a first frame", func(mxFrame) bool { return true })
		return &response{method: http.MethodGet, path: path, status: http.StatusSwitchingProtocols}
	}
	if resp == nil {
		m.t.Fatalf("dial %s: %v", path, err)
	}
	body, _ := io.ReadAll(resp.Body)
	return &response{method: http.MethodGet, path: path, status: resp.StatusCode, header: resp.Header, body: body}
}

func (m *mxWorld) runUpgradeRow(t *testing.T, row upgradeRow) {
	m = m.on(t)
	path, hdr, like := row.dial(m)
	r := m.upgrade(path, hdr)
	if !r.wantStatus(t, row.want) || r.status == http.StatusSwitchingProtocols {
		return
	}
	code := map[int]string{http.StatusUnauthorized: codeUnauthorized, http.StatusForbidden: codeForbidden, http.StatusNotFound: codeNotFound}[r.status]
	if e, ok := strictError(t, r); ok && e.Code != code {
		t.Errorf("%s: code %q; want %q", r, e.Code, code)
	}
	if like == "" {
		return
	}
	id := strings.TrimSuffix(strings.TrimPrefix(path, "/v1/contacts/"), "/ws")
	other := m.upgrade("/v1/contacts/"+like+"/ws", hdr)
	if a, b := strings.ReplaceAll(string(r.body), id, "<id>"), strings.ReplaceAll(string(other.body), like, "<id>"); a != b {
		t.Errorf("%s: answered\n  %s\nbut about a contact that does not exist\n  %s", row.name, a, b)
	}
}

// TestSocketMatrix is the executable "who may send what" of docs/protocol.md:
// every frame of the three socket protocols, from every kind of principal,
// about every kind of id, on both backends.
func TestSocketMatrix(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		m := newMatrix(t, b)
		for _, row := range upgradeTable {
			t.Run("upgrade/"+row.name, func(t *testing.T) { m.runUpgradeRow(t, row) })
		}
		sockets := map[string]*mxConn{}
		for _, row := range citizenTable {
			t.Run("citizen/"+row.name+"/"+kindNames[row.kind], func(t *testing.T) { m.runCitizenRow(t, row, sockets) })
		}
		gateway := func(sc *mxScene, col int, _ mxKind) *mxConn { return sc.gw[col] }
		for _, row := range gatewayTable {
			t.Run("gateway/"+row.name+"/"+kindNames[row.kind], func(t *testing.T) { m.runRow(t, row, gatewayColNames[:], gateway) })
		}
		for _, row := range agentTable {
			t.Run("agent/"+row.name+"/"+kindNames[row.kind], func(t *testing.T) {
				m.runRow(t, row, agentColNames[:], (*mxScene).agent)
			})
		}
	})
}

// voiceRow is one of the voice endpoints against every principal: target
// makes the path (and the upload's body) for one principal, on a fresh
// fixture where the request would consume one.
type voiceRow struct {
	name   string
	method string
	target func(t *testing.T, h *recordingHarness, as string) (path string, body []byte)
	want   map[string]int
}

// voiceWho are the principals of the voice table: the own agency is
// gov110; asPIISup holds the pii permission; the admin and the
// supervisors hold the export permission, the agents do not;
// asOtherGateway is nts126's.
var voiceWho = []string{asAnon, asAdmin, asSup, asPIISup, asOtherSup, asAgent, asOtherAgent, asGateway, asOtherGateway}

func voiceCodes(admin, sup, piiSup, otherSup, agent, otherAgent, gateway, otherGateway int) map[string]int {
	return map[string]int{asAnon: http.StatusUnauthorized, asAdmin: admin, asSup: sup, asPIISup: piiSup, asOtherSup: otherSup,
		asAgent: agent, asOtherAgent: otherAgent, asGateway: gateway, asOtherGateway: otherGateway}
}

// TestVoiceEndpointMatrix is who may use the HTTP endpoints added for
// voice: the edge's recording upload, playback and download in review
// (and the transcript export beside it), and erasure; the refusals'
// codes, another agency's principals refused as for a case that does not
// exist, and an export without the export permission refused before that.
func TestVoiceEndpointMatrix(t *testing.T) {
	const (
		no401 = http.StatusUnauthorized
		no404 = http.StatusNotFound
	)
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newRecordingHarness(t, b)
		// One call of gov110 with a recording, for playback and download.
		c := h.call(t, "01055501234", "녹음 권한")
		h.answer(t, asAgent, c.ContactID)
		name := legName(c.CaseID, c.ContactID, clockStart)
		h.upload(c.ContactID, name, asGateway, wavOf(1)).wantStatus(t, http.StatusCreated)
		play := "/v1/cases/" + c.CaseID + "/recordings/" + name
		calls, eraser := 0, ""
		number := func() string { calls++; return fmt.Sprintf("0105560%04d", calls) }

		table := []voiceRow{
			{"upload a leg's recording", http.MethodPut, func(t *testing.T, h *recordingHarness, _ string) (string, []byte) {
				fresh := h.call(t, number(), "업로드")
				h.answer(t, h.newDeskAgent(t), fresh.ContactID)
				return "/v1/contacts/" + fresh.ContactID + "/recordings/" + legName(fresh.CaseID, fresh.ContactID, clockStart), wavOf(1)
			}, voiceCodes(no403, no403, no403, no403, no403, no403, new201, no404)},
			{"play a recording", http.MethodGet, func(*testing.T, *recordingHarness, string) (string, []byte) { return play, nil },
				voiceCodes(no403, no403, ok200, no404, no403, no404, no403, no403)},
			// A download is an export: the agents, who lack the export
			// permission, are refused before the case is looked at.
			{"download a recording", http.MethodGet, func(*testing.T, *recordingHarness, string) (string, []byte) {
				return play + "?download=1&reason=" + "complaint+review", nil
			}, voiceCodes(no403, no403, ok200, no404, no403, no403, no403, no403)},
			{"export the call's transcript", http.MethodGet, func(*testing.T, *recordingHarness, string) (string, []byte) {
				return "/v1/transcripts/" + c.CaseID + "/export?format=txt&reason=" + "complaint+review", nil
			}, voiceCodes(ok200, ok200, ok200, no404, no403, no403, no403, no403)},
			{"erase a closed case", http.MethodDelete, func(t *testing.T, h *recordingHarness, _ string) (string, []byte) {
				closed := h.call(t, number(), "지울 통화")
				if eraser == "" { // one agent, free again after each call
					eraser = h.newDeskAgent(t)
				}
				h.serve(t, h.j, eraser, closed, "", "resolved", "끝")
				return "/v1/transcripts/" + closed.CaseID + "?reason=erasure+request", nil
			}, voiceCodes(gone204, no403, no403, no403, no403, no403, no403, no403)},
		}
		for _, row := range table {
			t.Run(row.name, func(t *testing.T) {
				h := &recordingHarness{harness: h.on(t), j: h.j, dir: h.dir, rv: h.rv}
				for _, as := range voiceWho {
					want, ok := row.want[as]
					if !ok {
						t.Fatalf("row has no expectation for %s", who(as))
					}
					path, body := row.target(t, h, as)
					var opts []reqOpt
					var payload any
					if body != nil {
						payload, opts = rawBody(body), []reqOpt{withHeader("Content-Type", "audio/wav")}
					}
					r := h.do(row.method, path, as, payload, opts...)
					switch want {
					case no401:
						r.wantError(t, want, codeUnauthorized, "")
					case no403:
						r.wantError(t, want, codeForbidden, "")
					case no404:
						r.wantError(t, want, codeNotFound, "")
					default:
						r.wantStatus(t, want)
					}
				}
			})
		}
	})
}
