// Package prompts is the library of voice prompts a caller hears: phrases
// in Korean and English, numbers, and the hold music, as G.711 μ-law at
// 8 kHz (Telephone). The defaults are embedded in the binary (made by
// scripts/make-prompts); an operator's directory replaces any of them file
// by file. Sentences that carry numbers (a place in line, a wait) are
// built by joining prompts, in each language's order and counters.
//
// The package knows no SIP or RTP: it hands out samples and their format,
// and the edge decides how to play them.
package prompts

import (
	"bytes"
	"context"
	"embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// The languages prompts are spoken in. Korean is the default.
const (
	Korean  = "ko"
	English = "en"
)

// Keys of the phrases. Numbers are keyed "num-N" (and in Korean
// "native-N", "native-20-alone", "ord-first"); Position joins them.
const (
	Greeting          = "greeting"           // fallback greeting when a queue has none of its own
	PleaseHold        = "please-hold"        // "please hold"
	PositionIntro     = "position-intro"     // "you are number" / "고객님의 대기 순서는"
	PositionOutro     = "position-outro"     // "in line" / "번째입니다"
	WaitIntro         = "wait-intro"         // "your estimated wait is about" / "예상 대기 시간은 약"
	Minutes           = "minutes"            // "minutes" / "분입니다"
	Minute            = "minute"             // English only: "minute"
	Seconds           = "seconds"            // "seconds" / "초입니다"
	LessThanAMinute   = "less-than-a-minute" // a whole sentence: the wait is under a minute
	Connecting        = "connecting"         // "connecting you to an agent"
	Closed            = "closed"             // "the line is closed"
	Recorded          = "recorded"           // "this call is recorded"
	CallbackOffer     = "callback-offer"     // "press 1 to be called back, keeping your place"
	CallbackConfirmed = "callback-confirmed" // "we will call you back"
	CouldNotConnect   = "could-not-connect"  // "sorry, we could not connect"
	Goodbye           = "goodbye"
	InvalidChoice     = "invalid-choice"
	HoldMusic         = "hold-music" // the same loop in every language
)

// Languages lists the languages in which every phrase exists, the default
// first.
func Languages() []string { return []string{Korean, English} }

//go:embed wav
var embedded embed.FS

// Prompt is one recorded phrase.
type Prompt struct {
	Lang    string // Korean or English; "" for HoldMusic
	Key     string
	Source  string // "embedded", or the operator's file that replaced it
	Samples []byte // G.711 μ-law, one byte per sample, in Telephone format
}

// Format is the format of Samples: always Telephone.
func (p Prompt) Format() Format { return Telephone }

// Duration is how long the prompt plays.
func (p Prompt) Duration() time.Duration {
	return time.Duration(len(p.Samples)) * time.Second / time.Duration(Telephone.SampleRate)
}

// Reader reads the samples, e.g. to packetise them as RTP (160 bytes per
// 20 ms packet).
func (p Prompt) Reader() io.Reader { return bytes.NewReader(p.Samples) }

// PCM16 returns the samples as 16-bit signed linear PCM, little-endian, at
// the same 8 kHz: for a leg whose codec is not PCMU, to be encoded to it.
func (p Prompt) PCM16() []byte {
	out := make([]byte, 2*len(p.Samples))
	for i, b := range p.Samples {
		binary.LittleEndian.PutUint16(out[2*i:], uint16(ulawToLinear(b)))
	}
	return out
}

// ulawToLinear expands one G.711 μ-law byte (ITU-T G.711).
func ulawToLinear(b byte) int16 {
	b = ^b
	t := (int(b&0x0f) << 3) + 0x84
	t <<= (b & 0x70) >> 4
	if b&0x80 != 0 {
		return int16(0x84 - t)
	}
	return int16(t - 0x84)
}

// WAV returns the prompt as a WAV file in the Telephone format.
func (p Prompt) WAV() []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	n := uint32(len(p.Samples))
	b.WriteString("RIFF")
	_ = binary.Write(&b, le, 4+(8+18)+(8+4)+(8+n+n&1))
	b.WriteString("WAVEfmt ")
	// fmt: μ-law, mono, 8000 samples and bytes a second, 1-byte frames of
	// 8 bits, no extension.
	for _, v := range []any{uint32(18), uint16(tagMuLaw), uint16(1), uint32(8000), uint32(8000), uint16(1), uint16(8), uint16(0)} {
		_ = binary.Write(&b, le, v)
	}
	b.WriteString("fact")
	_ = binary.Write(&b, le, []uint32{4, n})
	b.WriteString("data")
	_ = binary.Write(&b, le, n)
	b.Write(p.Samples)
	if n&1 == 1 {
		b.WriteByte(0)
	}
	return b.Bytes()
}

// Library holds every prompt, the operator's replacing the embedded ones.
type Library struct {
	prompts map[string]Prompt // by file name: "ko/please-hold.wav", "hold-music.wav"
}

// Load reads the embedded prompts, then every .wav file under dir (none
// when dir is ""), each replacing the embedded file of the same name:
// dir/ko/please-hold.wav replaces the Korean "please hold". Every file is
// checked for the Telephone format; a file in another format, or one whose
// name is not a prompt's, fails the load with an error naming it, so that
// a typo is not silently ignored. Files not ending in .wav are ignored.
func Load(ctx context.Context, dir string) (*Library, error) {
	l := &Library{prompts: make(map[string]Prompt)}
	err := fs.WalkDir(embedded, "wav", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := embedded.ReadFile(p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, "wav/")
		return l.add(name, "embedded", b)
	})
	if err != nil {
		return nil, fmt.Errorf("prompts: embedded: %w", err)
	}
	if dir == "" {
		return l, nil
	}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() || !strings.EqualFold(filepath.Ext(p), ".wav") {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		if _, ok := l.prompts[name]; !ok {
			return fmt.Errorf("%s: not a prompt's name (known: %s)", p, l.names())
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return l.add(name, p, b)
	})
	if err != nil {
		return nil, fmt.Errorf("prompts: %w", err)
	}
	return l, nil
}

func (l *Library) add(name, source string, b []byte) error {
	samples, err := ParseWAV(b)
	if err != nil {
		if source == "embedded" {
			source += " " + name
		}
		return fmt.Errorf("%s: %w", source, err)
	}
	lang, key := path.Split(strings.TrimSuffix(name, ".wav"))
	l.prompts[name] = Prompt{Lang: strings.TrimSuffix(lang, "/"), Key: key, Source: source, Samples: samples}
	return nil
}

func (l *Library) names() string {
	names := make([]string, 0, len(l.prompts))
	for n := range l.prompts {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) > 8 {
		return strings.Join(names[:8], ", ") + ", …"
	}
	return strings.Join(names, ", ")
}

// ErrUnknown is wrapped by Phrase's error for a language or key the
// library does not have.
var ErrUnknown = errors.New("no such prompt")

// Phrase returns the prompt key in lang. HoldMusic is the same in every
// language.
func (l *Library) Phrase(lang, key string) (Prompt, error) {
	if !knownLang(lang) {
		return Prompt{}, fmt.Errorf("prompts: language %q: %w (have %s)", lang, ErrUnknown, strings.Join(Languages(), ", "))
	}
	name := lang + "/" + key + ".wav"
	if key == HoldMusic {
		name = key + ".wav"
	}
	p, ok := l.prompts[name]
	if !ok {
		return Prompt{}, fmt.Errorf("prompts: %s %q: %w", lang, key, ErrUnknown)
	}
	return p, nil
}

func knownLang(lang string) bool {
	for _, l := range Languages() {
		if l == lang {
			return true
		}
	}
	return false
}
