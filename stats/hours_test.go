package stats

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"tellonce/router"
	"tellonce/sql/sqltest"
)

// dailyHours is open every day from open until close, Seoul time: a
// stand-in for the schedule package's hours.
type dailyHours struct{ open, close time.Duration }

func (h dailyHours) Location() *time.Location { return Seoul }

func (h dailyHours) Open(t time.Time) bool {
	t = t.In(Seoul)
	d := t.Sub(time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, Seoul))
	return d >= h.open && d < h.close
}

func (h dailyHours) NextOpen(t time.Time) (time.Time, bool) {
	if h.Open(t) {
		return t, true
	}
	l := t.In(Seoul)
	day := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, Seoul)
	if t.Sub(day) >= h.close {
		day = day.AddDate(0, 0, 1)
	}
	return day.Add(h.open), true
}

// TestClosedQueue: outside its hours a queue's light is "closed", with
// the next opening in words and no estimate, on the live figures and the
// public status; its minutes in the history say closed, across a save and
// a load on both backends.
func TestClosedQueue(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		d := journalDesk(t, b)
		d.queue(queueCfg(general, 20, func(q *router.QueueConfig) { q.Hours = dailyHours{9 * time.Hour, 9*time.Hour + time.Minute} }))
		d.agent(agentIn("a1", general))
		d.online("a1")
		d.at("09:00:00")
		if q := byQueue(d.st.Queues())[general]; q.Light == LightClosed || q.OpensAt != nil {
			t.Fatalf("open queue: light %q, opens_at %v", q.Light, q.OpensAt)
		}
		d.at("09:01:00")
		q := byQueue(d.st.Queues())[general]
		opens := time.Date(2026, 3, 3, 9, 0, 0, 0, Seoul)
		if q.Light != LightClosed || q.OpensAt == nil || !q.OpensAt.Equal(opens) || q.EstimatedWaitS != nil {
			t.Fatalf("closed queue: light %q, opens_at %v, estimate %v; want closed, %v, none", q.Light, q.OpensAt, q.EstimatedWaitS, opens)
		}
		if want := "운영 시간이 아닙니다 — 화 09:00에 엽니다"; q.Label != want {
			t.Errorf("label = %q; want %q", q.Label, want)
		}
		body, err := d.st.PublicStatus(context.Background(), func(context.Context) (map[string]bool, error) {
			return map[string]bool{general: true}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		var pub []PublicQueue
		if err := json.Unmarshal(body, &pub); err != nil {
			t.Fatal(err)
		}
		if len(pub) != 1 || pub[0].Light != LightClosed || pub[0].LabelEn != "Closed — opens Tue 09:00" || pub[0].OpensAt == nil {
			t.Errorf("public status = %s", body)
		}
		h := d.st.History(general, time.Time{})
		if len(h) != 2 || h[0].Closed || !h[1].Closed {
			t.Fatalf("history = %+v; want 09:00 open, 09:01 closed", h)
		}
		if n := save(t, d.st, b.DB); n != 2 {
			t.Fatalf("saved %d samples; want 2", n)
		}
		st := d.newStats()
		if err := st.Load(context.Background(), b.DB); err != nil {
			t.Fatal(err)
		}
		if h := st.History(general, time.Time{}); len(h) != 2 || h[0].Closed || !h[1].Closed {
			t.Fatalf("history after a restart = %+v; want 09:00 open, 09:01 closed", h)
		}
	})
}

func TestClosedLightMetric(t *testing.T) {
	if v := lightValue(LightClosed); v != 3 {
		t.Errorf("tellonce_queue_light of a closed queue = %v; want 3", v)
	}
}

func TestClosedLabel(t *testing.T) {
	now := time.Date(2026, 3, 2, 19, 0, 0, 0, Seoul) // a Monday
	for _, c := range []struct {
		lang string
		at   time.Time
		want string
	}{
		{"ko", time.Date(2026, 3, 3, 9, 0, 0, 0, Seoul), "운영 시간이 아닙니다 — 화 09:00에 엽니다"},
		{"en", time.Date(2026, 3, 3, 9, 0, 0, 0, Seoul), "Closed — opens Tue 09:00"},
		{"ko", time.Date(2026, 3, 10, 9, 30, 0, 0, Seoul), "운영 시간이 아닙니다 — 3월 10일(화) 09:30에 엽니다"},
		{"en", time.Date(2026, 3, 10, 9, 30, 0, 0, Seoul), "Closed — opens Tue 10 Mar 09:30"},
		{"ko", time.Time{}, "운영 시간이 아닙니다"},
		{"en", time.Time{}, "Closed"},
	} {
		if got := ClosedLabel(c.lang, now, c.at, Seoul); got != c.want {
			t.Errorf("ClosedLabel(%s, %v) = %q; want %q", c.lang, c.at, got, c.want)
		}
	}
}
