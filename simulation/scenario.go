package simulation

import (
	"embed"
	"fmt"
	"math"
	"os"
	"slices"
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
	// Teams are agents who answer several queues, or have skills; a
	// queue's own agents (Queue.Agents, Queue.Staffing) are a team of one
	// queue without skills.
	Teams []Team `yaml:"teams"`
}

// Team is a group of an agency's agents alike: the same queues at the
// same levels, the same skills, the same staffing and the same habits.
type Team struct {
	ID string `yaml:"id"`
	// Agents on shift all day, or Staffing: agents on shift per hour from
	// the start of the warm-up, the last value holding after it.
	Agents   int   `yaml:"agents"`
	Staffing []int `yaml:"staffing"`
	// Queues maps a queue id of the scenario to the team's level in it.
	Queues map[string]int `yaml:"queues"`
	// Skills maps a skill ("lang:en") to the team's level in it.
	Skills map[string]int `yaml:"skills"`
	// DeclinePct of offers are declined at once; MissPct are let time out
	// (the queue's 20 s offer timeout), after which the agent is back.
	DeclinePct float64 `yaml:"decline_pct"`
	MissPct    float64 `yaml:"miss_pct"`
}

// Queue is one line of an agency with its traffic and its agents.
type Queue struct {
	ID string `yaml:"id"`
	// Agents on the line for the whole day, answering this queue only (and
	// overflow into it); or Staffing, agents on shift per hour from the
	// start of the warm-up, the last value holding after it.
	Agents   int   `yaml:"agents"`
	Staffing []int `yaml:"staffing"`
	// DeclinePct and MissPct are this queue's own agents' share of offers
	// declined at once and let time out.
	DeclinePct float64 `yaml:"decline_pct"`
	MissPct    float64 `yaml:"miss_pct"`
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
	// into it against their own: own-first (default), oldest-first, or
	// help-while-healthy (own-first, and only while more than HelpMinIdle
	// of the queue's agents are free).
	OverflowPolicy string `yaml:"overflow_policy"`
	// HelpMinIdle is the reserve of help-while-healthy.
	HelpMinIdle int `yaml:"help_min_idle"`
	// Needs are skills a share of the callers need (a language, say).
	Needs []Need `yaml:"needs"`
	// Transfer sends a share of the answered callers on to another queue.
	Transfer *Transfer `yaml:"transfer"`
	// Callback is offered to callers whose estimated wait is long.
	Callback *Callback `yaml:"callback"`
}

// Need is a skill that SharePct of a queue's callers need, at Level or
// above.
type Need struct {
	Skill    string  `yaml:"skill"`
	Level    int     `yaml:"level"`
	SharePct float64 `yaml:"share_pct"`
}

// Transfer is a share of a queue's answered callers whose matter belongs
// to another queue: after their handle time here they go on to To. On one
// router the case goes with them (a cold transfer: they wait in To ranked
// by their case's age and tell nothing again); between separate centres
// they call To anew, join the back of its line and spend RetellS more
// explaining their matter again.
type Transfer struct {
	SharePct float64 `yaml:"share_pct"`
	To       string  `yaml:"to"`
	RetellS  float64 `yaml:"retell_s"`
}

// Callback is offered on arrival to a caller whose estimated wait passes
// AfterS; AcceptPct of them take it, hang up and keep their place in line
// (the router's virtual hold), and are called back when an agent takes
// them.
type Callback struct {
	AfterS    float64 `yaml:"after_s"`
	AcceptPct float64 `yaml:"accept_pct"`
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
			if err := validStaff(qt, q.Agents, q.Staffing, q.DeclinePct, q.MissPct); err != nil {
				return err
			}
			switch {
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
			if err := validReserve(q.OverflowPolicy, q.HelpMinIdle); err != nil {
				return bad(qt+".help_min_idle", "%v", err)
			}
			if err := q.Handle.validate(qt + ".handle"); err != nil {
				return err
			}
			for k, n := range q.Needs {
				nt := fmt.Sprintf("%s.needs[%d]", qt, k)
				switch {
				case cases.CheckID(nt+".skill", n.Skill) != nil:
					return bad(nt+".skill", "must be a skill name such as lang:en, not %q", n.Skill)
				case n.Level < 1 || n.Level > 100:
					return bad(nt+".level", "must be between 1 and 100, not %d", n.Level)
				case !(n.SharePct > 0 && n.SharePct <= 100):
					return bad(nt+".share_pct", "must be above 0 and at most 100, not %g", n.SharePct)
				}
			}
			if tr := q.Transfer; tr != nil {
				switch {
				case !(tr.SharePct > 0 && tr.SharePct <= 100):
					return bad(qt+".transfer.share_pct", "must be above 0 and at most 100, not %g", tr.SharePct)
				case tr.To == "":
					return bad(qt+".transfer.to", "name the queue the callers go on to")
				case !inRange(tr.RetellS, 0, maxSeconds):
					return bad(qt+".transfer.retell_s", "must be between 0 and %d, not %g", maxSeconds, tr.RetellS)
				}
			}
			if cb := q.Callback; cb != nil {
				switch {
				case !(cb.AfterS > 0 && cb.AfterS <= maxSeconds):
					return bad(qt+".callback.after_s", "must be above 0 and at most %d, not %g", maxSeconds, cb.AfterS)
				case !inRange(cb.AcceptPct, 0, 100):
					return bad(qt+".callback.accept_pct", "must be between 0 and 100, not %g", cb.AcceptPct)
				}
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
	teams := map[string]bool{}
	for i, a := range s.Agencies {
		for j, t := range a.Teams {
			tt := fmt.Sprintf("agencies[%d].teams[%d]", i, j)
			switch {
			case t.ID == "":
				return bad(tt+".id", "is required")
			case teams[t.ID] || ids[t.ID]:
				return bad(tt+".id", "%q appears twice among teams and queues", t.ID)
			case len(t.Queues) == 0:
				return bad(tt+".queues", "name at least one queue the team answers")
			}
			teams[t.ID] = true
			if err := validStaff(tt, t.Agents, t.Staffing, t.DeclinePct, t.MissPct); err != nil {
				return err
			}
			for _, q := range sortedKeys(t.Queues) {
				if !ids[q] {
					return bad(tt+".queues", "%q is not a queue of the scenario", q)
				}
				if l := t.Queues[q]; l < 1 || l > 100 {
					return bad(tt+".queues", "the level in %s must be between 1 and 100, not %d", q, l)
				}
			}
			if err := cases.CheckSkills(tt+".skills", t.Skills); err != nil {
				return err
			}
		}
	}
	for _, c := range s.crews() {
		agents += c.most()
	}
	if agents == 0 {
		return bad("agencies", "no queue has agents")
	}
	if agents > maxScenarioAgents {
		return bad("agencies", "%d agents in all; at most %d", agents, maxScenarioAgents)
	}
	// Overflow and transfer targets are checked once every id is known.
	for i, a := range s.Agencies {
		for j, q := range a.Queues {
			if tr := q.Transfer; tr != nil && (!ids[tr.To] || tr.To == q.ID) {
				return bad(fmt.Sprintf("agencies[%d].queues[%d].transfer.to", i, j), "%q is not another queue of the scenario", tr.To)
			}
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

// PolicyHelpWhileHealthy is own-first with a reserve: a queue's agents
// take callers overflowing into it only while more than its help_min_idle
// of them are free (the router's HelpWhile.MinIdle).
const PolicyHelpWhileHealthy = "help-while-healthy"

// MaxHelpMinIdle bounds a help-while-healthy reserve.
const MaxHelpMinIdle = cases.MaxHelpMinIdle

func validPolicy(p string) error {
	switch p {
	case "", string(cases.OverflowOwnFirst), string(cases.OverflowOldestFirst), PolicyHelpWhileHealthy:
		return nil
	}
	return fmt.Errorf("must be own-first, oldest-first or %s, not %q", PolicyHelpWhileHealthy, p)
}

// validReserve checks help_min_idle against the policy it belongs to.
func validReserve(policy string, minIdle int) error {
	switch {
	case policy == PolicyHelpWhileHealthy && (minIdle < 1 || minIdle > cases.MaxHelpMinIdle):
		return fmt.Errorf("%s needs a reserve of 1 to %d agents, not %d", PolicyHelpWhileHealthy, cases.MaxHelpMinIdle, minIdle)
	case policy != PolicyHelpWhileHealthy && minIdle != 0:
		return fmt.Errorf("only with overflow_policy %s", PolicyHelpWhileHealthy)
	}
	return nil
}

// routerPolicy is the router's setting for a scenario policy and reserve.
func routerPolicy(policy string, minIdle int) (cases.OverflowPolicy, cases.HelpWhile) {
	if policy == PolicyHelpWhileHealthy {
		return cases.OverflowOwnFirst, cases.HelpWhile{MinIdle: minIdle}
	}
	return cases.OverflowPolicy(policy), cases.HelpWhile{}
}

// withPolicy is s with every queue's overflow policy and reserve set; the
// queues are copied, so s itself is unchanged.
func (s Scenario) withPolicy(policy string, minIdle int) Scenario {
	s.Agencies = slices.Clone(s.Agencies)
	for i := range s.Agencies {
		a := &s.Agencies[i]
		a.Queues = slices.Clone(a.Queues)
		for j := range a.Queues {
			a.Queues[j].OverflowPolicy, a.Queues[j].HelpMinIdle = policy, minIdle
		}
	}
	return s
}

// validStaff checks a queue's own agents or a team's: a fixed number or
// a staffing by hour, and the share of offers they decline or miss.
func validStaff(at string, agents int, staffing []int, declinePct, missPct float64) error {
	switch {
	case agents < 0:
		return fmt.Errorf("%s.agents: must be 0 or more, not %d", at, agents)
	case agents > 0 && len(staffing) > 0:
		return fmt.Errorf("%s.staffing: give agents (all day) or staffing (by hour), not both", at)
	case !(declinePct >= 0 && declinePct < 100):
		return fmt.Errorf("%s.decline_pct: must be at least 0 and below 100, not %g", at, declinePct)
	case !(missPct >= 0 && missPct < 100):
		return fmt.Errorf("%s.miss_pct: must be at least 0 and below 100, not %g", at, missPct)
	case declinePct+missPct >= 100:
		return fmt.Errorf("%s.miss_pct: decline_pct + miss_pct must stay below 100 (someone has to answer), not %g", at, declinePct+missPct)
	}
	for k, n := range staffing {
		if n < 0 || n > maxScenarioAgents {
			return fmt.Errorf("%s.staffing[%d]: must be between 0 and %d, not %d", at, k, maxScenarioAgents, n)
		}
	}
	return nil
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// crew is a group of agents alike, as the simulation staffs them: a
// queue's own agents or a team.
type crew struct {
	id       string
	agency   int
	agents   int
	staffing []int
	queues   map[string]int
	skills   map[string]int
	decline  float64 // shares of offers, 0-1
	miss     float64
}

// on is the agents on shift in hour h of the day.
func (c crew) on(h int) int {
	if len(c.staffing) == 0 {
		return c.agents
	}
	return c.staffing[min(h, len(c.staffing)-1)]
}

// most is the most agents the crew ever has on shift.
func (c crew) most() int {
	if len(c.staffing) == 0 {
		return c.agents
	}
	return slices.Max(c.staffing)
}

// crews is every group of agents: each queue's own (when it has any) in
// file order, then each agency's teams.
func (s Scenario) crews() []crew {
	var cs []crew
	for ai, a := range s.Agencies {
		for _, q := range a.Queues {
			if q.Agents == 0 && len(q.Staffing) == 0 {
				continue
			}
			cs = append(cs, crew{id: q.ID, agency: ai, agents: q.Agents, staffing: q.Staffing,
				queues: map[string]int{q.ID: 1}, decline: q.DeclinePct / 100, miss: q.MissPct / 100})
		}
	}
	for ai, a := range s.Agencies {
		for _, t := range a.Teams {
			cs = append(cs, crew{id: t.ID, agency: ai, agents: t.Agents, staffing: t.Staffing,
				queues: t.Queues, skills: t.Skills, decline: t.DeclinePct / 100, miss: t.MissPct / 100})
		}
	}
	return cs
}
