package agents

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"tellonce/cases"
)

// The browser softphone: an agent's desk socket may take the agent's voice
// (softphone on), and calls accepted meanwhile are bridged by the edge to
// a WebRTC peer connection in the page instead of a phone. The hub only
// relays the signalling (the edge's offer, the desk's answer, restarts,
// the peer's state) and the call controls (hold, DTMF), and checks who
// may send what; the media never passes through the server.

// CodeSoftphoneBusy refuses a softphone frame without take while another
// tab of the agent holds the softphone with a call bridged to it.
const CodeSoftphoneBusy = "softphone_busy"

// Bounds of the softphone's fields.
const (
	maxSDP     = 32 << 10 // an SDP with every candidate of a few interfaces is a few KiB
	maxSession = 64
	maxDigits  = 32
)

// rtcStates are the peer connection states an edge reports.
var rtcStates = []string{"connected", "disconnected", "failed", "closed"}

// iceServers is the list hello carries for agent, never null: with
// TURNCredentials, the TURN servers get the agent's minted credentials.
func (h *Hub) iceServers(agent string) []ICEServer {
	if h.cfg.ICEServers == nil {
		return []ICEServer{}
	}
	if h.cfg.TURNCredentials == nil {
		return h.cfg.ICEServers
	}
	out := make([]ICEServer, len(h.cfg.ICEServers))
	var user, cred string
	for i, s := range h.cfg.ICEServers {
		out[i] = s
		if s.Username != "" || !slices.ContainsFunc(s.URLs, isTURN) {
			continue
		}
		if user == "" {
			user, cred = h.cfg.TURNCredentials(agent, h.cfg.Now())
		}
		out[i].Username, out[i].Credential = user, cred
	}
	return out
}

func isTURN(url string) bool {
	return strings.HasPrefix(url, "turn:") || strings.HasPrefix(url, "turns:")
}

// offerICEServers is what an rtc_offer carries: fresh minted credentials,
// or nothing when they are static (hello's stand).
func (h *Hub) offerICEServers(agent string) []ICEServer {
	if h.cfg.TURNCredentials == nil || len(h.cfg.ICEServers) == 0 {
		return nil
	}
	return h.iceServers(agent)
}

// validateSoftphone checks the fields of the softphone and call-control
// frames.
func (c agentCommand) validateSoftphone() *frameError {
	switch c.Type {
	case "softphone":
		if c.On == nil {
			return invalidf("on", "on is required")
		}
		return nil
	case "rtc_answer":
		return firstErr(idField("contact_id", c.ContactID), session(c.Session), sdp(c.SDP))
	case "rtc_restart":
		return idField("contact_id", c.ContactID)
	case "hold":
		if ferr := idField("contact_id", c.ContactID); ferr != nil {
			return ferr
		}
		if c.On == nil {
			return invalidf("on", "on is required")
		}
		return nil
	case "dtmf":
		if ferr := idField("contact_id", c.ContactID); ferr != nil {
			return ferr
		}
		return digits(c.Digits)
	}
	return invalidf("type", "unknown frame type %q", truncate(c.Type, 40))
}

// validateRTC checks an edge's rtc_offer or rtc_state.
func (c *gatewayCommand) validateRTC() *frameError {
	if ferr := firstErr(idField("contact_id", c.ContactID), idField("agent", c.Agent)); ferr != nil {
		return ferr
	}
	if c.Type == "rtc_state" {
		for _, s := range rtcStates {
			if c.State == s {
				return nil
			}
		}
		return invalidf("state", "state must be connected, disconnected, failed or closed")
	}
	return firstErr(session(c.Session), sdp(c.SDP))
}

func session(s string) *frameError {
	if s == "" {
		return invalidf("session", "session is required")
	}
	if len(s) > maxSession || strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != "" {
		return invalidf("session", "session must be 1-%d characters of A-Z a-z 0-9 - _ .", maxSession)
	}
	return nil
}

func sdp(s string) *frameError {
	if s == "" {
		return invalidf("sdp", "sdp is required")
	}
	if len(s) > maxSDP {
		return invalidf("sdp", "sdp is longer than %d bytes", maxSDP)
	}
	if !strings.HasPrefix(s, "v=0") {
		return invalidf("sdp", "sdp must be a session description starting with v=0")
	}
	return nil
}

func digits(d string) *frameError {
	if d == "" {
		return invalidf("digits", "digits is required")
	}
	if len(d) > maxDigits || strings.Trim(d, "0123456789*#ABCD") != "" {
		return invalidf("digits", "digits must be 1-%d of 0-9 * # A-D", maxDigits)
	}
	return nil
}

// softphoneFrame handles an agent's softphone or call-control frame; false
// for any other frame.
func (h *Hub) softphoneFrame(c *conn, cmd agentCommand, ref json.RawMessage) bool {
	var ferr *frameError
	switch cmd.Type {
	case "softphone":
		ferr = h.softphone(c, *cmd.On, cmd.Take)
	case "rtc_answer":
		ferr = h.toCallGateways(c, cmd.Type, cmd.ContactID, true, gatewayRTCAnswerFrame{Type: "rtc_answer",
			ContactID: cmd.ContactID, Agent: c.username, Session: cmd.Session, SDP: cmd.SDP})
	case "rtc_restart":
		ferr = h.toCallGateways(c, cmd.Type, cmd.ContactID, true, gatewayRTCRestartFrame{Type: "rtc_restart",
			ContactID: cmd.ContactID, Agent: c.username})
	case "hold":
		ferr = h.toCallGateways(c, cmd.Type, cmd.ContactID, false, gatewayHoldFrame{Type: "hold",
			ContactID: cmd.ContactID, On: *cmd.On})
	case "dtmf":
		ferr = h.toCallGateways(c, cmd.Type, cmd.ContactID, false, gatewayDTMFFrame{Type: "dtmf",
			ContactID: cmd.ContactID, Digits: cmd.Digits})
	default:
		return false
	}
	if ferr != nil {
		h.replyError(c, ref, ferr)
	} else if ref != nil {
		h.reply(c, ackFrame{Type: "ack", Ref: ref})
	}
	return true
}

// softphone turns the socket's softphone on or off. Turning it on while
// another tab of the agent holds it — its socket open, or replaced by a
// newer tab — and a peer connection carries a call to it (the edge's
// last rtc_state said connected) is refused (softphone_busy) unless take:
// a second tab must not steal a call silently. Otherwise (a reload, a
// dropped connection, a peer already gone) it is taken over without
// asking, and the desk asks the edge for a fresh offer (rtc_restart).
func (h *Hub) softphone(c *conn, on, take bool) *frameError {
	h.mu.Lock()
	defer h.mu.Unlock()
	holder := h.softphones[c.username]
	if !on {
		if holder == c {
			delete(h.softphones, c.username)
		}
		return nil
	}
	if holder == nil || holder == c {
		h.softphones[c.username] = c
		return nil
	}
	live := !holder.stopped || holder.closeCode == CloseReplaced
	calls := h.browserCallsLocked(c.username)
	carried := slices.ContainsFunc(calls, func(id string) bool { return h.peerUp[id] })
	if live && carried && !take {
		return &frameError{Code: CodeSoftphoneBusy,
			Message: "another tab holds the softphone with a call; send take: true to move the call here"}
	}
	h.softphones[c.username] = c
	if !holder.stopped {
		h.enqueueLocked(holder, encode(softphoneMovedFrame{Type: "softphone_moved"}))
	}
	if live && carried {
		// The old tab's peer carries the call: the edge moves it.
		for _, id := range calls {
			h.toCarrierLocked(id, gatewayRTCRestartFrame{Type: "rtc_restart", ContactID: id, Agent: c.username})
		}
	}
	return nil
}

// forgetBrowserLocked forgets a leg's device.
func (h *Hub) forgetBrowserLocked(contactID string) {
	delete(h.browser, contactID)
	delete(h.peerUp, contactID)
}

// browserCallsLocked lists the agent's calls bridged to a browser.
func (h *Hub) browserCallsLocked(agent string) []string {
	var ids []string
	for id, a := range h.browser {
		if a == agent {
			ids = append(ids, id)
		}
	}
	return ids
}

// deviceLocked is where the edge bridges the agent's leg of contactID: a
// phone (their SIP address, "" for the one registered with the edge) or,
// when the agent's current socket holds the softphone, the browser. The
// choice is remembered for the leg (hello, busy checks).
func (h *Hub) deviceLocked(contactID, agent string) (phone string, browser bool) {
	if c := h.softphones[agent]; c != nil && c == h.agents[agent] && !c.stopped {
		h.browser[contactID] = agent
		return "", true
	}
	h.forgetBrowserLocked(contactID)
	return h.phoneOf(agent), false
}

// toCallGateways relays a frame of the agent's socket about one of their
// calls to the gateways carrying it. softphone frames need the socket to
// hold the agent's softphone. A call the agent may see but not act on yet
// or any more (offered to them, or held until it ended) is a conflict, as
// for the router's frames; anything else is not found.
func (h *Hub) toCallGateways(c *conn, frame, contactID string, softphone bool, v any) *frameError {
	cv, err := h.sb.Peek(contactID)
	if err != nil && !errors.Is(err, cases.ErrNotFound) {
		return h.errorOf(err)
	}
	if err != nil || cv.Agent != c.username || cv.Channel == cases.ChannelChat {
		if err == nil {
			h.refusedIDs(c, frame, contactID, "", "")
		}
		return &frameError{Code: CodeNotFound, Field: "contact_id", Message: "contact " + contactID + ": not found"}
	}
	switch {
	case !cv.Status.Live():
		return &frameError{Code: CodeConflict, Field: "contact_id", Message: "the call has ended"}
	case cv.Status != cases.StatusAssigned:
		return &frameError{Code: CodeConflict, Field: "contact_id", Message: "the call is not accepted yet: accept its offer first"}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if softphone && h.softphones[c.username] != c {
		return &frameError{Code: CodeForbidden, Message: "this socket does not hold the softphone; send softphone on first"}
	}
	if !h.toCarrierLocked(contactID, v) {
		return &frameError{Code: CodeUnavailable, Message: "no gateway carrying this call is connected; try again"}
	}
	return nil
}

// toCarrierLocked sends a frame to the gateways carrying a call (an
// interpreter's leg: those of the call it joins, and those of its own
// agency); false if none is connected.
func (h *Hub) toCarrierLocked(contactID string, v any) bool {
	agencies := map[string]bool{}
	if carrier, ok := h.callAgencyLocked(contactID, nil); ok {
		agencies[carrier] = true
	}
	if cv, err := h.sb.Peek(contactID); err == nil && cv.ConferenceOf != "" {
		if carrier, ok := h.callAgencyLocked(cv.ConferenceOf, nil); ok {
			agencies[carrier] = true
		}
	}
	var msg []byte
	sent := false
	for g := range h.gateways {
		if g.login.Agency != "" && !agencies[g.login.Agency] || len(agencies) == 0 {
			continue
		}
		if msg == nil {
			msg = encode(v)
		}
		h.eventToLocked(g, 0, msg)
		sent = true
	}
	return sent
}

// rtcFromGateway relays an edge's rtc_offer or rtc_state to the agent
// holding the call (for an interpreter: their own leg). An offer goes to
// the socket holding the agent's softphone; with none connected it is
// answered conflict, and the edge waits for an rtc_restart.
func (h *Hub) rtcFromGateway(c *conn, ref json.RawMessage, cmd gatewayCommand) {
	ferr := h.gatewayMay(c.login.Agency, cmd.ContactID)
	cv, err := h.sb.Peek(cmd.ContactID)
	if ferr != nil && err == nil && cv.ConferenceOf != "" && h.gatewayMay(c.login.Agency, cv.ConferenceOf) == nil {
		ferr = nil // the call's own gateway bridges its interpreter
	}
	switch {
	case ferr != nil: // worded about the contact named, never the call it joins
	case err != nil:
		ferr = &frameError{Code: CodeNotFound, Message: "contact " + cmd.ContactID + ": not found"}
	case cv.Agent != cmd.Agent || cv.Status != cases.StatusAssigned:
		// Within the gateway's reach: the state is wrong, not the id.
		ferr = &frameError{Code: CodeConflict, Field: "agent",
			Message: "contact " + cmd.ContactID + ": not assigned to " + truncate(cmd.Agent, 40)}
	}
	if ferr != nil {
		if ferr.Code == CodeNotFound {
			h.refusedIDs(c, cmd.Type, cmd.ContactID, "", "")
		}
		h.replyError(c, ref, ferr)
		return
	}
	h.mu.Lock()
	to := h.softphones[cmd.Agent]
	if to == nil || to != h.agents[cmd.Agent] || to.stopped {
		to = nil
	}
	switch {
	case cmd.Type == "rtc_offer" && to != nil:
		h.eventToLocked(to, 0, encode(rtcOfferFrame{Type: "rtc_offer", ContactID: cmd.ContactID, Session: cmd.Session, SDP: cmd.SDP, Held: cmd.Held,
			ICEServers: h.offerICEServers(cmd.Agent)}))
	case cmd.Type == "rtc_offer":
		h.mu.Unlock()
		h.replyError(c, ref, &frameError{Code: CodeConflict, Field: "agent",
			Message: "the agent's softphone is not connected; wait for rtc_restart"})
		return
	default:
		if h.browser[cmd.ContactID] == cmd.Agent {
			h.peerUp[cmd.ContactID] = cmd.State == "connected"
		}
		if to == nil {
			to = h.agents[cmd.Agent]
		}
		if to != nil {
			h.eventToLocked(to, 0, encode(rtcStateFrame{Type: "rtc_state", ContactID: cmd.ContactID, State: cmd.State}))
		}
	}
	h.mu.Unlock()
	if ref != nil {
		h.reply(c, ackFrame{Type: "ack", Ref: ref})
	}
}
