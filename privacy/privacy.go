// Package privacy owns tellonce's personal-data detection and masking.
// Korean resident registration numbers (RRN, 주민등록번호) are masked before
// anything is stored, for everyone. Phone, card and bank-account numbers
// are stored, and masked when read by someone without the pii permission.
// docs/privacy.md says where each rule is applied and for whom.
//
// # How numbers are read
//
// Text is read as chains of digit groups. A digit is an ASCII digit, a
// full-width digit (０–９), or a sino-Korean digit word as speech-to-text
// writes it when it does not turn digits into numerals: 공 and 영 (0), 일,
// 이, 삼, 사, 오, 육, 칠, 팔, 구 (1–9). A group is a run of numerals (ASCII
// and full-width may mix) or a run of Hangul digits. Hangul digits count
// only at the start of a word (not preceded by another Hangul syllable):
// "통일이" holds no digits, while "오육칠팔입니다" holds 5678. A run of Hangul
// digits ending in 이 that runs straight into a particle ("오육칠팔이에요")
// is also read without that 이. Hangul digits are read this far and no
// further because ordinary words start with them (이사, 오늘, 공공, 구청):
// a number needs a whole chain of digit words in one of the shapes below,
// which prose does not produce.
//
// Groups are chained by one separator: up to three spaces (including
// no-break, ideographic, thin and zero-width spaces), then at most one
// mark, then up to three spaces — at least one of them. A mark is a dash
// (hyphen-minus, soft hyphen, the hyphens and dashes U+2010–U+2015 — en
// and em dash among them —, minus sign U+2212, small and full-width
// hyphen-minus), a dot ('.', '·', '・', '．'), an underscore or a slash
// (ASCII or full-width). Speech-to-text separators count too: "에" glued to
// a group and followed by a space ("공일공에 일이삼사에 오육칠팔"), and the
// word "다시" or "대시" between spaces ("구공공일공일 다시 일이삼사오육칠").
// A group right after '(' and right before ')' is bracketed: "(02)123-4567".
// A '+' right before a chain marks an international number. Commas, colons,
// tildes, newlines and letters end a chain, so amounts ("1,234,567원"),
// times ("09:30") and ranges ("1~3") never join into a number; letters
// around a number do not hide it ("번호는900101-1234567이에요",
// "HP010-1234-5678").
//
// Within a chain, the longest run of at most six groups that forms one of
// the numbers below is masked, from the left; what is left of the chain is
// tried again. So "2024.03.01 010-1234-5678" masks the phone number and
// leaves the date.
//
// # What is masked
//
//   - RRN: thirteen digits — six that read as a date (YYMMDD: a real month
//     and day, 29 February allowed) and a back part whose first digit is 1–8
//     (1–4 citizens, 5–8 registered foreigners) — written as one run, as 6
//     and 7 digits, or as 2, 2, 2 and 7, with any separator above:
//     "900101-1234567", "900101 - 1234567", "900101–1234567",
//     "900101.1234567", "9001011234567", "구공공일공일 다시 일이삼사오육칠".
//     Masked to keep the birth date and the first back digit:
//     "900101-1******". The check digit is not verified: numbers issued
//     since October 2020 have none, and a mistyped number is still
//     personal. What is not masked: a run that is not a valid date, a back
//     part starting with 0 or 9, other lengths, or digits glued to more
//     digits ("1900101-1234567"). A corporate registration number whose
//     first six digits happen to read as a date (110111-1234567) is masked
//     too: at storage there is no telling them apart. A '+' and thirteen
//     digits starting with 82 that make a Korean phone number
//     ("+8201012345678") are that phone number.
//   - Card: 13 to 19 digits passing the Luhn check, as one run or in groups
//     of 4–6 digits (the last may be shorter), separators as above:
//     "4111 1111 1111 1111", "4111.1111.1111.1111", "3782 822463 10005".
//     Masked but for the last four digits: "**** **** **** 1111".
//   - Phone, Korean: an area code — mobile 010/011/016/017/018/019, Seoul
//     02, the regional codes 031–033, 041–044, 051–055, 061–064, 070 and the
//     050x safe numbers — and a subscriber part of 7 or 8 digits. Written as
//     one run ("01012345678"), as area code and subscriber part
//     ("010-12345678"), or as area code, 3–4 and 4 digits ("010 1234-5678",
//     "(02)123-4567", "010–1234–5678"). Internationally with +82 or 82 in
//     its own group, the area code without its 0, with it, or with "(0)":
//     "+82 10-1234-5678", "82-10-1234-5678", "+82 (0)2 123 4567",
//     "+821012345678" (a single run needs the '+'). Masked but for the
//     country and area codes and the last four digits: "010-****-5678",
//     "+82 10-****-5678".
//   - Phone, elsewhere: '+' and 10–15 digits ("+1 415 555 2671",
//     "+44 20 7946 0958"); the first group stays when it is three digits or
//     fewer (the country code), and the last four: "+1 *** *** 2671".
//     Without '+' a foreign number is not recognised.
//   - Account-like: three or four groups joined by dashes alone (no
//     spaces), 10 to 14 digits, the first group 3–6 digits, only the last
//     may be a single digit: the shapes Korean banks print
//     ("110-123-456789", "1002-123-456789", "352-1234-5678-13",
//     "3333-01-1234567"). Masked but for the last four digits. Not masked:
//     the same digits with spaces or dots, single runs (order, tracking and
//     case numbers look the same), "123-45-67890" (a business registration
//     number, which is public), runs that begin with a date
//     ("2024-03-..."), runs that are part of a longer dash-joined chain,
//     and phone-shaped runs starting with 0 that are no person's number
//     ("080-123-4567").
//
// Only RRNs are masked at storage. A number masked at storage is
// destroyed for good; phone numbers are needed whole (to call back, by
// readers with pii), and nothing tells an account number from an order,
// tracking or reference number of the same shape, which must survive.
//
// Never masked: service numbers (1588-1234, 080 free lines, 060), the
// short public lines (110, 112, 119, 1339), dates, times and amounts,
// numbers read out positionally (삼천이백 — only digit-by-digit reading is
// recognised), native Korean numbers (하나, 둘), and numbers split by other
// marks (commas, colons, tildes, newlines) or with letters between their
// digits.
//
// # Properties
//
// Masking replaces digits, one by one, with '*' (an ASCII digit) or '＊'
// (a full-width or Hangul digit), so the text keeps its length in bytes
// and in characters. It is idempotent: masking masked text changes
// nothing, and masked text holds nothing left to mask. It runs in time
// linear in the text, and text with nothing to mask is returned as it is,
// without allocating.
package privacy

import (
	"maps"
	"slices"
)

// MaskRRN masks every resident registration number in s; everything else
// is kept. This is what is applied to any text before it is stored.
func MaskRRN(s string) string { return mask(s, false) }

// MaskContacts masks every resident registration, phone, card and
// account-like number in s: the read view for someone without the pii
// permission.
func MaskContacts(s string) string { return mask(s, true) }

// Mask is MaskContacts, or MaskRRN alone when pii is true.
func Mask(s string, pii bool) string { return mask(s, !pii) }

// ContainsContact reports whether s holds a resident registration, phone,
// card or account-like number, in any form the masking recognises: a
// search for one is a search by personal data.
func ContainsContact(s string) bool { return MaskContacts(s) != s }

// MaskMap is m with Mask(·, pii) applied to every key and every value, or
// m itself when nothing changes (no copy, no allocation). Keys that mask
// alike become one; the value kept is that of the key first in byte order.
func MaskMap(m map[string]string, pii bool) map[string]string {
	changed := false
	for k, v := range m {
		if Mask(k, pii) != k || Mask(v, pii) != v {
			changed = true
			break
		}
	}
	if !changed {
		return m
	}
	out := make(map[string]string, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		mk := Mask(k, pii)
		if _, taken := out[mk]; !taken {
			out[mk] = Mask(m[k], pii)
		}
	}
	return out
}

// maxPasses bounds the passes of each kind. One pass masks what it finds
// and the next confirms nothing is left; more are needed only when the
// digits a match leaves visible join neighbours into a new number
// ("900101-1001011234567": once the second RRN is masked, the first six
// digits and the seven kept form one).
const maxPasses = 4

// mask masks RRNs, and phone, card and account numbers too when contacts
// is set. RRNs go first, in passes of their own, so that no other kind
// can take an RRN's digits into a longer match and leave its back part
// behind; the other kinds keep at most four digits of a group visible,
// too few to form any part of an RRN, so they cannot make a new one.
// Passes repeat until nothing changes, so that the result is a fixed
// point: masking it again changes nothing. Text with nothing to mask costs
// one scan per kind.
func mask(s string, contacts bool) string {
	s = fixed(s, wantRRN)
	if contacts {
		s = fixed(s, wantContacts)
	}
	return s
}

// fixed repeats pass until it changes nothing.
func fixed(s string, want wanted) string {
	for range maxPasses {
		out := pass(s, want)
		if out == s {
			break
		}
		s = out
	}
	return s
}

// pass masks what one scan finds. It returns s itself when nothing needs
// masking, so clean text costs no allocation.
func pass(s string, want wanted) string {
	sc := scanner{s: s, want: want}
	sc.scan()
	if sc.out == nil {
		return s
	}
	return string(sc.out)
}
