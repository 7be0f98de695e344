package simulation

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"

	"golang.org/x/sync/errgroup"
)

// Options change how a scenario is run.
type Options struct {
	// Policy, when set, overrides every queue's overflow policy: own-first,
	// oldest-first or help-while-healthy, with HelpMinIdle its reserve.
	Policy      string
	HelpMinIdle int
	// Workers is how many days run at once; zero means GOMAXPROCS.
	Workers int
	// Worlds to run; nil means all three.
	Worlds []World
}

// DayProgress is told after each simulated day.
type DayProgress struct{ Done, Total int }

// Comparison is a scenario's answer: each world's figures, with their 95 %
// confidence intervals over the replications.
type Comparison struct {
	Scenario     string        `json:"scenario"`
	Replications int           `json:"replications"`
	Hours        float64       `json:"hours"`
	WarmupH      float64       `json:"warmup_h"`
	Policy       string        `json:"policy,omitempty"`
	HelpMinIdle  int           `json:"help_min_idle,omitempty"`
	Worlds       []WorldResult `json:"worlds"`
}

// WorldResult is one world's figures.
type WorldResult struct {
	World World `json:"world"`
	// Overloaded replications had a line pass MaxWaiting; their figures
	// are left out.
	Overloaded int     `json:"overloaded,omitempty"`
	Overall    Metrics `json:"overall"`
	// Theory is the pooled centre's Erlang figure, where the model allows.
	Theory   *Theory      `json:"theory,omitempty"`
	Agencies []UnitResult `json:"agencies"`
	Queues   []UnitResult `json:"queues"`
}

// UnitResult is the figures of one agency or one queue.
type UnitResult struct {
	ID      string  `json:"id"`
	Metrics Metrics `json:"metrics"`
	// Theory is Erlang C or Erlang A where the model allows it.
	Theory *Theory `json:"theory,omitempty"`
	// Hourly is the mean over replications per measured hour (agencies).
	Hourly []HourFigures `json:"hourly,omitempty"`
}

// HourFigures are the callers who arrived in one measured hour.
type HourFigures struct {
	WaitS           float64 `json:"wait_s"`
	ServiceLevelPct float64 `json:"service_level_pct"`
}

// Metrics are a unit's figures, each a mean over replications with its
// 95 % confidence interval.
type Metrics struct {
	Offered float64 `json:"offered"`
	// WaitS is the mean wait of every caller until answered or hung up.
	WaitS Estimate `json:"wait_s"`
	// ASAS is the average speed of answer: the answered callers' wait.
	ASAS            Estimate `json:"asa_s"`
	ServiceLevelPct Estimate `json:"service_level_pct"`
	AbandonedPct    Estimate `json:"abandoned_pct"`
	// OccupancyPct is the unit's agents' busy share of the window; for a
	// queue it is its agency's.
	OccupancyPct Estimate `json:"occupancy_pct"`
	// ByOtherPct is the share of answered callers answered by another
	// agency's agents.
	ByOtherPct Estimate `json:"answered_by_other_agency_pct"`
	// CitizenWaitS is the mean total wait of the citizens who first called
	// here, over every leg of their case (a transfer adds the next
	// queue's wait); TransferredPct is the share of them sent on.
	CitizenWaitS   Estimate `json:"citizen_wait_s"`
	TransferredPct Estimate `json:"transferred_pct"`
	// CallbackPct is the share of offered callers who took a callback;
	// CallbackWaitS their mean time from asking to being called back.
	CallbackPct   Estimate `json:"callback_pct"`
	CallbackWaitS Estimate `json:"callback_wait_s"`
}

// Estimate is a mean with the half-width of its 95 % confidence interval
// (Student's t over the replications).
type Estimate struct {
	Mean float64 `json:"mean"`
	CI95 float64 `json:"ci95"`
}

// Contains says whether x lies in the interval.
func (e Estimate) Contains(x float64) bool { return math.Abs(x-e.Mean) <= e.CI95 }

// RunScenario runs every world of s over its replications. Replications of
// a world with the same index see the same callers (common random numbers).
func RunScenario(ctx context.Context, s Scenario, opt Options, progress func(DayProgress)) (Comparison, error) {
	if err := s.Validate(); err != nil {
		return Comparison{}, err
	}
	if err := validPolicy(opt.Policy); err != nil {
		return Comparison{}, fmt.Errorf("policy: %w", err)
	}
	if opt.Policy != "" {
		if err := validReserve(opt.Policy, opt.HelpMinIdle); err != nil {
			return Comparison{}, fmt.Errorf("help_min_idle: %w", err)
		}
		s = s.withPolicy(opt.Policy, opt.HelpMinIdle)
	}
	worlds := opt.Worlds
	if worlds == nil {
		worlds = Worlds
	}
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	tallies := make([][]*dayTally, len(worlds))
	for i := range tallies {
		tallies[i] = make([]*dayTally, s.Replications)
	}
	var mu sync.Mutex
	done, total := 0, len(worlds)*s.Replications
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for wi, w := range worlds {
		for rep := range s.Replications {
			g.Go(func() error {
				d, err := newDay(s, w, rep)
				if err != nil {
					return fmt.Errorf("%s, day %d: %w", w, rep+1, err)
				}
				err = d.run(gctx)
				if err != nil && !errors.Is(err, errOverloaded) {
					return fmt.Errorf("%s, day %d: %w", w, rep+1, err)
				}
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					t := d.tally()
					tallies[wi][rep] = &t
				}
				done++
				if progress != nil {
					progress(DayProgress{Done: done, Total: total})
				}
				return nil
			})
		}
	}
	if err := g.Wait(); err != nil {
		return Comparison{}, err
	}
	c := Comparison{Scenario: s.Name, Replications: s.Replications, Hours: s.HoursMeasured, WarmupH: s.WarmupH,
		Policy: opt.Policy, HelpMinIdle: opt.HelpMinIdle}
	for wi, w := range worlds {
		c.Worlds = append(c.Worlds, summarise(s, w, tallies[wi]))
	}
	return c, nil
}

// sample is one replication's figures of a unit.
type sample struct {
	offered, wait, asa, sl, abandoned, occupancy, byOther float64
	citizenWait, transferred, callbacks, callbackWait     float64
}

func sampleOf(t tally, busyS, staffS float64) sample {
	s := sample{offered: float64(t.Offered)}
	if t.Citizens > 0 {
		n := float64(t.Citizens)
		s.citizenWait, s.transferred = t.CitizenWaitS/n, 100*float64(t.Transferred)/n
	}
	if t.Offered > 0 {
		s.callbacks = 100 * float64(t.Callbacks) / float64(t.Offered)
	}
	if t.Callbacks > 0 {
		s.callbackWait = t.CallbackWaitS / float64(t.Callbacks)
	}
	if t.Offered > 0 {
		n := float64(t.Offered)
		s.wait, s.sl, s.abandoned = t.WaitS/n, 100*float64(t.Within)/n, 100*float64(t.Abandoned)/n
	}
	if t.Answered > 0 {
		s.asa, s.byOther = t.AnsweredWaitS/float64(t.Answered), 100*float64(t.ByOther)/float64(t.Answered)
	}
	if staffS > 0 {
		s.occupancy = 100 * busyS / staffS
	}
	return s
}

func metricsOf(ss []sample) Metrics {
	get := func(f func(sample) float64) Estimate {
		xs := make([]float64, len(ss))
		for i, s := range ss {
			xs[i] = f(s)
		}
		return estimate(xs)
	}
	return Metrics{
		Offered:         round1(get(func(s sample) float64 { return s.offered }).Mean),
		WaitS:           get(func(s sample) float64 { return s.wait }),
		ASAS:            get(func(s sample) float64 { return s.asa }),
		ServiceLevelPct: get(func(s sample) float64 { return s.sl }),
		AbandonedPct:    get(func(s sample) float64 { return s.abandoned }),
		OccupancyPct:    get(func(s sample) float64 { return s.occupancy }),
		ByOtherPct:      get(func(s sample) float64 { return s.byOther }),
		CitizenWaitS:    get(func(s sample) float64 { return s.citizenWait }),
		TransferredPct:  get(func(s sample) float64 { return s.transferred }),
		CallbackPct:     get(func(s sample) float64 { return s.callbacks }),
		CallbackWaitS:   get(func(s sample) float64 { return s.callbackWait }),
	}
}

// estimate is the mean and the half-width of its 95 % interval.
func estimate(xs []float64) Estimate {
	n := float64(len(xs))
	if n == 0 {
		return Estimate{}
	}
	var sum float64
	for _, x := range xs {
		sum += x
	}
	mean := sum / n
	if n < 2 {
		return Estimate{Mean: round3(mean)}
	}
	var ss float64
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	sd := math.Sqrt(ss / (n - 1))
	return Estimate{Mean: round3(mean), CI95: round3(tQuantile975(len(xs)-1) * sd / math.Sqrt(n))}
}

// tQuantile975 is Student's t 97.5 % quantile for df degrees of freedom.
func tQuantile975(df int) float64 {
	table := []float64{12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
		2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
		2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042}
	switch {
	case df < 1:
		return math.NaN()
	case df <= len(table):
		return table[df-1]
	case df <= 60:
		return 2.000 + (2.042-2.000)*float64(60-df)/30
	case df <= 120:
		return 1.980 + (2.000-1.980)*float64(120-df)/60
	}
	return 1.96
}

// summarise turns a world's replications into its figures.
func summarise(s Scenario, w World, days []*dayTally) WorldResult {
	res := WorldResult{World: w}
	var ok []*dayTally
	for _, d := range days {
		if d == nil {
			res.Overloaded++
			continue
		}
		ok = append(ok, d)
	}
	qs := s.queues()
	totalAgents := 0
	for _, q := range qs {
		totalAgents += q.Agents
	}
	// Overall.
	var overall []sample
	for _, d := range ok {
		var t tally
		var busy, staffed float64
		for _, q := range d.queues {
			t.add(q)
		}
		for ai := range d.busy {
			busy += d.busy[ai]
			staffed += d.staffed[ai]
		}
		overall = append(overall, sampleOf(t, busy, staffed))
	}
	res.Overall = metricsOf(overall)
	// Agencies.
	qi := 0
	for ai, a := range s.Agencies {
		var ss []sample
		for _, d := range ok {
			var t tally
			for k := range a.Queues {
				t.add(d.queues[qi+k])
			}
			ss = append(ss, sampleOf(t, d.busy[ai], d.staffed[ai]))
		}
		u := UnitResult{ID: a.ID, Metrics: metricsOf(ss)}
		if w == WorldSilos && len(a.Queues) == 1 {
			u.Theory = s.theoryFor(a.Queues, a.Queues[0].Agents)
		}
		if len(ok) > 0 {
			for h := range ok[0].hourly[ai] {
				var hs []sample
				for _, d := range ok {
					hs = append(hs, sampleOf(d.hourly[ai][h], 0, 0))
				}
				m := metricsOf(hs)
				u.Hourly = append(u.Hourly, HourFigures{WaitS: round1(m.WaitS.Mean), ServiceLevelPct: round1(m.ServiceLevelPct.Mean)})
			}
		}
		res.Agencies = append(res.Agencies, u)
		// Queues.
		for k, q := range a.Queues {
			var qss []sample
			for _, d := range ok {
				qss = append(qss, sampleOf(d.queues[qi+k], d.busy[ai], d.staffed[ai]))
			}
			qu := UnitResult{ID: q.ID, Metrics: metricsOf(qss)}
			if w == WorldSilos {
				qu.Theory = s.theoryFor([]Queue{q}, q.Agents)
			}
			res.Queues = append(res.Queues, qu)
		}
		qi += len(a.Queues)
	}
	if w == WorldPooled {
		res.Theory = s.theoryFor(qs, totalAgents)
	}
	return res
}
