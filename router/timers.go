package router

import "fmt"

// tickTxn processes every offer expiry and timer due at w.now, earliest
// first, matching after each so later items see the state they would have
// seen had each been handled on time.
func (w *writer) tickTxn() error {
	for range maxMatchSteps {
		o, t, err := w.firstDue()
		if err != nil {
			return err
		}
		switch {
		case o != nil && !o.ExpiresAt.After(w.now) && (t == nil || !t.Due.Before(o.ExpiresAt)):
			if err := w.expireOfferTxn(o); err != nil {
				return fmt.Errorf("expire offer %s: %w", o.ID, err)
			}
		case t != nil && !t.Due.After(w.now):
			if err := w.fireTimerTxn(t); err != nil {
				return fmt.Errorf("timer %s: %w", t.ID, err)
			}
		default:
			return nil
		}
		if err := w.settle(); err != nil {
			return err
		}
	}
	return fmt.Errorf("tick did not finish: %w", ErrConflict)
}

func (w *writer) firstDue() (*offerRow, *timerRow, error) {
	o, _ := w.m.expiries.Min()
	t, _ := w.m.dues.Min()
	return o, t, nil
}

// fireTimerTxn deletes the timer and does what it was set for.
func (w *writer) fireTimerTxn(t *timerRow) error {
	if err := w.dropTimer(t.ID); err != nil {
		return err
	}
	switch t.Kind {
	case timerWrapup:
		return w.wrapupEndTxn(t)
	case timerGrace:
		return w.graceEndTxn(t.Agent)
	case timerWarm:
		return w.warmFailTxn(t.Target, "timeout")
	}
	c, err := w.contact(t.Target)
	if err != nil || !c.Status.Live() {
		return nil
	}
	switch t.Kind {
	case timerOverflow:
		return w.overflowTxn(c, t.Rule)
	case timerWiden:
		n := c.copy()
		n.Widened = true
		if err := w.putContact(n); err != nil {
			return err
		}
		w.markWaiting(c.ID)
	case timerReserve:
		return w.releaseReservationTxn(c)
	case timerDue:
		return w.dueTxn(c)
	}
	return nil
}

// overflowTxn lets the agents of the rule's target queue take the contact.
func (w *writer) overflowTxn(c *contactRow, rule int) error {
	q, err := w.queue(c.Queue)
	if err != nil || rule >= len(q.Overflow) {
		return nil
	}
	to := q.Overflow[rule].To
	if _, err := w.queue(to); err != nil {
		return nil // target not configured (yet): nothing to widen to
	}
	n := c.copy()
	n.Overflowed = withAdded(c.Overflowed, to)
	if err := w.putContact(n); err != nil {
		return err
	}
	w.markWaiting(c.ID)
	return nil
}
