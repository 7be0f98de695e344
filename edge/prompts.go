package edge

import (
	"bytes"
	"encoding/binary"
	"io"
	"math"
	"time"
)

// Prompts gives the audio of what the edge says. Each reader is a WAV
// file of 8 kHz, 16-bit, mono linear PCM, played in order. args are the
// numbers a phrase speaks (a place, minutes); a prompt library joins the
// number's own recordings. The keys the edge asks for:
//
//   - a menu's greeting key from the dial plan
//   - "queue.entered" on reaching a queue
//   - "wait.place" (args: place) and "wait.minutes" (args: minutes)
//   - "wait.callback" when a callback may be asked for (the key is 1)
//   - "callback.confirmed" before hanging up on a caller who asked one
//   - "transfer.connecting" after a transfer
//   - "hold" the hold audio, repeated while waiting
type Prompts interface {
	Phrase(lang, key string, args ...int) ([]io.Reader, error)
}

// Tones is the Prompts of an edge without a prompt library: a short beep
// for every phrase (two for a number), and a soft low tone with silence
// for hold audio, so a caller always hears that the line is alive.
type Tones struct{}

// Phrase implements Prompts.
func (Tones) Phrase(_, key string, args ...int) ([]io.Reader, error) {
	if key == "hold" {
		return []io.Reader{wavTone(330, 400*time.Millisecond, 2000), wavTone(0, 1600*time.Millisecond, 0)}, nil
	}
	out := []io.Reader{wavTone(660, 250*time.Millisecond, 6000), wavTone(0, 150*time.Millisecond, 0)}
	for range args {
		out = append(out, wavTone(880, 120*time.Millisecond, 6000), wavTone(0, 120*time.Millisecond, 0))
	}
	return out, nil
}

// wavTone is a WAV of a sine of freq Hz (0: silence) at amplitude amp.
func wavTone(freq float64, d time.Duration, amp float64) io.Reader {
	n := int(d.Seconds() * 8000)
	pcm := make([]byte, 2*n)
	for i := range n {
		v := int16(amp * math.Sin(2*math.Pi*freq*float64(i)/8000))
		binary.LittleEndian.PutUint16(pcm[2*i:], uint16(v))
	}
	var b bytes.Buffer
	b.WriteString("RIFF")
	_ = binary.Write(&b, binary.LittleEndian, uint32(36+len(pcm)))
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(1), uint32(8000), uint32(16000), uint16(2), uint16(16)} {
		_ = binary.Write(&b, binary.LittleEndian, v)
	}
	b.WriteString("data")
	_ = binary.Write(&b, binary.LittleEndian, uint32(len(pcm)))
	b.Write(pcm)
	return &b
}
