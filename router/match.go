package router

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Matching. After every change the writer settles: agents who may take more
// work look for their best contact, and contacts that became routable look
// for an agent. Both directions use one eligibility rule (eligible), so they
// agree, and a contact is only offered to an agent when it is that agent's
// best contact across all of their queues.

// maxMatchSteps guards the matching loops against a bug turning into a hang.
const maxMatchSteps = 1 << 20

// settle offers waiting contacts to free agents until no pair is left.
func (w *writer) settle() error {
	for steps := 0; len(w.freed) > 0 || len(w.waiting) > 0; steps++ {
		if steps > maxMatchSteps {
			return fmt.Errorf("matching did not settle: %w", ErrConflict)
		}
		freed := sortedKeys(w.freed)
		clear(w.freed)
		for _, u := range freed {
			if err := w.fillAgentTxn(u); err != nil {
				return err
			}
			if err := w.recheckHelpingTxn(u); err != nil {
				return err
			}
		}
		waiting, err := w.waitingByRank()
		if err != nil {
			return err
		}
		for _, id := range waiting {
			if err := w.placeContactTxn(id); err != nil {
				return err
			}
		}
	}
	return nil
}

// waitingByRank takes the contacts marked waiting, best first.
func (w *writer) waitingByRank() ([]string, error) {
	var cs []*contactRow
	for _, id := range sortedKeys(w.waiting) {
		c, err := w.contact(id)
		if err != nil {
			continue // closed meanwhile
		}
		if c.Status == StatusQueued {
			cs = append(cs, c)
		}
	}
	clear(w.waiting)
	slices.SortFunc(cs, func(a, b *contactRow) int { return strings.Compare(a.rank(), b.rank()) })
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	return ids, nil
}

// fillAgentTxn gives a free agent their best contacts, one offer at a time.
// The queue's strategy may prefer another agent for that contact; then the
// other agent gets it and this one looks again.
func (w *writer) fillAgentTxn(username string) error {
	for range maxMatchSteps {
		a, err := w.agent(username)
		if errors.Is(err, ErrNotFound) {
			return nil // removed meanwhile: nobody to fill
		}
		if err != nil {
			return err
		}
		if !a.routable() {
			return nil
		}
		c, err := w.bestContactFor(a)
		if err != nil || c == nil {
			return err
		}
		to, err := w.pickAgent(c)
		if err != nil || to == nil {
			return err
		}
		if err := w.offerTxn(c, to); err != nil {
			return err
		}
	}
	return fmt.Errorf("fill agent %s did not settle: %w", username, ErrConflict)
}

// placeContactTxn finds an agent for a waiting contact. If the chosen agent
// has a better contact waiting (in another of their queues, say), that one
// is placed first and the contact tries again.
func (w *writer) placeContactTxn(id string) error {
	for range maxMatchSteps {
		c, err := w.contact(id)
		if errors.Is(err, ErrNotFound) {
			return nil // ended meanwhile: nothing to place
		}
		if err != nil {
			return err
		}
		if c.Status != StatusQueued {
			return nil
		}
		a, err := w.pickAgent(c)
		if err != nil || a == nil {
			return err
		}
		best, err := w.bestContactFor(a)
		if err != nil {
			return err
		}
		if best == nil || best.ID == c.ID {
			return w.offerTxn(c, a)
		}
		to, err := w.pickAgent(best)
		if err != nil {
			return err
		}
		if to == nil {
			return w.offerTxn(c, a)
		}
		if err := w.offerTxn(best, to); err != nil {
			return err
		}
	}
	return fmt.Errorf("place contact %s did not settle: %w", id, ErrConflict)
}

// Reach tiers of a contact for an agent.
const (
	tierNone     = 0
	tierOwn      = 1 // the agent's own queue, or overflow into an oldest-first queue
	tierOverflow = 2 // overflow into an own-first queue: only when no tier-1 work
)

// reachTier says how an agent reaches a contact through queue membership.
func (w *writer) reachTier(a *agentRow, c *contactRow) int {
	if _, ok := a.Queues[c.Queue]; ok {
		return tierOwn
	}
	tier := tierNone
	for _, oq := range c.Overflowed {
		if _, ok := a.Queues[oq]; !ok {
			continue
		}
		q, err := w.queue(oq)
		if err == nil && !w.helping(q, c.class()) {
			continue // at its reserve: the queue keeps its agents home
		}
		if err == nil && q.OldestFirst() {
			return tierOwn
		}
		tier = tierOverflow
	}
	return tier
}

// helping says whether the queue's agents take contacts overflowed into it
// now: more of them are free for the class than its reserve
// (HelpWhile.MinIdle). The agent asking is one of the free, so taking the
// contact leaves the reserve free.
func (w *writer) helping(q *queueRow, class capClass) bool {
	return q.HelpWhile.MinIdle <= 0 || w.freeIn(q.ID, class) > q.HelpWhile.MinIdle
}

// helpingID is helping by queue id; a queue gone holds no reserve.
func (w *writer) helpingID(queue string, class capClass) bool {
	q, err := w.queue(queue)
	return err != nil || w.helping(q, class)
}

// freeIn counts the queue's agents free for the class.
func (w *writer) freeIn(queue string, class capClass) int {
	if t := w.m.free[lineID(queue, class)]; t != nil {
		return t.Len()
	}
	return 0
}

// recheckHelpingTxn re-places the contacts overflowed into the freed
// agent's queues that hold a reserve and are above it now. The agent's own
// fill ran first and usually took one; what it could not take (skills,
// its other work) may suit another free agent of the queue, who had been
// held back by the reserve until this agent freed.
func (w *writer) recheckHelpingTxn(username string) error {
	a, err := w.agent(username)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil || !a.routable() {
		return err
	}
	for _, class := range classes {
		if !a.free(class) {
			continue
		}
		for qid := range a.Queues { // any order: marking is a set
			line := w.m.overflow[lineID(qid, class)]
			if line == nil || line.Len() == 0 {
				continue
			}
			q, err := w.queue(qid)
			if err != nil || q.HelpWhile.MinIdle <= 0 || !w.helping(q, class) {
				continue
			}
			scanLine(line, func(c *contactRow) bool { w.markWaiting(c.ID); return true })
		}
	}
	return nil
}

// eligible is the whole eligibility rule except own-first, which needs the
// agent's other work (see eligibleOwnFirst).
func (w *writer) eligible(a *agentRow, c *contactRow) (bool, error) {
	if !a.routable() || !a.free(c.class()) || c.RequestedBy == a.Username {
		return false, nil
	}
	if c.Reserved != "" {
		if c.Reserved != a.Username {
			return false, nil
		}
		if c.ReservedDirect {
			return true, nil // a named agent takes it whatever the queue asks
		}
	}
	if w.reachTier(a, c) == tierNone || !hasSkills(a, c) {
		return false, nil
	}
	if containsString(c.Declined, a.Username) {
		other, err := w.undeclinedCandidate(c)
		if err != nil || other {
			return false, err
		}
	}
	if !c.Widened {
		top, err := w.topScore(c)
		if err != nil || score(a, c) < top {
			return false, err
		}
	}
	return true, nil
}

// eligibleOwnFirst adds the own-first rule: an agent takes a contact that
// only overflowed into their own-first queues when none of their own work
// is waiting.
func (w *writer) eligibleOwnFirst(a *agentRow, c *contactRow) (bool, error) {
	ok, err := w.eligible(a, c)
	if err != nil || !ok {
		return false, err
	}
	if c.ReservedDirect || w.reachTier(a, c) != tierOverflow {
		return true, nil
	}
	own, _, err := w.bestByTier(a)
	return own == nil, err
}

func hasSkills(a *agentRow, c *contactRow) bool {
	for k, lvl := range c.Skills {
		if a.Skills[k] < lvl {
			return false
		}
	}
	return true
}

// score is an agent's proficiency for a contact: the sum of their levels on
// the skills it requires.
func score(a *agentRow, c *contactRow) int {
	s := 0
	for k := range c.Skills {
		s += a.Skills[k]
	}
	return s
}

// topScore is the best score among the queue's logged-in members who have
// the skills (busy or not): before widening, only they may take the contact.
func (w *writer) topScore(c *contactRow) (int, error) {
	top := 0
	err := eachMember(w.txn, c.Queue, w.agent, func(a *agentRow) bool {
		if a.Connected && a.State != StateOffline && hasSkills(a, c) {
			top = max(top, score(a, c))
		}
		return true
	})
	return top, err
}

// undeclinedCandidate reports whether an available agent who has not
// declined the contact could take it (now or once they have capacity).
// Only then are decliners passed over, so a contact never starves because
// its only possible agent once said no.
func (w *writer) undeclinedCandidate(c *contactRow) (bool, error) {
	found := false
	for _, q := range c.reach() {
		err := eachMember(w.txn, q, w.agent, func(a *agentRow) bool {
			found = a.routable() && !containsString(c.Declined, a.Username) && hasSkills(a, c) &&
				(c.Reserved == "" || c.Reserved == a.Username)
			return !found
		})
		if err != nil || found {
			return found, err
		}
	}
	return false, nil
}

// bestContactFor is the contact an agent should get next: the best-ranked
// eligible contact over all their queues; overflow into their own-first
// queues only when nothing of tier 1 is waiting.
func (w *writer) bestContactFor(a *agentRow) (*contactRow, error) {
	own, over, err := w.bestByTier(a)
	if own != nil || err != nil {
		return own, err
	}
	return over, nil
}

func (w *writer) bestByTier(a *agentRow) (own, over *contactRow, err error) {
	better := func(cur, c *contactRow) bool { return cur == nil || c.rank() < cur.rank() }
	for _, class := range []capClass{classVoice, classChat} {
		if !a.free(class) {
			continue
		}
		for _, q := range sortedQueues(a.Queues) {
			for i, lines := range []map[lineKey]*lineTree{w.m.lines, w.m.overflow} {
				line := lines[lineID(q, class)]
				if i == 1 && line != nil && line.Len() > 0 && !w.helpingID(q, class) {
					continue // at its reserve: none of this line is the agent's through q
				}
				c, err := w.firstEligible(a, line)
				if err != nil {
					return nil, nil, err
				}
				if c == nil {
					continue
				}
				if w.reachTier(a, c) == tierOwn {
					if better(own, c) {
						own = c
					}
				} else if better(over, c) {
					over = c
				}
			}
		}
	}
	return own, over, nil
}

// firstEligible walks one line (own or overflowed-in) best first.
func (w *writer) firstEligible(a *agentRow, line *lineTree) (found *contactRow, err error) {
	scanLine(line, func(c *contactRow) bool {
		var ok bool
		if ok, err = w.eligible(a, c); err != nil || ok {
			found = c
			return false
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	return found, nil
}

// pickAgent chooses among the free eligible agents for a contact by its
// queue's strategy; nil if nobody can take it now.
func (w *writer) pickAgent(c *contactRow) (*agentRow, error) {
	q, err := w.queue(c.Queue)
	if err != nil {
		return nil, nil // queue removed: the contact waits
	}
	if c.Reserved != "" {
		a, err := w.agent(c.Reserved)
		if err != nil {
			return nil, nil
		}
		if ok, err := w.eligibleOwnFirst(a, c); err != nil || !ok {
			return nil, err
		}
		return a, nil
	}
	strategy := q.EffectiveStrategy()
	var cands []*agentRow
	seen := map[string]bool{}
	for _, rq := range c.reach() {
		free := w.m.free[lineID(rq, c.class())]
		if free == nil {
			continue
		}
		var err error
		free.Scan(func(a *agentRow) bool {
			if seen[a.Username] {
				return true
			}
			seen[a.Username] = true
			var ok bool
			if ok, err = w.eligibleOwnFirst(a, c); err != nil {
				return false
			}
			if !ok {
				return true
			}
			cands = append(cands, a)
			// The set is in idle order: the first one wins this queue.
			return strategy != StrategyLongestIdle
		})
		if err != nil {
			return nil, err
		}
	}
	return choose(strategy, q, c, cands), nil
}

// choose applies a strategy to eligible agents.
func choose(s Strategy, q *queueRow, c *contactRow, cands []*agentRow) *agentRow {
	if len(cands) == 0 {
		return nil
	}
	longerIdle := func(a, b *agentRow) int {
		if d := a.IdleSince.Compare(b.IdleSince); d != 0 {
			return d
		}
		return strings.Compare(a.Username, b.Username)
	}
	switch s {
	case StrategyRoundRobin:
		slices.SortFunc(cands, func(a, b *agentRow) int { return strings.Compare(a.Username, b.Username) })
		for _, a := range cands {
			if a.Username > q.RRLast {
				return a
			}
		}
		return cands[0]
	case StrategyFewestContacts:
		return slices.MinFunc(cands, func(a, b *agentRow) int {
			if d := (a.Voice + a.Chats - a.Wraps) - (b.Voice + b.Chats - b.Wraps); d != 0 {
				return d
			}
			return longerIdle(a, b)
		})
	case StrategyBestSkill:
		return slices.MinFunc(cands, func(a, b *agentRow) int {
			if d := score(b, c) - score(a, c); d != 0 {
				return d
			}
			if d := b.Queues[c.Queue] - a.Queues[c.Queue]; d != 0 {
				return d
			}
			return longerIdle(a, b)
		})
	}
	return slices.MinFunc(cands, longerIdle)
}

// offerTxn reserves a waiting contact for an agent until the queue's offer
// timeout.
func (w *writer) offerTxn(c *contactRow, a *agentRow) error {
	q, err := w.queue(c.Queue)
	if err != nil {
		return err
	}
	n := c.copy()
	n.Status, n.Agent, n.OfferID, n.OfferExpires = StatusOffered, a.Username, w.id("of"), w.now.Add(q.EffectiveOfferTimeout())
	if err := w.putContact(n); err != nil { // the matching state takes the offer from the row
		return err
	}
	o := offerOf(n)
	if _, err := w.adjustAgentTxn(a.Username, func(a *agentRow) {
		*a.load(o.Class)++
		a.IdleSince = w.now
	}); err != nil {
		return err
	}
	if q.EffectiveStrategy() == StrategyRoundRobin {
		nq := q.copy()
		nq.RRLast = a.Username
		if err := w.putQueue(nq); err != nil {
			return err
		}
	}
	w.touch(c.Queue)
	cv, err := offerCaseView(w.getCase, n)
	if err != nil {
		return err
	}
	v := contactView(n)
	w.emit(Event{Type: EventOffered, CaseID: c.CaseID, ContactID: c.ID, Queue: c.Queue,
		Agent: a.Username, AgentAgency: a.Agency, OfferID: o.ID, ExpiresAt: o.ExpiresAt, Contact: &v, Case: &cv})
	return nil
}
