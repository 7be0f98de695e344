package rtpsock

import (
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"
	"unsafe"
)

// mmsghdr is the kernel's struct mmsghdr; Go pads it as C does.
type mmsghdr struct {
	hdr syscall.Msghdr
	n   uint32
}

// stampSpace is a control buffer's room for one SCM_TIMESTAMPNS message.
func stampSpace() int { return syscall.CmsgSpace(int(unsafe.Sizeof(syscall.Timespec{}))) }

type sysReader struct {
	hdrs []mmsghdr
	iovs []syscall.Iovec
	// names, when the source addresses are read, are the datagrams'
	// sockaddrs: an IPv6 one holds an IPv4 one too.
	names []syscall.RawSockaddrInet6
	// controls, when the arrival times are read, are the datagrams'
	// control messages, stampSpace() bytes each.
	controls []byte
}

func (s *sysReader) init(bufs [][]byte, opts ReaderOptions) {
	s.hdrs = make([]mmsghdr, len(bufs))
	s.iovs = make([]syscall.Iovec, len(bufs))
	if opts.Source {
		s.names = make([]syscall.RawSockaddrInet6, len(bufs))
	}
	if opts.Arrival {
		s.controls = make([]byte, stampSpace()*len(bufs))
	}
	for i, b := range bufs {
		s.iovs[i].Base = &b[0]
		s.iovs[i].SetLen(len(b))
		s.hdrs[i].hdr.Iov = &s.iovs[i]
		s.hdrs[i].hdr.Iovlen = 1
		if s.names != nil {
			s.hdrs[i].hdr.Name = (*byte)(unsafe.Pointer(&s.names[i]))
		}
		if s.controls != nil {
			s.hdrs[i].hdr.Control = &s.controls[i*stampSpace()]
		}
	}
}

// reset sets the lengths the kernel writes back before each read.
func (s *sysReader) reset() {
	for i := range s.hdrs {
		if s.names != nil {
			s.hdrs[i].hdr.Namelen = syscall.SizeofSockaddrInet6
		}
		if s.controls != nil {
			s.hdrs[i].hdr.SetControllen(stampSpace())
		}
	}
}

// stampArrivals has the kernel stamp each datagram with its receive time.
func stampArrivals(conn *net.UDPConn) error {
	rc, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
	}); err != nil {
		return err
	}
	return serr
}

// meta fills m with what datagram i came with.
func (s *sysReader) meta(i int, m *Meta) {
	if s.names != nil {
		m.From = s.source(i)
	}
	if s.controls != nil {
		m.Arrival = s.arrival(i)
	}
}

// source is datagram i's source address, the zero AddrPort when the
// family is neither IPv4 nor IPv6.
func (s *sysReader) source(i int) netip.AddrPort {
	sa := &s.names[i]
	switch sa.Family {
	case syscall.AF_INET:
		sa4 := (*syscall.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), networkPort(sa4.Port))
	case syscall.AF_INET6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), networkPort(sa.Port))
	}
	return netip.AddrPort{}
}

// arrival is the receive time the kernel stamped datagram i with; the
// time of the read when it did not (a datagram queued before the option
// was set).
func (s *sysReader) arrival(i int) time.Time {
	space := stampSpace()
	ctl := s.controls[i*space : (i+1)*space]
	n := min(int(s.hdrs[i].hdr.Controllen), len(ctl))
	for off := 0; off+syscall.SizeofCmsghdr <= n; {
		h := (*syscall.Cmsghdr)(unsafe.Pointer(&ctl[off]))
		if h.Len < syscall.SizeofCmsghdr || off+int(h.Len) > n {
			break
		}
		if h.Level == syscall.SOL_SOCKET && h.Type == syscall.SCM_TIMESTAMPNS && int(h.Len) >= syscall.CmsgLen(int(unsafe.Sizeof(syscall.Timespec{}))) {
			ts := (*syscall.Timespec)(unsafe.Pointer(&ctl[off+syscall.CmsgLen(0)]))
			return time.Unix(ts.Sec, ts.Nsec)
		}
		off += syscall.CmsgSpace(int(h.Len) - syscall.CmsgLen(0))
	}
	return time.Now()
}

// networkPort reads a sockaddr's port, which is in network byte order.
func networkPort(p uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(&p))
	return uint16(b[0])<<8 | uint16(b[1])
}

// run reads inside one RawConn.Read for the socket's life. Returning
// false waits for the poller without a fresh start: a fresh Read resets
// the socket's readiness and so must try a read first, which is the
// read finding the socket empty that every datagram would otherwise
// cost. A batch read short of full means the queue was drained, so
// waiting loses nothing; a full one reads again at once.
func (r *Reader) run(fn func([]byte, *Meta)) error {
	rc, err := r.conn.SyscallConn()
	if err != nil {
		return fmt.Errorf("rtpsock: %w", err)
	}
	hdrs := r.sys.hdrs
	withMeta := r.sys.names != nil || r.sys.controls != nil
	var m Meta
	var rerr error
	err = rc.Read(func(fd uintptr) bool {
		for {
			if withMeta {
				r.sys.reset()
			}
			n, _, e := syscall.Syscall6(syscall.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&hdrs[0])), uintptr(len(hdrs)), syscall.MSG_DONTWAIT, 0, 0)
			switch e {
			case 0:
			case syscall.EAGAIN:
				return false
			case syscall.EINTR, syscall.ECONNREFUSED:
				continue
			default:
				rerr = fmt.Errorf("rtpsock: recvmmsg: %w", e)
				return true
			}
			for i := range int(n) {
				if withMeta {
					r.sys.meta(i, &m)
				}
				fn(r.bufs[i][:hdrs[i].n], &m)
			}
			if int(n) < len(hdrs) {
				return false
			}
		}
	})
	if err != nil {
		return err
	}
	return rerr
}
