// Package switchboard is tellonce's application layer: what every client
// — the REST API, the three WebSockets, soon the telephony edge — does to
// apply a request to the router. It keeps the directory and the router in
// step (routing.go), waits once, the same way for all, until a change's
// events are committed to SQL before it is answered (Commit), and maps
// the router's errors to the contract's codes once (Classify). The web
// and agents packages are adapters around it: they decode, call, and
// encode.
package switchboard
