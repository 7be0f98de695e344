package privacy

import "strings"

// wanted is what a pass looks for.
type wanted uint8

const (
	wantRRN      wanted = iota // resident registration numbers alone
	wantContacts               // phone, card and account-like numbers
)

// Bounds of a number, and of the scanner's memory.
const (
	// maxGroups bounds the groups one number spans ("+33 1 23 45 67 89",
	// "+82 (0)10 1234 5678", a card of 4+4+4+4+3), which keeps a scan
	// linear however many groups a text chains.
	maxGroups = 6
	// maxDigits is the longest number of any kind (a 19-digit card).
	maxDigits        = 19
	rrnDigits        = 13
	minContactDigits = 9 // 02 and seven digits
	// window is how many groups of a chain the scanner holds at once; a
	// longer chain is classified as it goes.
	window = 32
	// maxSpaces bounds the spaces on either side of a separator's mark.
	maxSpaces = 3
)

// script is the writing of a digit: numerals (ASCII or full-width, which
// may mix within a group) or Hangul words.
type script uint8

const (
	numeral script = iota + 1 // 0–9, ０–９
	hangul                    // 공 영 일 이 삼 사 오 육 칠 팔 구
)

// sep says what a separator between two groups was made of.
type sep uint8

const (
	sepSpace sep = 1 << iota // one or more spaces
	sepDash                  // a hyphen, dash or minus sign
	sepDot                   // a dot
	sepOther                 // an underscore or a slash
	sepWord                  // 에, 다시 or 대시
	sepParen                 // a '(' or ')' of a bracketed group
)

// group is one run of digits of one script.
type group struct {
	start, end int // the bytes of its digits
	n          int // how many digits
	plus       bool
	open       bool // a '(' right before it
	paren      bool // open, and closed by ')' right after it
	soft       bool // Hangul digits ending in 이 that runs into a particle
}

// scanner finds the chains of s and masks what they hold. It keeps a
// fixed window of groups, so a scan allocates nothing until it masks.
type scanner struct {
	s    string
	want wanted
	out  []byte // s with masks, made at the first one

	gs   [window]group
	seps [window]sep // seps[k] is the separator before gs[k]
	n    int
}

func (sc *scanner) scan() {
	s := sc.s
	next := -1 // where a group must start to continue the chain
	var nextSep sep
	nextOpen := false
	for i := 0; i < len(s); {
		// Most bytes start no digit: skip them before decoding anything.
		if c := s[i]; c < 0x80 && (c < '0' || c > '9') || c >= 0x80 && (c < 0xEA || c > 0xEF) {
			i++
			continue
		}
		d, w, scr := digitAt(s, i)
		if w == 0 {
			i++
			continue
		}
		if scr == hangul && syllableBefore(s, i) {
			i += w // inside a word: not a number word
			continue
		}
		g := group{start: i}
		for {
			g.n++
			i += w
			d2, w2, scr2 := digitAt(s, i)
			if w2 == 0 || scr2 != scr {
				break
			}
			d, w = d2, w2
		}
		g.end = i
		g.soft = scr == hangul && d == '2' && g.n > 1 && syllableAt(s, g.end)
		var sp sep
		if g.start == next {
			sp, g.open = nextSep, nextOpen
		} else {
			sc.flush()
			g.plus, g.open = plusBefore(s, g.start), openBefore(s, g.start)
		}
		next, nextSep, nextOpen, g.paren = separatorAfter(s, g.end, g.open)
		sc.push(g, sp)
	}
	sc.flush()
}

func (sc *scanner) push(g group, sp sep) {
	if sc.n == window {
		sc.classify(false)
	}
	sc.gs[sc.n], sc.seps[sc.n] = g, sp
	sc.n++
}

func (sc *scanner) flush() { sc.classify(true) }

// classify tries each start of the chain held: every one when the chain
// has ended (final), otherwise those whose longest run lies in the
// window with a group after it; the groups before the next start are then
// dropped.
func (sc *scanner) classify(final bool) {
	i := 0
	for i < sc.n && (final || i+maxGroups < sc.n) {
		i = sc.at(i)
	}
	if final || i >= sc.n {
		sc.n = 0
		return
	}
	copy(sc.gs[:], sc.gs[i:sc.n])
	copy(sc.seps[:], sc.seps[i:sc.n])
	sc.n -= i
}

// at takes the longest run from group i that is a number, masks it and
// returns where to go on; i+1 when there is none.
func (sc *scanner) at(i int) int {
	last := min(sc.n, i+maxGroups)
	nd := 0
	for k := i; k < last; k++ {
		nd += sc.gs[k].n
	}
	if nd < minContactDigits || sc.want == wantRRN && nd < rrnDigits {
		return i + 1 // no run from i is long enough
	}
	// The runs from i are prefixes of the longest: read its digits once.
	var buf [maxDigits]byte
	d := buf[:0]
	for k := i; k < last && len(d) < maxDigits; k++ {
		for p, end := sc.gs[k].start, sc.gs[k].end; p < end && len(d) < maxDigits; {
			c, w, _ := digitAt(sc.s, p)
			d = append(d, c)
			p += w
		}
	}
	for j := last; j > i; j-- {
		if next, ok := sc.try(i, j, d, nd); ok {
			return next
		}
		// "오육칠팔이에요": the 이 may be the particle's.
		if g := &sc.gs[j-1]; g.soft {
			saved := *g
			g.end -= len("이")
			g.n--
			g.soft = false
			if next, ok := sc.try(i, j, d, nd-1); ok {
				return next
			}
			*g = saved
		}
		nd -= sc.gs[j-1].n
	}
	return i + 1
}

// try masks groups i..j-1, which hold nd digits (the first of them in d),
// if they are one number, and returns where to go on: after them, or at
// the digits they leave visible at their end, which start a chain of
// their own (as the next pass would see them).
func (sc *scanner) try(i, j int, d []byte, nd int) (int, bool) {
	if sc.want == wantRRN && nd != rrnDigits || nd < minContactDigits || nd > maxDigits {
		return 0, false
	}
	gs := sc.gs[i:j]
	num := number{d: d[:nd], g: gs, sp: sc.seps[i+1 : j], before: sc.seps[i]}
	if j < sc.n {
		num.after = sc.seps[j]
	}
	var keepFirst, keepLast int
	switch {
	case sc.want == wantRRN:
		if !isRRN(num) {
			return 0, false
		}
		if _, ok := koreanInternational(num, gs[0].plus); ok && gs[0].plus {
			return 0, false // "+8201012345678" is a phone number
		}
		keepFirst = 7
	case isCard(num):
		keepLast = 4
	default:
		k, ok := phonePrefix(num)
		if !ok && !isAccount(num) {
			return 0, false
		}
		keepFirst, keepLast = k, 4
	}
	sc.mask(gs, keepFirst, keepLast)
	return sc.rest(i, j, keepLast), true
}

// mask replaces the digits of gs with '*' or '＊', but for the first
// keepFirst and the last keepLast.
func (sc *scanner) mask(gs []group, keepFirst, keepLast int) {
	if sc.out == nil {
		sc.out = []byte(sc.s)
	}
	total := 0
	for _, g := range gs {
		total += g.n
	}
	k := 0
	for _, g := range gs {
		for p := g.start; p < g.end; {
			_, w, _ := digitAt(sc.s, p)
			if k >= keepFirst && k < total-keepLast {
				if w == 1 {
					sc.out[p] = '*'
				} else {
					copy(sc.out[p:], "＊")
				}
			}
			k++
			p += w
		}
	}
}

// rest makes the last keepLast digits of groups i..j-1, which stay
// visible, the start of a new chain, and returns its index.
func (sc *scanner) rest(i, j, keepLast int) int {
	for k := j - 1; k >= i && keepLast > 0; k-- {
		g := &sc.gs[k]
		if g.n < keepLast {
			keepLast -= g.n
			continue
		}
		for ; g.n > keepLast; g.n-- {
			_, w, _ := digitAt(sc.s, g.start)
			g.start += w
		}
		g.plus, g.open, g.paren = false, false, false
		sc.seps[k] = 0
		return k
	}
	return j
}

// number is a run of groups being classified: its digits (ASCII), its
// groups, the separators between them (sp[k] between g[k] and g[k+1]),
// and those that chain it to the groups before and after it (0: none).
type number struct {
	d             []byte
	g             []group
	sp            []sep
	before, after sep
}

// innerParens reports whether a separator inside the number, other than
// those next to group k (-1: none), holds a bracket.
func (n number) innerParens(k int) bool {
	for i, s := range n.sp {
		if s&sepParen != 0 && i != k-1 && i != k {
			return true
		}
	}
	return false
}

func isRRN(n number) bool {
	switch len(n.g) {
	case 1:
	case 2:
		if n.g[0].n != 6 {
			return false
		}
	case 4:
		if n.g[0].n != 2 || n.g[1].n != 2 || n.g[2].n != 2 {
			return false
		}
	default:
		return false
	}
	d := n.d
	return len(d) == rrnDigits && d[6] >= '1' && d[6] <= '8' && isDate(d[2:6])
}

// isDate reports whether md (four digits, MMDD) is a day of the year.
func isDate(md []byte) bool {
	month := int(md[0]-'0')*10 + int(md[1]-'0')
	day := int(md[2]-'0')*10 + int(md[3]-'0')
	if month < 1 || month > 12 || day < 1 {
		return false
	}
	return day <= [...]int{31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[month-1]
}

func isCard(n number) bool {
	if len(n.d) < 13 || !luhn(n.d) || n.innerParens(-1) {
		return false
	}
	for i, g := range n.g {
		if len(n.g) > 1 && (g.n > 6 || i < len(n.g)-1 && g.n < 4) {
			return false
		}
	}
	return true
}

// luhn reports whether d (digits only) passes the Luhn check.
func luhn(d []byte) bool {
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

// phonePrefix reports whether n is a phone number and how many of its
// leading digits stay visible (country and area codes).
func phonePrefix(n number) (int, bool) {
	plus := n.g[0].plus
	if len(n.d) >= 2 && n.d[0] == '8' && n.d[1] == '2' && (plus || len(n.g) >= 3 && n.g[0].n == 2) {
		if k, ok := koreanInternational(n, plus); ok {
			return k, true
		}
	}
	if plus {
		return foreign(n)
	}
	return domestic(n)
}

// domestic: a Korean number written as at home, "010-1234-5678".
func domestic(n number) (int, bool) {
	area := areaCode(n.d)
	if area == 0 || !subscriber(len(n.d)-area) {
		return 0, false
	}
	paren := -1
	if n.g[0].paren {
		paren = 0
	}
	if n.innerParens(paren) || !shaped(n.g, area) {
		return 0, false
	}
	return area, true
}

// koreanInternational: "+82 10-1234-5678", "82-2-123-4567",
// "+82 (0)10 1234 5678", "+821012345678".
func koreanInternational(n number, plus bool) (int, bool) {
	if len(n.g) == 1 {
		national, keep := n.d[2:], 2
		if len(national) > 0 && national[0] == '0' {
			national, keep = national[1:], 3
		}
		area := areaCode0(national)
		if !plus || area == 0 || !subscriber(len(national)+1-area) {
			return 0, false
		}
		return keep + area - 1, true
	}
	if n.g[0].n != 2 {
		return 0, false
	}
	rest, digits, keep, drop := n.g[1:], n.d[2:], 2, 0
	paren := -1
	if rest[0].n == 1 && digits[0] == '0' && len(rest) > 1 { // "(0)"
		if rest[0].paren {
			paren = 1
		}
		rest, digits, keep = rest[1:], digits[1:], 3
	} else if digits[0] == '0' { // "+82 010-…": the 0 kept by mistake
		if rest[0].n == 1 {
			return 0, false
		}
		digits, keep, drop = digits[1:], 3, 1
	}
	if n.innerParens(paren) {
		return 0, false
	}
	area := areaCode0(digits)
	if area == 0 || !subscriber(len(digits)+1-area) {
		return 0, false
	}
	if len(rest) == 1 {
		if !plus {
			return 0, false // "82 1012345678" is too much like any number
		}
	} else if !shaped(rest, area-1+drop) {
		return 0, false
	}
	return keep + area - 1, true
}

// foreign: '+' and 10–15 digits; the country code stays visible when it
// is a group of its own.
func foreign(n number) (int, bool) {
	if len(n.d) < 10 || len(n.d) > 15 {
		return 0, false
	}
	paren := -1
	if len(n.g) > 2 && n.g[1].paren {
		paren = 1 // "+1 (415) 555-2671"
	}
	if n.innerParens(paren) {
		return 0, false
	}
	if len(n.g) > 1 && n.g[0].n <= 3 {
		return n.g[0].n, true
	}
	return 0, true
}

// shaped reports whether groups write a national number whose area code
// is area digits long: one run, the area code and the subscriber part, or
// the area code, 3–4 and 4 digits.
func shaped(gs []group, area int) bool {
	switch len(gs) {
	case 1:
		return true
	case 2:
		return gs[0].n == area
	case 3:
		return gs[0].n == area && (gs[1].n == 3 || gs[1].n == 4) && gs[2].n == 4
	}
	return false
}

func subscriber(n int) bool { return n == 7 || n == 8 }

// areaCode is the length of the area or service prefix that national
// (which must start with 0) begins with, or 0 when it is not a personal
// number: 080 free lines, 060 and the rest.
func areaCode(national []byte) int {
	if len(national) < 3 || national[0] != '0' {
		return 0
	}
	a, b := national[1], national[2]
	switch {
	case a == '2':
		return 2 // Seoul
	case a == '1' && strings.IndexByte("016789", b) >= 0:
		return 3 // mobile
	case a >= '3' && a <= '6' && b >= '1' && b <= '5' && !(a == '3' && b > '3') && !(a == '4' && b > '4') && !(a == '6' && b == '5'):
		return 3 // regional: 031–033, 041–044, 051–055, 061–064
	case a == '7' && b == '0':
		return 3 // internet telephony
	case a == '5' && b == '0' && len(national) > 3 && national[3] >= '2' && national[3] <= '8':
		return 4 // safe (virtual) numbers
	}
	return 0
}

// areaCode0 is areaCode of the national number without its leading 0.
func areaCode0(rest []byte) int {
	var buf [4]byte
	buf[0] = '0'
	m := copy(buf[1:], rest)
	return areaCode(buf[:1+m])
}

// isAccount: dash-joined groups in the shapes Korean banks print.
func isAccount(n number) bool {
	if len(n.g) < 3 || len(n.g) > 4 || len(n.d) < 10 || len(n.d) > 14 {
		return false
	}
	for _, s := range n.sp {
		if s != sepDash {
			return false
		}
	}
	if n.before == sepDash || n.after == sepDash {
		return false // part of a longer dashed number
	}
	for i, g := range n.g {
		last := i == len(n.g)-1
		if g.n > 7 || !last && g.n < 2 {
			return false
		}
	}
	if f := n.g[0].n; f < 3 || f > 6 {
		return false
	}
	if len(n.g) == 3 && n.g[0].n == 3 && n.g[1].n == 2 && n.g[2].n == 5 {
		return false // a business registration number
	}
	if n.d[0] == '0' && len(n.g) == 3 && (n.g[1].n == 3 || n.g[1].n == 4) && n.g[2].n == 4 {
		return false // shaped as a phone number, but none of a person: 080, 060
	}
	if n.g[0].n == 4 && n.g[1].n == 2 && (string(n.d[:2]) == "19" || string(n.d[:2]) == "20") {
		month := int(n.d[4]-'0')*10 + int(n.d[5]-'0')
		if month >= 1 && month <= 12 {
			return false // a date
		}
	}
	return true
}

// Reading digits, separators and marks.

// digitAt reads the digit at s[i:]: its value ('0'–'9'), its width in bytes
// and its script; width 0 when none starts there.
func digitAt(s string, i int) (byte, int, script) {
	if i >= len(s) {
		return 0, 0, 0
	}
	c := s[i]
	if c >= '0' && c <= '9' {
		return c, 1, numeral
	}
	if c < 0xEA || c > 0xEF || len(s)-i < 3 {
		return 0, 0, 0
	}
	c1, c2 := s[i+1], s[i+2]
	if c == 0xEF {
		if c1 == 0xBC && c2 >= 0x90 && c2 <= 0x99 {
			return '0' + c2 - 0x90, 3, numeral
		}
		return 0, 0, 0
	}
	if c == 0xEE || c1&0xC0 != 0x80 || c2&0xC0 != 0x80 {
		return 0, 0, 0
	}
	switch rune(c&0x0F)<<12 | rune(c1&0x3F)<<6 | rune(c2&0x3F) {
	case '공', '영':
		return '0', 3, hangul
	case '일':
		return '1', 3, hangul
	case '이':
		return '2', 3, hangul
	case '삼':
		return '3', 3, hangul
	case '사':
		return '4', 3, hangul
	case '오':
		return '5', 3, hangul
	case '육':
		return '6', 3, hangul
	case '칠':
		return '7', 3, hangul
	case '팔':
		return '8', 3, hangul
	case '구':
		return '9', 3, hangul
	}
	return 0, 0, 0
}

// syllableAt reports whether a Hangul syllable (U+AC00–U+D7A3) starts at
// s[i:].
func syllableAt(s string, i int) bool {
	if len(s)-i < 3 {
		return false
	}
	c, c1, c2 := s[i], s[i+1], s[i+2]
	if c < 0xEA || c > 0xED || c1&0xC0 != 0x80 || c2&0xC0 != 0x80 {
		return false
	}
	r := rune(c&0x0F)<<12 | rune(c1&0x3F)<<6 | rune(c2&0x3F)
	return r >= 0xAC00 && r <= 0xD7A3
}

func syllableBefore(s string, i int) bool { return i >= 3 && syllableAt(s, i-3) }

func plusBefore(s string, i int) bool {
	return i >= 1 && s[i-1] == '+' || i >= 3 && s[i-3:i] == "＋"
}

func openBefore(s string, i int) bool {
	return i >= 1 && s[i-1] == '(' || i >= 3 && s[i-3:i] == "（"
}

// separatorAfter reads what follows a group ending at e: where a group
// must start to continue the chain (-1: none can), what the separator is
// made of, whether that next group is opened by '(', and whether this one
// (open when it came after a '(') is closed by ')'.
func separatorAfter(s string, e int, open bool) (next int, sp sep, nextOpen, closed bool) {
	j := e
	if open {
		if w := prefixWidth(s[j:], ")", "）"); w > 0 {
			j += w
			sp |= sepParen
			closed = true
		}
	}
	before, j := spaces(s, j)
	if before > maxSpaces {
		return -1, 0, false, closed
	}
	if before > 0 {
		sp |= sepSpace
	}
	word := false
	if k, w := markAt(s, j); w > 0 {
		j += w
		sp |= k
	} else if before == 0 && !closed && strings.HasPrefix(s[j:], "에") {
		j += len("에")
		sp |= sepWord
		word = true
	} else if w := prefixWidth(s[j:], "다시", "대시"); before > 0 && w > 0 {
		j += w
		sp |= sepWord
		word = true
	}
	after, j := spaces(s, j)
	if after > maxSpaces || word && after == 0 {
		return -1, 0, false, closed
	}
	if after > 0 {
		sp |= sepSpace
	}
	if w := prefixWidth(s[j:], "(", "（"); w > 0 && j+w < len(s) {
		if _, dw, _ := digitAt(s, j+w); dw > 0 {
			j += w
			sp |= sepParen
			nextOpen = true
		}
	}
	if sp == 0 || j >= len(s) {
		return -1, 0, false, closed
	}
	return j, sp, nextOpen, closed
}

// spaces counts the spaces at s[j:] (stopping one past maxSpaces) and
// returns where they end.
func spaces(s string, j int) (int, int) {
	n := 0
	for n <= maxSpaces && j < len(s) {
		w := spaceAt(s, j)
		if w == 0 {
			break
		}
		j += w
		n++
	}
	return n, j
}

// spaceAt is the width of the space at s[j:], 0 when there is none:
// space, tab, no-break space, the spaces U+2000–U+200A, zero-width
// space, (non-)joiners, narrow no-break space, word joiner, ideographic
// space and the byte order mark.
func spaceAt(s string, j int) int {
	switch c := s[j]; {
	case c == ' ' || c == '\t':
		return 1
	case c == 0xC2:
		if j+1 < len(s) && s[j+1] == 0xA0 {
			return 2
		}
	case c == 0xE2 && len(s)-j >= 3:
		c1, c2 := s[j+1], s[j+2]
		if c1 == 0x80 && (c2 >= 0x80 && c2 <= 0x8D || c2 == 0xAF) || c1 == 0x81 && c2 == 0xA0 {
			return 3
		}
	case c == 0xE3:
		if strings.HasPrefix(s[j:], "\u3000") {
			return 3
		}
	case c == 0xEF:
		if strings.HasPrefix(s[j:], "\uFEFF") {
			return 3
		}
	}
	return 0
}

// markAt reads a separator mark at s[j:]: its kind and width. Dashes:
// hyphen-minus, soft hyphen, U+2010–U+2015, minus sign, small and
// full-width hyphen-minus; dots: full stop, middle dot, katakana middle
// dot, full-width full stop; others: underscore and slash, ASCII and
// full-width.
func markAt(s string, j int) (sep, int) {
	if j >= len(s) {
		return 0, 0
	}
	switch c := s[j]; c {
	case '-':
		return sepDash, 1
	case '.':
		return sepDot, 1
	case '_', '/':
		return sepOther, 1
	case 0xC2:
		if j+1 < len(s) {
			switch s[j+1] {
			case 0xAD:
				return sepDash, 2
			case 0xB7:
				return sepDot, 2
			}
		}
		return 0, 0
	case 0xE2, 0xE3, 0xEF:
	default:
		return 0, 0
	}
	if len(s)-j < 3 {
		return 0, 0
	}
	switch r := rune(s[j]&0x0F)<<12 | rune(s[j+1]&0x3F)<<6 | rune(s[j+2]&0x3F); {
	case r >= 0x2010 && r <= 0x2015, r == 0x2212, r == 0xFE58, r == 0xFE63, r == 0xFF0D:
		return sepDash, 3
	case r == 0x30FB, r == 0xFF0E:
		return sepDot, 3
	case r == 0xFF3F, r == 0xFF0F:
		return sepOther, 3
	}
	return 0, 0
}

// prefixWidth is the length of whichever of a and b s starts with, or 0.
func prefixWidth(s, a, b string) int {
	switch {
	case strings.HasPrefix(s, a):
		return len(a)
	case strings.HasPrefix(s, b):
		return len(b)
	}
	return 0
}
