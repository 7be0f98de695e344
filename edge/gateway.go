package edge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// serverFrame is any frame the router sends a gateway; fields a frame type
// does not have stay empty.
type serverFrame struct {
	Type                 string `json:"type"`
	ContactID            string `json:"contact_id"`
	NewContactID         string `json:"new_contact_id"`
	CaseID               string `json:"case_id"`
	InterpreterContactID string `json:"interpreter_contact_id"`
	Agent                string `json:"agent"`
	Phone                string `json:"phone"`
	Queue                string `json:"queue"`
	Agency               string `json:"agency"`
	Number               string `json:"number"`
	// The browser softphone and call controls.
	Browser bool            `json:"browser"`
	Session string          `json:"session"`
	SDP     string          `json:"sdp"`
	On      bool            `json:"on"`
	Digits  string          `json:"digits"`
	Calls   []helloCall     `json:"calls"`
	Ref     json.RawMessage `json:"ref"`
	Code    string          `json:"code"`
	Message string          `json:"message"`
}

type helloCall struct {
	ContactID string `json:"contact_id"`
	Queue     string `json:"queue"`
	Channel   string `json:"channel"`
	Status    string `json:"status"`
	Agent     string `json:"agent"`
	Phone     string `json:"phone"`
	Number    string `json:"number"`
	Browser   bool   `json:"browser"`
}

// parseServerFrame reads one frame from the router; anything that is not
// a JSON object with a type is an error (logged, and the socket lives on).
func parseServerFrame(b []byte) (serverFrame, error) {
	var f serverFrame
	if err := json.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("gateway frame: %w", err)
	}
	if f.Type == "" {
		return f, errors.New("gateway frame: no type")
	}
	if len(f.ContactID) > 128 || len(f.NewContactID) > 128 || len(f.Phone) > 512 {
		return f, errors.New("gateway frame: an id is too long")
	}
	return f, nil
}

// gateway is the edge's client of the router's gateway WebSocket: it
// reconnects with backoff, and frames the edge sends are kept until the
// router acknowledged them, so none is lost to a reconnect (a repeat is
// answered conflict, which is harmless).
type gateway struct {
	api    *api
	log    *slog.Logger
	handle func(ctx context.Context, f serverFrame)

	mu      sync.Mutex
	nextID  int
	unacked []outFrame
	wake    chan struct{}
	online  bool
}

type outFrame struct {
	id   int
	body map[string]any
}

func newGateway(a *api, log *slog.Logger, handle func(context.Context, serverFrame)) *gateway {
	return &gateway{api: a, log: log, handle: handle, wake: make(chan struct{}, 1)}
}

// send queues a frame for the router.
func (g *gateway) send(body map[string]any) {
	g.mu.Lock()
	g.nextID++
	body["id"] = g.nextID
	g.unacked = append(g.unacked, outFrame{id: g.nextID, body: body})
	g.mu.Unlock()
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

func (g *gateway) acked(ref json.RawMessage) {
	var id int
	if json.Unmarshal(ref, &id) != nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for i, f := range g.unacked {
		if f.id == id {
			g.unacked = append(g.unacked[:i], g.unacked[i+1:]...)
			return
		}
	}
}

// Online says whether the socket is up now.
func (g *gateway) Online() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.online
}

// Run keeps the socket up until ctx ends. The waits between tries grow
// from 200 ms to 10 s, ±20 % so that many edges do not come back at once;
// a router that cannot serve yet (a takeover under way) says how long to
// wait instead, and that wait is taken, with up to a quarter added.
func (g *gateway) Run(ctx context.Context) error {
	backoff := 200 * time.Millisecond
	for {
		started := time.Now()
		err := g.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(started) > 30*time.Second {
			backoff = 200 * time.Millisecond
		}
		wait := time.Duration(float64(backoff) * (0.8 + 0.4*rand.Float64()))
		if hint := retryHint(err); hint > 0 {
			wait = time.Duration(float64(hint) * (1 + 0.25*rand.Float64()))
		} else {
			backoff = min(backoff*2, 10*time.Second)
		}
		g.log.Warn("gateway socket down; reconnecting", "err", err, "in", wait.Round(time.Millisecond))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// closeRetry is the close of a router node that cannot serve the socket
// yet; its reason is "unavailable; retry in N ms" (docs/protocol.md).
const closeRetry = 4503

// retryHint is the wait a router asked for when it closed the socket with
// closeRetry (at most 30 s), or 0.
func retryHint(err error) time.Duration {
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != closeRetry {
		return 0
	}
	var ms int64
	if _, err := fmt.Sscanf(ce.Text, "unavailable; retry in %d ms", &ms); err != nil || ms <= 0 {
		return 0
	}
	return min(time.Duration(ms)*time.Millisecond, 30*time.Second)
}

func (g *gateway) session(ctx context.Context) error {
	u := *g.api.base
	u.Scheme = strings.Replace(u.Scheme, "http", "ws", 1)
	u = *u.JoinPath("/v1/gateway/ws")
	var conn *websocket.Conn
	for attempt := 0; ; attempt++ {
		tok, err := g.api.bearer(ctx, attempt > 0)
		if err != nil {
			return err
		}
		c, res, err := websocket.DefaultDialer.DialContext(ctx, u.String(), http.Header{"Authorization": {"Bearer " + tok}})
		if err == nil {
			conn = c
			break
		}
		if attempt == 0 && res != nil && res.StatusCode == http.StatusUnauthorized {
			continue
		}
		return fmt.Errorf("dial %s: %w", u.Redacted(), err)
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		<-ctx.Done()
		_ = conn.Close()
	}()

	writeErr := make(chan error, 1)
	go func() { writeErr <- g.writeLoop(ctx, conn) }()
	defer func() {
		g.mu.Lock()
		g.online = false
		g.mu.Unlock()
	}()
	for {
		_, b, err := conn.ReadMessage()
		if err != nil {
			cancel()
			<-writeErr
			return err
		}
		f, err := parseServerFrame(b)
		if err != nil {
			g.log.Warn("gateway: unreadable frame from the router", "err", err)
			continue
		}
		switch f.Type {
		case "ack":
			g.acked(f.Ref)
			continue
		case "error":
			g.log.Warn("gateway: the router refused a frame", "ref", string(f.Ref), "code", f.Code, "message", f.Message)
			g.acked(f.Ref)
			continue
		case "hello":
			g.mu.Lock()
			g.online = true
			g.mu.Unlock()
		}
		g.handle(ctx, f)
	}
}

// writeLoop sends every unacknowledged frame once per connection, in
// order, then each new one.
func (g *gateway) writeLoop(ctx context.Context, conn *websocket.Conn) error {
	sent := map[int]bool{}
	for {
		g.mu.Lock()
		var todo []outFrame
		for _, f := range g.unacked {
			if !sent[f.id] {
				todo = append(todo, f)
			}
		}
		g.mu.Unlock()
		for _, f := range todo {
			_ = conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if err := conn.WriteJSON(f.body); err != nil {
				return err
			}
			sent[f.id] = true
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-g.wake:
		}
	}
}
