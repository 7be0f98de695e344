package stats

import (
	"context"
	"fmt"
	"slices"
	"time"

	"tellonce/cases"
	tsql "tellonce/sql"
	"tellonce/transcripts"
)

// transferLookback reaches back before midnight for warm transfers that
// were asked for before it and accepted after (a warm transfer waits at
// most the router's WarmWait, a minute by default).
const transferLookback = time.Hour

// Load rebuilds today's counters, and the estimator's inputs, from the
// case log, and today's history from the samples saved by RunHistory, so
// that a restart keeps the day's figures and charts: call it at start,
// after the router is restored and before the journal delivers events to
// Observe. It replaces whatever was counted and sampled before. It is
// ReadToday then Apply.
func (s *Stats) Load(ctx context.Context, db *tsql.DB) error {
	t, err := s.ReadToday(ctx, db)
	if err != nil {
		return err
	}
	return s.Apply(t)
}

// Today is what Load reads of the database: the day's log and the
// history samples saved so far today.
type Today struct {
	day     *day
	log     transcripts.Day
	samples []sampleRow
}

// ReadToday reads today's log and saved samples and changes nothing, so a
// takeover reads them alongside its other reads (even before the router
// is restored). Apply them before the journal commits anything new: the
// counters then hold each event exactly once.
func (s *Stats) ReadToday(ctx context.Context, db *tsql.DB) (*Today, error) {
	today := newDay(s.clock.Now(), s.cfg.Location)
	start := today.start.UTC()
	day, err := transcripts.ReadDay(ctx, db, start, start.Add(-transferLookback))
	if err != nil {
		return nil, fmt.Errorf("load today's statistics: %w", err)
	}
	samples, err := loadHistory(ctx, db, today)
	if err != nil {
		return nil, err
	}
	return &Today{day: today, log: day, samples: samples}, nil
}

// Apply replaces the counters and the history with what t read, after
// learning the router's agents (restore the router first), then counts
// what Observe held since Hold. Readers see the day as it was before
// Apply or as it is after, never part of it.
func (s *Stats) Apply(t *Today) error {
	began := s.clock.Now()
	if err := s.learnAgents(); err != nil {
		return err
	}
	facts := factsOf(s, t.day.start.UTC(), t.log)
	s.mu.Lock()
	s.c.today, s.c.previous = t.day, nil
	s.c.models = map[string]*model{}
	for _, f := range facts {
		f.apply()
	}
	t.day.restore(t.samples)
	held := s.held
	s.holding, s.held = false, nil
	s.observeAll(held)
	s.mu.Unlock()
	s.view.Store(nil) // the next reader computes the figures afresh
	s.cfg.Log.Info("today's statistics loaded", "legs", len(t.log.Legs), "closed_cases", len(t.log.Closed),
		"history_samples", len(t.samples), "held_events", len(held), "took", s.clock.Now().Sub(began).Round(time.Millisecond))
	return nil
}

// Hold keeps what Observe is given from now until Apply, which counts it
// after the day's log: a new leader routes before its statistics are
// rebuilt, and nothing it commits meanwhile is lost or counted twice (the
// day's log is read before the journal commits anything). Until Apply,
// today's counts read as empty, estimates are made without today's
// history, and no history sample is taken; the live figures (waiting,
// agents) come from the router as always.
func (s *Stats) Hold() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.holding = true
}

// fact is one counted happening, applied in time order so that the moving
// averages age as they would have live.
type fact struct {
	at    time.Time
	apply func()
}

// factsOf turns the day's log into the facts Observe would have counted
// since start.
func factsOf(s *Stats, start time.Time, day transcripts.Day) []fact {
	var facts []fact
	add := func(at time.Time, f func()) {
		if !at.Before(start) {
			facts = append(facts, fact{at: at, apply: f})
		}
	}
	byCase := map[string][]cases.Leg{}
	firstLeg := map[string]transcripts.DayLeg{} // by contact id: the leg a transfer made
	for _, l := range day.Legs {
		byCase[l.CaseID] = append(byCase[l.CaseID], cases.Leg{ContactID: l.ContactID, Queue: l.Queue, Agency: l.Agency,
			Agent: l.Agent, Channel: cases.Channel(l.Channel), EnqueuedAt: l.EnqueuedAt, AnsweredAt: l.AnsweredAt,
			EndedAt: l.EndedAt, Disposition: l.Disposition})
		if f, ok := firstLeg[l.ContactID]; !ok || l.EnqueuedAt.Before(f.EnqueuedAt) {
			firstLeg[l.ContactID] = l
		}
		add(l.EnqueuedAt, func() { s.arrival(l.Queue, cases.Channel(l.Channel), l.EnqueuedAt) })
		if !l.AnsweredAt.IsZero() {
			add(l.AnsweredAt, func() { s.answered(l.Queue, l.AnsweredAt.Sub(l.EnqueuedAt), l.AnsweredAt) })
		}
		if !l.EndedAt.IsZero() {
			add(l.EndedAt, func() {
				s.ended(l.Queue, l.Agent, l.Disposition, l.EnqueuedAt, l.AnsweredAt, l.EndedAt)
			})
		}
	}
	for _, t := range day.Transfers {
		if t.Data["mode"] == string(cases.TransferWarm) {
			// Counted when the target accepted: the new leg's answer.
			if l, ok := firstLeg[t.Data["new_contact_id"]]; ok && !l.AnsweredAt.IsZero() {
				add(l.AnsweredAt, func() { s.transferredIn(l.Queue, l.AnsweredAt) })
			}
			continue
		}
		add(t.At, func() { s.transferredIn(t.Data["to_queue"], t.At) })
	}
	for _, c := range day.Closed {
		legs := byCase[c.CaseID]
		slices.SortStableFunc(legs, func(a, b cases.Leg) int { return a.EnqueuedAt.Compare(b.EnqueuedAt) })
		if cc, ok := summarise(legs, c.ClosedAt); ok {
			add(c.ClosedAt, func() { s.caseClosed(cc, c.ClosedAt) })
		}
	}
	slices.SortStableFunc(facts, func(a, b fact) int { return a.at.Compare(b.at) })
	return facts
}
