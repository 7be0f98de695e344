// Package agents runs tellonce's WebSocket sessions — agents' consoles,
// citizens' chats and telephony gateways — on top of the router: it turns
// client frames into router calls and router events into frames.
//
// # Connections
//
// Each socket has exactly one reader (the HTTP handler's goroutine) and one
// writer goroutine, as in gorilla's chat example: a read limit, a read
// deadline that pongs extend, a write deadline before every write, pings on
// a ticker and a bounded send buffer. Deliver never waits for a client: a
// connection whose buffer is full is closed with 1013 "too slow" (it
// reconnects and gets a fresh hello). The writer ends when the hub stops
// the connection or a write fails, and closes the socket, which ends the
// reader; the handler returns when both are done. Shutdown closes every
// socket with 1001 "server shutting down".
//
// A newer socket of the same agent replaces the older one, which is closed
// with 4001 "replaced by a newer connection" and does not start the
// reconnect grace. When the current agent socket drops, the hub calls
// router.Disconnect and the router runs the grace.
//
// An agent's or gateway's socket follows the login it was opened with.
// When that ends — a logout (EndSession), the session's expiry, a change
// of its user's password, role, agency or permissions, or the user's
// deletion (SignOut) — the socket is closed with 4003 "signed out: …"
// within a second, without the frames still queued for it, and no frame
// it sent that the router has not applied yet is applied or answered.
// Changes made through another server reach the socket by a re-check of
// all open sockets' sessions, one query every Config.SessionCheck.
//
// # Frames
//
// Frames are JSON objects with a type. A client frame may carry an id (a
// string or number up to 128 bytes): it is answered {"type":"ack","ref":id}
// once the change is durable (Durable.Wait returned for the last event),
// or {"type":"error","ref":id,"code","message","field"} with code
// validation, forbidden, not_found, conflict, unavailable or too_large. A
// frame without id gets no ack, but a failure still gets an error frame
// without ref. Malformed frames (not JSON, unknown type, unknown or
// misspelt field — keys match exactly —, missing or mistyped field, text
// over its bound) get a validation error; the connection and its contacts
// survive. A frame over MaxFrameBytes (64 KiB) is discarded unread and
// answered with too_large and no ref (its id cannot be read); one over
// HardFrameBytes (16 × that) makes gorilla close the socket with 1009.
// Bounds, counted in characters: text, note and summary 4000, reason 200,
// disposition 64; ids 128 bytes. If durability is not confirmed within
// AckTimeout the answer is an unavailable error: the change was made in
// the router and may still become durable, so clients re-read the state.
//
// Agent → server: state {state: available|break|offline, reason} ·
// accept {offer_id} · decline {offer_id, reason} · say {contact_id, text} ·
// note {case_id, text} · transfer {contact_id, to: {queue} | {agent},
// mode: cold|warm, note} · end {contact_id, disposition, summary,
// callback: {queue, number, note}} (callback optional: a second-line
// callback filed in that queue) · interpret {contact_id, language, note} ·
// interpreter_release {contact_id} · callback_result {contact_id, result:
// answered|no_answer|busy|failed}.
//
// Server → agent:
//   - hello {agent: {username, name, agency, state, chosen, reason, max_chats},
//     state, contacts: [{contact, case}], offers: [offer frames]} first on
//     every connect; offers is an addition, so a reconnect or a replacing
//     tab restores pending offers too. Events already reflected in hello
//     are not sent again.
//   - offer {offer_id, contact, case, expires_at} — the whole case; after
//     a transfer the transfer's entry comes first and in case.transfer_note.
//   - offer_revoked {offer_id, reason}: also sent for the agent's own
//     decline (reason "declined"), a timeout ("offer_timeout") and a
//     contact that ended while offered (reason why it ended: "abandoned",
//     "transfer_cancelled", …).
//   - assigned {contact, case} · state {state, reason}.
//   - message {contact_id, case_id, from: agent|citizen, agent, text, at}:
//     agent (the author's username) is an addition; the agent's own
//     messages are echoed too.
//   - contact_ended {contact_id, reason}: reason is the disposition,
//     "transferred", "abandoned" (the citizen left or hung up) or
//     "requeued" (lost after the reconnect grace).
//   - Additions: transcript {contact_id, case_id, speaker, text, at} (a
//     gateway's speech-to-text segment); note {case_id, agent, text, at}
//     to the agents now on the case (author, holders of its live legs,
//     agents it is offered to); transfer_failed {contact_id, reason} when a
//     warm transfer is declined, times out or loses its target.
//   - interpreter {contact_id, state: requested|joined|left,
//     interpreter_contact_id, interpreter, interpreter_name, language,
//     queue} to
//     the agent of a contact with an interpreter. The interpreter holds
//     their own leg (contact.conference_of names the contact it joins):
//     the contact's messages reach them with contact_id = their leg, and
//     message.from is "interpreter" for their words.
//   - callback_result {contact_id, result, attempt} to the agent on a
//     callback; contact_ended reasons also "no_answer", "busy", "failed"
//     (the callback will be tried again) and "callback_filed".
//   - stats {queues} is not sent yet.
//
// Citizen → server: say {text} · leave {} — the citizen abandons the
// contact whatever its status (router.Abandon); the agent sees
// contact_ended with reason "abandoned"; the server answers, sends ended
// {reason: "left"} and closes the socket.
//
// Server → citizen: queued {position, estimated_wait_s, light,
// callback_offered} on connect
// and whenever the position changes (position 0: an agent is being
// offered the contact; a busy line is re-counted at most once per
// Config.PositionInterval, so a citizen hears their latest place, not
// every step; past place 20 a small step waits up to 5 s, see
// worthTelling) · agent_joined {agent_name, agency} ·
// message {from: agent|citizen, agent_name, text, at} (agent_name, the
// agent's display name, is an addition) · transferred {agency,
// queue_name} · callback {mode: keep_place|slot|retry, at} (the callback is
// registered; retry: nobody answered, the next try is at at) · interpreter {state: joined|left, agent_name, language} ·
// ended {reason: completed|left|closed|callback}, after which the
// server closes the socket (1000). The socket follows the case across
// transfers; a citizen reconnecting with the first contact id joins the
// live leg. Citizens never receive notes, transcripts or case views.
//
// Gateway → server: transcript {contact_id, speaker:
// citizen|agent|interpreter, text} · hangup {contact_id} (the caller hung
// up: router.Abandon) · dial_result {contact_id, result} (how a callback
// call went: router.CallbackResult).
//
// Server → gateway: hello {calls: [{contact_id, case_id, queue, agency,
// channel, status, agent, number}]} first on every connect (addition): the
// live voice and callback contacts in the gateway's scope (below), agent
// set while assigned, number a callback's number; events already
// reflected in hello are not sent again · connect {contact_id, agent} when
// a voice contact is accepted · dial {contact_id, number, agent} when a
// callback is accepted · hangup {contact_id} when the agent side ends a
// call · transferred {contact_id, new_contact_id} (addition) when a call
// moves to a transfer leg, so that the next connect, naming the new leg,
// finds the call · conference {contact_id, interpreter_contact_id, agent}
// and conference_ended {…} when an interpreter joins or leaves a call. A
// gateway serving agency A gets the frames of calls that started in A
// (agency "" gets all) and may act on contacts whose case touched A.
//
// Deliver runs after the journal commits, so the frames other parties see
// show durable changes only; the author of a change hears ack after
// Durable.Wait, and may see the change's event frames before or after it.
//
// Contacts and cases use the snake_case shapes of ContactJSON and CaseJSON
// (also used by the REST layer); zero times are omitted.
package agents
