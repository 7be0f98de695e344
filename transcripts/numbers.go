package transcripts

import (
	"strings"
	"unicode/utf8"
)

// Number searches. A number is written many ways — "010-1234-5678",
// "010 1234 5678", "010.1234.5678", "01012345678" — and a search typed
// one way must find the others. A search text made only of digits and
// separators is a number search: it matches wherever the text, with its
// separators taken out, holds the same digits in a row. Anything else
// keeps the plain substring match.

// numberSeparators are what a number search ignores between digits: the
// spaces and marks that join a number's groups in package privacy (every
// dash, dot, slash, underscore, middle dot and space it accepts), and
// brackets and '+', which a phone number wears.
var numberSeparators = []rune{
	' ', '\t', '\u00a0', '\u2009', '\u200b', '\u3000',
	'-', '\u00ad', '\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2015', '\u2212', '\ufe63', '\uff0d',
	'.', '\u00b7', '\u30fb', '\uff0e',
	'_', '/', '\uff0f',
	'(', ')', '+',
}

// minNumberDigits is the fewest digits a number search needs: shorter
// digit runs stay plain substring searches.
const minNumberDigits = 3

func isNumberSeparator(r rune) bool {
	for _, s := range numberSeparators {
		if r == s {
			return true
		}
	}
	return false
}

// digitValue is r as an ASCII digit (full-width digits too), or -1.
func digitValue(r rune) rune {
	switch {
	case r >= '0' && r <= '9':
		return r
	case r >= '０' && r <= '９':
		return '0' + r - '０'
	}
	return -1
}

// NumberQuery reports whether a search text is a number search, and its
// digits (ASCII): only digits and separators, at least minNumberDigits
// digits. The web layer asks it too, so that a search by a personal
// number typed in an unrecognised way ("0 1 0 1 2 3 4 …") is refused to a
// reader without pii as the number itself would be.
func NumberQuery(text string) (string, bool) {
	var b strings.Builder
	for _, r := range text {
		if d := digitValue(r); d >= 0 {
			b.WriteRune(d)
			continue
		}
		if !isNumberSeparator(r) {
			return "", false
		}
	}
	if b.Len() < minNumberDigits {
		return "", false
	}
	return b.String(), true
}

// indexDigits finds digits in s with separators ignored, as a number
// search matches: the byte offset and length in s of the first match, or
// -1. Masked digits ('*') are not digits, so a number search finds only
// what its reader sees.
func indexDigits(s, digits string) (int, int) {
	// norm is s's digits and non-separators, each with its offset in s.
	type at struct {
		r   rune
		off int
	}
	var norm []at
	for i, r := range s {
		if isNumberSeparator(r) {
			continue
		}
		if d := digitValue(r); d >= 0 {
			r = d
		}
		norm = append(norm, at{r, i})
	}
	want := []rune(digits)
	for i := 0; i+len(want) <= len(norm); i++ {
		k := 0
		for k < len(want) && norm[i+k].r == want[k] {
			k++
		}
		if k == len(want) {
			start := norm[i].off
			last := norm[i+k-1]
			_, size := utf8.DecodeRuneInString(s[last.off:])
			return start, last.off + size - start
		}
	}
	return -1, 0
}

// strippedSQL is the SQL expression of col with every number separator
// taken out and full-width digits made ASCII: the same on both backends
// (nested replace), so a number search finds the same rows on each.
func strippedSQL(col string) string {
	expr := col
	for _, r := range numberSeparators {
		expr = "replace(" + expr + ", '" + string(r) + "', '')"
	}
	for d := '０'; d <= '９'; d++ {
		expr = "replace(" + expr + ", '" + string(d) + "', '" + string('0'+d-'０') + "')"
	}
	return expr
}
