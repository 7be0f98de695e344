package agents

import (
	"net/http"
	"slices"

	"tellonce/router"
)

// ServeGateway runs a telephony gateway's socket (GET /v1/gateway/ws);
// web has authenticated the machine account. agency "" serves every
// agency; otherwise the gateway hears about, and may act on, only the
// calls its agency carries.
func (h *Hub) ServeGateway(w http.ResponseWriter, r *http.Request, username, agency string) {
	ws, ok := h.upgrade(w, r)
	if !ok {
		return
	}
	c := h.newConn(ws, kindGateway)
	c.username, c.agency = username, agency
	h.mu.Lock()
	if !h.addLocked(c) {
		h.mu.Unlock()
		return
	}
	h.gateways[c] = struct{}{}
	h.mu.Unlock()
	h.serve(c, h.handleGatewayFrame)
}

// handleGatewayFrame runs a transcript segment or a hangup (the caller
// hung up: the contact is abandoned whatever its status).
func (h *Hub) handleGatewayFrame(c *conn, data []byte) {
	cmd, ref, ferr := decodeGatewayFrame(data)
	if ferr != nil {
		h.replyError(c, ref, ferr)
		return
	}
	if ferr := h.gatewayMay(c.agency, cmd.ContactID); ferr != nil {
		h.replyError(c, ref, ferr)
		return
	}
	var evs []router.Event
	var err error
	switch cmd.Type {
	case "transcript":
		evs, err = h.r.Transcript(cmd.ContactID, router.PartyRole(cmd.Speaker), cmd.Text)
	case "hangup":
		evs, err = h.r.Abandon(cmd.ContactID)
	}
	h.answer(c, ref, evs, err)
}

// gatewayMay says whether a gateway of agency may act on the contact: its
// call started in that agency (it is the gateway carrying it) or the case
// has a leg there.
func (h *Hub) gatewayMay(agency, contactID string) *frameError {
	cv, err := h.r.Contact(contactID)
	if err != nil {
		return h.errorOf(err)
	}
	if agency == "" || cv.Agency == agency {
		return nil
	}
	h.mu.Lock()
	carrier := h.calls[contactID]
	h.mu.Unlock()
	if carrier == agency {
		return nil
	}
	if cs, err := h.r.Case(cv.CaseID); err == nil && slices.ContainsFunc(cs.Legs, func(l router.Leg) bool { return l.Agency == agency }) {
		return nil
	}
	return &frameError{Code: CodeForbidden, Message: "contact " + contactID + " is not carried by agency " + agency}
}

// callAgencyLocked is the agency whose gateways carry a voice or callback
// contact: recorded when the contact was created (and carried over by
// transfers), else — after a restart — the contact's own agency. ok is
// false for chats.
func (h *Hub) callAgencyLocked(contactID string, v *router.ContactView) (string, bool) {
	if a, ok := h.calls[contactID]; ok {
		return a, true
	}
	if v == nil || v.ID != contactID {
		cv, err := h.r.Contact(contactID)
		if err != nil {
			return "", false
		}
		v = &cv
	}
	if v.Channel == router.ChannelChat {
		return "", false
	}
	return v.Agency, true
}

// toGatewaysLocked sends a frame to the gateways serving agency.
func (h *Hub) toGatewaysLocked(agency string, v any) {
	var msg []byte
	for c := range h.gateways {
		if c.agency != "" && c.agency != agency {
			continue
		}
		if msg == nil {
			msg = encode(v)
		}
		h.enqueueLocked(c, msg)
	}
}
