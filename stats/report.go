package stats

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"tellonce/cases"
	"tellonce/transcripts"
)

// Reports are the figures of the live counters (see Definitions in doc.go)
// over any dates, per interval, computed from what the case log holds
// (transcripts.ReadRange): the same rules, applied to the log's legs,
// transfers and closings instead of the router's events, so a restart
// loses nothing of them.

// Interval is the length of a report's rows.
type Interval string

// The intervals a report may have.
const (
	Interval15m  Interval = "15m"
	IntervalHour Interval = "hour"
	IntervalDay  Interval = "day"
)

// ReportBy is what a report's rows are per.
type ReportBy string

// What a report may be per.
const (
	ByQueue  ReportBy = "queue"
	ByAgency ReportBy = "agency"
	ByAgent  ReportBy = "agent"
)

// ReportQuery says what to report.
type ReportQuery struct {
	By       ReportBy
	Interval Interval
	// From and To bound the report, [From, To); intervals start at From
	// and follow each other in Location (a day is a calendar day there).
	From, To time.Time
	Location *time.Location
	// Now clips legs still being handled (for occupancy).
	Now time.Time
	// Threshold is a queue's service level threshold; zero or less means
	// the default of 20 s.
	Threshold func(queue string) time.Duration
}

// ReportRow is one key's figures over one interval. Counts are of what
// happened in the interval; averages and percentages are null where their
// denominator is zero.
type ReportRow struct {
	// Key is the queue id, agency id or agent's username.
	Key   string    `json:"key"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Offered, Abandoned and TransferredIn are zero for agents.
	Offered                  int      `json:"offered"`
	Answered                 int      `json:"answered"`
	AnsweredWithinThreshold  int      `json:"answered_within_threshold"`
	Abandoned                int      `json:"abandoned"`
	AbandonedBeforeThreshold int      `json:"abandoned_before_threshold"`
	TransferredIn            int      `json:"transferred_in"`
	TransferredOut           int      `json:"transferred_out"`
	Handled                  int      `json:"handled"`
	ServiceLevelPct          *float64 `json:"service_level_pct"`
	ASAS                     *float64 `json:"asa_s"`
	AHTS                     *float64 `json:"aht_s"`
	// OccupancyPct is the share of the interval spent handling contacts
	// (answered → ended): for an agent, of the interval; for a queue or
	// agency, of the interval times the agents who handled one of its
	// contacts in it. The log does not hold sign-in times, so idle time of
	// agents who handled nothing is not counted against it.
	OccupancyPct *float64 `json:"occupancy_pct"`
	// CasesClosed are the cases that closed in the interval with this
	// queue (agency) as their last; CitizenWaitAvgS is their citizens'
	// mean wait across every leg and transfer (CitizenWait). Zero and
	// null for agents.
	CasesClosed     int      `json:"cases_closed"`
	CitizenWaitAvgS *float64 `json:"citizen_wait_avg_s"`
}

// MaxReportIntervals bounds how many intervals one report may span.
const MaxReportIntervals = 3000

// reportTally is what one key counts over one interval.
type reportTally struct {
	ReportRow
	answerWait, handle, busy, citizenWait float64 // seconds
	agents                                map[string]bool
}

// Buckets returns the starts of the intervals of q, and To as the last
// element; an error when the query is not one (From not before To, an
// unknown interval, too many intervals).
func (q ReportQuery) Buckets() ([]time.Time, error) {
	if !q.From.Before(q.To) {
		return nil, fmt.Errorf("report: from %s is not before to %s", q.From, q.To)
	}
	loc := q.Location
	if loc == nil {
		loc = time.UTC
	}
	var next func(time.Time) time.Time
	switch q.Interval {
	case Interval15m:
		next = func(t time.Time) time.Time { return t.Add(15 * time.Minute) }
	case IntervalHour:
		next = func(t time.Time) time.Time { return t.Add(time.Hour) }
	case IntervalDay:
		next = func(t time.Time) time.Time { return t.In(loc).AddDate(0, 0, 1) }
	default:
		return nil, fmt.Errorf("report: unknown interval %q", q.Interval)
	}
	out := []time.Time{q.From.In(loc)}
	for t := next(q.From); t.Before(q.To); t = next(t) {
		if len(out) >= MaxReportIntervals {
			return nil, fmt.Errorf("report: more than %d intervals", MaxReportIntervals)
		}
		out = append(out, t.In(loc))
	}
	return append(out, q.To.In(loc)), nil
}

// BuildReport computes the report q asks for from the case log's legs,
// transfers and closings (transcripts.ReadRange of q.From to q.To). Rows
// are ordered by key, then start; an interval in which nothing of a key
// happened has no row.
func BuildReport(day transcripts.Day, q ReportQuery) ([]ReportRow, error) {
	starts, err := q.Buckets()
	if err != nil {
		return nil, err
	}
	tallies := map[string]map[int]*reportTally{}
	tally := func(key string, at time.Time) *reportTally {
		if key == "" || at.Before(q.From) || !at.Before(q.To) {
			return nil
		}
		i := sort.Search(len(starts)-1, func(i int) bool { return starts[i+1].After(at) })
		byBucket := tallies[key]
		if byBucket == nil {
			byBucket = map[int]*reportTally{}
			tallies[key] = byBucket
		}
		t := byBucket[i]
		if t == nil {
			t = &reportTally{ReportRow: ReportRow{Key: key, Start: starts[i], End: starts[i+1]}, agents: map[string]bool{}}
			byBucket[i] = t
		}
		return t
	}
	keyOf := func(l transcripts.DayLeg) string {
		switch q.By {
		case ByAgency:
			return l.Agency
		case ByAgent:
			return l.Agent
		}
		return l.Queue
	}
	within := func(queue string, wait time.Duration) bool {
		thr := defaultSLA
		if q.Threshold != nil {
			if t := q.Threshold(queue); t > 0 {
				thr = t
			}
		}
		return ceilSeconds(max(wait, 0)) <= int(thr/time.Second)
	}
	agentsOnly := q.By == ByAgent
	byCase := map[string][]cases.Leg{}
	agencyOf := map[string]string{}
	firstLeg := map[string]transcripts.DayLeg{} // by contact id: the leg a transfer made
	for _, l := range day.Legs {
		agencyOf[l.Queue] = l.Agency
		byCase[l.CaseID] = append(byCase[l.CaseID], cases.Leg{ContactID: l.ContactID, Queue: l.Queue, Agency: l.Agency,
			Agent: l.Agent, Channel: cases.Channel(l.Channel), EnqueuedAt: l.EnqueuedAt, AnsweredAt: l.AnsweredAt,
			EndedAt: l.EndedAt, Disposition: l.Disposition})
		if f, ok := firstLeg[l.ContactID]; !ok || l.EnqueuedAt.Before(f.EnqueuedAt) {
			firstLeg[l.ContactID] = l
		}
		key := keyOf(l)
		if !agentsOnly {
			if t := tally(key, l.EnqueuedAt); t != nil {
				t.Offered++
			}
		}
		if !l.AnsweredAt.IsZero() {
			if t := tally(key, l.AnsweredAt); t != nil {
				wait := l.AnsweredAt.Sub(l.EnqueuedAt)
				t.Answered++
				t.answerWait += wait.Seconds()
				if within(l.Queue, wait) {
					t.AnsweredWithinThreshold++
				}
			}
			addBusy(l, key, starts, q, tallies, tally)
		}
		if l.EndedAt.IsZero() {
			continue
		}
		t := tally(key, l.EndedAt)
		if t == nil {
			continue
		}
		switch {
		case !l.AnsweredAt.IsZero() && l.Disposition != dispRequeued:
			t.Handled++
			t.handle += l.EndedAt.Sub(l.AnsweredAt).Seconds()
		case l.AnsweredAt.IsZero() && l.Disposition == dispAbandoned && !agentsOnly:
			wait := l.EndedAt.Sub(l.EnqueuedAt)
			t.Abandoned++
			if within(l.Queue, wait) {
				t.AbandonedBeforeThreshold++
			}
		}
		if l.Disposition == dispTransferred {
			t.TransferredOut++
		}
	}
	if !agentsOnly {
		for _, tr := range day.Transfers {
			l, ok := firstLeg[tr.Data["new_contact_id"]]
			if !ok {
				continue // the new leg is outside the range
			}
			at := tr.At
			if tr.Data["mode"] == string(cases.TransferWarm) {
				// Counted when the target accepted: the new leg's answer.
				if l.AnsweredAt.IsZero() {
					continue
				}
				at = l.AnsweredAt
			}
			if t := tally(keyOf(l), at); t != nil {
				t.TransferredIn++
			}
		}
		for _, c := range day.Closed {
			legs := byCase[c.CaseID]
			slices.SortStableFunc(legs, func(a, b cases.Leg) int { return a.EnqueuedAt.Compare(b.EnqueuedAt) })
			cc, ok := summarise(legs, c.ClosedAt)
			if !ok {
				continue
			}
			key := cc.queue
			if q.By == ByAgency {
				key = agencyOf[cc.queue]
			}
			if t := tally(key, c.ClosedAt); t != nil {
				t.CasesClosed++
				t.citizenWait += cc.wait.Seconds()
			}
		}
	}
	var rows []ReportRow
	for _, key := range sortedKeys(tallies) {
		byBucket := tallies[key]
		idx := make([]int, 0, len(byBucket))
		for i := range byBucket {
			idx = append(idx, i)
		}
		slices.Sort(idx)
		for _, i := range idx {
			rows = append(rows, byBucket[i].row())
		}
	}
	return rows, nil
}

// addBusy spreads an answered leg's handling (answered → ended, or now if
// it is still open) over the intervals it overlaps.
func addBusy(l transcripts.DayLeg, key string, starts []time.Time, q ReportQuery,
	tallies map[string]map[int]*reportTally, tally func(string, time.Time) *reportTally) {
	end := l.EndedAt
	if end.IsZero() {
		end = q.Now
	}
	from, to := later(l.AnsweredAt, q.From), earlier(end, q.To)
	for at := from; at.Before(to); {
		t := tally(key, at)
		if t == nil {
			return
		}
		stop := earlier(t.End, to)
		t.busy += stop.Sub(at).Seconds()
		if l.Agent != "" {
			t.agents[l.Agent] = true
		}
		at = stop
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func (t *reportTally) row() ReportRow {
	r := t.ReportRow
	r.ASAS = avg(t.answerWait, r.Answered)
	r.AHTS = avg(t.handle, r.Handled)
	if denom := r.Answered + r.Abandoned - r.AbandonedBeforeThreshold; denom > 0 {
		r.ServiceLevelPct = ptr(round1(100 * float64(r.AnsweredWithinThreshold) / float64(denom)))
	}
	if n := len(t.agents); n > 0 {
		r.OccupancyPct = ptr(round1(100 * t.busy / (float64(n) * r.End.Sub(r.Start).Seconds())))
	}
	r.CitizenWaitAvgS = avg(t.citizenWait, r.CasesClosed)
	return r
}
