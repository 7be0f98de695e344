package schedule

import (
	"errors"
	"testing"
	"time"
)

func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// office is Mon–Fri 09:00–12:00 and 13:00–18:00, Sat 10:00–14:00, and a
// night line from Friday 22:00 to Saturday 06:00.
func office() *Week {
	day := []Range{{"09:00", "12:00"}, {"13:00", "18:00"}}
	return &Week{Mon: day, Tue: day, Wed: day, Thu: day,
		Fri: []Range{{"09:00", "12:00"}, {"13:00", "18:00"}, {"22:00", "06:00"}},
		Sat: []Range{{"10:00", "14:00"}}}
}

func TestOpenAndNext(t *testing.T) {
	seoul := mustLoad(t, "Asia/Seoul")
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, seoul)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// 2027-01-04 is a Monday; 2027-01-06 (Wednesday) a holiday.
	s, err := New(office(), []Holiday{{Date: "2027-01-06", Name: "개교기념일"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name      string
		t         string
		open      bool
		nextOpen  string
		nextClose string // "" when closed
	}{
		{"monday before opening", "2027-01-04 08:59", false, "2027-01-04 09:00", ""},
		{"monday at opening", "2027-01-04 09:00", true, "2027-01-04 09:00", "2027-01-04 12:00"},
		{"lunch break", "2027-01-04 12:00", false, "2027-01-04 13:00", ""},
		{"afternoon", "2027-01-04 17:59", true, "2027-01-04 17:59", "2027-01-04 18:00"},
		{"evening", "2027-01-04 18:00", false, "2027-01-05 09:00", ""},
		{"holiday skipped", "2027-01-05 19:00", false, "2027-01-07 09:00", ""},
		{"on the holiday", "2027-01-06 10:00", false, "2027-01-07 09:00", ""},
		{"friday night crosses midnight", "2027-01-08 23:00", true, "2027-01-08 23:00", "2027-01-09 06:00"},
		{"after midnight, saturday", "2027-01-09 05:59", true, "2027-01-09 05:59", "2027-01-09 06:00"},
		{"saturday gap", "2027-01-09 06:00", false, "2027-01-09 10:00", ""},
		{"sunday closed all day", "2027-01-10 12:00", false, "2027-01-11 09:00", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			now := at(c.t)
			if got := s.Open(now); got != c.open {
				t.Errorf("Open = %v; want %v", got, c.open)
			}
			if got, ok := s.NextOpen(now); !ok || !got.Equal(at(c.nextOpen)) {
				t.Errorf("NextOpen = %v, %v; want %s", got, ok, c.nextOpen)
			}
			got, ok := s.NextClose(now)
			if c.nextClose == "" {
				if ok {
					t.Errorf("NextClose = %v; want none (closed)", got)
				}
			} else if !ok || !got.Equal(at(c.nextClose)) {
				t.Errorf("NextClose = %v, %v; want %s", got, ok, c.nextClose)
			}
		})
	}
}

// TestHolidayKeepsOvernightRangeOfTheDayBefore: a holiday closes the
// ranges that start on it; one that started the evening before runs on.
func TestHolidayKeepsOvernightRangeOfTheDayBefore(t *testing.T) {
	seoul := mustLoad(t, "Asia/Seoul")
	s, err := New(office(), []Holiday{{Date: "2027-01-09"}}, "Asia/Seoul")
	if err != nil {
		t.Fatal(err)
	}
	if !s.Open(time.Date(2027, 1, 9, 3, 0, 0, 0, seoul)) {
		t.Error("Friday's night line closed early by Saturday's holiday")
	}
	if s.Open(time.Date(2027, 1, 9, 11, 0, 0, 0, seoul)) {
		t.Error("open on the holiday")
	}
}

// TestTouchingRangesCloseOnce: 00:00–24:00 every day with 22:00–02:00
// overlapping is one opening the whole week.
func TestTouchingRangesCloseOnce(t *testing.T) {
	all := []Range{{"00:00", "24:00"}}
	w := &Week{Mon: all, Tue: all, Wed: all, Thu: all, Fri: all, Sat: all, Sun: []Range{{"00:00", "12:00"}}}
	s, err := New(w, nil, "UTC")
	if err != nil {
		t.Fatal(err)
	}
	mon := time.Date(2027, 1, 4, 10, 0, 0, 0, time.UTC)
	got, ok := s.NextClose(mon)
	if want := time.Date(2027, 1, 10, 12, 0, 0, 0, time.UTC); !ok || !got.Equal(want) {
		t.Errorf("NextClose = %v, %v; want %v", got, ok, want)
	}
}

// TestDaylightSaving: hours are wall-clock hours of the agency's zone,
// whatever its offset that day.
func TestDaylightSaving(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	day := []Range{{"09:00", "17:00"}}
	w := &Week{Fri: day, Mon: day, Sat: []Range{{"22:00", "06:00"}}}
	s, err := New(w, nil, "America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	// Clocks went forward at 02:00 on Sunday 2027-03-14.
	fri := time.Date(2027, 3, 12, 20, 0, 0, 0, time.UTC) // 15:00 EST
	if !s.Open(fri) {
		t.Error("closed on Friday 15:00 EST")
	}
	next, ok := s.NextOpen(time.Date(2027, 3, 12, 23, 0, 0, 0, time.UTC))
	if want := time.Date(2027, 3, 14, 3, 0, 0, 0, time.UTC); !ok || !next.Equal(want) { // Sat 22:00 EST
		t.Errorf("NextOpen after Friday = %v; want %v", next, want)
	}
	end, ok := s.NextClose(time.Date(2027, 3, 14, 4, 0, 0, 0, time.UTC))
	if want := time.Date(2027, 3, 14, 10, 0, 0, 0, time.UTC); !ok || !end.Equal(want) { // Sun 06:00 EDT
		t.Errorf("overnight close = %v; want %v (06:00 EDT, a night one hour short)", end, want)
	}
	mon, ok := s.NextOpen(end)
	if want := time.Date(2027, 3, 15, 13, 0, 0, 0, time.UTC); !ok || !mon.Equal(want) { // 09:00 EDT
		t.Errorf("Monday opening = %v; want %v", mon, want)
	}
	if !mon.In(ny).Equal(mon) || mon.In(ny).Hour() != 9 {
		t.Errorf("Monday opening is %v local; want 09:00", mon.In(ny))
	}
}

func TestNilScheduleIsAlwaysOpen(t *testing.T) {
	s, err := New(nil, []Holiday{{Date: "2027-01-01"}}, "")
	if err != nil || s != nil {
		t.Fatalf("New(nil hours) = %v, %v; want nil, nil", s, err)
	}
	now := time.Date(2027, 1, 1, 3, 0, 0, 0, time.UTC)
	if !s.Open(now) {
		t.Error("a queue without hours is closed")
	}
	if at, ok := s.NextOpen(now); !ok || !at.Equal(now) {
		t.Errorf("NextOpen = %v, %v; want now", at, ok)
	}
}

func TestNeverOpen(t *testing.T) {
	s, err := New(&Week{}, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2027, 1, 1, 3, 0, 0, 0, time.UTC)
	if s.Open(now) {
		t.Error("a week without ranges is open")
	}
	if _, ok := s.NextOpen(now); ok {
		t.Error("a week without ranges opens")
	}
}

func TestValidationNamesTheField(t *testing.T) {
	cases := []struct {
		name  string
		week  *Week
		hols  []Holiday
		zone  string
		field string
	}{
		{"bad end", &Week{Mon: []Range{{"09:00", "12:00"}, {"13:00", "25:00"}}}, nil, "", "hours.mon[1].end"},
		{"bad start", &Week{Tue: []Range{{"9:00", "12:00"}}}, nil, "", "hours.tue[0].start"},
		{"24:00 is no start", &Week{Sun: []Range{{"24:00", "01:00"}}}, nil, "", "hours.sun[0].start"},
		{"empty range", &Week{Wed: []Range{{"09:00", "09:00"}}}, nil, "", "hours.wed[0].end"},
		{"overlap", &Week{Thu: []Range{{"09:00", "12:00"}, {"11:00", "13:00"}}}, nil, "", "hours.thu[1]"},
		{"signed minutes", &Week{Fri: []Range{{"09:+1", "12:00"}}}, nil, "", "hours.fri[0].start"},
		{"bad holiday", &Week{}, []Holiday{{Date: "2027-01-01"}, {Date: "2027-02-30"}}, "", "holidays[1].date"},
		{"twice", &Week{}, []Holiday{{Date: "2027-01-01"}, {Date: "2027-01-01"}}, "", "holidays[1].date"},
		{"bad zone", &Week{}, nil, "Mars/Olympus", "time_zone"},
		{"local zone", &Week{}, nil, "Local", "time_zone"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(c.week, c.hols, c.zone)
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != c.field {
				t.Errorf("New = %v; want an error about %s", err, c.field)
			}
		})
	}
	if err := ValidateWeek("hours", office()); err != nil {
		t.Errorf("office hours: %v", err)
	}
}

func FuzzNew(f *testing.F) {
	f.Add("09:00", "18:00", "2027-01-01", "Asia/Seoul", int64(0))
	f.Add("22:00", "06:00", "2027-03-14", "America/New_York", int64(1805000000))
	f.Add("00:00", "24:00", "", "UTC", int64(-1))
	f.Fuzz(func(t *testing.T, start, end, date, zone string, unix int64) {
		var hols []Holiday
		if date != "" {
			hols = []Holiday{{Date: date}}
		}
		r := []Range{{start, end}}
		s, err := New(&Week{Mon: r, Sat: r}, hols, zone)
		if err != nil {
			return
		}
		now := time.Unix(unix, 0)
		open := s.Open(now)
		next, ok := s.NextOpen(now)
		if open && (!ok || !next.Equal(now)) {
			t.Fatalf("open at %v but NextOpen = %v, %v", now, next, ok)
		}
		if ok && !s.Open(next) {
			t.Fatalf("NextOpen %v is closed", next)
		}
		if end, ok := s.NextClose(now); ok && (!end.After(now) || s.Open(end)) {
			t.Fatalf("NextClose %v: not after %v, or open then", end, now)
		}
	})
}
