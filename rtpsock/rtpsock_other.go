//go:build !linux

package rtpsock

type sysReader struct{}

func (s *sysReader) init([][]byte) {}

// run reads one datagram a call where recvmmsg is not there.
func (r *Reader) run(fn func([]byte)) error {
	for {
		n, _, err := r.conn.ReadFromUDPAddrPort(r.bufs[0])
		if err != nil {
			return err
		}
		fn(r.bufs[0][:n])
	}
}
