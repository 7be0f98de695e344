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
	// FreeToOffer runs from an agent's end to the next offer it reads, for
	// a contact that was already waiting: how soon a freed agent hears of
	// the next caller while a line waits (Config.Hold builds one).
	FreeToOffer Latencies

	// ServerCPU is the server's CPU time (user + system) over the phase,
	// from the first POST to the last contact ended, when
	// Config.ServerPID names it; else 0.
	ServerCPU time.Duration

	// Stages is what the server's own histograms saw over the phase
	// (Config.ServerStages), else nil.
	Stages []StageFigure

	// Citizens is what the citizens heard (Config.Citizens), else nil.
	Citizens *CitizenReport

	// Errors counts what went wrong, by kind.
	Errors map[string]int
}

// CPUPerContact is the server's CPU time per contact offered (each
// created, offered, accepted and ended); 0 when not measured.
func (r Report) CPUPerContact() time.Duration {
	if r.ServerCPU <= 0 || r.Offered == 0 {
		return 0
	}
	return r.ServerCPU / time.Duration(r.Offered)
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
// nothing went wrong; with citizens, when every citizen also followed
// their chat to its end, heard where they stand and never a place go up.
func (r Report) OK() bool {
	ok := r.Posted == r.Load.Contacts && r.Created == r.Posted && r.Offered == r.Posted &&
		r.Ended == r.Posted && r.ErrorCount() == 0
	if cz := r.Citizens; cz != nil {
		ok = ok && cz.Followed == r.Created && cz.Told == cz.Followed && cz.Ended == cz.Followed && cz.Rises == 0
	}
	return ok
}

// CitizenReport is what the citizens of a surge drill heard on their
// sockets.
type CitizenReport struct {
	// Followed citizens opened their socket; Told heard where they stand
	// (their place, or an agent joining for one served at once); Joined
	// heard an agent join; Ended heard the chat end.
	Followed, Told, Joined, Ended int
	// FirstWord runs from opening the socket to that first word.
	FirstWord Latencies
	// Places is how many queued frames a citizen heard: the mean and the
	// most. A line re-counted on every move would send one per move ahead
	// of the citizen; the server paces a busy line's refreshes.
	PlacesMean float64
	PlacesMax  int
	// PeakPosition is the largest place any citizen heard: the line's
	// length at its longest, as the citizens saw it.
	PeakPosition int
	// Rises counts places that went up: none should in a drill, where
	// everyone has the same priority and nobody is put back at the head.
	Rises int
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
	r.FreeToOffer = summarize(slices.Clone(d.freeToOffer))
	if f.cfg.Citizens {
		r.Citizens = citizenReport(d, r.Errors)
	}
	return r
}

// citizenReport sums up the citizens' records, adding their errors to
// errs.
func citizenReport(d *drive, errs map[string]int) *CitizenReport {
	cr := &CitizenReport{}
	var first []time.Duration
	places := 0
	for _, c := range d.byCaller {
		cz := &c.citizen
		if !cz.followed {
			continue
		}
		if cz.err != "" {
			errs[cz.err]++
		}
		if cz.opened.IsZero() {
			continue
		}
		cr.Followed++
		if !cz.told.IsZero() {
			cr.Told++
			first = append(first, cz.told.Sub(cz.opened))
		}
		if !cz.joined.IsZero() {
			cr.Joined++
		}
		if !cz.ended.IsZero() {
			cr.Ended++
		}
		places += cz.places
		cr.PlacesMax = max(cr.PlacesMax, cz.places)
		cr.PeakPosition = max(cr.PeakPosition, cz.peak)
		cr.Rises += cz.rises
	}
	if cr.Followed > 0 {
		cr.PlacesMean = float64(places) / float64(cr.Followed)
	}
	cr.FirstWord = summarize(first)
	if cr.Rises > 0 {
		errs["a citizen's place went up"] += cr.Rises
	}
	return cr
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
	fmt.Fprintf(&b, "throughput: %.1f POSTs/s over %s; %.1f offers/s over %s (first POST to last offer)\n",
		r.PostRate, r.Posting.Round(time.Millisecond), r.OfferRate, r.Elapsed.Round(time.Millisecond))
	if r.ServerCPU > 0 {
		fmt.Fprintf(&b, "server CPU: %s over the phase, %s per contact (user + system, /proc)\n",
			r.ServerCPU.Round(time.Millisecond), ms(r.CPUPerContact()))
	}
	b.WriteString("\n")

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "latency\tn\tmean\tp50\tp95\tp99\tmax\t")
	for _, row := range []struct {
		name string
		l    Latencies
	}{
		{"POST /v1/contacts", r.Post},
		{"POST sent → offer", r.Offer},
		{"POST sent → assigned", r.Assign},
		{"agent freed → next offer", r.FreeToOffer},
	} {
		if row.l.N == 0 && row.name == "agent freed → next offer" {
			continue // no line was waiting when an agent was freed
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t\n", row.name, row.l.N,
			ms(row.l.Mean), ms(row.l.P50), ms(row.l.P95), ms(row.l.P99), ms(row.l.Max))
	}
	if cz := r.Citizens; cz != nil {
		l := cz.FirstWord
		fmt.Fprintf(tw, "citizen socket → where they stand\t%d\t%s\t%s\t%s\t%s\t%s\t\n", l.N,
			ms(l.Mean), ms(l.P50), ms(l.P95), ms(l.P99), ms(l.Max))
	}
	tw.Flush()
	if len(r.Stages) > 0 {
		b.WriteString("\nin the server, from its /metrics over the phase (quantiles within histogram buckets):\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "stage	n	mean	p50	p99	")
		for _, s := range r.Stages {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t\n", s.Name, s.N, s.format(s.Mean, false), s.format(s.P50, false), s.format(s.P99, s.Over))
		}
		tw.Flush()
	}
	if cz := r.Citizens; cz != nil {
		fmt.Fprintf(&b, "\ncitizens: %d followed their chat, %d heard where they stand, %d an agent join, %d the end\n",
			cz.Followed, cz.Told, cz.Joined, cz.Ended)
		fmt.Fprintf(&b, "places heard: %.1f per citizen on average, %d at most; longest line heard: %d; places that went up: %d\n",
			cz.PlacesMean, cz.PlacesMax, cz.PeakPosition, cz.Rises)
	}

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
