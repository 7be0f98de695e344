package loadgen

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is what one contact phase measured.
type Report struct {
	RunID   string
	Agents  int
	Queues  int
	Channel string
	// Setup is how long Setup took (creating users, logins, sockets).
	Setup time.Duration
	// Load is what was asked for.
	Load Load

	// Posted POSTs were sent; Created were answered 201; Offered reached
	// an agent as an offer; Ended were ended by their agent; Failed POSTs
	// made no contact; Unfinished contacts were still open when the phase
	// ended (they have been abandoned).
	Posted, Created, Offered, Ended, Failed, Unfinished int

	// Elapsed runs from the first POST sent to the last offer received;
	// Posting from the first POST sent to the last.
	Elapsed, Posting time.Duration
	// PostRate is POSTs sent per second over Posting; OfferRate offers
	// received per second over Elapsed.
	PostRate, OfferRate float64

	// Post is the POST's latency (sent → answer read); Offer is POST sent
	// → offer frame read by the agent; Assign is POST sent → assigned
	// frame read (after the agent's accept went through).
	Post, Offer, Assign Latencies

	// Errors counts what went wrong, by kind.
	Errors map[string]int
}

// ErrorCount is the total of Errors.
func (r Report) ErrorCount() int {
	n := 0
	for _, c := range r.Errors {
		n += c
	}
	return n
}

// OK is true when every contact was created, offered and ended and
// nothing went wrong.
func (r Report) OK() bool {
	return r.Posted == r.Load.Contacts && r.Created == r.Posted && r.Offered == r.Posted &&
		r.Ended == r.Posted && r.ErrorCount() == 0
}

// Latencies summarises one latency.
type Latencies struct {
	N                        int
	Mean, P50, P95, P99, Max time.Duration
}

// summarize computes the nearest-rank percentiles of samples (sorted in
// place).
func summarize(samples []time.Duration) Latencies {
	if len(samples) == 0 {
		return Latencies{}
	}
	slices.Sort(samples)
	var sum time.Duration
	for _, s := range samples {
		sum += s
	}
	rank := func(p float64) time.Duration {
		i := int(math.Ceil(p*float64(len(samples)))) - 1
		return samples[min(max(i, 0), len(samples)-1)]
	}
	return Latencies{N: len(samples), Mean: sum / time.Duration(len(samples)),
		P50: rank(0.50), P95: rank(0.95), P99: rank(0.99), Max: samples[len(samples)-1]}
}

// buildReport summarises a finished phase; f.mu is held.
func (f *Fleet) buildReport(d *drive, l Load) Report {
	r := Report{
		RunID: f.runID, Agents: len(f.agents), Queues: len(f.queues), Channel: f.cfg.Channel,
		Setup: f.setupTime, Load: l,
		Posted: d.posted, Created: d.created, Offered: d.offered, Ended: d.ended, Failed: d.failed,
		Errors: maps.Clone(d.errs),
	}
	var post, offer, assign []time.Duration
	var lastSent time.Time
	for _, c := range d.byCaller {
		if c.sent.After(lastSent) {
			lastSent = c.sent
		}
		if !c.answered.IsZero() && !c.failed {
			post = append(post, c.answered.Sub(c.sent))
		}
		if !c.offered.IsZero() {
			offer = append(offer, c.offered.Sub(c.sent))
		}
		if !c.assigned.IsZero() {
			assign = append(assign, c.assigned.Sub(c.sent))
		}
		if !c.finished() {
			r.Unfinished++
		}
	}
	if r.Unfinished > 0 {
		r.Errors["unfinished when the phase ended (abandoned)"] += r.Unfinished
	}
	if missing := l.Contacts - d.posted; missing > 0 {
		r.Errors["not posted before the phase ended"] += missing
	}
	if !d.first.IsZero() {
		r.Posting = lastSent.Sub(d.first)
		if r.Posting > 0 {
			r.PostRate = float64(d.posted-1) / r.Posting.Seconds()
		}
		if !d.last.IsZero() {
			r.Elapsed = d.last.Sub(d.first)
		}
		if r.Elapsed > 0 {
			r.OfferRate = float64(d.offered) / r.Elapsed.Seconds()
		}
	}
	r.Post, r.Offer, r.Assign = summarize(post), summarize(offer), summarize(assign)
	return r
}

// Print writes the report as a human table.
func (r Report) Print(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "tellonce loadgen run %s: %d agents over %d queues, %s contacts", r.RunID, r.Agents, r.Queues, r.Channel)
	if r.Channel == "voice" {
		b.WriteString(" (posted by a gateway account)")
	}
	fmt.Fprintf(&b, "\nsetup %s\n", r.Setup.Round(time.Millisecond))
	target := "as fast as possible"
	if r.Load.Rate > 0 {
		target = fmt.Sprintf("%g/s", r.Load.Rate)
	}
	fmt.Fprintf(&b, "target: %d contacts at %s, at most %d POSTs in flight, within %s\n",
		r.Load.Contacts, target, r.Load.Concurrency, r.Load.Duration)
	fmt.Fprintf(&b, "contacts: %d posted, %d created, %d offered, %d ended, %d failed, %d unfinished\n",
		r.Posted, r.Created, r.Offered, r.Ended, r.Failed, r.Unfinished)
	fmt.Fprintf(&b, "throughput: %.1f POSTs/s over %s; %.1f offers/s over %s (first POST to last offer)\n\n",
		r.PostRate, r.Posting.Round(time.Millisecond), r.OfferRate, r.Elapsed.Round(time.Millisecond))

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "latency\tn\tmean\tp50\tp95\tp99\tmax\t")
	for _, row := range []struct {
		name string
		l    Latencies
	}{
		{"POST /v1/contacts", r.Post},
		{"POST sent → offer", r.Offer},
		{"POST sent → assigned", r.Assign},
	} {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t\n", row.name, row.l.N,
			ms(row.l.Mean), ms(row.l.P50), ms(row.l.P95), ms(row.l.P99), ms(row.l.Max))
	}
	tw.Flush()

	if len(r.Errors) == 0 {
		b.WriteString("\nerrors: none\n")
	} else {
		fmt.Fprintf(&b, "\nerrors: %d\n", r.ErrorCount())
		kinds := slices.Collect(maps.Keys(r.Errors))
		slices.SortFunc(kinds, func(a, b string) int {
			return cmp.Or(cmp.Compare(r.Errors[b], r.Errors[a]), cmp.Compare(a, b))
		})
		for _, k := range kinds {
			fmt.Fprintf(&b, "  %6d  %s\n", r.Errors[k], k)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ms formats a duration in milliseconds with three decimals.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.3fms", float64(d)/float64(time.Millisecond))
}
