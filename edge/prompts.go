package edge

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/emiago/diago/audio"

	"tellonce/dialplan"
	"tellonce/prompts"
)

// Prompts gives the audio of what the edge says: G.711 μ-law samples at
// 8 kHz (what package prompts holds), in chunks played in order. The keys
// the edge asks for are package prompts' keys (please-hold, connecting,
// callback-offer, callback-confirmed, could-not-connect, invalid-choice,
// hold-music), a menu's greeting key from the dial plan, and "position"
// with args place and estimated wait in seconds.
type Prompts interface {
	Phrase(lang, key string, args ...int) ([][]byte, error)
}

// Position is the key of the place-and-wait sentence.
const Position = "position"

// Tones is the Prompts of an edge without a prompt library (tests): a
// short beep for every phrase, and a soft low tone with silence for the
// hold music, so a caller always hears that the line is alive.
type Tones struct{}

// Phrase implements Prompts.
func (Tones) Phrase(_, key string, args ...int) ([][]byte, error) {
	if key == prompts.HoldMusic {
		return [][]byte{tone(330, 400*time.Millisecond, 2000), tone(0, 1600*time.Millisecond, 0)}, nil
	}
	out := [][]byte{tone(660, 250*time.Millisecond, 6000), tone(0, 150*time.Millisecond, 0)}
	for range args {
		out = append(out, tone(880, 120*time.Millisecond, 6000), tone(0, 120*time.Millisecond, 0))
	}
	return out, nil
}

// tone is μ-law samples of a sine of freq Hz (0: silence) at amplitude amp.
func tone(freq float64, d time.Duration, amp float64) []byte {
	n := int(d.Seconds() * 8000)
	pcm := make([]byte, 2*n)
	for i := range n {
		v := int16(amp * math.Sin(2*math.Pi*freq*float64(i)/8000))
		pcm[2*i], pcm[2*i+1] = byte(v), byte(uint16(v)>>8)
	}
	out := make([]byte, n)
	_, _ = audio.EncodeUlawTo(out, pcm)
	return out
}

// Library speaks with package prompts' recordings; menu greetings come
// from the operator's menu prompts (LoadMenuPrompts).
type Library struct {
	Lib   *prompts.Library
	Menus map[string][]byte // "ko/nts126.main" → μ-law samples
}

// Phrase implements Prompts. Languages without recordings (zh, vi, …)
// hear English; a menu greeting without its recording the generic
// greeting.
func (l Library) Phrase(lang, key string, args ...int) ([][]byte, error) {
	if lang != prompts.Korean {
		lang = prompts.English
	}
	if key == Position {
		if len(args) != 2 {
			return nil, errors.New("prompts: position needs a place and a wait")
		}
		ps, err := l.Lib.Position(lang, args[0], time.Duration(args[1])*time.Second)
		if err != nil {
			return nil, err
		}
		out := make([][]byte, len(ps))
		for i, p := range ps {
			out[i] = p.Samples
		}
		return out, nil
	}
	if s, ok := l.Menus[lang+"/"+key]; ok {
		return [][]byte{s}, nil
	}
	p, err := l.Lib.Phrase(lang, key)
	if errors.Is(err, prompts.ErrUnknown) {
		p, err = l.Lib.Phrase(lang, prompts.Greeting)
	}
	if err != nil {
		return nil, err
	}
	return [][]byte{p.Samples}, nil
}

// LoadMenuPrompts reads the menus' greetings from dir: <lang>/<key>.wav
// for each greeting key of the plan, in the prompts' format (8 kHz mono
// μ-law WAV). A missing file is fine (the generic greeting plays); a file
// in another format is an error naming it.
func LoadMenuPrompts(dir string, plan *dialplan.Plan) (map[string][]byte, []string, error) {
	out := map[string][]byte{}
	var missing []string
	for id, m := range plan.Menus {
		if m == nil || m.Greeting == "" {
			continue
		}
		for _, lang := range prompts.Languages() {
			name := filepath.Join(dir, lang, m.Greeting+".wav")
			b, err := os.ReadFile(name)
			if errors.Is(err, os.ErrNotExist) {
				missing = append(missing, lang+"/"+m.Greeting+" (menu "+id+")")
				continue
			}
			if err != nil {
				return nil, nil, fmt.Errorf("--menu-prompts: %w", err)
			}
			s, err := prompts.ParseWAV(b)
			if err != nil {
				return nil, nil, fmt.Errorf("--menu-prompts: %s: %w", name, err)
			}
			out[lang+"/"+m.Greeting] = s
		}
	}
	return out, missing, nil
}
