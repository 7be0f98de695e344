//go:build !linux

package rtpsock

import "net/netip"

type sysReader struct{}

func (s *sysReader) init([][]byte, bool) {}

// run reads one datagram a call where recvmmsg is not there.
func (r *Reader) run(fn func([]byte, netip.AddrPort)) error {
	for {
		n, from, err := r.conn.ReadFromUDPAddrPort(r.bufs[0])
		if err != nil {
			return err
		}
		if !r.from {
			from = netip.AddrPort{}
		}
		fn(r.bufs[0][:n], from)
	}
}
