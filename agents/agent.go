package agents

import (
	"context"
	"net/http"

	"github.com/gorilla/websocket"

	"tellonce/auth"
	"tellonce/cases"
)

// ServeAgent runs an agent's console socket (GET /v1/agent/ws); web has
// authenticated the agent already. The first frame is always hello, with
// the desk the router restored (contacts kept through the reconnect grace,
// pending offers). A newer socket of the same agent replaces this one;
// the end of p's login closes it (see SignOut). Without p's pii
// permission, phone, card and account numbers are masked on this socket.
func (h *Hub) ServeAgent(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	ws, ok := h.upgrade(w, r)
	if !ok {
		return
	}
	c := h.newConn(ws, kindAgent)
	c.username, c.login, c.addr = p.Username, p, h.clientAddr(r)
	c.pii = p.PII
	if !h.startAgent(c) {
		return
	}
	h.serve(c, h.handleAgentFrame)
}

// startAgent registers the connection (replacing an older one), connects
// the agent in the router and queues hello ahead of every later frame.
func (h *Hub) startAgent(c *conn) bool {
	h.presence.Lock()
	defer h.presence.Unlock()

	h.mu.Lock()
	if !h.addLocked(c) {
		h.mu.Unlock()
		return false
	}
	if old := h.agents[c.username]; old != nil {
		h.stopLocked(old, CloseReplaced, "replaced by a newer connection", true)
	}
	h.agents[c.username] = c // events from now on reach c, held until hello
	h.mu.Unlock()

	desk, seq, err := h.sb.Connect(c.username)
	if err != nil {
		h.log.Warn("agent connect refused", "agent", c.username, "err", err)
		h.mu.Lock()
		h.stopLocked(c, websocket.ClosePolicyViolation, "unknown agent", false)
		h.mu.Unlock()
		return true // serve lets the writer send the close and unregisters
	}
	c.connected = true
	hello := encode(maskedFrame(h.helloOf(desk), c.pii))

	h.mu.Lock()
	defer h.mu.Unlock()
	h.readyLocked(c, seq, hello)
	return true
}

// readyLocked sends an agent's or gateway's hello, which reflects the
// events up to seq, then the event frames held meanwhile that it does not
// reflect.
func (h *Hub) readyLocked(c *conn, seq uint64, hello []byte) {
	c.ready, c.helloSeq = true, seq
	h.enqueueLocked(c, hello)
	for _, p := range c.pending {
		if p.seq > seq { // earlier events are in the hello already
			h.enqueueLocked(c, p.msg)
		}
	}
	c.pending = nil
}

// helloOf builds the hello frame from a desk. Pending offers are read back
// from the router; one that has gone meanwhile is left out (its
// offer_revoked frame follows anyway).
func (h *Hub) helloOf(desk cases.Desk) helloFrame {
	f := helloFrame{Type: "hello", Agent: agentOf(desk.Agent), State: string(desk.Agent.State),
		Contacts: make([]assignmentJSON, 0, len(desk.Contacts)), Offers: make([]offerFrame, 0, len(desk.Offers)),
		ICEServers: h.iceServers(desk.Agent.Username)}
	for _, a := range desk.Contacts {
		f.Contacts = append(f.Contacts, assignmentJSON{Contact: ContactOf(a.Contact), Case: CaseOf(a.Case),
			History: historyOf(a.Case.History)})
	}
	for _, o := range desk.Offers {
		cv, err := h.sb.Peek(o.ContactID)
		if err != nil {
			continue
		}
		// As the live offer showed it: an interpreter's leg carries the
		// interpreter's view only.
		cs, err := h.sb.OfferCase(cv.ID)
		if err != nil {
			continue
		}
		f.Offers = append(f.Offers, offerOf(o.ID, o.ExpiresAt, cv, cs))
	}
	return f
}

// handleAgentFrame runs one agent frame through the switchboard and
// answers it.
func (h *Hub) handleAgentFrame(c *conn, data []byte) {
	cmd, ref, ferr := decodeAgentFrame(data)
	if ferr != nil {
		h.replyError(c, ref, ferr)
		return
	}
	if h.softphoneFrame(c, cmd, ref) {
		return
	}
	ctx, cancel := h.ackContext()
	defer cancel()
	err := h.runAgentCommand(ctx, c.username, cmd)
	if err != nil {
		h.refused(c, cmd.Type, cmd.ContactID, cmd.CaseID, cmd.OfferID, err)
	}
	h.answer(c, ref, err)
}

func (h *Hub) runAgentCommand(ctx context.Context, username string, cmd agentCommand) error {
	sb := h.sb
	switch cmd.Type {
	case "state":
		return sb.SetState(ctx, username, cases.AgentState(cmd.State), cmd.Reason)
	case "accept":
		return sb.Accept(ctx, username, cmd.OfferID)
	case "decline":
		return sb.Decline(ctx, username, cmd.OfferID, cmd.Reason)
	case "say":
		return sb.AgentSay(ctx, username, cmd.ContactID, cmd.Text)
	case "note":
		return sb.Note(ctx, username, cmd.CaseID, cmd.Text)
	case "transfer":
		to := cases.Target{Queue: cmd.To.Queue, Agent: cmd.To.Agent}
		return sb.Transfer(ctx, username, cmd.ContactID, to, cases.TransferMode(cmd.Mode), cmd.Note)
	case "end":
		if cmd.Callback != nil {
			return sb.EndWithCallback(ctx, username, cmd.ContactID, cases.FollowUp{Queue: cmd.Callback.Queue,
				Number: cmd.Callback.Number, Note: cmd.Callback.Note, Summary: cmd.Summary})
		}
		return sb.End(ctx, username, cmd.ContactID, cmd.Disposition, cmd.Summary)
	case "interpret":
		return sb.Interpret(ctx, username, cmd.ContactID, cases.InterpretRequest{
			Language: cmd.Language, Note: cmd.Note, ShareHistory: cmd.ShareHistory})
	case "interpreter_release":
		return sb.ReleaseInterpreter(ctx, username, cmd.ContactID)
	case "callback_result":
		return sb.CallbackResult(ctx, username, cmd.ContactID, cmd.Result)
	}
	// decodeAgentFrame only returns the types above.
	panic("agents: unhandled agent frame " + cmd.Type)
}

// toAgentLocked sends an event's frame to the agent's current socket,
// masked for what the agent may see. seq is the router event's; 0 for
// frames not tied to one.
func (h *Hub) toAgentLocked(username string, seq uint64, v any) {
	c := h.agents[username]
	if c == nil {
		return
	}
	h.eventToLocked(c, seq, encode(maskedFrame(v, c.pii)))
}

// eventToLocked sends an event's frame to an agent or gateway connection:
// held until its hello is sent, and dropped if the hello reflects it.
func (h *Hub) eventToLocked(c *conn, seq uint64, msg []byte) {
	if !c.ready {
		if len(c.pending) >= h.cfg.SendBuffer {
			h.cutLocked(c)
			return
		}
		c.pending = append(c.pending, pendingFrame{seq: seq, msg: msg})
		return
	}
	if seq != 0 && seq <= c.helloSeq {
		return
	}
	h.enqueueLocked(c, msg)
}
