package router

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	memdb "github.com/hashicorp/go-memdb"
)

func checkNumber(field, n string) error {
	if n == "" {
		return invalid(field, "is required")
	}
	if len(n) < 3 || len(n) > 32 || strings.Trim(n, "+0123456789") != "" {
		return invalid(field, "must be 3-32 digits, optionally with +")
	}
	return nil
}

// CallbackSlots lists the queue's bookable slots from the next one that
// starts at least SlotLead from now, over SlotHorizon.
func (r *Router) CallbackSlots(queue string, handleTime time.Duration) ([]Slot, error) {
	var out []Slot
	err := r.read(func(txn *memdb.Txn) error {
		q, err := getQueue(txn, queue)
		if err != nil {
			return err
		}
		if !hasChannel(q.Channels, ChannelCallback) || q.Interpreters() {
			return invalid("queue", "queue %s does not offer callbacks", q.ID)
		}
		out, err = r.slotsOf(txn, q, handleTime, r.clock.Now())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("callback slots of %s: %w", queue, err)
	}
	return out, nil
}

func (r *Router) slotsOf(txn *memdb.Txn, q *queueRow, handleTime time.Duration, now time.Time) ([]Slot, error) {
	if handleTime <= 0 {
		handleTime = DefaultHandleTime
	}
	staffed, err := staffedIn(txn, q.ID)
	if err != nil {
		return nil, err
	}
	length := r.cfg.SlotLength
	capacity := int(int64(staffed) * int64(length) * int64(r.cfg.CallbackSharePct) / (int64(handleTime) * 100))
	earliest := now.Add(r.cfg.SlotLead)
	start := earliest.Truncate(length)
	if start.Before(earliest) {
		start = start.Add(length)
	}
	var out []Slot
	for ; start.Before(now.Add(r.cfg.SlotHorizon)); start = start.Add(length) {
		if q.Hours != nil && !q.Hours.Open(start) {
			continue // nobody would call back while the queue is closed
		}
		booked, err := bookedIn(txn, q.ID, start)
		if err != nil {
			return nil, err
		}
		out = append(out, Slot{Start: start, End: start.Add(length), Capacity: capacity, Booked: booked})
	}
	return out, nil
}

// staffedIn counts the queue's members who are logged in (any state but
// offline).
func staffedIn(txn *memdb.Txn, queue string) (int, error) {
	n := 0
	err := eachMember(txn, queue, func(u string) (*agentRow, error) { return getAgent(txn, u) }, func(a *agentRow) bool {
		if a.Connected && a.State != StateOffline {
			n++
		}
		return true
	})
	return n, err
}

func bookedIn(txn *memdb.Txn, queue string, start time.Time) (int, error) {
	n, err := countContacts(txn, tableBooked, indexContactSlot, queue, sortableTime(start))
	if err != nil {
		return 0, fmt.Errorf("bookings of %s: %w", queue, err)
	}
	return n, nil
}

// BookingError is a second booking by a caller who holds one already.
type BookingError struct {
	CallerID  string
	ContactID string
}

func (e *BookingError) Error() string {
	return fmt.Sprintf("caller %s already holds a booked callback (%s)", e.CallerID, e.ContactID)
}

// Unwrap makes a BookingError an ErrConflict.
func (e *BookingError) Unwrap() error { return ErrConflict }

// bookTxn schedules c (not yet stored, or a copy about to be stored) into
// the slot that starts at at, checking the slot exists and has room and
// that the caller holds no other booking.
func (w *writer) bookTxn(c *contactRow, q *queueRow, at time.Time, handleTime time.Duration) error {
	if raw, err := w.tx().First(tableBooked, indexContactBooking, c.Identity); err != nil {
		return fmt.Errorf("bookings of the caller of %s: %w", c.ID, err)
	} else if raw != nil && raw.(*contactRow).ID != c.ID {
		return &BookingError{CallerID: c.Caller.ID, ContactID: raw.(*contactRow).ID}
	}
	slots, err := w.r.slotsOf(w.tx(), q, handleTime, w.now)
	if err != nil {
		return err
	}
	for _, s := range slots {
		if !s.Start.Equal(at) {
			continue
		}
		if s.Free() == 0 {
			return fmt.Errorf("slot %s of %s is full: %w", at.UTC().Format(time.RFC3339), q.ID, ErrConflict)
		}
		c.Status, c.Due, c.Slot, c.EnqueuedAt = StatusScheduled, s.Start, true, s.Start
		return nil
	}
	return invalid("callback_at", "is not one of the queue's callback slots")
}

// RequestCallback turns a waiting voice or chat contact into a callback.
// With req.At zero the contact keeps its place in line (virtual hold) and,
// when it reaches an agent, the gateway dials the number; otherwise it
// leaves the line and waits, scheduled, for its booked slot, then goes to
// the head of the line. The queue must take callbacks; whether the wait is
// long enough to offer one (the queue's CallbackAfter against the
// estimate) is the caller's decision, since the estimate lives outside
// the router.
func (r *Router) RequestCallback(contactID string, req CallbackRequest) (ContactView, []Event, error) {
	if err := checkNumber("number", req.Number); err != nil {
		return ContactView{}, nil, fmt.Errorf("callback for %s: %w", contactID, err)
	}
	return r.writeContact(func(w *writer) (*contactRow, error) {
		c, err := w.requestCallbackTxn(contactID, req)
		if err != nil {
			return nil, fmt.Errorf("callback for %s: %w", contactID, err)
		}
		return c, nil
	})
}

func (w *writer) requestCallbackTxn(contactID string, req CallbackRequest) (*contactRow, error) {
	c, err := w.contact(contactID)
	if err != nil {
		return nil, err
	}
	if c.ConferenceOf != "" || c.WarmOf != "" {
		return nil, invalid("contact_id", "only a citizen's own contact can become a callback")
	}
	if c.Status != StatusQueued {
		return nil, fmt.Errorf("contact is %s; only a waiting contact can become a callback: %w", c.Status, ErrConflict)
	}
	if c.Channel == ChannelCallback && req.At.IsZero() {
		return nil, fmt.Errorf("contact is a callback already: %w", ErrConflict)
	}
	q, err := w.queue(c.Queue)
	if err != nil {
		return nil, err
	}
	if !hasChannel(q.Channels, ChannelCallback) {
		return nil, invalid("queue", "queue %s does not offer callbacks", q.ID)
	}
	n := c.copy()
	n.Channel, n.CallbackNumber = ChannelCallback, req.Number
	data := map[string]string{"contact_id": c.ID, "mode": "keep_place"}
	if !req.At.IsZero() {
		if err := w.bookTxn(n, q, req.At, req.HandleTime); err != nil {
			return nil, err
		}
		data["mode"], data["callback_at"] = "slot", n.Due.UTC().Format(time.RFC3339)
		n.Reserved, n.ReservedDirect = "", false
		if err := w.dropTimersOf(c.ID); err != nil {
			return nil, err
		}
		if err := w.putTimer(&timerRow{ID: timerID(timerDue, c.ID), Kind: timerDue, Target: c.ID, Due: n.Due}); err != nil {
			return nil, err
		}
	} else {
		w.markWaiting(c.ID)
	}
	if err := w.putContact(n); err != nil {
		return nil, err
	}
	if err := w.setLegTxn(n, func(l *Leg) { l.Channel, l.EnqueuedAt = ChannelCallback, n.EnqueuedAt }); err != nil {
		return nil, err
	}
	w.touch(c.Queue)
	e, err := w.appendCaseEventTxn(c.CaseID, CaseCallbackRequested, "citizen:"+c.Caller.ID, "", data)
	if err != nil {
		return nil, err
	}
	v := contactView(n)
	w.emit(Event{Type: EventCallbackRequested, CaseID: c.CaseID, ContactID: c.ID, Queue: c.Queue,
		Actor: e.Actor, Reason: data["mode"], CaseEvent: &e, Contact: &v})
	return n, nil
}

// dueTxn moves a scheduled callback into its line: a booked slot to the
// head (the booking was a promise of that time), a retry by its case age.
func (w *writer) dueTxn(c *contactRow) error {
	if c.Status != StatusScheduled {
		return nil
	}
	n := c.copy()
	// Enqueued at the due time, not the tick that noticed it, so waits
	// measure from the promised time.
	n.Status, n.Head, n.Slot, n.Due, n.EnqueuedAt = StatusQueued, c.Slot, false, time.Time{}, c.Due
	q, err := w.queue(c.Queue)
	n.Widened = err != nil || q.EffectiveStrategy() != StrategyBestSkill || q.WidenAfter <= 0
	if err := w.putContact(n); err != nil {
		return err
	}
	if err := w.setLegTxn(n, func(l *Leg) { l.EnqueuedAt = c.Due }); err != nil {
		return err
	}
	if q != nil {
		if err := w.scheduleContactTimersTxn(n, q); err != nil {
			return err
		}
	}
	v := contactView(n)
	w.emit(Event{Type: EventCallbackDue, CaseID: c.CaseID, ContactID: c.ID, Queue: c.Queue,
		Actor: "router", Contact: &v})
	w.markWaiting(c.ID)
	w.touch(c.Queue)
	return nil
}

// CallbackResult records how a callback call went. username is the agent
// reporting it, or empty for the gateway. An answered call is noted in the
// case; an unanswered one frees the agent and is tried again after the
// queue's CallbackRetryAfter, as a new leg, until CallbackRetries retries
// have failed: then the contact ends as callback_failed.
func (r *Router) CallbackResult(username, contactID, result string) ([]Event, error) {
	if !ValidCallbackResult(result) {
		return nil, fmt.Errorf("callback result for %s: %w", contactID,
			invalid("result", "must be answered, no_answer, busy or failed"))
	}
	return r.write(func(w *writer) error {
		if err := w.callbackResultTxn(username, contactID, result); err != nil {
			return fmt.Errorf("callback result for %s: %w", contactID, err)
		}
		return nil
	})
}

func (w *writer) callbackResultTxn(username, contactID, result string) error {
	c, err := w.contact(contactID)
	if err != nil {
		return err
	}
	if username != "" && c.Agent != username {
		return notYours("contact", contactID)
	}
	if c.Channel != ChannelCallback {
		return invalid("contact_id", "contact %s is not a callback", contactID)
	}
	if c.Status != StatusAssigned {
		return fmt.Errorf("contact is %s; a callback is dialled once an agent accepts it: %w", c.Status, ErrConflict)
	}
	actor := "gateway"
	if username != "" {
		actor = "agent:" + username
	}
	attempt := c.Attempts + 1
	e, err := w.appendCaseEventTxn(c.CaseID, CaseCallbackAttempt, actor, "", map[string]string{
		"contact_id": c.ID, "result": result, "attempt": fmt.Sprint(attempt)})
	if err != nil {
		return err
	}
	w.emit(Event{Type: EventCallbackAttempt, CaseID: c.CaseID, ContactID: c.ID, Queue: c.Queue,
		Agent: c.Agent, Actor: actor, Reason: result, CaseEvent: &e})
	if result == CallbackAnswered {
		return nil
	}
	q, err := w.queue(c.Queue)
	if err != nil {
		return err
	}
	if c.Attempts >= q.CallbackRetries {
		return w.endContactTxn(c.ID, "callback_failed", result, actor, EventEnded)
	}
	n := c.copy()
	n.Attempts = attempt
	if err := w.putContact(n); err != nil {
		return err
	}
	return w.requeueTxn(n, result, w.now.Add(q.EffectiveCallbackRetryAfter()))
}

// EndWithCallback ends an assigned contact as callback_filed and files a
// callback in f.Queue as a new leg of the same case, which keeps its age;
// the new leg's offer shows the note first, like a transfer's.
func (r *Router) EndWithCallback(username, contactID string, f FollowUp) (ContactView, []Event, error) {
	if err := checkID("callback.queue", f.Queue); err != nil {
		return ContactView{}, nil, fmt.Errorf("end %s with callback: %w", contactID, err)
	}
	if f.Number != "" {
		if err := checkNumber("callback.number", f.Number); err != nil {
			return ContactView{}, nil, fmt.Errorf("end %s with callback: %w", contactID, err)
		}
	}
	if utf8.RuneCountInString(f.Note) > maxTextLen || utf8.RuneCountInString(f.Summary) > maxTextLen {
		return ContactView{}, nil, fmt.Errorf("end %s with callback: %w", contactID,
			invalid("note", "note and summary are at most %d characters", maxTextLen))
	}
	return r.writeContact(func(w *writer) (*contactRow, error) {
		leg, err := w.fileCallbackTxn(username, contactID, f)
		if err != nil {
			return nil, fmt.Errorf("end %s with callback: %w", contactID, err)
		}
		return leg, nil
	})
}

func (w *writer) fileCallbackTxn(username, contactID string, f FollowUp) (*contactRow, error) {
	c, err := w.handingOverTxn(username, contactID)
	if err != nil {
		return nil, err
	}
	q, err := w.queue(f.Queue)
	if errors.Is(err, ErrNotFound) {
		return nil, invalid("callback.queue", "no queue %s", f.Queue)
	} else if err != nil {
		return nil, err
	}
	if !hasChannel(q.Channels, ChannelCallback) || q.Interpreters() {
		return nil, invalid("callback.queue", "queue %s does not take callbacks", q.ID)
	}
	number := f.Number
	if number == "" {
		number = c.CallbackNumber
	}
	if number == "" {
		return nil, invalid("callback.number", "is required: the contact has no number to call")
	}
	if err := w.noOtherPlaceTxn(c, q); err != nil {
		return nil, err
	}
	w.r.seq++
	leg := &contactRow{
		ID: w.id("ct"), CaseID: c.CaseID, Identity: c.Identity, Origin: originOf(c), Queue: q.ID, Agency: q.Agency, Channel: ChannelCallback,
		Caller: c.Caller, Priority: c.Priority, Context: c.Context, CallbackNumber: number,
		Skills: contactSkills(q.RequiredSkills, nil, c.Caller.Language),
		Seq:    w.r.seq, CaseCreatedAt: c.CaseCreatedAt, EnqueuedAt: w.now, Status: StatusQueued,
	}
	e, err := w.appendCaseEventTxn(c.CaseID, CaseTransfer, "agent:"+username, f.Note, map[string]string{
		"contact_id": c.ID, "new_contact_id": leg.ID, "from_queue": c.Queue, "to_queue": q.ID, "mode": "callback"})
	if err != nil {
		return nil, err
	}
	leg.TransferSeq = e.Seq
	if err := w.coldHandOverTxn(c, leg, q, "callback_filed", f.Summary, "agent:"+username); err != nil {
		return nil, err
	}
	v := contactView(leg)
	w.emit(Event{Type: EventTransferred, CaseID: c.CaseID, ContactID: c.ID, Queue: q.ID,
		Agent: username, Actor: e.Actor, Text: e.Text, Reason: "callback", CaseEvent: &e, Contact: &v,
		Data: map[string]string{"new_contact_id": leg.ID, "queue": q.ID, "queue_name": q.Name,
			"agency": q.Agency, "mode": "callback"}})
	return leg, nil
}
