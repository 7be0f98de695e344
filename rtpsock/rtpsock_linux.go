package rtpsock

import (
	"fmt"
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
}

func (s *sysReader) init(bufs [][]byte) {
	s.hdrs = make([]mmsghdr, len(bufs))
	s.iovs = make([]syscall.Iovec, len(bufs))
	for i, b := range bufs {
		s.iovs[i].Base = &b[0]
		s.iovs[i].SetLen(len(b))
		s.hdrs[i].hdr.Iov = &s.iovs[i]
		s.hdrs[i].hdr.Iovlen = 1
	}
}

// run reads inside one RawConn.Read for the socket's life. Returning
// false waits for the poller without a fresh start: a fresh Read resets
// the socket's readiness and so must try a read first, which is the
// read finding the socket empty that every datagram would otherwise
// cost. A batch read short of full means the queue was drained, so
// waiting loses nothing; a full one reads again at once.
func (r *Reader) run(fn func([]byte)) error {
	rc, err := r.conn.SyscallConn()
	if err != nil {
		return fmt.Errorf("rtpsock: %w", err)
	}
	hdrs := r.sys.hdrs
	var rerr error
	err = rc.Read(func(fd uintptr) bool {
		for {
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
				fn(r.bufs[i][:hdrs[i].n])
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
