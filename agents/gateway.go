package agents

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"

	"github.com/gorilla/websocket"

	"tellonce/auth"
	"tellonce/cases"
)

// ServeGateway runs a telephony gateway's socket (GET /v1/gateway/ws);
// web has authenticated the machine account p. p.Agency "" serves every
// agency; otherwise the gateway hears about, and may act on, only the
// calls its agency carries. The first frame is always hello, the live
// calls it carries. The end of p's login closes it (see SignOut).
func (h *Hub) ServeGateway(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	ws, ok := h.upgrade(w, r)
	if !ok {
		return
	}
	c := h.newConn(ws, kindGateway)
	c.username, c.login, c.addr = p.Username, p, h.clientAddr(r)
	if !h.startGateway(c) {
		return
	}
	h.serve(c, h.handleGatewayFrame)
}

// startGateway registers the connection and queues hello, the live calls
// in its scope, ahead of every later frame. Frames of events up to the
// snapshot's seq are in hello already and are not sent.
func (h *Hub) startGateway(c *conn) bool {
	h.mu.Lock()
	if !h.addLocked(c) {
		h.mu.Unlock()
		return false
	}
	h.gateways[c] = struct{}{} // events from now on reach c, held until hello
	h.mu.Unlock()

	// Not under h.mu: LiveCalls takes the router's write lock, under which
	// a synchronous Sink may be waiting for h.mu in Deliver.
	calls, seq, err := h.sb.LiveCalls()
	if err != nil {
		h.log.Error("gateway hello", "gateway", c.username, "err", err)
		h.mu.Lock()
		h.stopLocked(c, websocket.CloseInternalServerErr, "internal error", false)
		h.mu.Unlock()
		return true // serve lets the writer send the close and unregisters
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	f := gatewayHelloFrame{Type: "hello", Calls: []gatewayCallJSON{}}
	for i := range calls {
		cv := &calls[i]
		if carrier, isCall := h.callAgencyLocked(cv.ID, cv); !isCall || (c.login.Agency != "" && c.login.Agency != carrier) {
			continue
		}
		g := gatewayCallJSON{ContactID: cv.ID, CaseID: cv.CaseID, Queue: cv.Queue, Agency: cv.Agency,
			Channel: string(cv.Channel), Status: string(cv.Status)}
		if cv.Status == cases.StatusAssigned {
			g.Agent, g.Phone = cv.Agent, h.phoneOf(cv.Agent)
			if h.browser[cv.ID] == cv.Agent {
				g.Phone, g.Browser = "", true
			}
		}
		if cv.Channel == cases.ChannelCallback {
			g.Number = cv.CallbackNumber
		}
		f.Calls = append(f.Calls, g)
	}
	h.readyLocked(c, seq, encode(f))
	return true
}

// handleGatewayFrame runs a gateway's frame: a transcript segment, the
// caller hanging up (a waiting call is abandoned, a call in progress ends),
// a callback's dial result, and what a phone edge reports of the agent's
// leg: its phone did not answer, it hung up, a leg was recorded.
func (h *Hub) handleGatewayFrame(c *conn, data []byte) {
	cmd, ref, ferr := decodeGatewayFrame(data)
	if ferr != nil {
		h.replyError(c, ref, ferr)
		return
	}
	if cmd.Type == "rtc_offer" || cmd.Type == "rtc_state" {
		h.rtcFromGateway(c, ref, cmd)
		return
	}
	ferr = h.gatewayMay(c.login.Agency, cmd.ContactID)
	if ferr != nil && ferr.Code == CodeNotFound && cmd.Type == "recording" && h.cfg.ClosedCases != nil {
		h.recordClosed(c, ref, cmd)
		return
	}
	if ferr != nil {
		if ferr.Code == CodeNotFound {
			h.refusedIDs(c, cmd.Type, cmd.ContactID, "", "")
		}
		h.replyError(c, ref, ferr)
		return
	}
	ctx, cancel := h.ackContext()
	defer cancel()
	var err error
	switch cmd.Type {
	case "transcript":
		err = h.sb.Transcript(ctx, cmd.ContactID, cases.PartyRole(cmd.Speaker), cmd.Text)
	case "hangup":
		err = h.sb.CallerHangup(ctx, cmd.ContactID)
	case "dial_result":
		err = h.sb.DialResult(ctx, cmd.ContactID, cmd.Result)
	case "connect_failed":
		err = h.sb.ConnectFailed(ctx, cmd.ContactID, cmd.Result)
	case "agent_hangup":
		err = h.sb.AgentHangup(ctx, cmd.ContactID)
	case "recording":
		err = h.sb.Record(ctx, cmd.ContactID, "gateway:"+c.username, cmd.recording())
		if errors.Is(err, cases.ErrNotFound) && h.cfg.ClosedCases != nil {
			h.recordClosed(c, ref, cmd) // the case closed meanwhile
			return
		}
	}
	h.answer(c, ref, err)
}

// recordClosed appends a recording to a case that is closed, or not live
// at all: the edge finishes a leg's file when the leg ends, often after
// the case closed. Everything the router did so far is made durable first,
// so that the case's closing is in the log before the entry follows it.
func (h *Hub) recordClosed(c *conn, ref json.RawMessage, cmd gatewayCommand) {
	ctx, cancel := h.ackContext()
	defer cancel()
	if err := h.sb.Settle(ctx); err != nil {
		h.replyError(c, ref, h.errorOf(err))
		return
	}
	err := h.cfg.ClosedCases.AppendRecording(ctx, c.login.Agency, cmd.ContactID, "gateway:"+c.username, cmd.recording())
	if errors.Is(err, cases.ErrNotFound) {
		h.refusedIDs(c, cmd.Type, cmd.ContactID, "", "")
		h.replyError(c, ref, &frameError{Code: CodeNotFound, Message: "contact " + cmd.ContactID + ": not found"})
		return
	}
	if err != nil {
		h.replyError(c, ref, h.errorOf(err))
		return
	}
	if ref != nil {
		h.reply(c, ackFrame{Type: "ack", Ref: ref})
	}
}

// gatewayMay says whether a gateway of agency may act on the contact: a
// voice or callback call of that agency, or one it carries (the call
// started there and was transferred on). A gateway never acts on a
// chat: its transcript would stand as an agent's words and its hangup
// would end a conversation it does not carry. Whatever it may not act on
// is answered as if it did not exist.
func (h *Hub) gatewayMay(agency, contactID string) *frameError {
	notFound := &frameError{Code: CodeNotFound, Message: "contact " + contactID + ": not found"}
	cv, err := h.sb.Peek(contactID)
	if errors.Is(err, cases.ErrNotFound) {
		return notFound // worded as for one it may not act on
	}
	if err != nil {
		return h.errorOf(err)
	}
	if cv.Channel == cases.ChannelChat {
		return notFound
	}
	if agency == "" || cv.Agency == agency {
		return nil
	}
	if cv.ConferenceOf != "" {
		// An interpreter's voice leg is bridged into a call, not a call of
		// its own: the gateway carrying that call acts on it (its phone
		// hanging up), whatever agency the interpreter works for.
		return h.gatewayMay(agency, cv.ConferenceOf)
	}
	h.mu.Lock()
	carrier := h.calls[contactID]
	h.mu.Unlock()
	if carrier == agency {
		return nil
	}
	// After a restart the carrier is no longer remembered: the call is
	// carried by the gateway that took it, the agency of its chain's first
	// leg — not by every agency the case ever passed through.
	if cs, err := h.sb.Case(cv.CaseID); err == nil && slices.ContainsFunc(cs.Legs, func(l cases.Leg) bool {
		return l.ContactID == cv.Origin && l.Agency == agency
	}) {
		return nil
	}
	return notFound
}

// callAgencyLocked is the agency whose gateways carry a voice or callback
// contact: recorded when the contact was created (and carried over by
// transfers), else — after a restart — the contact's own agency. ok is
// false for chats.
func (h *Hub) callAgencyLocked(contactID string, v *cases.ContactView) (string, bool) {
	if a, ok := h.calls[contactID]; ok {
		return a, true
	}
	if v == nil || v.ID != contactID {
		cv, err := h.sb.Peek(contactID)
		if err != nil {
			return "", false
		}
		v = &cv
	}
	if v.Channel == cases.ChannelChat {
		return "", false
	}
	return v.Agency, true
}

// toGatewaysLocked sends an event's frame to the gateways serving agency;
// seq is the router event's.
func (h *Hub) toGatewaysLocked(agency string, seq uint64, v any) {
	var msg []byte
	for c := range h.gateways {
		if c.login.Agency != "" && c.login.Agency != agency {
			continue
		}
		if msg == nil {
			msg = encode(v)
		}
		h.eventToLocked(c, seq, msg)
	}
}

// phoneOf is an agent's SIP address, "" when they have none (or are gone).
func (h *Hub) phoneOf(username string) string {
	if username == "" {
		return ""
	}
	a, err := h.sb.Agent(username)
	if err != nil {
		return ""
	}
	return a.Phone
}
