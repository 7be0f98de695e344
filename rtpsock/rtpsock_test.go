package rtpsock

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/emiago/diago/media"
)

func TestConnIsTheSessionsSocket(t *testing.T) {
	s, err := media.NewMediaSession(net.IPv4(127, 0, 0, 1), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := Conn(s)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.LocalAddr().(*net.UDPAddr); got.Port != s.Laddr.Port {
		t.Fatalf("socket on port %d, the session's RTP port is %d", got.Port, s.Laddr.Port)
	}
	if _, err := Conn(nil); err == nil {
		t.Fatal("Conn(nil) gave no error")
	}
}

// Datagrams queued before the reader starts (more than a batch) and
// sent while it runs all arrive, in order; closing the socket ends Run
// with nil.
func TestReaderHandsEveryDatagramInOrder(t *testing.T) {
	conn, out := loopbackPair(t)
	send := func(i int) {
		b := make([]byte, 172)
		binary.BigEndian.PutUint32(b, uint32(i))
		if _, err := out.Write(b); err != nil {
			t.Error(err)
		}
	}
	const queued, later = 10, 200
	for i := range queued {
		send(i)
	}
	got := make(chan int, queued+later)
	done := make(chan error, 1)
	go func() {
		done <- NewReader(conn, 4).Run(func(d []byte) {
			if len(d) != 172 {
				t.Errorf("datagram of %d bytes, sent 172", len(d))
			}
			got <- int(binary.BigEndian.Uint32(d))
		})
	}()
	for i := queued; i < queued+later; i++ {
		send(i)
	}
	deadline := time.After(30 * time.Second)
	for want := range queued + later {
		select {
		case i := <-got:
			if i != want {
				t.Fatalf("datagram %d arrived where %d was due", i, want)
			}
		case <-deadline:
			t.Fatalf("only %d of %d datagrams arrived", want, queued+later)
		}
	}
	conn.Close()
	if err := <-done; err != nil {
		t.Fatalf("Run after close: %v", err)
	}
}

func TestParse(t *testing.T) {
	b := make([]byte, 12, 200)
	Header(b, 0, true, 7, 160, 0xdeadbeef)
	b = append(b, bytes.Repeat([]byte{0x22}, 160)...)
	var p Packet
	if err := Parse(b, &p); err != nil {
		t.Fatal(err)
	}
	if p.PayloadType != 0 || !p.Marker || p.Sequence != 7 || p.Timestamp != 160 || p.SSRC != 0xdeadbeef || len(p.Payload) != 160 {
		t.Fatalf("parsed %+v", p)
	}
	// Two CSRCs, a one-word extension and 4 bytes of padding.
	x := []byte{0xb2, 101, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 1, 1, 1, 1, 2, 2, 2, 2, 0xbe, 0xde, 0, 1, 9, 9, 9, 9, 5, 6, 0, 0, 0, 4}
	if err := Parse(x, &p); err != nil {
		t.Fatal(err)
	}
	if p.PayloadType != 101 || p.Marker || !bytes.Equal(p.Payload, []byte{5, 6}) {
		t.Fatalf("parsed %+v", p)
	}
	for name, bad := range map[string][]byte{
		"short":     b[:11],
		"version 1": append([]byte{0x40}, b[1:]...),
		"csrc":      append([]byte{0x8f}, b[1:20]...),
		"padding":   {0xa0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 200},
		"extension": {0x90, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xbe, 0xde},
	} {
		if err := Parse(bad, &p); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func FuzzParse(f *testing.F) {
	b := make([]byte, 12, 172)
	Header(b, 8, false, 1, 2, 3)
	f.Add(append(b, make([]byte, 160)...))
	f.Add([]byte{0xb2, 101, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 1, 1, 1, 1, 2, 2, 2, 2, 0xbe, 0xde, 0, 1, 9, 9, 9, 9, 5, 6, 0, 0, 0, 4})
	f.Add([]byte{0xa0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 200})
	f.Fuzz(func(t *testing.T, b []byte) {
		var p Packet
		if err := Parse(b, &p); err != nil {
			return
		}
		if len(p.Payload) > len(b)-12 {
			t.Fatalf("payload of %d bytes from a %d-byte packet", len(p.Payload), len(b))
		}
	})
}

// A reader asked for the source tells datagrams from different senders
// apart by their source address, on IPv4 and on IPv6; a plain reader
// gives the zero address.
func TestReaderFromGivesEachDatagramsSource(t *testing.T) {
	for _, network := range []struct{ name, addr string }{{"udp4", "127.0.0.1:0"}, {"udp6", "[::1]:0"}} {
		t.Run(network.name, func(t *testing.T) {
			laddr, err := net.ResolveUDPAddr(network.name, network.addr)
			if err != nil {
				t.Fatal(err)
			}
			conn, err := net.ListenUDP(network.name, laddr)
			if err != nil {
				t.Fatal(err)
			}
			var senders []*net.UDPConn
			for range 3 {
				out, err := net.DialUDP(network.name, nil, conn.LocalAddr().(*net.UDPAddr))
				if err != nil {
					t.Fatal(err)
				}
				defer out.Close()
				senders = append(senders, out)
			}
			const each = 20
			for i := range each {
				for k, out := range senders {
					if _, err := out.Write([]byte{byte(k), byte(i)}); err != nil {
						t.Fatal(err)
					}
				}
			}
			type datagram struct {
				sender int
				from   netip.AddrPort
			}
			got := make(chan datagram, each*len(senders))
			done := make(chan error, 1)
			go func() {
				r, err := NewReaderWith(conn, 8, ReaderOptions{Source: true})
				if err != nil {
					done <- err
					return
				}
				done <- r.RunMeta(func(d []byte, m *Meta) { got <- datagram{int(d[0]), m.From} })
			}()
			deadline := time.After(30 * time.Second)
			for range each * len(senders) {
				select {
				case g := <-got:
					want := senders[g.sender].LocalAddr().(*net.UDPAddr).AddrPort()
					if g.from.Addr().Unmap() != want.Addr().Unmap() || g.from.Port() != want.Port() {
						t.Fatalf("sender %d's datagram came from %s, sent from %s", g.sender, g.from, want)
					}
				case <-deadline:
					t.Fatal("not every datagram arrived")
				}
			}
			conn.Close()
			if err := <-done; err != nil {
				t.Fatalf("RunFrom after close: %v", err)
			}
		})
	}
	t.Run("plain reader", func(t *testing.T) {
		conn, out := loopbackPair(t)
		if _, err := out.Write([]byte{1}); err != nil {
			t.Fatal(err)
		}
		got := make(chan netip.AddrPort, 1)
		done := make(chan error, 1)
		go func() {
			done <- NewReader(conn, 4).RunMeta(func(_ []byte, m *Meta) { got <- m.From })
		}()
		if from := <-got; from.IsValid() {
			t.Errorf("a plain reader gave the source %s", from)
		}
		conn.Close()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

// A reader asked for arrival times gives each datagram the time the
// kernel received it, not the time it was read: datagrams queued before
// the reader starts arrived before it did.
//
// Linux turns its receive stamps on for the whole system when a socket
// first asks, and may do so a moment later: until then a datagram is
// stamped when it is read. The test asks until the stamps are on, then
// checks a queue of datagrams.
func TestReaderGivesTheKernelsArrivalTime(t *testing.T) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		arrivals, before, sent := queueAndRead(t, 1)
		if !arrivals[0].After(sent) && !arrivals[0].Before(before) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the datagram arrived at %s, sent between %s and %s: the kernel's stamps never came on",
				arrivals[0].Format(time.RFC3339Nano), before.Format(time.RFC3339Nano), sent.Format(time.RFC3339Nano))
		}
	}
	arrivals, before, sent := queueAndRead(t, 6)
	for i, at := range arrivals {
		if at.Before(before) || at.After(sent) {
			t.Fatalf("datagram %d arrived at %s, sent between %s and %s", i, at.Format(time.RFC3339Nano),
				before.Format(time.RFC3339Nano), sent.Format(time.RFC3339Nano))
		}
		if i > 0 && at.Before(arrivals[i-1]) {
			t.Fatalf("datagram %d arrived before the one ahead of it", i)
		}
	}
}

// queueAndRead sends n datagrams to a new socket between before and
// sent, then starts a reader that asks for their arrival times, and
// gives those: a time after sent is the read's, not the kernel's.
func queueAndRead(t *testing.T, n int) (arrivals []time.Time, before, sent time.Time) {
	t.Helper()
	conn, out := loopbackPair(t)
	defer conn.Close()
	r, err := NewReaderWith(conn, 4, ReaderOptions{Arrival: true})
	if err != nil {
		t.Fatal(err)
	}
	before = time.Now()
	for i := range n {
		if _, err := out.Write([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	sent = time.Now()
	got := make(chan time.Time, n)
	done := make(chan error, 1)
	go func() { done <- r.RunMeta(func(_ []byte, m *Meta) { got <- m.Arrival }) }()
	for range n {
		arrivals = append(arrivals, <-got)
	}
	conn.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return arrivals, before, sent
}

// loopbackPair is a socket on IPv4 loopback and one connected to it,
// closed when the test ends.
func loopbackPair(t *testing.T) (conn, out *net.UDPConn) {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	out, err = net.DialUDP("udp4", nil, conn.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close() })
	return conn, out
}
