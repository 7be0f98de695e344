package sipptest

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"strings"
	"time"
)

// Media is what a caller scenario sends once answered, as RTP in a pcap
// file that SIPp replays (play_pcap_audio) from the call's media port:
// Lead of a PCMU tone, then each DTMF digit as RFC 4733 telephone-events,
// then After of tone. The tone is μ-law, payload type 0; the events are
// payload type 101, as the caller scenarios' SDP offers. For RTP that
// flows for the whole wait, make After as long as Config.Hold; SIPp stops
// replaying when the call ends. For exact packet counts, end it a few
// ScreenEvery before.
type Media struct {
	Lead   time.Duration
	Digits string // 0-9, *, #, A-D
	After  time.Duration
}

// Packets is how many RTP packets the media holds: what SIPp sends if the
// call lasts long enough.
func (m Media) Packets() int {
	n := 0
	_ = m.each(func([]byte, time.Duration) error { n++; return nil })
	return n
}

// Duration is how long the media plays.
func (m Media) Duration() time.Duration {
	return m.Lead + time.Duration(len(m.Digits))*(digitTime+digitGap) + m.After
}

// AudioPackets is how many of them are audio (payload type 0).
func (m Media) AudioPackets() int {
	return int(m.Lead/packetTime) + int(m.After/packetTime)
}

const (
	packetTime    = 20 * time.Millisecond
	samplesPerPkt = 160
	ptPCMU        = 0
	ptEvent       = 101
	// A digit is pressed for digitTime and followed by digitGap of quiet.
	digitTime = 100 * time.Millisecond
	digitGap  = 100 * time.Millisecond
	// The end of an event is sent three times (RFC 4733 section 2.5.1.4).
	endRepeats = 3
	ssrc       = 0x7e11_0ce0
	// mediaPort is the port the packets claim; SIPp rewrites it to the
	// call's own.
	mediaPort = 10000
)

func digitEvent(d rune) (byte, error) {
	switch {
	case d >= '0' && d <= '9':
		return byte(d - '0'), nil
	case d == '*':
		return 10, nil
	case d == '#':
		return 11, nil
	case d >= 'A' && d <= 'D':
		return byte(12 + d - 'A'), nil
	}
	return 0, fmt.Errorf("sipptest: digit %q: want 0-9, *, #, A-D", d)
}

// each calls emit with every RTP packet and its send time.
func (m Media) each(emit func(rtp []byte, at time.Duration) error) error {
	var seq uint16
	var ts uint32
	var at time.Duration
	tone := toneFrame()
	packet := func(pt byte, marker bool, stamp uint32, payload []byte) error {
		b := make([]byte, 12+len(payload))
		b[0] = 0x80
		b[1] = pt
		if marker {
			b[1] |= 0x80
		}
		binary.BigEndian.PutUint16(b[2:], seq)
		binary.BigEndian.PutUint32(b[4:], stamp)
		binary.BigEndian.PutUint32(b[8:], ssrc)
		copy(b[12:], payload)
		seq++
		return emit(b, at)
	}
	audio := func(d time.Duration) error {
		for range int(d / packetTime) {
			if err := packet(ptPCMU, false, ts, tone); err != nil {
				return err
			}
			ts += samplesPerPkt
			at += packetTime
		}
		return nil
	}
	if err := audio(m.Lead); err != nil {
		return err
	}
	for _, d := range m.Digits {
		ev, err := digitEvent(d)
		if err != nil {
			return err
		}
		start := ts
		steps := int(digitTime / packetTime)
		for i := 1; i <= steps; i++ {
			dur := uint16(i * samplesPerPkt)
			payload := []byte{ev, 10, 0, 0} // volume -10 dBm0
			binary.BigEndian.PutUint16(payload[2:], dur)
			last := i == steps
			reps := 1
			if last {
				payload[1] |= 0x80 // E bit
				reps = endRepeats
			}
			for range reps {
				if err := packet(ptEvent, i == 1, start, payload); err != nil {
					return err
				}
			}
			at += packetTime
		}
		ts += uint32(steps * samplesPerPkt)
		at += digitGap
		ts += uint32(digitGap / packetTime * samplesPerPkt)
	}
	return audio(m.After)
}

// toneFrame is 20 ms of a 440 Hz tone at about -12 dBFS, μ-law.
func toneFrame() []byte {
	f := make([]byte, samplesPerPkt)
	for i := range f {
		s := 0.25 * math.Sin(2*math.Pi*440*float64(i)/8000)
		f[i] = linearToULaw(int16(s * 32767))
	}
	return f
}

// linearToULaw compresses one 16-bit sample (ITU-T G.711).
func linearToULaw(s int16) byte {
	const bias, clip = 0x84, 32635
	sign := byte(0)
	v := int(s)
	if v < 0 {
		v, sign = -v, 0x80
	}
	v = min(v, clip) + bias
	exp := 7
	for mask := 0x4000; v&mask == 0 && exp > 0; mask >>= 1 {
		exp--
	}
	mant := (v >> (exp + 3)) & 0x0f
	return ^(sign | byte(exp<<4) | byte(mant))
}

// WritePcap writes the media as a pcap file (Ethernet, IPv4, UDP from and
// to port 10000 on 127.0.0.1), the input play_pcap_audio reads.
func (m Media) WritePcap(path string) error {
	var b strings.Builder
	le := binary.LittleEndian
	hdr := make([]byte, 24)
	le.PutUint32(hdr[0:], 0xa1b2c3d4)
	le.PutUint16(hdr[4:], 2)
	le.PutUint16(hdr[6:], 4)
	le.PutUint32(hdr[16:], 65535)
	le.PutUint32(hdr[20:], 1) // LINKTYPE_ETHERNET
	b.Write(hdr)
	err := m.each(func(rtp []byte, at time.Duration) error {
		udpLen := 8 + len(rtp)
		ipLen := 20 + udpLen
		frame := make([]byte, 14+ipLen)
		binary.BigEndian.PutUint16(frame[12:], 0x0800) // IPv4
		ip := frame[14:]
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:], uint16(ipLen))
		ip[8] = 64 // TTL
		ip[9] = 17 // UDP
		copy(ip[12:], []byte{127, 0, 0, 1})
		copy(ip[16:], []byte{127, 0, 0, 1})
		binary.BigEndian.PutUint16(ip[10:], ipChecksum(ip[:20]))
		udp := ip[20:]
		binary.BigEndian.PutUint16(udp[0:], mediaPort)
		binary.BigEndian.PutUint16(udp[2:], mediaPort)
		binary.BigEndian.PutUint16(udp[4:], uint16(udpLen))
		copy(udp[8:], rtp)
		rec := make([]byte, 16)
		le.PutUint32(rec[0:], uint32(at/time.Second))
		le.PutUint32(rec[4:], uint32(at%time.Second/time.Microsecond))
		le.PutUint32(rec[8:], uint32(len(frame)))
		le.PutUint32(rec[12:], uint32(len(frame)))
		b.Write(rec)
		b.Write(frame)
		return nil
	})
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("sipptest: %w", err)
	}
	return nil
}

func ipChecksum(h []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(h); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
