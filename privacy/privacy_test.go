package privacy

import (
	"bufio"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// corpusRow is one line of testdata/corpus.tsv.
type corpusRow struct {
	line                 int
	text, noPII, storage string
}

func readCorpus(t testing.TB) []corpusRow {
	t.Helper()
	f, err := os.Open("testdata/corpus.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []corpusRow
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Split(line, "\t")
		if len(fields) != 3 {
			t.Fatalf("corpus.tsv:%d: %d fields; want 3", n, len(fields))
		}
		for i, s := range fields {
			if strings.HasPrefix(s, `"`) {
				if fields[i], err = strconv.Unquote(s); err != nil {
					t.Fatalf("corpus.tsv:%d: field %d: %v", n, i+1, err)
				}
			}
		}
		r := corpusRow{line: n, text: fields[0], noPII: fields[1], storage: fields[2]}
		if r.noPII == "=" {
			r.noPII = r.text
		}
		if r.storage == "=" {
			r.storage = r.text
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestCorpus checks every form of testdata/corpus.tsv: what a reader
// without pii sees, what is stored, that a search for it counts as one by
// personal data exactly when something is masked, and that masking again
// changes nothing.
func TestCorpus(t *testing.T) {
	rows := readCorpus(t)
	if len(rows) < 200 {
		t.Errorf("the corpus holds %d forms; want at least 200", len(rows))
	}
	for _, r := range rows {
		if got := MaskContacts(r.text); got != r.noPII {
			t.Errorf("corpus.tsv:%d: MaskContacts(%q) = %q; want %q", r.line, r.text, got, r.noPII)
		}
		if got := Mask(r.text, false); got != r.noPII {
			t.Errorf("corpus.tsv:%d: Mask(%q, false) = %q; want %q", r.line, r.text, got, r.noPII)
		}
		if got := MaskRRN(r.text); got != r.storage {
			t.Errorf("corpus.tsv:%d: MaskRRN(%q) = %q; want %q", r.line, r.text, got, r.storage)
		}
		if got := Mask(r.text, true); got != r.storage {
			t.Errorf("corpus.tsv:%d: Mask(%q, true) = %q; want %q", r.line, r.text, got, r.storage)
		}
		if got, want := ContainsContact(r.text), r.noPII != r.text; got != want {
			t.Errorf("corpus.tsv:%d: ContainsContact(%q) = %v; want %v", r.line, r.text, got, want)
		}
		if again := MaskContacts(r.noPII); again != r.noPII {
			t.Errorf("corpus.tsv:%d: MaskContacts(%q) = %q; want it unchanged", r.line, r.noPII, again)
		}
		if again := MaskRRN(r.storage); again != r.storage {
			t.Errorf("corpus.tsv:%d: MaskRRN(%q) = %q; want it unchanged", r.line, r.storage, again)
		}
	}
}

// A chain longer than the scanner's window is classified as it goes:
// numbers anywhere along it are found, across the window's edges too.
func TestLongChains(t *testing.T) {
	for _, lead := range []int{0, 1, 5, 25, 26, 27, 28, 29, 30, 31, 32, 33, 60, 61, 62, 63, 64, 200} {
		prefix := strings.Repeat("7 ", lead)
		for _, tt := range []struct{ in, noPII, storage string }{
			{"900101-1234567", "900101-1******", "900101-1******"},
			{"010-1234-5678", "010-****-5678", "010-1234-5678"},
			{"4111 1111 1111 1111", "**** **** **** 1111", "4111 1111 1111 1111"},
			{"90 01 01 1234567", "90 01 01 1******", "90 01 01 1******"},
		} {
			in := prefix + tt.in + " 7 7 7"
			if got, want := MaskContacts(in), prefix+tt.noPII+" 7 7 7"; got != want {
				t.Errorf("MaskContacts(%d groups, then %q) = …%q; want …%q", lead, tt.in, got[len(prefix):], want[len(prefix):])
			}
			if got, want := MaskRRN(in), prefix+tt.storage+" 7 7 7"; got != want {
				t.Errorf("MaskRRN(%d groups, then %q) = …%q; want …%q", lead, tt.in, got[len(prefix):], want[len(prefix):])
			}
		}
	}
	// Many numbers in one chain.
	in := strings.Repeat("010-1234-5678 ", 40)
	if got, want := MaskContacts(in), strings.Repeat("010-****-5678 ", 40); got != want {
		t.Errorf("MaskContacts(40 phones in a row) = %q; want %q", got, want)
	}
	in = strings.Repeat("900101 1234567 ", 40)
	if got, want := MaskRRN(in), strings.Repeat("900101 1****** ", 40); got != want {
		t.Errorf("MaskRRN(40 RRNs in a row) = %q; want %q", got, want)
	}
}

func TestMaskMap(t *testing.T) {
	clean := map[string]string{"reason": "여권 재발급", "lang": "ko"}
	if got := MaskMap(clean, false); !sameMap(got, clean) {
		t.Errorf("MaskMap(clean) = %v; want it unchanged", got)
	}
	if n := testing.AllocsPerRun(100, func() { MaskMap(clean, false) }); n != 0 {
		t.Errorf("MaskMap(clean) allocates %v times; want 0", n)
	}
	m := map[string]string{"010-1234-5678": "callback", "rrn": "900101 - 1234567", "card": "4111 1111 1111 1111"}
	if got, want := MaskMap(m, false), map[string]string{"010-****-5678": "callback", "rrn": "900101 - 1******",
		"card": "**** **** **** 1111"}; !sameMap(got, want) {
		t.Errorf("MaskMap(m, false) = %v; want %v", got, want)
	}
	if got, want := MaskMap(m, true), map[string]string{"010-1234-5678": "callback", "rrn": "900101 - 1******",
		"card": "4111 1111 1111 1111"}; !sameMap(got, want) {
		t.Errorf("MaskMap(m, true) = %v; want %v", got, want)
	}
	if m["rrn"] != "900101 - 1234567" {
		t.Errorf("MaskMap changed its argument: %v", m)
	}
	// Keys that mask alike keep the value of the first in byte order.
	twins := map[string]string{"900101-1234567": "b", "900101-1765432": "a"}
	if got, want := MaskMap(twins, true), map[string]string{"900101-1******": "b"}; !sameMap(got, want) {
		t.Errorf("MaskMap(twins) = %v; want %v", got, want)
	}
}

func sameMap(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// Text with nothing to mask comes back as it is, without allocating:
// prose, prose whose words start with digit syllables, and text with
// digits that form no number.
func TestMaskKeepsCleanTextAsIs(t *testing.T) {
	for _, s := range []string{
		strings.Repeat("증명서가 필요합니다 ", 100),
		strings.Repeat("The certificate I asked for last week has not arrived. ", 20),
		strings.Repeat("일이 많아서 오늘 이사를 했어요. 공공기관 구청에 사일 동안 다녀왔고 이 일 이 삼 ", 20),
		strings.Repeat("2024-03-01 09:30에 1,234,567원을 입금했고 1588-1234로 전화했어요 ", 20),
		strings.Repeat("7 ", 500),
	} {
		if got := MaskContacts(s); got != s {
			t.Errorf("MaskContacts changed clean text %.40q… into %.40q…", s, got)
		}
		if n := testing.AllocsPerRun(100, func() { MaskContacts(s) }); n != 0 {
			t.Errorf("MaskContacts(%.40q…) allocates %v times; want 0", s, n)
		}
		if n := testing.AllocsPerRun(100, func() { MaskRRN(s) }); n != 0 {
			t.Errorf("MaskRRN(%.40q…) allocates %v times; want 0", s, n)
		}
	}
}

// An independent reading of what a stored text must not hold: six digits
// that read as a date, a separator, and a back part starting with 1–8 — or
// the same thirteen digits in one run, or the front written 2-2-2. Only
// numerals and the plainest separators are read here; the recogniser
// accepts more.
var (
	oracleDigit = `[0-9０-９]`
	oracleSep   = `(?:[ \t\x{a0}\x{3000}]{0,3}[-–—−－._/·][ \t\x{a0}\x{3000}]{0,3}|[ \t\x{a0}\x{3000}]{1,3})`
	oracleRRN   = regexp.MustCompile(`(?:^|[^0-9０-９])(` +
		oracleDigit + `{6}` + oracleSep + `?` + oracleDigit + `{7}` + `|` +
		oracleDigit + `{2}` + oracleSep + oracleDigit + `{2}` + oracleSep + oracleDigit + `{2}` + oracleSep + oracleDigit + `{7}` +
		`)(?:$|[^0-9０-９])`)
)

// survivingRRN returns an RRN-shaped run left in s, or "".
func survivingRRN(s string) string {
	for i := 0; i < len(s); {
		loc := oracleRRN.FindStringSubmatchIndex(s[i:])
		if loc == nil {
			return ""
		}
		m := s[i+loc[2] : i+loc[3]]
		var d []byte
		for _, r := range m {
			switch {
			case r >= '0' && r <= '9':
				d = append(d, byte(r))
			case r >= '０' && r <= '９':
				d = append(d, byte('0'+r-'０'))
			}
		}
		phone := string(d[:2]) == "82" && i+loc[2] > 0 && s[i+loc[2]-1] == '+' // "+8201012345678"
		if d[6] >= '1' && d[6] <= '8' && isDate(d[2:6]) && !phone {
			return m
		}
		// Overlapping candidates: go on from the next character.
		_, w := utf8.DecodeRuneInString(s[i+loc[2]:])
		i += loc[2] + w
	}
	return ""
}

func TestOracle(t *testing.T) {
	for s, want := range map[string]string{
		"주민번호 900101 - 1234567 입니다": "900101 - 1234567", "９００１０１－１２３４５６７": "９００１０１－１２３４５６７",
		"90 01 01 1234567": "90 01 01 1234567", "1900101-1234567": "", "901301-1234567": "", "900101-1******": "",
		"900101-0234567": "", "x 901301-1234567 900101-1234567": "900101-1234567",
	} {
		if got := survivingRRN(s); got != want {
			t.Errorf("survivingRRN(%q) = %q; want %q", s, got, want)
		}
	}
}

// checkMasking checks what must hold for any text: only digits change,
// each into '*' (ASCII) or '＊' (full-width, Hangul); the result is a
// fixed point; MaskContacts masks at least what MaskRRN does; and no
// RRN-shaped run survives MaskRRN.
func checkMasking(t *testing.T, s string) {
	rrnOnly, all := MaskRRN(s), MaskContacts(s)
	for _, out := range []string{rrnOnly, all} {
		if len(out) != len(s) || utf8.RuneCountInString(out) != utf8.RuneCountInString(s) {
			t.Fatalf("mask(%q) = %q: length changed", s, out)
		}
		for i := 0; i < len(s); {
			w := 1
			if _, dw, _ := digitAt(s, i); dw > 0 {
				w = dw
			}
			if got := out[i : i+w]; got != s[i:i+w] && (w == 1 && (got != "*" || !isDigitByte(s[i])) || w == 3 && got != "＊") {
				t.Fatalf("mask(%q) = %q: byte %d changed and is no masked digit", s, out, i)
			}
			i += w
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
	if again := MaskContacts(rrnOnly); MaskRRN(again) != again {
		t.Fatalf("MaskContacts(MaskRRN(%q)) = %q holds an RRN", s, again)
	}
	for i := 0; i < len(s); i++ {
		if rrnOnly[i] != s[i] && all[i] == s[i] {
			t.Fatalf("MaskRRN(%q) = %q masks byte %d, MaskContacts = %q does not", s, rrnOnly, i, all)
		}
	}
	if m := survivingRRN(rrnOnly); m != "" {
		t.Fatalf("MaskRRN(%q) = %q: %q survives", s, rrnOnly, m)
	}
}

func isDigitByte(c byte) bool { return c >= '0' && c <= '9' }

// FuzzMask checks the properties of checkMasking on any text.
func FuzzMask(f *testing.F) {
	for _, s := range []string{
		"900101-1234567", "010-1234-5678", "+82 10-1234-5678", "4111 1111 1111 1111",
		"4111 1111 1111 900101-1234567", "900101-1001011234567", "2024.03.01 010-1234-5678",
		"번호는900101-1234567이에요", "0505-123-4567", "+821012345678", "", "900101 – 1234567",
		"공일공 일이삼사 오육칠팔이에요", "구공공일공일 다시 일이삼사오육칠", "９００１０１－１２３４５６７",
		"(02)123-4567", "+82 (0)10 1234 5678", "110-123-456789", "+1 (415) 555-2671", "90 01 01 1234567",
	} {
		f.Add(s)
	}
	for _, r := range readCorpus(f) {
		f.Add(r.text)
	}
	f.Fuzz(checkMasking)
}

// FuzzMaskRRNForms writes an RRN of fuzzed date and back part in a fuzzed
// form — its separator, spaces, digits (ASCII, full-width, Hangul words)
// and what surrounds it — and checks that its back part never survives
// storage masking, besides the properties of checkMasking.
func FuzzMaskRRNForms(f *testing.F) {
	f.Add(uint32(900101), uint32(1234567), uint8(0), uint8(0), "주민번호 ", " 입니다")
	f.Add(uint32(851231), uint32(5123456), uint8(3), uint8(7), "", "")
	f.Add(uint32(229), uint32(3123456), uint8(12), uint8(2), "번호는", "이에요")
	f.Add(uint32(990430), uint32(8000000), uint8(17), uint8(5), "4111 1111 1111 ", "-89")
	f.Fuzz(func(t *testing.T, front, back uint32, form, script uint8, before, after string) {
		front %= 1000000
		back = 1000000 + back%8000000 // first digit 1–8
		fd := []byte(strconv.FormatUint(uint64(1000000+front), 10)[1:])
		bd := []byte(strconv.FormatUint(uint64(back), 10))
		if !isDate(fd[2:6]) {
			return
		}
		seps := []string{"-", " - ", " ", "", "–", " – ", "—", "−", "－", ".", "_", "/", "‐", "·", "  -  ",
			"\u00a0", "\u3000-\u3000", " 다시 ", "에 ", "\u200b", "／"}
		sp := seps[int(form)%len(seps)]
		spell := func(ds []byte) string {
			var b strings.Builder
			for _, c := range ds {
				switch script % 3 {
				case 0:
					b.WriteByte(c)
				case 1:
					b.WriteRune('０' + rune(c-'0'))
				case 2:
					b.WriteString([]string{"공", "일", "이", "삼", "사", "오", "육", "칠", "팔", "구"}[c-'0'])
				}
			}
			return b.String()
		}
		frontText := spell(fd)
		if form >= 128 { // the front as 2-2-2
			frontText = spell(fd[0:2]) + sp + spell(fd[2:4]) + sp + spell(fd[4:6])
		}
		backText := spell(bd)
		rrn := frontText + sp + backText
		if sp == "" && script%3 != 0 {
			rrn = spell(append(append([]byte{}, fd...), bd...))
		}
		s := before + rrn + after
		checkMasking(t, s)
		// The number must be bounded: not glued to more digits, nor (in
		// Hangul) inside a word.
		start, end := len(before), len(before)+len(rrn)
		if _, w, _ := digitAt(s, end); w > 0 {
			return
		}
		for _, i := range []int{start - 1, start - 3} {
			if _, w, _ := digitAt(s, max(i, 0)); i >= 0 && w > 0 && i+w == start {
				return
			}
		}
		if script%3 == 2 && syllableBefore(s, start) {
			return
		}
		star := "*"
		if script%3 != 0 {
			star = "＊"
		}
		if out := MaskRRN(s); !strings.HasSuffix(out[:end], strings.Repeat(star, 6)) {
			t.Fatalf("MaskRRN(%q) = %q: the RRN %q is not masked", s, out, rrn)
		}
	})
}

// A typical message of each kind, for BenchmarkMask.
var benchTexts = []struct{ name, text string }{
	{"clean", "안녕하세요. 지난주에 신청한 가족관계증명서가 아직 도착하지 않아서 문의드립니다. 언제쯤 받을 수 있을까요?"},
	{"digits", "2024년 3월 1일 09:30에 1,234,567원을 입금했고 접수번호는 2024-000123입니다. 1588-1234로도 문의했어요."},
	{"phone", "연락처는 010-1234-5678이고, 회사 번호는 02-123-4567입니다. 오후에 전화 주세요."},
	{"rrn", "주민번호 900101 - 1234567, 카드 4111 1111 1111 1111로 결제했어요. 확인 부탁드립니다."},
	{"speech", "네 제 번호는 공일공 일이삼사 오육칠팔이고요 주민번호는 구공공일공일 다시 일이삼사오육칠입니다"},
	// Long texts, for the cost per byte: a transcript, and chains of
	// groups that nearly form numbers all along.
	{"transcript4k", strings.Repeat("안녕하세요. 지난주에 신청한 증명서가 아직 안 왔어요. 연락처는 010-1234-5678입니다. ", 40)},
	{"chain4k", strings.Repeat("010-1234-567 ", 320)},
	{"digits4k", strings.Repeat("0 ", 2048)},
}

// BenchmarkMask measures one message through MaskRRN (what every stored
// text costs) and MaskContacts (a read without pii).
func BenchmarkMask(b *testing.B) {
	for _, tt := range benchTexts {
		b.Run("storage/"+tt.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(tt.text)))
			for range b.N {
				MaskRRN(tt.text)
			}
		})
		b.Run("nopii/"+tt.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(tt.text)))
			for range b.N {
				MaskContacts(tt.text)
			}
		})
	}
}
