package simulation

import (
	"math"

	"tellonce/stats"
)

// Theory is a queueing-theory prediction for a queue (or the pooled
// centre) whose model allows one: flat Poisson arrivals, exponential
// handle times, no wrap-up. Erlang C without patience, Erlang A (M/M/c+M)
// with exponential patience.
type Theory struct {
	Model        string  `json:"model"` // "erlang-c" or "erlang-a"
	WaitS        float64 `json:"wait_s"`
	AbandonedPct float64 `json:"abandoned_pct"`
}

// erlangCTheory is Erlang C's mean wait of all callers; nil when the line
// is overloaded.
func erlangCTheory(agents int, perHour, handleS float64) *Theory {
	a := perHour * handleS / 3600
	if agents <= 0 || a >= float64(agents) {
		return nil
	}
	w := stats.ErlangC(agents, a) * handleS / (float64(agents) - a)
	return &Theory{Model: "erlang-c", WaitS: w}
}

// erlangA is the M/M/c+M queue solved as a birth-death chain: births at
// λ, deaths at min(n, c)·μ + max(n − c, 0)·θ. The chain is cut where the
// remaining probability is negligible. The mean wait of all callers (until
// answered or hung up) is Lq/λ by Little's law, and the share who hang up
// is θ·Lq/λ.
func erlangA(agents int, perHour, handleS, patienceS float64) *Theory {
	if agents <= 0 || perHour <= 0 {
		return nil
	}
	lambda, mu, theta := perHour/3600, 1/handleS, 1/patienceS
	// Unnormalised probabilities, in logs for large c.
	p := 1.0
	var sum, lq float64
	sum = p
	for n := 1; n < agents+100000; n++ {
		death := float64(min(n, agents))*mu + float64(max(n-agents, 0))*theta
		p *= lambda / death
		sum += p
		if n > agents {
			lq += float64(n-agents) * p
		}
		if n > agents && p < 1e-16*sum {
			break
		}
		if math.IsInf(sum, 1) {
			return nil
		}
	}
	lq /= sum
	return &Theory{Model: "erlang-a", WaitS: lq / lambda, AbandonedPct: 100 * theta * lq / lambda}
}

// theoryFor predicts one queue, or a set of queues served by one pool of
// agents, when every queue has flat arrivals, exponential handle times of
// one mean, one patience and no wrap-up, and is an M/M/c queue as the
// scenario staffs it (see markovian); nil otherwise.
func (s Scenario) theoryFor(qs []Queue, agents int) *Theory {
	if len(qs) == 0 || len(qs) < len(s.queues()) && !s.alone(qs) {
		return nil
	}
	if len(qs) == len(s.queues()) {
		for _, a := range s.Agencies {
			if len(a.Teams) > 0 {
				return nil // teams' levels and skills make the pool no longer one line
			}
		}
	}
	first := qs[0]
	var rate float64
	for _, q := range qs {
		if !q.flat() || q.Handle.kind() != DistExponential || q.WrapupS != 0 ||
			q.Handle.MeanS != first.Handle.MeanS || q.PatienceS != first.PatienceS || !q.markovian() {
			return nil
		}
		rate += q.ArrivalsPerHour[0]
	}
	if first.PatienceS > 0 {
		return erlangA(agents, rate, first.Handle.MeanS, first.PatienceS)
	}
	return erlangCTheory(agents, rate, first.Handle.MeanS)
}

// markovian says whether nothing in the queue's own description breaks
// the M/M/c(+M) model: a fixed staff of its own that answers every offer,
// no caller with a skill need, no transfer on and no callbacks.
func (q Queue) markovian() bool {
	return len(q.Staffing) == 0 && q.DeclinePct == 0 && q.MissPct == 0 && len(q.Needs) == 0 &&
		q.Transfer == nil && q.Callback == nil
}

// alone says whether the queues, as a separate centre, see only their own
// callers and agents: no team answers them and no other queue transfers
// callers into them.
func (s Scenario) alone(qs []Queue) bool {
	mine := map[string]bool{}
	for _, q := range qs {
		mine[q.ID] = true
	}
	for _, a := range s.Agencies {
		for _, t := range a.Teams {
			for id := range t.Queues {
				if mine[id] {
					return false
				}
			}
		}
		for _, q := range a.Queues {
			if q.Transfer != nil && mine[q.Transfer.To] && !mine[q.ID] {
				return false
			}
		}
	}
	return true
}
