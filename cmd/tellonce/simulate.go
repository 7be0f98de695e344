package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"tellonce/simulation"
)

// runSimulate is "tellonce simulate": a staffing what-if on the real router
// with a fake clock. The table or JSON goes to stdout, progress to stderr.
func runSimulate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, format, err := parseSimulate(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	if err != nil {
		return fmt.Errorf("simulate: %w", err)
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

// parseSimulate reads the flags into a question and an output format.
func parseSimulate(args []string, stderr io.Writer) (simulation.Config, string, error) {
	cfg := simulation.DefaultConfig(0)
	agents, format := "", "text"
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
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
		return cfg, "", err
	}
	if fs.NArg() > 0 {
		return cfg, "", fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if format != "text" && format != "json" {
		return cfg, "", fmt.Errorf("--format must be text or json, not %q", format)
	}
	lo, hi, err := parseAgents(agents)
	if err != nil {
		return cfg, "", err
	}
	cfg.MinAgents, cfg.MaxAgents = lo, hi
	if err := cfg.Validate(); err != nil {
		return cfg, "", err
	}
	return cfg, format, nil
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
