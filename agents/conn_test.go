package agents

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"tellonce/clocktest"
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
