package stats

import (
	"fmt"
	"testing"
	"time"

	"tellonce/router"
)

// pointString shows a sample: "09:01 waiting=1 longest=50 answered=1
// abandoned=0 sl=100.0", its time in Seoul.
func pointString(p Point) string {
	return p.At.In(Seoul).Format("15:04") + " " + formatFields("waiting", p.Waiting, "longest", p.LongestWaitS,
		"answered", p.Answered, "abandoned", p.Abandoned, "sl", num(p.ServiceLevelPct))
}

func checkHistory(t *testing.T, what string, got []Point, want []string) {
	t.Helper()
	var gs []string
	for _, p := range got {
		gs = append(gs, pointString(p))
	}
	if fmt.Sprint(gs) != fmt.Sprint(want) {
		t.Errorf("%s =\n  %q\nwant\n  %q", what, gs, want)
	}
}

func TestHistoryOneSampleAMinute(t *testing.T) {
	d := newDesk(t, nil, nil)
	c2 := d.morningStart()
	for range 40 {
		d.read() // many computations in one minute, no new sample
	}
	if got := d.st.History(general, time.Time{}); len(got) != 1 {
		t.Fatalf("after %d computations within 09:00, History has %d samples; want 1", d.st.Computations(), len(got))
	}
	d.at("09:01:00")
	d.st.Queues()
	d.at("09:01:30")
	d.abandon(c2) // after 80 s: late
	d.at("09:02:00")
	d.st.Queues()
	d.at("09:02:40")
	d.st.Queues() // the same minute again
	// Nothing computes during 09:03: that minute has no sample.
	d.at("09:04:30")

	all := []string{
		"09:00 waiting=0 longest=0 answered=0 abandoned=0 sl=null",
		"09:01 waiting=1 longest=50 answered=1 abandoned=0 sl=100.0",
		"09:02 waiting=0 longest=0 answered=1 abandoned=1 sl=50.0",
		"09:04 waiting=0 longest=0 answered=1 abandoned=1 sl=50.0",
	}
	checkHistory(t, "History(general, zero)", d.st.History(general, time.Time{}), all)
	at := func(clock string) time.Time {
		tod, _ := time.Parse("15:04:05", clock)
		return time.Date(2026, 3, 2, tod.Hour(), tod.Minute(), tod.Second(), 0, Seoul)
	}
	checkHistory(t, "History(general, 09:01:30)", d.st.History(general, at("09:01:30")), all[2:])
	checkHistory(t, "History(general, 09:02:00)", d.st.History(general, at("09:02:00")), all[2:])
	checkHistory(t, "History(general, 09:05:00)", d.st.History(general, at("09:05:00")), nil)
	checkHistory(t, "History(unknown)", d.st.History("gov110.nope", time.Time{}), nil)
	if p := d.st.History(general, time.Time{})[0]; p.At.Location() != time.UTC {
		t.Errorf("History's times are in %v; want UTC", p.At.Location())
	}
}

func TestHistoryStartsAgainAtMidnight(t *testing.T) {
	d := newDesk(t, nil, nil)
	d.queue(queueCfg(general, 20))
	d.enqueue(general, "A", router.ChannelVoice) // nobody staffs the queue: A waits
	d.st.Queues()
	d.at("23:59:10")
	d.st.Queues()
	if got := d.st.History(general, time.Time{}); len(got) != 2 || got[1].Waiting != 1 {
		t.Fatalf("before midnight History = %v; want 09:00 and 23:59, one waiting", got)
	}
	midnight := time.Date(2026, 3, 3, 0, 0, 0, 0, Seoul)
	d.clock.Set(midnight.Add(20 * time.Second))
	// The new day has this minute only; A still waits, since yesterday.
	checkHistory(t, "History after midnight", d.st.History(general, time.Time{}),
		[]string{"00:00 waiting=1 longest=54020 answered=0 abandoned=0 sl=null"})
	if got := d.st.DayStart(); !got.Equal(midnight) {
		t.Errorf("DayStart() = %v; want %v", got, midnight)
	}
}

func TestHistoryKeepsOneDayAtMost(t *testing.T) {
	// 1 November 2026 has 25 hours in New York: 1,500 minutes.
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	d := newDesk(t, nil, nil, func(c *Config) { c.Location = ny })
	d.queue(queueCfg(general, 20))
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, ny)
	for m := range 1500 {
		d.clock.Set(start.Add(time.Duration(m)*time.Minute + time.Second))
		d.st.Queues()
	}
	got := d.st.History(general, time.Time{})
	if len(got) != maxSamples {
		t.Fatalf("after 1,500 minutes History has %d samples; want %d", len(got), maxSamples)
	}
	if first, last := got[0].At, got[len(got)-1].At; !first.Equal(start.Add(60*time.Minute)) || !last.Equal(start.Add(1499*time.Minute)) {
		t.Errorf("History runs %v to %v; want the last 1,440 minutes, %v to %v", first, last,
			start.Add(60*time.Minute), start.Add(1499*time.Minute))
	}
}
