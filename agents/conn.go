package agents

import (
	"io"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"tellonce/auth"
)

type connKind string

// cutCloseWait is how long the close frame of a socket cut as too slow
// may take to write.
const cutCloseWait = time.Second

// closeLinger is how long a socket the server has sent its close frame on
// is still read, for the client's answering close frame, before it is
// closed regardless (see conn.close).
const closeLinger = 2 * time.Second

const (
	kindAgent   connKind = "agent"
	kindCitizen connKind = "citizen"
	kindGateway connKind = "gateway"
)

// conn is one WebSocket session: exactly one reader (readPump, on the
// goroutine serve starts) and at most one writer (writeLoop), which runs
// only while there is something to write — frames, a ping, the close — so
// an idle socket costs one parked goroutine and no buffers beyond the
// reader's. Everything the hub sends goes through the bounded out queue;
// a full queue cuts the connection rather than wait for it.
type conn struct {
	hub  *Hub
	ws   *websocket.Conn
	kind connKind

	// The writer's state, guarded by wmu, which is taken after hub.mu and
	// never before it.
	wmu      sync.Mutex
	out      [][]byte // frames waiting to be written, at most SendBuffer
	writing  bool     // a writeLoop runs (and, once quitting, stays the last)
	pingDue  bool
	quitting bool // the hub stopped the connection: the writer closes it
	// pinger marks a ping due every PingInterval.
	pinger *time.Timer
	// cut is set when the hub cut the connection as too slow: the writer
	// writes nothing more of its batch.
	cut atomic.Bool
	// ends counts the reader's end and the writer's end (its close frame
	// written or given up on): the second of them closes the socket and
	// unregisters the connection (Hub.finish), so that neither waits for
	// the other.
	ends atomic.Int32

	// Guarded by hub.mu.
	stopped   bool
	closeCode int
	closeText string
	drain     bool // send what is queued before the close frame
	// revoked is set, under hub.mu, when the socket's login ended; from
	// then on no frame it sent is applied. Read without the lock.
	revoked atomic.Bool

	// login is what an agent or gateway socket was opened with: its
	// session, and the role, agency and permissions it was allowed. A
	// gateway's agency ("" for every agency) is the one it serves.
	login auth.Principal
	addr  string // where the socket's request came from

	// Agent sessions (ready, helloSeq and pending serve gateways too).
	// connected is guarded by hub.presence; the rest by hub.mu. Until
	// ready, event frames wait in pending: the hello frame must go first,
	// and events up to helloSeq are already in it.
	username  string
	pii       bool // the agent may see phone, card and account numbers
	connected bool
	ready     bool
	helloSeq  uint64
	pending   []pendingFrame

	// Citizen sessions: their own record, nil on other sockets, so that
	// an agent's idle socket does not carry a citizen's fields.
	*citizenConn
}

// citizenConn is a citizen socket's part of conn, guarded by hub.mu.
// contactID follows the case's live leg across transfers.
type citizenConn struct {
	contactID    string
	caseID       string // the case never changes, whatever leg the socket follows
	queue        string
	assigned     bool
	callback     bool // the citizen's contact is a callback: no more offers of one
	leaving      bool // a leave frame is being handled: the reader closes
	finished     bool // the contact ended: no more frames will come
	endedSent    bool
	lastQueued   queuedFrame
	lastQueuedAt time.Time // when lastQueued was sent
	afterPlace   []byte    // a frame to send right after the first queued frame
}

type pendingFrame struct {
	seq uint64
	msg []byte
}

func (h *Hub) newConn(ws *websocket.Conn, kind connKind) *conn {
	c := &conn{hub: h, ws: ws, kind: kind}
	// One timer per socket rather than a ticker on a writer goroutine: it
	// wakes a writer only when a ping is due. The first ping comes at a
	// random point of the interval: after a restart every desk reconnects
	// within seconds, and pings in step would wake thousands of writers
	// at once, every interval, in the way of the offers.
	c.pinger = time.AfterFunc(firstPing(h.cfg.PingInterval), c.ping)
	if kind == kindCitizen {
		c.citizenConn = &citizenConn{}
	}
	return c
}

// contact is the contact a citizen socket follows, for logs; "" on others.
func (c *conn) contact() string {
	if c.citizenConn == nil {
		return ""
	}
	return c.contactID
}

// stopLocked asks the writer to close the connection; the first reason
// wins. Called with hub.mu held.
func (h *Hub) stopLocked(c *conn, code int, text string, drain bool) {
	if c.stopped {
		return
	}
	c.stopped, c.closeCode, c.closeText, c.drain = true, code, text, drain
	c.wmu.Lock()
	c.quitting = true
	c.kickLocked()
	c.wmu.Unlock()
}

// enqueueLocked queues a frame without ever blocking: a connection whose
// buffer is full is cut as too slow (it will reconnect and get a fresh
// hello, so losing frames here loses nothing for good).
func (h *Hub) enqueueLocked(c *conn, msg []byte) {
	if c.stopped {
		h.dropped.Add(1)
		return
	}
	c.wmu.Lock()
	if len(c.out) >= h.cfg.SendBuffer {
		c.wmu.Unlock()
		h.cutLocked(c)
		return
	}
	c.out = append(c.out, msg)
	c.kickLocked()
	c.wmu.Unlock()
}

// kickLocked starts the writer unless it runs; c.wmu is held.
func (c *conn) kickLocked() {
	if !c.writing {
		c.writing = true
		go c.writeLoop()
	}
}

// ping marks a ping due and rearms itself: the pinger's function.
func (c *conn) ping() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.quitting {
		return
	}
	c.pingDue = true
	c.kickLocked()
	c.pinger.Reset(nextPing(c.hub.cfg.PingInterval))
}

// firstPing is when a new socket's first ping is due: anywhere in the
// first interval, so that sockets opened together are not pinged together.
func firstPing(interval time.Duration) time.Duration {
	return interval/10 + rand.N(interval*9/10+1)
}

// nextPing is the wait for the next ping: up to a tenth short of the
// interval, so that sockets drift apart rather than stay in step, and
// never longer than it, so that a pong comes within PongWait as before.
func nextPing(interval time.Duration) time.Duration {
	return interval*9/10 + rand.N(interval/10+1)
}

// cutLocked drops a frame and disconnects its slow connection.
func (h *Hub) cutLocked(c *conn) {
	h.dropped.Add(1)
	h.slows.Add(1)
	h.log.Warn("websocket client too slow; disconnecting", "kind", c.kind, "agent", c.username,
		"contact", c.contact(), "buffer", h.cfg.SendBuffer)
	h.stopLocked(c, websocket.CloseTryAgainLater, "too slow", false)
	// Its writer is most likely blocked on the full socket and would hold
	// it, its goroutine and its buffers for WriteTimeout: end that write
	// now (the connection is safe for a concurrent deadline change), and
	// the rest of its batch is not written.
	c.cut.Store(true)
	_ = c.ws.NetConn().SetWriteDeadline(time.Now())
}

// writeLoop writes what is due — a ping, the queued frames — and returns
// when nothing is left, so that an idle socket has no writer. Once the hub
// has stopped the connection it writes the close frame (after what is
// queued, when asked to drain), ends the socket (see close) and is the
// last writer the connection has.
func (c *conn) writeLoop() {
	for {
		c.wmu.Lock()
		batch, ping, quitting := c.out, c.pingDue, c.quitting
		c.out, c.pingDue = nil, false
		if len(batch) == 0 && !ping && !quitting {
			c.writing = false
			c.wmu.Unlock()
			return
		}
		c.wmu.Unlock()
		if quitting {
			c.close(batch)
			return
		}
		if !c.writeBatch(ping, batch) {
			// The socket is broken: stop the connection (enqueues now
			// drop) and close it on the next turn.
			_ = c.ws.Close()
			c.hub.mu.Lock()
			c.hub.stopLocked(c, websocket.CloseAbnormalClosure, "", false)
			c.hub.mu.Unlock()
		}
	}
}

// writeBatch writes a ping, if due, and the frames; false if a write failed.
func (c *conn) writeBatch(ping bool, batch [][]byte) bool {
	if ping {
		if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.hub.cfg.WriteTimeout)); err != nil {
			return false
		}
	}
	for _, msg := range batch {
		if c.cut.Load() {
			return false
		}
		if err := c.write(msg); err != nil {
			return false
		}
	}
	return true
}

// close ends the connection as the hub asked (closeCode and the rest
// were set under hub.mu before quitting, which the writer has seen under
// wmu): what is queued when draining, the close frame, then the end of
// the socket.
//
// Once the close frame is out, the socket is not closed at once but only
// shut for writing: the client sees the close frame and the end of the
// stream, while the reader reads on until the client's answering close
// frame, the client's end of the stream or closeLinger, and the socket
// is closed when the reader too has ended (ended). A socket closed
// outright would answer whatever the client sent meanwhile — a frame sent
// before it read our close frame, or that answer itself — with a reset,
// and a browser that meets the reset before it has read the close frame
// reports an abnormal close (1006) rather than our code: a desk signed out
// (CloseSignedOut) would take that for a dropped connection and reconnect.
func (c *conn) close(batch [][]byte) {
	c.pinger.Stop()
	if !c.drain || c.writeBatch(false, batch) {
		msg := websocket.FormatCloseMessage(c.closeCode, c.closeText)
		wait := c.hub.cfg.WriteTimeout
		cut := c.closeCode == websocket.CloseTryAgainLater
		if cut {
			// Cut as too slow: its socket is full, and the close frame
			// gets a moment, not a whole WriteTimeout (nor any lingering:
			// a client that does not read will not answer).
			wait = min(wait, cutCloseWait)
		}
		if c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(wait)) == nil && !cut && c.linger() {
			c.ended()
			return
		}
	}
	_ = c.ws.Close()
	c.ended()
}

// linger shuts the socket for writing and bounds the reads still to come
// by closeLinger; false when the socket cannot be half-closed (it is then
// closed at once).
func (c *conn) linger() bool {
	hc, ok := c.ws.NetConn().(interface{ CloseWrite() error })
	if !ok || hc.CloseWrite() != nil {
		return false
	}
	// A pong to a ping sent before the close frame may still push this
	// back to PongWait; no ping follows the close frame.
	return c.ws.SetReadDeadline(time.Now().Add(closeLinger)) == nil
}

// ended is called once by the reader when it has ended and once by the
// writer when it has written its close frame (or given up on it); the
// second closes the socket, if it is still open, and unregisters the
// connection.
func (c *conn) ended() {
	if c.ends.Add(1) == 2 {
		_ = c.ws.Close()
		c.hub.finish(c)
	}
}

func (c *conn) write(msg []byte) error {
	if err := c.ws.SetWriteDeadline(time.Now().Add(c.hub.cfg.WriteTimeout)); err != nil {
		return err
	}
	return c.ws.WriteMessage(websocket.TextMessage, msg)
}

// readPump reads frames and hands each to handle, until the socket fails
// or closes. A frame over MaxFrameBytes is discarded unread and answered
// with too_large, so the connection survives it; past HardFrameBytes
// gorilla closes the connection with 1009 instead.
//
// The reader's own goroutine only waits for the next frame; reading its
// payload and handling it run on a goroutine of their own (aside), one
// frame at a time and in order, as before. Handling a frame (decoding, the
// router, encoding the answer and what it causes) runs deep, and even
// reading a payload grows a stack past its first 2 KiB; on the reader's
// goroutine that stack would stay grown while the idle socket is parked
// for hours (a collection halves a stack only when three quarters of it
// are unused), doubling what an agent's idle socket costs. The pong
// handler, which lives as long as the socket, holds only the socket and
// the duration, not a copy of the hub's configuration.
func (c *conn) readPump(handle func(*conn, []byte)) {
	cfg := &c.hub.cfg
	c.ws.SetReadLimit(cfg.HardFrameBytes)
	_ = c.ws.SetReadDeadline(time.Now().Add(cfg.PongWait))
	ws, wait := c.ws, cfg.PongWait
	ws.SetPongHandler(func(string) error {
		return ws.SetReadDeadline(time.Now().Add(wait))
	})
	for {
		_, r, err := c.ws.NextReader()
		if err != nil {
			c.hub.log.Debug("websocket read ended", "kind", c.kind, "agent", c.username, "err", err)
			return
		}
		if !aside(func() bool { return c.readFrame(r, handle) }) {
			return
		}
	}
}

// readFrame reads one frame's payload and hands it to handle; false when
// the socket failed.
func (c *conn) readFrame(r io.Reader, handle func(*conn, []byte)) bool {
	limit := c.hub.cfg.MaxFrameBytes
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return false
	}
	if int64(len(data)) > limit {
		if _, err := io.Copy(io.Discard, r); err != nil {
			return false // past the hard limit: gorilla has sent 1009
		}
		c.hub.replyError(c, nil, &frameError{Code: CodeTooLarge, Message: "frame is larger than " + byteSize(limit)})
		return true
	}
	handle(c, data)
	return true
}

// aside runs f on a goroutine of its own and waits for it: a goroutine
// costs a microsecond, a frame's durable wait milliseconds.
func aside(f func() bool) bool {
	var ok bool
	var wg sync.WaitGroup
	wg.Go(func() { ok = f() })
	wg.Wait()
	return ok
}

func byteSize(n int64) string {
	if n%1024 == 0 {
		return strconv.FormatInt(n/1024, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}
