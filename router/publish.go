package router

import (
	"fmt"

	memdb "github.com/hashicorp/go-memdb"
)

// Publication: a write group does not commit its memdb transaction. The
// transaction stays open (Router.open) and the next groups write into it,
// until a reader needs memdb or the transaction holds maxUnpublished calls;
// then it is committed, which is when readers can see it (publishOpen).
//
// Why: go-memdb copies the path from the root to every row it writes,
// once per transaction, and keeps a cache of what it copied for the rest
// of the transaction. One transaction per call paid those copies (and the
// cache) again for every call: half of a routed contact's garbage on one
// caller (router/BENCHMARKS.md). Calls that share a transaction share the
// copies.
//
// What readers see does not change: every read that takes a memdb
// snapshot first publishes what the calls that have returned wrote
// (fresh), so a read sees every call that returned before it began, as
// before. The matching state, the soonest deadlines (for Run) and the
// events are still the group's, at its end; memdb's commit and the
// readers' copies of the lines and offers wait for a reader. The journal
// does not read memdb, and nothing else does but the readers.
//
// A call that fails (or a group that panics) cannot be taken out of an
// open transaction, so the transaction is aborted and rebuilt: the rows
// written since the last publication are written again from the writer's
// stored rows (matching.unpublished), which the failed group's rollback
// has put back as they were before it, and published. Queues and
// memberships are not in the stored rows, so a group that writes them
// publishes at its end.

// maxUnpublished bounds the calls an open transaction holds: go-memdb's
// cache of copied nodes holds 8192 per index, and a longer transaction
// makes a failure's rebuild longer.
const maxUnpublished = 128

// openTxn is the transaction the next group writes into; the caller holds
// r.mu.
func (r *Router) openTxn() *memdb.Txn {
	if r.open == nil {
		r.open = r.db.Load().Txn(true)
	}
	return r.open
}

// publishOpen commits the open transaction, if any, so readers see it;
// the caller holds r.mu.
func (r *Router) publishOpen() {
	if r.open == nil {
		return
	}
	r.linesMu.Lock()
	r.open.Commit()
	r.match.publish(r)
	r.stale = false
	r.linesMu.Unlock()
	if r.cfg.Writes != nil {
		r.cfg.Writes.Published(r.openCalls)
	}
	r.open, r.openCalls, r.writesOther = nil, 0, false
	r.match.unpublished = r.match.unpublished[:0]
	r.publications++
}

// abortOpen aborts the open transaction after a failed group, writes
// what the calls before that group wrote into a new one and publishes it;
// the caller holds r.mu and has rolled the group back. Publishing bounds
// a failure's cost: the next failure has only the calls since to write
// again, so a run of failing calls costs a run of cheap aborts.
func (r *Router) abortOpen() {
	if r.open == nil {
		return
	}
	r.open.Abort()
	r.open = nil
	m := r.match
	if r.openCalls == 0 {
		// Only the failed group wrote to it, and its rows are back as
		// memdb holds them.
		m.unpublished = m.unpublished[:0]
		return
	}
	txn := r.db.Load().Txn(true)
	for _, row := range m.unpublished {
		if err := m.stored.rewrite(txn, row); err != nil {
			// Each of these rows was written once already, under the
			// same schema: a failure here is a bug, not bad input.
			panic(fmt.Sprintf("router: rebuild the unpublished rows: %v", err))
		}
	}
	r.open = txn
	r.publishOpen()
}

// dropOpen forgets the open transaction, for Restore, which replaces the
// database; the caller holds r.mu.
func (r *Router) dropOpen() {
	if r.open != nil {
		r.open.Abort()
	}
	r.open, r.openCalls, r.writesOther = nil, 0, false
}

// fresh calls fn with the database and r.linesMu read-held, when memdb
// holds every call that has returned: it publishes the open transaction
// first if need be. fn only takes what it reads (a snapshot, the lines)
// and returns. It must not be called with r.mu held.
func (r *Router) fresh(fn func(db *memdb.MemDB)) {
	r.linesMu.RLock()
	if !r.stale {
		fn(r.db.Load())
		r.linesMu.RUnlock()
		return
	}
	r.linesMu.RUnlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.publishOpen()
	r.linesMu.RLock()
	defer r.linesMu.RUnlock()
	fn(r.db.Load())
}

// snapshot is a read-only transaction that sees every call that has
// returned.
func (r *Router) snapshot() *memdb.Txn {
	var txn *memdb.Txn
	r.fresh(func(db *memdb.MemDB) { txn = db.Txn(false) })
	return txn
}

// storedRef names a row written to the open transaction.
type storedRef struct {
	table, id string
}

// rewrite writes the row ref names into txn as the writer holds it: the
// stored row, or its absence; a contact's side tables follow its row.
func (s storedRows) rewrite(txn *memdb.Txn, ref storedRef) error {
	switch ref.table {
	case tableContacts:
		c := s.contacts[ref.id]
		if err := rewriteRow(txn, tableContacts, ref.id, c); err != nil {
			return err
		}
		for _, t := range sideTables() {
			if sideHolds(t, c) {
				if err := txn.Insert(t, c); err != nil {
					return fmt.Errorf("insert %s %s: %w", t, ref.id, err)
				}
			} else if _, err := txn.DeleteAll(t, indexID, ref.id); err != nil {
				return fmt.Errorf("delete %s %s: %w", t, ref.id, err)
			}
		}
		return nil
	case tableCases:
		return rewriteRow(txn, tableCases, ref.id, s.cases[ref.id])
	case tableAgents:
		return rewriteRow(txn, tableAgents, ref.id, s.agents[ref.id])
	}
	return fmt.Errorf("no stored rows of table %s", ref.table)
}

func rewriteRow[R any](txn *memdb.Txn, table, id string, row *R) error {
	if row != nil {
		if err := txn.Insert(table, row); err != nil {
			return fmt.Errorf("insert %s %s: %w", table, id, err)
		}
		return nil
	}
	if _, err := txn.DeleteAll(table, indexID, id); err != nil {
		return fmt.Errorf("delete %s %s: %w", table, id, err)
	}
	return nil
}
