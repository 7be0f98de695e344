package agents

import (
	"bytes"
	"encoding/json"
	"time"

	"tellonce/cases"
)

// Server frames. Each is a struct so that the wire shape is written down in
// one place; docs/protocol.md describes them for clients. The section
// comments below say which sockets get the frames under them:
// TestProtocolDocListsEveryFrame files each frame struct under the comment
// before it and checks that the document lists it for those sockets.

// Frames to any client.

type ackFrame struct {
	Type string          `json:"type"` // "ack"
	Ref  json.RawMessage `json:"ref"`
}

type errorFrame struct {
	Type    string          `json:"type"` // "error"
	Ref     json.RawMessage `json:"ref,omitempty"`
	Code    string          `json:"code"`
	Message string          `json:"message"`
	Field   string          `json:"field,omitempty"`
}

// Frames to agents.

// agentJSON is the agent in a hello frame.
type agentJSON struct {
	Username string `json:"username"`
	Name     string `json:"name"`
	Agency   string `json:"agency"`
	State    string `json:"state"`
	// Chosen is the state the agent picked (available, break, offline or
	// not_ready), which a busy or wrap-up state hides; the desk shows it.
	Chosen   string `json:"chosen"`
	Reason   string `json:"reason,omitempty"`
	MaxChats int    `json:"max_chats"`
}

type assignmentJSON struct {
	Contact ContactJSON `json:"contact"`
	Case    CaseJSON    `json:"case"`
	// History is the caller's earlier cases (a returning caller only).
	History []PastCaseJSON `json:"history,omitempty"`
}

type helloFrame struct {
	Type     string           `json:"type"` // "hello"
	Agent    agentJSON        `json:"agent"`
	State    string           `json:"state"`
	Contacts []assignmentJSON `json:"contacts"`
	// Offers are the agent's pending offers, each exactly as an offer
	// frame, so a reconnect (or a replacing tab) restores them too.
	Offers []offerFrame `json:"offers"`
	// ICEServers are the STUN/TURN servers the desk's softphone uses
	// (Config.ICEServers); empty on loopback and a LAN.
	ICEServers []ICEServer `json:"ice_servers"`
}

// ICEServer is one STUN or TURN server as a browser's RTCIceServer takes
// it.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

type offerFrame struct {
	Type      string      `json:"type"` // "offer"
	OfferID   string      `json:"offer_id"`
	Contact   ContactJSON `json:"contact"`
	Case      CaseJSON    `json:"case"`
	ExpiresAt time.Time   `json:"expires_at"`
	// History is the caller's earlier cases, newest first (a returning
	// caller with an asserted identity only).
	History []PastCaseJSON `json:"history,omitempty"`
}

type offerRevokedFrame struct {
	Type    string `json:"type"` // "offer_revoked"
	OfferID string `json:"offer_id"`
	Reason  string `json:"reason"`
}

type assignedFrame struct {
	Type    string      `json:"type"` // "assigned"
	Contact ContactJSON `json:"contact"`
	Case    CaseJSON    `json:"case"`
	// History: as the offer's.
	History []PastCaseJSON `json:"history,omitempty"`
}

type agentMessageFrame struct {
	Type      string    `json:"type"` // "message"
	ContactID string    `json:"contact_id"`
	CaseID    string    `json:"case_id"`
	From      string    `json:"from"`            // "agent" or "citizen"
	Agent     string    `json:"agent,omitempty"` // the author's username when from an agent
	Text      string    `json:"text"`
	At        time.Time `json:"at"`
}

type transcriptFrame struct {
	Type      string    `json:"type"` // "transcript"
	ContactID string    `json:"contact_id"`
	CaseID    string    `json:"case_id"`
	Speaker   string    `json:"speaker"`
	Text      string    `json:"text"`
	At        time.Time `json:"at"`
}

type noteFrame struct {
	Type   string `json:"type"` // "note"
	CaseID string `json:"case_id"`
	Agent  string `json:"agent"`
	// Agency is the author's: another agency's internal note reads as such.
	Agency string    `json:"agency,omitempty"`
	Text   string    `json:"text"`
	At     time.Time `json:"at"`
}

type contactEndedFrame struct {
	Type      string `json:"type"` // "contact_ended"
	ContactID string `json:"contact_id"`
	Reason    string `json:"reason"`
}

type transferFailedFrame struct {
	Type      string `json:"type"` // "transfer_failed"
	ContactID string `json:"contact_id"`
	Reason    string `json:"reason"`
}

// interpreterFrame tells an agent how the interpreter of their contact
// stands: requested, joined or left.
type interpreterFrame struct {
	Type                 string `json:"type"` // "interpreter"
	ContactID            string `json:"contact_id"`
	State                string `json:"state"`
	InterpreterContactID string `json:"interpreter_contact_id"`
	Interpreter          string `json:"interpreter,omitempty"`
	InterpreterName      string `json:"interpreter_name,omitempty"`
	Language             string `json:"language,omitempty"`
	// Queue is the interpreter queue the leg waits in or was answered from.
	Queue string `json:"queue,omitempty"`
}

// callbackResultFrame tells the agent on a callback how the call went.
type callbackResultFrame struct {
	Type      string `json:"type"` // "callback_result"
	ContactID string `json:"contact_id"`
	Result    string `json:"result"`
	Attempt   string `json:"attempt"`
}

type stateFrame struct {
	Type   string `json:"type"` // "state"
	State  string `json:"state"`
	Reason string `json:"reason"`
}

// rtcOfferFrame carries the edge's SDP offer for the agent's browser
// softphone (all candidates in it: ICE is not trickled).
type rtcOfferFrame struct {
	Type      string `json:"type"` // "rtc_offer"
	ContactID string `json:"contact_id"`
	Session   string `json:"session"`
	SDP       string `json:"sdp"`
	// Held says the call is on hold, so a desk reloaded meanwhile shows
	// it held (and offers Resume).
	Held bool `json:"held,omitempty"`
	// ICEServers, with minted TURN credentials, are fresh ones for this
	// peer connection (hello's may have expired on a desk open all day).
	ICEServers []ICEServer `json:"ice_servers,omitempty"`
}

// rtcStateFrame tells the desk how the edge sees its peer connection.
type rtcStateFrame struct {
	Type      string `json:"type"` // "rtc_state"
	ContactID string `json:"contact_id"`
	State     string `json:"state"`
}

// softphoneMovedFrame tells a socket that another tab of the agent took
// the softphone: drop the peer connection.
type softphoneMovedFrame struct {
	Type string `json:"type"` // "softphone_moved"
}

// Frames to citizens.

type queuedFrame struct {
	Type           string `json:"type"` // "queued"
	Position       int    `json:"position"`
	EstimatedWaitS int    `json:"estimated_wait_s"`
	Light          string `json:"light"`
	// CallbackOffered: the queue takes callbacks and the estimate passes
	// its callback_after_s, so the citizen may ask to be called back.
	CallbackOffered bool `json:"callback_offered"`
}

// citizenCallbackFrame confirms a callback: kept place or booked time.
type citizenCallbackFrame struct {
	Type string     `json:"type"` // "callback"
	Mode string     `json:"mode"` // "keep_place", "slot" or "retry" (at: the next try)
	At   *time.Time `json:"at,omitempty"`
}

// citizenInterpreterFrame tells the citizen an interpreter joined or left.
type citizenInterpreterFrame struct {
	Type      string `json:"type"` // "interpreter"
	State     string `json:"state"`
	AgentName string `json:"agent_name"`
	Language  string `json:"language,omitempty"`
}

type agentJoinedFrame struct {
	Type      string `json:"type"` // "agent_joined"
	AgentName string `json:"agent_name"`
	Agency    string `json:"agency"`
}

type citizenMessageFrame struct {
	Type      string    `json:"type"` // "message"
	From      string    `json:"from"` // "agent" or "citizen"
	AgentName string    `json:"agent_name,omitempty"`
	Text      string    `json:"text"`
	At        time.Time `json:"at"`
}

type transferredFrame struct {
	Type      string `json:"type"` // "transferred"
	Agency    string `json:"agency"`
	QueueName string `json:"queue_name"`
}

type endedFrame struct {
	Type   string `json:"type"` // "ended"
	Reason string `json:"reason"`
	// CaseToken lets the citizen continue the case later from a new
	// contact (Config.CaseToken); empty when the hub has none.
	CaseToken string `json:"case_token,omitempty"`
}

// Frames to gateways.

// gatewayHelloFrame is a gateway's first frame on every connect: the live
// calls in its scope, so that a reconnecting gateway learns what it missed.
type gatewayHelloFrame struct {
	Type  string            `json:"type"` // "hello"
	Calls []gatewayCallJSON `json:"calls"`
}

type gatewayCallJSON struct {
	ContactID string `json:"contact_id"`
	CaseID    string `json:"case_id"`
	Queue     string `json:"queue"`
	Agency    string `json:"agency"`
	Channel   string `json:"channel"`
	Status    string `json:"status"`
	Agent     string `json:"agent,omitempty"`  // while assigned
	Phone     string `json:"phone,omitempty"`  // the agent's SIP address, while assigned
	Number    string `json:"number,omitempty"` // callbacks
	// Browser: the agent takes the call in the desk's softphone, while
	// assigned (Phone is then empty).
	Browser bool `json:"browser,omitempty"`
}

// connectFrame asks the gateway to bridge a voice call to its agent:
// Phone is the agent's SIP address (none: the phone the agent registered
// with the edge under their username); Queue and Agency are the leg's, for
// what the edge tells the caller ("connecting you to …").
type connectFrame struct {
	Type      string `json:"type"` // "connect"
	ContactID string `json:"contact_id"`
	Agent     string `json:"agent"`
	Phone     string `json:"phone,omitempty"`
	Queue     string `json:"queue"`
	Agency    string `json:"agency"`
	// Browser: bridge to the agent's desk softphone over WebRTC (rtc_offer)
	// rather than to a phone; Phone is then empty.
	Browser bool `json:"browser,omitempty"`
}

type dialFrame struct {
	Type      string `json:"type"` // "dial"
	ContactID string `json:"contact_id"`
	CaseID    string `json:"case_id"`
	Queue     string `json:"queue"`
	Number    string `json:"number"`
	Agent     string `json:"agent"`
	Phone     string `json:"phone,omitempty"`
	Browser   bool   `json:"browser,omitempty"` // as connect's
}

// conferenceFrame asks the gateway to bridge an interpreter into the call
// of contact_id (type "conference"), or to drop them ("conference_ended").
type conferenceFrame struct {
	Type                 string `json:"type"`
	ContactID            string `json:"contact_id"`
	InterpreterContactID string `json:"interpreter_contact_id"`
	Agent                string `json:"agent,omitempty"`
	Phone                string `json:"phone,omitempty"`   // the interpreter's SIP address, on conference
	Browser              bool   `json:"browser,omitempty"` // on conference: the interpreter's desk softphone
}

type hangupFrame struct {
	Type      string `json:"type"` // "hangup"
	ContactID string `json:"contact_id"`
}

// gatewayTransferredFrame tells the gateway that the call it carries now
// belongs to a new contact (a transfer leg): the next connect names it.
type gatewayTransferredFrame struct {
	Type         string `json:"type"` // "transferred"
	ContactID    string `json:"contact_id"`
	NewContactID string `json:"new_contact_id"`
}

// gatewayRTCAnswerFrame relays a browser agent's SDP answer.
type gatewayRTCAnswerFrame struct {
	Type      string `json:"type"` // "rtc_answer"
	ContactID string `json:"contact_id"`
	Agent     string `json:"agent"`
	Session   string `json:"session"`
	SDP       string `json:"sdp"`
}

// gatewayRTCRestartFrame asks the edge for a fresh offer to the agent's
// (new) softphone socket.
type gatewayRTCRestartFrame struct {
	Type      string `json:"type"` // "rtc_restart"
	ContactID string `json:"contact_id"`
	Agent     string `json:"agent"`
}

// gatewayHoldFrame puts the agent's call on hold or takes it off.
type gatewayHoldFrame struct {
	Type      string `json:"type"` // "hold"
	ContactID string `json:"contact_id"`
	On        bool   `json:"on"`
}

// gatewayDTMFFrame asks the edge to send digits to the caller.
type gatewayDTMFFrame struct {
	Type      string `json:"type"` // "dtmf"
	ContactID string `json:"contact_id"`
	Digits    string `json:"digits"`
}

// encode marshals a frame. The frames hold only strings, numbers, times and
// maps of strings, so marshalling cannot fail; HTML escaping is off
// because no browser parses these frames as HTML.
func encode(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic("agents: unencodable frame: " + err.Error())
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

func agentOf(v cases.AgentView) agentJSON {
	return agentJSON{Username: v.Username, Name: v.Name, Agency: v.Agency, State: string(v.State),
		Chosen: string(v.Chosen), Reason: v.Reason, MaxChats: v.MaxChats}
}

func offerOf(offerID string, expires time.Time, c cases.ContactView, cs cases.CaseView) offerFrame {
	return offerFrame{Type: "offer", OfferID: offerID, Contact: ContactOf(c), Case: CaseOf(cs), ExpiresAt: expires.UTC(),
		History: historyOf(cs.History)}
}
