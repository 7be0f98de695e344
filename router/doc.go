// Package router is tellonce's live routing state and policy: queues,
// agents' live state, contacts, offers and open cases with their whole
// context, with time coming from an injected Clock. The case context
// lives in go-memdb; the facts that change on every routing step live in
// the writer's matching state (see State).
//
// # Model
//
// A case is one citizen's matter; each contact is one leg of it in one
// queue (a transfer adds a leg, keeping the case). A contact is queued,
// offered (reserved for one agent until the offer expires), assigned, or
// ended. The case timeline (contact_created, assigned, message, transcript,
// note, transfer, requeued, ended, with a per-case seq) lives in memdb while
// the case is open; when its last leg ends the case leaves memdb and a
// case_closed event carries it to the durable store.
//
// Every write method runs in a memdb write transaction built from small
// fooTxn helpers on a writer (the transaction plus the change's time, its
// events and the matching work it created), then matches and hands the
// events to the Sink in commit order. Concurrent write calls are run as a
// group (see Router.write); a call that fails is taken out and the others
// re-run, so each call still commits all or nothing. The transaction is
// not committed at the group's end: it stays open for the next calls
// until a reader takes a snapshot, or it holds maxUnpublished calls
// (publish.go), so calls share go-memdb's copies of the paths they write.
// A failed call aborts it, and the rows the calls before it wrote are
// written again into a new one from the writer's rows.
// A call's time is read from the Clock once, when the call is queued, and
// never inside the apply: the same calls from the same state make the same
// decisions (TestRebuiltRouterDecidesAsTheOriginal), which keeps a
// replicated router possible. Reads run on memdb snapshots and return
// copies. Offers expire, and timers (overflow, best-skill widening,
// wrap-up end, reconnect grace, sticky and direct-transfer holds, warm
// transfer limits) fall due: Tick processes what is due, NextDeadline says
// when to call it, and Run is a driver on a real timer.
//
// # State
//
// go-memdb holds what readers see: queues, queue membership (a row per
// agent and queue, written only when an agent's queues change), agents
// (profile, state, load, and the contacts offered or assigned to them),
// contacts (status, agent, offer, place in their case) and open cases with
// their timelines. A call keeps the rows it changes on its writer and
// writes each to memdb once, when it ends (or before it reads through the
// transaction itself: an index scan), however often it changed it: ending
// a contact and offering the agent the next one is one agent row write,
// and a case that closes in the call is deleted without being written.
// Indexes are few because every row write writes each of its table's
// indexes (go-memdb opens a radix transaction for each and puts each in
// its root tree at commit, whether the row has a key in it or not): every
// table is indexed by its id alone. The contacts a secondary key finds —
// queued and held for one agent (reserved), scheduled in a booked slot
// (slot, booking) — are few, so those keys are side tables of their own
// (held_for, booked) holding the same rows, written only when a contact
// enters, changes in or leaves that state. An agent's held contacts are a
// list on the agent row (which the same calls write for its load anyway)
// rather than a contacts index, and pending offers are published with the
// lines rather than indexed. A call copies a case row once, the first
// time it changes it, and changes its own copy in place after that. A
// call reads contact, agent and case rows not from memdb but from the
// writer's map of the rows memdb holds (storedRows, kept in step by flush
// and undone with a failed group): a memdb lookup inside a write
// transaction allocates an index transaction, its path and its key, and
// a lookup in an index the transaction has already written clones that
// index's radix transaction and drops its cache of copied nodes, so in a
// group of calls every later write copied its path again. The calls of
// routing (enqueue, accept, messages, end, a reconnect) never flush to
// read through the transaction (writer.tx); a test counts it. A
// timeline entry never changes once appended, so the timeline, the event
// that announces the entry and every view of the case share its Data map
// (read-only for all of them) instead of copying it per view.
//
// The matching state (matching.go) holds what only routing asks, in
// structures made for it and owned by the writer: each (queue, class)'s
// waiting line in rank order and its overflowed-in line (ordered trees,
// github.com/tidwall/btree), each (queue, class)'s free agents in idle
// order (ordered trees), the pending offers by id and by expiry, each
// caller's one place per queue, and the timers by id, due time and target.
// Apart from the timers it is a function of the memdb rows: every put of a
// contact or agent row moves the row in it in the same step, and
// rebuildMatching derives it from the rows in one pass, which is how
// Restore builds it and what the randomized invariant test compares it
// with after every operation. Timers are nobody's rows: Restore schedules
// them anew while filling memdb, as it always did. A failed write group
// is rolled back by an undo log (cheaper than copy-on-write trees, which
// copy a path per change even when nothing fails); the stored rows are
// rolled back with it, and the open memdb transaction is rebuilt from
// them.
//
// How each read is served:
//
//   - Every read that takes a memdb snapshot, or the lines or offers
//     published with it, first commits the open transaction if calls have
//     returned since the last commit (Router.fresh): a read sees every
//     call that returned before it began, as if each call had committed.
//     A read with nothing to publish takes no lock but linesMu's.
//   - Contact, Position, NearPosition, Positions, Waiting and
//     QueueSnapshot's line: a memdb snapshot with the lines published at
//     the same commit (copy-on-write copies of the writer's trees, swapped
//     in under linesMu with the commit), so they are never half a call. A
//     place is a binary search of the published line: O(log² n) anywhere
//     in a line of any length.
//   - Offer: the pending offers published with the lines at each commit
//     (a map swapped under linesMu with the changed lines).
//   - NextDeadline: the soonest offer expiry and timer, published at every
//     group's end, committed or not, so Run never sleeps past them.
//   - LiveCalls: commits under the write lock and pairs the snapshot with
//     the last event's seq.
//   - Everything else (cases, agents, desks, wallboard counts, snapshots
//     for the durable store): the memdb snapshot alone.
//
// # Matching
//
// Waiting contacts are ordered by priority, then case age, then enqueue
// sequence (a re-queued contact goes before all of them), encoded in a
// fixed-width rank key so a line's tree order is routing order. An agent is
// eligible for a contact when connected and available with a free slot of
// the contact's class (voice and callback take the exclusive voice slot;
// chats up to MaxChats), member of the contact's queue or of a queue it has
// overflowed into, with every required skill at the required level
// (including lang:<caller language>). A contact goes to an agent only if it
// is that agent's best contact across all their queues, so an agent in
// several queues always gets the best-ranked one; among the eligible agents
// the queue's strategy decides. Overflow policy belongs to the receiving
// queue: own-first queues' agents take overflowed contacts only when none of
// their own (or oldest-first overflow) work is waiting for them; oldest-first
// queues mix them in by rank. Either may hold a reserve (HelpWhile.MinIdle):
// its agents take overflowed contacts only while more than that many of
// them are free for the contact's class, and when an agent frees above the
// reserve the contacts overflowed into the queue are placed again.
//
// # Choices where the spec left room
//
//   - Declines: an agent who declined a contact, or let its offer time out,
//     is passed over while another available agent (connected, available,
//     in the queue, with the skills; busy or not) has not declined it. When
//     the decliners are the only ones left, they may be offered it again,
//     so a contact never starves because its only agent once said no.
//   - Wrap-up works per slot: ending a contact turns its slot into a
//     wrap-up slot for the queue's wrap-up time. For voice that blocks the
//     agent (state wrapup); for chat only that slot, so a chat agent keeps
//     serving their other chats and may take new ones within MaxChats.
//   - Direct transfer to an agent: the new leg goes to the agent's first
//     queue (highest level, then lowest id) held for that agent for
//     DirectWait (default 60s), ignoring queue membership and skills for
//     them; then anyone in that queue may take it. An agent who is offline
//     or disconnected is not waited for at all.
//   - Sticky: a returning caller's contact (EnqueueRequest.CaseID) is held
//     for the case's last agent for StickyWait (default 10s) if that agent
//     is connected, not offline and in the queue; never for an absent one.
//   - Warm transfer: one decline or timeout by the target, or WarmWait
//     (default 60s) without an accept, cancels it; the first agent keeps the
//     contact and gets transfer_failed.
//   - Best-skill: an agent's score is the sum of their levels on the
//     contact's required skills. Until WidenAfter, only agents with the top
//     score among the queue's logged-in members may take the contact.
//   - Cold transfers carry the caller's language requirement but not the
//     first contact's extra skills: the target queue sets its own.
//   - An agent going offline with assigned contacts is refused (end or
//     transfer them first); break keeps assigned contacts and revokes
//     pending offers. Disconnecting starts the reconnect grace instead.
//   - Citizens' positions: each change emits one queue_changed event per
//     queue whose line moved rather than an event per waiting contact; the
//     fan-out layer asks Position for the citizens it has connected.
//   - Queue timings: OfferTimeout zero means 20s; Wrapup zero means 10s and
//     a negative Wrapup means none.
//   - Callbacks: a waiting contact becomes a callback that keeps its rank
//     (virtual hold), or is scheduled out of line until a booked slot
//     starts and then goes to the head. Slot capacity is staffed agents
//     (logged in now) × slot length ÷ handle time × CallbackSharePct; one
//     booking per caller across queues. An unanswered callback frees the
//     agent and waits CallbackRetryAfter as a new leg, CallbackRetries
//     times, then ends as callback_failed. Whether a queue's wait is long
//     enough to offer a callback is decided outside the router, where the
//     estimate lives.
//   - Interpreters: an interpreter leg (ConferenceOf) waits in the
//     requesting agent's agency's interpreter queue, overflowed at once to
//     every other interpreter queue, needing only lang:<language>; it keeps
//     no place in the caller index, is never offered to its requester,
//     cannot be transferred, and ends with its contact. Messages on the
//     contact name the joined interpreter in Data so the fan-out reaches
//     them.
package router
