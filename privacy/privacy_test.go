package privacy

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestMaskRRN(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"hyphenated", "주민번호 900101-1234567 입니다", "주민번호 900101-1****** 입니다"},
		{"no hyphen", "9001012234567", "9001012******"},
		{"space from speech-to-text", "구공 900101 1234567", "구공 900101 1******"},
		{"foreign resident", "851231-5123456", "851231-5******"},
		{"glued to hangul", "번호는900101-1234567이에요", "번호는900101-1******이에요"},
		{"two of them", "900101-1234567, 010203-4234567", "900101-1******, 010203-4******"},
		{"month 13 is no date", "901301-1234567", "901301-1234567"},
		{"day 00 is no date", "900100-1234567", "900100-1234567"},
		{"back digit 0", "900101-0234567", "900101-0234567"},
		{"back digit 9", "900101-9234567", "900101-9234567"},
		{"part of a longer number", "1900101-1234567", "1900101-1234567"},
		{"longer back part", "900101-12345678", "900101-12345678"},
		{"14 digits", "19001011234567", "19001011234567"},
		{"dots are not an RRN", "900101.1234567", "900101.1234567"},
		{"after a card-like run", "4111 1111 1111 900101-1234567", "4111 1111 1111 900101-1******"},
		{"phone stays", "010-1234-5678", "010-1234-5678"},
		{"card stays", "4111 1111 1111 1111", "4111 1111 1111 1111"},
		{"already masked", "900101-1******", "900101-1******"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MaskRRN(tt.in); got != tt.want {
				t.Errorf("MaskRRN(%q) = %q; want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestMaskContacts(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"mobile", "연락처 010-1234-5678", "연락처 010-****-5678"},
		{"mobile old 3-digit middle", "011-123-4567", "011-***-4567"},
		{"mobile run", "01012345678", "010****5678"},
		{"mobile spaces", "010 1234 5678", "010 **** 5678"},
		{"mobile dots", "010.1234.5678", "010.****.5678"},
		{"seoul", "02-123-4567", "02-***-4567"},
		{"seoul 4-digit middle", "02-1234-5678", "02-****-5678"},
		{"regional", "031-123-4567", "031-***-4567"},
		{"internet phone", "070-1234-5678", "070-****-5678"},
		{"safe number", "0505-123-4567", "0505-***-4567"},
		{"international", "+82 10-1234-5678", "+82 10-****-5678"},
		{"international hyphens", "+82-2-123-4567", "+82-2-***-4567"},
		{"international run", "+821012345678", "+8210****5678"},
		{"international split", "+82 1012345678", "+82 10****5678"},
		{"date before a phone", "2024.03.01 010-1234-5678", "2024.03.01 010-****-5678"},
		{"visa spaced", "카드 4111 1111 1111 1111", "카드 **** **** **** 1111"},
		{"visa hyphens", "4111-1111-1111-1111", "****-****-****-1111"},
		{"visa run", "4111111111111111", "************1111"},
		{"amex", "3782 822463 10005", "**** ****** *0005"},
		{"luhn fails", "4111 1111 1111 1112", "4111 1111 1111 1112"},
		{"mixed separators", "4111-1111 1111-1111", "4111-1111 1111-1111"},
		{"rrn as well", "900101-1234567", "900101-1******"},
		{"service number", "1588-1234", "1588-1234"},
		{"public line", "110 또는 1339", "110 또는 1339"},
		{"order number", "주문번호 2024030112", "주문번호 2024030112"},
		{"wrong mobile prefix", "015-1234-5678", "015-1234-5678"},
		{"too short", "010-123-456", "010-123-456"},
		{"too long", "010-12345-5678", "010-12345-5678"},
		{"money", "1,234,567원", "1,234,567원"},
		{"date", "2024-03-01 09:30", "2024-03-01 09:30"},
		{"two phones", "010-1234-5678, 02-987-6543", "010-****-5678, 02-***-6543"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MaskContacts(tt.in); got != tt.want {
				t.Errorf("MaskContacts(%q) = %q; want %q", tt.in, got, tt.want)
			}
			if got := Mask(tt.in, false); got != tt.want {
				t.Errorf("Mask(%q, false) = %q; want %q", tt.in, got, tt.want)
			}
			if got, want := Mask(tt.in, true), MaskRRN(tt.in); got != want {
				t.Errorf("Mask(%q, true) = %q; want %q", tt.in, got, want)
			}
			if got, want := ContainsContact(tt.in), tt.want != tt.in; got != want {
				t.Errorf("ContainsContact(%q) = %v; want %v", tt.in, got, want)
			}
		})
	}
}

func TestMaskKeepsCleanTextAsIs(t *testing.T) {
	s := strings.Repeat("증명서가 필요합니다 ", 100)
	if got := MaskContacts(s); got != s {
		t.Errorf("MaskContacts changed clean text")
	}
	if n := testing.AllocsPerRun(100, func() { MaskContacts(s) }); n != 0 {
		t.Errorf("MaskContacts(clean text) allocates %v times; want 0", n)
	}
}

// FuzzMask checks what must hold for any text: only ASCII digits change,
// and only to '*'; the result is a fixed point (masking it again changes
// nothing), so it holds nothing left to mask; MaskContacts masks at least
// what MaskRRN does.
func FuzzMask(f *testing.F) {
	for _, s := range []string{
		"900101-1234567", "010-1234-5678", "+82 10-1234-5678", "4111 1111 1111 1111",
		"4111 1111 1111 900101-1234567", "900101-1001011234567", "2024.03.01 010-1234-5678",
		"번호는900101-1234567이에요", "0505-123-4567", "+821012345678", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rrnOnly, all := MaskRRN(s), MaskContacts(s)
		for _, out := range []string{rrnOnly, all} {
			if len(out) != len(s) {
				t.Fatalf("mask(%q) = %q: length changed", s, out)
			}
			for i := 0; i < len(s); i++ {
				if out[i] != s[i] && (!isDigit(s[i]) || out[i] != '*') {
					t.Fatalf("mask(%q) = %q: byte %d changed from %q to %q", s, out, i, s[i], out[i])
				}
			}
			if utf8.ValidString(s) && !utf8.ValidString(out) {
				t.Fatalf("mask(%q) = %q: not valid UTF-8", s, out)
			}
		}
		if again := MaskRRN(rrnOnly); again != rrnOnly {
			t.Fatalf("MaskRRN(%q) = %q, and again %q: not a fixed point", s, rrnOnly, again)
		}
		if again := MaskContacts(all); again != all {
			t.Fatalf("MaskContacts(%q) = %q, and again %q: not a fixed point", s, all, again)
		}
		for i := 0; i < len(s); i++ {
			if rrnOnly[i] == '*' && s[i] != '*' && all[i] != '*' {
				t.Fatalf("MaskRRN(%q) = %q masks byte %d, MaskContacts = %q does not", s, rrnOnly, i, all)
			}
		}
	})
}
