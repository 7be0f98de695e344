// Package switchboard is tellonce's application layer: what every client
// — the REST API, the three WebSockets, soon the telephony edge — does to
// apply a request to the router. A Switchboard has one method per request
// kind (requests.go), each of which applies the request and waits, the
// same way for all, until its events are committed to SQL (Commit) before
// the adapter answers; it keeps the directory and the router in step
// (routing.go); and it maps the router's errors to the contract's codes
// once (Classify). The web and agents packages are adapters around it:
// they decode, check who may ask, call it, and encode. They read the live
// state through its Live interface and never import the router.
package switchboard
