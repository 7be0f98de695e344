package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Rates is a sweep: one set of agents, then one contact phase per rate,
// each of Contacts contacts, after an unreported warm-up.
type Rates struct {
	// Rates are the target rates, contacts per second, in the order run
	// (0: as fast as Concurrency allows).
	Rates []float64
	// Warmup contacts are posted at the first rate before the measured
	// phases and left out of the reports: the server's pools, caches and
	// prepared statements are filled first, as on a server that has been
	// up a while.
	Warmup int
}

// SweepP99Bound is the p99 POST → offer a rate must keep to count in a
// sweep's summary: issue 21's end-to-end target.
const SweepP99Bound = 20 * time.Millisecond

// RunRates sets up the agents once (Setup), runs the warm-up and one
// Drive per rate with cfg's Contacts, Concurrency and Duration, and closes
// the fleet. It returns a report per rate run; on an error, the reports
// of the rates run so far.
func RunRates(ctx context.Context, cfg Config, rs Rates) ([]Report, error) {
	if len(rs.Rates) == 0 {
		return nil, errors.New("loadgen: rates: none given")
	}
	if rs.Warmup < 0 || rs.Warmup > MaxContacts {
		return nil, fmt.Errorf("loadgen: warm-up %d: want 0 to %d", rs.Warmup, MaxContacts)
	}
	for _, r := range rs.Rates {
		l := cfg.Load()
		l.Rate = r
		if err := l.withDefaults().check(); err != nil {
			return nil, err
		}
	}
	f, err := Setup(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		_ = f.Close(cctx)
	}()
	if rs.Warmup > 0 {
		l := f.cfg.Load()
		l.Contacts, l.Rate = rs.Warmup, rs.Rates[0]
		rep, err := f.Drive(ctx, l)
		if err != nil {
			return nil, fmt.Errorf("loadgen: warm-up: %w", err)
		}
		if !rep.OK() {
			return nil, fmt.Errorf("loadgen: warm-up: not clean (%d errors)", rep.ErrorCount())
		}
	}
	var reps []Report
	for _, r := range rs.Rates {
		l := f.cfg.Load()
		l.Rate = r
		rep, err := f.Drive(ctx, l)
		reps = append(reps, rep)
		if err != nil {
			return reps, err
		}
	}
	return reps, nil
}

// withDefaults fills a phase's defaults: Config.withDefaults takes them
// from here, and a sweep checks each rate with them before Setup.
func (l Load) withDefaults() Load {
	if l.Contacts == 0 {
		l.Contacts = DefaultContacts
	}
	if l.Concurrency == 0 {
		l.Concurrency = DefaultConcurrency
	}
	if l.Duration == 0 {
		l.Duration = DefaultDuration
	}
	return l
}

// PrintRates writes one line per rate — achieved rate, POST → offer p50,
// p99 and max, POST p99, the server's CPU per contact, errors — and the
// highest rate whose p99 POST → offer stayed under SweepP99Bound with
// every contact through.
func PrintRates(w io.Writer, reps []Report) error {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "rate asked\tcontacts\toffers/s\tp50 offer\tp99 offer\tmax offer\tp99 POST\tserver CPU/contact\terrors\t")
	best, bestOK := 0.0, false
	for _, r := range reps {
		asked := "max"
		if r.Load.Rate > 0 {
			asked = fmt.Sprintf("%g/s", r.Load.Rate)
		}
		cpu := "-"
		if c := r.CPUPerContact(); c > 0 {
			cpu = ms(c)
		}
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%s\t%s\t%s\t%s\t%s\t%d\t\n", asked, r.Offered, r.OfferRate,
			ms(r.Offer.P50), ms(r.Offer.P99), ms(r.Offer.Max), ms(r.Post.P99), cpu, r.ErrorCount())
		if r.OK() && r.Offer.P99 < SweepP99Bound && r.OfferRate > best {
			best, bestOK = r.OfferRate, true
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	printStages(&b, reps)
	if bestOK {
		fmt.Fprintf(&b, "highest rate with p99 POST → offer under %s and no errors: %.1f offers/s\n", SweepP99Bound, best)
	} else {
		fmt.Fprintf(&b, "no rate kept p99 POST → offer under %s with no errors\n", SweepP99Bound)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
