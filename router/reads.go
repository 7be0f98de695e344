package router

import (
	"fmt"

	memdb "github.com/hashicorp/go-memdb"
)

// Contact returns a contact of an open case, with its position while queued.
func (r *Router) Contact(id string) (ContactView, error) {
	txn, c, lengths, err := r.contactWithLines(id)
	if err != nil {
		return ContactView{}, fmt.Errorf("contact: %w", err)
	}
	out := contactView(c)
	if out.Position, err = r.place(txn, c, lengths); err != nil {
		return ContactView{}, fmt.Errorf("contact: %w", err)
	}
	return out, nil
}

// place counts c's place as read on txn: near either end of its line at
// once, deeper in a round shared with everyone asking about the same line
// (deepPlace), which counts on a snapshot a moment newer.
func (r *Router) place(txn *memdb.Txn, c *contactRow, lengths lineLengths) (int, error) {
	if n, ok, err := placeWithin(txn, c, lengths, backProbe); err != nil || ok {
		return n, err
	}
	if n, ok, err := r.deepPlace(c.Queue, c.ID); err != nil || ok {
		return n, err
	}
	// It left the line meanwhile: the place as of txn.
	return position(txn, c, lengths)
}

// contactWithLines reads a contact on a snapshot, with the lengths of its
// queue's lines as of that snapshot, to count its place from whichever
// end is nearer. The lengths are the writer's (Router.lines), paired with
// the snapshot under linesMu.
func (r *Router) contactWithLines(id string) (*memdb.Txn, *contactRow, lineLengths, error) {
	r.linesMu.RLock()
	defer r.linesMu.RUnlock()
	txn := r.db.Load().Txn(false)
	c, err := getContact(txn, id)
	if err != nil {
		return nil, nil, lineLengths{}, err
	}
	var lengths lineLengths
	for i, class := range classes {
		lengths[i] = r.lines[lineID(c.Queue, class)]
	}
	return txn, c, lengths, nil
}

// NearPosition is Position for a contact near either end of its line:
// within backProbe places of the front or of the back. ok is false when
// it waits further inside (then count it with Positions, one walk for many
// contacts, or Position). It costs a few hundred steps at most, whatever
// the line's length.
func (r *Router) NearPosition(contactID string) (n int, ok bool, err error) {
	txn, c, lengths, err := r.contactWithLines(contactID)
	if err == nil {
		if n, ok, err = placeWithin(txn, c, lengths, backProbe); err == nil {
			return n, ok, nil
		}
	}
	return 0, false, fmt.Errorf("near position: %w", err)
}

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
		out, err = offerCaseView(txn, c)
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
	txn, c, lengths, err := r.contactWithLines(contactID)
	if err == nil {
		var n int
		if n, err = r.place(txn, c, lengths); err == nil {
			return n, nil
		}
	}
	return 0, fmt.Errorf("position: %w", err)
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
		out, err = caseView(txn, cs, "open")
		return err
	})
	if err != nil {
		return CaseView{}, fmt.Errorf("case: %w", err)
	}
	return out, nil
}

// Positions gives the place in queue's line, from 1, of each of the given
// contacts that waits there; contacts not waiting in it are left out. It
// walks the line once on a snapshot, so it answers for many contacts at the
// cost of one Position, and stops when it has found them all.
func (r *Router) Positions(queue string, ids []string) (map[string]int, error) {
	want := make(map[string]struct{}, len(ids))
	for _, id := range ids {
		want[id] = struct{}{}
	}
	out := make(map[string]int, len(ids))
	err := r.read(func(txn *memdb.Txn) error {
		if _, err := getQueue(txn, queue); err != nil {
			return err
		}
		// Each class's line is in rank order; merging the two gives the
		// queue's line as Waiting sorts it.
		var its [2]memdb.ResultIterator
		var heads [2]*contactRow
		for i, class := range classes {
			it, err := txn.Get(tableContacts, indexContactRank, queue, string(class))
			if err != nil {
				return err
			}
			its[i], heads[i] = it, nextContact(it)
		}
		for n := 1; len(out) < len(want) && (heads[0] != nil || heads[1] != nil); n++ {
			i := 0
			if heads[0] == nil || (heads[1] != nil && heads[1].rank() < heads[0].rank()) {
				i = 1
			}
			if _, ok := want[heads[i].ID]; ok {
				out[heads[i].ID] = n
			}
			heads[i] = nextContact(its[i])
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("positions in %s: %w", queue, err)
	}
	return out, nil
}

// nextContact is the iterator's next contact, nil at its end.
func nextContact(it memdb.ResultIterator) *contactRow {
	if raw := it.Next(); raw != nil {
		return raw.(*contactRow)
	}
	return nil
}

// Waiting lists a queue's waiting contacts in routing order (the order
// positions count in).
func (r *Router) Waiting(queue string) ([]ContactView, error) {
	var out []ContactView
	err := r.read(func(txn *memdb.Txn) error {
		if _, err := getQueue(txn, queue); err != nil {
			return err
		}
		line, err := waitingLine(txn, queue)
		for i, c := range line {
			v := contactView(c)
			v.Position = i + 1
			out = append(out, v)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("waiting: %w", err)
	}
	return out, nil
}

// LiveCalls lists the live (not ended) voice and callback contacts, in id
// order, and the Seq of the last event the listing reflects: events up to
// seq are in it, later ones are not. It takes the write lock for a moment
// to pair the snapshot with seq, so it must not be called from a Sink.
func (r *Router) LiveCalls() ([]ContactView, uint64, error) {
	r.mu.Lock()
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

// LastSeq is the Seq of the last event this router published: once it is
// durable, so is every change made so far. It takes the write lock for a
// moment, so it must not be called from a Sink.
func (r *Router) LastSeq() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.eventSeq
}
