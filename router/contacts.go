package router

import (
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"
	"unicode/utf8"

	"tellonce/privacy"

	memdb "github.com/hashicorp/go-memdb"
)

// Input bounds.
const (
	maxTextLen     = 4000
	maxNameLen     = 200
	maxIVR         = 64
	maxAttributes  = 64
	maxDisposition = 64
)

// Validate checks an enqueue request without looking at router state.
func (req EnqueueRequest) Validate() error {
	if !req.Channel.Valid() {
		return invalid("channel", "must be voice, chat or callback")
	}
	if err := checkID("queue", req.Queue); err != nil {
		return err
	}
	if err := checkID("caller.id", req.Caller.ID); err != nil {
		return err
	}
	if utf8.RuneCountInString(req.Caller.Name) > maxNameLen {
		return invalid("caller.name", "is longer than %d characters", maxNameLen)
	}
	if l := req.Caller.Language; l != "" && (len(l) > 16 || strings.Trim(l, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != "") {
		return invalid("caller.language", "must be a language tag like en or zh-Hant")
	}
	if req.Priority < 0 || req.Priority > maxPriority {
		return invalid("priority", "must be 0-%d", maxPriority)
	}
	if err := validateContext(req.Context); err != nil {
		return err
	}
	if n := req.CallbackNumber; n != "" && (len(n) < 3 || len(n) > 32 || strings.Trim(n, "+0123456789") != "") {
		return invalid("callback_number", "must be 3-32 digits, optionally with +")
	}
	if req.Channel == ChannelCallback && req.CallbackNumber == "" {
		return invalid("callback_number", "is required for a callback")
	}
	if err := checkIdentity(req.Identity); err != nil {
		return err
	}
	if k := req.IdempotencyKey; len(k) > maxIdentityLen || strings.IndexFunc(k, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0 {
		return invalid("idempotency_key", "must be up to %d printable ASCII characters", maxIdentityLen)
	}
	if req.CaseID != "" {
		if err := checkID("case_id", req.CaseID); err != nil {
			return err
		}
	}
	if r := req.Reopen; r != nil && (r.ID != req.CaseID || len(r.Contacts) > 0) {
		return invalid("reopen", "must be the closed case case_id names, without live contacts")
	}
	if req.PreviousCaseID != "" {
		if err := checkID("previous_case_id", req.PreviousCaseID); err != nil {
			return err
		}
		if req.CaseID != "" {
			return invalid("previous_case_id", "links a new case only, not one that case_id continues")
		}
	}
	if len(req.History) > MaxHistory {
		return invalid("history", "has more than %d earlier cases", MaxHistory)
	}
	if !req.CallbackAt.IsZero() && req.Channel != ChannelCallback {
		return invalid("callback_at", "books a slot for a callback only")
	}
	return checkSkills("skills", req.Skills)
}

func validateContext(c ContactContext) error {
	if utf8.RuneCountInString(c.Summary) > maxTextLen {
		return invalid("context.summary", "is longer than %d characters", maxTextLen)
	}
	if len(c.IVR) > maxIVR {
		return invalid("context.ivr", "has more than %d entries", maxIVR)
	}
	for _, s := range c.IVR {
		if utf8.RuneCountInString(s) > maxNameLen {
			return invalid("context.ivr", "an entry is longer than %d characters", maxNameLen)
		}
	}
	if len(c.Attributes) > maxAttributes {
		return invalid("context.attributes", "has more than %d entries", maxAttributes)
	}
	for k, v := range c.Attributes {
		if k == "" || utf8.RuneCountInString(k) > maxNameLen || utf8.RuneCountInString(v) > maxTextLen {
			return invalid("context.attributes", "keys must be 1-%d characters, values up to %d", maxNameLen, maxTextLen)
		}
	}
	return nil
}

// Enqueue opens a case (or continues the caller's open case) and puts a new
// contact in a queue, then routes. The returned view shows the contact after
// routing: queued with its position, or already offered.
func (r *Router) Enqueue(req EnqueueRequest) (ContactView, []Event, error) {
	if err := req.Validate(); err != nil {
		return ContactView{}, nil, fmt.Errorf("enqueue: %w", err)
	}
	var view ContactView
	events, err := r.write(func(w *writer) error {
		c, err := w.enqueueTxn(req)
		var dup *DuplicateContactError
		if errors.As(err, &dup) && req.IdempotencyKey != "" {
			// The same request again: its contact, unchanged.
			if d, derr := w.contact(dup.ContactID); derr == nil && d.IdemKey == req.IdempotencyKey {
				view = contactView(d)
				view.Position, err = w.position(d)
				return err
			}
		}
		if err != nil {
			return fmt.Errorf("enqueue in %s: %w", req.Queue, err)
		}
		if err := w.settle(); err != nil {
			return err
		}
		if c, err = w.contact(c.ID); err != nil {
			return err
		}
		view = contactView(c)
		view.Position, err = w.position(c)
		if err == nil && view.Position > 0 {
			w.emit(Event{Type: EventQueued, CaseID: c.CaseID, ContactID: c.ID, Queue: c.Queue, Position: view.Position})
		}
		return err
	})
	if err != nil {
		return ContactView{}, nil, err
	}
	return view, events, nil
}

func (w *writer) enqueueTxn(req EnqueueRequest) (*contactRow, error) {
	q, err := w.queue(req.Queue)
	if err != nil {
		return nil, err
	}
	if !hasChannel(q.Channels, req.Channel) {
		return nil, invalid("channel", "queue %s does not take %s", q.ID, req.Channel)
	}
	if q.Interpreters() {
		return nil, invalid("queue", "queue %s takes only interpreter requests from agents", q.ID)
	}
	identity := req.identityOf()
	if dup, err := w.liveContactOf(q.ID, identity); err != nil {
		return nil, err
	} else if dup != nil {
		return nil, &DuplicateContactError{Queue: q.ID, CallerID: req.Caller.ID, ContactID: dup.ID}
	}
	// Outside the hours a queue takes no new contact, but a callback:
	// one booked for a slot is judged by the slot's time, one asked for
	// now is booked for the next opening. Who waits already stays in line.
	var opening time.Time
	if at := w.now; q.Hours != nil {
		if !req.CallbackAt.IsZero() {
			at = req.CallbackAt
		}
		if !q.Hours.Open(at) {
			next, ok := q.Hours.NextOpen(at)
			if !ok || req.Channel != ChannelCallback || !req.CallbackAt.IsZero() {
				return nil, &ClosedError{Queue: q.ID, OpensAt: next}
			}
			opening = next
		}
	}
	if q.MaxWaiting > 0 {
		if n := w.waitingIn(q.ID); n >= q.MaxWaiting {
			return nil, fmt.Errorf("queue %s is full (%d waiting): %w", q.ID, n, ErrUnavailable)
		}
	}
	cs, err := w.caseForTxn(req)
	if err != nil {
		return nil, err
	}
	w.r.seq++
	c := &contactRow{
		ID: w.id("ct"), CaseID: cs.ID, Identity: identity, IdemKey: req.IdempotencyKey, Queue: q.ID, Agency: q.Agency, Channel: req.Channel,
		Caller: maskedCaller(req.Caller), Priority: req.Priority, Context: maskedContext(req.Context),
		CallbackNumber: req.CallbackNumber, Extra: maps.Clone(req.Skills),
		Skills: contactSkills(q.RequiredSkills, req.Skills, req.Caller.Language),
		Seq:    w.r.seq, CaseCreatedAt: cs.CreatedAt, EnqueuedAt: w.now, Status: StatusQueued,
	}
	if !req.CallbackAt.IsZero() {
		if err := w.bookTxn(c, q, req.CallbackAt, req.HandleTime); err != nil {
			return nil, err
		}
	} else if !opening.IsZero() {
		// Not a slot: it joins the line at the opening by its case age,
		// like a retry, and counts against no slot's capacity.
		c.Status, c.Due, c.EnqueuedAt = StatusScheduled, opening, opening
	} else if err := w.stickyTxn(c, cs); err != nil {
		return nil, err
	}
	if err := w.addContactTxn(c, q); err != nil {
		return nil, err
	}
	data := map[string]string{"contact_id": c.ID, "queue": q.ID, "channel": string(c.Channel)}
	if cs.PreviousCaseID != "" && len(cs.Events) == 0 {
		data["previous_case_id"] = cs.PreviousCaseID
	}
	e, err := w.appendCaseEventTxn(cs.ID, CaseContactCreated, "citizen:"+c.Caller.ID, c.Context.Summary, data)
	if err != nil {
		return nil, err
	}
	v := contactView(c)
	w.emit(Event{Type: EventContactCreated, CaseID: c.CaseID, ContactID: c.ID, Queue: c.Queue,
		Actor: e.Actor, CaseEvent: &e, Contact: &v})
	return c, nil
}

// caseForTxn returns the case the request continues, or a new one.
func (w *writer) caseForTxn(req EnqueueRequest) (*caseRow, error) {
	if req.CaseID != "" {
		cs, err := w.getCase(req.CaseID)
		if errors.Is(err, ErrNotFound) && req.Reopen != nil {
			cs, err = w.reopenTxn(*req.Reopen, req.History)
		}
		if err != nil {
			return nil, err
		}
		// Without proof the answer is the one for a case that does not
		// exist: a stranger learns nothing about which cases there are.
		if !req.CaseProven && cs.Identity != req.identityOf() {
			return nil, notYours("case", req.CaseID)
		}
		return cs, nil
	}
	caller := maskedCaller(req.Caller)
	cs := &caseRow{ID: w.id("cs"), CallerID: caller.ID, Identity: req.identityOf(), Caller: caller,
		Context: maskedContext(req.Context), CreatedAt: w.now, History: clonePastCases(req.History),
		PreviousCaseID: req.PreviousCaseID}
	return cs, w.putCase(cs)
}

// reopenTxn puts a closed case back, as the durable log kept it, and
// records on its timeline that it reopened; its offers show the caller's
// other earlier cases. The caller's proof is checked by caseForTxn as for
// any case.
func (w *writer) reopenTxn(s CaseSnapshot, history []PastCase) (*caseRow, error) {
	if err := checkID("case id", s.ID); err != nil {
		return nil, err
	}
	cs := caseRowOf(s)
	cs.History = clonePastCases(history)
	if err := w.putCase(cs); err != nil {
		return nil, err
	}
	var closed time.Time // when its last leg ended
	for _, l := range s.Legs {
		if l.EndedAt.After(closed) {
			closed = l.EndedAt
		}
	}
	data := map[string]string{}
	if !closed.IsZero() {
		data["closed_at"] = closed.UTC().Format(time.RFC3339)
	}
	e, err := w.appendCaseEventTxn(cs.ID, CaseReopened, "router", "", data)
	if err != nil {
		return nil, err
	}
	w.emit(Event{Type: EventCaseReopened, CaseID: cs.ID, Actor: e.Actor, CaseEvent: &e})
	return w.getCase(cs.ID)
}

// stickyTxn holds a returning caller's contact for the agent who last served
// the case, if that agent is connected, not offline and in the queue.
func (w *writer) stickyTxn(c *contactRow, cs *caseRow) error {
	if cs.LastAgent == "" {
		return nil
	}
	a, err := w.agent(cs.LastAgent)
	if errors.Is(err, ErrNotFound) {
		return nil // the agent was removed: nobody to wait for
	}
	if err != nil {
		return err
	}
	if _, member := a.Queues[c.Queue]; !member || !a.Connected || a.State == StateOffline {
		return nil
	}
	c.Reserved = a.Username
	return w.putTimer(&timerRow{ID: timerID(timerReserve, c.ID), Kind: timerReserve, Target: c.ID,
		Due: w.now.Add(w.r.cfg.StickyWait)})
}

// addContactTxn stores a new queued contact as a new leg of its case and
// schedules its timers.
func (w *writer) addContactTxn(c *contactRow, q *queueRow) error {
	n, err := w.caseToChange(c.CaseID)
	if err != nil {
		return err
	}
	c.LegIndex = len(n.Legs)
	n.Legs = append(n.Legs[:len(n.Legs):len(n.Legs)], Leg{ContactID: c.ID, Queue: c.Queue,
		Agency: c.Agency, Channel: c.Channel, EnqueuedAt: c.EnqueuedAt, Interpreter: c.ConferenceOf != ""})
	n.Live++
	if q.EffectiveStrategy() != StrategyBestSkill || q.WidenAfter <= 0 {
		c.Widened = true
	}
	if err := w.putContact(c); err != nil {
		return err
	}
	if c.Status == StatusScheduled {
		return w.putTimer(&timerRow{ID: timerID(timerDue, c.ID), Kind: timerDue, Target: c.ID, Due: c.Due})
	}
	w.markWaiting(c.ID)
	w.touch(c.Queue)
	return w.scheduleContactTimersTxn(c, q)
}

func (w *writer) scheduleContactTimersTxn(c *contactRow, q *queueRow) error {
	for i, rule := range q.Overflow {
		if containsString(c.Overflowed, rule.To) {
			continue
		}
		if rule.After <= 0 { // pooled from the first second
			if err := w.overflowTxn(c, i); err != nil {
				return err
			}
			if n, err := w.contact(c.ID); err == nil {
				c = n
			}
			continue
		}
		t := &timerRow{ID: timerID(timerOverflow, c.ID, fmt.Sprint(i)), Kind: timerOverflow,
			Target: c.ID, Rule: i, Due: c.EnqueuedAt.Add(rule.After)}
		if err := w.putTimer(t); err != nil {
			return err
		}
	}
	if !c.Widened {
		t := &timerRow{ID: timerID(timerWiden, c.ID), Kind: timerWiden, Target: c.ID,
			Due: c.EnqueuedAt.Add(q.WidenAfter)}
		if err := w.putTimer(t); err != nil {
			return err
		}
	}
	return nil
}

func contactSkills(queue, extra map[string]int, language string) map[string]int {
	out := maps.Clone(queue)
	if out == nil {
		out = map[string]int{}
	}
	for k, v := range extra {
		out[k] = max(out[k], v)
	}
	if language != "" {
		k := "lang:" + strings.ToLower(language)
		out[k] = max(out[k], 1)
	}
	return out
}

func containsString(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// waitingIn is how many contacts wait in the queue's lines.
func (w *writer) waitingIn(queue string) int {
	n := 0
	for _, class := range classes {
		if t := w.m.line(queue, class); t != nil {
			n += t.Len()
		}
	}
	return n
}

// countContacts counts the contacts an index holds under the key prefix.
func countContacts(txn *memdb.Txn, table, index string, prefix ...any) (int, error) {
	it, err := txn.Get(table, index, prefix...)
	if err != nil {
		return 0, err
	}
	n := 0
	for raw := it.Next(); raw != nil; raw = it.Next() {
		n++
	}
	return n, nil
}

// appendCaseEventTxn adds an entry to the case timeline with the next seq.
// data becomes the entry's (callers build it for the entry and do not
// touch it again); the entry never changes once appended, so the timeline,
// the returned entry and every view of the case share its one Data map
// instead of each copying it (see eventsOf).
func (w *writer) appendCaseEventTxn(caseID, typ, actor, text string, data map[string]string) (CaseEvent, error) {
	n, err := w.caseToChange(caseID)
	if err != nil {
		return CaseEvent{}, err
	}
	n.NextSeq++
	// Resident registration numbers never enter the case, not even in
	// memory: live frames, reads and the durable store all see them masked.
	e := CaseEvent{Seq: n.NextSeq, At: w.now, Type: typ, Actor: actor, Text: privacy.MaskRRN(text), Data: maskedData(data)}
	n.Events = withEvent(n.Events, e)
	return e, nil
}

// setLegTxn applies fn to the contact's leg in its case.
func (w *writer) setLegTxn(c *contactRow, fn func(l *Leg)) error {
	cs, err := w.getCase(c.CaseID)
	if err != nil {
		return err
	}
	if c.LegIndex >= len(cs.Legs) {
		return fmt.Errorf("case %s has no leg %d: %w", cs.ID, c.LegIndex, ErrConflict)
	}
	l := cs.Legs[c.LegIndex]
	fn(&l)
	n, err := w.caseToChange(c.CaseID)
	if err != nil {
		return err
	}
	n.Legs = withLeg(n.Legs, c.LegIndex, l) // a new slice: older versions share the legs
	return nil
}

// Abandon ends a contact because the caller left (hung up, closed the chat),
// together with a pending warm-transfer leg of it.
func (r *Router) Abandon(contactID string) ([]Event, error) {
	return r.AbandonBy(contactID, "")
}

// AbandonBy ends a contact before it was served to its end, as Abandon
// does, on behalf of actor ("supervisor:<username>", "gateway:<username>",
// "agent:<username>"); the timeline records it. An empty actor is the
// citizen. Who may do so is the caller's rule.
func (r *Router) AbandonBy(contactID, actor string) ([]Event, error) {
	if actor != "" {
		if err := checkActor(actor); err != nil {
			return nil, fmt.Errorf("abandon %s: %w", contactID, err)
		}
	}
	return r.write(func(w *writer) error {
		c, err := w.contact(contactID)
		if err != nil {
			return fmt.Errorf("abandon: %w", err)
		}
		if !c.Status.Live() {
			return fmt.Errorf("abandon %s: contact already ended: %w", contactID, ErrConflict)
		}
		if actor == "" {
			actor = "citizen:" + c.Caller.ID
		}
		if c.WarmOf != "" {
			if err := w.endContactTxn(c.WarmOf, "abandoned", "", actor, EventAbandoned); err != nil {
				return err
			}
		}
		return w.endContactTxn(contactID, "abandoned", "", actor, EventAbandoned)
	})
}

// LeaveAbsent takes a waiting chat out of the line because its citizen has
// been gone too long (their socket closed and did not come back): the
// contact is abandoned with the disposition "absent". A contact an agent
// holds already is theirs to end: that is a conflict.
func (r *Router) LeaveAbsent(contactID string) ([]Event, error) {
	return r.write(func(w *writer) error {
		c, err := w.contact(contactID)
		if err != nil {
			return fmt.Errorf("leave absent: %w", err)
		}
		if c.Status != StatusQueued && c.Status != StatusOffered {
			return fmt.Errorf("leave absent %s: contact is %s: %w", contactID, c.Status, ErrConflict)
		}
		return w.endContactTxn(contactID, "absent", "", "router", EventAbandoned)
	})
}

// End is the assigned agent closing a contact with a disposition; the agent
// wraps up and the case closes if this was its last live leg.
func (r *Router) End(username, contactID, disposition, summary string) ([]Event, error) {
	if disposition == "" {
		disposition = "completed"
	}
	if err := checkID("disposition", disposition); err != nil || len(disposition) > maxDisposition {
		return nil, fmt.Errorf("end %s: %w", contactID, invalid("disposition", "must be 1-%d bytes", maxDisposition))
	}
	if utf8.RuneCountInString(summary) > maxTextLen {
		return nil, fmt.Errorf("end %s: %w", contactID, invalid("summary", "is longer than %d characters", maxTextLen))
	}
	return r.write(func(w *writer) error {
		if _, err := w.assignedTo(username, contactID); err != nil {
			return fmt.Errorf("end: %w", err)
		}
		// The disposition is the agent's words too, kept on the leg.
		return w.endContactTxn(contactID, privacy.MaskRRN(disposition), summary, "agent:"+username, EventEnded)
	})
}

// assignedTo returns the contact if it is assigned to username. A contact
// that was never theirs is not found; one they hold, or held until it
// ended, in another status is a conflict.
func (w *writer) assignedTo(username, contactID string) (*contactRow, error) {
	c, err := w.contact(contactID)
	if err != nil {
		return nil, err
	}
	if c.Agent != username {
		return nil, notYours("contact", contactID)
	}
	if !c.Status.Live() {
		return nil, fmt.Errorf("contact %s has ended: %w", contactID, ErrConflict)
	}
	if c.Status != StatusAssigned {
		return nil, fmt.Errorf("contact %s is %s, not assigned: %w", contactID, c.Status, ErrConflict)
	}
	return c, nil
}

// maskedCaller is c with every resident registration number in its id
// and name masked. The id is a label (a chat's is whatever the citizen
// typed); the one-place rule and case ownership key on the request's
// Identity, which is taken before this.
func maskedCaller(c Caller) Caller {
	c.ID, c.Name = privacy.MaskRRN(c.ID), privacy.MaskRRN(c.Name)
	return c
}

// maskedContext is c with every resident registration number masked.
func maskedContext(c ContactContext) ContactContext {
	out := ContactContext{Summary: privacy.MaskRRN(c.Summary), Attributes: maskedData(c.Attributes)}
	if c.IVR != nil {
		out.IVR = make([]string, len(c.IVR))
		for i, s := range c.IVR {
			out.IVR[i] = privacy.MaskRRN(s)
		}
	}
	return out
}

// maskedData is m with every resident registration number in its keys and
// values masked (m itself when there is none).
func maskedData(m map[string]string) map[string]string { return privacy.MaskMap(m, true) }
