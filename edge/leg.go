package edge

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/diago"
	"github.com/emiago/diago/audio"
	"github.com/emiago/diago/media"

	"tellonce/rtpsock"
)

// leg is one side of a call on the edge: the caller's, or an agent's
// phone. Its reader runs for the leg's life and hands each audio frame to
// the leg it is bridged to (its peer), so bridging, a transfer or an
// unbridge is one pointer swap and never touches the caller's stream.
type leg struct {
	med   *diago.DialogMedia
	codec media.Codec
	r     io.Reader
	// raw, when set (a SIP leg), reads the leg's RTP socket directly
	// instead of r: diago's reader takes the time and updates its
	// statistics for every packet and allocates the sender's address.
	// Only the leg's audio payload type is relayed; on the caller's leg
	// tel.pt carries its RFC 4733 digits.
	raw    *rtpsock.Reader
	tel    telephoneEvents
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
	// stream, when set (a SIP leg whose socket rtpsock reads), sends
	// the leg's RTP straight from that socket instead of rtp: diago's
	// writer path was a seventh of the relay's CPU. Every packet the
	// edge sends on the leg, relayed audio, prompts and RFC 4733 digits,
	// goes through it, so they share one SSRC and sequence. changes says
	// when a re-INVITE or UPDATE has given diago a new RTP session, whose
	// remote address and direction the stream then takes.
	stream  *rtpsock.Stream
	changes *mediaChanges
	// events says the caller's RFC 4733 digits go out on stream (while
	// it is set): telephone-event was negotiated.
	events bool
	peer   atomic.Pointer[leg]
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
	if l.dtmf == nil && !l.events {
		return false
	}
	go func() {
		for _, d := range digits {
			// The event's packets and the relayed audio share one RTP
			// stream: the audio waits for each event (~100 ms).
			l.wmu.Lock()
			var err error
			switch {
			case l.events && l.stream != nil:
				err = l.sendEvent(d)
			case l.dtmf != nil:
				err = l.dtmf.WriteDTMF(d)
			default:
				err = errors.New("edge: no RFC 4733 writer on the leg")
			}
			l.wmu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return true
}

// sendEvent sends one digit as an RFC 4733 event on the leg's stream,
// paced as diago's DTMF writer does: seven packets 20 ms apart, the
// first with the marker, the last three the event's end, all at one
// timestamp, which then moves on by the event's duration. Called with
// wmu held.
func (l *leg) sendEvent(d rune) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	evs := media.RTPDTMFEncode8000(d)
	for i, ev := range evs {
		select {
		case <-l.done:
			return context.Canceled
		case <-tick.C:
		}
		if l.follow(); l.stream == nil {
			return errors.New("edge: the leg's RTP went back to diago's writer during a digit")
		}
		if err := l.stream.Write(media.DTMFEncode(ev), uint8(l.tel.pt), i == 0, 0); err != nil {
			return err
		}
	}
	if len(evs) > 0 {
		l.stream.Advance(uint32(evs[len(evs)-1].Duration))
	}
	return nil
}

// mediaChanges is set by diago after a re-INVITE or UPDATE changed a
// dialog's media (its OnMediaUpdate), for the leg to take the new
// session at its next packet: one atomic load a packet, where asking
// diago's writer for its session takes its lock.
type mediaChanges struct{ changed atomic.Bool }

func (m *mediaChanges) note(*diago.DialogMedia) { m.changed.Store(true) }

// follow points the leg's stream at diago's current RTP session: after
// a re-INVITE diago forks the media session (the same socket) with the
// new remote address and direction, hands its writer the new one, then
// calls note. A session the stream cannot send on (SRTP, RTPNAT) hands
// the leg back to diago's writer. Called with wmu held.
func (l *leg) follow() {
	if l.changes == nil || !l.changes.changed.Load() {
		return
	}
	l.changes.changed.Store(false)
	rs, ok := l.med.RTPPacketWriter.Writer().(*media.RTPSession)
	if ok && rs.Sess != nil && l.stream.Follow(rs.Sess) == nil {
		return
	}
	l.stream, l.sent = nil, false
}

// newLeg wraps an answered dialog's media; changes is the dialog's
// OnMediaUpdate's (nil: the leg sends through diago's writer); digits,
// when not nil, gets the RFC 4733 telephone-events the leg sends.
func newLeg(med *diago.DialogMedia, changes *mediaChanges, done <-chan struct{}, hangup func(context.Context) error, digits chan<- string) (*leg, error) {
	sess := med.MediaSession()
	l := &leg{med: med, done: done, hangup: hangup, codec: media.CodecAudioFromSession(sess), rtp: med.RTPPacketWriter}
	l.pt = l.codec.PayloadType
	if conn, err := rtpsock.Conn(sess); err == nil {
		l.raw = rtpsock.NewReader(conn, rawBatch)
		if st, err := rtpsock.NewStream(sess); err == nil && changes != nil && med.RTPPacketWriter != nil {
			l.stream, l.changes = st, changes
		}
		l.tel.pt = -1
		if digits != nil {
			for _, c := range sess.CommonCodecs() {
				if c.Name == media.CodecTelephoneEvent8000.Name {
					l.tel.pt = int(c.PayloadType)
				}
			}
			l.tel.digits = digits
		}
		l.events = l.stream != nil && l.tel.pt >= 0 && l.tel.digits != nil
	}
	var err error
	if l.raw == nil && digits != nil {
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
	if l.raw == nil && l.r == nil {
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

// rawBatch is how many datagrams one read of a leg's socket takes: a
// leg gets one frame each 20 ms, so more than a few are queued only
// after a stall.
const rawBatch = 4

// readLoop relays the leg's audio to its peer until the leg ends.
func (l *leg) readLoop() {
	if l.raw != nil {
		var p rtpsock.Packet
		_ = l.raw.Run(func(d []byte) {
			if rtpsock.Parse(d, &p) != nil || len(p.Payload) == 0 {
				return
			}
			switch {
			case p.PayloadType == l.pt:
				l.relay(p.Payload)
			case int(p.PayloadType) == l.tel.pt:
				l.tel.packet(&p)
			}
		})
		return
	}
	buf := make([]byte, media.RTPBufSize)
	for {
		n, err := l.r.Read(buf)
		if err != nil {
			return
		}
		l.relay(buf[:n])
	}
}

// relay hands one frame the leg sent to its recording and its peer (or
// the conference's mix).
func (l *leg) relay(frame []byte) {
	l.rx.Add(1)
	if r := l.rec.Load(); r != nil {
		if f := transcode(frame, l.codec.Name, r.law); f != nil {
			_ = r.write(f)
		}
	}
	if m := l.mix.Load(); m != nil {
		m.put(l, frame)
	} else if p := l.peer.Load(); p != nil {
		p.write(frame, l.codec)
	}
}

// telephoneEvents finds the digits in a leg's RFC 4733 packets as
// diago's reader does: an event begins with the marker bit or a new
// timestamp, and is a digit at its first end packet (the end is sent
// three times).
type telephoneEvents struct {
	pt     int // the negotiated payload type; -1: none
	digits chan<- string
	open   bool
	event  uint8
	ts     uint32
}

func (t *telephoneEvents) packet(p *rtpsock.Packet) {
	if t.digits == nil || len(p.Payload) < 4 {
		return
	}
	var ev media.DTMFEvent
	if media.DTMFDecode(p.Payload, &ev) != nil {
		return
	}
	begins := p.Marker || p.Timestamp != t.ts
	t.ts = p.Timestamp
	switch {
	case ev.EndOfEvent:
		if t.open && ev.Event == t.event {
			t.open = false
			if r := media.DTMFToRune(ev.Event); r != 0 {
				select {
				case t.digits <- string(r):
				default: // a caller pressing faster than the menu listens
				}
			}
		}
	case begins:
		t.open, t.event = true, ev.Event
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
// advances by the frame's length), straight from its socket when it
// can, through the writer otherwise.
func (l *leg) send(payload []byte) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	var err error
	if l.stream != nil {
		l.follow()
	}
	switch {
	case l.stream != nil:
		err = l.stream.Write(payload, l.pt, !l.sent, uint32(len(payload)))
		l.sent = true
	case l.rtp != nil:
		_, err = l.rtp.WriteSamples(payload, uint32(len(payload)), !l.sent, l.pt)
		l.sent = true
	default:
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
