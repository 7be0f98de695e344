package agents

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/gorilla/websocket"

	"tellonce/cases"
)

// ServeCitizen runs a citizen's chat socket (GET /v1/contacts/{id}/ws);
// web has checked the citizen token already. The socket follows the case:
// after a transfer it follows the new leg, and a citizen reconnecting with
// the first leg's id joins the case's live leg. The first frame tells where
// the contact stands (queued, agent_joined, callback for a booked time still
// to come, or ended); after ended the server closes the socket normally.
func (h *Hub) ServeCitizen(w http.ResponseWriter, r *http.Request, contactID string) {
	ws, ok := h.upgrade(w, r)
	if !ok {
		return
	}
	c := h.newConn(ws, kindCitizen)
	pre := h.placeOf(contactID)
	h.mu.Lock()
	if !h.addLocked(c) {
		h.mu.Unlock()
		return
	}
	h.startCitizenLocked(c, contactID, pre)
	h.mu.Unlock()
	h.serve(c, h.handleCitizenFrame)
}

// place is a waiting contact's place in its line, counted before the hub's
// lock is taken, when it is near either end of the line (a new caller at
// the back, one about to be served). Deeper in a long line it is left to
// the refresher, which counts the places of everyone who connected
// meanwhile in one walk: after a restart a whole line reconnects at once,
// and a walk each would cost the square of its length.
type place struct {
	contactID string // "" when not counted
	position  int
}

func (h *Hub) placeOf(contactID string) place {
	cv, err := h.liveLeg(contactID)
	if err != nil || cv.Status != cases.StatusQueued {
		return place{}
	}
	n, ok, err := h.sb.NearPosition(cv.ID)
	if err != nil || !ok || n == 0 {
		return place{}
	}
	return place{contactID: cv.ID, position: n}
}

// startCitizenLocked attaches the connection to the contact's live leg and
// queues its first frame; a callback that waits is confirmed again with a
// callback frame (after queued, for one in line). It runs under hub.mu so
// that no event frame overtakes it (router reads take no lock, so this is
// safe). pre is the contact's place as counted just before.
func (h *Hub) startCitizenLocked(c *conn, contactID string, pre place) {
	cv, err := h.liveLeg(contactID)
	if err != nil {
		c.finished, c.endedSent = true, true
		h.enqueueLocked(c, encode(endedFrame{Type: "ended", Reason: "closed"}))
		h.stopLocked(c, websocket.CloseNormalClosure, "contact ended", true)
		return
	}
	h.attachCitizenLocked(c, cv.ID, cv.Queue)
	c.caseID = cv.CaseID
	c.callback = cv.Channel == cases.ChannelCallback
	switch cv.Status {
	case cases.StatusScheduled:
		f, ok := retryFrame(&cv)
		if !ok { // a booked time still to come
			at := cv.Due.UTC()
			f = citizenCallbackFrame{Type: "callback", Mode: "slot", At: &at}
		}
		h.enqueueLocked(c, encode(f))
	case cases.StatusAssigned:
		c.assigned = true
		h.enqueueLocked(c, encode(h.agentJoined(cv.Agent, cv.Agency)))
	default: // queued, or offered: position 0 means an agent is being connected
		var confirm []byte
		switch {
		case c.callback && cv.Attempts > 0:
			// A retry that came due waits in line for the next call,
			// whatever was agreed the first time.
			confirm = encode(citizenCallbackFrame{Type: "callback", Mode: "keep_place"})
		case c.callback:
			if f, ok := h.registeredCallback(cv); ok {
				confirm = encode(f)
			}
		}
		switch {
		case cv.Status != cases.StatusQueued:
			h.sendQueuedLocked(c, 0, nil, false)
		case pre.contactID == cv.ID:
			// The line may have moved since pre was counted, while this
			// socket was not yet in it: the refresher counts again.
			h.sendQueuedLocked(c, pre.position, nil, false)
			h.queueMovedLocked(cv.Queue)
		default:
			// Deep in a long line, or back in it just now: the refresher
			// counts its place, and the callback confirmation follows.
			c.afterPlace = confirm
			h.queueMovedLocked(cv.Queue)
			return
		}
		if confirm != nil {
			h.enqueueLocked(c, confirm)
		}
	}
}

// registeredCallback is the callback frame that confirmed a callback
// still waiting in line, read back from the case's timeline: the kept
// place, or a booked time that has come (the contact then waits at the
// head of its line). The contact itself does not say which, since a
// booked slot that falls due is queued like a kept place. A callback the
// citizen did not ask for (a gateway's, a second-line one) has none.
func (h *Hub) registeredCallback(cv cases.ContactView) (citizenCallbackFrame, bool) {
	cs, err := h.sb.Case(cv.CaseID)
	if err != nil {
		return citizenCallbackFrame{}, false
	}
	for i := len(cs.Events) - 1; i >= 0; i-- {
		e := cs.Events[i]
		if e.Type != cases.CaseCallbackRequested || e.Data["contact_id"] != cv.ID {
			continue
		}
		f := citizenCallbackFrame{Type: "callback", Mode: e.Data["mode"]}
		if f.Mode != "keep_place" && f.Mode != "slot" {
			return citizenCallbackFrame{}, false
		}
		if at, err := time.Parse(time.RFC3339, e.Data["callback_at"]); err == nil {
			at = at.UTC()
			f.At = &at
		}
		return f, true
	}
	return citizenCallbackFrame{}, false
}

// errContactEnded says the case has no live leg left.
var errContactEnded = errors.New("contact ended")

// liveLeg resolves a contact id to the citizen's live leg: the contact
// itself while live, else the leg a transfer moved the citizen to (never
// a pending warm-transfer leg: the citizen stays with the first agent
// until the target accepts). Only legs of the contact's own chain count
// (its Origin): another contact on the same case — someone else who
// continued it — is not this citizen's to follow.
func (h *Hub) liveLeg(contactID string) (cases.ContactView, error) {
	cv, err := h.sb.Peek(contactID)
	if err != nil {
		return cases.ContactView{}, err
	}
	if cv.Status != cases.StatusEnded {
		return cv, nil
	}
	cs, err := h.sb.Case(cv.CaseID)
	if err != nil {
		return cases.ContactView{}, err
	}
	for _, l := range cs.Legs {
		if !l.EndedAt.IsZero() {
			continue
		}
		if leg, err := h.sb.Peek(l.ContactID); err == nil && leg.Status != cases.StatusEnded &&
			leg.WarmOf == "" && leg.ConferenceOf == "" && leg.Origin == cv.Origin {
			return leg, nil
		}
	}
	return cases.ContactView{}, errContactEnded
}

func (h *Hub) attachCitizenLocked(c *conn, contactID, queue string) {
	delete(h.absent, contactID) // back in time
	c.contactID, c.queue = contactID, queue
	add(h.citizens, contactID, c)
	add(h.byQueue, queue, c)
}

func (h *Hub) detachCitizenLocked(c *conn) {
	remove(h.citizens, c.contactID, c)
	remove(h.byQueue, c.queue, c)
}

func add(m map[string]map[*conn]struct{}, k string, c *conn) {
	if m[k] == nil {
		m[k] = map[*conn]struct{}{}
	}
	m[k][c] = struct{}{}
}

func remove(m map[string]map[*conn]struct{}, k string, c *conn) {
	delete(m[k], c)
	if len(m[k]) == 0 {
		delete(m, k)
	}
}

func (h *Hub) agentJoined(username, agency string) agentJoinedFrame {
	f := agentJoinedFrame{Type: "agent_joined", AgentName: username, Agency: agency}
	if a, err := h.sb.Agent(username); err == nil {
		f.AgentName = a.Name
		if a.Agency != "" {
			f.Agency = a.Agency
		}
	}
	return f
}

// sendQueuedLocked tells the citizen their place, unless nothing changed.
// q is the citizen's queue when the caller has read it already (one read for
// a whole line of citizens); nil reads it here when needed. paced (a
// refresh of a moving line), it holds back a step not worth a frame yet
// (worthTelling) and reports that it did.
func (h *Hub) sendQueuedLocked(c *conn, position int, q *cases.QueueConfig, paced bool) (heldBack bool) {
	f := queuedFrame{Type: "queued", Position: position, Light: "green"}
	if h.cfg.Estimator != nil && position > 0 {
		f.EstimatedWaitS, f.Light = h.cfg.Estimator.Estimate(c.queue, position)
		if !c.callback {
			if q == nil {
				if cfg, err := h.sb.Queue(c.queue); err == nil {
					q = &cfg
				}
			}
			// A queue that takes callbacks offers them (callback_after_s
			// above zero) once the wait passes that threshold.
			f.CallbackOffered = q != nil && q.OffersCallback(time.Duration(f.EstimatedWaitS)*time.Second)
		}
	}
	if f == c.lastQueued {
		return false
	}
	now := h.now()
	if paced && !worthTelling(c.lastQueued, c.lastQueuedAt, f, now) {
		return true
	}
	c.lastQueued, c.lastQueuedAt = f, now
	h.enqueueLocked(c, encode(f))
	if c.afterPlace != nil {
		h.enqueueLocked(c, c.afterPlace)
		c.afterPlace = nil
	}
	return false
}

// Far from the front of a long line a citizen's place changes many times
// a second in a surge; a frame for every step would cost the server a
// write per citizen per refresh and tell the citizen nothing new. So,
// within placesNear of the front every change is told; further back a
// step of at least a twentieth of the place is, and a change of light or
// of the callback offer; and a smaller step waits at most placeQuiet.
const placesNear = 20

// worthTelling says whether the refreshed place f is worth a frame to a
// citizen last told last at lastAt.
func worthTelling(last queuedFrame, lastAt time.Time, f queuedFrame, now time.Time) bool {
	switch {
	case last.Type == "", f.Position <= placesNear, last.Position <= placesNear:
		return true
	case f.Light != last.Light, f.CallbackOffered != last.CallbackOffered:
		return true
	}
	step := last.Position - f.Position
	if step < 0 {
		step = -step
	}
	return step*20 >= last.Position || now.Sub(lastAt) >= placeQuiet
}

// placeQuiet is the longest a citizen far back waits to hear a small step.
const placeQuiet = 5 * time.Second

// queueMovedLocked notes that a queue's line moved: the citizens waiting
// in it hear their new places from the position refresher (refreshPlaces),
// which reads the line once for all of them, outside the hub's lock, and
// at most once per PositionInterval. Reading the line here, under the lock,
// on every event, made a long line's every move cost a walk of the whole
// line while every other frame waited.
func (h *Hub) queueMovedLocked(queue string) {
	if len(h.byQueue[queue]) == 0 {
		return
	}
	h.moved[queue] = struct{}{}
	select {
	case h.movedKick <- struct{}{}:
	default: // a refresh is due already and will see this queue
	}
}

// refreshPlaces runs until ctx ends (see Run). A move is refreshed at once
// when the refresher is idle; moves that come while it works or rests are
// gathered and refreshed together after the rest, so a busy line costs one
// walk per PositionInterval however often it moves.
func (h *Hub) refreshPlaces(ctx context.Context) {
	for {
		select {
		case <-h.movedKick:
		case <-ctx.Done():
			return
		}
		h.mu.Lock()
		moved := h.moved
		h.moved = map[string]struct{}{}
		h.mu.Unlock()
		for queue := range moved {
			h.refreshQueue(queue)
		}
		h.refreshes.Add(1)
		if !h.rest(ctx) {
			return
		}
	}
}

// restFor is the refresher's rest between two refreshes; false when ctx
// ended first.
func restFor(d time.Duration) func(ctx context.Context) bool {
	return func(ctx context.Context) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return true
		case <-ctx.Done():
			return false
		}
	}
}

// refreshQueue sends the citizens waiting in queue their places: it takes
// their sockets under the lock, counts their places in one walk of the
// line without it, and sends under it again, a chunk of sockets at a time
// so that event frames for agents never wait behind a whole crowd. A
// citizen who connected in between heard their place on connecting; one
// who was assigned, moved or left in between hears nothing more from
// here. A place read before a later move is put right by the refresh that
// move causes.
func (h *Hub) refreshQueue(queue string) {
	h.mu.Lock()
	conns := make([]*conn, 0, len(h.byQueue[queue]))
	for c := range h.byQueue[queue] {
		if !c.assigned && !c.finished {
			conns = append(conns, c)
		}
	}
	ids := make([]string, len(conns))
	for i, c := range conns {
		ids[i] = c.contactID
	}
	h.mu.Unlock()
	if len(conns) == 0 {
		return
	}
	places, err := h.sb.Positions(queue, ids)
	if err != nil {
		return // the queue is gone; its contacts moved or ended
	}
	// Out of the line: an offered contact's citizen hears place 0 (an
	// agent is being connected); a callback booked for later, or a
	// contact assigned or ended since, hears nothing from here.
	for _, id := range ids {
		if _, ok := places[id]; ok {
			continue
		}
		if cv, err := h.sb.Contact(id); err == nil && cv.Queue == queue &&
			(cv.Status == cases.StatusOffered || cv.Status == cases.StatusQueued) {
			places[id] = cv.Position
		}
	}
	var q *cases.QueueConfig
	if cfg, err := h.sb.Queue(queue); err == nil {
		q = &cfg
	}
	heldBack := false
	for len(conns) > 0 {
		chunk := conns[:min(h.refreshChunk, len(conns))]
		conns = conns[len(chunk):]
		h.mu.Lock()
		for _, c := range chunk {
			place, ok := places[c.contactID]
			if !ok || c.stopped || c.queue != queue || c.assigned || c.finished {
				continue
			}
			if h.sendQueuedLocked(c, place, q, true) {
				heldBack = true
			}
		}
		h.mu.Unlock()
	}
	if heldBack {
		// Count again after the rest, moves or not, until every held-back
		// step has been told (placeQuiet at most).
		h.mu.Lock()
		h.queueMovedLocked(queue)
		h.mu.Unlock()
	}
}

// refreshChunk is how many citizens' places refreshQueue sends under one
// hold of the hub's lock.
const refreshChunk = 256

// toCitizensLocked sends a frame to every socket following the contact.
func (h *Hub) toCitizensLocked(contactID string, v any) {
	conns := h.citizens[contactID]
	if len(conns) == 0 {
		return
	}
	msg := encode(v)
	for c := range conns {
		h.enqueueLocked(c, msg)
	}
}

// endCitizensLocked tells the contact's citizens it ended and lets their
// sockets go; a socket handling its own leave frame closes itself after
// the ack instead.
func (h *Hub) endCitizensLocked(contactID, reason string) {
	for c := range h.citizens[contactID] {
		h.endCitizenLocked(c, reason)
	}
}

// endedFrame tells a citizen their contact ended, with the case's
// continuation token so they can come back to the same case.
func (h *Hub) endedFrame(c *conn, reason string) endedFrame {
	f := endedFrame{Type: "ended", Reason: reason}
	if h.cfg.CaseToken != nil && c.caseID != "" {
		f.CaseToken = h.cfg.CaseToken(c.caseID)
	}
	return f
}

func (h *Hub) endCitizenLocked(c *conn, reason string) {
	if !c.endedSent {
		c.endedSent = true
		h.enqueueLocked(c, encode(h.endedFrame(c, reason)))
	}
	h.detachCitizenLocked(c)
	c.finished = true
	if !c.leaving {
		h.stopLocked(c, websocket.CloseNormalClosure, "contact ended", true)
	}
}

// handleCitizenFrame runs one citizen frame: say, or leave (the citizen
// abandons the contact whatever its status; the agent sees contact_ended
// with reason "abandoned").
func (h *Hub) handleCitizenFrame(c *conn, data []byte) {
	cmd, ref, ferr := decodeCitizenFrame(data)
	if ferr != nil {
		h.replyError(c, ref, ferr)
		return
	}
	h.mu.Lock()
	contactID, finished := c.contactID, c.finished
	if cmd.Type == "leave" {
		c.leaving = true
	}
	h.mu.Unlock()
	if finished {
		h.replyError(c, ref, &frameError{Code: CodeConflict, Message: "the contact has ended"})
		return
	}
	if cmd.Type == "say" {
		if ok, wait := h.chatLimit.Allow(contactID); !ok {
			h.replyError(c, ref, &frameError{Code: CodeRateLimited,
				Message: fmt.Sprintf("too many messages: wait %d s before sending more", max(1, int(math.Ceil(wait.Seconds()))))})
			return
		}
	}
	ctx, cancel := h.ackContext()
	defer cancel()
	run := func(contactID string) error {
		if cmd.Type == "leave" {
			return h.sb.CitizenLeave(ctx, contactID)
		}
		return h.sb.CitizenSay(ctx, contactID, cmd.Text)
	}
	err := run(contactID)
	// The socket moves to a transfer's new leg when the transfer's event
	// arrives, after the journal has committed it: a frame that met the
	// leg the transfer just ended acts on the case's live leg instead.
	if errors.Is(err, cases.ErrConflict) {
		if leg, lerr := h.liveLeg(contactID); lerr == nil && leg.ID != contactID {
			err = run(leg.ID)
		}
	}
	h.answer(c, ref, err)
	if cmd.Type != "leave" {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	c.leaving = false
	switch {
	case err == nil:
		h.endCitizenLocked(c, "left")
	case c.finished: // ended otherwise while leaving: close as endCitizenLocked would have
		h.stopLocked(c, websocket.CloseNormalClosure, "contact ended", true)
	}
}
