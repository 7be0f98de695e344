// Package schedule answers when a queue is open: weekly opening hours (per
// weekday, several ranges a day, ranges that cross midnight), an agency's
// holidays and its time zone. It is pure: every answer is for a time the
// caller gives.
package schedule

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	// The agency's zone must load on hosts without a zoneinfo database.
	_ "time/tzdata"
)

// DefaultZone is the time zone of an agency that names none.
const DefaultZone = "Asia/Seoul"

// Range is one opening range of a day, "HH:MM" to "HH:MM" local time. An
// End at or before Start crosses midnight into the next day; End "24:00"
// is the end of the day.
type Range struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// Week is a queue's opening hours per weekday. A weekday without ranges
// is closed all day.
type Week struct {
	Mon []Range `json:"mon"`
	Tue []Range `json:"tue"`
	Wed []Range `json:"wed"`
	Thu []Range `json:"thu"`
	Fri []Range `json:"fri"`
	Sat []Range `json:"sat"`
	Sun []Range `json:"sun"`
}

// Holiday is a local date (YYYY-MM-DD) on which the agency's queues stay
// closed, optionally named.
type Holiday struct {
	Date string `json:"date"`
	Name string `json:"name,omitempty"`
}

// dayKeys are Week's JSON names, by time.Weekday.
var dayKeys = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// days returns the ranges of each weekday, indexed by time.Weekday.
func (w *Week) days() [7][]Range {
	return [7][]Range{w.Sun, w.Mon, w.Tue, w.Wed, w.Thu, w.Fri, w.Sat}
}

// FieldError names the field of a wrong value, e.g. "hours.mon[1].end".
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// minute is a parsed range: minutes after local midnight, end > start
// (end up to 48h when the range crosses midnight).
type minutes struct{ start, end int }

// parseClock reads "HH:MM"; allowEnd permits "24:00".
func parseClock(s string, allowEnd bool) (int, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	h, err1 := strconv.Atoi(s[:2])
	m, err2 := strconv.Atoi(s[3:])
	if err1 != nil || err2 != nil || s[0] == '+' || s[0] == '-' || s[3] == '+' || s[3] == '-' {
		return 0, false
	}
	if h == 24 && m == 0 && allowEnd {
		return 24 * 60, true
	}
	if h < 0 || h > 23 || m < 0 || m > 59 {
		return 0, false
	}
	return h*60 + m, true
}

// MaxRangesPerDay bounds a weekday's ranges.
const MaxRangesPerDay = 8

// parseWeek validates w; field is the prefix of error fields ("hours").
func parseWeek(field string, w *Week) ([7][]minutes, error) {
	var out [7][]minutes
	all := w.days()
	// Report in the order a person reads the week: mon first.
	for _, d := range []time.Weekday{1, 2, 3, 4, 5, 6, 0} {
		rs := all[d]
		name := field + "." + dayKeys[d]
		if len(rs) > MaxRangesPerDay {
			return out, fieldErr(name, "at most %d ranges a day", MaxRangesPerDay)
		}
		for i, r := range rs {
			f := fmt.Sprintf("%s[%d]", name, i)
			start, ok := parseClock(r.Start, false)
			if !ok {
				return out, fieldErr(f+".start", "must be HH:MM, 00:00 to 23:59")
			}
			end, ok := parseClock(r.End, true)
			if !ok {
				return out, fieldErr(f+".end", "must be HH:MM, 00:00 to 24:00")
			}
			if end == start {
				return out, fieldErr(f+".end", "must differ from start (a range is never empty)")
			}
			if end < start {
				end += 24 * 60 // crosses midnight
			}
			for j, o := range out[d] {
				if start < o.end && o.start < end {
					return out, fieldErr(f, "overlaps %s[%d]", name, j)
				}
			}
			out[d] = append(out[d], minutes{start, end})
		}
	}
	return out, nil
}

// ValidateWeek checks opening hours; errors name the field under prefix
// (e.g. "hours.mon[1].end").
func ValidateWeek(prefix string, w *Week) error {
	if w == nil {
		return nil
	}
	_, err := parseWeek(prefix, w)
	return err
}

// MaxHolidays bounds an agency's holiday calendar.
const MaxHolidays = 500

// ValidateHolidays checks a holiday calendar; errors name the field under
// prefix (e.g. "holidays[2].date").
func ValidateHolidays(prefix string, hs []Holiday) error {
	_, err := parseHolidays(prefix, hs)
	return err
}

type civil struct {
	y int
	m time.Month
	d int
}

func parseHolidays(prefix string, hs []Holiday) (map[civil]bool, error) {
	if len(hs) > MaxHolidays {
		return nil, fieldErr(prefix, "at most %d holidays", MaxHolidays)
	}
	out := make(map[civil]bool, len(hs))
	for i, h := range hs {
		f := fmt.Sprintf("%s[%d]", prefix, i)
		t, err := time.Parse(time.DateOnly, h.Date)
		if err != nil || t.Format(time.DateOnly) != h.Date {
			return nil, fieldErr(f+".date", "must be a date YYYY-MM-DD")
		}
		if len(h.Name) > 100 {
			return nil, fieldErr(f+".name", "at most 100 bytes")
		}
		c := civil{t.Year(), t.Month(), t.Day()}
		if out[c] {
			return nil, fieldErr(f+".date", "%s is listed twice", h.Date)
		}
		out[c] = true
	}
	return out, nil
}

// LoadZone reads an IANA time zone name; "" is DefaultZone. Errors name
// field.
func LoadZone(field, name string) (*time.Location, error) {
	if name == "" {
		name = DefaultZone
	}
	// Local would follow the server's settings, not the agency's.
	if name == "Local" || strings.TrimSpace(name) != name {
		return nil, fieldErr(field, "must be an IANA time zone such as Asia/Seoul")
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fieldErr(field, "must be an IANA time zone such as Asia/Seoul")
	}
	return loc, nil
}

// Schedule answers open/closed questions for one queue of one agency.
// A nil *Schedule is always open (a queue without hours).
type Schedule struct {
	week     [7][]minutes
	holidays map[civil]bool
	loc      *time.Location
}

// New makes a queue's schedule from its hours and its agency's holidays
// and zone. Nil hours mean always open: New returns nil then.
func New(hours *Week, holidays []Holiday, zone string) (*Schedule, error) {
	if hours == nil {
		return nil, nil
	}
	week, err := parseWeek("hours", hours)
	if err != nil {
		return nil, err
	}
	hs, err := parseHolidays("holidays", holidays)
	if err != nil {
		return nil, err
	}
	loc, err := LoadZone("time_zone", zone)
	if err != nil {
		return nil, err
	}
	return &Schedule{week: week, holidays: hs, loc: loc}, nil
}

// Location is the schedule's time zone (nil for an always-open schedule).
func (s *Schedule) Location() *time.Location {
	if s == nil {
		return nil
	}
	return s.loc
}

// horizon is how far ahead NextOpen and NextClose look: past a year of
// holidays.
const horizon = 400

// span is one opening in absolute time.
type span struct{ from, to time.Time }

// spans lists the openings of the local days first..first+n-1 (and the
// day before, whose overnight range may reach into first), in order. A
// holiday closes the ranges that start on it; an overnight range that
// started the evening before runs to its end.
func (s *Schedule) spans(first time.Time, n int) []span {
	var out []span
	y, m, d := first.In(s.loc).Date()
	for i := -1; i < n; i++ {
		day := time.Date(y, m, d+i, 0, 0, 0, 0, s.loc)
		dy, dm, dd := day.Date()
		if s.holidays[civil{dy, dm, dd}] {
			continue
		}
		for _, r := range s.week[day.Weekday()] {
			// time.Date normalises minutes past the day, and a wall time
			// a daylight-saving jump skips, to the instant that follows.
			from := time.Date(dy, dm, dd, 0, r.start, 0, 0, s.loc)
			to := time.Date(dy, dm, dd, 0, r.end, 0, 0, s.loc)
			if to.After(from) {
				out = append(out, span{from, to})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].from.Before(out[j].from) })
	return out
}

// Open reports whether the queue is open at t.
func (s *Schedule) Open(t time.Time) bool {
	if s == nil {
		return true
	}
	for _, sp := range s.spans(t, 1) {
		if !t.Before(sp.from) && t.Before(sp.to) {
			return true
		}
	}
	return false
}

// NextOpen is the first moment at or after t when the queue is open: t
// itself when it is open. ok is false when it never opens within the
// next 400 days.
func (s *Schedule) NextOpen(t time.Time) (at time.Time, ok bool) {
	if s == nil {
		return t, true
	}
	for _, sp := range s.spans(t, horizon) {
		if t.Before(sp.to) {
			if t.Before(sp.from) {
				return sp.from, true
			}
			return t, true
		}
	}
	return time.Time{}, false
}

// NextClose is the first moment after t when the queue, open at t, closes
// (ranges that touch or overlap count as one opening). ok is false when
// it is closed at t or stays open past the horizon.
func (s *Schedule) NextClose(t time.Time) (at time.Time, ok bool) {
	if s == nil {
		return time.Time{}, false
	}
	open := false
	var end time.Time
	for _, sp := range s.spans(t, horizon) {
		if !open {
			if !t.Before(sp.from) && t.Before(sp.to) {
				open, end = true, sp.to
			}
			continue
		}
		if sp.from.After(end) {
			break
		}
		if sp.to.After(end) {
			end = sp.to
		}
	}
	if !open {
		return time.Time{}, false
	}
	return end, true
}

// Clone copies a week, so that callers may keep it.
func (w *Week) Clone() *Week {
	if w == nil {
		return nil
	}
	return &Week{Mon: slices.Clone(w.Mon), Tue: slices.Clone(w.Tue), Wed: slices.Clone(w.Wed),
		Thu: slices.Clone(w.Thu), Fri: slices.Clone(w.Fri), Sat: slices.Clone(w.Sat), Sun: slices.Clone(w.Sun)}
}
