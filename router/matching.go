package router

import (
	"slices"
	"time"

	memdb "github.com/hashicorp/go-memdb"
	"github.com/tidwall/btree"
)

// The matching state: the facts that change on every routing step, kept by
// the writer in structures made for them rather than in memdb's radix
// trees. memdb keeps the case context (queues, agents, contacts, cases):
// what readers see. The matching state is derived from those rows — a
// function of them, rebuilt from them by buildMatching — and is changed
// only inside a write call, by the same put that writes the row, so the
// two move in step:
//
//   - lines: per (queue, class), the queued contacts in rank order
//     (priority, case age, sequence, with id breaking ties as memdb's
//     non-unique indexes did);
//   - overflow lines: per (queue, class), the queued contacts overflowed
//     into that queue, in rank order;
//   - free sets: per (queue, class), the agents who could take a contact of
//     the class now (connected, available, with a free slot), longest idle
//     first;
//   - each caller's one live contact per queue (the one-place rule);
//   - timers (overflow, widening, holds, warm transfers, wrap-ups, grace,
//     scheduled callbacks) by id, due time and target; they are no rows,
//     so a restore schedules them anew and a rebuild takes them over
//     (withTimers);
//   - pending offers by id and by expiry, soonest first (an offer is the
//     offered contact's row's OfferID, Agent and OfferExpires: memdb
//     keeps no table of them).
//
// A write group that fails is rolled back by an undo log: each change to a
// tree records what it replaced, and an abort replays the log backwards.
// Undo rather than copy-on-write because groups almost never fail: a
// copy-on-write tree copies the path to every node it changes once per
// group, the very cost that made memdb's trees slow here, while the log
// costs one small entry per change and nothing more unless it is used.
//
// Readers never see the writer's trees. When memdb's open transaction is
// committed (publish.go), the lines changed since the last commit are
// published as copy-on-write copies (btree Copy, constant time) into
// Router.view, paired with the memdb snapshot under linesMu: a reader
// takes both at once and so sees every line exactly as of that snapshot,
// never a half-applied call.

// treeDegree keeps nodes small: a published line's next change copies the
// nodes on its path, so a node's size is garbage per changed line.
const treeDegree = 16

type lineTree = btree.BTreeG[*contactRow]

type freeTree = btree.BTreeG[*agentRow]

type offerTree = btree.BTreeG[*offerRow]

type timerTree = btree.BTreeG[*timerRow]

func newLineTree() *lineTree {
	return btree.NewBTreeGOptions(byRank, btree.Options{NoLocks: true, Degree: treeDegree})
}

func newFreeTree() *freeTree {
	return btree.NewBTreeGOptions(byIdle, btree.Options{NoLocks: true, Degree: treeDegree})
}

func newOfferTree() *offerTree {
	return btree.NewBTreeGOptions(byExpiry, btree.Options{NoLocks: true, Degree: treeDegree})
}

func newTimerTree() *timerTree {
	return btree.NewBTreeGOptions(byDue, btree.Options{NoLocks: true, Degree: treeDegree})
}

// byDue is due order: due time, then timer id.
func byDue(a, b *timerRow) bool {
	if a.DueNano != b.DueNano {
		return a.DueNano < b.DueNano
	}
	return a.ID < b.ID
}

// byRank is routing order: rank, then id.
func byRank(a, b *contactRow) bool {
	if a.Rank != b.Rank {
		return a.Rank < b.Rank
	}
	return a.ID < b.ID
}

// byIdle is longest-idle order: idle since, then username.
func byIdle(a, b *agentRow) bool {
	if x, y := idleKey(a), idleKey(b); x != y {
		return x < y
	}
	return a.Username < b.Username
}

// idleKey is IdleSince as the order compares it, before 1970 as 1970.
func idleKey(a *agentRow) int64 { return max(a.IdleSince.UnixNano(), 0) }

// byExpiry is expiry order: expiry, then offer id.
func byExpiry(a, b *offerRow) bool {
	if a.ExpiresNano != b.ExpiresNano {
		return a.ExpiresNano < b.ExpiresNano
	}
	return a.ID < b.ID
}

// matching is the writer's matching state; see the comment at the top.
type matching struct {
	lines    map[lineKey]*lineTree     // lineID → queued contacts, best first
	overflow map[lineKey]*lineTree     // lineID of the queue overflowed into → contacts, best first
	free     map[lineKey]*freeTree     // lineID → free agents, longest idle first
	offers   map[string]*offerRow      // pending offers by id (offerOf each offered contact)
	callers  map[callerKey]*contactRow // a caller's live contact per queue (see callerOf)
	// timers by id, by due time and by target (the contact or agent they
	// belong to).
	timers   map[string]*timerRow
	dues     *timerTree
	byTarget map[string]map[string]*timerRow
	expiries *offerTree // pending offers, soonest expiry first
	// stored are memdb's rows by id, for the writer's reads.
	stored storedRows
	// changed are the lines changed since the last publish.
	changed map[lineKey]struct{}
	// changedOffers are the offers added or dropped since the last
	// publish.
	changedOffers map[string]struct{}
	// undo is the running group's changes, oldest first; nil log means
	// nothing to record (a restore builds a matching state it drops on
	// failure).
	undo    []undoStep
	logging bool
	// unpublished are the stored rows written since memdb's last
	// publication, in the order written (repeats included): what a failed
	// group's rebuild of the open transaction writes again (publish.go).
	unpublished []storedRef
}

func newMatching() *matching {
	return &matching{lines: map[lineKey]*lineTree{}, overflow: map[lineKey]*lineTree{}, free: map[lineKey]*freeTree{},
		offers: map[string]*offerRow{}, callers: map[callerKey]*contactRow{},
		timers: map[string]*timerRow{}, dues: newTimerTree(), byTarget: map[string]map[string]*timerRow{}, expiries: newOfferTree(), changed: map[lineKey]struct{}{},
		changedOffers: map[string]struct{}{}, logging: true,
		stored: storedRows{contacts: map[string]*contactRow{}, cases: map[string]*caseRow{}, agents: map[string]*agentRow{}}}
}

// storedRows are the rows memdb holds, by id: the writer reads them here
// rather than through its transaction, where a lookup costs two radix
// searches, an index transaction and a key, and a delete hands memdb the
// stored row instead of looking it up first. They are memdb's own row
// values, changed only by flush in step with the transaction, and undone
// with a group that fails. Readers never use them: they read snapshots.
type storedRows struct {
	contacts map[string]*contactRow
	cases    map[string]*caseRow
	agents   map[string]*agentRow
}

// restore puts back the row of table under id that was prev (nil: none).
func (s storedRows) restore(table, id string, prev any) {
	switch table {
	case tableContacts:
		putStored(s.contacts, id, prev)
	case tableCases:
		putStored(s.cases, id, prev)
	case tableAgents:
		putStored(s.agents, id, prev)
	}
}

func putStored[R any](rows map[string]*R, id string, prev any) {
	if prev == nil {
		delete(rows, id)
		return
	}
	rows[id] = prev.(*R)
}

// undoStep is one change to one structure: on undo, added is taken out
// and removed put back.
type undoStep struct {
	line           *lineTree
	free           *freeTree
	addedContact   *contactRow
	removedContact *contactRow
	addedAgent     *agentRow
	removedAgent   *agentRow
	addedOffer     *offerRow
	removedOffer   *offerRow
	callerChange   bool        // a change of callers[caller], which was prevCaller
	caller         callerKey   // a value, not a pointer: no allocation per step
	prevCaller     *contactRow // nil: there was none
	addedTimer     *timerRow
	removedTimer   *timerRow
	storedTable    string // a change of a stored row: its table, id and the row before (nil: none)
	storedID       string
	storedPrev     any
}

func (m *matching) record(s undoStep) {
	if m.logging {
		m.undo = append(m.undo, s)
	}
}

// rollback undoes the running group's changes, newest first.
func (m *matching) rollback() {
	for i := len(m.undo) - 1; i >= 0; i-- {
		s := m.undo[i]
		switch {
		case s.storedTable != "":
			m.stored.restore(s.storedTable, s.storedID, s.storedPrev)
		case s.addedTimer != nil:
			m.unindexTimer(s.addedTimer)
		case s.removedTimer != nil:
			m.indexTimer(s.removedTimer)
		case s.callerChange:
			if s.prevCaller != nil {
				m.callers[s.caller] = s.prevCaller
			} else {
				delete(m.callers, s.caller)
			}
		case s.line != nil:
			if s.addedContact != nil {
				s.line.Delete(s.addedContact)
			}
			if s.removedContact != nil {
				s.line.Set(s.removedContact)
			}
		case s.free != nil:
			if s.addedAgent != nil {
				s.free.Delete(s.addedAgent)
			}
			if s.removedAgent != nil {
				s.free.Set(s.removedAgent)
			}
		default:
			if s.addedOffer != nil {
				m.expiries.Delete(s.addedOffer)
				delete(m.offers, s.addedOffer.ID)
			}
			if s.removedOffer != nil {
				m.expiries.Set(s.removedOffer)
				m.offers[s.removedOffer.ID] = s.removedOffer
			}
		}
	}
	m.forget()
}

// forget drops the undo log: the group committed.
func (m *matching) forget() {
	clear(m.undo) // let the rows go
	m.undo = m.undo[:0]
}

func treeOf[T any](trees map[lineKey]*btree.BTreeG[T], id lineKey, make func() *btree.BTreeG[T]) *btree.BTreeG[T] {
	t := trees[id]
	if t == nil {
		t = make()
		trees[id] = t
	}
	return t
}

// lineSet puts c into a line (replacing its older version of the same
// rank), lineDelete takes it out.
func (m *matching) lineSet(trees map[lineKey]*lineTree, id lineKey, c *contactRow) {
	t := treeOf(trees, id, newLineTree)
	prev, replaced := t.Set(c)
	s := undoStep{line: t, addedContact: c}
	if replaced {
		s.removedContact = prev
	}
	m.record(s)
}

func (m *matching) lineDelete(trees map[lineKey]*lineTree, id lineKey, c *contactRow) {
	t := trees[id]
	if t == nil {
		return
	}
	if prev, ok := t.Delete(c); ok {
		m.record(undoStep{line: t, removedContact: prev})
	}
}

// putContact moves a contact that was old and is now c (either may be
// nil) in the lines and overflow lines.
func (m *matching) putContact(old, c *contactRow) {
	from, to := lineOf(old), lineOf(c)
	sameRank := old != nil && c != nil && old.Rank == c.Rank
	if from != (lineKey{}) && (from != to || !sameRank) {
		m.lineDelete(m.lines, from, old)
	}
	if to != (lineKey{}) {
		m.lineSet(m.lines, to, c)
	}
	if from != to || !sameRank {
		m.changed[from], m.changed[to] = struct{}{}, struct{}{}
	} else if to != (lineKey{}) {
		m.changed[to] = struct{}{} // the row changed: readers see the new one
	}
	// Overflow lines: out of the old ones it left, into every new one (a
	// Set of the same rank replaces the older row in place).
	var oldOver, newOver []string
	if from != (lineKey{}) {
		oldOver = old.Overflowed
	}
	if to != (lineKey{}) {
		newOver = c.Overflowed
	}
	class := capClass("")
	if c != nil {
		class = c.class()
	}
	for _, q := range oldOver {
		if !sameRank || to == (lineKey{}) || !containsString(newOver, q) || old.class() != class {
			m.lineDelete(m.overflow, lineID(q, old.class()), old)
		}
	}
	for _, q := range newOver {
		m.lineSet(m.overflow, lineID(q, class), c)
	}
	// The caller's place, when it moved.
	ok, hadOld := callerOf(old)
	nk, hasNew := callerOf(c)
	if hadOld && (!hasNew || ok != nk) && m.callers[ok] != nil {
		m.record(undoStep{callerChange: true, caller: ok, prevCaller: m.callers[ok]})
		delete(m.callers, ok)
	}
	if hasNew {
		m.record(undoStep{callerChange: true, caller: nk, prevCaller: m.callers[nk]})
		m.callers[nk] = c
	}
	// The pending offer, when the row's offer changed.
	if o, n := offerOf(old), offerOf(c); o == nil || n == nil || *o != *n {
		if o != nil {
			m.dropOffer(m.offers[o.ID])
		}
		if n != nil {
			m.addOffer(n)
		}
	}
}

// callerKey names a caller's one place in a queue.
type callerKey struct{ queue, identity string }

// callerOf is the place a contact holds for its caller: while live, except
// pending warm-transfer legs and interpreter legs, which are the same
// person's existing place rather than a second one.
func callerOf(c *contactRow) (callerKey, bool) {
	if c == nil || !c.Status.Live() || c.WarmOf != "" || c.ConferenceOf != "" || c.Identity == "" {
		return callerKey{}, false
	}
	return callerKey{c.Queue, c.Identity}, true
}

// freeKeys are the free sets an agent belongs in: each of their queues,
// for each class they have a free slot of, while connected and available.
func freeKeys(a *agentRow) []lineKey {
	if a == nil || !a.routable() {
		return nil
	}
	var keys []lineKey
	for _, class := range classes {
		if !a.free(class) {
			continue
		}
		for q := range a.Queues {
			keys = append(keys, lineID(q, class))
		}
	}
	return keys
}

// putAgent moves an agent that was old and is now a (either may be nil)
// in the free sets.
func (m *matching) putAgent(old, a *agentRow) {
	oldKeys, newKeys := freeKeys(old), freeKeys(a)
	sameKey := old != nil && a != nil && idleKey(old) == idleKey(a)
	for _, k := range oldKeys {
		if !sameKey || !slices.Contains(newKeys, k) {
			if t := m.free[k]; t != nil {
				if prev, ok := t.Delete(old); ok {
					m.record(undoStep{free: t, removedAgent: prev})
				}
			}
		}
	}
	for _, k := range newKeys {
		t := treeOf(m.free, k, newFreeTree)
		prev, replaced := t.Set(a)
		s := undoStep{free: t, addedAgent: a}
		if replaced {
			s.removedAgent = prev
		}
		m.record(s)
	}
}

// addOffer and dropOffer keep the pending offers.
func (m *matching) addOffer(o *offerRow) {
	m.offers[o.ID] = o
	m.changedOffers[o.ID] = struct{}{}
	m.expiries.Set(o)
	m.record(undoStep{addedOffer: o})
}

func (m *matching) dropOffer(o *offerRow) {
	if o == nil {
		return
	}
	delete(m.offers, o.ID)
	m.changedOffers[o.ID] = struct{}{}
	m.expiries.Delete(o)
	m.record(undoStep{removedOffer: o})
}

// putTimer adds t, replacing a timer of the same id.
func (m *matching) putTimer(t *timerRow) {
	if old := m.timers[t.ID]; old != nil {
		m.dropTimer(old)
	}
	m.indexTimer(t)
	m.record(undoStep{addedTimer: t})
}

// dropTimer removes t.
func (m *matching) dropTimer(t *timerRow) {
	m.unindexTimer(t)
	m.record(undoStep{removedTimer: t})
}

func (m *matching) indexTimer(t *timerRow) {
	m.timers[t.ID] = t
	m.dues.Set(t)
	of := m.byTarget[t.Target]
	if of == nil {
		of = map[string]*timerRow{}
		m.byTarget[t.Target] = of
	}
	of[t.ID] = t
}

func (m *matching) unindexTimer(t *timerRow) {
	delete(m.timers, t.ID)
	m.dues.Delete(t)
	if of := m.byTarget[t.Target]; of != nil {
		delete(of, t.ID)
		if len(of) == 0 {
			delete(m.byTarget, t.Target)
		}
	}
}

// timersOf are the timers of a target, by id.
func (m *matching) timersOf(target string) []*timerRow {
	of := m.byTarget[target]
	out := make([]*timerRow, 0, len(of))
	for _, id := range sortedKeys(of) {
		out = append(out, of[id])
	}
	return out
}

// withTimers is m with the timers of from: timers are not rows, so a
// state rebuilt from the rows takes them from the state it replaces (a
// restore, from the timers it scheduled while filling memdb).
func (m *matching) withTimers(from *matching) *matching {
	logging := m.logging
	m.logging = false
	for _, id := range sortedKeys(from.timers) {
		m.putTimer(from.timers[id])
	}
	m.logging = logging
	return m
}

// line is the queued contacts of a queue's class, best first; nil when
// none wait.
func (m *matching) line(queue string, class capClass) *lineTree {
	return m.lines[lineID(queue, class)]
}

// publishDeadlines gives the router the soonest offer expiry and timer,
// at every group's end: Run must not wait past them. The caller holds
// linesMu for writing.
func (m *matching) publishDeadlines(r *Router) {
	r.firstOffer, r.firstTimer = time.Time{}, time.Time{}
	if o, ok := m.expiries.Min(); ok {
		r.firstOffer = o.ExpiresAt
	}
	if t, ok := m.dues.Min(); ok {
		r.firstTimer = t.Due
	}
}

// publish copies the lines and offers changed since the last publish into
// the router's view, with memdb's commit (publish.go): the writer's trees
// are copied once per publication, however many calls changed them. The
// caller holds linesMu for writing.
func (m *matching) publish(r *Router) {
	view := r.view
	for id := range m.changed {
		if id == (lineKey{}) {
			continue
		}
		if t := m.lines[id]; t != nil && t.Len() > 0 {
			view[id] = t.Copy()
		} else {
			delete(view, id)
			delete(m.lines, id)
		}
	}
	clear(m.changed)
	for id := range m.changedOffers {
		if o := m.offers[id]; o != nil {
			r.offers[id] = o
		} else {
			delete(r.offers, id)
		}
	}
	clear(m.changedOffers)
}

// ahead counts the contacts of t ranked before c: a binary search over
// the tree's positions, each found from the node counts, so O(log² n)
// however long the line.
func ahead(t *lineTree, c *contactRow) int {
	if t == nil {
		return 0
	}
	lo, hi := 0, t.Len()
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if x, _ := t.GetAt(mid); byRank(x, c) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// placeIn is a queued contact's place in its queue's line, from 1: one
// more than the contacts of both its queue's lines ranked before it.
func placeIn(lines [2]*lineTree, c *contactRow) int {
	if c.Status != StatusQueued {
		return 0
	}
	return 1 + ahead(lines[0], c) + ahead(lines[1], c)
}

// scanLine calls fn on the contacts of t best first until fn returns false.
func scanLine(t *lineTree, fn func(c *contactRow) bool) {
	if t != nil {
		t.Scan(fn)
	}
}

// mergedLine is both lines of a queue merged in rank order.
func mergedLine(lines [2]*lineTree) []*contactRow {
	var out []*contactRow
	for _, t := range lines {
		scanLine(t, func(c *contactRow) bool { out = append(out, c); return true })
	}
	if lines[0] != nil && lines[1] != nil && lines[0].Len() > 0 && lines[1].Len() > 0 {
		sortByRank(out)
	}
	return out
}

// rebuildMatching derives the matching state from the rows in one pass:
// what Restore does after filling memdb, and what the invariant test
// compares the writer's state with after every write.
func rebuildMatching(txn *memdb.Txn) *matching {
	m := newMatching()
	m.logging = false
	if it, err := txn.Get(tableContacts, indexID); err == nil {
		for raw := it.Next(); raw != nil; raw = it.Next() {
			c := raw.(*contactRow)
			m.stored.contacts[c.ID] = c
			m.putContact(nil, c) // lines, overflow lines and its offer
		}
	}
	if it, err := txn.Get(tableAgents, indexID); err == nil {
		for raw := it.Next(); raw != nil; raw = it.Next() {
			a := raw.(*agentRow)
			m.stored.agents[a.Username] = a
			m.putAgent(nil, a)
		}
	}
	if it, err := txn.Get(tableCases, indexID); err == nil {
		for raw := it.Next(); raw != nil; raw = it.Next() {
			cs := raw.(*caseRow)
			m.stored.cases[cs.ID] = cs
		}
	}
	m.logging = true
	return m
}
