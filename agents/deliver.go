package agents

import (
	"strings"

	"github.com/gorilla/websocket"

	"tellonce/cases"
)

// Deliver maps committed router events to frames for the connected agents,
// citizens and gateways. It is called after each commit, in commit order,
// never concurrently with itself. It never blocks: frames are queued, and a
// connection that cannot take one more is cut.
//
// Events may be delivered a little after their commit, so the few router
// reads here (positions, display names, a case's legs) see the state as it
// is now; every frame they feed is a refresh that is right at that moment.
func (h *Hub) Deliver(evs []cases.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range evs {
		h.deliverLocked(&evs[i])
	}
}

func (h *Hub) deliverLocked(e *cases.Event) {
	switch e.Type {
	case cases.EventContactCreated:
		// An interpreter's voice leg is bridged into the citizen's call,
		// not a call of its own.
		if e.Contact != nil && e.Contact.Channel != cases.ChannelChat && e.Contact.ConferenceOf == "" {
			h.calls[e.ContactID] = e.Contact.Agency
		}
	case cases.EventQueued, cases.EventQueueChanged:
		h.queueMovedLocked(e.Queue)
	case cases.EventOffered:
		h.offeredLocked(e)
	case cases.EventOfferRevoked, cases.EventDeclined, cases.EventOfferTimeout:
		h.withdrawnLocked(e)
	case cases.EventAccepted:
		h.acceptedLocked(e)
	case cases.EventMessage:
		h.messageLocked(e)
	case cases.EventTranscript:
		speaker, author := splitActor(e.Actor)
		interp := e.Data["interpreter"]
		if speaker == "agent" && interp != "" && author == interp {
			speaker = "interpreter"
		}
		f := transcriptFrame{Type: "transcript", ContactID: e.ContactID, CaseID: e.CaseID, Speaker: speaker,
			Text: e.Text, At: e.At.UTC()}
		h.toAgentLocked(e.Agent, e.Seq, f)
		if interp != "" {
			f.ContactID = e.Data["interpreter_contact_id"]
			h.toAgentLocked(interp, e.Seq, f)
		}
	case cases.EventNote:
		h.noteLocked(e)
	case cases.EventTransferred:
		h.transferredLocked(e)
	case cases.EventTransferFailed:
		h.toAgentLocked(e.Agent, e.Seq, transferFailedFrame{Type: "transfer_failed", ContactID: e.ContactID, Reason: e.Reason})
	case cases.EventEnded, cases.EventAbandoned:
		h.endedLocked(e)
	case cases.EventRequeued:
		// The agent lost the contact after the reconnect grace; the
		// citizen is waiting again and hears the position from the
		// queue_changed event that follows.
		// A callback nobody answered is requeued too, to be tried again:
		// the reason says which.
		h.forgetBrowserLocked(e.ContactID)
		reason := "requeued"
		if d := e.Data["disposition"]; d != "" {
			reason = d
		}
		h.toAgentLocked(e.Agent, e.Seq, contactEndedFrame{Type: "contact_ended", ContactID: e.ContactID, Reason: reason})
		for c := range h.citizens[e.ContactID] {
			c.assigned = false
		}
		// A callback to try again later: the citizen hears when, not that
		// an agent is still calling.
		if f, ok := retryFrame(e.Contact); ok {
			h.toCitizensLocked(e.ContactID, f)
		}
	case cases.EventAgentState:
		h.agentStateLocked(e)
	case cases.EventInterpreter:
		h.interpreterLocked(e)
	case cases.EventCallbackRequested:
		h.callbackRequestedLocked(e)
	case cases.EventCallbackAttempt:
		h.toAgentLocked(e.Agent, e.Seq, callbackResultFrame{Type: "callback_result", ContactID: e.ContactID,
			Result: e.Reason, Attempt: caseData(e, "attempt")})
	case cases.EventCallbackDue:
		h.queueMovedLocked(e.Queue)
	}
}

// retryFrame is the callback frame of a callback whose call went
// unanswered and that waits to be tried again at its due time.
func retryFrame(cv *cases.ContactView) (citizenCallbackFrame, bool) {
	if cv == nil || cv.Status != cases.StatusScheduled || cv.Attempts == 0 {
		return citizenCallbackFrame{}, false
	}
	at := cv.Due.UTC()
	return citizenCallbackFrame{Type: "callback", Mode: "retry", At: &at}, true
}

func caseData(e *cases.Event, key string) string {
	if e.CaseEvent == nil {
		return ""
	}
	return e.CaseEvent.Data[key]
}

// interpreterLocked tells the contact's agent, its citizen and (for a
// call) its gateway how the interpreter stands.
func (h *Hub) interpreterLocked(e *cases.Event) {
	interp, legID := e.Data["interpreter"], e.Data["interpreter_contact_id"]
	name := interp
	if interp != "" {
		if a, err := h.sb.Agent(interp); err == nil && a.Name != "" {
			name = a.Name
		}
	}
	h.toAgentLocked(e.Agent, e.Seq, interpreterFrame{Type: "interpreter", ContactID: e.ContactID, State: e.Reason,
		InterpreterContactID: legID, Interpreter: interp, InterpreterName: name, Language: e.Data["language"], Queue: e.Queue})
	if e.Reason == cases.InterpreterRequested {
		return
	}
	h.toCitizensLocked(e.ContactID, citizenInterpreterFrame{Type: "interpreter", State: e.Reason,
		AgentName: name, Language: e.Data["language"]})
	if carrier, isCall := h.callAgencyLocked(e.ContactID, nil); isCall {
		typ := "conference"
		if e.Reason == cases.InterpreterLeft {
			typ = "conference_ended"
		}
		f := conferenceFrame{Type: typ, ContactID: e.ContactID, InterpreterContactID: legID, Agent: interp}
		if typ == "conference" {
			f.Phone, f.Browser = h.deviceLocked(legID, interp)
		} else {
			h.forgetBrowserLocked(legID)
		}
		h.toGatewaysLocked(carrier, e.Seq, f)
	}
}

// callbackRequestedLocked confirms a callback to the citizen and, for a
// chat that became a callback, starts treating it as a call, so the
// gateway dials it when an agent accepts.
func (h *Hub) callbackRequestedLocked(e *cases.Event) {
	if e.Contact == nil {
		return
	}
	if _, ok := h.calls[e.ContactID]; !ok {
		h.calls[e.ContactID] = e.Contact.Agency
	}
	f := citizenCallbackFrame{Type: "callback", Mode: e.Reason}
	if !e.Contact.Due.IsZero() {
		at := e.Contact.Due.UTC()
		f.At = &at
	}
	for c := range h.citizens[e.ContactID] {
		c.callback = true
	}
	h.toCitizensLocked(e.ContactID, f)
	h.queueMovedLocked(e.Queue)
}

func (h *Hub) offeredLocked(e *cases.Event) {
	h.offers[e.ContactID] = pendingOffer{agent: e.Agent, offerID: e.OfferID, caseID: e.CaseID}
	if e.Contact == nil || e.Case == nil {
		return
	}
	h.toAgentLocked(e.Agent, e.Seq, offerOf(e.OfferID, e.ExpiresAt, *e.Contact, *e.Case))
}

// withdrawnLocked handles an offer that is gone without an accept.
func (h *Hub) withdrawnLocked(e *cases.Event) {
	if po, ok := h.offers[e.ContactID]; ok && po.offerID == e.OfferID {
		delete(h.offers, e.ContactID)
	}
	reason := e.Reason
	switch e.Type {
	case cases.EventDeclined:
		reason = "declined"
	case cases.EventOfferTimeout:
		reason = "offer_timeout"
	}
	h.toAgentLocked(e.Agent, e.Seq, offerRevokedFrame{Type: "offer_revoked", OfferID: e.OfferID, Reason: reason})
}

func (h *Hub) acceptedLocked(e *cases.Event) {
	delete(h.offers, e.ContactID)
	if e.Contact != nil && e.Case != nil {
		h.toAgentLocked(e.Agent, e.Seq, assignedFrame{Type: "assigned", Contact: ContactOf(*e.Contact), Case: CaseOf(*e.Case),
			History: historyOf(e.Case.History)})
	}
	if conns := h.citizens[e.ContactID]; len(conns) > 0 {
		agency := ""
		if e.Contact != nil {
			agency = e.Contact.Agency
		}
		msg := encode(h.agentJoined(e.Agent, agency))
		for c := range conns {
			// A citizen who connected after the accept was made but before
			// its event got here heard agent_joined on connect already.
			if c.assigned {
				continue
			}
			c.assigned, c.lastQueued = true, queuedFrame{} // a requeue must be told again
			h.enqueueLocked(c, msg)
		}
	}
	carrier, isCall := h.callAgencyLocked(e.ContactID, e.Contact)
	if !isCall || e.Contact == nil {
		return
	}
	phone, browser := h.deviceLocked(e.ContactID, e.Agent)
	if e.Contact.Channel == cases.ChannelCallback {
		h.toGatewaysLocked(carrier, e.Seq, dialFrame{Type: "dial", ContactID: e.ContactID, CaseID: e.CaseID,
			Queue: e.Contact.Queue, Number: e.Contact.CallbackNumber, Agent: e.Agent, Phone: phone, Browser: browser})
		return
	}
	h.toGatewaysLocked(carrier, e.Seq, connectFrame{Type: "connect", ContactID: e.ContactID, Agent: e.Agent,
		Phone: phone, Queue: e.Contact.Queue, Agency: e.Contact.Agency, Browser: browser})
}

// messageLocked sends a message of a contact to its agent, its joined
// interpreter (on the interpreter's own leg) and its citizen. An
// interpreter's words say from "interpreter".
func (h *Hub) messageLocked(e *cases.Event) {
	from, author := splitActor(e.Actor)
	interp := e.Data["interpreter"]
	if from == "agent" && interp != "" && author == interp {
		from = "interpreter"
	}
	at := e.At.UTC()
	f := agentMessageFrame{Type: "message", ContactID: e.ContactID, CaseID: e.CaseID, From: from, Text: e.Text, At: at}
	if from != "citizen" {
		f.Agent = author
	}
	if e.Agent != "" {
		h.toAgentLocked(e.Agent, e.Seq, f)
	}
	if interp != "" {
		f.ContactID = e.Data["interpreter_contact_id"]
		h.toAgentLocked(interp, e.Seq, f)
	}
	if len(h.citizens[e.ContactID]) == 0 {
		return
	}
	cf := citizenMessageFrame{Type: "message", From: from, Text: e.Text, At: at}
	if from != "citizen" {
		cf.AgentName = author
		if a, err := h.sb.Agent(author); err == nil && a.Name != "" {
			cf.AgentName = a.Name
		}
	}
	h.toCitizensLocked(e.ContactID, cf)
}

// noteLocked shares an internal note with the agents now on the case: the
// author, agents holding one of its live legs and agents it is offered to.
// Notes never reach citizens, nor interpreters: they interpret, and may
// work for another agency.
func (h *Hub) noteLocked(e *cases.Event) {
	to := map[string]struct{}{e.Agent: {}}
	interpreting := map[string]bool{} // interpreter legs' contact ids
	if cs, err := h.sb.Case(e.CaseID); err == nil {
		for _, l := range cs.Legs {
			if l.Interpreter {
				interpreting[l.ContactID] = true
				continue
			}
			if l.Agent != "" && l.EndedAt.IsZero() {
				to[l.Agent] = struct{}{}
			}
		}
	}
	for contactID, po := range h.offers {
		if po.caseID == e.CaseID && !interpreting[contactID] {
			to[po.agent] = struct{}{}
		}
	}
	f := noteFrame{Type: "note", CaseID: e.CaseID, Agent: e.Agent, Text: e.Text, At: e.At.UTC()}
	if e.CaseEvent != nil {
		f.Agency = e.CaseEvent.Data["agency"]
	}
	for u := range to {
		h.toAgentLocked(u, e.Seq, f)
	}
}

// transferredLocked moves the citizen and the call to the new leg when a
// transfer hands over: a cold transfer at once, a warm one when the target
// accepts. A warm transfer just started (its new leg is pending, WarmOf
// set) changes nothing for them yet.
//
// A callback filed by the agent (Reason "callback") moves nobody: the
// citizen heard ended and the call was hung up; the callback is a new call.
func (h *Hub) transferredLocked(e *cases.Event) {
	if (e.Contact != nil && e.Contact.WarmOf != "") || e.Reason == "callback" {
		return
	}
	newID, queue := e.Data["new_contact_id"], e.Data["queue"]
	if newID == "" {
		return
	}
	if conns := h.citizens[e.ContactID]; len(conns) > 0 {
		name := e.Data["queue_name"]
		if name == "" {
			if q, err := h.sb.Queue(queue); err == nil {
				name = q.Name
			}
		}
		f := encode(transferredFrame{Type: "transferred", Agency: e.Data["agency"], QueueName: name})
		for c := range conns {
			h.detachCitizenLocked(c)
			h.attachCitizenLocked(c, newID, queue)
			c.assigned, c.lastQueued = false, queuedFrame{}
			h.enqueueLocked(c, f)
		}
	}
	h.forgetBrowserLocked(e.ContactID) // the new leg's accept chooses its device
	if carrier, isCall := h.callAgencyLocked(e.ContactID, nil); isCall {
		h.toGatewaysLocked(carrier, e.Seq, gatewayTransferredFrame{Type: "transferred", ContactID: e.ContactID, NewContactID: newID})
		h.calls[newID] = carrier
		delete(h.calls, e.ContactID)
	}
}

// heldLeg reports whether the ended contact's agent ever held its leg. A
// leg that ends unanswered after its offer was withdrawn (a warm
// transfer's leg its target declined, then cancelled) names the agent it
// was last offered to, whose desk heard offer_revoked and never showed
// the contact: a contact_ended would be about a contact it never had.
func heldLeg(e *cases.Event) bool {
	return e.Contact == nil || !e.Contact.AnsweredAt.IsZero()
}

// endedLocked handles a contact that ended: by its agent (EventEnded with
// the disposition as reason), by a transfer (reason "transferred"), by the
// router (a warm-transfer leg), or by the caller leaving (EventAbandoned).
//
// A call the edge reports ended by a phone (Data "reason": the caller's or
// the agent's hangup) is not hung up again. The agent hears a caller's
// hangup as "abandoned", as before calls in progress ended rather than
// were abandoned: the desk says the caller left.
func (h *Hub) endedLocked(e *cases.Event) {
	h.forgetBrowserLocked(e.ContactID)
	byPhone := e.Data["reason"]
	if po, ok := h.offers[e.ContactID]; ok {
		delete(h.offers, e.ContactID)
		h.toAgentLocked(po.agent, e.Seq, offerRevokedFrame{Type: "offer_revoked", OfferID: po.offerID, Reason: e.Reason})
	} else if e.Agent != "" && heldLeg(e) {
		reason := e.Reason
		if byPhone == cases.EndCallerHangup {
			reason = "abandoned"
		}
		h.toAgentLocked(e.Agent, e.Seq, contactEndedFrame{Type: "contact_ended", ContactID: e.ContactID, Reason: reason})
	}
	if e.Reason == "transferred" {
		return // the transferred event moves the citizen and the call
	}
	if e.Contact != nil && e.Contact.ConferenceOf != "" {
		return // an interpreter's leg: the interpreter event tells the others
	}
	// A contact abandoned by the centre (an agent, a supervisor ending it
	// over REST) is not the caller leaving: the citizen hears it closed,
	// and the gateway hangs the call up.
	byCentre := e.Type == cases.EventAbandoned && endedByCentre(e.Actor)
	reason := "completed"
	switch {
	case byCentre:
		reason = "closed"
	case e.Type == cases.EventAbandoned, byPhone == cases.EndCallerHangup:
		reason = "left"
	case e.Reason == "callback_filed":
		reason = "callback"
	}
	h.endCitizensLocked(e.ContactID, reason)

	carrier, isCall := h.callAgencyLocked(e.ContactID, e.Contact)
	delete(h.calls, e.ContactID)
	// The gateway hangs up calls the agent side ended; a warm-transfer leg
	// that ends ("transfer_…") was never bridged, and after an abandon the
	// caller is gone already.
	if isCall && byPhone == "" && (e.Type == cases.EventEnded && !strings.HasPrefix(e.Reason, "transfer_") || byCentre) {
		h.toGatewaysLocked(carrier, e.Seq, hangupFrame{Type: "hangup", ContactID: e.ContactID})
	}
}

// endedByCentre says whether the actor who ended a contact is the
// centre's staff rather than the caller or the line carrying them.
func endedByCentre(actor string) bool {
	role, _, _ := strings.Cut(actor, ":")
	return role == "agent" || role == "supervisor" || role == "admin"
}

func (h *Hub) agentStateLocked(e *cases.Event) {
	if e.AgentView == nil {
		return
	}
	h.toAgentLocked(e.Agent, e.Seq, stateFrame{Type: "state", State: string(e.AgentView.State), Reason: e.Reason})
	if e.Reason == "removed" {
		if c := h.agents[e.Agent]; c != nil {
			h.stopLocked(c, websocket.ClosePolicyViolation, "agent removed", true)
		}
	}
}

// splitActor splits "agent:kim" into ("agent", "kim").
func splitActor(actor string) (role, name string) {
	role, name, _ = strings.Cut(actor, ":")
	return role, name
}
