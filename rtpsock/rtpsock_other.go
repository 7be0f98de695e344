//go:build !linux

package rtpsock

import (
	"net"
	"time"
)

type sysReader struct{}

func (s *sysReader) init([][]byte, ReaderOptions) {}

// stampArrivals does nothing where the kernel's receive times are not
// read: the arrival is the time of the read.
func stampArrivals(*net.UDPConn) error { return nil }

// run reads one datagram a call where recvmmsg is not there.
func (r *Reader) run(fn func([]byte, *Meta)) error {
	var m Meta
	for {
		n, from, err := r.conn.ReadFromUDPAddrPort(r.bufs[0])
		if err != nil {
			return err
		}
		if r.opts.Source {
			m.From = from
		}
		if r.opts.Arrival {
			m.Arrival = time.Now()
		}
		fn(r.bufs[0][:n], &m)
	}
}
