package simulation

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"tellonce/stats"
)

// Report is a run's answer: the question and one entry per staffing level.
type Report struct {
	Inputs Inputs  `json:"inputs"`
	Levels []Level `json:"levels"`
	// FewestAgents is the smallest level whose simulated service level
	// reaches the target, nil when none in the range does.
	FewestAgents *int `json:"fewest_agents_meeting_target"`
	// FewestAgentsErlangC is the same by Erlang C's prediction.
	FewestAgentsErlangC *int `json:"fewest_agents_meeting_target_erlang_c"`
}

// Inputs is the question as it was run.
type Inputs struct {
	ArrivalsPerHour float64 `json:"arrivals_per_hour"`
	HandleS         float64 `json:"handle_s"`
	WrapupS         float64 `json:"wrapup_s"`
	PatienceS       float64 `json:"patience_s"` // 0: nobody hangs up
	SLAS            float64 `json:"sla_s"`
	TargetPct       float64 `json:"target_pct"`
	Hours           float64 `json:"hours"`
	WarmupS         float64 `json:"warmup_s"`
	Seed            uint64  `json:"seed"`
	// Erlangs is the offered load: arrivals × (handle + wrap-up).
	Erlangs float64 `json:"erlangs"`
}

// Level is one staffing level's result. When the level was stopped as
// overloaded it has no simulated figures (and none appear in its JSON).
type Level struct {
	Agents int `json:"agents"`
	*Figures
	// Overloaded: the waiting line passed MaxWaiting and the level was
	// stopped; its line grows without bound.
	Overloaded bool `json:"overloaded,omitempty"`
	// ErlangCServiceLevelPct is Erlang C's service level for the same
	// inputs, ignoring patience.
	ErlangCServiceLevelPct float64 `json:"erlang_c_service_level_pct"`
	// MeetsTarget: the simulated service level reaches the target.
	MeetsTarget bool `json:"meets_target"`
}

// Figures are one level's simulated results over the calls that arrived in
// the scored window (each followed to its answer or hang-up). Percentages
// and seconds are rounded to a tenth.
type Figures struct {
	Offered      int     `json:"offered"`
	Answered     int     `json:"answered"`
	Abandoned    int     `json:"abandoned"`
	AbandonedPct float64 `json:"abandoned_pct"`
	// ServiceLevelPct is the share of offered calls answered within the
	// threshold; calls that hung up count as missed, however soon.
	ServiceLevelPct float64 `json:"service_level_pct"`
	// ASAS, P90WaitS and LongestWaitS are over the answered calls' waits.
	ASAS         float64 `json:"asa_s"`
	P90WaitS     float64 `json:"p90_wait_s"`
	LongestWaitS float64 `json:"longest_wait_s"`
	// OccupancyPct is the agents' time on calls and wrap-up in the window
	// over their whole time in it.
	OccupancyPct float64 `json:"occupancy_pct"`
}

func inputsOf(cfg Config) Inputs {
	return Inputs{
		ArrivalsPerHour: cfg.ArrivalsPerHour,
		HandleS:         cfg.Handle.Seconds(),
		WrapupS:         cfg.Wrapup.Seconds(),
		PatienceS:       cfg.Patience.Seconds(),
		SLAS:            cfg.SLA.Seconds(),
		TargetPct:       cfg.TargetPct,
		Hours:           cfg.Hours,
		WarmupS:         cfg.Warmup().Seconds(),
		Seed:            cfg.Seed,
		Erlangs:         round3(cfg.Erlangs()),
	}
}

// add appends a level with its Erlang C prediction and target marks.
func (r *Report) add(cfg Config, l Level) {
	sl := stats.ErlangCServiceLevel(l.Agents, cfg.Erlangs(), cfg.Handle+cfg.Wrapup, cfg.SLA)
	l.ErlangCServiceLevelPct = round1(100 * sl)
	l.MeetsTarget = l.Figures != nil && l.ServiceLevelPct >= cfg.TargetPct
	if l.MeetsTarget && r.FewestAgents == nil {
		r.FewestAgents = &l.Agents
	}
	if l.ErlangCServiceLevelPct >= cfg.TargetPct && r.FewestAgentsErlangC == nil {
		r.FewestAgentsErlangC = &l.Agents
	}
	r.Levels = append(r.Levels, l)
}

// figures sums up the scored calls of a finished level.
func (l *level) figures() *Figures {
	var f Figures
	var within int
	var waits []time.Duration
	var total time.Duration
	for _, c := range l.calls {
		if c.arrived < l.from || c.arrived >= l.to {
			continue
		}
		f.Offered++
		if c.state == abandoned {
			f.Abandoned++
			continue
		}
		f.Answered++
		w := c.answered - c.arrived
		waits = append(waits, w)
		total += w
		if w <= l.cfg.SLA {
			within++
		}
	}
	if f.Offered > 0 {
		f.AbandonedPct = round1(100 * float64(f.Abandoned) / float64(f.Offered))
		f.ServiceLevelPct = round1(100 * float64(within) / float64(f.Offered))
	}
	if len(waits) > 0 {
		slices.Sort(waits)
		f.ASAS = round1(total.Seconds() / float64(len(waits)))
		f.P90WaitS = round1(percentile(waits, 0.9).Seconds())
		f.LongestWaitS = round1(waits[len(waits)-1].Seconds())
	}
	window := time.Duration(l.agents) * (l.to - l.from)
	f.OccupancyPct = round1(100 * l.busy.Seconds() / window.Seconds())
	return &f
}

// percentile is the nearest-rank percentile of sorted waits: the smallest
// wait that at least p of the calls did not exceed.
func percentile(sorted []time.Duration, p float64) time.Duration {
	k := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[min(max(k, 0), len(sorted)-1)]
}

func round1(x float64) float64 { return math.Round(x*10) / 10 }
func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

// WriteJSON writes the report as one indented JSON object.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// WriteText writes the report as a table for people: the question, one row
// per level, and the fewest agents that reach the target.
func (r Report) WriteText(w io.Writer) error {
	in := r.Inputs
	var b strings.Builder
	patience := "nobody hangs up"
	if in.PatienceS > 0 {
		patience = "mean patience " + seconds(in.PatienceS)
	}
	fmt.Fprintf(&b, "%g calls/h, mean handle %s, wrap-up %s, %s: %.2f erlangs\n",
		in.ArrivalsPerHour, seconds(in.HandleS), seconds(in.WrapupS), patience, in.Erlangs)
	fmt.Fprintf(&b, "service level: answered within %s, target %g %%; %g h scored after a %s warm-up, seed %d\n\n",
		seconds(in.SLAS), in.TargetPct, in.Hours, seconds(in.WarmupS), in.Seed)

	var table strings.Builder
	tw := tabwriter.NewWriter(&table, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "agents\toffered\tanswered\tabandoned\tservice level\tErlang C\tASA\t90% wait\tlongest\toccupancy\ttarget\t")
	for _, l := range r.Levels {
		if l.Figures == nil {
			fmt.Fprintf(tw, "%d\t—\t—\t—\t—\t%.1f %%\t—\t—\t—\t—\t\t  overloaded: over %d waiting, the line keeps growing\n",
				l.Agents, l.ErlangCServiceLevelPct, MaxWaiting)
			continue
		}
		mark := ""
		if l.MeetsTarget {
			mark = "met"
		}
		fmt.Fprintf(tw, "%d\t%d\t%d\t%d (%.1f %%)\t%.1f %%\t%.1f %%\t%s\t%s\t%s\t%.1f %%\t%s\t\n",
			l.Agents, l.Offered, l.Answered, l.Abandoned, l.AbandonedPct, l.ServiceLevelPct,
			l.ErlangCServiceLevelPct, seconds(l.ASAS), seconds(l.P90WaitS), seconds(l.LongestWaitS), l.OccupancyPct, mark)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	// Right-aligned cells leave the padding of an empty last cell behind.
	for line := range strings.Lines(table.String()) {
		b.WriteString(strings.TrimRight(line, " \n"))
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "\nfewest agents for %g %% within %s: %s simulated, %s by Erlang C\n",
		in.TargetPct, seconds(in.SLAS), fewest(r.FewestAgents), fewest(r.FewestAgentsErlangC))
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

func fewest(n *int) string {
	if n == nil {
		return "none in the range"
	}
	return strconv.Itoa(*n)
}

// seconds shows a duration in seconds the way a planner reads it: 45s,
// 4m10s, 1h0m0s; tenths only under a minute.
func seconds(s float64) string {
	d := time.Duration(math.Round(s*10)) * time.Second / 10
	if d >= time.Minute {
		d = d.Round(time.Second)
	}
	return d.String()
}
