package transcripts

import (
	"context"
	"slices"
	"strings"
	"testing"

	"tellonce/sql/sqltest"
)

// A number is found however it was typed and stored: spaces, dashes,
// dots, full-width digits or no separator at all, on both backends. A
// reader without pii finds only what masking leaves visible, so the
// digits it hides cannot be confirmed one search at a time.
func TestNumberSearchIgnoresSeparators(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		w := newWorld(t, b, Retention{})
		phone := w.chat("gov110.general", "resolved", "제 번호는 010-1234-5678 입니다", "확인했습니다")
		receipt := w.chat("nts126.tax", "resolved", "접수번호 2024 0301 77 으로 조회해 주세요")
		plain := w.chat("gov110.general", "resolved", "번호 01099998888 로 연락 주세요")
		w.chat("gov110.general", "resolved", "오늘 날씨가 좋네요")
		tests := []struct {
			q      string
			redact bool
			want   []string
		}{
			{"01012345678", false, []string{phone}},
			{"010 1234 5678", false, []string{phone}},
			{"010.1234.5678", false, []string{phone}},
			{"010–1234–5678", false, []string{phone}},
			{"０１０-１２３４-５６７８", false, []string{phone}},
			{"(010) 1234-5678", false, []string{phone}},
			{"010-9999-8888", false, []string{plain}},
			{"2024-0301-77", false, []string{receipt}},
			{"2024030177", false, []string{receipt}},
			{"2024.0301.77", true, []string{receipt}}, // not personal: found without pii
			{"1234", false, []string{phone}},
			// Without pii the middle of a phone number is masked: not found,
			// whichever way it is typed; its visible end is.
			{"1234", true, []string{}},
			{"0101234", true, []string{}},
			{"12345678", true, []string{}},
			{"9999", true, []string{}},
			{"5678", true, []string{phone}},
			{"5 6 7 8", true, []string{phone}},
		}
		for _, tc := range tests {
			p, err := w.rv.Search(context.Background(), all, Filter{Text: tc.q, Redact: tc.redact})
			if err != nil {
				t.Fatalf("Search(%q) = %v", tc.q, err)
			}
			if got := caseIDs(p.Items); !slices.Equal(got, tc.want) {
				t.Errorf("Search(%q, redact %v) = %v; want %v", tc.q, tc.redact, got, tc.want)
			}
			for _, it := range p.Items {
				if tc.redact && strings.Contains(it.Snippet, "1234") {
					t.Errorf("Search(%q) snippet %q shows masked digits", tc.q, it.Snippet)
				}
				if it.Snippet == "" {
					t.Errorf("Search(%q): no snippet for %s", tc.q, it.CaseID)
				}
			}
		}
		if p, _ := w.rv.Search(context.Background(), all, Filter{Text: "010 1234 5678"}); len(p.Items) == 1 &&
			!strings.Contains(p.Items[0].Snippet, "010-1234-5678") {
			t.Errorf("snippet %q; want the number as stored", p.Items[0].Snippet)
		}
	})
}

func TestNumberQuery(t *testing.T) {
	for q, want := range map[string]string{
		"010-1234-5678": "01012345678", "０１０ １２３４": "0101234", "(02) 123.4567": "021234567",
		"+82 10 1234 5678": "821012345678", "123": "123",
	} {
		if got, ok := NumberQuery(q); !ok || got != want {
			t.Errorf("NumberQuery(%q) = %q, %v; want %q", q, got, ok, want)
		}
	}
	for _, q := range []string{"12", "1-2", "증명서 123", "1,000", "09:30", "abc", ""} {
		if got, ok := NumberQuery(q); ok {
			t.Errorf("NumberQuery(%q) = %q; want not a number search", q, got)
		}
	}
}

// Snippets and matches are found in any text; the seeds run in go test.
func FuzzIndexDigits(f *testing.F) {
	for _, s := range []string{"010-1234-5678", "제 번호는 ０１０ １２３４", "a.b.c", "", "1-2-3-4"} {
		f.Add(s, "1234")
	}
	f.Fuzz(func(t *testing.T, s, q string) {
		digits, ok := NumberQuery(q)
		if !ok {
			return
		}
		i, n := indexDigits(s, digits)
		if i < 0 {
			return
		}
		if i+n > len(s) {
			t.Fatalf("indexDigits(%q, %q) = %d, %d: past the end", s, digits, i, n)
		}
		if got, _ := NumberQuery(s[i : i+n]); got != digits {
			t.Fatalf("indexDigits(%q, %q) = %q, whose digits are %q", s, digits, s[i:i+n], got)
		}
	})
}
