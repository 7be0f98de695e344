package rtpsock

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"time"

	"github.com/emiago/diago/media"
	"github.com/emiago/diago/media/sdp"
	"github.com/pion/rtcp"
)

// Stream is one RTP stream sent straight from a media session's own
// socket (the port its SDP names, so symmetric RTP and NAT latching
// hold): one sendto a packet and nothing else. diago's writer takes a
// read lock, marshals a pion packet, locks the session's statistics and
// reads the clock for every packet, which at hundreds of calls was a
// seventh of the relay's CPU. A Stream counts what it sends and sends
// its own RTCP sender report every reportEvery packets instead.
//
// The stream's SSRC, sequence and timestamp are its own. A Stream is
// not safe for concurrent use.
type Stream struct {
	sess *media.MediaSession
	conn *net.UDPConn
	to   netip.AddrPort
	// send is false while the session is recvonly or inactive: what it
	// would send is dropped, as diago's writer does.
	send bool
	ssrc uint32
	seq  uint16
	ts   uint32
	buf  [12 + BufSize]byte

	// What the stream has sent, for its RTCP sender reports (RFC 3550
	// 6.4.1): packets and payload octets, and packets since the last
	// report.
	packets, octets uint32
	sinceReport     int
}

// reportEvery is the packets between two sender reports: 5 s of 20 ms
// frames, RFC 3550's minimum interval. Counting packets rather than
// reading the clock keeps the clock off the per-packet path; a stream
// that pauses (hold, silence) reports later, which the RFC allows.
const reportEvery = 250

// NewStream sends on s's socket to its remote address. A session diago
// protects with SRTP or lets learn its peer's address from the packets
// (RTPNAT) is refused: diago's writer is the one for those.
func NewStream(s *media.MediaSession) (*Stream, error) {
	conn, err := Conn(s)
	if err != nil {
		return nil, err
	}
	st := &Stream{conn: conn, ssrc: rand.Uint32(), seq: uint16(rand.Uint32()), ts: rand.Uint32()}
	if err := st.Follow(s); err != nil {
		return nil, err
	}
	return st, nil
}

// Follow takes s's remote address and direction: after a re-INVITE
// diago forks the session (the same socket) with the new remote SDP.
func (st *Stream) Follow(s *media.MediaSession) error {
	if s.SecureRTP != 0 || s.RTPNAT != 0 {
		return errors.New("rtpsock: the session uses SRTP or learns its peer's address; send through diago")
	}
	dir, err := Direction(s)
	if err != nil {
		return err
	}
	ap := s.Raddr.AddrPort()
	if !ap.IsValid() || ap.Port() == 0 {
		return fmt.Errorf("rtpsock: the session's remote address %s cannot be sent to", s.Raddr.String())
	}
	st.sess = s
	// An IPv4 address in a 16-byte slice is IPv4 to an IPv4 socket.
	st.to = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	st.send = dir != sdp.ModeRecvonly && dir != sdp.ModeInactive
	return nil
}

// Write sends payload as the stream's next packet: payload type pt,
// the marker as given, the timestamp advanced by samples afterwards (0
// for the packets of one RFC 4733 event). The payload is copied.
func (st *Stream) Write(payload []byte, pt uint8, marker bool, samples uint32) error {
	if len(payload) > BufSize {
		return fmt.Errorf("rtpsock: a payload of %d bytes is over %d", len(payload), BufSize)
	}
	Header(st.buf[:12], pt, marker, st.seq, st.ts, st.ssrc)
	st.seq++
	st.ts += samples
	if !st.send {
		return nil
	}
	n := copy(st.buf[12:], payload)
	if _, err := st.conn.WriteToUDPAddrPort(st.buf[:12+n], st.to); err != nil {
		return fmt.Errorf("rtpsock: sending RTP: %w", err)
	}
	st.packets++
	st.octets += uint32(n)
	if st.sinceReport++; st.sinceReport >= reportEvery {
		st.sinceReport = 0
		// RTCP is advisory: a report that cannot be sent must not
		// stop the audio, and the next one is 5 s away.
		_ = st.Report(time.Now())
	}
	return nil
}

// Report sends the stream's RTCP sender report now, on the session's
// RTCP socket: its SSRC, the wall clock and the RTP timestamp of the
// next packet, and the packets and octets sent so far. It carries no
// reception report: what the leg hears is relayed, not counted.
func (st *Stream) Report(now time.Time) error {
	secs := uint64(now.Unix()) + ntpEpochOffset
	frac := uint64(now.Nanosecond()) << 32 / 1e9
	sr := &rtcp.SenderReport{
		SSRC:        st.ssrc,
		NTPTime:     secs<<32 | frac,
		RTPTime:     st.ts,
		PacketCount: st.packets,
		OctetCount:  st.octets,
	}
	if err := st.sess.WriteRTCP(sr); err != nil {
		return fmt.Errorf("rtpsock: sending an RTCP sender report: %w", err)
	}
	return nil
}

// ntpEpochOffset is the seconds from NTP's epoch (1900) to Unix's.
const ntpEpochOffset = 2208988800

// Advance moves the timestamp on by samples without sending: the time
// an RFC 4733 event took.
func (st *Stream) Advance(samples uint32) { st.ts += samples }
