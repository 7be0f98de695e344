package recordings

import "fmt"

// Law is the G.711 companding law of the frames fed to a recording: what
// the leg's RTP carried.
type Law int

const (
	PCMU Law = iota // μ-law, RTP payload type 0
	PCMA            // A-law, RTP payload type 8
)

func (l Law) String() string {
	switch l {
	case PCMU:
		return "PCMU"
	case PCMA:
		return "PCMA"
	}
	return fmt.Sprintf("Law(%d)", int(l))
}

func (l Law) decode(b byte) int16 {
	if l == PCMA {
		return alaw(b)
	}
	return ulaw(b)
}

// ulaw expands one G.711 μ-law byte to 16-bit linear PCM (ITU-T G.711).
func ulaw(b byte) int16 {
	b = ^b
	t := (int(b&0x0f) << 3) + 0x84
	t <<= (b & 0x70) >> 4
	if b&0x80 != 0 {
		return int16(0x84 - t)
	}
	return int16(t - 0x84)
}

// alaw expands one G.711 A-law byte to 16-bit linear PCM (ITU-T G.711).
func alaw(b byte) int16 {
	b ^= 0x55
	t := int(b&0x0f) << 4
	seg := (b & 0x70) >> 4
	switch seg {
	case 0:
		t += 8
	case 1:
		t += 0x108
	default:
		t += 0x108
		t <<= seg - 1
	}
	if b&0x80 != 0 {
		return int16(t)
	}
	return int16(-t)
}
