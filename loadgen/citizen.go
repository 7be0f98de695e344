package loadgen

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	"github.com/gorilla/websocket"
)

// A surge drill (Config.Citizens) posts every chat from a citizen's own
// loopback address, as a crowd of phones would, and follows it on the
// citizen socket, /v1/contacts/{id}/ws, until it ends: what a waiting
// citizen hears is what the drill measures.

// citizenFrame holds the fields of citizen frames the drill reads.
type citizenFrame struct {
	Type     string `json:"type"`
	Position int    `json:"position"`
}

// citizenOrigin is the source address of contact i's citizen: groups of
// Config.CitizensPerAddr share one, in a block of their own. Without IPv4
// loopback the citizens share the run's own client.
func (f *Fleet) citizenOrigin(i int) *origin {
	if f.citizenBlock == nil {
		return f.mainOrigin
	}
	k := i / f.cfg.CitizensPerAddr
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.citizenOrigins[k]
	if !ok {
		o = newOrigin(sourceAddr(f.citizenBlock[0], f.citizenBlock[1], k), 1)
		f.citizenOrigins[k] = o
	}
	return o
}

// follow opens contact c's citizen socket from o and reads it until the
// contact ends, the server closes it, or ctx ends (then it closes the
// socket). It records what the citizen heard in c.
func (f *Fleet) follow(ctx context.Context, o *origin, c *contact, contactID, token string) {
	defer f.citizenDone(c)
	d := websocket.Dialer{NetDialContext: o.dialer.DialContext, HandshakeTimeout: answerTimeout,
		ReadBufferSize: 4 << 10, WriteBufferSize: 1 << 10}
	path := contactPath + "/" + url.PathEscape(contactID) + "/ws?token=" + url.QueryEscape(token)
	opened := time.Now()
	ws, resp, err := d.DialContext(ctx, wsURL(f.gateway.base, path), http.Header{})
	if err != nil {
		kind := "citizen socket: open"
		if resp != nil {
			kind += ": HTTP " + resp.Status
		}
		f.citizenEvent(c, func(c *contact) { c.citizen.err = kind })
		return
	}
	f.citizenEvent(c, func(c *contact) { c.citizen.opened = opened })
	stop := context.AfterFunc(ctx, func() { _ = ws.Close() })
	defer stop()
	defer ws.Close()
	for {
		_, data, err := ws.ReadMessage()
		at := time.Now()
		if err != nil {
			f.citizenEvent(c, func(c *contact) {
				if c.citizen.ended.IsZero() && ctx.Err() == nil {
					c.citizen.err = "citizen socket closed before ended"
				}
			})
			return
		}
		var fr citizenFrame
		if json.Unmarshal(data, &fr) != nil {
			f.citizenEvent(c, func(c *contact) { c.citizen.err = "citizen: unreadable frame" })
			continue
		}
		done := false
		f.citizenEvent(c, func(c *contact) {
			cz := &c.citizen
			switch fr.Type {
			case "queued":
				if cz.told.IsZero() {
					cz.told = at
				}
				cz.places++
				// A place only goes down in a drill: everyone has the
				// same priority, and nobody is put back at the head.
				if cz.last > 0 && fr.Position > cz.last {
					cz.rises++
				}
				cz.last = fr.Position
				cz.peak = max(cz.peak, fr.Position)
			case "agent_joined":
				if cz.told.IsZero() { // served at once: no place to hear
					cz.told = at
				}
				cz.joined = at
			case "ended":
				cz.ended = at
				done = true
			}
		})
		if done {
			return
		}
	}
}

// citizenEvent applies a change to c's citizen record under the fleet's
// lock.
func (f *Fleet) citizenEvent(c *contact, fn func(*contact)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(c)
}

func (f *Fleet) citizenDone(c *contact) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c.citizen.done = true
}

// citizen is what one contact's citizen heard on their socket.
type citizen struct {
	followed   bool      // a socket was tried
	opened     time.Time // the dial began (zero: it failed)
	told       time.Time // the first word of where they stand: queued, or agent_joined
	places     int       // queued frames heard
	last, peak int       // the last and the largest position heard
	rises      int       // times a place went up
	joined     time.Time // agent_joined
	ended      time.Time // ended
	done       bool      // the socket is closed
	err        string    // what went wrong, if anything
}

// awaitCitizens waits until the citizen of every finished contact has
// heard ended (or lost their socket), or ctx ends.
func (f *Fleet) awaitCitizens(ctx context.Context, d *drive) {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		f.mu.Lock()
		waiting := 0
		for _, c := range d.byCaller {
			if c.citizen.followed && !c.citizen.done && c.finished() {
				waiting++
			}
		}
		f.mu.Unlock()
		if waiting == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
