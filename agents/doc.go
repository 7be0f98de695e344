// Package agents runs tellonce's WebSocket sessions — agents' consoles
// (/v1/agent/ws), citizens' chats (/v1/contacts/{id}/ws) and telephony
// gateways (/v1/gateway/ws). It is an adapter of the application layer:
// it decodes client frames, checks who may send them, applies them through
// package switchboard (which waits until each change is durable), and turns
// the router's committed events into frames.
//
// The protocol — every frame in both directions with its fields, limits
// and answers, acks, errors, keepalive, close codes and reconnecting — is
// described in docs/protocol.md in this repository.
// TestProtocolDocListsEveryFrame fails when a frame or field the code
// accepts or sends is missing there.
//
// Where things are: the Hub (hub.go) holds every connection and answers
// client frames with an ack, or with the error code switchboard.Classify
// gives. Each socket (conn.go) has one reader on a goroutine of its own
// (the HTTP handler returns once the socket is up) and a writer that runs
// only while frames, a ping or the close wait in its bounded queue, so an
// idle socket is one parked goroutine and a 256-byte read buffer; frames
// are read and handled on a goroutine of their own, so the parked
// reader's stack stays small; a client that cannot keep up is cut rather
// than waited for. decode.go reads and
// validates client frames; frames.go and views.go are the server frames'
// wire shapes; deliver.go maps committed events to frames and never
// blocks. agent.go, citizen.go and gateway.go serve the three sockets;
// signout.go closes agent and gateway sockets when their login ends, and
// refusals.go reports frames refused on someone else's contact or case for
// the access audit.
package agents
