package edge

import (
	"bytes"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emiago/diago"
	"github.com/emiago/diago/media"
	"github.com/pion/rtp"

	"tellonce/clocktest"
	"tellonce/rtpsock"
)

// packets records what a leg's RTP writer sends.
type packets struct {
	mu  sync.Mutex
	got []rtp.Header
}

func (p *packets) WriteRTP(pkt *rtp.Packet) error {
	p.mu.Lock()
	p.got = append(p.got, pkt.Header)
	p.mu.Unlock()
	return nil
}

// TestRelayedFramesAreNotPaced: a SIP leg sends a relayed frame at
// once, stamped by its own length, the first with the marker. The
// packetizer's own Write would instead wait for its 20 ms clock after
// each frame (a relay that fell behind once would stay behind) and
// advance the timestamp by 160 whatever the frame.
func TestRelayedFramesAreNotPaced(t *testing.T) {
	out := &packets{}
	l := &leg{codec: media.CodecAudioUlaw, rtp: media.NewRTPPacketWriter(out, media.CodecAudioUlaw), pt: media.CodecAudioUlaw.PayloadType}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, n := range []int{160, 240, 160} {
			l.write(make([]byte, n), media.CodecAudioUlaw)
		}
		// A clock-paced writer would need at least 15 s for these.
		for range 750 {
			l.write(make([]byte, 160), media.CodecAudioUlaw)
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("753 frames were not sent within 10 s: the writes are paced")
	}
	out.mu.Lock()
	defer out.mu.Unlock()
	if len(out.got) != 753 || l.tx.Load() != 753 {
		t.Fatalf("%d packets, tx %d; want 753", len(out.got), l.tx.Load())
	}
	h := out.got
	if !h[0].Marker || h[1].Marker || h[2].Marker {
		t.Errorf("markers %v %v %v; want only the first", h[0].Marker, h[1].Marker, h[2].Marker)
	}
	if d1, d2 := h[1].Timestamp-h[0].Timestamp, h[2].Timestamp-h[1].Timestamp; d1 != 160 || d2 != 240 {
		t.Errorf("timestamps advance by %d then %d; want 160 then 240 (each frame's samples)", d1, d2)
	}
	if h[1].SequenceNumber != h[0].SequenceNumber+1 || h[0].PayloadType != 0 {
		t.Errorf("sequence %d→%d, payload type %d; want consecutive, PCMU", h[0].SequenceNumber, h[1].SequenceNumber, h[0].PayloadType)
	}
}

// TestTelephoneEventsGiveEachDigitOnce: an RFC 4733 event is one digit
// at its first end packet however many begin, continue and end packets
// carry it; an end with no beginning seen, or of another event, is none.
func TestTelephoneEventsGiveEachDigitOnce(t *testing.T) {
	digits := make(chan string, 8)
	te := telephoneEvents{pt: 101, digits: digits}
	ev := func(event uint8, end, marker bool, ts uint32) {
		te.packet(&rtpsock.Packet{PayloadType: 101, Marker: marker, Timestamp: ts,
			Payload: media.DTMFEncode(media.DTMFEvent{Event: event, EndOfEvent: end, Volume: 10, Duration: 800})})
	}
	ev(5, false, true, 1000)
	ev(5, false, false, 1000)
	ev(5, true, false, 1000)
	ev(5, true, false, 1000)
	ev(5, true, false, 1000)
	ev(11, false, false, 2000) // a new timestamp begins an event too
	ev(11, true, false, 2000)
	ev(3, true, false, 3000) // an end alone
	ev(7, false, true, 4000)
	ev(8, true, false, 4000) // another event's end
	close(digits)
	var got []string
	for d := range digits {
		got = append(got, d)
	}
	if len(got) != 2 || got[0] != "5" || got[1] != "#" {
		t.Fatalf("digits %q; want [5 #]", got)
	}
}

// TestRawLegRelaysItsAudioAndDigits: a SIP leg reading its socket
// directly relays the payload of its audio payload type to its peer,
// takes telephone-events as digits, and drops other payloads (comfort
// noise) and what is not RTP.
func TestRawLegRelaysItsAudioAndDigits(t *testing.T) {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	digits := make(chan string, 1)
	peerOut := &packets{}
	peer := &leg{codec: media.CodecAudioUlaw, rtp: media.NewRTPPacketWriter(peerOut, media.CodecAudioUlaw), pt: 0}
	l := &leg{codec: media.CodecAudioUlaw, pt: 0, raw: rtpsock.NewReader(conn, rawBatch), tel: telephoneEvents{pt: 101, digits: digits}}
	bridge(l, peer)
	done := make(chan struct{})
	go func() { defer close(done); l.readLoop() }()
	send, err := net.DialUDP("udp", nil, conn.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer send.Close()
	pkt := func(pt uint8, marker bool, payload []byte) []byte {
		b := make([]byte, 12, 12+len(payload))
		rtpsock.Header(b, pt, marker, 1, 160, 42)
		return append(b, payload...)
	}
	for _, b := range [][]byte{
		pkt(13, false, []byte{40}), // comfort noise
		[]byte("not rtp"),
		pkt(101, true, media.DTMFEncode(media.DTMFEvent{Event: 9})),
		pkt(101, false, media.DTMFEncode(media.DTMFEvent{Event: 9, EndOfEvent: true})),
		pkt(0, false, bytes.Repeat([]byte{0x22}, 160)),
	} {
		if _, err := send.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case d := <-digits:
		if d != "9" {
			t.Fatalf("digit %q; want 9", d)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no digit")
	}
	clocktest.Eventually(t, "the audio frame relayed", 30*time.Second, func() bool { return l.rx.Load() >= 1 })
	conn.Close()
	<-done
	peerOut.mu.Lock()
	defer peerOut.mu.Unlock()
	if l.rx.Load() != 1 || len(peerOut.got) != 1 || peerOut.got[0].PayloadType != 0 {
		t.Fatalf("relayed %d frames, the peer sent %d packets; want the one audio frame", l.rx.Load(), len(peerOut.got))
	}
}

// sipMedia is a dialog's media as diago sets it up for an answered SIP
// leg: a media session on loopback that took the SDP of a phone's
// session (phone, whose socket hears what the leg sends).
func sipMedia(t *testing.T) (med *diago.DialogMedia, phone *media.MediaSession) {
	t.Helper()
	sess, err := media.NewMediaSession(net.IPv4(127, 0, 0, 1), 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Close() })
	phone = phoneSession(t)
	if err := sess.RemoteSDP(phone.LocalSDP(false), true); err != nil {
		t.Fatal(err)
	}
	rs := media.NewRTPSession(sess)
	med = &diago.DialogMedia{}
	med.InitMediaSession(sess, media.NewRTPPacketReaderSession(rs), media.NewRTPPacketWriterSession(rs))
	return med, phone
}

func phoneSession(t *testing.T) *media.MediaSession {
	t.Helper()
	phone, err := media.NewMediaSession(net.IPv4(127, 0, 0, 1), 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { phone.Close() })
	return phone
}

// hear reads the next RTP packet off a phone's socket, and its source.
func hear(t *testing.T, phone *media.MediaSession) (rtpsock.Packet, int) {
	t.Helper()
	c, err := rtpsock.Conn(phone)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	b := make([]byte, rtpsock.BufSize)
	n, from, err := c.ReadFromUDP(b)
	if err != nil {
		t.Fatal(err)
	}
	var p rtpsock.Packet
	if err := rtpsock.Parse(b[:n], &p); err != nil {
		t.Fatal(err)
	}
	p.Payload = bytes.Clone(p.Payload)
	return p, from.Port
}

// TestSIPLegSendsStraightFromItsSocket: a SIP leg's frames leave from
// its own RTP port (the one its SDP names) for the phone's, the RFC 4733
// digits sent to the caller in the same stream (one SSRC, the sequence
// running on), and after a re-INVITE they go where the new SDP says.
func TestSIPLegSendsStraightFromItsSocket(t *testing.T) {
	med, phone := sipMedia(t)
	digits := make(chan string, 1)
	done := make(chan struct{})
	defer close(done)
	changes := &mediaChanges{}
	l, err := newLeg(med, changes, done, nil, digits)
	if err != nil {
		t.Fatal(err)
	}
	if l.stream == nil {
		t.Fatal("the SIP leg sends through diago's writer, not its own stream")
	}
	port := med.MediaSession().Laddr.Port
	l.write(bytes.Repeat([]byte{0x55}, 160), media.CodecAudioUlaw)
	first, from := hear(t, phone)
	if from != port || !first.Marker || first.PayloadType != 0 || !bytes.Equal(first.Payload, bytes.Repeat([]byte{0x55}, 160)) {
		t.Fatalf("from port %d (want %d), marker %v, payload type %d, payload %x", from, port, first.Marker, first.PayloadType, first.Payload[:4])
	}

	if !l.sendDigits("7") {
		t.Fatal("the caller's leg sends no digits")
	}
	var ev media.DTMFEvent
	for i := range 7 {
		p, _ := hear(t, phone)
		if p.PayloadType != 101 || p.SSRC != first.SSRC || p.Sequence != first.Sequence+1+uint16(i) || p.Timestamp != first.Timestamp+160 || p.Marker != (i == 0) {
			t.Fatalf("event packet %d: %+v; want payload type 101 in the audio's stream, marked first", i, p)
		}
		if err := media.DTMFDecode(p.Payload, &ev); err != nil || ev.Event != 7 || ev.EndOfEvent != (i >= 4) {
			t.Fatalf("event packet %d: %+v %v; want digit 7, its end in the last three", i, ev, err)
		}
	}
	l.write(make([]byte, 160), media.CodecAudioUlaw)
	after, _ := hear(t, phone)
	if after.Sequence != first.Sequence+8 || after.Timestamp != first.Timestamp+160+800 || after.PayloadType != 0 {
		t.Fatalf("audio after the digit: sequence %d timestamp %d; want %d and %d", after.Sequence, after.Timestamp, first.Sequence+8, first.Timestamp+960)
	}

	// A re-INVITE: diago forks the session with the new remote SDP,
	// gives its writer the new RTP session, then calls OnMediaUpdate.
	moved := phoneSession(t)
	fork := med.MediaSession().Fork()
	if err := fork.RemoteSDP(moved.LocalSDP(false), true); err != nil {
		t.Fatal(err)
	}
	med.RTPPacketWriter.UpdateRTPSession(media.NewRTPSession(fork))
	changes.note(med)
	l.write(make([]byte, 160), media.CodecAudioUlaw)
	p, from := hear(t, moved)
	if from != port || p.Sequence != after.Sequence+1 || p.SSRC != first.SSRC {
		t.Fatalf("after the re-INVITE: from port %d, sequence %d, SSRC %x; want %d, %d, %x", from, p.Sequence, p.SSRC, port, after.Sequence+1, first.SSRC)
	}
}
