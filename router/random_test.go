package router

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	memdb "github.com/hashicorp/go-memdb"
	"github.com/tidwall/btree"
)

// TestRandomOperations drives the router with thousands of seeded random
// operations and checks the invariants after every step, the matching
// state against the rows among them. Long enough (make test runs it in
// full) that every seed goes through each feature that changes the
// matching state in its own way; a run that missed one fails.
func TestRandomOperations(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			steps := 2500
			if testing.Short() {
				steps = 300
			}
			run := runRandom(t, seed, steps)
			if testing.Short() {
				return
			}
			for _, f := range randomFeatures {
				if run.seen[f] == 0 {
					t.Errorf("seed %d never went through %s in %d steps", seed, f, steps)
				}
			}
		})
	}
}

// randomFeatures are what the randomized run must go through.
var randomFeatures = []string{"transfer", "warm transfer", "callback", "callback due", "callback attempt",
	"interpreter", "overflow", "offer from overflow", "widening", "reconnect grace", "offer timeout", "decline",
	"requeue", "wrap-up", "help held back", "help above reserve"}

type randomRun struct {
	t       *testing.T
	f       *fixture
	rng     *rand.Rand
	created map[string]bool // every contact id ever created: true while not ended
	cases   map[string]CaseView
	seen    map[string]int // features gone through (randomFeatures)
}

func runRandom(t *testing.T, seed uint64, steps int) *randomRun {
	run := newRandomRun(t, seed)
	for step := range steps {
		run.checkedStep(step)
	}
	return run
}

// checkedStep runs one random operation and checks every invariant.
func (run *randomRun) checkedStep(step int) []Event {
	t := run.t
	op, evs := run.step()
	if t.Failed() {
		t.Fatalf("step %d (%s) failed", step, op)
	}
	// Readers' answers are asked at every third step only: a read
	// publishes the open transaction, and between reads it spans calls,
	// so the steps between also check the writer's rows unpublished
	// (and rebuilt after a failed call).
	checkState(t, run.f.r, run.created, step%3 == 0)
	checkSettled(t, run.f.r)
	run.checkCases()
	if t.Failed() {
		t.Fatalf("invariants broken after step %d (%s)", step, op)
	}
	return evs
}

func newRandomRun(t *testing.T, seed uint64) *randomRun {
	queues := []QueueConfig{
		queue("q0", func(q *QueueConfig) {
			q.Overflow = []OverflowRule{{After: 30 * time.Second, To: "q1"}, {After: 10 * time.Second, To: "q3"}}
			q.Wrapup = 5 * time.Second
		}),
		queue("q1", func(q *QueueConfig) { q.Strategy = StrategyRoundRobin; q.OverflowPolicy = OverflowOldestFirst }),
		queue("q2", func(q *QueueConfig) {
			q.Strategy, q.WidenAfter = StrategyBestSkill, 20*time.Second
			q.RequiredSkills = map[string]int{"topic:tax": 2}
		}),
		queue("q3", func(q *QueueConfig) {
			q.Strategy, q.Wrapup = StrategyFewestContacts, 0
			q.CallbackRetries, q.CallbackRetryAfter = 1, 40*time.Second
			q.HelpWhile.MinIdle = 1
		}),
		queue("q4", func(q *QueueConfig) { q.Kind, q.Channels = QueueInterpreter, []Channel{ChannelVoice, ChannelChat} }),
	}
	rng := rand.New(rand.NewPCG(seed, seed*7919))
	var agents []AgentProfile
	for i := range 8 {
		p := agent(fmt.Sprint("a", i))
		for _, q := range queues {
			if rng.IntN(2) == 0 {
				p.Queues[q.ID] = 1 + rng.IntN(3)
			}
		}
		p.Skills["topic:tax"] = 1 + rng.IntN(4)
		if rng.IntN(2) == 0 {
			p.Skills["lang:en"] = 1
		}
		p.MaxChats = 1 + rng.IntN(3)
		if i < 3 { // enough members for q3's reserve to matter on every seed
			p.Queues["q3"] = max(p.Queues["q3"], 1)
		}
		agents = append(agents, p)
	}
	return &randomRun{t: t, f: newFixture(t, queues, agents), rng: rng,
		created: map[string]bool{}, cases: map[string]CaseView{}, seen: map[string]int{}}
}

func (run *randomRun) step() (string, []Event) {
	f, rng := run.f, run.rng
	agent := fmt.Sprint("a", rng.IntN(8))
	var evs []Event
	var err error
	var op string
	switch n := rng.IntN(112); {
	case n < 25:
		op = "enqueue"
		evs, err = run.enqueue()
	case n < 32:
		op = "connect"
		_, evs, err = f.r.Connect(agent)
		if err == nil {
			var e2 []Event
			e2, err = f.r.SetState(agent, StateAvailable, "")
			evs = append(evs, e2...)
		}
	case n < 36:
		op = "disconnect"
		evs, err = f.r.Disconnect(agent)
	case n < 40:
		op = "state"
		evs, err = f.r.SetState(agent, []AgentState{StateAvailable, StateBreak, StateOffline}[rng.IntN(3)], "")
	case n < 55:
		op = "accept"
		if o := run.pickOffer(); o != nil {
			evs, err = f.r.Accept(o.Agent, o.ID)
		}
	case n < 60:
		op = "decline"
		if o := run.pickOffer(); o != nil {
			evs, err = f.r.Decline(o.Agent, o.ID, "")
		}
	case n < 70:
		op = "end"
		if c := run.pickContact(StatusAssigned); c != nil {
			evs, err = f.r.End(c.Agent, c.ID, "resolved", "")
		}
	case n < 77:
		op = "transfer"
		evs, err = run.transfer()
	case n < 81:
		op = "abandon"
		if c := run.pickLive(); c != nil {
			evs, err = f.r.Abandon(c.ID)
		}
	case n < 86:
		op = "say"
		if c := run.pickContact(StatusAssigned); c != nil {
			evs, err = f.r.Say(AsAgent(c.Agent), c.ID, "text")
		}
	case n < 90:
		op = "callback"
		evs, err = run.callback()
	case n < 93:
		op = "callback result"
		if c := run.pickContact(StatusAssigned); c != nil {
			evs, err = f.r.CallbackResult("", c.ID, []string{CallbackAnswered, CallbackNoAnswer, CallbackBusy}[rng.IntN(3)])
		}
	case n < 97:
		op = "interpret"
		if c := run.pickContact(StatusAssigned); c != nil {
			var leg ContactView
			leg, evs, err = f.r.Interpret(c.Agent, c.ID, "en", "")
			if err == nil {
				run.created[leg.ID] = true
			}
		}
	case n < 99:
		op = "release interpreter"
		if c := run.pickContact(StatusAssigned); c != nil {
			evs, err = f.r.ReleaseInterpreter(c.Agent, c.ID)
		}
	case n < 100:
		op = "file callback"
		if c := run.pickContact(StatusAssigned); c != nil {
			var leg ContactView
			leg, evs, err = f.r.EndWithCallback(c.Agent, c.ID, FollowUp{Queue: fmt.Sprint("q", rng.IntN(4)), Number: "0212345"})
			if err == nil {
				run.created[leg.ID] = true
			}
		}
	default:
		op = "tick"
		f.clock.Advance(time.Duration(rng.IntN(25000)) * time.Millisecond)
		evs, err = f.r.Tick()
		checkNoExpiredOffers(run.t, f.r, f.clock.Now())
	}
	if err != nil && !isRouterError(err) {
		run.t.Errorf("%s: unexpected error %v", op, err)
	}
	run.track(evs)
	return op, evs
}

func isRouterError(err error) bool {
	for _, s := range []error{ErrNotFound, ErrForbidden, ErrConflict, ErrInvalid, ErrUnavailable} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

func (run *randomRun) enqueue() ([]Event, error) {
	rng := run.rng
	req := EnqueueRequest{Channel: []Channel{ChannelVoice, ChannelChat, ChannelCallback}[rng.IntN(3)],
		Queue: fmt.Sprint("q", rng.IntN(4)), Caller: Caller{ID: fmt.Sprint("c", rng.IntN(20))},
		Priority: rng.IntN(3), CallbackNumber: "021234"}
	if rng.IntN(4) == 0 {
		req.Caller.Language = "en"
	}
	if rng.IntN(3) == 0 { // a returning caller continues one of their open cases
		for _, id := range slices.Sorted(maps.Keys(run.cases)) { // in order: the same seed, the same run
			if cs := run.cases[id]; cs.Caller.ID == req.Caller.ID {
				req.CaseID = id
				break
			}
		}
	}
	c, evs, err := run.f.r.Enqueue(req)
	if err == nil {
		run.created[c.ID] = true
	}
	return evs, err
}

// callback turns a waiting contact into a callback: keeping its place, or
// booked into one of the next slots.
func (run *randomRun) callback() ([]Event, error) {
	c := run.pickContact(StatusQueued)
	if c == nil {
		return nil, nil
	}
	req := CallbackRequest{Number: "0211112222"}
	if run.rng.IntN(2) == 0 {
		slots, err := run.f.r.CallbackSlots(c.Queue, time.Minute)
		if err != nil || len(slots) == 0 {
			return nil, err
		}
		// One of the first slots: a booking the run lives to see fall due.
		req.At = slots[run.rng.IntN(min(2, len(slots)))].Start
	}
	_, evs, err := run.f.r.RequestCallback(c.ID, req)
	return evs, err
}

func (run *randomRun) transfer() ([]Event, error) {
	c := run.pickContact(StatusAssigned)
	if c == nil {
		return nil, nil
	}
	to := Target{Queue: fmt.Sprint("q", run.rng.IntN(4))}
	if run.rng.IntN(3) == 0 {
		to = Target{Agent: fmt.Sprint("a", run.rng.IntN(8))}
	}
	mode := []TransferMode{TransferCold, TransferWarm}[run.rng.IntN(2)]
	leg, evs, err := run.f.r.Transfer(c.Agent, c.ID, to, mode, "note")
	if err == nil {
		run.created[leg.ID] = true
	}
	return evs, err
}

// track marks contacts ended by events and remembers open cases.
func (run *randomRun) track(evs []Event) {
	for _, e := range evs {
		run.seeEvent(e)
		switch e.Type {
		case EventEnded, EventAbandoned:
			if !run.created[e.ContactID] {
				run.t.Errorf("%s for contact %s that was not live", e.Type, e.ContactID)
			}
			run.created[e.ContactID] = false
		case EventCaseClosed:
			for _, l := range e.Case.Legs {
				if run.created[l.ContactID] {
					run.t.Errorf("case %s closed with live leg %s", e.CaseID, l.ContactID)
				}
			}
			run.checkExtends(e.CaseID, *e.Case)
			delete(run.cases, e.CaseID)
		}
	}
}

// seeEvent counts the features an event shows.
func (run *randomRun) seeEvent(e Event) {
	switch e.Type {
	case EventTransferred:
		run.seen["transfer"]++
		if e.Reason == string(TransferWarm) {
			run.seen["warm transfer"]++
		}
	case EventCallbackRequested:
		run.seen["callback"]++
	case EventCallbackDue:
		run.seen["callback due"]++
	case EventCallbackAttempt:
		run.seen["callback attempt"]++
	case EventInterpreter:
		run.seen["interpreter"]++
	case EventOfferTimeout:
		run.seen["offer timeout"]++
	case EventDeclined:
		run.seen["decline"]++
	case EventRequeued:
		run.seen["requeue"]++
	case EventAgentState:
		if e.Reason == "reconnect_grace_ended" {
			run.seen["reconnect grace"]++
		}
		if e.AgentView != nil && e.AgentView.State == StateWrapup {
			run.seen["wrap-up"]++
		}
	case EventOffered:
		if e.Contact != nil {
			if a, err := run.f.r.Agent(e.Agent); err == nil {
				if _, own := a.Queues[e.Contact.Queue]; !own {
					run.seen["offer from overflow"]++
					if c, err := getContact(rows(run.f.r), e.ContactID); err == nil {
						for _, q := range c.Overflowed {
							if _, in := a.Queues[q]; in && q == "q3" {
								run.seen["help above reserve"]++
							}
						}
					}
				}
			}
		}
	}
}

// checkCases: every open case still holds every leg and event it had.
func (run *randomRun) checkCases() {
	txn := rows(run.f.r)
	it, _ := txn.Get(tableCases, indexID)
	for _, c := range contactsIn(txn) {
		if c.Status == StatusQueued && len(c.Overflowed) > 0 && c.ConferenceOf == "" {
			run.seen["overflow"]++
		}
		if c.Status == StatusQueued && c.Widened && c.Queue == "q2" {
			run.seen["widening"]++
		}
		if c.Status == StatusQueued && run.heldBack(txn, c) {
			run.seen["help held back"]++
		}
	}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		cs := raw.(*caseRow)
		v, err := caseView(cs, "open")
		if err != nil {
			run.t.Fatal(err)
		}
		run.checkExtends(cs.ID, v)
		run.cases[cs.ID] = v
	}
}

// heldBack says whether a waiting contact overflowed into a queue with a
// reserve that has a free agent for it but is at its reserve.
func (run *randomRun) heldBack(txn *memdb.Txn, c *contactRow) bool {
	run.f.r.mu.Lock()
	defer run.f.r.mu.Unlock()
	w := &writer{r: run.f.r, txn: txn, m: run.f.r.match}
	for _, qid := range c.Overflowed {
		q, err := getQueue(txn, qid)
		if err == nil && q.HelpWhile.MinIdle > 0 && w.freeIn(qid, c.class()) > 0 && !w.helping(q, c.class()) {
			return true
		}
	}
	return false
}

func (run *randomRun) checkExtends(id string, now CaseView) {
	before, ok := run.cases[id]
	if !ok {
		return
	}
	if len(now.Legs) < len(before.Legs) || len(now.Events) < len(before.Events) {
		run.t.Errorf("case %s shrank: legs %d->%d events %d->%d", id, len(before.Legs), len(now.Legs), len(before.Events), len(now.Events))
		return
	}
	for i, l := range before.Legs {
		if now.Legs[i].ContactID != l.ContactID || now.Legs[i].Queue != l.Queue {
			run.t.Errorf("case %s leg %d changed: %+v -> %+v", id, i, l, now.Legs[i])
		}
	}
	for i, e := range before.Events {
		if n := now.Events[i]; n.Seq != e.Seq || n.Type != e.Type || n.Text != e.Text {
			run.t.Errorf("case %s event %d changed: %+v -> %+v", id, i, e, n)
		}
	}
}

func (run *randomRun) pickOffer() *offerRow {
	all := pendingOffers(rows(run.f.r))
	if len(all) == 0 {
		return nil
	}
	return all[run.rng.IntN(len(all))]
}

func (run *randomRun) pickContact(status ContactStatus) *contactRow {
	var all []*contactRow
	for _, c := range allContacts(run.f.r) {
		if c.Status == status {
			all = append(all, c)
		}
	}
	if len(all) == 0 {
		return nil
	}
	return all[run.rng.IntN(len(all))]
}

func (run *randomRun) pickLive() *contactRow {
	var all []*contactRow
	for _, c := range allContacts(run.f.r) {
		if c.Status.Live() {
			all = append(all, c)
		}
	}
	if len(all) == 0 {
		return nil
	}
	return all[run.rng.IntN(len(all))]
}

func allContacts(r *Router) []*contactRow { return contactsIn(rows(r)) }

func contactsIn(txn *memdb.Txn) []*contactRow {
	it, _ := txn.Get(tableContacts, indexID)
	var all []*contactRow
	for raw := it.Next(); raw != nil; raw = it.Next() {
		all = append(all, raw.(*contactRow))
	}
	return all
}

// pendingOffers are the offers the rows hold, by offer id.
func pendingOffers(txn *memdb.Txn) []*offerRow {
	var all []*offerRow
	for _, c := range contactsIn(txn) {
		if o := offerOf(c); o != nil {
			all = append(all, o)
		}
	}
	slices.SortFunc(all, func(a, b *offerRow) int { return strings.Compare(a.ID, b.ID) })
	return all
}

func checkNoExpiredOffers(t *testing.T, r *Router, now time.Time) {
	t.Helper()
	for _, o := range pendingOffers(rows(r)) {
		if !o.ExpiresAt.After(now) {
			t.Errorf("offer %s expired at %s is still there after Tick at %s", o.ID, o.ExpiresAt, now)
		}
	}
}

// checkInvariants checks the state against the routing invariants. created
// maps every contact id the test saw created to whether it should be live.
func checkInvariants(t testing.TB, r *Router, created map[string]bool) {
	t.Helper()
	checkState(t, r, created, true)
}

// checkState is checkInvariants, asking the readers (which publishes the
// open transaction) only when readers is true.
func checkState(t testing.TB, r *Router, created map[string]bool, readers bool) {
	t.Helper()
	r.mu.Lock()
	txn := writerRows(r)
	offers := map[string]*offerRow{} // by contact, as the writer keeps them
	for _, o := range r.match.offers {
		if offers[o.ContactID] != nil {
			t.Errorf("contact %s has two offers", o.ContactID)
		}
		offers[o.ContactID] = o
	}
	timers := maps.Clone(r.match.timers)
	checkTimers(t, r.match)
	r.mu.Unlock()
	uses := map[string]*slotUse{}
	live := checkContacts(t, txn, offers, timers, uses, created)
	for _, tm := range timers {
		if tm.Kind == timerWrapup {
			u := useOf(uses, tm.Agent)
			u.wraps++
			if tm.Class == classVoice {
				u.voice++
			} else {
				u.chats++
			}
		}
	}
	ait, _ := txn.Get(tableAgents, indexID)
	for raw := ait.Next(); raw != nil; raw = ait.Next() {
		a := raw.(*agentRow)
		u := useOf(uses, a.Username)
		if u.voice != a.Voice || u.chats != a.Chats || u.wraps != a.Wraps {
			t.Errorf("agent %s counts voice %d chats %d wraps %d; holds %+v", a.Username, a.Voice, a.Chats, a.Wraps, *u)
		}
		if u.voice > 1 || (u.voice == 1 && u.chats > 0) || u.chats > a.EffectiveMaxChats() {
			t.Errorf("agent %s over capacity: %+v (max chats %d)", a.Username, *u, a.EffectiveMaxChats())
		}
	}
	cit, _ := txn.Get(tableCases, indexID)
	for raw := cit.Next(); raw != nil; raw = cit.Next() {
		cs := raw.(*caseRow)
		if cs.Live != live[cs.ID] || cs.Live == 0 {
			t.Errorf("case %s Live = %d; it has %d live contacts", cs.ID, cs.Live, live[cs.ID])
		}
	}
	checkLines(t, r, txn, readers)
}

// checkLines checks the matching state against the rows: it is exactly
// what rebuildMatching derives from them (every queued contact in exactly
// its line and overflow lines, at its rank, as its current row; every free
// agent in exactly the free sets of their queues and free classes, in idle
// order; every pending offer once, by expiry; every caller's place),
// nothing of a write group is
// left in the undo log, and the published lines are the writer's. Then
// places: counted inside a write, on a snapshot and for many at once, they
// agree with a count from the rows.
func checkLines(t testing.TB, r *Router, txn *memdb.Txn, readers bool) {
	t.Helper()
	r.mu.Lock()
	if readers {
		r.publishOpen()
	}
	m, want := r.match, rebuildMatching(txn)
	if len(m.undo) != 0 {
		t.Errorf("undo log holds %d steps after commit", len(m.undo))
	}
	compareTrees(t, "line", m.lines, want.lines)
	compareTrees(t, "overflow line", m.overflow, want.overflow)
	compareTrees(t, "free set", m.free, want.free)
	compareOffers(t, m, want)
	if !maps.Equal(m.callers, want.callers) {
		t.Errorf("callers' places: %d kept, the rows say %d, or they differ", len(m.callers), len(want.callers))
	}
	compareStored(t, "contact", m.stored.contacts, want.stored.contacts)
	compareStored(t, "case", m.stored.cases, want.stored.cases)
	compareStored(t, "agent", m.stored.agents, want.stored.agents)
	r.linesMu.RLock()
	if r.stale != (r.open != nil) {
		t.Errorf("readers are told the open transaction is stale: %t; it is open: %t", r.stale, r.open != nil)
	}
	if !r.stale { // published with memdb's last commit
		compareTrees(t, "published line", r.view, m.lines)
		if !maps.Equal(r.offers, m.offers) {
			t.Errorf("published offers: %d, the writer keeps %d, or they differ", len(r.offers), len(m.offers))
		}
	}
	r.linesMu.RUnlock()
	checkHeld(t, txn)
	checkSideTables(t, txn)

	byLine := map[lineKey][]*contactRow{} // in rank order, from the rows
	for _, c := range contactsIn(txn) {
		if c.Status != StatusQueued {
			continue
		}
		byLine[lineOf(c)] = append(byLine[lineOf(c)], c)
		if q, err := getQueue(txn, c.Queue); err == nil && c.Rank != c.computeRank(q.Aging) {
			t.Errorf("contact %s has rank %s; its row says %s", c.ID, c.Rank, c.computeRank(q.Aging))
		}
	}
	for _, line := range byLine {
		sortByRank(line)
	}
	// Both ends and the middle of every line (every contact, after every
	// step, would make the test quadratic). The count to compare with is
	// the contact's place in its own line plus the contacts of the queue's
	// other line ranked before it.
	w := &writer{r: r, txn: txn, m: m}
	sampled := map[string]map[string]int{} // queue → contact → place, for Positions
	for id, line := range byLine {
		for _, i := range []int{0, 1, len(line) / 2, len(line) - 2, len(line) - 1} {
			if i < 0 || i >= len(line) {
				continue
			}
			c := line[i]
			want := i + 1
			for _, class := range classes {
				if other := byLine[lineID(c.Queue, class)]; lineID(c.Queue, class) != id {
					want += sort.Search(len(other), func(k int) bool { return !byRank(other[k], c) })
				}
			}
			if got, err := w.position(c); err != nil || got != want {
				t.Errorf("contact %s: position %d (%v) inside a write; want %d", c.ID, got, err, want)
			}
			if sampled[c.Queue] == nil {
				sampled[c.Queue] = map[string]int{}
			}
			sampled[c.Queue][c.ID] = want
		}
	}
	r.mu.Unlock()
	if !readers {
		return
	}
	// On a snapshot, each place and Positions (the answer for many
	// contacts) agree, and Positions leaves out a contact that does not
	// wait in the line.
	for _, want := range sampled {
		for id, n := range want {
			if got, err := r.Position(id); err != nil || got != n {
				t.Errorf("contact %s: Position %d (%v) on a snapshot; want %d", id, got, err, n)
			}
		}
	}
	for queue, want := range sampled {
		ids := append(slices.Collect(maps.Keys(want)), "nobody")
		got, err := r.Positions(queue, ids)
		if err != nil || !maps.Equal(got, want) {
			t.Errorf("Positions(%s) = %v (%v); want %v", queue, got, err, want)
		}
	}
}

// compareStored checks the writer's stored rows of a table against the
// rows memdb holds: the same ids, each the very row memdb stores.
func compareStored[R any](t testing.TB, what string, got, want map[string]*R) {
	t.Helper()
	for id, row := range want {
		if got[id] != row {
			t.Errorf("stored %s %s: the writer keeps %p, memdb %p", what, id, got[id], row)
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			t.Errorf("stored %s %s: the writer keeps it, memdb has no such row", what, id)
		}
	}
}

// checkSideTables checks the side tables against the contacts: each
// holds exactly the contact rows that belong in it, as stored.
func checkSideTables(t testing.TB, txn *memdb.Txn) {
	t.Helper()
	all := contactsIn(txn)
	for _, table := range sideTables() {
		want := map[string]*contactRow{}
		for _, c := range all {
			if sideHolds(table, c) {
				want[c.ID] = c
			}
		}
		got := map[string]*contactRow{}
		it, err := txn.Get(table, indexID)
		if err != nil {
			t.Fatal(err)
		}
		for raw := it.Next(); raw != nil; raw = it.Next() {
			got[raw.(*contactRow).ID] = raw.(*contactRow)
		}
		if !maps.Equal(got, want) {
			t.Errorf("side table %s holds %d contacts; the contacts say %d, or they differ", table, len(got), len(want))
		}
	}
}

// checkHeld checks every agent row's Held list against the contacts: it
// names exactly the contacts offered or assigned to the agent, in id
// order; and the membership rows against the agents' queues.
func checkHeld(t testing.TB, txn *memdb.Txn) {
	t.Helper()
	members := map[memberRow]bool{}
	mit, _ := txn.Get(tableMembers, indexID)
	for raw := mit.Next(); raw != nil; raw = mit.Next() {
		members[*raw.(*memberRow)] = true
	}
	ait, _ := txn.Get(tableAgents, indexID)
	for raw := ait.Next(); raw != nil; raw = ait.Next() {
		a := raw.(*agentRow)
		for q := range a.Queues {
			if !members[memberRow{q, a.Username}] {
				t.Errorf("agent %s is in queue %s without a membership row", a.Username, q)
			}
			delete(members, memberRow{q, a.Username})
		}
	}
	for m := range members {
		t.Errorf("membership row %v names no queue of the agent's", m)
	}
	want := map[string][]string{}
	for _, c := range contactsIn(txn) {
		if u := holderOf(c); u != "" {
			want[u] = append(want[u], c.ID)
		}
	}
	it, _ := txn.Get(tableAgents, indexID)
	for raw := it.Next(); raw != nil; raw = it.Next() {
		a := raw.(*agentRow)
		w := want[a.Username]
		slices.Sort(w)
		if !slices.Equal(a.Held, w) {
			t.Errorf("agent %s holds %v; the contacts say %v", a.Username, a.Held, w)
		}
		delete(want, a.Username)
	}
	for u, ids := range want {
		t.Errorf("contacts %v are held by %s, who has no row", ids, u)
	}
}

// compareTrees checks that two sets of trees hold the same items in the
// same order, the same row pointers; empty trees count as absent.
func compareTrees[T comparable](t testing.TB, what string, got, want map[lineKey]*btree.BTreeG[T]) {
	t.Helper()
	keys := map[lineKey]bool{}
	for k := range got {
		keys[k] = true
	}
	for k := range want {
		keys[k] = true
	}
	for k := range keys {
		var g, w []T
		if got[k] != nil {
			g = got[k].Items()
		}
		if want[k] != nil {
			w = want[k].Items()
		}
		if !slices.Equal(g, w) {
			t.Errorf("%s %s/%s holds %d items, the rows say %d, or they differ in order or version", what, k.queue, k.class, len(g), len(w))
		}
	}
}

// checkTimers checks that the timers by due time and by target are the
// timers by id, each once.
func checkTimers(t testing.TB, m *matching) {
	t.Helper()
	dues := m.dues.Items()
	if len(dues) != len(m.timers) {
		t.Errorf("%d timers by due time, %d by id", len(dues), len(m.timers))
	}
	for i, tm := range dues {
		if m.timers[tm.ID] != tm || tm.DueNano != tm.Due.UnixNano() {
			t.Errorf("timer %s by due time is not the timer by id", tm.ID)
		}
		if i > 0 && !byDue(dues[i-1], tm) {
			t.Errorf("timers out of due order at %s", tm.ID)
		}
	}
	n := 0
	for target, of := range m.byTarget {
		for id, tm := range of {
			n++
			if m.timers[id] != tm || tm.Target != target {
				t.Errorf("timer %s under target %s is not the timer by id", id, target)
			}
		}
	}
	if n != len(m.timers) {
		t.Errorf("%d timers by target, %d by id", n, len(m.timers))
	}
}

// compareOffers checks the pending offers and their expiry order.
func compareOffers(t testing.TB, got, want *matching) {
	t.Helper()
	same := func(a, b *offerRow) bool { return *a == *b }
	if !maps.EqualFunc(got.offers, want.offers, same) {
		t.Errorf("pending offers %v; the rows say %v", slices.Sorted(maps.Keys(got.offers)), slices.Sorted(maps.Keys(want.offers)))
	}
	if !slices.EqualFunc(got.expiries.Items(), want.expiries.Items(), same) {
		t.Errorf("offers by expiry differ from the rows: %d against %d", got.expiries.Len(), want.expiries.Len())
	}
	for id, o := range got.offers {
		if x, ok := got.expiries.Get(o); !ok || x != o {
			t.Errorf("offer %s is not in the expiry order", id)
		}
	}
}

type slotUse struct{ voice, chats, wraps int }

func useOf(uses map[string]*slotUse, a string) *slotUse {
	if uses[a] == nil {
		uses[a] = &slotUse{}
	}
	return uses[a]
}

// checkContacts checks every contact against its offer, the waiting line
// and the created set, counts the agents' slots, and returns live legs per case.
func checkContacts(t testing.TB, txn *memdb.Txn, offers map[string]*offerRow, timers map[string]*timerRow, uses map[string]*slotUse, created map[string]bool) map[string]int {
	t.Helper()
	live := map[string]int{} // per case
	seen := map[string]bool{}
	for _, c := range contactsIn(txn) {
		seen[c.ID] = true
		if want, ok := created[c.ID]; !ok || want != c.Status.Live() {
			t.Errorf("contact %s is %s; the test expects live=%v (known=%v)", c.ID, c.Status, want, ok)
		}
		if c.Status.Live() {
			live[c.CaseID]++
		}
		o := offers[c.ID]
		switch c.Status {
		case StatusOffered:
			if o == nil || o.Agent != c.Agent || o.ID != c.OfferID {
				t.Errorf("offered contact %s (agent %s) has offer %+v", c.ID, c.Agent, o)
			}
		case StatusQueued, StatusAssigned, StatusEnded:
			if o != nil {
				t.Errorf("%s contact %s has an offer to %s", c.Status, c.ID, o.Agent)
			}
		}
		if c.Status == StatusOffered || c.Status == StatusAssigned {
			u := useOf(uses, c.Agent)
			if c.class() == classVoice {
				u.voice++
			} else {
				u.chats++
			}
		}
		checkLinks(t, txn, timers, c)
	}
	for id, isLive := range created {
		if isLive && !seen[id] {
			t.Errorf("live contact %s is lost", id)
		}
	}
	return live
}

// checkLinks checks a contact's interpreter link both ways and that a
// scheduled callback has the timer that brings it back.
func checkLinks(t testing.TB, txn *memdb.Txn, timers map[string]*timerRow, c *contactRow) {
	t.Helper()
	if c.Interpreter != "" {
		leg, err := getContact(txn, c.Interpreter)
		if err != nil || leg.ConferenceOf != c.ID || !leg.Status.Live() || !c.Status.Live() {
			t.Errorf("contact %s (%s) points at interpreter leg %s: %+v, %v", c.ID, c.Status, c.Interpreter, leg, err)
		}
	}
	if c.ConferenceOf != "" && c.Status.Live() {
		main, err := getContact(txn, c.ConferenceOf)
		if err != nil || main.Interpreter != c.ID {
			t.Errorf("live interpreter leg %s is not linked from %s: %+v, %v", c.ID, c.ConferenceOf, main, err)
		}
	}
	if c.Status == StatusScheduled {
		if tm := timers[timerID(timerDue, c.ID)]; tm == nil || !tm.Due.Equal(c.Due) {
			t.Errorf("scheduled contact %s has no due timer for %v", c.ID, c.Due)
		}
	}
}

// TestConcurrentUse hammers one router from several goroutines (run with
// -race): writes serialize, reads see consistent snapshots.
func TestConcurrentUse(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q")}, []AgentProfile{chats(agent("a", "q"), 3), chats(agent("b", "q"), 3)})
	f.online("a", "b")
	created := map[string]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				c, _, err := f.r.Enqueue(EnqueueRequest{Channel: ChannelChat, Queue: "q", Caller: Caller{ID: fmt.Sprint(g, "-", i)}})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				created[c.ID] = true
				mu.Unlock()
				if _, err := f.r.QueueSnapshot("q"); err != nil {
					t.Error(err)
				}
				if _, err := f.r.Tick(); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	checkInvariants(t, f.r, created)
}

// checkSettled checks that the writer left no pair behind: no routable
// agent has a best contact that the queue's strategy would give to a free
// agent now. Eligibility that depends on other agents (a queue's reserve,
// decliners, the top skill level) must be re-asked whenever those change.
func checkSettled(t testing.TB, r *Router) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	w := &writer{r: r, txn: writerRows(r), m: r.match}
	it, _ := w.txn.Get(tableAgents, indexID)
	for raw := it.Next(); raw != nil; raw = it.Next() {
		a := raw.(*agentRow)
		if !a.routable() {
			continue
		}
		c, err := w.bestContactFor(a)
		if err != nil || c == nil {
			continue
		}
		if to, err := w.pickAgent(c); err == nil && to != nil {
			t.Errorf("contact %s waits while %s could take it (best for %s)", c.ID, to.Username, a.Username)
		}
	}
}
