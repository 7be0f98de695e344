package edge

import (
	"sync"
	"testing"
	"time"

	"github.com/emiago/diago/media"
	"github.com/pion/rtp"
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
