package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"tellonce/router"
	"tellonce/simulation"
)

// simulateGCPercent is the collector's pace while simulating.
const simulateGCPercent = 800

// slowerGC sets the collector's pace for a simulation unless GOGC is set,
// and returns what restores it.
func slowerGC(getenv func(string) string) (restore func()) {
	if getenv("GOGC") != "" {
		return func() {}
	}
	old := debug.SetGCPercent(simulateGCPercent)
	return func() { debug.SetGCPercent(old) }
}

// runSimulate is "tellonce simulate": a staffing what-if on the real router
// with a fake clock. The table or JSON goes to stdout, progress to stderr.
func runSimulate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, format, sc, err := parseSimulate(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	if err != nil {
		return fmt.Errorf("simulate: %w", err)
	}
	// The router allocates a little garbage on every write and keeps a
	// small live heap, so the collector's default pace spends about 45 %
	// of a simulation's CPU time; collecting eight times less often halves
	// that for a few hundred megabytes (docs/simulation.md). GOGC, when
	// set, wins.
	defer slowerGC(os.Getenv)()
	if sc != nil {
		return runScenario(ctx, *sc, format, stdout, stderr)
	}
	rep, err := simulation.Run(ctx, cfg, func(p simulation.Progress) {
		fmt.Fprintf(stderr, "simulating %d agents (%d/%d)…\n", p.Agents, p.Index, p.Total)
	})
	if err != nil {
		return fmt.Errorf("simulate: %w", err)
	}
	if format == "json" {
		return rep.WriteJSON(stdout)
	}
	return rep.WriteText(stdout)
}

// scenarioRun is a scenario question: the file and what to change in it.
type scenarioRun struct {
	scenario     simulation.Scenario
	replications int
	policy       string
	helpMinIdle  int
	chart        string
}

// runScenario compares the three worlds of a scenario.
func runScenario(ctx context.Context, sc scenarioRun, format string, stdout, stderr io.Writer) error {
	cmp, err := simulation.RunScenario(ctx, sc.scenario, simulation.Options{Policy: sc.policy, HelpMinIdle: sc.helpMinIdle},
		func(p simulation.DayProgress) { fmt.Fprint(stderr, progressBar(p.Done, p.Total)) })
	fmt.Fprintln(stderr)
	if err != nil {
		return fmt.Errorf("simulate: %w", err)
	}
	if sc.chart != "" {
		var b bytes.Buffer
		if err := cmp.WriteSVG(&b); err != nil {
			return fmt.Errorf("simulate: %w", err)
		}
		if err := os.WriteFile(sc.chart, b.Bytes(), 0o644); err != nil {
			return fmt.Errorf("simulate: chart: %w", err)
		}
	}
	if format == "json" {
		return cmp.WriteJSON(stdout)
	}
	return cmp.WriteText(stdout)
}

// progressBar redraws one line: a carriage return, the bar, the count.
func progressBar(done, total int) string {
	const width = 30
	n := width * done / max(total, 1)
	return fmt.Sprintf("\rsimulating [%s%s] %d/%d days", strings.Repeat("#", n), strings.Repeat(".", width-n), done, total)
}

// parseSimulate reads the flags into a question and an output format; a
// scenario question comes back as sc, a staffing question as cfg.
func parseSimulate(args []string, stderr io.Writer) (cfg simulation.Config, format string, sc *scenarioRun, err error) {
	cfg = simulation.DefaultConfig(0)
	agents := ""
	format = "text"
	var scenario string
	var run scenarioRun
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&scenario, "scenario", "", "a day of many agencies: a scenario file, or a shipped one ("+strings.Join(simulation.ShippedScenarios(), ", ")+"); compares the three worlds")
	fs.IntVar(&run.replications, "replications", 0, "with --scenario: days simulated per world, instead of the file's")
	fs.StringVar(&run.policy, "policy", "", "with --scenario: overflow policy of every queue, own-first, oldest-first or help-while-healthy, instead of the file's")
	fs.IntVar(&run.helpMinIdle, "help-min-idle", 0, "with --policy help-while-healthy: the reserve, agents of a queue kept free before they help other queues (default 1)")
	fs.StringVar(&run.chart, "chart", "", "with --scenario: write an SVG chart of waits and service level by hour to this file")
	fs.StringVar(&agents, "agents", "", "agents on the line: a number (12) or a range (8-16), one run per level (required)")
	fs.Float64Var(&cfg.ArrivalsPerHour, "arrivals", cfg.ArrivalsPerHour, "calls per hour (Poisson)")
	fs.DurationVar(&cfg.Handle, "handle", cfg.Handle, "mean handle time, answer to hang-up (exponential)")
	fs.DurationVar(&cfg.Wrapup, "wrapup", cfg.Wrapup, "after-call work, the same after every call (0: none)")
	fs.DurationVar(&cfg.Patience, "patience", cfg.Patience, "mean time a caller waits before hanging up (exponential; 0: nobody hangs up)")
	fs.DurationVar(&cfg.SLA, "sla", cfg.SLA, "service-level threshold: answered within this")
	fs.Float64Var(&cfg.TargetPct, "target", cfg.TargetPct, "service level wanted, percent; levels that reach it are marked")
	fs.Float64Var(&cfg.Hours, "hours", cfg.Hours, "simulated hours scored per level, after a warm-up of an hour (or ten mean handle-plus-wrap-up times if longer)")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "random seed: the same flags and seed give the same output")
	fs.StringVar(&format, "format", format, "text (a table) or json")
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: tellonce simulate --agents N|FROM-TO [flags]
       tellonce simulate --scenario NAME|FILE [--replications N] [--policy P [--help-min-idle N]] [--chart FILE] [--format F]

With --scenario it simulates a day of many agencies (docs/simulation.md)
in three worlds — as written with its overflow rules, separate centres,
one pooled centre — and prints each agency's figures with 95 %% confidence
intervals and the Erlang C or Erlang A figure where the model allows.

With --agents:

Answers staffing questions by running the real router with a simulated clock
(no server, no database): one queue, Poisson arrivals, exponential handle
times and patience, a fixed wrap-up, agents who take every call offered.
Each staffing level prints offered, answered and abandoned calls, the
service level, the average, 90th-percentile and longest wait, occupancy,
and the Erlang C prediction of the service level beside it. Progress goes
to stderr. At most %d levels and about %d simulated calls per run.

Example:
  tellonce simulate --agents 8-16 --arrivals 120 --handle 5m --sla 20s

Flags:
`, simulation.MaxLevels, simulation.MaxCalls)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, "", nil, err
	}
	if fs.NArg() > 0 {
		return cfg, "", nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if format != "text" && format != "json" {
		return cfg, "", nil, fmt.Errorf("--format must be text or json, not %q", format)
	}
	if scenario != "" {
		if agents != "" {
			return cfg, "", nil, errors.New("--agents and --scenario ask different questions: give one")
		}
		if run.scenario, err = simulation.LoadScenario(scenario); err != nil {
			return cfg, "", nil, err
		}
		if run.replications != 0 {
			run.scenario.Replications = run.replications
			if err := run.scenario.Validate(); err != nil {
				return cfg, "", nil, fmt.Errorf("--replications: %w", err)
			}
		}
		switch run.policy {
		case "", string(router.OverflowOwnFirst), string(router.OverflowOldestFirst):
			if run.helpMinIdle != 0 {
				return cfg, "", nil, fmt.Errorf("--help-min-idle goes only with --policy %s", simulation.PolicyHelpWhileHealthy)
			}
		case simulation.PolicyHelpWhileHealthy:
			if run.helpMinIdle == 0 {
				run.helpMinIdle = 1
			}
			if run.helpMinIdle < 1 || run.helpMinIdle > simulation.MaxHelpMinIdle {
				return cfg, "", nil, fmt.Errorf("--help-min-idle must be 1-%d, not %d", simulation.MaxHelpMinIdle, run.helpMinIdle)
			}
		default:
			return cfg, "", nil, fmt.Errorf("--policy must be own-first, oldest-first or %s, not %q", simulation.PolicyHelpWhileHealthy, run.policy)
		}
		return cfg, format, &run, nil
	}
	lo, hi, err := parseAgents(agents)
	if err != nil {
		return cfg, "", nil, err
	}
	cfg.MinAgents, cfg.MaxAgents = lo, hi
	if err := cfg.Validate(); err != nil {
		return cfg, "", nil, err
	}
	return cfg, format, nil, nil
}

// parseAgents reads "12" or "8-16".
func parseAgents(s string) (lo, hi int, err error) {
	if s == "" {
		return 0, 0, errors.New("--agents is required: a number (12) or a range (8-16)")
	}
	from, to, isRange := strings.Cut(s, "-")
	if lo, err = strconv.Atoi(strings.TrimSpace(from)); err != nil {
		return 0, 0, fmt.Errorf("--agents %q: want a number (12) or a range (8-16)", s)
	}
	hi = lo
	if isRange {
		if hi, err = strconv.Atoi(strings.TrimSpace(to)); err != nil {
			return 0, 0, fmt.Errorf("--agents %q: want a number (12) or a range (8-16)", s)
		}
	}
	return lo, hi, nil
}
