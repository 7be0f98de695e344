package prompts

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func load(t *testing.T, dir string) *Library {
	t.Helper()
	l, err := Load(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Every phrase exists in both languages and every sentence Position can
// build finds all its prompts: a prompt missing from the embedded set
// fails here, not on a caller's line.
func TestEmbeddedLibraryIsComplete(t *testing.T) {
	l := load(t, "")
	phrases := []string{Greeting, PleaseHold, PositionIntro, PositionOutro, WaitIntro, Minutes, Seconds,
		LessThanAMinute, Connecting, Closed, Recorded, CallbackOffer, CallbackConfirmed, CouldNotConnect,
		Goodbye, InvalidChoice, HoldMusic}
	for _, lang := range Languages() {
		for _, key := range phrases {
			p, err := l.Phrase(lang, key)
			if err != nil {
				t.Fatal(err)
			}
			if p.Duration() < 100*time.Millisecond || p.Duration() > 10*time.Second {
				t.Errorf("%s %s lasts %v", lang, key, p.Duration())
			}
			if p.Source != "embedded" {
				t.Errorf("%s %s from %q", lang, key, p.Source)
			}
		}
		for place := 1; place <= MaxPlace; place++ {
			if _, err := l.Position(lang, place, -1); err != nil {
				t.Fatalf("place %d: %v", place, err)
			}
		}
		for m := 0; m <= MaxWaitMinutes+1; m++ {
			if _, err := l.Position(lang, 1, time.Duration(m)*time.Minute); err != nil {
				t.Fatalf("wait %d min: %v", m, err)
			}
		}
	}
	hold, _ := l.Phrase(Korean, HoldMusic)
	if hold.Lang != "" || hold.Duration() != 8*time.Second {
		t.Errorf("hold music: lang %q, %v", hold.Lang, hold.Duration())
	}
}

func TestPosition(t *testing.T) {
	l := load(t, "")
	say := func(s ...string) []string {
		return append(append([]string{PositionIntro}, s...), PositionOutro)
	}
	tests := []struct {
		lang  string
		place int
		wait  time.Duration
		want  []string
	}{
		// Korean: native numbers before 번째, 첫 for 1 alone, 스무 for 20 alone.
		{Korean, 1, -1, say("ord-first")},
		{Korean, 3, -1, say("native-3")},
		{Korean, 10, -1, say("native-10")},
		{Korean, 11, -1, say("native-10", "native-1")},
		{Korean, 20, -1, say("native-20-alone")},
		{Korean, 22, -1, say("native-20", "native-2")},
		{Korean, 99, -1, say("native-90", "native-9")},
		{Korean, 100, -1, say("num-100")},
		{Korean, 101, -1, say("num-100", "native-1")},
		{Korean, 120, -1, say("num-100", "native-20-alone")},
		{Korean, 305, -1, say("num-3", "num-100", "native-5")},
		{Korean, 1000, -1, say("num-1000")},
		{Korean, 1234, -1, say("num-1000", "num-2", "num-100", "native-30", "native-4")},
		{Korean, 9999, -1, say("num-9", "num-1000", "num-9", "num-100", "native-90", "native-9")},
		{Korean, 12000, -1, say("num-9", "num-1000", "num-9", "num-100", "native-90", "native-9")},
		// Korean waits: Sino-Korean minutes (약 사 분), rounded to the nearest minute.
		{Korean, 3, 4 * time.Minute, append(say("native-3"), WaitIntro, "num-4", Minutes)},
		{Korean, 3, 4*time.Minute + 29*time.Second, append(say("native-3"), WaitIntro, "num-4", Minutes)},
		{Korean, 3, 4*time.Minute + 30*time.Second, append(say("native-3"), WaitIntro, "num-5", Minutes)},
		{Korean, 2, 10 * time.Minute, append(say("native-2"), WaitIntro, "num-10", Minutes)},
		{Korean, 2, 25 * time.Minute, append(say("native-2"), WaitIntro, "num-2", "num-10", "num-5", Minutes)},
		{Korean, 2, 99 * time.Minute, append(say("native-2"), WaitIntro, "num-9", "num-10", "num-9", Minutes)},
		{Korean, 2, 5 * time.Hour, append(say("native-2"), WaitIntro, "num-9", "num-10", "num-9", Minutes)},
		{Korean, 2, 29 * time.Second, append(say("native-2"), LessThanAMinute)},
		{Korean, 2, 0, append(say("native-2"), LessThanAMinute)},
		// English: cardinals, "minute" for one.
		{English, 1, -1, say("num-1")},
		{English, 13, -1, say("num-13")},
		{English, 20, -1, say("num-20")},
		{English, 21, -1, say("num-20", "num-1")},
		{English, 100, -1, say("num-1", "num-100")},
		{English, 110, -1, say("num-1", "num-100", "num-10")},
		{English, 1234, -1, say("num-1", "num-1000", "num-2", "num-100", "num-30", "num-4")},
		{English, 2005, -1, say("num-2", "num-1000", "num-5")},
		{English, 3, 40 * time.Second, append(say("num-3"), WaitIntro, "num-1", Minute)},
		{English, 3, 4 * time.Minute, append(say("num-3"), WaitIntro, "num-4", Minutes)},
		{English, 3, 45 * time.Minute, append(say("num-3"), WaitIntro, "num-40", "num-5", Minutes)},
		{English, 3, 10 * time.Second, append(say("num-3"), LessThanAMinute)},
	}
	for _, tt := range tests {
		got, err := l.Position(tt.lang, tt.place, tt.wait)
		if err != nil {
			t.Fatalf("%s %d %v: %v", tt.lang, tt.place, tt.wait, err)
		}
		if keys := Keys(got); !slices.Equal(keys, tt.want) {
			t.Errorf("%s place %d wait %v:\n got %v\nwant %v", tt.lang, tt.place, tt.wait, keys, tt.want)
		}
		for _, p := range got {
			if p.Lang != tt.lang {
				t.Errorf("%s place %d: prompt %s is in %q", tt.lang, tt.place, p.Key, p.Lang)
			}
		}
	}
}

func TestPositionRejectsBadInput(t *testing.T) {
	l := load(t, "")
	if _, err := l.Position(Korean, 0, time.Minute); err == nil || !strings.Contains(err.Error(), "place 0") {
		t.Errorf("place 0: %v", err)
	}
	if _, err := l.Position("fr", 1, time.Minute); !errors.Is(err, ErrUnknown) || !strings.Contains(err.Error(), `"fr"`) {
		t.Errorf("fr: %v", err)
	}
	if _, err := l.Phrase(Korean, "no-such-phrase"); !errors.Is(err, ErrUnknown) {
		t.Errorf("unknown key: %v", err)
	}
}

func TestOperatorDirectoryReplacesByName(t *testing.T) {
	dir := t.TempDir()
	mine := Prompt{Samples: bytes.Repeat([]byte{0x7f, 0xff}, 4000)}
	writeFile(t, filepath.Join(dir, "ko", "please-hold.wav"), mine.WAV())
	writeFile(t, filepath.Join(dir, "hold-music.wav"), mine.WAV())
	writeFile(t, filepath.Join(dir, "README.txt"), []byte("not a prompt"))
	l := load(t, dir)

	for _, lang := range []string{Korean, English} {
		p, err := l.Phrase(lang, HoldMusic)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(p.Samples, mine.Samples) || p.Source != filepath.Join(dir, "hold-music.wav") {
			t.Errorf("%s hold music not replaced: from %s", lang, p.Source)
		}
	}
	ko, _ := l.Phrase(Korean, PleaseHold)
	if !bytes.Equal(ko.Samples, mine.Samples) || ko.Duration() != time.Second {
		t.Errorf("ko please-hold not replaced: %s, %v", ko.Source, ko.Duration())
	}
	en, _ := l.Phrase(English, PleaseHold)
	if en.Source != "embedded" {
		t.Errorf("en please-hold replaced too: %s", en.Source)
	}
	b, err := io.ReadAll(ko.Reader())
	if err != nil || !bytes.Equal(b, mine.Samples) {
		t.Errorf("Reader: %v", err)
	}
}

func TestOperatorFileIsCheckedAtLoad(t *testing.T) {
	tests := []struct {
		name, file string
		content    []byte
		want       string
	}{
		{"linear PCM", "en/goodbye.wav", pcmWAV(8000, 1, 16), "linear PCM (16-bit)"},
		{"16 kHz", "en/goodbye.wav", muLawWAV(16000, 1), "sample rate 16000 Hz"},
		{"stereo", "ko/goodbye.wav", muLawWAV(8000, 2), "2 channels"},
		{"not a WAV", "ko/goodbye.wav", []byte("ID3\x04 an mp3"), "not a RIFF WAVE file"},
		{"truncated", "ko/goodbye.wav", (Prompt{Samples: make([]byte, 100)}).WAV()[:80], "data chunk says 100 bytes"},
		{"unknown name", "ko/good-bye.wav", (Prompt{Samples: make([]byte, 100)}).WAV(), "not a prompt's name"},
		{"unknown language", "fr/goodbye.wav", (Prompt{Samples: make([]byte, 100)}).WAV(), "not a prompt's name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, filepath.FromSlash(tt.file))
			writeFile(t, path, tt.content)
			_, err := Load(context.Background(), dir)
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error naming %s and saying %q", err, path, tt.want)
			}
		})
	}
}

func TestWAVRoundTrip(t *testing.T) {
	for _, n := range []int{1, 2, 160, 8001} {
		p := Prompt{Samples: bytes.Repeat([]byte{0x12}, n)}
		got, err := ParseWAV(p.WAV())
		if err != nil || !bytes.Equal(got, p.Samples) {
			t.Errorf("%d samples: %v, %d back", n, err, len(got))
		}
	}
}

func FuzzParseWAV(f *testing.F) {
	f.Add((Prompt{Samples: []byte{1, 2, 3}}).WAV())
	f.Add(pcmWAV(8000, 1, 16))
	f.Add(muLawWAV(8000, 2))
	f.Add([]byte("RIFF\x04\x00\x00\x00WAVE"))
	f.Add([]byte("RIFF\xff\xff\xff\xffWAVEfmt \xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		samples, err := ParseWAV(b)
		if err == nil && (len(samples) == 0 || len(samples) > len(b)) {
			t.Fatalf("accepted %d samples from %d bytes", len(samples), len(b))
		}
	})
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// wavFile builds a WAV with the given fmt fields and 160 bytes of data.
func wavFile(tag uint16, rate uint32, channels, bits uint16) []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	b.WriteString("RIFF")
	_ = binary.Write(&b, le, uint32(4+8+16+8+160))
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), tag, channels, rate, rate * uint32(channels) * uint32(bits) / 8, channels * bits / 8, bits} {
		_ = binary.Write(&b, le, v)
	}
	b.WriteString("data")
	_ = binary.Write(&b, le, uint32(160))
	b.Write(make([]byte, 160))
	return b.Bytes()
}

func pcmWAV(rate uint32, channels, bits uint16) []byte { return wavFile(tagPCM, rate, channels, bits) }
func muLawWAV(rate uint32, channels uint16) []byte     { return wavFile(tagMuLaw, rate, channels, 8) }

func TestJoin(t *testing.T) {
	l := load(t, "")
	parts, err := l.Position(English, 21, 4*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	joined := Join(parts)
	var want []byte
	var d time.Duration
	for _, p := range parts {
		want = append(want, p.Samples...)
		d += p.Duration()
	}
	if !bytes.Equal(joined.Samples, want) || joined.Duration() != d || joined.Lang != English || joined.Key != PositionIntro {
		t.Fatalf("joined %d samples (%v, %q %q), want %d (%v)", len(joined.Samples), joined.Duration(), joined.Lang, joined.Key, len(want), d)
	}
	hold, _ := l.Phrase(English, HoldMusic)
	if mixed := Join([]Prompt{parts[0], hold}); mixed.Lang != "" {
		t.Errorf("a join across languages says %q", mixed.Lang)
	}
	if empty := Join(nil); len(empty.Samples) != 0 {
		t.Error("empty join has samples")
	}
}

func TestPCM16(t *testing.T) {
	p := Prompt{Samples: []byte{0xff, 0x7f, 0x80, 0x00, 0xfe, 0x7e}}
	want := []int16{0, 0, 32124, -32124, 8, -8}
	b := p.PCM16()
	if len(b) != 2*len(want) {
		t.Fatalf("%d bytes", len(b))
	}
	for i, w := range want {
		if got := int16(binary.LittleEndian.Uint16(b[2*i:])); got != w {
			t.Errorf("sample %#02x: %d, want %d", p.Samples[i], got, w)
		}
	}
}
