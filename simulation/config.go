package simulation

import (
	"fmt"
	"time"
)

// Config is one what-if question: the traffic, the service-level target and
// the staffing levels to try.
type Config struct {
	// ArrivalsPerHour is the mean arrival rate (Poisson).
	ArrivalsPerHour float64
	// Handle is the mean handle time, answer to hang-up (exponential).
	Handle time.Duration
	// Wrapup is the fixed after-call work; zero means none.
	Wrapup time.Duration
	// Patience is the mean time a caller waits before hanging up
	// (exponential); zero means nobody hangs up.
	Patience time.Duration
	// SLA is the answer-within threshold of the service level.
	SLA time.Duration
	// TargetPct is the service level the planner wants, in percent; the
	// report marks the levels that reach it.
	TargetPct float64
	// Hours is the scored length of each run, after the warm-up.
	Hours float64
	// Seed fixes the random streams: the same Config gives the same Report.
	Seed uint64
	// MinAgents and MaxAgents are the staffing levels to try, both
	// included; equal for a single level.
	MinAgents, MaxAgents int

	// maxWaiting overrides MaxWaiting, so a test can reach an overloaded
	// level without building a line of thousands.
	maxWaiting int
}

// Defaults of the planner's usual question.
const (
	DefaultArrivalsPerHour = 120
	DefaultHandle          = 5 * time.Minute
	DefaultWrapup          = 10 * time.Second
	DefaultPatience        = 3 * time.Minute
	DefaultSLA             = 20 * time.Second
	DefaultTargetPct       = 80
	DefaultHours           = 8
	DefaultSeed            = 1
)

// Bounds that keep a run to about a minute on a small machine: the router
// takes a few thousand simulated calls a second here (each is three or four
// write transactions), fewer with thousands of agents, and it scans the
// waiting line for each new caller's position.
const (
	// MaxLevels is how many staffing levels one run may try.
	MaxLevels = 50
	// MaxAgents is the largest staffing level.
	MaxAgents = 2000
	// MaxCalls bounds the expected calls of a whole run, warm-ups included,
	// summed over the levels.
	MaxCalls = 150_000
	// MaxWaiting is the longest waiting line a level may build before it is
	// stopped and reported as overloaded: the figures of a line that keeps
	// growing say only how long the run was.
	MaxWaiting = 5000
	// maxDuration bounds handle, wrap-up, patience and the threshold.
	maxDuration = 24 * time.Hour
	// maxHours bounds the scored length: a week.
	maxHours = 7 * 24
)

// DefaultConfig is the planner's usual question at one staffing level.
func DefaultConfig(agents int) Config {
	return Config{
		ArrivalsPerHour: DefaultArrivalsPerHour,
		Handle:          DefaultHandle,
		Wrapup:          DefaultWrapup,
		Patience:        DefaultPatience,
		SLA:             DefaultSLA,
		TargetPct:       DefaultTargetPct,
		Hours:           DefaultHours,
		Seed:            DefaultSeed,
		MinAgents:       agents,
		MaxAgents:       agents,
	}
}

// Warmup is how long each run goes before it starts scoring: an hour, or
// ten mean service times (handle plus wrap-up) when that is longer, so the
// run starts scoring with a line and busy agents as they would be mid-day
// rather than an empty centre at opening.
func (c Config) Warmup() time.Duration {
	return max(time.Hour, 10*(c.Handle+c.Wrapup))
}

func (c Config) waitingLimit() int {
	if c.maxWaiting > 0 {
		return c.maxWaiting
	}
	return MaxWaiting
}

// scored is the length of the scored window.
func (c Config) scored() time.Duration {
	return time.Duration(c.Hours * float64(time.Hour))
}

// Erlangs is the offered load in agent-time: arrivals × (handle + wrap-up).
func (c Config) Erlangs() float64 {
	return c.ArrivalsPerHour / float64(time.Hour) * float64(c.Handle+c.Wrapup)
}

// Levels is how many staffing levels the run tries.
func (c Config) Levels() int { return c.MaxAgents - c.MinAgents + 1 }

// Validate says what is wrong with the question, one problem at a time.
func (c Config) Validate() error {
	switch {
	case !(c.ArrivalsPerHour > 0):
		return fmt.Errorf("arrivals must be above 0 calls per hour, not %g", c.ArrivalsPerHour)
	case c.Handle < time.Second || c.Handle > maxDuration:
		return fmt.Errorf("handle time must be between 1s and %s, not %s", maxDuration, c.Handle)
	case c.Wrapup < 0 || c.Wrapup > maxDuration:
		return fmt.Errorf("wrap-up must be between 0 and %s, not %s", maxDuration, c.Wrapup)
	case c.Patience < 0 || c.Patience > maxDuration:
		return fmt.Errorf("patience must be between 0 (nobody hangs up) and %s, not %s", maxDuration, c.Patience)
	case c.SLA < 0 || c.SLA > maxDuration:
		return fmt.Errorf("service-level threshold must be between 0 and %s, not %s", maxDuration, c.SLA)
	case !(c.TargetPct >= 0 && c.TargetPct <= 100):
		return fmt.Errorf("target must be between 0 and 100 %%, not %g", c.TargetPct)
	case !(c.Hours > 0 && c.Hours <= maxHours):
		return fmt.Errorf("hours must be above 0 and at most %d, not %g", maxHours, c.Hours)
	case c.MinAgents < 1:
		return fmt.Errorf("agents must be at least 1, not %d", c.MinAgents)
	case c.MaxAgents < c.MinAgents:
		return fmt.Errorf("agent range %d-%d runs backwards", c.MinAgents, c.MaxAgents)
	case c.MaxAgents > MaxAgents:
		return fmt.Errorf("agents must be at most %d, not %d", MaxAgents, c.MaxAgents)
	case c.Levels() > MaxLevels:
		return fmt.Errorf("agent range %d-%d has %d levels; at most %d per run", c.MinAgents, c.MaxAgents, c.Levels(), MaxLevels)
	}
	if calls := c.expectedCalls(); calls > MaxCalls {
		return fmt.Errorf("the run would simulate about %.0f calls (arrivals × (hours + %s warm-up) × %d levels); at most %d: ask for fewer hours, arrivals or levels",
			calls, c.Warmup(), c.Levels(), MaxCalls)
	}
	return nil
}

// expectedCalls is the mean number of calls of the whole run.
func (c Config) expectedCalls() float64 {
	length := (c.Warmup() + c.scored()).Hours()
	return c.ArrivalsPerHour * length * float64(c.Levels())
}
