package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/emiago/diago"
	"github.com/emiago/diago/media"
	"github.com/emiago/diago/media/sdp"
	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"tellonce/rtpsock"
)

// How the load side hears the edge: TELLONCE_EDGE_LOAD_MEDIA.
//
// Shared (the default) stands for the far end of a trunk: the load
// side's SIP legs all name one of loadRecvSockets sockets in their SDP,
// as a carrier's media gateway or an SBC in front of many phones can,
// and a reader takes up to 64 frames a system call from it, telling the
// legs apart by the edge's address for each (every edge leg sends from
// its own port). The edge does exactly the same work either way: one
// socket a leg, one read and one send a frame. What changes is the
// instrument's cost on the machine it shares with the edge, and on
// loopback the edge's: a send to a socket whose reader is already busy
// wakes nobody, where a send to one of a thousand sockets each read by
// its own goroutine wakes a thread of the load process for most frames,
// and loopback charges that wake-up to the edge's sendto. With the load
// side on another machine, as the carrier and the phones are in a
// deployment, neither cost is on the edge's machine.
//
// Per-leg ("per-leg") is the earlier instrument: each leg's own socket,
// read by its own goroutine, as diago sets a call up.
const loadRecvSockets = 2

// loadMediaShared reads TELLONCE_EDGE_LOAD_MEDIA.
func loadMediaShared(t *testing.T) bool {
	switch v := os.Getenv("TELLONCE_EDGE_LOAD_MEDIA"); v {
	case "", "shared":
		return true
	case "per-leg":
		return false
	default:
		t.Fatalf("TELLONCE_EDGE_LOAD_MEDIA=%q: want shared or per-leg", v)
		return false
	}
}

// loadRecv is one shared socket the load side hears on: RTP on its
// port, RTCP on the next (RFC 3550: the peer sends RTCP to port+1),
// read and dropped.
type loadRecv struct {
	rtp, rtcp *net.UDPConn
	mu        sync.RWMutex
	// hearers are the legs by the edge's address for each: where the
	// edge sends that leg's RTP from.
	hearers map[netip.AddrPort]loadHearer
	// stray counts datagrams from an address no leg expects.
	stray atomic.Int64
}

type loadHearer struct {
	l    *loadLeg
	want byte
}

// listenShared opens the shared sockets and starts their readers, which
// end when the sockets are closed (at the test's cleanup).
func (m *loadMedia) listenShared(t *testing.T) {
	for range loadRecvSockets {
		rtp, rtcp, err := listenRTPPair()
		if err != nil {
			t.Fatal(err)
		}
		// 50 frames a second from each of hundreds of legs: a reader
		// descheduled for a few milliseconds must not cost a frame.
		if err := rtp.SetReadBuffer(8 << 20); err != nil {
			t.Fatal(err)
		}
		rv := &loadRecv{rtp: rtp, rtcp: rtcp, hearers: map[netip.AddrPort]loadHearer{}}
		t.Cleanup(func() { rtp.Close(); rtcp.Close() })
		r, err := rtpsock.NewReaderWith(rtp, 64, rtpsock.ReaderOptions{Source: true, Arrival: true})
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			var p rtpsock.Packet
			_ = r.RunMeta(func(d []byte, meta *rtpsock.Meta) {
				rv.mu.RLock()
				h, ok := rv.hearers[meta.From]
				rv.mu.RUnlock()
				if !ok {
					rv.stray.Add(1)
					return
				}
				if rtpsock.Parse(d, &p) == nil {
					m.heard(h.l, p.Payload, h.want, meta.Arrival)
				}
			})
		}()
		go func() { _ = rtpsock.NewReader(rtcp, 16).Run(func([]byte) {}) }()
		m.recv = append(m.recv, rv)
	}
}

// listenRTPPair binds an RTP socket on loopback and its RTCP socket on
// the next port.
func listenRTPPair() (rtp, rtcp *net.UDPConn, err error) {
	for range 50 {
		rtp, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return nil, nil, fmt.Errorf("the load side's RTP socket: %w", err)
		}
		if port := rtp.LocalAddr().(*net.UDPAddr).Port; port < 65535 {
			rtcp, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port + 1})
			if err == nil {
				return rtp, rtcp, nil
			}
		}
		rtp.Close()
	}
	return nil, nil, errors.New("the load side's RTP socket: no free port with a free port after it")
}

// hearing says how the load side hears the edge, for the report.
func (m *loadMedia) hearing() string {
	if m.recv == nil {
		return "on each leg's own socket"
	}
	return fmt.Sprintf("on %d shared sockets (%d datagrams from no leg's address)", len(m.recv), m.strays())
}

// strays sums the datagrams the shared sockets could not give a leg.
func (m *loadMedia) strays() int64 {
	var n int64
	for _, rv := range m.recv {
		n += rv.stray.Load()
	}
	return n
}

// sharedSession is the SDP side of a leg on the next shared socket: a
// media session diago negotiates with (codecs, direction, addresses)
// but that opens no socket of its own.
func (m *loadMedia) sharedSession() (*loadRecv, *media.MediaSession) {
	rv := m.recv[int(m.nextRecv.Add(1))%len(m.recv)]
	return rv, &media.MediaSession{
		Codecs: []media.Codec{media.CodecAudioUlaw, media.CodecAudioAlaw, media.CodecTelephoneEvent8000},
		Mode:   sdp.ModeSendrecv,
		Laddr:  *rv.rtp.LocalAddr().(*net.UDPAddr),
	}
}

// sharedLeg makes the load side's leg once sess has the edge's SDP: its
// frames go out in run's batches to the edge's address, and those of
// want from that address are its own.
func (rv *loadRecv) sharedLeg(sess *media.MediaSession, mark, want byte) (*loadLeg, error) {
	ap := sess.Raddr.AddrPort()
	if !ap.IsValid() || ap.Port() == 0 {
		return nil, fmt.Errorf("the edge's SDP names no address to send to: %s", sess.Raddr.String())
	}
	ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	to := net.UDPAddrFromAddrPort(ap)
	l := &loadLeg{mark: mark, out: &rtpOut{to: to, pt: media.CodecAudioFromSession(sess).PayloadType, ssrc: rand.Uint32()}}
	rv.mu.Lock()
	defer rv.mu.Unlock()
	if _, taken := rv.hearers[ap]; taken {
		return nil, fmt.Errorf("two of the edge's legs send from %s", ap)
	}
	rv.hearers[ap] = loadHearer{l: l, want: want}
	return l, nil
}

// answerShared answers an agent's phone call on a shared socket: the
// edge's offer negotiated by diago's media session, a 200 OK with the
// answer, the ACK taken by diago's dialog.
func (m *loadMedia) answerShared(d *diago.DialogServerSession, mark, want byte) (*loadLeg, error) {
	rv, sess := m.sharedSession()
	if err := sess.RemoteSDP(d.InviteRequest.Body(), false); err != nil {
		_ = d.Respond(488, "Not Acceptable Here", nil)
		return nil, fmt.Errorf("the edge's offer: %w", err)
	}
	l, err := rv.sharedLeg(sess, mark, want)
	if err != nil {
		_ = d.Respond(500, "Server Internal Error", nil)
		return nil, err
	}
	if err := d.RespondSDP(sess.LocalSDP(true)); err != nil {
		return nil, fmt.Errorf("answering: %w", err)
	}
	return l, nil
}

// inviteShared places a call on a shared socket: the INVITE diago's
// own Invite would send, with the shared socket in its SDP, then the
// answer negotiated and the ACK.
func (m *loadMedia) inviteShared(ctx context.Context, dg *diago.Diago, uri sip.Uri, headers []sip.Header, mark, want byte) (*diago.DialogClientSession, *loadLeg, error) {
	rv, sess := m.sharedSession()
	d, err := dg.NewDialog(uri, diago.NewDialogOptions{})
	if err != nil {
		return nil, nil, err
	}
	req := d.InviteRequest
	for _, h := range headers {
		req.AppendHeader(h)
	}
	req.AppendHeader(&d.UA.ContactHDR)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(sess.LocalSDP(false))
	if err := sipgo.ClientRequestBuild(d.UA.Client, req); err != nil {
		return nil, nil, err
	}
	if err := d.DialogClientSession.Invite(ctx); err != nil {
		return nil, nil, errors.Join(err, d.Close())
	}
	if err := d.DialogClientSession.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		return nil, nil, errors.Join(err, d.Close())
	}
	var l *loadLeg
	err = sess.RemoteSDP(d.InviteResponse.Body(), true)
	if err == nil {
		l, err = rv.sharedLeg(sess, mark, want)
	}
	if aerr := d.Ack(ctx); aerr != nil || err != nil {
		return nil, nil, errors.Join(err, aerr, d.Bye(ctx), d.Close())
	}
	return d, l, nil
}
