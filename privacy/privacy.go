// Package privacy owns tellonce's personal-data detection and masking:
// Korean resident registration numbers (RRN, 주민등록번호), which are masked
// before anything is stored, and phone and card numbers, which are stored
// but masked when read by someone without the pii permission.
//
// # What counts as what
//
// The text is read as chains of ASCII digit groups joined by single
// separators ('-', ' ', '.'), a chain possibly starting with '+'. Within a
// chain, the longest run of groups that forms one of the numbers below is
// masked, from the left; what is left of the chain is tried again. So
// "2024.03.01 010-1234-5678" masks the phone number and leaves the date.
//
//   - RRN: six digits that read as a date (YYMMDD: month 01–12, day
//     01–31), then a back part of seven digits whose first digit is 1–8
//     (1–4 citizens, 5–8 registered foreigners): "900101-1234567",
//     "900101 1234567" (speech-to-text writes spaces) or "9001011234567".
//     Masked to keep the birth date and the first back digit:
//     "900101-1******". A 13-digit run that is not a valid date, or whose
//     seventh digit is 0 or 9, is not taken for an RRN: account and order
//     numbers are common in complaints, and masking them at storage would
//     destroy them for good.
//   - Card: 13 to 19 digits passing the Luhn check, written as one run or
//     in groups of 4–6 digits (the last may be shorter) with one kind of
//     separator, '-' or ' '. Masked but for the last four digits:
//     "**** **** **** 1111".
//   - Phone: a Korean number: mobile 010/011/016/017/018/019, Seoul 02,
//     the regional codes 031–064, 070 and the 050x safe numbers, with a
//     subscriber part of 7 or 8 digits; domestic ("010-1234-5678",
//     "02 123 4567", "01012345678") or international ("+82 10-1234-5678",
//     "+82-2-123-4567", "+821012345678"). Masked but for the prefix and the
//     last four digits: "010-****-5678". Service numbers such as 1588-xxxx
//     and the three-digit public lines (110, 1339) are not personal and
//     stay.
//
// Only ASCII digits count: full-width digits (０-９) are left as they are.
// Masking is idempotent: '*' is not a digit, so masked text holds nothing
// to mask again.
package privacy

import "strings"

// kind is what a run of digit groups turned out to be.
type kind int

const (
	none kind = iota
	rrn
	card
	phone
)

// Fewest digits each kind holds: text with fewer needs no scan.
const (
	minRRNDigits     = 13
	minContactDigits = 9 // 02 and seven digits
	// maxGroups bounds the groups one number spans (a card of 4+4+4+4+3),
	// which keeps a scan linear however many numbers a text chains.
	maxGroups = 5
)

// MaskRRN masks every resident registration number in s; everything else
// is kept. This is what the case log applies before it stores any text.
func MaskRRN(s string) string { return mask(s, false) }

// MaskContacts masks every phone and card number (and any RRN) in s: the
// read view for someone without the pii permission.
func MaskContacts(s string) string { return mask(s, true) }

// Mask is MaskContacts, or MaskRRN alone when pii is true.
func Mask(s string, pii bool) string { return mask(s, !pii) }

// ContainsContact reports whether s holds a phone, card or resident
// registration number: a search for one is a search by personal data.
func ContainsContact(s string) bool { return MaskContacts(s) != s }

// span is one digit group of a chain: s[start:end] are its digits.
type span struct {
	start, end int
}

func (g span) n() int { return g.end - g.start }

// mask masks RRNs, and phone and card numbers too when contacts is set.
// RRNs go first, in a pass of their own, so that no other kind can take
// an RRN's digits into a longer match; and passes repeat until nothing
// changes, so that the result is a fixed point: masking it again changes
// nothing, and it holds nothing that would be masked.
func mask(s string, contacts bool) string {
	for {
		out := pass(s, rrn)
		if contacts {
			out = pass(out, phone)
		}
		if out == s {
			return s
		}
		s = out
	}
}

// pass masks what one scan finds: RRNs alone (want == rrn), or phone and
// card numbers (want == phone). It returns s itself when nothing needs
// masking, so clean text costs no allocation.
func pass(s string, want kind) string {
	least := minRRNDigits
	if want != rrn {
		least = minContactDigits
	}
	if countDigits(s) < least {
		return s
	}
	var b []byte
	scan(s, want, func(groups []span, k kind) {
		if b == nil {
			b = []byte(s)
		}
		keepFirst, keepLast := 0, 4
		switch k {
		case rrn:
			keepFirst, keepLast = 7, 0
		case phone:
			keepFirst = phonePrefix(s, groups)
		}
		maskDigits(b, groups, keepFirst, keepLast)
	})
	if b == nil {
		return s
	}
	return string(b)
}

func countDigits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			n++
		}
	}
	return n
}

// maskDigits replaces the digits of groups with '*', but for the first
// keepFirst and the last keepLast of them.
func maskDigits(b []byte, groups []span, keepFirst, keepLast int) {
	total := 0
	for _, g := range groups {
		total += g.n()
	}
	i := 0
	for _, g := range groups {
		for p := g.start; p < g.end; p++ {
			if i >= keepFirst && i < total-keepLast {
				b[p] = '*'
			}
			i++
		}
	}
}

// scan finds the chains of digit groups in s and calls found for every
// run of groups that is a number of the kinds wanted.
func scan(s string, want kind, found func(groups []span, k kind)) {
	var chain []span
	var seps []byte
	plus := false
	flush := func() {
		if len(chain) > 0 {
			classifyChain(s, chain, seps, plus, want, found)
		}
		chain, seps, plus = chain[:0], seps[:0], false
	}
	i := 0
	for i < len(s) {
		if !isDigit(s[i]) {
			i++
			continue
		}
		start := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		g := span{start, i}
		if len(chain) > 0 && chain[len(chain)-1].end == start-1 && isSep(s[start-1]) {
			chain = append(chain, g)
			seps = append(seps, s[start-1])
			continue
		}
		flush()
		plus = start >= 1 && s[start-1] == '+'
		chain = append(chain, g)
	}
	flush()
}

// classifyChain takes the longest run of groups that is a number from the
// left, repeatedly.
func classifyChain(s string, chain []span, seps []byte, plus bool, want kind, found func([]span, kind)) {
	for i := 0; i < len(chain); {
		taken := false
		for j := min(len(chain), i+maxGroups); j > i; j-- {
			if k := classify(s, chain[i:j], seps[i:j-1], plus && i == 0, want); k != none {
				found(chain[i:j], k)
				i, taken = j, true
				break
			}
		}
		if !taken {
			i++
		}
	}
}

// classify says what the groups are, as one number of the kinds wanted.
// seps are the separators between them; plus marks a leading '+'.
func classify(s string, groups []span, seps []byte, plus bool, want kind) kind {
	digits := digitsOf(s, groups)
	switch {
	case want == rrn:
		if !plus && isRRN(digits, groups, seps) {
			return rrn
		}
	case !plus && isCard(digits, groups, seps):
		return card
	case isPhone(digits, groups, seps, plus):
		return phone
	}
	return none
}

func digitsOf(s string, groups []span) string {
	if len(groups) == 1 {
		return s[groups[0].start:groups[0].end]
	}
	var b strings.Builder
	for _, g := range groups {
		b.WriteString(s[g.start:g.end])
	}
	return b.String()
}

func isRRN(d string, groups []span, seps []byte) bool {
	switch len(groups) {
	case 1:
	case 2:
		if groups[0].n() != 6 || seps[0] == '.' {
			return false
		}
	default:
		return false
	}
	if len(d) != 13 || d[6] < '1' || d[6] > '8' {
		return false
	}
	month := int(d[2]-'0')*10 + int(d[3]-'0')
	day := int(d[4]-'0')*10 + int(d[5]-'0')
	return month >= 1 && month <= 12 && day >= 1 && day <= 31
}

func isCard(d string, groups []span, seps []byte) bool {
	if len(d) < 13 || len(d) > 19 || !luhn(d) {
		return false
	}
	if len(groups) == 1 {
		return true
	}
	for i, g := range groups {
		last := i == len(groups)-1
		if g.n() > 6 || !last && g.n() < 4 {
			return false
		}
		if i > 0 && (seps[i-1] != seps[0] || seps[0] == '.') {
			return false
		}
	}
	return true
}

// luhn reports whether d (digits only) passes the Luhn check.
func luhn(d string) bool {
	sum := 0
	double := false
	for i := len(d) - 1; i >= 0; i-- {
		n := int(d[i] - '0')
		if double {
			n *= 2
			if n > 9 {
				n -= 9
			}
		}
		sum += n
		double = !double
	}
	return sum%10 == 0
}

// isPhone: a Korean number, domestic or after +82. The national number
// is an area code (with its leading 0) and a subscriber part of 7 or 8
// digits. Written in groups, it is the area code, 3–4 digits and 4 digits
// with one kind of separator, after "82" and any separator when
// international (where the area code loses its 0).
func isPhone(d string, groups []span, seps []byte, plus bool) bool {
	national := d
	if plus {
		rest, ok := strings.CutPrefix(d, "82")
		if !ok {
			return false
		}
		national = "0" + rest
	} else if d[0] != '0' {
		return false
	}
	area := areaCode(national)
	if area == 0 {
		return false
	}
	if sub := len(national) - area; sub != 7 && sub != 8 {
		return false
	}
	if len(groups) == 1 {
		return true
	}
	if plus {
		if groups[0].n() != 2 {
			return false
		}
		groups, seps = groups[1:], seps[1:]
		area--
		if len(groups) == 1 {
			return true // "+82 1012345678"
		}
	}
	if len(groups) != 3 || groups[0].n() != area || groups[2].n() != 4 || seps[0] != seps[1] {
		return false
	}
	m := groups[1].n()
	return m == 3 || m == 4
}

// areaCode is the length of the area or service prefix that national
// (which starts with 0) begins with, or 0 when it is not a personal number.
func areaCode(national string) int {
	if len(national) < 3 {
		return 0
	}
	switch {
	case national[1] == '2':
		return 2 // Seoul
	case national[1] == '1' && strings.IndexByte("016789", national[2]) >= 0:
		return 3 // mobile
	case national[1] >= '3' && national[1] <= '6' && national[2] >= '1' && national[2] <= '5':
		return 3 // regional
	case national[1] == '7' && national[2] == '0':
		return 3 // internet telephony
	case strings.HasPrefix(national, "050") && len(national) > 3 && national[3] >= '2' && national[3] <= '8':
		return 4 // safe (virtual) numbers
	}
	return 0
}

// phonePrefix is how many leading digits of a phone number stay visible:
// the country code and the area code.
func phonePrefix(s string, groups []span) int {
	d := digitsOf(s, groups)
	if groups[0].start >= 1 && s[groups[0].start-1] == '+' {
		return 2 + areaCode("0"+strings.TrimPrefix(d, "82")) - 1
	}
	return areaCode(d)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isSep(c byte) bool { return c == '-' || c == ' ' || c == '.' }
