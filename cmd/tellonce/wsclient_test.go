package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"tellonce/relay"
)

// This file is the WebSocket side of the end-to-end tests: a client that
// reads every frame on its own goroutine (so the server never sees it as a
// slow reader unless a test wants that), records them, and lets a test
// send a frame and wait for its ack, or wait for a frame of some type while
// the unrelated ones stay queued for later waits.

// waitTime bounds every wait for a frame or a condition. Nothing sleeps to
// synchronise: waits end as soon as what they wait for arrives.
const waitTime = 15 * time.Second

// obj is a client frame or a JSON body.
type obj = map[string]any

// frame is one server frame: its type, its bytes and the decoded object.
type frame struct {
	Type string
	Raw  []byte
	m    map[string]any
	at   time.Time // when the client read it
}

func parseFrame(data []byte) frame {
	f := frame{Raw: data, at: time.Now()}
	if err := json.Unmarshal(data, &f.m); err == nil {
		f.Type, _ = f.m["type"].(string)
	}
	return f
}

// get walks nested objects: f.get("contact", "contact_id").
func (f frame) get(path ...string) any {
	var v any = f.m
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

// str is get as a string; numbers are formatted, anything else is "".
func (f frame) str(path ...string) string {
	switch v := f.get(path...).(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	}
	return ""
}

// list is get as a list.
func (f frame) list(path ...string) []any {
	l, _ := f.get(path...).([]any)
	return l
}

// decode unmarshals the frame (or a part of it, by path) into v.
func (f frame) decode(v any, path ...string) error {
	if len(path) == 0 {
		return json.Unmarshal(f.Raw, v)
	}
	b, err := json.Marshal(f.get(path...))
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func (f frame) String() string { return string(f.Raw) }

// frameError is an error frame answering a client frame.
type frameError struct {
	Code, Message, Field string
}

func (e *frameError) Error() string {
	return fmt.Sprintf("error frame %s: %s (field %q)", e.Code, e.Message, e.Field)
}

// wsClient is one WebSocket session of an agent, a citizen or a gateway.
type wsClient struct {
	name string
	ws   *websocket.Conn
	ids  atomic.Uint64

	wmu sync.Mutex // one writer at a time

	mu        sync.Mutex
	signal    chan struct{} // closed (and replaced) when a frame arrives or reading ends
	backlog   []frame       // read but not yet taken by a wait
	all       []frame       // every frame read, for "never saw" checks
	err       error         // why reading ended
	closeCode int           // the close code the server sent, if any
	done      chan struct{} // closed when reading has ended
	resume    chan struct{} // non-nil while paused: reading waits for it to close
}

// dial opens a socket; header carries the bearer token where one is
// needed. The returned client is closed when the test ends.
func dial(t testing.TB, name, url string, header http.Header) *wsClient {
	t.Helper()
	c, resp, err := dialErr(name, url, header)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("%s: dial %s: %v (HTTP %d)", name, url, err, status)
	}
	t.Cleanup(c.Close)
	return c
}

func dialErr(name, url string, header http.Header) (*wsClient, *http.Response, error) {
	return dialWith(websocket.Dialer{HandshakeTimeout: waitTime}, name, url, header)
}

// smallReceiveBuffer is a dialer whose sockets have a receive buffer as
// small as the kernel allows, so that a paused client stops taking data at
// once and what the server sends piles up on the server's side.
var smallReceiveBuffer = websocket.Dialer{HandshakeTimeout: waitTime,
	NetDialContext: (&net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 1024)
		})
		if err != nil {
			return err
		}
		return serr
	}}).DialContext}

func dialWith(d websocket.Dialer, name, url string, header http.Header) (*wsClient, *http.Response, error) {
	ws, resp, err := d.Dial(url, header)
	if err != nil {
		return nil, resp, err
	}
	return newWSClient(name, ws), resp, nil
}

func newWSClient(name string, ws *websocket.Conn) *wsClient {
	c := &wsClient{name: name, ws: ws, signal: make(chan struct{}), done: make(chan struct{})}
	go c.read()
	return c
}

func (c *wsClient) read() {
	defer close(c.done)
	for {
		c.mu.Lock()
		resume := c.resume
		c.mu.Unlock()
		if resume != nil {
			<-resume
		}
		_, data, err := c.ws.ReadMessage()
		c.mu.Lock()
		if err != nil {
			c.err = err
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				c.closeCode = ce.Code
			}
		} else {
			f := parseFrame(data)
			c.backlog = append(c.backlog, f)
			c.all = append(c.all, f)
		}
		close(c.signal)
		c.signal = make(chan struct{})
		c.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// retryHint is the wait the server asked for when it closed the socket
// with 4503 ("unavailable; retry in N ms": it cannot serve yet), or 0.
func (c *wsClient) retryHint() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ce *websocket.CloseError
	var ms int64
	if !errors.As(c.err, &ce) || ce.Code != relay.CloseRetry {
		return 0
	}
	if _, err := fmt.Sscanf(ce.Text, "unavailable; retry in %d ms", &ms); err != nil {
		return 0
	}
	return time.Duration(ms) * time.Millisecond
}

// closed reports whether reading has ended (the socket is gone).
func (c *wsClient) closed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// Pause stops reading (after the frame being read, if any), as a client
// whose tab froze would; what the server sends piles up in the network
// and in the server's buffers. Resume reads on.
func (c *wsClient) Pause() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.resume == nil {
		c.resume = make(chan struct{})
	}
}

// Resume undoes Pause.
func (c *wsClient) Resume() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.resume != nil {
		close(c.resume)
		c.resume = nil
	}
}

// Close ends the session with a normal close frame.
func (c *wsClient) Close() {
	c.wmu.Lock()
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""),
		time.Now().Add(time.Second))
	c.wmu.Unlock()
	c.Resume()
	_ = c.ws.Close()
}

// Drop cuts the TCP connection without a close frame, as a crashed
// browser or a lost network would.
func (c *wsClient) Drop() { _ = c.ws.NetConn().Close() }

// SendRaw writes bytes as one text frame.
func (c *wsClient) SendRaw(data []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.ws.SetWriteDeadline(time.Now().Add(waitTime)); err != nil {
		return err
	}
	return c.ws.WriteMessage(websocket.TextMessage, data)
}

// Send writes f with a fresh id and waits for its answer: the ack, or a
// *frameError for an error frame.
func (c *wsClient) Send(f obj) (frame, error) {
	return c.SendWithin(f, waitTime)
}

// SendWithin is Send with its own bound on the wait for the answer.
func (c *wsClient) SendWithin(f obj, timeout time.Duration) (frame, error) {
	id := c.name + "-" + strconv.FormatUint(c.ids.Add(1), 10)
	g := make(obj, len(f)+1)
	for k, v := range f {
		g[k] = v
	}
	g["id"] = id
	data, err := json.Marshal(g)
	if err != nil {
		return frame{}, err
	}
	if err := c.SendRaw(data); err != nil {
		return frame{}, fmt.Errorf("%s: send %s: %w", c.name, data, err)
	}
	ans, err := c.AwaitFunc("answer to "+id, timeout, func(a frame) bool {
		return (a.Type == "ack" || a.Type == "error") && a.str("ref") == id
	})
	if err != nil {
		return frame{}, err
	}
	if ans.Type == "error" {
		return ans, &frameError{Code: ans.str("code"), Message: ans.str("message"), Field: ans.str("field")}
	}
	return ans, nil
}

// Await waits for the next frame of the type; frames of other types stay
// queued for later waits.
func (c *wsClient) Await(typ string, timeout time.Duration) (frame, error) {
	return c.AwaitFunc(typ, timeout, func(f frame) bool { return f.Type == typ })
}

// AwaitFunc waits for the first queued or arriving frame that match
// accepts and takes it out of the queue.
func (c *wsClient) AwaitFunc(what string, timeout time.Duration, match func(frame) bool) (frame, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		for i, f := range c.backlog {
			if match(f) {
				c.backlog = append(c.backlog[:i:i], c.backlog[i+1:]...)
				c.mu.Unlock()
				return f, nil
			}
		}
		if c.err != nil {
			err := fmt.Errorf("%s: connection ended (%v) while waiting for %s; unread: %s", c.name, c.err, what, c.pendingLocked())
			c.mu.Unlock()
			return frame{}, err
		}
		signal := c.signal
		c.mu.Unlock()
		select {
		case <-signal:
		case <-deadline.C:
			c.mu.Lock()
			defer c.mu.Unlock()
			return frame{}, fmt.Errorf("%s: no %s within %s; unread: %s", c.name, what, timeout, c.pendingLocked())
		}
	}
}

// pendingLocked describes the queued frames for a failure message.
func (c *wsClient) pendingLocked() string {
	var b strings.Builder
	for i, f := range c.backlog {
		if i == 12 {
			fmt.Fprintf(&b, " … and %d more", len(c.backlog)-i)
			break
		}
		raw := f.Raw
		if len(raw) > 300 {
			raw = append(raw[:300:300], "…"...)
		}
		fmt.Fprintf(&b, "\n    %s", raw)
	}
	if b.Len() == 0 {
		return "none"
	}
	return b.String()
}

// Saw reports whether any frame read so far contains s in its bytes.
func (c *wsClient) Saw(s string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range c.all {
		if bytes.Contains(f.Raw, []byte(s)) {
			return true
		}
	}
	return false
}

// Frames returns a copy of every frame read so far.
func (c *wsClient) Frames() []frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]frame(nil), c.all...)
}

// Ended waits until the server has closed the socket and returns the close
// code it sent (0 when the connection ended without a close frame).
func (c *wsClient) Ended(timeout time.Duration) (int, error) {
	select {
	case <-c.done:
	case <-time.After(timeout):
		return 0, fmt.Errorf("%s: the socket is still open after %s", c.name, timeout)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeCode, nil
}

// Test-side shorthands: they fail the test (so call them from the test's
// goroutine only).

// ack sends f and fails the test unless it is acknowledged.
func (c *wsClient) ack(t testing.TB, f obj) frame {
	t.Helper()
	a, err := c.Send(f)
	if err != nil {
		t.Fatalf("%s: %v frame: %v", c.name, f["type"], err)
	}
	return a
}

// refused sends f and fails the test unless it gets an error frame with
// the code; it returns the error frame.
func (c *wsClient) refused(t testing.TB, f obj, code string) frame {
	t.Helper()
	a, err := c.Send(f)
	var fe *frameError
	if !errors.As(err, &fe) || fe.Code != code {
		t.Fatalf("%s: %v frame answered %v (%s); want an error frame with code %s", c.name, f["type"], err, a, code)
	}
	return a
}

// await fails the test unless a frame of the type arrives in time.
func (c *wsClient) await(t testing.TB, typ string) frame {
	t.Helper()
	f, err := c.Await(typ, waitTime)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// awaitFunc is AwaitFunc that fails the test.
func (c *wsClient) awaitFunc(t testing.TB, what string, match func(frame) bool) frame {
	t.Helper()
	f, err := c.AwaitFunc(what, waitTime, match)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// Predicates for AwaitFunc.

func typed(typ string, keyValues ...string) func(frame) bool {
	return func(f frame) bool {
		if f.Type != typ {
			return false
		}
		for i := 0; i+1 < len(keyValues); i += 2 {
			if f.str(strings.Split(keyValues[i], ".")...) != keyValues[i+1] {
				return false
			}
		}
		return true
	}
}
