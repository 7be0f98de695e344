package rtpsock

import (
	"bytes"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/emiago/diago/media"
	"github.com/emiago/diago/media/sdp"
	"github.com/pion/rtcp"
)

// session is a media session on loopback; peer, when not nil, is the
// remote whose SDP it took (an offer), so its socket hears the stream.
func session(t testing.TB, peerMode string) (local, peer *media.MediaSession) {
	t.Helper()
	local, err := media.NewMediaSession(net.IPv4(127, 0, 0, 1), 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { local.Close() })
	if peerMode == "" {
		return local, nil
	}
	peer, err = media.NewMediaSession(net.IPv4(127, 0, 0, 1), 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	peer.Mode = peerMode
	if err := local.RemoteSDP(peer.LocalSDP(false), true); err != nil {
		t.Fatal(err)
	}
	return local, peer
}

// read takes one datagram off the peer's socket, with its source.
func read(t *testing.T, s *media.MediaSession) ([]byte, *net.UDPAddr) {
	t.Helper()
	c, err := Conn(s)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	b := make([]byte, BufSize)
	n, from, err := c.ReadFromUDP(b)
	if err != nil {
		t.Fatal(err)
	}
	return b[:n], from
}

// A stream sends from the session's own socket (its SDP's port: symmetric
// RTP) to the remote address its SDP named, with one SSRC, consecutive
// sequence numbers, the timestamp moved by each packet's samples and the
// payload as given.
func TestStreamSendsFromTheSessionsSocket(t *testing.T) {
	local, peer := session(t, sdp.ModeSendrecv)
	st, err := NewStream(local)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Write(bytes.Repeat([]byte{1}, 160), 0, true, 160); err != nil {
		t.Fatal(err)
	}
	if err := st.Write(media.DTMFEncode(media.DTMFEvent{Event: 5}), 101, false, 0); err != nil {
		t.Fatal(err)
	}
	st.Advance(800)
	if err := st.Write(bytes.Repeat([]byte{2}, 80), 0, false, 80); err != nil {
		t.Fatal(err)
	}
	var got []Packet
	for range 3 {
		b, from := read(t, peer)
		if from.Port != local.Laddr.Port {
			t.Fatalf("sent from port %d; want the session's RTP port %d", from.Port, local.Laddr.Port)
		}
		var p Packet
		if err := Parse(b, &p); err != nil {
			t.Fatal(err)
		}
		p.Payload = bytes.Clone(p.Payload)
		got = append(got, p)
	}
	a, ev, b := got[0], got[1], got[2]
	if !a.Marker || ev.Marker || b.Marker || a.PayloadType != 0 || ev.PayloadType != 101 || b.PayloadType != 0 {
		t.Errorf("markers %v %v %v, payload types %d %d %d; want the first marked, 0 101 0", a.Marker, ev.Marker, b.Marker, a.PayloadType, ev.PayloadType, b.PayloadType)
	}
	if ev.Sequence != a.Sequence+1 || b.Sequence != a.Sequence+2 || a.SSRC != b.SSRC || ev.SSRC != a.SSRC {
		t.Errorf("sequence %d %d %d, SSRC %x %x %x; want consecutive, one SSRC", a.Sequence, ev.Sequence, b.Sequence, a.SSRC, ev.SSRC, b.SSRC)
	}
	if ev.Timestamp != a.Timestamp+160 || b.Timestamp != ev.Timestamp+800 {
		t.Errorf("timestamps %d %d %d; want +160 then +800", a.Timestamp, ev.Timestamp, b.Timestamp)
	}
	if !bytes.Equal(a.Payload, bytes.Repeat([]byte{1}, 160)) || !bytes.Equal(b.Payload, bytes.Repeat([]byte{2}, 80)) {
		t.Error("payloads changed on the way")
	}
}

// A session whose remote only sends (hold) is recvonly here: the stream
// sends nothing, as diago's writer, and sends again once a re-INVITE's
// fork is sendrecv, to the new remote address, the sequence running on.
func TestStreamFollowsTheDirectionAndTheAddress(t *testing.T) {
	local, held := session(t, sdp.ModeSendonly)
	if dir, err := Direction(local); err != nil || dir != sdp.ModeRecvonly {
		t.Fatalf("direction %q %v; want recvonly", dir, err)
	}
	st, err := NewStream(local)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Write(make([]byte, 160), 0, true, 160); err != nil {
		t.Fatal(err)
	}
	back, err := media.NewMediaSession(net.IPv4(127, 0, 0, 1), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	fork := local.Fork()
	if err := fork.RemoteSDP(back.LocalSDP(false), true); err != nil {
		t.Fatal(err)
	}
	if err := st.Follow(fork); err != nil {
		t.Fatal(err)
	}
	if err := st.Write(make([]byte, 160), 0, false, 160); err != nil {
		t.Fatal(err)
	}
	b, _ := read(t, back)
	var p Packet
	if err := Parse(b, &p); err != nil {
		t.Fatal(err)
	}
	// The held peer heard nothing: a loopback send is delivered before
	// it returns, so its socket would hold the first packet by now.
	c, _ := Conn(held)
	_ = c.SetReadDeadline(time.Now())
	if n, _, err := c.ReadFrom(make([]byte, BufSize)); err == nil {
		t.Fatalf("a recvonly session sent %d bytes", n)
	}
	if p.Sequence != st.seq-1 || p.Marker {
		t.Fatalf("sequence %d, marker %v; want %d, the held packet's number used", p.Sequence, p.Marker, st.seq-1)
	}
}

// Sessions the stream would send wrongly are refused: SRTP, and a peer
// address learned from the packets.
func TestStreamRefusesWhatDiagoMustSend(t *testing.T) {
	s, _ := session(t, sdp.ModeSendrecv)
	s.RTPNAT = 1
	if _, err := NewStream(s); err == nil {
		t.Error("a stream on an RTPNAT session")
	}
	s.RTPNAT, s.SecureRTP = 0, 1
	if _, err := NewStream(s); err == nil {
		t.Error("a stream on an SRTP session")
	}
	bare, _ := session(t, "")
	if _, err := NewStream(bare); err == nil {
		t.Error("a stream with no remote address")
	}
}

// Sending a frame allocates nothing.
func TestStreamWriteAllocatesNothing(t *testing.T) {
	local, _ := session(t, sdp.ModeSendrecv)
	st, err := NewStream(local)
	if err != nil {
		t.Fatal(err)
	}
	frame := make([]byte, 160)
	if n := testing.AllocsPerRun(100, func() { _ = st.Write(frame, 0, false, 160) }); n != 0 {
		t.Fatalf("%.1f allocations a frame", n)
	}
}

// BenchmarkSendFrame sends one 160-byte frame on a loopback session:
// through diago's RTP writer (what a SIP leg did before) and through a
// Stream. The peer's socket is drained by nothing: a full receive
// buffer drops on loopback without failing the send. cpu-ns/op is the
// process's CPU time (utime + stime) a frame, which a loaded machine
// moves far less than ns/op.
func BenchmarkSendFrame(b *testing.B) {
	frame := make([]byte, 160)
	b.Run("diago", func(b *testing.B) {
		local, _ := session(b, sdp.ModeSendrecv)
		w := media.NewRTPPacketWriterSession(media.NewRTPSession(local))
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			if _, err := w.WriteSamples(frame, 160, false, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("stream", func(b *testing.B) {
		local, _ := session(b, sdp.ModeSendrecv)
		st, err := NewStream(local)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			if err := st.Write(frame, 0, false, 160); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// reportCPU reports the process's CPU time an operation from now until
// the returned function is called.
func reportCPU(b *testing.B) func() {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	return func() {
		b.ReportMetric(float64(cpu()-start)/float64(max(b.N, 1)), "cpu-ns/op")
	}
}

// A stream sends an RTCP sender report every reportEvery packets, on the
// session's RTCP socket, counting what it sent: without it a trunk or a
// phone that watches RTCP would see a silent leg.
func TestStreamSendsSenderReports(t *testing.T) {
	local, peer := session(t, sdp.ModeSendrecv)
	st, err := NewStream(local)
	if err != nil {
		t.Fatal(err)
	}
	frame := bytes.Repeat([]byte{0xff}, 160)
	for range reportEvery {
		if err := st.Write(frame, 0, false, 160); err != nil {
			t.Fatal(err)
		}
	}
	type result struct {
		pkts []rtcp.Packet
		err  error
	}
	got := make(chan result, 1)
	go func() {
		buf := make([]byte, 1500)
		pkts := make([]rtcp.Packet, 4)
		n, err := peer.ReadRTCP(buf, pkts)
		got <- result{pkts[:n], err}
	}()
	var r result
	select {
	case r = <-got:
	case <-time.After(30 * time.Second):
		t.Fatal("no RTCP packet reached the peer's RTCP socket")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	if len(r.pkts) != 1 {
		t.Fatalf("got %d RTCP packets; want 1 sender report", len(r.pkts))
	}
	sr, ok := r.pkts[0].(*rtcp.SenderReport)
	if !ok {
		t.Fatalf("got %T; want a sender report", r.pkts[0])
	}
	if sr.SSRC != st.ssrc || sr.PacketCount != reportEvery || sr.OctetCount != reportEvery*160 {
		t.Errorf("report: SSRC %x, %d packets, %d octets; want SSRC %x, %d packets, %d octets",
			sr.SSRC, sr.PacketCount, sr.OctetCount, st.ssrc, reportEvery, reportEvery*160)
	}
	if sr.RTPTime != st.ts {
		t.Errorf("report's RTP time %d; want the stream's next timestamp %d", sr.RTPTime, st.ts)
	}
	if secs := int64(sr.NTPTime>>32) - ntpEpochOffset; time.Since(time.Unix(secs, 0)).Abs() > time.Minute {
		t.Errorf("report's NTP time is %s; want about now", time.Unix(secs, 0))
	}
}
