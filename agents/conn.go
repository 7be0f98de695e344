package agents

import (
	"io"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"tellonce/auth"
)

type connKind string

const (
	kindAgent   connKind = "agent"
	kindCitizen connKind = "citizen"
	kindGateway connKind = "gateway"
)

// conn is one WebSocket session: exactly one reader (the HTTP handler's
// goroutine, in readPump) and one writer (writePump). Everything the hub
// sends goes through the bounded send channel; a full channel cuts the
// connection rather than wait for it.
type conn struct {
	hub  *Hub
	ws   *websocket.Conn
	kind connKind
	send chan []byte
	// quit is closed once, under hub.mu, when the hub wants the connection
	// gone; closeCode, closeText and drain are set before and say how.
	quit       chan struct{}
	writerDone chan struct{} // closed when writePump has returned

	// Guarded by hub.mu.
	stopped   bool
	closeCode int
	closeText string
	drain     bool // send what is queued before the close frame
	// revoked is set, under hub.mu, when the socket's login ended; from
	// then on no frame it sent is applied. Read without the lock.
	revoked atomic.Bool

	// login is what an agent or gateway socket was opened with: its
	// session, and the role, agency and permissions it was allowed.
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

	// Citizen sessions, guarded by hub.mu. contactID follows the case's
	// live leg across transfers.
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

	// Gateway sessions: "" serves every agency.
	agency string
}

type pendingFrame struct {
	seq uint64
	msg []byte
}

func (h *Hub) newConn(ws *websocket.Conn, kind connKind) *conn {
	return &conn{hub: h, ws: ws, kind: kind, send: make(chan []byte, h.cfg.SendBuffer),
		quit: make(chan struct{}), writerDone: make(chan struct{})}
}

// stopLocked asks the writer to close the connection; the first reason
// wins. Called with hub.mu held.
func (h *Hub) stopLocked(c *conn, code int, text string, drain bool) {
	if c.stopped {
		return
	}
	c.stopped, c.closeCode, c.closeText, c.drain = true, code, text, drain
	close(c.quit)
}

// enqueueLocked queues a frame without ever blocking: a connection whose
// buffer is full is cut as too slow (it will reconnect and get a fresh
// hello, so losing frames here loses nothing for good).
func (h *Hub) enqueueLocked(c *conn, msg []byte) {
	if c.stopped {
		h.dropped.Add(1)
		return
	}
	select {
	case c.send <- msg:
	default:
		h.cutLocked(c)
	}
}

// cutLocked drops a frame and disconnects its slow connection.
func (h *Hub) cutLocked(c *conn) {
	h.dropped.Add(1)
	h.slows.Add(1)
	h.log.Warn("websocket client too slow; disconnecting", "kind", c.kind, "agent", c.username,
		"contact", c.contactID, "buffer", cap(c.send))
	h.stopLocked(c, websocket.CloseTryAgainLater, "too slow", false)
}

// writePump writes queued frames and pings until the hub stops the
// connection or a write fails; it then closes the socket, which ends the
// reader too.
func (c *conn) writePump() {
	cfg := c.hub.cfg
	ticker := time.NewTicker(cfg.PingInterval)
	defer func() {
		ticker.Stop()
		_ = c.ws.Close()
		c.hub.mu.Lock()
		c.hub.stopLocked(c, websocket.CloseAbnormalClosure, "", false) // enqueues now drop
		c.hub.mu.Unlock()
		close(c.writerDone)
	}()
	for {
		select {
		case msg := <-c.send:
			if err := c.write(msg); err != nil {
				return
			}
		case <-ticker.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(cfg.WriteTimeout)); err != nil {
				return
			}
		case <-c.quit:
			if c.drain && !c.flush() {
				return
			}
			msg := websocket.FormatCloseMessage(c.closeCode, c.closeText)
			_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(cfg.WriteTimeout))
			return
		}
	}
}

// flush writes what is already queued; false if a write failed.
func (c *conn) flush() bool {
	for {
		select {
		case msg := <-c.send:
			if err := c.write(msg); err != nil {
				return false
			}
		default:
			return true
		}
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
func (c *conn) readPump(handle func(*conn, []byte)) {
	cfg := c.hub.cfg
	c.ws.SetReadLimit(cfg.HardFrameBytes)
	_ = c.ws.SetReadDeadline(time.Now().Add(cfg.PongWait))
	c.ws.SetPongHandler(func(string) error {
		return c.ws.SetReadDeadline(time.Now().Add(cfg.PongWait))
	})
	for {
		_, r, err := c.ws.NextReader()
		if err != nil {
			c.hub.log.Debug("websocket read ended", "kind", c.kind, "agent", c.username, "err", err)
			return
		}
		data, err := io.ReadAll(io.LimitReader(r, cfg.MaxFrameBytes+1))
		if err != nil {
			return
		}
		if int64(len(data)) > cfg.MaxFrameBytes {
			if _, err := io.Copy(io.Discard, r); err != nil {
				return // past the hard limit: gorilla has sent 1009
			}
			c.hub.replyError(c, nil, &frameError{Code: CodeTooLarge,
				Message: "frame is larger than " + byteSize(cfg.MaxFrameBytes)})
			continue
		}
		handle(c, data)
	}
}

func byteSize(n int64) string {
	if n%1024 == 0 {
		return strconv.FormatInt(n/1024, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}
