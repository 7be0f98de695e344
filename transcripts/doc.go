// Package transcripts is tellonce's durable case log: every case, each of
// its contacts (legs) and its whole timeline, kept in SQL so that an
// acknowledged change survives the process (docs/architecture.md, Invariants) and a
// restart can rebuild the router's live state (invariant 3).
//
// # The journal
//
// A Journal is the router's event Sink. Publish only queues the events in
// memory: it runs on the router's write path (before the next write group),
// so it must not wait for a disk. One writer goroutine (Run) takes everything queued, writes it in a
// single SQL transaction and commits — group commit: one fsync for as many
// events as arrived while the previous commit was in flight — then records
// the highest committed router Event.Seq, releases the Wait calls it
// satisfies and hands the events to Deliver for fan-out, so no WebSocket
// ever sees a change that is not durable.
//
// A web handler makes a change through the router, then calls Wait with the
// Seq of the last event it produced and answers only when Wait returns nil.
//
// Batches are written one at a time, so the store always holds a prefix
// of the router's event stream, even after a crash. On PostgreSQL a batch
// is one statement (each table's rows as one JSON array), committed on its
// own: one round trip and one WAL flush. A leader's fence (the lease's
// epoch, Options.FenceQuery) rides in that statement: its rows are written
// only while the lease row is current, held until the statement commits,
// so fencing costs no round trip of its own. On SQLite, in process, it is
// one transaction of prepared multi-row inserts. See BENCHMARKS.md for
// what this buys.
//
// The statements on a creation's way to its offer (the batch, the
// earlier-cases query) are prepared, and PostgreSQL keeps the generic
// plan it made for a prepared statement on each connection however the
// tables grow; the pool keeps its connections. So the common batch
// statement reads no table (the join that copies a leg from a contact
// row is a variant of its own, for contacts assigned before a restart),
// and the earlier-cases query is prepared again after a number of calls
// that doubles each time: a plan made while cases was small, on a new
// database, would otherwise scan the whole table on every creation.
//
// Every stage a change waits in is timed in /metrics: published → taken
// into a batch (the wait for the commit in flight), the commit, published
// → committed (what an acknowledgement waits for), committed → delivered
// (docs/operations.md lists them).
//
// Wiring: call Load (and router.Restore) before starting Run; give Run a
// context that ends after the web server has drained, so the requests in
// flight at shutdown still get their acknowledgements; and keep Deliver
// off the router's write methods. Deliver runs on a goroutine of its own,
// in commit order, so a slow fan-out does not hold up the next commit
// (the writer waits only when Deliver is DeliverQueue batches behind).
//
// An offer that shows the agent a case's history (a transferred or
// continued case, a re-queued contact, an interpreter's leg) is a read of
// personal data: its access_audit row (action "offer") is written in the
// batch of the events that made the offer, so the offer is audited before
// it is delivered, at one more multi-row insert for a batch that holds
// such offers (offers.go).
//
// # Failures
//
// A failed commit fails the Wait calls of its events with ErrUnavailable
// (the client hears 503 and may retry), and the writer retries the same
// events with a bounded backoff until they commit: events are never
// dropped, and Deliver sees them only once they are committed. Writes are
// idempotent (timeline entries keyed by case and seq, contacts upserted),
// so a commit whose acknowledgement was lost does no harm when retried.
// The events of one Publish call (one router transaction) always commit
// together, so the store never holds half a router change.
//
// Note that the router applied the change before the journal saw it: a
// client that got ErrUnavailable may find its change done after all, once
// the store is back. That is the price of a router that does no I/O; the
// alternative, applying changes only after the commit, would put the disk
// inside the router's lock.
//
// # Review
//
// A Review reads the log for people (the supervision endpoints of docs/api.md):
// Search (filters, a substring search that works for Korean, keyset
// pages), Timeline (one case across every agency it passed through),
// Export (txt, json, csv), the access audit (Record, Audit) and retention
// (Purge, PurgeAudit, RunRetention). The caller decides who may see what
// and passes it as a Scope; Timeline.Redacted masks phone and card
// numbers for a reader without the pii permission.
//
// Personal data: the journal masks resident registration numbers in every
// free-text value before it writes a row (rows.go, storable), so no RRN
// ever reaches the disk; see package privacy for the rules. Every read
// applies the same rule again, for rows written under older rules, and
// Remask rewrites such rows (remask.go).
//
// ReadDay and ReadRange read what the statistics rebuild a day from, and
// what reports over any dates are computed from (package stats): legs,
// transfers and closings, never a table's rows to anyone else.
//
// Search: "증명서" must find "증명서가", and Korean has no spaces between
// a noun and its particles, so word-based full-text search does not fit;
// a trigram index does. PostgreSQL: a pg_trgm GIN index on
// case_events.text serves ILIKE '%…%'. SQLite: an FTS5 table with the
// trigram tokenizer, filled by a trigger on case_events. Both serve text
// of three characters or more; shorter text falls back to LIKE (a scan).
//
// # Schema
//
// Migration 0002_cases: cases (caller, context, open/closed), contacts (one
// row per contact: its current leg and what restoring it needs — enqueue
// seq, head flag, status, agent), requeued_legs (earlier legs of contacts
// that went back to their queue under the same id) and case_events (the
// timeline, keyed by case and seq). Load reads the open cases back in the
// shape router.Restore takes. Migration 0004_review: the search index,
// the indexes behind the review filters and the purge, and access_audit.
// Migration 0009_offer_audit: the unique index on access_audit's offer
// rows that makes writing them again (a retried batch) a no-op.
package transcripts
