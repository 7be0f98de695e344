// Package rtpsock reads RTP straight from a diago media session's UDP
// socket, for a relay that needs only the payload: no per-packet
// statistics, no clock reading, no allocation, and on Linux one
// recvmmsg per wake-up instead of a read and a read that finds the
// socket empty.
package rtpsock

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"reflect"
	"unsafe"

	"github.com/emiago/diago/media"
)

// Conn is the media session's RTP socket. diago keeps it unexported and
// offers no reader without its statistics; the field is read once, and
// a diago whose session no longer has it is an error, not a crash (the
// caller keeps diago's own reader then).
func Conn(s *media.MediaSession) (*net.UDPConn, error) {
	if s == nil {
		return nil, errors.New("rtpsock: no media session")
	}
	f := reflect.ValueOf(s).Elem().FieldByName("rtpConn")
	if !f.IsValid() || f.Type() != reflect.TypeFor[net.PacketConn]() {
		return nil, errors.New("rtpsock: diago's media session has no rtpConn net.PacketConn field")
	}
	pc := *(*net.PacketConn)(unsafe.Pointer(f.UnsafeAddr()))
	c, ok := pc.(*net.UDPConn)
	if !ok {
		return nil, fmt.Errorf("rtpsock: the RTP socket is a %T, not a *net.UDPConn", pc)
	}
	return c, nil
}

// Packet is an RTP packet's header fields and payload (RFC 3550).
type Packet struct {
	PayloadType uint8
	Marker      bool
	Sequence    uint16
	Timestamp   uint32
	SSRC        uint32
	Payload     []byte
}

// Parse reads an RTP packet; Payload aliases b. Version 2 only; CSRCs
// and a header extension are skipped, padding is taken off.
func Parse(b []byte, p *Packet) error {
	if len(b) < 12 {
		return errors.New("rtp: shorter than its header")
	}
	if b[0]>>6 != 2 {
		return fmt.Errorf("rtp: version %d", b[0]>>6)
	}
	off := 12 + 4*int(b[0]&0x0f)
	if b[0]&0x10 != 0 {
		if len(b) < off+4 {
			return errors.New("rtp: header extension cut short")
		}
		off += 4 + 4*int(binary.BigEndian.Uint16(b[off+2:]))
	}
	end := len(b)
	if b[0]&0x20 != 0 && end > 0 {
		end -= int(b[end-1])
	}
	if off > end {
		return errors.New("rtp: header or padding longer than the packet")
	}
	p.Marker = b[1]&0x80 != 0
	p.PayloadType = b[1] & 0x7f
	p.Sequence = binary.BigEndian.Uint16(b[2:])
	p.Timestamp = binary.BigEndian.Uint32(b[4:])
	p.SSRC = binary.BigEndian.Uint32(b[8:])
	p.Payload = b[off:end]
	return nil
}

// Header writes a 12-byte RTP header (no CSRC, no extension) to b.
func Header(b []byte, pt uint8, marker bool, seq uint16, ts, ssrc uint32) {
	b[0] = 0x80
	b[1] = pt & 0x7f
	if marker {
		b[1] |= 0x80
	}
	binary.BigEndian.PutUint16(b[2:], seq)
	binary.BigEndian.PutUint32(b[4:], ts)
	binary.BigEndian.PutUint32(b[8:], ssrc)
}

// BufSize is each datagram's buffer: an Ethernet MTU's worth, as diago.
const BufSize = 1500

// Reader hands every datagram arriving on a socket to a function, in
// order, from the goroutine that runs it.
type Reader struct {
	conn *net.UDPConn
	bufs [][]byte
	// from says whether each datagram's source address is read: a
	// socket shared by many streams tells them apart by it.
	from bool
	sys  sysReader
}

// NewReader reads conn up to batch datagrams a system call (at least 1).
func NewReader(conn *net.UDPConn, batch int) *Reader {
	return newReader(conn, batch, false)
}

// NewReaderFrom is NewReader for RunFrom: it also reads each datagram's
// source address.
func NewReaderFrom(conn *net.UDPConn, batch int) *Reader {
	return newReader(conn, batch, true)
}

func newReader(conn *net.UDPConn, batch int, from bool) *Reader {
	batch = max(batch, 1)
	r := &Reader{conn: conn, bufs: make([][]byte, batch), from: from}
	for i := range r.bufs {
		r.bufs[i] = make([]byte, BufSize)
	}
	r.sys.init(r.bufs, from)
	return r
}

// Run calls fn with each datagram until the socket is closed or fails;
// the slice is reused once fn returns. A closed socket ends it with nil.
func (r *Reader) Run(fn func(datagram []byte)) error {
	return r.RunFrom(func(d []byte, _ netip.AddrPort) { fn(d) })
}

// RunFrom is Run with each datagram's source address, which is the
// zero AddrPort unless the Reader came from NewReaderFrom.
func (r *Reader) RunFrom(fn func(datagram []byte, from netip.AddrPort)) error {
	err := r.run(fn)
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// Direction is the media direction the session negotiated from our
// preference and the remote SDP (sendrecv, sendonly, recvonly,
// inactive), which diago keeps unexported: its own writer drops what a
// recvonly session would send, and a Stream must do the same.
func Direction(s *media.MediaSession) (string, error) {
	if s == nil {
		return "", errors.New("rtpsock: no media session")
	}
	f := reflect.ValueOf(s).Elem().FieldByName("mode")
	if !f.IsValid() || f.Kind() != reflect.String {
		return "", errors.New("rtpsock: diago's media session has no mode string field")
	}
	return *(*string)(unsafe.Pointer(f.UnsafeAddr())), nil
}
