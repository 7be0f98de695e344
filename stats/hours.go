package stats

import (
	"fmt"
	"time"
)

// LightClosed is the fourth state of a queue beside the three lights:
// outside its opening hours. It has its own words, never only a colour.
const LightClosed = "closed"

var (
	weekdaysKo = [7]string{"일", "월", "화", "수", "목", "금", "토"}
	weekdaysEn = [7]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}
)

// ClosedLabel is a closed queue in words, in Korean ("ko", the default)
// or English ("en"): "운영 시간이 아닙니다 — 월 09:00에 엽니다", "Closed —
// opens Mon 09:00". The opening is told in the agency's zone loc: by
// weekday within the coming week, by date beyond it; a zero opensAt (it
// never opens) leaves it out.
func ClosedLabel(lang string, now, opensAt time.Time, loc *time.Location) string {
	en := lang == "en"
	if opensAt.IsZero() {
		if en {
			return "Closed"
		}
		return "운영 시간이 아닙니다"
	}
	if loc == nil {
		loc = time.UTC
	}
	at := opensAt.In(loc)
	var when string
	switch {
	case at.Sub(now) >= 6*24*time.Hour && en:
		when = at.Format("Mon 2 Jan 15:04")
	case at.Sub(now) >= 6*24*time.Hour:
		when = fmt.Sprintf("%d월 %d일(%s) %s", at.Month(), at.Day(), weekdaysKo[at.Weekday()], at.Format("15:04"))
	case en:
		when = weekdaysEn[at.Weekday()] + " " + at.Format("15:04")
	default:
		when = weekdaysKo[at.Weekday()] + " " + at.Format("15:04")
	}
	if en {
		return "Closed — opens " + when
	}
	return "운영 시간이 아닙니다 — " + when + "에 엽니다"
}
