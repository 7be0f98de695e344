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
	"time"
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
	opts ReaderOptions
	sys  sysReader
}

// ReaderOptions say what a Reader reads beside each datagram.
type ReaderOptions struct {
	// Source reads each datagram's source address: a socket that many
	// streams send to tells them apart by it.
	Source bool
	// Arrival reads the time the kernel received each datagram
	// (SO_TIMESTAMPNS on Linux; the time of the read elsewhere): a
	// measure of delay that leaves out how long the reader took to be
	// scheduled.
	Arrival bool
}

// Meta is what a Reader read beside a datagram: the zero value of each
// field its options did not ask for.
type Meta struct {
	From    netip.AddrPort
	Arrival time.Time
}

// NewReader reads conn up to batch datagrams a system call (at least 1).
func NewReader(conn *net.UDPConn, batch int) *Reader {
	r, _ := NewReaderWith(conn, batch, ReaderOptions{})
	return r
}

// NewReaderWith is NewReader reading what opts ask beside each datagram,
// for RunMeta. Asking for arrival times sets a socket option, which can
// fail.
func NewReaderWith(conn *net.UDPConn, batch int, opts ReaderOptions) (*Reader, error) {
	batch = max(batch, 1)
	r := &Reader{conn: conn, bufs: make([][]byte, batch), opts: opts}
	for i := range r.bufs {
		r.bufs[i] = make([]byte, BufSize)
	}
	if opts.Arrival {
		if err := stampArrivals(conn); err != nil {
			return nil, fmt.Errorf("rtpsock: arrival times: %w", err)
		}
	}
	r.sys.init(r.bufs, opts)
	return r, nil
}

// Run calls fn with each datagram until the socket is closed or fails;
// the slice is reused once fn returns. A closed socket ends it with nil.
func (r *Reader) Run(fn func(datagram []byte)) error {
	return r.RunMeta(func(d []byte, _ *Meta) { fn(d) })
}

// RunMeta is Run with what the Reader's options asked for beside each
// datagram; m is reused once fn returns.
func (r *Reader) RunMeta(fn func(datagram []byte, m *Meta)) error {
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
