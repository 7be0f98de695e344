package router

import (
	"cmp"
	"fmt"
	"maps"
	"slices"

	memdb "github.com/hashicorp/go-memdb"
)

// Restore replaces all state with the snapshot, built in one transaction on
// a fresh memdb and swapped in. Every agent starts disconnected: those who
// held contacts get the reconnect grace to come back before their contacts
// return to the head of their queues. Sticky and direct holds are not kept.
func (r *Router) Restore(s Snapshot) error {
	db, err := newMemDB()
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	// What the calls before wrote is published: a failed restore keeps it.
	r.publishOpen()
	txn := db.Txn(true)
	defer txn.Abort()
	// The restore's own steps (relinking legs, ending orphans) work on a
	// matching state of their own, dropped afterwards: what the router
	// keeps is rebuilt from the rows in one pass (rebuildMatching), the
	// same derivation the invariant test checks after every write.
	w := &writer{r: r, txn: txn, m: newMatching(), now: r.clock.Now()}
	w.m.logging = false
	var maxSeq uint64
	if err := w.restoreTxn(s, &maxSeq); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	txn.Commit()
	r.install(db, rebuildMatching(db.Txn(false)).withTimers(w.m))
	r.dropOpen() // the restore's own writes of queues went to its database
	r.seq = max(r.seq, maxSeq)
	r.poke()
	return nil
}

// install makes db and m the router's state and publishes every line;
// the caller holds r.mu. Readers pair a snapshot with the lines: they wait
// here and see the new database with its lines.
func (r *Router) install(db *memdb.MemDB, m *matching) {
	r.linesMu.Lock()
	defer r.linesMu.Unlock()
	r.db.Store(db)
	r.stale = false
	r.match = m
	r.view = map[lineKey]*lineTree{}
	r.offers = map[string]*offerRow{}
	for id := range m.offers {
		m.changedOffers[id] = struct{}{}
	}
	for id := range m.lines {
		m.changed[id] = struct{}{}
	}
	m.publish(r)
	m.publishDeadlines(r)
}

func (w *writer) restoreTxn(s Snapshot, maxSeq *uint64) error {
	for _, q := range s.Queues {
		if err := q.Validate(); err != nil {
			return fmt.Errorf("queue %s: %w", q.ID, err)
		}
		if err := w.putQueue(&queueRow{QueueConfig: q.Clone()}); err != nil {
			return err
		}
	}
	for _, p := range s.Agents {
		if err := p.Validate(); err != nil {
			return fmt.Errorf("agent %s: %w", p.Username, err)
		}
		a := &agentRow{AgentProfile: p.Clone(), State: StateOffline, StateSince: w.now, IdleSince: w.now}
		if err := w.putAgent(a); err != nil {
			return err
		}
	}
	for _, cs := range s.Cases {
		if err := w.restoreCaseTxn(cs, maxSeq); err != nil {
			return fmt.Errorf("case %s: %w", cs.ID, err)
		}
	}
	for _, cs := range s.Cases {
		for _, c := range cs.Contacts {
			if err := w.restoreWarmTxn(c); err != nil {
				return err
			}
			if err := w.restoreConferenceTxn(c); err != nil {
				return err
			}
		}
	}
	return w.flush()
}

// restoreConferenceTxn relinks an interpreter leg to its contact; a leg
// whose contact is gone ends with it.
func (w *writer) restoreConferenceTxn(s ContactSnapshot) error {
	if s.ConferenceOf == "" {
		return nil
	}
	leg, err := w.contact(s.ID)
	if err != nil {
		return err
	}
	main, err := w.contact(s.ConferenceOf)
	if err != nil || !main.Status.Live() {
		return w.endContactTxn(leg.ID, "contact_ended", "", "router", EventEnded)
	}
	nl, nm := leg.copy(), main.copy()
	nl.RequestedBy, nm.Interpreter = main.Agent, leg.ID
	if err := w.putContact(nl); err != nil {
		return err
	}
	return w.putContact(nm)
}

func (w *writer) restoreCaseTxn(s CaseSnapshot, maxSeq *uint64) error {
	if err := checkID("case id", s.ID); err != nil {
		return err
	}
	cs := caseRowOf(s)
	cs.Live = len(s.Contacts)
	for _, c := range s.Contacts {
		li := slices.IndexFunc(cs.Legs, func(l Leg) bool { return l.ContactID == c.ID })
		for i := len(cs.Legs) - 1; i > li; i-- {
			if cs.Legs[i].ContactID == c.ID {
				li = i
				break
			}
		}
		if li < 0 {
			li = len(cs.Legs)
			cs.Legs = append(cs.Legs, Leg{ContactID: c.ID, Queue: c.Queue, Channel: c.Channel, EnqueuedAt: c.EnqueuedAt})
		}
		if err := w.restoreContactTxn(cs, c, li); err != nil {
			return fmt.Errorf("contact %s: %w", c.ID, err)
		}
		*maxSeq = max(*maxSeq, c.Seq)
	}
	return w.putCase(cs)
}

// caseRowOf is the case row of a snapshot, without its live contacts.
func caseRowOf(s CaseSnapshot) *caseRow {
	cs := &caseRow{ID: s.ID, CallerID: s.Caller.ID, Identity: s.Identity, Caller: s.Caller, Context: s.Context.Clone(),
		CreatedAt: s.CreatedAt, Legs: slices.Clone(s.Legs), History: clonePastCases(s.History),
		PreviousCaseID: s.PreviousCaseID}
	for _, l := range s.Legs {
		if l.Agent != "" {
			cs.Agents = withAdded(cs.Agents, l.Agent)
			cs.LastAgent = l.Agent
		}
	}
	for _, e := range s.Events {
		cs.NextSeq = max(cs.NextSeq, e.Seq)
		cs.Events = append(cs.Events, e.Clone())
	}
	slices.SortStableFunc(cs.Events, func(a, b CaseEvent) int { return cmp.Compare(a.Seq, b.Seq) })
	return cs
}

// legCaller is the caller a restored contact carries: an interpreter's
// leg carries what it carried when it was made (interpreterCaller).
func legCaller(c Caller, s ContactSnapshot) Caller {
	if s.ConferenceOf != "" {
		return interpreterCaller(c)
	}
	return c
}

// legContext is the context a restored contact carries: none for an
// interpreter's leg.
func legContext(s ContactSnapshot) ContactContext {
	if s.ConferenceOf != "" {
		return ContactContext{}
	}
	return s.Context.Clone()
}

func (w *writer) restoreContactTxn(cs *caseRow, s ContactSnapshot, leg int) error {
	if err := checkID("contact id", s.ID); err != nil {
		return err
	}
	q, err := w.queue(s.Queue)
	if err != nil {
		return err
	}
	language := cs.Caller.Language
	if s.ConferenceOf != "" {
		language = "" // an interpreter leg needs the requested language only
	}
	c := &contactRow{
		ID: s.ID, CaseID: cs.ID, Identity: s.Identity, Origin: s.Origin, IdemKey: s.IdemKey, Queue: q.ID, Agency: q.Agency, Channel: s.Channel, Caller: legCaller(cs.Caller, s),
		Priority: s.Priority, Context: legContext(s), CallbackNumber: s.CallbackNumber,
		Extra: s.Skills, Skills: contactSkills(q.RequiredSkills, s.Skills, language),
		Seq: s.Seq, CaseCreatedAt: cs.CreatedAt, EnqueuedAt: s.EnqueuedAt, Head: s.Head,
		Status: StatusQueued, LegIndex: leg, Widened: q.EffectiveStrategy() != StrategyBestSkill || q.WidenAfter <= 0,
		Attempts: s.Attempts, ConferenceOf: s.ConferenceOf,
	}
	if c.ConferenceOf != "" {
		others, err := interpreterQueues(w.txn)
		if err != nil {
			return err
		}
		for _, oq := range others {
			if oq.ID != q.ID {
				c.Overflowed = append(c.Overflowed, oq.ID)
			}
		}
	}
	if s.Status == StatusScheduled {
		c.Status, c.Due, c.Slot = StatusScheduled, s.Due, s.Slot
		if err := w.putContact(c); err != nil {
			return err
		}
		return w.putTimer(&timerRow{ID: timerID(timerDue, c.ID), Kind: timerDue, Target: c.ID, Due: c.Due})
	}
	if s.Status == StatusAssigned {
		a, err := w.agent(s.Agent)
		if err != nil {
			return err
		}
		c.Status, c.Agent, c.AnsweredAt = StatusAssigned, s.Agent, s.AnsweredAt
		n := a.copy()
		*n.load(c.class())++
		n.State = StateAvailable // they were working; the grace decides
		if err := w.putAgent(n); err != nil {
			return err
		}
		grace := &timerRow{ID: timerID(timerGrace, a.Username), Kind: timerGrace, Target: a.Username,
			Agent: a.Username, Due: w.now.Add(w.r.cfg.ReconnectGrace)}
		if err := w.putTimer(grace); err != nil {
			return err
		}
	}
	if err := w.putContact(c); err != nil {
		return err
	}
	if c.Status == StatusQueued {
		return w.scheduleContactTimersTxn(c, q)
	}
	return nil
}

// restoreWarmTxn relinks a pending warm transfer once both legs exist.
func (w *writer) restoreWarmTxn(s ContactSnapshot) error {
	if s.WarmOf == "" {
		return nil
	}
	leg, err := w.contact(s.ID)
	if err != nil {
		return err
	}
	first, err := w.contact(s.WarmOf)
	if err != nil || first.Status != StatusAssigned || leg.Status != StatusQueued {
		return nil // nothing to hand over to: the leg stays an ordinary contact
	}
	nl, nf := leg.copy(), first.copy()
	nl.WarmOf, nf.WarmTo = first.ID, leg.ID
	if err := w.putContact(nl); err != nil {
		return err
	}
	if err := w.putContact(nf); err != nil {
		return err
	}
	return w.putTimer(&timerRow{ID: timerID(timerWarm, leg.ID), Kind: timerWarm, Target: leg.ID,
		Due: w.now.Add(w.r.cfg.WarmWait)})
}

// Snapshot captures the durable part of the live state, in the shape
// Restore takes.
func (r *Router) Snapshot() (Snapshot, error) {
	var s Snapshot
	err := r.read(func(txn *memdb.Txn) error {
		qit, err := txn.Get(tableQueues, indexID)
		if err != nil {
			return err
		}
		for raw := qit.Next(); raw != nil; raw = qit.Next() {
			s.Queues = append(s.Queues, raw.(*queueRow).QueueConfig.Clone())
		}
		it, err := txn.Get(tableAgents, indexID)
		if err != nil {
			return err
		}
		for raw := it.Next(); raw != nil; raw = it.Next() {
			s.Agents = append(s.Agents, raw.(*agentRow).AgentProfile.Clone())
		}
		cit, err := txn.Get(tableCases, indexID)
		if err != nil {
			return err
		}
		for raw := cit.Next(); raw != nil; raw = cit.Next() {
			cs, err := caseSnapshot(txn, raw.(*caseRow))
			if err != nil {
				return err
			}
			s.Cases = append(s.Cases, cs)
		}
		return nil
	})
	if err != nil {
		return Snapshot{}, fmt.Errorf("snapshot: %w", err)
	}
	return s, nil
}

func caseSnapshot(txn *memdb.Txn, cs *caseRow) (CaseSnapshot, error) {
	events := eventsOf(cs)
	out := CaseSnapshot{ID: cs.ID, Caller: cs.Caller, Context: cs.Context.Clone(), CreatedAt: cs.CreatedAt,
		Legs: slices.Clone(cs.Legs), Events: events, History: clonePastCases(cs.History), PreviousCaseID: cs.PreviousCaseID}
	legs, err := contactsOf(cs, func(id string) (*contactRow, error) { return getContact(txn, id) })
	if err != nil {
		return CaseSnapshot{}, err
	}
	for _, c := range legs {
		if !c.Status.Live() {
			continue
		}
		out.Contacts = append(out.Contacts, ContactSnapshot{
			ID: c.ID, Queue: c.Queue, Channel: c.Channel, Priority: c.Priority, Context: c.Context.Clone(),
			CallbackNumber: c.CallbackNumber, Skills: maps.Clone(c.Extra), Seq: c.Seq, EnqueuedAt: c.EnqueuedAt,
			Head: c.Head, Status: c.Status, Agent: c.Agent, AnsweredAt: c.AnsweredAt, WarmOf: c.WarmOf,
			Due: c.Due, Slot: c.Slot, Attempts: c.Attempts, ConferenceOf: c.ConferenceOf,
		})
	}
	return out, nil
}
