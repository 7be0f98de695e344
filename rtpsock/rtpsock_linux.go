package rtpsock

import (
	"fmt"
	"net/netip"
	"syscall"
	"unsafe"
)

// mmsghdr is the kernel's struct mmsghdr; Go pads it as C does.
type mmsghdr struct {
	hdr syscall.Msghdr
	n   uint32
}

type sysReader struct {
	hdrs []mmsghdr
	iovs []syscall.Iovec
	// names, when the source addresses are read, are the datagrams'
	// sockaddrs: an IPv6 one holds an IPv4 one too.
	names []syscall.RawSockaddrInet6
}

func (s *sysReader) init(bufs [][]byte, from bool) {
	s.hdrs = make([]mmsghdr, len(bufs))
	s.iovs = make([]syscall.Iovec, len(bufs))
	if from {
		s.names = make([]syscall.RawSockaddrInet6, len(bufs))
	}
	for i, b := range bufs {
		s.iovs[i].Base = &b[0]
		s.iovs[i].SetLen(len(b))
		s.hdrs[i].hdr.Iov = &s.iovs[i]
		s.hdrs[i].hdr.Iovlen = 1
		if from {
			s.hdrs[i].hdr.Name = (*byte)(unsafe.Pointer(&s.names[i]))
		}
	}
}

// source is datagram i's source address, the zero AddrPort when the
// names are not read or the family is neither IPv4 nor IPv6.
func (s *sysReader) source(i int) netip.AddrPort {
	if s.names == nil {
		return netip.AddrPort{}
	}
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
func (r *Reader) run(fn func([]byte, netip.AddrPort)) error {
	rc, err := r.conn.SyscallConn()
	if err != nil {
		return fmt.Errorf("rtpsock: %w", err)
	}
	hdrs := r.sys.hdrs
	var rerr error
	err = rc.Read(func(fd uintptr) bool {
		for {
			if r.sys.names != nil {
				// The kernel writes each name's length back.
				for i := range hdrs {
					hdrs[i].hdr.Namelen = syscall.SizeofSockaddrInet6
				}
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
				fn(r.bufs[i][:hdrs[i].n], r.sys.source(i))
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
