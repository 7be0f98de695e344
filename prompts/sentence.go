package prompts

import (
	"fmt"
	"time"
)

// Limits of what Position says: larger places and waits are said as these.
const (
	MaxPlace       = 9999
	MaxWaitMinutes = 99
)

// Position returns, in order, the prompts that tell a caller their place in
// line and their estimated wait: the same two figures the chat shows.
//
//	ko: 고객님의 대기 순서는 | 세 | 번째입니다 | 예상 대기 시간은 약 | 사 | 분입니다
//	en: You are number | three | in line | Your estimated wait is about | four | minutes
//
// place counts from 1. The wait is rounded to the nearest minute; under a
// minute (after rounding) is said as "less than a minute"; a negative wait
// means there is no estimate and the wait is not said. A place above
// MaxPlace or a wait above MaxWaitMinutes is said as the maximum.
func (l *Library) Position(lang string, place int, wait time.Duration) ([]Prompt, error) {
	if place < 1 {
		return nil, fmt.Errorf("prompts: place %d: a place in line counts from 1", place)
	}
	place = min(place, MaxPlace)
	var keys []string
	keys = append(keys, PositionIntro)
	switch lang {
	case Korean:
		keys = append(keys, koreanOrdinal(place)...)
	case English:
		keys = append(keys, englishNumber(place)...)
	}
	keys = append(keys, PositionOutro)
	if wait >= 0 {
		minutes := int((wait + 30*time.Second) / time.Minute)
		switch {
		case minutes < 1:
			keys = append(keys, LessThanAMinute)
		case lang == Korean:
			keys = append(keys, WaitIntro)
			keys = append(keys, sinoKorean(min(minutes, MaxWaitMinutes))...)
			keys = append(keys, Minutes)
		case lang == English:
			keys = append(keys, WaitIntro)
			keys = append(keys, englishNumber(min(minutes, MaxWaitMinutes))...)
			if minutes == 1 {
				keys = append(keys, Minute)
			} else {
				keys = append(keys, Minutes)
			}
		}
	}
	out := make([]Prompt, 0, len(keys))
	for _, k := range keys {
		p, err := l.Phrase(lang, k)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// Keys returns the keys of prompts, for logs and tests.
func Keys(prompts []Prompt) []string {
	keys := make([]string, len(prompts))
	for i, p := range prompts {
		keys[i] = p.Key
	}
	return keys
}

func num(n int) string { return fmt.Sprintf("num-%d", n) }

// englishNumber says 0 ≤ n ≤ 9999 as cardinal words: "one thousand two
// hundred thirty four" (American usage, no "and").
func englishNumber(n int) []string {
	if n == 0 {
		return []string{num(0)}
	}
	var keys []string
	if n >= 1000 {
		keys = append(keys, num(n/1000), num(1000))
		n %= 1000
	}
	if n >= 100 {
		keys = append(keys, num(n/100), num(100))
		n %= 100
	}
	switch {
	case n == 0:
	case n <= 20:
		keys = append(keys, num(n))
	default:
		keys = append(keys, num(n/10*10))
		if n%10 != 0 {
			keys = append(keys, num(n%10))
		}
	}
	return keys
}

// sinoKorean says 0 ≤ n ≤ 9999 with Sino-Korean numbers, as minutes are
// counted (사 분, 이십오 분): a leading 1 before 십, 백 and 천 is not said
// (십, not 일십).
func sinoKorean(n int) []string {
	if n == 0 {
		return []string{num(0)}
	}
	var keys []string
	for _, unit := range []int{1000, 100, 10} {
		d := n / unit
		n %= unit
		if d == 0 {
			continue
		}
		if d > 1 {
			keys = append(keys, num(d))
		}
		keys = append(keys, num(unit))
	}
	if n > 0 {
		keys = append(keys, num(n))
	}
	return keys
}

// koreanOrdinal says 1 ≤ n ≤ 9999 before the counter 번째 as people say
// it: thousands and hundreds in Sino-Korean, the last two digits in native
// Korean (세 번째, 열한 번째, 스무 번째, 백스물두 번째), and 1 alone as
// 첫 (첫 번째, but 백한 번째).
func koreanOrdinal(n int) []string {
	if n == 1 {
		return []string{"ord-first"}
	}
	var keys []string
	if high := n / 100 * 100; high > 0 {
		keys = append(keys, sinoKorean(high)...)
	}
	n %= 100
	tens, units := n/10*10, n%10
	switch {
	case tens == 20 && units == 0:
		keys = append(keys, "native-20-alone")
	case tens > 0:
		keys = append(keys, fmt.Sprintf("native-%d", tens))
	}
	if units > 0 {
		keys = append(keys, fmt.Sprintf("native-%d", units))
	}
	return keys
}

// Join returns prompts as one prompt to play in one go: their samples end
// to end, the key of the first, the language of all when they share one.
func Join(prompts []Prompt) Prompt {
	var out Prompt
	n := 0
	for _, p := range prompts {
		n += len(p.Samples)
	}
	out.Samples = make([]byte, 0, n)
	for i, p := range prompts {
		if i == 0 {
			out.Lang, out.Key, out.Source = p.Lang, p.Key, p.Source
		} else if p.Lang != out.Lang {
			out.Lang = ""
		}
		out.Samples = append(out.Samples, p.Samples...)
	}
	return out
}
