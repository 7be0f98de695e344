package router

import (
	"fmt"

	memdb "github.com/hashicorp/go-memdb"
)

// Contact returns a contact of an open case, with its position while queued.
func (r *Router) Contact(id string) (ContactView, error) {
	c, lines, err := r.contactWithLines(id)
	if err != nil {
		return ContactView{}, fmt.Errorf("contact: %w", err)
	}
	out := contactView(c)
	out.Position = placeIn(lines, c)
	return out, nil
}

// contactWithLines reads a contact on a snapshot, with its queue's lines
// as of that snapshot.
func (r *Router) contactWithLines(id string) (*contactRow, [2]*lineTree, error) {
	var c *contactRow
	var lines [2]*lineTree
	var err error
	r.fresh(func(db *memdb.MemDB) {
		if c, err = getContact(db.Txn(false), id); err == nil {
			lines = r.viewOf(c.Queue)
		}
	})
	return c, lines, err
}

// viewOf is the queue's published lines; the caller holds linesMu.
func (r *Router) viewOf(queue string) [2]*lineTree {
	return [2]*lineTree{r.view[lineID(queue, classVoice)], r.view[lineID(queue, classChat)]}
}

// readLines runs fn on a snapshot with the queue's lines as of it.
// The published copies are swapped with each commit under linesMu, so
// taking both under it pairs them.
func (r *Router) readLines(queue string, fn func(txn *memdb.Txn, lines [2]*lineTree) error) error {
	var txn *memdb.Txn
	var lines [2]*lineTree
	r.fresh(func(db *memdb.MemDB) { txn, lines = db.Txn(false), r.viewOf(queue) })
	return fn(txn, lines)
}

// NearPosition is Position for a contact near either end of its line:
// within nearPlaces of the front or of the back. ok is false when it
// waits further inside; then ask Positions or Position. Every place costs
// a binary search now, but callers (the citizens' hub) keep deep places
// for a refresher that counts many at once, and this keeps that contract.
func (r *Router) NearPosition(contactID string) (n int, ok bool, err error) {
	c, lines, err := r.contactWithLines(contactID)
	if err != nil {
		return 0, false, fmt.Errorf("near position: %w", err)
	}
	n = placeIn(lines, c)
	length := 0
	for _, t := range lines {
		if t != nil {
			length += t.Len()
		}
	}
	if c.Status == StatusQueued && n > nearPlaces && length-n >= nearPlaces {
		return 0, false, nil
	}
	return n, true, nil
}

// nearPlaces is how near an end of its line NearPosition answers.
const nearPlaces = 256

// Peek is Contact without the position, which costs a walk of the line
// ahead of a waiting contact: for callers that need only where the contact
// stands (status, queue, agent), often, or under a lock of their own.
func (r *Router) Peek(id string) (ContactView, error) {
	var out ContactView
	err := r.read(func(txn *memdb.Txn) error {
		c, err := getContact(txn, id)
		if err != nil {
			return err
		}
		out = contactView(c)
		return nil
	})
	if err != nil {
		return ContactView{}, fmt.Errorf("peek: %w", err)
	}
	return out, nil
}

// OfferCase is the case as an offer of the contact shows it: the whole
// case with the transfer note that made the leg first, or for an
// interpreter's leg the interpreter's view.
func (r *Router) OfferCase(contactID string) (CaseView, error) {
	var out CaseView
	err := r.read(func(txn *memdb.Txn) error {
		c, err := getContact(txn, contactID)
		if err != nil {
			return err
		}
		out, err = offerCaseView(snapshotCases(txn), c)
		return err
	})
	if err != nil {
		return CaseView{}, fmt.Errorf("offer case: %w", err)
	}
	return out, nil
}

// Position is the contact's place in its queue's line, from 1; 0 when it is
// not waiting.
func (r *Router) Position(contactID string) (int, error) {
	c, lines, err := r.contactWithLines(contactID)
	if err != nil {
		return 0, fmt.Errorf("position: %w", err)
	}
	return placeIn(lines, c), nil
}

// Case returns an open case with every leg and timeline entry. Closed cases
// have left the router: read them from the durable store.
func (r *Router) Case(id string) (CaseView, error) {
	var out CaseView
	err := r.read(func(txn *memdb.Txn) error {
		cs, err := getCase(txn, id)
		if err != nil {
			return err
		}
		out, err = caseView(cs, "open")
		return err
	})
	if err != nil {
		return CaseView{}, fmt.Errorf("case: %w", err)
	}
	return out, nil
}

// Positions gives the place in queue's line, from 1, of each of the given
// contacts that waits there; contacts not waiting in it are left out. Each
// place is a binary search of the line published with one snapshot.
func (r *Router) Positions(queue string, ids []string) (map[string]int, error) {
	out := make(map[string]int, len(ids))
	err := r.readLines(queue, func(txn *memdb.Txn, lines [2]*lineTree) error {
		if _, err := getQueue(txn, queue); err != nil {
			return err
		}
		for _, id := range ids {
			c, err := getContact(txn, id)
			if err != nil || c.Status != StatusQueued || c.Queue != queue {
				continue
			}
			out[id] = placeIn(lines, c)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("positions in %s: %w", queue, err)
	}
	return out, nil
}

// Waiting lists a queue's waiting contacts in routing order (the order
// positions count in).
func (r *Router) Waiting(queue string) ([]ContactView, error) {
	var out []ContactView
	err := r.readLines(queue, func(txn *memdb.Txn, lines [2]*lineTree) error {
		if _, err := getQueue(txn, queue); err != nil {
			return err
		}
		for i, c := range mergedLine(lines) {
			v := contactView(c)
			v.Position = i + 1
			out = append(out, v)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("waiting: %w", err)
	}
	return out, nil
}

// LiveCalls lists the live (not ended) voice and callback contacts, in id
// order, and the Seq of the last event the listing reflects: events up to
// seq are in it, later ones are not. It takes the write lock for a moment
// to pair the snapshot with seq.
func (r *Router) LiveCalls() ([]ContactView, uint64, error) {
	r.mu.Lock()
	r.publishOpen()
	txn := r.db.Load().Txn(false)
	seq := r.eventSeq
	r.mu.Unlock()
	var out []ContactView
	it, err := txn.Get(tableContacts, indexID)
	if err != nil {
		return nil, 0, fmt.Errorf("live calls: %w", err)
	}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		c := raw.(*contactRow)
		if c.Channel == ChannelChat || !c.Status.Live() {
			continue
		}
		out = append(out, contactView(c))
	}
	return out, seq, nil
}

// LastSeq is the Seq of the last event of a change this router has made
// (its Sink has the event, or gets it before the next write group runs):
// once it is durable, so is every change made so far. It takes the write
// lock for a moment.
func (r *Router) LastSeq() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.eventSeq
}

// Agents lists every agent's username, in username order: what a reader
// that keeps per-agent figures needs to learn them, without copying the
// whole live state as Snapshot does.
func (r *Router) Agents() ([]string, error) {
	var out []string
	err := r.read(func(txn *memdb.Txn) error {
		it, err := txn.Get(tableAgents, indexID)
		if err != nil {
			return err
		}
		for raw := it.Next(); raw != nil; raw = it.Next() {
			out = append(out, raw.(*agentRow).Username)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("agents: %w", err)
	}
	return out, nil
}
