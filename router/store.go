package router

import (
	"errors"
	"fmt"
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

// getOffer reads a pending offer on a snapshot, through its contact.
func getOffer(txn *memdb.Txn, id string) (*offerRow, error) {
	raw, err := txn.First(tableContacts, indexContactOffer, id)
	if err != nil {
		return nil, fmt.Errorf("offer %s: %w", id, err)
	}
	if raw == nil {
		return nil, fmt.Errorf("offer %s: %w", id, ErrNotFound)
	}
	return offerOf(raw.(*contactRow)), nil
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

// caseEvents lists a case's timeline in seq order, as copies.
func caseEvents(txn *memdb.Txn, caseID string) ([]CaseEvent, error) {
	cs, err := getCase(txn, caseID)
	if err != nil {
		return nil, fmt.Errorf("case %s events: %w", caseID, err)
	}
	var out []CaseEvent
	if len(cs.Events) > 0 {
		out = make([]CaseEvent, len(cs.Events))
		for i, e := range cs.Events {
			out[i] = e.Clone()
		}
	}
	return out, nil
}

// contactsOf lists every contact row of a case, through its legs (a
// re-queued contact has several legs).
func contactsOf(txn *memdb.Txn, caseID string) ([]*contactRow, error) {
	cs, err := getCase(txn, caseID)
	if err != nil {
		return nil, err
	}
	var out []*contactRow
	seen := map[string]bool{}
	for _, l := range cs.Legs {
		if seen[l.ContactID] {
			continue
		}
		seen[l.ContactID] = true
		c, err := getContact(txn, l.ContactID)
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

// agentContacts lists the contacts offered to or assigned to an agent.
func agentContacts(txn *memdb.Txn, username string) ([]*contactRow, error) {
	it, err := txn.Get(tableContacts, indexContactAgent, username)
	if err != nil {
		return nil, fmt.Errorf("agent %s contacts: %w", username, err)
	}
	var out []*contactRow
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(*contactRow))
	}
	return out, nil
}

// agentOffers lists an agent's pending offers by offer id, through the
// contacts offered to them (an offered contact holds its offer's id).
func agentOffers(txn *memdb.Txn, username string) ([]*offerRow, error) {
	held, err := agentContacts(txn, username)
	if err != nil {
		return nil, err
	}
	var out []*offerRow
	for _, c := range held {
		if o := offerOf(c); o != nil {
			out = append(out, o)
		}
	}
	slices.SortFunc(out, func(a, b *offerRow) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func (w *writer) putQueue(q *queueRow) error {
	if err := w.txn.Insert(tableQueues, q); err != nil {
		return fmt.Errorf("insert queue %s: %w", q.ID, err)
	}
	return nil
}

// putAgent writes a, keeping the free sets in step.
func (w *writer) putAgent(a *agentRow) error {
	raw, err := w.txn.First(tableAgents, indexID, a.Username)
	if err != nil {
		return fmt.Errorf("insert agent %s: %w", a.Username, err)
	}
	var old *agentRow
	if raw != nil {
		old = raw.(*agentRow)
	}
	if err := w.txn.Insert(tableAgents, a); err != nil {
		return fmt.Errorf("insert agent %s: %w", a.Username, err)
	}
	w.m.putAgent(old, a)
	return nil
}

// deleteAgent removes the agent's row as it stands, keeping the free sets.
func (w *writer) deleteAgent(username string) error {
	a, err := getAgent(w.txn, username)
	if err != nil {
		return err
	}
	if err := w.txn.Delete(tableAgents, a); err != nil {
		return fmt.Errorf("delete agent %s: %w", a.Username, err)
	}
	w.m.putAgent(a, nil)
	return nil
}

// putContact writes c, keeping the lines in step.
func (w *writer) putContact(c *contactRow) error {
	var aging time.Duration
	if q, err := getQueue(w.txn, c.Queue); err == nil {
		aging = q.Aging
	}
	c.Rank = c.computeRank(aging)
	raw, err := w.txn.First(tableContacts, indexID, c.ID)
	if err != nil {
		return fmt.Errorf("insert contact %s: %w", c.ID, err)
	}
	var old *contactRow
	if raw != nil {
		old = raw.(*contactRow)
	}
	if err := w.txn.Insert(tableContacts, c); err != nil {
		return fmt.Errorf("insert contact %s: %w", c.ID, err)
	}
	w.m.putContact(old, c)
	return nil
}

// deleteContact removes c, keeping the lines.
func (w *writer) deleteContact(c *contactRow) error {
	if err := w.txn.Delete(tableContacts, c); err != nil {
		return fmt.Errorf("delete contact %s: %w", c.ID, err)
	}
	w.m.putContact(c, nil)
	return nil
}

// putCase keeps c as the call's newest version of the case; the call
// writes it to memdb once, when it ends (flushCases). A call changes its
// case several times (a leg, the agents, a timeline entry), and each write
// of a row copies its path in memdb's tree.
func (w *writer) putCase(c *caseRow) error {
	if w.cases == nil {
		w.cases = map[string]*caseRow{}
	}
	w.cases[c.ID] = c
	return nil
}

// getCase is the case as this call left it so far.
func (w *writer) getCase(id string) (*caseRow, error) {
	if c := w.cases[id]; c != nil {
		return c, nil
	}
	return getCase(w.txn, id)
}

// flushCases writes the call's changed cases to memdb: at the end of the
// call, and before anything reads cases on the transaction itself (the
// views an event carries).
func (w *writer) flushCases() error {
	if len(w.cases) == 0 {
		return nil
	}
	for _, id := range sortedKeys(w.cases) {
		if err := w.txn.Insert(tableCases, w.cases[id]); err != nil {
			return fmt.Errorf("insert case %s: %w", id, err)
		}
		w.r.caseWrites++
	}
	clear(w.cases)
	return nil
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
