package stats

import (
	"slices"
	"time"

	"tellonce/cases"
)

// CitizenWait is how long the citizen of a case has waited across all its
// legs, as of now: the time during which some leg of the case was waiting
// in a queue (enqueued, not yet answered) while no leg was being handled
// by an agent. So a cold transfer adds the wait in the next queue to the
// wait in the first, a contact re-queued after its agent was lost adds its
// second wait, and a warm transfer adds nothing while the first agent is
// still on the line with the citizen. Legs still open count up to now.
func CitizenWait(legs []cases.Leg, now time.Time) time.Duration {
	type edge struct {
		at         time.Time
		wait, talk int // +1 opens, −1 closes
	}
	edges := make([]edge, 0, 4*len(legs))
	for _, l := range legs {
		end := l.EndedAt
		if end.IsZero() {
			end = now
		}
		waitEnd := end
		if !l.AnsweredAt.IsZero() {
			waitEnd = l.AnsweredAt
			if end.After(l.AnsweredAt) {
				edges = append(edges, edge{at: l.AnsweredAt, talk: 1}, edge{at: end, talk: -1})
			}
		}
		if waitEnd.After(l.EnqueuedAt) {
			edges = append(edges, edge{at: l.EnqueuedAt, wait: 1}, edge{at: waitEnd, wait: -1})
		}
	}
	slices.SortStableFunc(edges, func(a, b edge) int { return a.at.Compare(b.at) })
	var total time.Duration
	waiting, talking := 0, 0
	for i, e := range edges {
		if i > 0 && waiting > 0 && talking == 0 {
			total += e.at.Sub(edges[i-1].at)
		}
		waiting += e.wait
		talking += e.talk
	}
	return total
}

// closedCase summarises a case that closed: where it ended, whether it
// was transferred, and its citizen's total wait.
type closedCase struct {
	queue       string
	transferred bool
	wait        time.Duration
}

// summarise makes the closedCase of a case's legs, closed at at. The case
// is counted for the queue of the leg that ended last (where the citizen's
// matter was finished), and as transferred when any leg ended transferred.
func summarise(legs []cases.Leg, at time.Time) (closedCase, bool) {
	if len(legs) == 0 {
		return closedCase{}, false
	}
	c := closedCase{wait: CitizenWait(legs, at)}
	var last time.Time
	for _, l := range legs {
		if l.Disposition == dispTransferred {
			c.transferred = true
		}
		end := l.EndedAt
		if end.IsZero() {
			end = at
		}
		if c.queue == "" || !end.Before(last) {
			c.queue, last = l.Queue, end
		}
	}
	return c, true
}
