package router

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	memdb "github.com/hashicorp/go-memdb"
)

// Typed lookups and inserts over memdb. Lookups return the stored pointer:
// callers treat it as read-only and copy before changing anything.

func getQueue(txn *memdb.Txn, id string) (*queueRow, error) {
	raw, err := txn.First(tableQueues, indexID, id)
	if err != nil {
		return nil, fmt.Errorf("queue %s: %w", id, err)
	}
	if raw == nil {
		return nil, fmt.Errorf("queue %s: %w", id, ErrNotFound)
	}
	return raw.(*queueRow), nil
}

func getAgent(txn *memdb.Txn, username string) (*agentRow, error) {
	raw, err := txn.First(tableAgents, indexID, username)
	if err != nil {
		return nil, fmt.Errorf("agent %s: %w", username, err)
	}
	if raw == nil {
		return nil, fmt.Errorf("agent %s: %w", username, ErrNotFound)
	}
	return raw.(*agentRow), nil
}

func getContact(txn *memdb.Txn, id string) (*contactRow, error) {
	raw, err := txn.First(tableContacts, indexID, id)
	if err != nil {
		return nil, fmt.Errorf("contact %s: %w", id, err)
	}
	if raw == nil {
		return nil, fmt.Errorf("contact %s: %w", id, ErrNotFound)
	}
	return raw.(*contactRow), nil
}

func getCase(txn *memdb.Txn, id string) (*caseRow, error) {
	raw, err := txn.First(tableCases, indexID, id)
	if err != nil {
		return nil, fmt.Errorf("case %s: %w", id, err)
	}
	if raw == nil {
		return nil, fmt.Errorf("case %s: %w", id, ErrNotFound)
	}
	return raw.(*caseRow), nil
}

// offer is a pending offer inside a write, from the matching state.
func (w *writer) offer(id string) (*offerRow, error) {
	o := w.m.offers[id]
	if o == nil {
		return nil, fmt.Errorf("offer %s: %w", id, ErrNotFound)
	}
	return o, nil
}

// liveContactOf finds the caller's live contact in queue, or nil.
func (w *writer) liveContactOf(queue, identity string) (*contactRow, error) {
	return w.m.callers[callerKey{queue, identity}], nil
}

// eventsOf lists a case's timeline in seq order, in a slice of its own.
// The entries' Data maps are shared with the timeline, not copied: an
// entry never changes once appended (appendCaseEventTxn), and views are
// read-only for their holders (cases.CaseEvent), so a copy per view per
// entry bought nothing but garbage.
func eventsOf(cs *caseRow) []CaseEvent {
	if len(cs.Events) == 0 {
		return nil
	}
	return slices.Clone(cs.Events)
}

// contactsOf lists every contact row of a case, through its legs (a
// re-queued contact has several legs), read by get.
func contactsOf(cs *caseRow, get func(id string) (*contactRow, error)) ([]*contactRow, error) {
	var out []*contactRow
	seen := map[string]bool{}
	for _, l := range cs.Legs {
		if seen[l.ContactID] {
			continue
		}
		seen[l.ContactID] = true
		c, err := get(l.ContactID)
		if errors.Is(err, ErrNotFound) {
			continue // a leg restored from the durable store whose contact ended before
		}
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// agentContacts lists the contacts offered to or assigned to an agent as
// the write call sees them, by contact id.
func (w *writer) agentContacts(username string) ([]*contactRow, error) {
	return heldBy(username, w.agent, w.contact)
}

// heldBy lists the contacts offered to or assigned to an agent, by
// contact id, through the lookups given (a snapshot's or a write call's).
func heldBy(username string, agent func(string) (*agentRow, error), contact func(string) (*contactRow, error)) ([]*contactRow, error) {
	a, err := agent(username)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("agent %s contacts: %w", username, err)
	}
	out := make([]*contactRow, 0, len(a.Held))
	for _, id := range a.Held {
		c, err := contact(id)
		if err != nil {
			return nil, fmt.Errorf("agent %s contacts: %w", username, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// agentOffers lists an agent's pending offers by offer id, through the
// contacts offered to them (an offered contact holds its offer's id).
func agentOffers(held []*contactRow) []*offerRow {
	var out []*offerRow
	for _, c := range held {
		if o := offerOf(c); o != nil {
			out = append(out, o)
		}
	}
	slices.SortFunc(out, func(a, b *offerRow) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// putQueue and deleteQueue write a queue row to the transaction at once:
// queues change seldom. A group that writes one publishes at its end
// (publish.go).
func (w *writer) putQueue(q *queueRow) error {
	w.r.writesOther = true
	if err := w.txn.Insert(tableQueues, q); err != nil {
		return fmt.Errorf("insert queue %s: %w", q.ID, err)
	}
	delete(w.queues, q.ID)
	return nil
}

func (w *writer) deleteQueue(q *queueRow) error {
	w.r.writesOther = true
	if err := w.tx().Delete(tableQueues, q); err != nil {
		return fmt.Errorf("remove queue %s: %w", q.ID, err)
	}
	delete(w.queues, q.ID)
	return nil
}

// queue is the queue as the call sees it, read from the transaction once
// per call: a routed contact's calls ask for the same queue several times
// (ranking, matching, offer timeout), and each memdb lookup allocates its
// key and the index path. putQueue and RemoveQueue forget the call's copy.
func (w *writer) queue(id string) (*queueRow, error) {
	if q := w.queues[id]; q != nil {
		return q, nil
	}
	q, err := getQueue(w.txn, id)
	if err != nil {
		return nil, err
	}
	if w.queues == nil {
		w.queues = map[string]*queueRow{}
	}
	w.queues[id] = q
	return q, nil
}

// The rows a call changes are kept on the writer until the call ends
// (flush), so a call writes each row to memdb once however often it
// changed it: ending a contact and offering its agent the next one change
// the agent's load twice, and each memdb write copies a path in every
// index of the table. The writer's reads (contact, agent, getCase) see its
// own changes first; anything that reads through the transaction itself
// (an index scan, a view of the case) goes through tx, which flushes
// first. A nil entry is a row the call deleted.

// contact is the contact as this call left it so far.
func (w *writer) contact(id string) (*contactRow, error) {
	if c := current(w.contacts, w.m.stored.contacts, id); c != nil {
		return c, nil
	}
	return nil, fmt.Errorf("contact %s: %w", id, ErrNotFound)
}

// agent is the agent as this call left it so far.
func (w *writer) agent(username string) (*agentRow, error) {
	if a := current(w.agents, w.m.stored.agents, username); a != nil {
		return a, nil
	}
	return nil, fmt.Errorf("agent %s: %w", username, ErrNotFound)
}

// getCase is the case as this call left it so far.
func (w *writer) getCase(id string) (*caseRow, error) {
	if c := current(w.cases, w.m.stored.cases, id); c != nil {
		return c, nil
	}
	return nil, fmt.Errorf("case %s: %w", id, ErrNotFound)
}

// current is the row under id as the call sees it: the call's own
// version if it changed the row (nil if it deleted it), else the stored
// one; nil when there is none.
func current[R any](changed, stored map[string]*R, id string) *R {
	if r, ok := changed[id]; ok {
		return r
	}
	return stored[id]
}

// tx is the call's transaction with the call's changes written to it, for
// reads that do not go through contact, agent or getCase. A failed write
// is kept for the end of the call (runOp), which fails it.
func (w *writer) tx() *memdb.Txn {
	w.r.midFlushes++
	if err := w.flush(); err != nil && w.flushErr == nil {
		w.flushErr = err
	}
	return w.txn
}

// putAgent keeps a as the call's newest version of the agent, moving it
// in the free sets and its queue memberships.
func (w *writer) putAgent(a *agentRow) error {
	old := current(w.agents, w.m.stored.agents, a.Username)
	if w.agents == nil {
		w.agents = map[string]*agentRow{}
	}
	w.agents[a.Username] = a
	w.m.putAgent(old, a)
	return w.putMembers(old, a)
}

// putMembers writes the membership rows of an agent that was old and is
// now a (either may be nil) when its queues changed. They go to the
// transaction at once: membership changes seldom, and reads of it then
// need no flush.
func (w *writer) putMembers(old, a *agentRow) error {
	var from, to map[string]int
	var username string
	if old != nil {
		from, username = old.Queues, old.Username
	}
	if a != nil {
		to, username = a.Queues, a.Username
	}
	if old != nil && a != nil && maps.EqualFunc(from, to, func(int, int) bool { return true }) {
		return nil
	}
	w.r.writesOther = true
	for _, q := range sortedKeys(from) {
		if _, ok := to[q]; !ok {
			if _, err := w.txn.DeleteAll(tableMembers, indexID, q, username); err != nil {
				return fmt.Errorf("agent %s leaves %s: %w", username, q, err)
			}
		}
	}
	for _, q := range sortedKeys(to) {
		if _, ok := from[q]; !ok {
			if err := w.txn.Insert(tableMembers, &memberRow{Queue: q, Username: username}); err != nil {
				return fmt.Errorf("agent %s joins %s: %w", username, q, err)
			}
		}
	}
	return nil
}

// membersOf lists the usernames of a queue's members in order.
func membersOf(txn *memdb.Txn, queue string) ([]string, error) {
	it, err := txn.Get(tableMembers, indexID, queue)
	if err != nil {
		return nil, fmt.Errorf("members of %s: %w", queue, err)
	}
	var out []string
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(*memberRow).Username)
	}
	return out, nil
}

// eachMember calls fn on each member of queue in username order, as the
// rows are read by agent, until fn returns false.
func eachMember(txn *memdb.Txn, queue string, agent func(string) (*agentRow, error), fn func(a *agentRow) bool) error {
	names, err := membersOf(txn, queue)
	if err != nil {
		return err
	}
	for _, u := range names {
		a, err := agent(u)
		if err != nil {
			return fmt.Errorf("member %s of %s: %w", u, queue, err)
		}
		if !fn(a) {
			return nil
		}
	}
	return nil
}

// deleteAgent removes the agent's row as it stands, keeping the free sets.
func (w *writer) deleteAgent(username string) error {
	a, err := w.agent(username)
	if err != nil {
		return err
	}
	if w.agents == nil {
		w.agents = map[string]*agentRow{}
	}
	w.agents[username] = nil
	w.m.putAgent(a, nil)
	return w.putMembers(a, nil)
}

// putContact keeps c as the call's newest version of the contact, moving
// it in the lines.
func (w *writer) putContact(c *contactRow) error {
	var aging time.Duration
	if q, err := w.queue(c.Queue); err == nil {
		aging = q.Aging
	}
	c.Rank = c.computeRank(aging)
	old := current(w.contacts, w.m.stored.contacts, c.ID)
	if w.contacts == nil {
		w.contacts = map[string]*contactRow{}
	}
	w.contacts[c.ID] = c
	w.markSide(old)
	w.m.putContact(old, c)
	return w.moveHeld(old, c)
}

// deleteContact removes the contact as it stands, keeping the lines.
func (w *writer) deleteContact(c *contactRow) error {
	old, err := w.contact(c.ID)
	if err != nil {
		return fmt.Errorf("delete contact %s: %w", c.ID, err)
	}
	if w.contacts == nil {
		w.contacts = map[string]*contactRow{}
	}
	w.contacts[c.ID] = nil
	w.markSide(old)
	w.m.putContact(old, nil)
	return w.moveHeld(old, nil)
}

// markSide remembers that the contact's stored row may be in a side
// table, when old (the row before this change) is in one.
func (w *writer) markSide(old *contactRow) {
	if !inSideTable(old) {
		return
	}
	if w.side == nil {
		w.side = map[string]struct{}{}
	}
	w.side[old.ID] = struct{}{}
}

// flushSide writes a contact's rows in the side tables: in the ones it
// belongs in, out of the ones its stored row may have been in.
func (w *writer) flushSide(id string, c *contactRow) error {
	_, was := w.side[id]
	for _, t := range sideTables() {
		switch {
		case sideHolds(t, c):
			if err := w.txn.Insert(t, c); err != nil {
				return fmt.Errorf("insert %s %s: %w", t, id, err)
			}
		case was:
			if _, err := w.txn.DeleteAll(t, indexID, id); err != nil {
				return fmt.Errorf("delete %s %s: %w", t, id, err)
			}
		}
	}
	return nil
}

// moveHeld keeps the agents' Held lists in step with a contact that was
// old and is now c (either may be nil).
func (w *writer) moveHeld(old, c *contactRow) error {
	from, to := holderOf(old), holderOf(c)
	if from == to {
		return nil
	}
	id := c.getID(old)
	for _, u := range [2]string{from, to} {
		if u == "" {
			continue
		}
		a, err := w.agent(u)
		if errors.Is(err, ErrNotFound) {
			continue // removed: nobody's list to keep
		}
		if err != nil {
			return err
		}
		n := a.copy()
		n.Held = withHeld(a.Held, id, u == to)
		if err := w.putAgent(n); err != nil {
			return err
		}
	}
	return nil
}

// putCase keeps c as the call's newest version of the case.
func (w *writer) putCase(c *caseRow) error {
	if w.cases == nil {
		w.cases = map[string]*caseRow{}
	}
	w.cases[c.ID] = c
	return nil
}

// caseToChange is the case as this call left it so far, to be changed in
// place: the call's own version when it has one (nobody else sees it
// before flush, and every version in w.cases was made by the call), else
// a copy of the stored row, which becomes the call's version. One copy
// per case per call instead of one per change.
func (w *writer) caseToChange(id string) (*caseRow, error) {
	if c := w.cases[id]; c != nil {
		return c, nil
	}
	cs, err := w.getCase(id)
	if err != nil {
		return nil, err
	}
	n := cs.copy()
	return n, w.putCase(n)
}

// deleteCase removes a case.
func (w *writer) deleteCase(id string) {
	if w.cases == nil {
		w.cases = map[string]*caseRow{}
	}
	w.cases[id] = nil
}

// flush writes the call's changed rows to memdb, each once, in id order:
// at the end of the call, and before anything reads through the
// transaction (tx). The matching state's stored rows follow, so the
// writer's reads see what memdb holds.
func (w *writer) flush() error {
	if err := flushTable(w.txn, w.m, tableAgents, w.agents, w.m.stored.agents, &w.ids, nil); err != nil {
		return err
	}
	if err := flushTable(w.txn, w.m, tableContacts, w.contacts, w.m.stored.contacts, &w.ids, w.flushSide); err != nil {
		return err
	}
	clear(w.side)
	for _, c := range w.cases {
		if c != nil {
			w.r.caseWrites++
		}
	}
	return flushTable(w.txn, w.m, tableCases, w.cases, w.m.stored.cases, &w.ids, nil)
}

// flushTable writes rows to table and to stored, in id order (ids is
// scratch for the order), then calls also on each, if given.
func flushTable[R any](txn *memdb.Txn, m *matching, table string, rows, stored map[string]*R, ids *[]string, also func(id string, row *R) error) error {
	if len(rows) == 0 {
		return nil
	}
	order := (*ids)[:0]
	for id := range rows {
		order = append(order, id)
	}
	if len(order) > 1 {
		slices.Sort(order)
	}
	*ids = order
	for _, id := range order {
		row, old := rows[id], stored[id]
		switch {
		case row != nil:
			if err := txn.Insert(table, row); err != nil {
				return fmt.Errorf("insert %s %s: %w", table, id, err)
			}
			stored[id] = row
			recordStored(m, table, id, old)
		case old != nil:
			// The stored row is memdb's: Delete finds it by its id
			// without another lookup.
			if err := txn.Delete(table, old); err != nil {
				return fmt.Errorf("delete %s %s: %w", table, id, err)
			}
			delete(stored, id)
			recordStored(m, table, id, old)
		}
		// Else a row the call made and deleted, which never reached memdb.
		if also != nil {
			if err := also(id, row); err != nil {
				return err
			}
		}
	}
	clear(rows)
	clear(order)
	return nil
}

// recordStored logs a change of a stored row whose version before was old
// (nil: none) for a rollback.
func recordStored[R any](m *matching, table, id string, old *R) {
	if m.logging { // else a restore's state, dropped
		m.unpublished = append(m.unpublished, storedRef{table, id})
	}
	s := undoStep{storedTable: table, storedID: id}
	if old != nil {
		s.storedPrev = old
	}
	m.record(s)
}

// putTimer sets a timer (replacing one of the same id).
func (w *writer) putTimer(t *timerRow) error {
	t.DueNano = t.Due.UnixNano()
	w.m.putTimer(t)
	return nil
}

// dropTimer deletes a timer if it exists.
func (w *writer) dropTimer(id string) error {
	if t := w.m.timers[id]; t != nil {
		w.m.dropTimer(t)
	}
	return nil
}

// dropTimersOf deletes every timer that belongs to target (of the kinds
// given; all when none are).
func (w *writer) dropTimersOf(target string, kinds ...timerKind) error {
	for _, t := range w.m.timersOf(target) {
		if len(kinds) == 0 || containsKind(kinds, t.Kind) {
			w.m.dropTimer(t)
		}
	}
	return nil
}

func containsKind(kinds []timerKind, k timerKind) bool {
	for _, x := range kinds {
		if x == k {
			return true
		}
	}
	return false
}

func timerID(kind timerKind, target string, extra ...string) string {
	id := string(kind) + ":" + target
	for _, e := range extra {
		id += ":" + e
	}
	return id
}
