package agents

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"tellonce/clocktest"
	"tellonce/router"
)

// writerRunning reports whether the agent's socket has a writer now.
func (e *env) writerRunning(agent string) bool {
	e.hub.mu.Lock()
	c := e.hub.agents[agent]
	e.hub.mu.Unlock()
	if c == nil {
		e.t.Fatalf("%s has no socket", agent)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.writing
}

// An idle socket costs its reader only: the writer runs while there is
// something to send and ends when the queue is empty, and starts again
// for the next frame.
func TestIdleSocketHasNoWriter(t *testing.T) {
	e := newEnv(t)
	kim, _ := e.agent("kim")
	clocktest.Eventually(t, "the writer ends once hello is out", waitFor, func() bool { return !e.writerRunning("kim") })
	kim.ok(map[string]any{"type": "state", "state": "available"})
	clocktest.Eventually(t, "the writer ends once the ack is out", waitFor, func() bool { return !e.writerRunning("kim") })
}

// The HTTP handler returns once the socket is up: the socket's reader
// runs on a goroutine of its own, so the server's per-request state is not
// kept for the socket's life; the socket keeps working.
func TestHandlerReturnsWhileTheSocketLives(t *testing.T) {
	e := newEnv(t)
	returned := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /agent/{user}", func(w http.ResponseWriter, r *http.Request) {
		defer close(returned)
		e.hub.ServeAgent(w, r, loginOf(r, "agent"))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/agent/kim?agency=gov", http.Header{"Origin": {allowedOrigin}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	select {
	case <-returned:
	case <-time.After(waitFor):
		t.Fatal("the handler still runs while its socket is open")
	}
	_ = ws.SetReadDeadline(time.Now().Add(waitFor))
	if _, data, err := ws.ReadMessage(); err != nil || !strings.Contains(string(data), `"hello"`) {
		t.Fatalf("read hello: %v %.80s", err, data)
	}
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"state","id":"s1","state":"available"}`)); err != nil {
		t.Fatal(err)
	}
	for { // the ack, after the state event
		_, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("read the ack: %v", err)
		}
		if strings.Contains(string(data), `"ack"`) {
			break
		}
	}
}

// Pings go out on an idle socket, each waking a writer that then ends;
// the client's pongs keep the socket open.
func TestIdleSocketIsPinged(t *testing.T) {
	// PongWait stays long: a loaded machine may be slow to answer a ping.
	e := newEnv(t, func(c *Config) { c.PingInterval, c.PongWait = 10*time.Millisecond, time.Minute })
	ws, _, err := e.dialRaw("/agent/kim?agency=gov")
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	var pings atomic.Int64
	ws.SetPingHandler(func(data string) error {
		pings.Add(1)
		return ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	var ended atomic.Bool
	go func() {
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				ended.Store(true)
				return
			}
		}
	}()
	clocktest.Eventually(t, "pings on an idle socket", 20*waitFor, func() bool { return pings.Load() >= 5 || ended.Load() })
	if ended.Load() {
		t.Fatalf("the socket ended after %d pings although every ping was answered", pings.Load())
	}
	if n := e.connCount(); n != 1 {
		t.Fatalf("%d connections registered; want 1", n)
	}
}

// A socket that answers no ping is closed once PongWait has passed since
// its last pong (or since it opened), with a normal close; one that
// answers stays open meanwhile.
func TestSilentSocketIsClosed(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.PingInterval, c.PongWait = 50*time.Millisecond, 2*time.Second })
	// Taken before the dial: the server's first read deadline starts
	// while the dial is still returning, so a clock started after it
	// would see the close a moment early.
	opened := time.Now()
	silent, _, err := e.dialRaw("/agent/kim?agency=gov")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	silent.SetPingHandler(func(string) error { return nil }) // no pong
	answering, _, err := e.dialRaw("/agent/lee?agency=gov")
	if err != nil {
		t.Fatal(err)
	}
	defer answering.Close()
	var pongs atomic.Int64
	answering.SetPingHandler(func(data string) error {
		pongs.Add(1)
		return answering.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	ended := make(chan error, 2)
	var answeringEnded atomic.Bool
	go func() {
		for {
			if _, _, err := silent.ReadMessage(); err != nil {
				ended <- err
				return
			}
		}
	}()
	go func() {
		for {
			if _, _, err := answering.ReadMessage(); err != nil {
				answeringEnded.Store(true)
				return
			}
		}
	}()
	select {
	case err := <-ended:
		if took := time.Since(opened); took < 2*time.Second {
			t.Errorf("the silent socket closed after %v; want PongWait (2s) at least", took)
		}
		if !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
			t.Errorf("the silent socket ended with %v; want a normal close", err)
		}
	case <-time.After(20 * waitFor):
		t.Fatal("a socket that answers no ping is still open")
	}
	// The answering socket outlives a PongWait and more by its pongs.
	clocktest.Eventually(t, "pongs past PongWait", 20*waitFor, func() bool {
		return pongs.Load() >= 60 && time.Since(opened) > 3*time.Second || answeringEnded.Load()
	})
	if answeringEnded.Load() {
		t.Fatalf("the socket that answered %d pings was closed", pongs.Load())
	}
}

// A socket cut as too slow is let go at once, not once the write its
// writer is blocked in times out: with a WriteTimeout of an hour, the
// slow agent is disconnected well within the wait, while the others
// keep being served. The client never reads and has a small receive
// buffer, so the writer soon blocks on a full socket; a send buffer of
// 2,048 frames fills only while it is blocked (a running writer takes
// each batch as it comes).
func TestCutSocketIsReleasedAtOnce(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.SendBuffer = 2048; c.WriteTimeout = time.Hour })
	d := websocket.Dialer{NetDialContext: (&net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		}); err != nil {
			return err
		}
		return serr
	}}).DialContext}
	slow, _, err := d.Dial(e.url("/agent/kim"), http.Header{"Origin": {allowedOrigin}}) // never reads
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	clocktest.Eventually(t, "kim connected", waitFor, func() bool { return e.agentView("kim").Connected })
	lee, _ := e.agent("lee")
	big := strings.Repeat("x", 4000)
	for i := uint64(0); e.hub.Stats().SlowClientsCut == 0; i++ {
		if i > 1_000_000 {
			t.Fatal("a client that never reads was never cut")
		}
		e.hub.Deliver([]router.Event{{Seq: 1<<40 + i, Type: router.EventMessage, ContactID: "ct-x",
			CaseID: "cs-x", Agent: "kim", Actor: "citizen:x", Text: big, At: t0}})
	}
	clocktest.Eventually(t, "the cut agent's socket released", waitFor, func() bool { return e.connCount() == 1 })
	if e.agentView("kim").Connected {
		t.Error("the cut agent is still connected in the router")
	}
	lee.ok(map[string]any{"type": "state", "state": "break"})
}

// Pings are spread over the interval: a new socket's first one anywhere
// in it, the next ones up to a tenth early, never late.
func TestPingsAreSpread(t *testing.T) {
	const interval = 25 * time.Second
	lo, hi := time.Duration(1<<62), time.Duration(0)
	nlo, nhi := lo, hi
	for range 1000 {
		f, n := firstPing(interval), nextPing(interval)
		if f < interval/10 || f > interval {
			t.Fatalf("first ping after %s; want within the interval of %s", f, interval)
		}
		if n < interval*9/10 || n > interval {
			t.Fatalf("next ping after %s; want 90-100%% of %s", n, interval)
		}
		lo, hi, nlo, nhi = min(lo, f), max(hi, f), min(nlo, n), max(nhi, n)
	}
	if hi-lo < interval/2 {
		t.Errorf("1,000 first pings within %s of each other; want them spread over the interval", hi-lo)
	}
	if nhi-nlo < interval/20 {
		t.Errorf("1,000 next pings within %s of each other; want them spread over a tenth of the interval", nhi-nlo)
	}
}
