package switchboard

import (
	"context"
	"fmt"
	"time"

	"tellonce/cases"
	"tellonce/directory"
	"tellonce/router"
)

// Switchboard applies clients' requests to the router: one method per
// request kind, each of which, when the router accepts the change, waits
// until its events are committed to SQL before it returns (see Commit).
// It is the only door the adapters have to the router; what they may read
// of the live state goes through its embedded Live.
type Switchboard struct {
	Live
	r   *router.Router
	j   Journal
	dir *directory.Store
}

// New makes the switchboard of a router. j may be nil: every change then
// counts as durable at once (tools and tests without a journal). dir may
// be nil for a switchboard that never syncs the directory (the sockets'
// tests).
func New(r *router.Router, j Journal, dir *directory.Store) *Switchboard {
	return &Switchboard{Live: r, r: r, j: j, dir: dir}
}

// Live is what the adapters read of the router's live state; none of them
// changes anything. They read snapshots and take no lock of the router's,
// so a socket hub may call them while it holds its own — except
// LiveCalls, which waits for the router's writes.
type Live interface {
	// Contact is a live contact with its place in line.
	Contact(id string) (cases.ContactView, error)
	// Peek is Contact without the place (cheaper).
	Peek(id string) (cases.ContactView, error)
	// Case is a live case, whole.
	Case(id string) (cases.CaseView, error)
	// OfferCase is the case as the contact's offer shows it (an
	// interpreter's leg: the interpreter's view only).
	OfferCase(contactID string) (cases.CaseView, error)
	// InterpreterCase is the interpreter's view of the case of a live
	// interpreter leg.
	InterpreterCase(legID string) (cases.CaseView, error)
	// Offer is a pending offer.
	Offer(offerID string) (cases.OfferView, error)
	// Agent and Desk are an agent's state and what they hold.
	Agent(username string) (cases.AgentView, error)
	Desk(username string) (cases.Desk, error)
	// Queue is a queue's configuration as the router routes by it.
	Queue(id string) (cases.QueueConfig, error)
	// NearPosition and Positions are places in line.
	NearPosition(contactID string) (n int, ok bool, err error)
	Positions(queue string, ids []string) (map[string]int, error)
	// CallbackSlots are a queue's callback time slots for a handle time.
	CallbackSlots(queue string, handleTime time.Duration) ([]cases.Slot, error)
	// LiveCalls are the live voice and callback contacts and the sequence
	// number of the last event they reflect. It takes the router's write
	// lock, so that the number is exact: never call it holding a lock the
	// router's Sink may wait for.
	LiveCalls() ([]cases.ContactView, uint64, error)
}

var _ Live = (*router.Router)(nil)

// Settle waits until everything the router has done so far is durable:
// for a write that follows the router's own (a closed case's late
// recording) in the durable log.
func (s *Switchboard) Settle(ctx context.Context) error {
	if s.j == nil {
		return nil
	}
	if err := s.j.Wait(ctx, s.r.LastSeq()); err != nil {
		return fmt.Errorf("%w: %v", ErrNotDurable, err)
	}
	return nil
}

// commit makes a write's events durable; a router error is returned as it
// is, before any wait.
func (s *Switchboard) commit(ctx context.Context, evs []cases.Event, err error) error {
	if err != nil {
		return err
	}
	return Commit(ctx, s.j, evs)
}
