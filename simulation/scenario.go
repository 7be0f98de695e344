package simulation

import (
	"embed"
	"fmt"
	"math"
	"os"
	"strings"

	"github.com/goccy/go-yaml"

	"tellonce/cases"
)

// Scenario is a day of several agencies, read from a YAML (or JSON) file:
// see docs/simulation.md and scenarios/weekday-8.yaml for a commented
// example. Times are in seconds, as in the API (handle_s, wrapup_s).
type Scenario struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// WarmupH hours run before scoring starts; HoursMeasured are scored.
	WarmupH       float64 `yaml:"warmup_h"`
	HoursMeasured float64 `yaml:"hours"`
	// Replications are independent days; each has its own seed.
	Replications int      `yaml:"replications"`
	Seed         uint64   `yaml:"seed"`
	Agencies     []Agency `yaml:"agencies"`
}

// Agency is one agency's call centre.
type Agency struct {
	ID     string  `yaml:"id"`
	Name   string  `yaml:"name"`
	Queues []Queue `yaml:"queues"`
}

// Queue is one line of an agency with its traffic and its agents.
type Queue struct {
	ID string `yaml:"id"`
	// Agents on the line for the whole day, answering this queue only (and
	// overflow into it).
	Agents int `yaml:"agents"`
	// ArrivalsPerHour is the mean Poisson rate for each hour of the day
	// from the start of the warm-up; the last value holds for the hours
	// after it. One value: a flat day.
	ArrivalsPerHour []float64 `yaml:"arrivals_per_hour"`
	Handle          Dist      `yaml:"handle"`
	WrapupS         float64   `yaml:"wrapup_s"`
	// PatienceS is the mean of an exponential patience; 0: nobody hangs up.
	PatienceS float64 `yaml:"patience_s"`
	// SLAS is the service level's answer-within threshold.
	SLAS     float64   `yaml:"sla_s"`
	Overflow *Overflow `yaml:"overflow"`
	// OverflowPolicy is how this queue's agents weigh callers overflowing
	// into it against their own: own-first (default) or oldest-first.
	OverflowPolicy string `yaml:"overflow_policy"`
}

// Overflow lets other queues' agents take this queue's callers once they
// have waited AfterS.
type Overflow struct {
	AfterS float64 `yaml:"after_s"`
	// To lists queue ids; "*" is every other queue of the scenario.
	To []string `yaml:"to"`
}

// Dist is a handle-time distribution.
type Dist struct {
	// Kind is exponential (default), lognormal or fixed.
	Kind  string  `yaml:"kind"`
	MeanS float64 `yaml:"mean_s"`
	// SDS is the lognormal's standard deviation, in seconds.
	SDS float64 `yaml:"sd_s"`
}

// Bounds that keep a scenario to a day-sized question.
const (
	maxScenarioHours  = 48
	maxReplications   = 1000
	maxScenarioAgents = 5000
	maxSeconds        = 24 * 3600
)

//go:embed scenarios/*.yaml
var shipped embed.FS

// ShippedScenarios lists the scenarios built into the binary.
func ShippedScenarios() []string {
	entries, _ := shipped.ReadDir("scenarios")
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	return names
}

// LoadScenario reads a shipped scenario by name or a file by path.
func LoadScenario(nameOrPath string) (Scenario, error) {
	data, err := shipped.ReadFile("scenarios/" + nameOrPath + ".yaml")
	if err != nil {
		data, err = os.ReadFile(nameOrPath)
		if err != nil {
			return Scenario{}, fmt.Errorf("scenario %q is neither a file nor one of %s: %w",
				nameOrPath, strings.Join(ShippedScenarios(), ", "), err)
		}
	}
	s, err := ParseScenario(data)
	if err != nil {
		return Scenario{}, fmt.Errorf("scenario %s: %w", nameOrPath, err)
	}
	return s, nil
}

// ParseScenario decodes and validates a scenario; an unknown field is an
// error, so a misspelt key is not silently ignored.
func ParseScenario(data []byte) (Scenario, error) {
	var s Scenario
	if err := yaml.UnmarshalWithOptions(data, &s, yaml.Strict(), yaml.DisallowUnknownField()); err != nil {
		return Scenario{}, fmt.Errorf("parse: %s", yaml.FormatError(err, false, true))
	}
	if err := s.Validate(); err != nil {
		return Scenario{}, err
	}
	return s, nil
}

// Validate names the first field that is wrong.
func (s Scenario) Validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...))
	}
	inRange := func(x, lo, hi float64) bool { return !math.IsNaN(x) && x >= lo && x <= hi }
	switch {
	case !inRange(s.WarmupH, 0, maxScenarioHours):
		return bad("warmup_h", "must be between 0 and %d, not %g", maxScenarioHours, s.WarmupH)
	case !(s.HoursMeasured > 0 && s.HoursMeasured <= maxScenarioHours):
		return bad("hours", "must be above 0 and at most %d, not %g", maxScenarioHours, s.HoursMeasured)
	case s.Replications < 2 || s.Replications > maxReplications:
		return bad("replications", "must be between 2 (for a confidence interval) and %d, not %d", maxReplications, s.Replications)
	case len(s.Agencies) == 0:
		return bad("agencies", "at least one agency is needed")
	}
	ids := map[string]bool{}
	agencies := map[string]bool{}
	agents := 0
	for i, a := range s.Agencies {
		at := fmt.Sprintf("agencies[%d]", i)
		if a.ID == "" {
			return bad(at+".id", "is required")
		}
		if agencies[a.ID] {
			return bad(at+".id", "%q appears twice", a.ID)
		}
		agencies[a.ID] = true
		if len(a.Queues) == 0 {
			return bad(at+".queues", "agency %s has no queue", a.ID)
		}
		for j, q := range a.Queues {
			qt := fmt.Sprintf("%s.queues[%d]", at, j)
			if q.ID == "" {
				return bad(qt+".id", "is required")
			}
			if ids[q.ID] {
				return bad(qt+".id", "%q appears twice", q.ID)
			}
			ids[q.ID] = true
			agents += q.Agents
			switch {
			case q.Agents < 0:
				return bad(qt+".agents", "must be 0 or more, not %d", q.Agents)
			case len(q.ArrivalsPerHour) == 0:
				return bad(qt+".arrivals_per_hour", "at least one hourly rate is needed")
			case !inRange(q.WrapupS, 0, maxSeconds):
				return bad(qt+".wrapup_s", "must be between 0 and %d, not %g", maxSeconds, q.WrapupS)
			case !inRange(q.PatienceS, 0, maxSeconds):
				return bad(qt+".patience_s", "must be between 0 (nobody hangs up) and %d, not %g", maxSeconds, q.PatienceS)
			case !inRange(q.SLAS, 0, maxSeconds):
				return bad(qt+".sla_s", "must be between 0 and %d, not %g", maxSeconds, q.SLAS)
			}
			for k, r := range q.ArrivalsPerHour {
				if !inRange(r, 0, 1e6) {
					return bad(fmt.Sprintf("%s.arrivals_per_hour[%d]", qt, k), "must be between 0 and 1000000, not %g", r)
				}
			}
			if err := validPolicy(q.OverflowPolicy); err != nil {
				return bad(qt+".overflow_policy", "%v", err)
			}
			if err := q.Handle.validate(qt + ".handle"); err != nil {
				return err
			}
			if o := q.Overflow; o != nil {
				switch {
				case !inRange(o.AfterS, 0, maxSeconds):
					return bad(qt+".overflow.after_s", "must be between 0 and %d, not %g", maxSeconds, o.AfterS)
				case len(o.To) == 0:
					return bad(qt+".overflow.to", "name at least one queue, or \"*\" for all")
				}
			}
		}
	}
	if agents == 0 {
		return bad("agencies", "no queue has agents")
	}
	if agents > maxScenarioAgents {
		return bad("agencies", "%d agents in all; at most %d", agents, maxScenarioAgents)
	}
	// Overflow targets are checked once every id is known.
	for i, a := range s.Agencies {
		for j, q := range a.Queues {
			if q.Overflow == nil {
				continue
			}
			for k, to := range q.Overflow.To {
				if to != "*" && (!ids[to] || to == q.ID) {
					return bad(fmt.Sprintf("agencies[%d].queues[%d].overflow.to[%d]", i, j, k),
						"%q is not another queue of the scenario", to)
				}
			}
		}
	}
	if calls := s.expectedCalls(); calls > MaxScenarioCalls {
		return bad("replications", "the run would simulate about %.0f calls (3 worlds × replications × hours × arrivals); at most %d", calls, MaxScenarioCalls)
	}
	return nil
}

// MaxScenarioCalls bounds one scenario run over its three worlds.
const MaxScenarioCalls = 5_000_000

func (s Scenario) expectedCalls() float64 {
	var perDay float64
	for _, q := range s.queues() {
		for h := range s.dayHours() {
			perDay += q.rate(h)
		}
	}
	return 3 * float64(s.Replications) * perDay
}

func (s Scenario) dayHours() int { return int(math.Ceil(s.WarmupH + s.HoursMeasured)) }

// queues is every queue in file order.
func (s Scenario) queues() []Queue {
	var qs []Queue
	for _, a := range s.Agencies {
		qs = append(qs, a.Queues...)
	}
	return qs
}

// rate is the arrival rate in hour h of the day.
func (q Queue) rate(h int) float64 {
	return q.ArrivalsPerHour[min(h, len(q.ArrivalsPerHour)-1)]
}

// flat says whether the arrival rate is the same all day.
func (q Queue) flat() bool {
	for _, r := range q.ArrivalsPerHour {
		if r != q.ArrivalsPerHour[0] {
			return false
		}
	}
	return true
}

// Handle-time distributions.
const (
	DistExponential = "exponential"
	DistLognormal   = "lognormal"
	DistFixed       = "fixed"
)

func (d Dist) kind() string {
	if d.Kind == "" {
		return DistExponential
	}
	return d.Kind
}

func (d Dist) validate(field string) error {
	switch {
	case d.kind() != DistExponential && d.kind() != DistLognormal && d.kind() != DistFixed:
		return fmt.Errorf("%s.kind: must be exponential, lognormal or fixed, not %q", field, d.Kind)
	case !(d.MeanS >= 1 && d.MeanS <= maxSeconds):
		return fmt.Errorf("%s.mean_s: must be between 1 and %d, not %g", field, maxSeconds, d.MeanS)
	case d.kind() == DistLognormal && !(d.SDS > 0 && d.SDS <= maxSeconds):
		return fmt.Errorf("%s.sd_s: a lognormal needs a spread above 0 and at most %d, not %g", field, maxSeconds, d.SDS)
	case d.kind() != DistLognormal && d.SDS != 0:
		return fmt.Errorf("%s.sd_s: only a lognormal takes a spread", field)
	}
	return nil
}

func validPolicy(p string) error {
	switch cases.OverflowPolicy(p) {
	case "", cases.OverflowOwnFirst, cases.OverflowOldestFirst:
		return nil
	}
	return fmt.Errorf("must be own-first or oldest-first, not %q", p)
}
