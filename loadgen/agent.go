package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// agent is one simulated agent: a session token and a WebSocket on
// /v1/agent/ws, whose reader accepts every offer and ends every contact
// as soon as it is assigned.
type agent struct {
	fleet    *Fleet
	username string
	token    string
	origin   *origin
	base     string

	ws   *websocket.Conn
	wmu  sync.Mutex // one writer at a time (gorilla's rule)
	done chan struct{}

	mu     sync.Mutex
	nextID uint64
	acks   map[string]chan error  // frame id → the answer's waiter
	holds  map[string]*time.Timer // contact id → the end it will send (Config.Hold)
}

// inFrame holds the fields of server frames the agent reads; the rest of
// each frame (the whole case of an offer) is skipped by the decoder.
type inFrame struct {
	Type      string          `json:"type"`
	Ref       json.RawMessage `json:"ref"`
	OfferID   string          `json:"offer_id"`
	ContactID string          `json:"contact_id"`
	Contact   struct {
		ContactID string `json:"contact_id"`
		Caller    struct {
			ID string `json:"id"`
		} `json:"caller"`
	} `json:"contact"`
	Reason  string `json:"reason"`
	Code    string `json:"code"`
	Message string `json:"message"`
	State   string `json:"state"`
}

// Agent frames the simulation sends.
type stateOut struct {
	Type  string `json:"type"` // "state"
	ID    string `json:"id"`
	State string `json:"state"`
}

type acceptOut struct {
	Type    string `json:"type"` // "accept"
	OfferID string `json:"offer_id"`
}

type endOut struct {
	Type        string `json:"type"` // "end"
	ContactID   string `json:"contact_id"`
	Disposition string `json:"disposition"`
	Summary     string `json:"summary"`
}

// answerTimeout bounds the wait for hello and for the ack of a state frame.
const answerTimeout = 30 * time.Second

// connect opens the socket, waits for hello and goes available.
func (a *agent) connect(ctx context.Context) error {
	d := websocket.Dialer{
		NetDialContext:   a.origin.dialer.DialContext,
		HandshakeTimeout: answerTimeout,
		ReadBufferSize:   16 << 10,
		WriteBufferSize:  4 << 10,
	}
	h := http.Header{"Authorization": {"Bearer " + a.token}}
	ws, resp, err := d.DialContext(ctx, wsURL(a.base, "/v1/agent/ws"), h)
	if err != nil {
		if resp != nil {
			return fmt.Errorf("open the socket: %w (HTTP %s)", err, resp.Status)
		}
		return fmt.Errorf("open the socket: %w", err)
	}
	a.ws = ws
	_ = ws.SetReadDeadline(time.Now().Add(answerTimeout))
	_, data, err := ws.ReadMessage()
	if err != nil {
		ws.Close()
		return fmt.Errorf("wait for hello: %w", err)
	}
	var hello inFrame
	if err := json.Unmarshal(data, &hello); err != nil || hello.Type != "hello" {
		ws.Close()
		return fmt.Errorf("the first frame is not hello: %.100s", data)
	}
	_ = ws.SetReadDeadline(time.Time{})
	a.done = make(chan struct{})
	go a.read()

	id, wait := a.expect()
	if err := a.send(stateOut{Type: "state", ID: id, State: "available"}); err != nil {
		return fmt.Errorf("go available: %w", err)
	}
	t := time.NewTimer(answerTimeout)
	defer t.Stop()
	select {
	case err := <-wait:
		if err != nil {
			return fmt.Errorf("go available: %w", err)
		}
		return nil
	case <-t.C:
		return errors.New("go available: no answer in time")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// expect reserves a frame id and the channel its answer arrives on.
func (a *agent) expect() (string, chan error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.nextID++
	id := strconv.FormatUint(a.nextID, 10)
	ch := make(chan error, 1)
	a.acks[id] = ch
	return id, ch
}

// send writes one frame.
func (a *agent) send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	a.wmu.Lock()
	defer a.wmu.Unlock()
	_ = a.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return a.ws.WriteMessage(websocket.TextMessage, b)
}

// read is the socket's only reader; it plays the agent until the socket
// closes.
func (a *agent) read() {
	defer close(a.done)
	for {
		_, data, err := a.ws.ReadMessage()
		at := time.Now()
		if err != nil {
			a.fleet.mu.Lock()
			closing := a.fleet.closed
			a.fleet.mu.Unlock()
			if !closing {
				a.fleet.countError("agent socket closed by the server")
			}
			a.failWaiters(err)
			return
		}
		var f inFrame
		if err := json.Unmarshal(data, &f); err != nil {
			a.fleet.countError("agent: unreadable frame")
			continue
		}
		a.handle(at, &f)
	}
}

func (a *agent) handle(at time.Time, f *inFrame) {
	switch f.Type {
	case "offer":
		a.fleet.offered(at, f.Contact.Caller.ID, f.Contact.ContactID, a.username)
		if err := a.send(acceptOut{Type: "accept", OfferID: f.OfferID}); err != nil {
			a.fleet.countError("agent: send accept")
		}
	case "assigned":
		a.fleet.assigned(at, f.Contact.Caller.ID)
		id := f.Contact.ContactID
		hold := a.fleet.cfg.Hold
		if hold <= 0 {
			a.end(id)
			return
		}
		a.mu.Lock()
		if a.holds == nil {
			a.holds = map[string]*time.Timer{}
		}
		a.holds[id] = time.AfterFunc(hold, func() {
			a.mu.Lock()
			_, still := a.holds[id]
			delete(a.holds, id)
			a.mu.Unlock()
			if still {
				a.end(id)
			}
		})
		a.mu.Unlock()
	case "contact_ended":
		a.fleet.ended(at, f.ContactID)
	case "offer_revoked":
		a.fleet.countError("offer revoked: " + f.Reason)
	case "ack":
		a.answer(f.Ref, nil)
	case "error":
		if !a.answer(f.Ref, fmt.Errorf("%s: %s", f.Code, f.Message)) {
			a.fleet.countError("agent error frame: " + f.Code)
		}
	}
}

// end ends an assigned contact, as an agent who is done with it.
func (a *agent) end(contactID string) {
	if err := a.send(endOut{Type: "end", ContactID: contactID, Disposition: "resolved", Summary: "loadgen"}); err != nil {
		a.fleet.countError("agent: send end")
		return
	}
	a.fleet.freedAt(time.Now(), a.username)
}

// stopHolds drops the ends still waiting for their hold to pass: the
// phase is over and its open contacts are abandoned instead.
func (a *agent) stopHolds() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for id, t := range a.holds {
		t.Stop()
		delete(a.holds, id)
	}
}

// answer hands an ack or error to its waiter; false if nobody waits.
func (a *agent) answer(ref json.RawMessage, err error) bool {
	var id string
	if json.Unmarshal(ref, &id) != nil {
		return false
	}
	a.mu.Lock()
	ch, ok := a.acks[id]
	delete(a.acks, id)
	a.mu.Unlock()
	if ok {
		ch <- err
	}
	return ok
}

func (a *agent) failWaiters(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for id, ch := range a.acks {
		ch <- err
		delete(a.acks, id)
	}
}

// close says goodbye and waits for the reader.
func (a *agent) close() {
	if a.ws == nil {
		return
	}
	a.wmu.Lock()
	_ = a.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "loadgen done"), time.Now().Add(time.Second))
	a.wmu.Unlock()
	if a.done != nil {
		select {
		case <-a.done:
		case <-time.After(2 * time.Second):
		}
	}
	a.ws.Close()
	if a.done != nil {
		<-a.done
	}
}
