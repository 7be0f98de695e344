package prompts

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Format is the one audio format a prompt may have: what a telephone line
// carries, so that the edge can send a prompt's payload as RTP without
// transcoding.
type Format struct {
	Encoding   string // "PCMU": G.711 μ-law
	SampleRate int    // samples per second
	Channels   int
}

// Telephone is G.711 μ-law, 8 kHz, mono: RTP payload type 0 (PCMU). μ-law
// because it is the law of Korea's public telephone network and the
// first codec every SIP stack offers; an A-law trunk gets each sample
// mapped by a lookup table at the edge, with no resampling.
var Telephone = Format{Encoding: "PCMU", SampleRate: 8000, Channels: 1}

// WAVE format tags this package knows (the fmt chunk's first field).
const (
	tagPCM   = 1
	tagMuLaw = 7
)

// ParseWAV checks that b is a WAV file in the Telephone format and returns
// its samples: the data chunk, one byte per sample. Other chunks (fact,
// LIST) are skipped; a file without fmt before data, or in another format,
// is an error that says what it found.
func ParseWAV(b []byte) ([]byte, error) {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, errors.New("not a RIFF WAVE file")
	}
	var haveFmt bool
	rest := b[12:]
	for len(rest) >= 8 {
		id := string(rest[0:4])
		size := binary.LittleEndian.Uint32(rest[4:8])
		body := rest[8:]
		if uint64(size) > uint64(len(body)) {
			if id == "data" && haveFmt {
				return nil, fmt.Errorf("data chunk says %d bytes, file has %d", size, len(body))
			}
			return nil, fmt.Errorf("chunk %q says %d bytes, file has %d", id, size, len(body))
		}
		body = body[:size]
		switch id {
		case "fmt ":
			if err := checkFmt(body); err != nil {
				return nil, err
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return nil, errors.New("data chunk before fmt chunk")
			}
			if len(body) == 0 {
				return nil, errors.New("no audio: the data chunk is empty")
			}
			return body, nil
		}
		// Chunks are padded to an even length.
		next := 8 + int(size) + int(size&1)
		if next > len(rest) {
			break
		}
		rest = rest[next:]
	}
	return nil, errors.New("no data chunk")
}

func checkFmt(f []byte) error {
	if len(f) < 16 {
		return fmt.Errorf("fmt chunk of %d bytes, want at least 16", len(f))
	}
	tag := binary.LittleEndian.Uint16(f[0:2])
	channels := binary.LittleEndian.Uint16(f[2:4])
	rate := binary.LittleEndian.Uint32(f[4:8])
	bits := binary.LittleEndian.Uint16(f[14:16])
	switch {
	case tag != tagMuLaw:
		name := fmt.Sprintf("format tag %d", tag)
		if tag == tagPCM {
			name = fmt.Sprintf("linear PCM (%d-bit)", bits)
		}
		return fmt.Errorf("encoding is %s, want G.711 μ-law (format tag 7); convert with: sox IN.wav -r 8000 -c 1 -e u-law OUT.wav", name)
	case channels != 1:
		return fmt.Errorf("%d channels, want mono", channels)
	case rate != uint32(Telephone.SampleRate):
		return fmt.Errorf("sample rate %d Hz, want %d", rate, Telephone.SampleRate)
	case bits != 8:
		return fmt.Errorf("%d bits per sample, want 8", bits)
	}
	return nil
}
