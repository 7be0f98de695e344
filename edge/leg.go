package edge

import (
	"context"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/diago"
	"github.com/emiago/diago/audio"
	"github.com/emiago/diago/media"
)

// leg is one side of a call on the edge: the caller's, or an agent's
// phone. Its reader runs for the leg's life and hands each audio frame to
// the leg it is bridged to (its peer), so bridging, a transfer or an
// unbridge is one pointer swap and never touches the caller's stream.
type leg struct {
	med    *diago.DialogMedia
	codec  media.Codec
	r      io.Reader
	done   <-chan struct{}
	hangup func(ctx context.Context) error
	// contactID is the contact this leg served when it was bridged (an
	// agent's leg), so a late hangup of a transferred call's first agent
	// is not taken for the new leg's.
	contactID string

	wmu sync.Mutex
	w   io.Writer
	// rtp, when set (a SIP leg), sends frames unpaced: the writer's own
	// Write waits for its 20 ms clock after every frame, so a relay that
	// got two frames in one tick would carry the second's wait, and every
	// later frame's, for the rest of the call. pt is the payload type;
	// sent says whether the first frame (RTP marker) went.
	rtp  *media.RTPPacketWriter
	pt   uint8
	sent bool
	peer atomic.Pointer[leg]
	// rec, while set, gets every frame the leg sends the edge, in the
	// recording's law.
	rec atomic.Pointer[legRecording]
	// mix, while set, takes the leg's frames instead of its peer: a
	// conference.
	mix atomic.Pointer[mixer]

	rx, tx atomic.Int64
	// up, when set, says whether the leg carries audio now (a softphone
	// between peer connections does not); nil is always.
	up func() bool
	// dtmf sends RFC 4733 events on the leg (the caller's, when
	// telephone-event was negotiated).
	dtmf *diago.DTMFWriter
}

// isUp says whether the leg carries audio now.
func (l *leg) isUp() bool { return l.up == nil || l.up() }

// sendDigits sends digits to the leg as RFC 4733 events, one after the
// other, in the background (each takes about 100 ms).
func (l *leg) sendDigits(digits string) bool {
	if l.dtmf == nil {
		return false
	}
	go func() {
		for _, d := range digits {
			// The event's packets and the relayed audio share one RTP
			// stream: the audio waits for each event (~100 ms).
			l.wmu.Lock()
			err := l.dtmf.WriteDTMF(d)
			l.wmu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return true
}

// newLeg wraps an answered dialog's media; digits, when not nil, gets
// the RFC 4733 telephone-events the leg sends.
func newLeg(med *diago.DialogMedia, done <-chan struct{}, hangup func(context.Context) error, digits chan<- string) (*leg, error) {
	l := &leg{med: med, done: done, hangup: hangup, codec: media.CodecAudioFromSession(med.MediaSession()), rtp: med.RTPPacketWriter}
	l.pt = l.codec.PayloadType
	var err error
	if digits != nil {
		dtmf := &diago.DTMFReader{}
		l.r, err = med.AudioReader(diago.WithAudioReaderDTMF(dtmf))
		if err == nil {
			dtmf.OnDTMF(func(d rune) error {
				select {
				case digits <- string(d):
				default: // a caller pressing faster than the menu listens
				}
				return nil
			})
		}
	}
	if l.r == nil {
		// No telephone-event negotiated: SIP INFO still carries digits.
		if l.r, err = med.AudioReader(); err != nil {
			return nil, err
		}
	}
	if digits != nil {
		// The caller's leg: the agent's dtmf frames are sent on it.
		if w, derr := med.AudioWriterDTMF(); derr == nil {
			l.w, l.dtmf = w, w
			return l, nil
		}
	}
	if l.w, err = med.AudioWriter(); err != nil {
		return nil, err
	}
	return l, nil
}

// readLoop relays the leg's audio to its peer until the leg ends.
func (l *leg) readLoop() {
	buf := make([]byte, media.RTPBufSize)
	for {
		n, err := l.r.Read(buf)
		if err != nil {
			return
		}
		l.rx.Add(1)
		if r := l.rec.Load(); r != nil {
			if f := transcode(buf[:n], l.codec.Name, r.law); f != nil {
				_ = r.write(f)
			}
		}
		if m := l.mix.Load(); m != nil {
			m.put(l, buf[:n])
		} else if p := l.peer.Load(); p != nil {
			p.write(buf[:n], l.codec)
		}
	}
}

// transcode re-encodes a G.711 frame from one law to the other; a frame
// already in the codec passes as it is, one of another codec is nil.
func transcode(payload []byte, from, to string) []byte {
	if from == to {
		return payload
	}
	pcm := make([]byte, 2*len(payload))
	var err error
	switch from {
	case "pcmu":
		_, err = audio.DecodeUlawTo(pcm, payload)
	case "pcma":
		_, err = audio.DecodeAlawTo(pcm, payload)
	default:
		return nil
	}
	if err != nil {
		return nil
	}
	out := make([]byte, len(payload))
	switch to {
	case "pcmu":
		_, err = audio.EncodeUlawTo(out, pcm)
	case "pcma":
		_, err = audio.EncodeAlawTo(out, pcm)
	default:
		return nil
	}
	if err != nil {
		return nil
	}
	return out
}

// write sends one frame encoded in codec from, transcoding between PCMU
// and PCMA when the leg speaks the other.
func (l *leg) write(payload []byte, from media.Codec) {
	payload = transcode(payload, from.Name, l.codec.Name)
	if payload == nil {
		return
	}
	l.send(payload)
}

// send writes one frame in the leg's codec: at once on a SIP leg (the
// sender's pace is kept; G.711 is one byte a sample, so the timestamp
// advances by the frame's length), through the writer otherwise.
func (l *leg) send(payload []byte) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	var err error
	if l.rtp != nil {
		_, err = l.rtp.WriteSamples(payload, uint32(len(payload)), !l.sent, l.pt)
		l.sent = true
	} else {
		_, err = l.w.Write(payload)
	}
	if err == nil {
		l.tx.Add(1)
	}
}

// legRecording is one direction of a recording.
type legRecording struct {
	law   string // pcmu or pcma
	write func([]byte) error
}

// bridge joins two legs both ways.
func bridge(a, b *leg) {
	a.peer.Store(b)
	b.peer.Store(a)
}

// unbridge parts a leg from its peer, both ways.
func unbridge(a *leg) {
	if p := a.peer.Swap(nil); p != nil {
		p.peer.CompareAndSwap(a, nil)
	}
}

// play sends μ-law phrases to the leg at the pace of real time until
// they end or ctx does; frames are skipped, not queued, while the leg is
// bridged.
func (l *leg) play(ctx context.Context, phrases [][]byte) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for _, ph := range phrases {
		for off := 0; off < len(ph); off += 160 {
			frame := make([]byte, 160)
			copy(frame, ph[off:])
			for i := len(ph) - off; i < 160; i++ {
				frame[i] = 0xFF // μ-law silence
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-l.done:
				return context.Canceled
			case <-tick.C:
			}
			if l.peer.Load() == nil {
				l.write(frame, media.CodecAudioUlaw)
			}
		}
	}
	return nil
}
