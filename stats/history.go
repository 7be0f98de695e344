package stats

import (
	"sort"
	"time"
)

// maxSamples bounds one queue's history: a sample a minute for a day. A
// day of 25 hours (a daylight-saving change in Config.Location) keeps its
// last 24.
const maxSamples = 24 * 60

// Point is one minute of a queue's day, as GET /v1/stats/queues/history
// shows it: the live figures and today's counters as the first
// computation of that minute found them.
type Point struct {
	// At is the start of the minute.
	At           time.Time `json:"at"`
	Waiting      int       `json:"waiting"`
	LongestWaitS int       `json:"longest_wait_s"`
	// ServiceLevelPct is today's service level so far; null while nothing
	// counts (see the package doc).
	ServiceLevelPct *float64 `json:"service_level_pct"`
	Answered        int      `json:"answered"`
	Abandoned       int      `json:"abandoned"`
	// Closed: the queue was outside its opening hours that minute.
	Closed bool `json:"closed"`
}

// sample is a Point kept small: a day of a few hundred queues stays
// within a few megabytes.
type sample struct {
	minute              int32 // since the day's start
	waiting, longest    int32 // longest wait in seconds
	answered, abandoned int32
	slTenths            int32 // service level in tenths of a percent; −1 while none
	closed              bool  // outside the queue's opening hours
}

// record samples every queue's figures at the first computation of each
// minute of the day and says whether it took any; it holds s.mu. It runs
// with every computation (at most once per Interval), and costs a map
// lookup per queue except once a minute.
func (d *day) record(now time.Time, queues []QueueStats) bool {
	if now.Before(d.start) {
		return false
	}
	m := int32(now.Sub(d.start) / time.Minute)
	took := false
	for i := range queues {
		q := &queues[i]
		if h := d.history[q.Queue]; len(h) > 0 && h[len(h)-1].minute >= m {
			continue
		}
		sl := int32(-1)
		if p := q.Today.ServiceLevelPct; p != nil {
			sl = int32(*p*10 + 0.5)
		}
		d.add(q.Queue, sample{minute: m, waiting: int32(q.Waiting), longest: int32(q.LongestWaitS),
			answered: int32(q.Today.Answered), abandoned: int32(q.Today.Abandoned), slTenths: sl,
			closed: q.Light == LightClosed})
		took = true
	}
	return took
}

// add appends a sample later than the queue's last one, dropping the
// oldest beyond maxSamples.
func (d *day) add(queue string, x sample) {
	if d.history == nil {
		d.history = map[string][]sample{}
	}
	h := d.history[queue]
	if len(h) == maxSamples {
		h = append(h[:0], h[1:]...)
	}
	d.history[queue] = append(h, x)
}

// at is the start of a sample's minute.
func (d *day) at(x sample) time.Time {
	return d.start.Add(time.Duration(x.minute) * time.Minute)
}

// DayStart is when the current day of the "today" counters and the
// history began: the last midnight in Config.Location.
func (s *Stats) DayStart() time.Time {
	return newDay(s.clock.Now(), s.cfg.Location).start
}

// History returns queue's samples of today from since on, oldest first:
// one a minute from midnight, or from when the queue was made, with a gap
// where no server ran (Load reads back the samples that were saved). An
// unknown queue has none.
func (s *Stats) History(queue string, since time.Time) []Point {
	s.current() // today's latest minute is sampled
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.c.today
	if d == nil || now.Before(d.start) || !now.Before(d.end) {
		return nil
	}
	h := d.history[queue]
	i := sort.Search(len(h), func(i int) bool { return !d.at(h[i]).Before(since) })
	if i == len(h) {
		return nil
	}
	out := make([]Point, 0, len(h)-i)
	for _, x := range h[i:] {
		p := Point{At: d.at(x).UTC(), Waiting: int(x.waiting),
			LongestWaitS: int(x.longest), Answered: int(x.answered), Abandoned: int(x.abandoned), Closed: x.closed}
		if x.slTenths >= 0 {
			p.ServiceLevelPct = ptr(float64(x.slTenths) / 10)
		}
		out = append(out, p)
	}
	return out
}
