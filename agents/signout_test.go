package agents

import (
	"context"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"tellonce/auth"
	"tellonce/clocktest"
	"tellonce/router"
)

// signedOutWithin is how soon a socket must close once its login ended.
const signedOutWithin = time.Second

// wantSignedOut waits for the server to close c with CloseSignedOut and a
// "signed out" reason within signedOutWithin of since.
func wantSignedOut(t *testing.T, c *client, since time.Time) {
	t.Helper()
	ce := c.closed()
	took := time.Since(since)
	switch {
	case ce == nil:
		t.Errorf("%s ended without a close frame (%v); want %d signed out", c.name, c.err, CloseSignedOut)
	case ce.Code != CloseSignedOut || !strings.HasPrefix(ce.Text, "signed out"):
		t.Errorf("%s closed with %d %q; want %d \"signed out…\"", c.name, ce.Code, ce.Text, CloseSignedOut)
	}
	if took > signedOutWithin {
		t.Errorf("%s closed %v after its login ended; want within %v", c.name, took, signedOutWithin)
	}
}

// wantOpen proves c still works by a round trip: an agent sets their
// state, a gateway hears not_found for a contact that does not exist.
func wantOpen(t *testing.T, c *client) {
	t.Helper()
	if strings.HasPrefix(c.name, "/agent/") {
		c.ok(map[string]any{"type": "state", "state": "offline"})
		return
	}
	if f := c.call(map[string]any{"type": "hangup", "contact_id": "ct-probe"}); f.str("code") != CodeNotFound {
		t.Errorf("%s: probe answered %v; want not_found", c.name, f)
	}
}

func TestSignOutClosesTheUsersSockets(t *testing.T) {
	e := newEnv(t)
	kim, _ := e.agent("kim?session=s1")
	lee, _ := e.agent("lee?session=s2")
	gw1 := e.gateway("/gateway/gw?agency=gov&session=s3")
	gw2 := e.gateway("/gateway/gw?agency=gov&session=s4")
	other := e.gateway("/gateway/gw-tax?agency=tax&session=s5")

	start := time.Now()
	e.hub.SignOut("kim", "user changed")
	wantSignedOut(t, kim, start)
	start = time.Now()
	e.hub.SignOut("gw", "user deleted")
	wantSignedOut(t, gw1, start)
	wantSignedOut(t, gw2, start)
	for _, c := range []*client{lee, other} {
		wantOpen(t, c)
	}
	clocktest.Eventually(t, "kim's socket unregistered", waitFor, func() bool { return !e.agentView("kim").Connected })
}

func TestEndSessionClosesThatSessionsSocketsOnly(t *testing.T) {
	e := newEnv(t)
	kim, _ := e.agent("kim?session=s1")
	gw1 := e.gateway("/gateway/gw?agency=gov&session=s1")
	gw2 := e.gateway("/gateway/gw?agency=gov&session=s2")
	lee, _ := e.agent("lee") // no session: nothing ends it

	e.hub.EndSession("s2")
	wantSignedOut(t, gw2, time.Now())
	wantOpen(t, gw1)
	wantOpen(t, kim)
	e.hub.EndSession("")
	start := time.Now()
	e.hub.EndSession("s1")
	wantSignedOut(t, kim, start)
	wantSignedOut(t, gw1, start)
	wantOpen(t, lee)
}

// A socket closes once its session has expired, by the session store's
// clock; one whose session lasts longer, or has no expiry, stays.
func TestExpiredSessionsSocketsClose(t *testing.T) {
	sessions := clocktest.New(t0) // the session store's clock
	e := newEnv(t, func(c *Config) { c.Now = sessions.Now })
	soon := t0.Add(time.Hour).Format(time.RFC3339)
	later := t0.Add(time.Hour + time.Second).Format(time.RFC3339)
	kim, _ := e.agent("kim?session=s1&expires=" + soon)
	gw := e.gateway("/gateway/gw?agency=gov&session=s1&expires=" + soon)
	lee, _ := e.agent("lee?session=s2&expires=" + later)
	park, _ := e.agent("park") // no expiry

	sessions.Advance(time.Hour)
	start := time.Now()
	wantSignedOut(t, kim, start)
	wantSignedOut(t, gw, start)
	for _, c := range []*client{lee, park} {
		wantOpen(t, c)
	}
}

// fakeSessions stands in for the session store that the hub re-checks
// open sockets against.
type fakeSessions struct {
	mu    sync.Mutex
	live  map[string]auth.Principal // by session id
	err   error
	calls [][]string // the ids of each Unchanged
	reads int        // Current calls
}

func (s *fakeSessions) Unchanged(_ context.Context, grant auth.Principal, ids []string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, slices.Clone(ids))
	if s.err != nil {
		return false, s.err
	}
	for _, id := range ids {
		p, ok := s.live[id]
		if !ok || p.Role != grant.Role || p.Agency != grant.Agency || p.PII != grant.PII || p.Export != grant.Export {
			return false, nil
		}
	}
	return true, nil
}

func (s *fakeSessions) Current(_ context.Context, ids []string) (map[string]auth.Principal, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	if s.err != nil {
		return nil, s.err
	}
	out := map[string]auth.Principal{}
	for _, id := range ids {
		if p, ok := s.live[id]; ok {
			out[id] = p
		}
	}
	return out, nil
}

func (s *fakeSessions) set(f func(live map[string]auth.Principal)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s.live)
}

// checked waits until the store has been asked whether the sessions ids
// are unchanged, and about no others, since calls was last emptied.
func (s *fakeSessions) checked(t *testing.T, ids ...string) {
	t.Helper()
	slices.Sort(ids)
	clocktest.Eventually(t, "one re-check of every open socket's session", waitFor, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		asked := []string{}
		for _, c := range s.calls {
			asked = append(asked, c...)
		}
		slices.Sort(asked)
		return slices.Equal(slices.Compact(asked), ids)
	})
}

// The periodic re-check closes the sockets whose session is gone or whose
// user's role, agency or permissions differ from what the socket was
// opened with; while nothing changed it reads no session back, only asks
// whether they are unchanged; a store that cannot answer leaves the
// sockets open.
func TestSessionRecheck(t *testing.T) {
	store := &fakeSessions{live: map[string]auth.Principal{
		"s-kim":  {Username: "kim", Role: "agent", SessionID: "s-kim"},
		"s-lee":  {Username: "lee", Role: "agent", SessionID: "s-lee"},
		"s-park": {Username: "park", Role: "agent", SessionID: "s-park"},
		"s-choi": {Username: "choi", Role: "agent", SessionID: "s-choi"},
		"s-gw":   {Username: "gw", Role: "gateway", Agency: "gov", SessionID: "s-gw"},
		"s-gw2":  {Username: "gw2", Role: "gateway", Agency: "gov", SessionID: "s-gw2"},
	}}
	e := newEnv(t, func(c *Config) { c.Sessions, c.SessionCheck = store, 20*time.Millisecond })
	kim, _ := e.agent("kim?session=s-kim")
	lee, _ := e.agent("lee?session=s-lee")
	park, _ := e.agent("park?session=s-park")
	if _, err := e.r.UpsertAgent(router.AgentProfile{Username: "choi", Name: "Choi Yuna", Agency: "gov", Queues: map[string]int{"gov.general": 1}, MaxChats: 3}); err != nil {
		t.Fatal(err)
	}
	choi, _ := e.agent("choi?session=s-choi")
	gw := e.gateway("/gateway/gw?agency=gov&session=s-gw")
	gw2 := e.gateway("/gateway/gw2?agency=gov&session=s-gw2")
	citizen := e.dial("/citizen/" + e.enqueue(router.EnqueueRequest{Caller: caller("c1")}).ID)
	citizen.expectNext("queued")
	store.checked(t, "s-kim", "s-lee", "s-park", "s-choi", "s-gw", "s-gw2")
	store.mu.Lock()
	if store.reads != 0 {
		t.Errorf("nothing changed, yet sessions were read back %d times", store.reads)
	}
	store.mu.Unlock()

	store.mu.Lock()
	store.err = errors.New("database unreachable")
	store.calls = nil
	delete(store.live, "s-kim")
	store.mu.Unlock()
	store.checked(t, "s-kim", "s-lee", "s-park", "s-choi", "s-gw", "s-gw2")
	wantOpen(t, kim) // the store did not answer: nothing is known to have ended

	store.set(func(live map[string]auth.Principal) {
		lee := live["s-lee"]
		lee.PII = true
		live["s-lee"] = lee
		choi := live["s-choi"]
		choi.Export = true
		live["s-choi"] = choi
		gw := live["s-gw"]
		gw.Agency = "tax"
		live["s-gw"] = gw
		park := live["s-park"]
		park.Name = "Park Sora-kim" // a new name changes nothing the socket may do
		live["s-park"] = park
		gw2 := live["s-gw2"]
		gw2.Role = "supervisor"
		live["s-gw2"] = gw2
	})
	store.mu.Lock()
	store.err = nil
	store.mu.Unlock()
	start := time.Now()
	for _, c := range []*client{kim, lee, choi, gw, gw2} {
		wantSignedOut(t, c, start)
	}
	wantOpen(t, park)
	if f := citizen.call(map[string]any{"type": "say", "text": ""}); f.str("code") != CodeValidation {
		t.Errorf("citizen's probe answered %v; want validation: citizens have no login to check", f)
	}
}

// One session behind sockets opened with different grants (its user
// changed between the two): the re-check closes the one whose grant the
// session no longer has, and only that one.
func TestSessionRecheckOneSessionTwoGrants(t *testing.T) {
	store := &fakeSessions{live: map[string]auth.Principal{
		"s-x": {Username: "kim", Role: "gateway", Agency: "gov", SessionID: "s-x"},
	}}
	e := newEnv(t, func(c *Config) { c.Sessions, c.SessionCheck = store, 20*time.Millisecond })
	kim, _ := e.agent("kim?session=s-x") // opened as an agent, before the change
	gw := e.gateway("/gateway/kim?agency=gov&session=s-x")
	start := time.Now()
	wantSignedOut(t, kim, start)
	wantOpen(t, gw)
}

// sendTogether writes frames to c's socket in one write, so that the
// server reads them in one go: while it handles the first, the others
// wait in its read buffer, where closing the socket does not reach them.
func (c *client) sendTogether(frames ...string) {
	c.t.Helper()
	var b []byte
	for _, f := range frames {
		if len(f) > 125 {
			c.t.Fatalf("sendTogether: frame of %d bytes; at most 125", len(f))
		}
		// FIN and text; masked, with a zero key: the payload goes as it is.
		b = append(b, 0x81, 0x80|byte(len(f)), 0, 0, 0, 0)
		b = append(b, f...)
	}
	if _, err := c.ws.NetConn().Write(b); err != nil {
		c.t.Fatalf("%s: send: %v", c.name, err)
	}
}

// Once a socket is signed out, nothing it sent and the router has not yet
// applied is applied or acknowledged, even frames the server had already
// read: the second frame below reaches the server before the logout and
// waits behind the first, whose durability wait the test holds open.
func TestFramesAfterSignOutAreNotApplied(t *testing.T) {
	hold := func(e *env) (entered chan uint64, release func()) {
		gate := make(chan struct{})
		entered = make(chan uint64, 1)
		e.dur.mu.Lock()
		e.dur.gate, e.dur.entered = gate, entered
		e.dur.mu.Unlock()
		return entered, func() { close(gate) }
	}
	awaitEntered := func(t *testing.T, entered chan uint64) {
		t.Helper()
		select {
		case <-entered:
		case <-time.After(waitFor):
			t.Fatal("the first frame never waited for durability")
		}
	}

	t.Run("agent", func(t *testing.T) {
		e := newEnv(t)
		kim, _ := e.agent("kim?session=s1")
		entered, release := hold(e)
		kim.sendTogether(`{"type":"state","state":"available","id":"a"}`,
			`{"type":"state","state":"break","reason":"lunch","id":"b"}`)
		awaitEntered(t, entered) // the first is applied; the second waits behind it
		start := time.Now()
		e.hub.EndSession("s1")
		wantSignedOut(t, kim, start)
		release()
		clocktest.Eventually(t, "kim's socket finished", waitFor, func() bool { return e.connCount() == 0 })
		if st := e.agentView("kim").State; st != router.StateAvailable {
			t.Errorf("kim is %s; want available: the frame after the logout was applied", st)
		}
		if kim.received("ack") {
			t.Error("a signed-out socket got an ack")
		}
	})

	t.Run("gateway", func(t *testing.T) {
		e := newEnv(t)
		cv := e.enqueue(router.EnqueueRequest{Channel: router.ChannelVoice, Caller: caller("01012345678")})
		gw := e.gateway("/gateway/gw?agency=gov&session=s1")
		entered, release := hold(e)
		gw.sendTogether(`{"type":"transcript","contact_id":"`+cv.ID+`","speaker":"citizen","text":"여보세요","id":"a"}`,
			`{"type":"hangup","contact_id":"`+cv.ID+`","id":"b"}`)
		awaitEntered(t, entered)
		start := time.Now()
		e.hub.SignOut("gw", "user deleted")
		wantSignedOut(t, gw, start)
		release()
		clocktest.Eventually(t, "the gateway's socket finished", waitFor, func() bool { return e.connCount() == 0 })
		if got, err := e.r.Peek(cv.ID); err != nil || got.Status != router.StatusQueued {
			t.Errorf("call after the sign-out: status %q, err %v; want still queued: the hangup after it was applied", got.Status, err)
		}
		if gw.received("ack") {
			t.Error("a signed-out socket got an ack")
		}
	})
}

// timedSessions records when each re-check query came and how many ids
// it asked about; every session holds.
type timedSessions struct {
	mu    sync.Mutex
	asked []int
	at    []time.Time
}

func (s *timedSessions) Unchanged(_ context.Context, _ auth.Principal, ids []string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked, s.at = append(s.asked, len(ids)), append(s.at, time.Now())
	return true, nil
}

func (s *timedSessions) Current(context.Context, []string) (map[string]auth.Principal, error) {
	return nil, errors.New("not asked while every session holds")
}

// A re-check of many sockets' sessions is spread over half the interval,
// sessionsPerCheck ids a query, rather than asked in one burst that the
// offers under way would wait behind.
func TestSessionRecheckIsPaced(t *testing.T) {
	const sockets, check = 3*sessionsPerCheck - 100, 600 * time.Millisecond
	store := &timedSessions{}
	e := newEnv(t, func(c *Config) { c.Sessions, c.SessionCheck = store, check })
	// Stand-ins for open agent sockets: the re-check reads only their login.
	fakes := make([]*conn, sockets)
	e.hub.mu.Lock()
	for i := range fakes {
		id := "s-" + strconv.Itoa(i)
		fakes[i] = &conn{hub: e.hub, kind: kindAgent, login: auth.Principal{Role: "agent", SessionID: id}}
		e.hub.conns[fakes[i]] = struct{}{}
	}
	e.hub.mu.Unlock()
	t.Cleanup(func() {
		e.hub.mu.Lock()
		for _, c := range fakes {
			delete(e.hub.conns, c)
		}
		e.hub.mu.Unlock()
	})
	clocktest.Eventually(t, "a whole round of re-checks", 20*waitFor, func() bool {
		store.mu.Lock()
		defer store.mu.Unlock()
		return len(store.asked) >= 3
	})
	store.mu.Lock()
	defer store.mu.Unlock()
	for i, n := range store.asked[:3] {
		if n > sessionsPerCheck {
			t.Errorf("query %d asked about %d sessions; want at most %d", i, n, sessionsPerCheck)
		}
	}
	if total := store.asked[0] + store.asked[1] + store.asked[2]; total != sockets {
		t.Errorf("the first round asked about %d sessions; want %d", total, sockets)
	}
	// Waits only ever come out longer, so a lower bound holds on any machine.
	if gap := store.at[2].Sub(store.at[0]); gap < check/2*2/3 {
		t.Errorf("a round's three queries came within %s; want them spread over %s", gap, check/2)
	}
}

// A signed-out client that still sends — a frame sent before it read the
// close frame, as a desk answering its hello does, then its answer to the
// close — is read, not reset: the server shuts its side of the socket
// after the close frame and reads on until that answer. A socket closed
// outright answers such frames with a reset, and a browser that meets the
// reset before it has read the close frame reports an abnormal close
// (1006) rather than CloseSignedOut: the desk then reconnects instead of
// saying the login ended.
func TestSignedOutClientIsNotReset(t *testing.T) {
	e := newEnv(t)
	ws, _, err := e.dialRaw("/agent/kim?session=s1")
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = ws.Close() })
	_ = ws.SetReadDeadline(time.Now().Add(waitFor))
	if _, hello, err := ws.ReadMessage(); err != nil || !strings.Contains(string(hello), `"type":"hello"`) {
		t.Fatalf("first frame %s, %v; want hello", hello, err)
	}
	ws.SetCloseHandler(func(int, string) error { return nil }) // the test answers by hand, later

	e.hub.EndSession("s1")
	var ce *websocket.CloseError
	if _, _, err := ws.ReadMessage(); !errors.As(err, &ce) || ce.Code != CloseSignedOut {
		t.Fatalf("after the logout: %v; want close %d", err, CloseSignedOut)
	}
	raw := ws.NetConn()
	if n, err := raw.Read(make([]byte, 16)); n != 0 || err != io.EOF {
		t.Fatalf("after the close frame: %d bytes, %v; want the end of the stream", n, err)
	}
	// Only now, with the server's side ended, does the client write: a
	// frame, then its close frame (masked with a zero key, code 4003).
	state := `{"type":"state","state":"break","reason":"lunch","id":"b"}`
	frames := append([]byte{0x81, 0x80 | byte(len(state)), 0, 0, 0, 0}, state...)
	frames = append(frames, 0x88, 0x80|2, 0, 0, 0, 0, byte(CloseSignedOut>>8), byte(CloseSignedOut&0xff))
	for i, b := range [][]byte{frames[:len(frames)-8], frames[len(frames)-8:]} {
		if _, err := raw.Write(b); err != nil {
			t.Fatalf("write %d after the server's close frame: %v; want it read, not the socket reset", i+1, err)
		}
	}
	if n, err := raw.Read(make([]byte, 16)); n != 0 || err != io.EOF {
		t.Errorf("reading on: %d bytes, %v; want the end of the stream, not a reset", n, err)
	}
	clocktest.Eventually(t, "kim's socket finished on the client's answer", waitFor, func() bool { return e.connCount() == 0 })
	if st := e.agentView("kim").State; st == router.StateBreak {
		t.Error("a frame after the logout was applied")
	}
}
