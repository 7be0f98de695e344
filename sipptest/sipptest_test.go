package sipptest

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// The runner and the scenarios against each other on loopback: a caller
// dials a phone that echoes, sends its tone and digits, stays, and hangs
// up; every packet it sent comes back.
func TestCallerTalksToEchoingPhone(t *testing.T) {
	ctx := context.Background()
	phone := Start(ctx, t, Config{Scenario: Phone, Echo: true, Hold: 10 * time.Second})
	media := Media{Lead: time.Second, Digits: "12", After: 500 * time.Millisecond}
	caller := Run(ctx, t, Config{Scenario: Caller, Remote: phone.Addr, Service: "1350", Media: &media, Hold: 2500 * time.Millisecond})
	answered, err := phone.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if caller.ExitCode != 0 || caller.Created != 1 || caller.Successful != 1 || caller.Failed != 0 {
		t.Fatalf("caller: %v", caller)
	}
	if answered.ExitCode != 0 || answered.Successful != 1 {
		t.Fatalf("phone: %v", answered)
	}
	// The caller hung up: it sent the BYE, the phone received it.
	if caller.Count("BYE_Sent") != 1 || caller.Count("BYE_Recv") != 0 || answered.Count("BYE_Recv") != 1 {
		t.Errorf("BYE: caller sent %d, received %d; phone received %d",
			caller.Count("BYE_Sent"), caller.Count("BYE_Recv"), answered.Count("BYE_Recv"))
	}
	if want := media.Packets(); caller.RTPSent != want || answered.RTPEchoed != want {
		t.Errorf("RTP: caller sent %d, phone echoed %d; want %d each", caller.RTPSent, answered.RTPEchoed, want)
	}
}

// A phone that hangs up first: the caller receives the BYE and answers it.
func TestPhoneHangsUp(t *testing.T) {
	ctx := context.Background()
	phone := Start(ctx, t, Config{Scenario: Phone, Echo: true, Hold: 500 * time.Millisecond})
	caller := Run(ctx, t, Config{Scenario: Caller, Remote: phone.Addr, Service: "1350",
		Media: &Media{Lead: 200 * time.Millisecond}, Hold: 10 * time.Second})
	answered, err := phone.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if caller.Successful != 1 || answered.Successful != 1 {
		t.Fatalf("caller: %v\nphone: %v", caller, answered)
	}
	if caller.Count("BYE_Recv") != 1 || caller.Count("BYE_Sent") != 0 || answered.Count("BYE_Sent") != 1 {
		t.Errorf("BYE: caller received %d, sent %d; phone sent %d",
			caller.Count("BYE_Recv"), caller.Count("BYE_Sent"), answered.Count("BYE_Sent"))
	}
}

// The abandoning caller hangs up while waiting; a far end that hangs up
// first fails it, so that an edge test using it knows who ended the call.
func TestAbandon(t *testing.T) {
	ctx := context.Background()
	t.Run("hangs up", func(t *testing.T) {
		phone := Start(ctx, t, Config{Scenario: Phone, Echo: true, Hold: 10 * time.Second})
		caller := Run(ctx, t, Config{Scenario: Abandon, Remote: phone.Addr, Service: "1350",
			Media: &Media{Lead: 200 * time.Millisecond, Digits: "3"}, Hold: 700 * time.Millisecond})
		answered, err := phone.Wait()
		if err != nil {
			t.Fatal(err)
		}
		if caller.Successful != 1 || answered.Count("BYE_Recv") != 1 {
			t.Fatalf("caller: %v\nphone: %v", caller, answered)
		}
	})
	t.Run("hung up on", func(t *testing.T) {
		phone := Start(ctx, t, Config{Scenario: Phone, Echo: true, Hold: 200 * time.Millisecond})
		caller := Run(ctx, t, Config{Scenario: Abandon, Remote: phone.Addr, Service: "1350",
			Media: &Media{Lead: 200 * time.Millisecond}, Hold: 3 * time.Second})
		if caller.Failed != 1 || caller.ExitCode == 0 {
			t.Fatalf("a BYE before the caller gave up: %v", caller)
		}
	})
}

// Many calls at once through one SIPp on each side, every packet echoed.
func TestConcurrentCalls(t *testing.T) {
	const calls = 100
	ctx := context.Background()
	phone := Start(ctx, t, Config{Scenario: Phone, Echo: true, Calls: calls, Hold: 30 * time.Second})
	media := Media{Lead: 600 * time.Millisecond, Digits: "1"}
	caller := Run(ctx, t, Config{Scenario: Caller, Remote: phone.Addr, Service: "1350", Media: &media,
		Calls: calls, Rate: 200, Limit: calls, Hold: 1500 * time.Millisecond})
	answered, err := phone.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if caller.Successful != calls || answered.Successful != calls {
		t.Fatalf("caller: %v\nphone: %v", caller, answered)
	}
	// At this rate (5,000 packets a second) on a machine busy with other
	// tests, SIPp's echo thread falls behind and its socket, with the
	// system's default buffer, drops packets; and its count of packets
	// sent, shared by its pcap-playing threads without a lock, loses an
	// increment now and then. Both stay close to what was sent.
	want := calls * media.Packets()
	for _, got := range []struct {
		what string
		n    int
	}{{"sent", caller.RTPSent}, {"echoed", answered.RTPEchoed}} {
		if got.n < want*9/10 || got.n > want {
			t.Errorf("RTP %s: %d, want %d (at least 90%%)", got.what, got.n, want)
		}
	}
}

// A failed run's Result carries SIPp's errors.
func TestResultOfARefusedCall(t *testing.T) {
	// Nobody listens there: every INVITE retransmission goes unanswered.
	port, err := freePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	res := Run(context.Background(), t, Config{Scenario: Caller, Remote: fmt.Sprintf("127.0.0.1:%d", port),
		Media: &Media{Lead: 20 * time.Millisecond}, Hold: time.Second, Timeout: 2 * time.Second,
		Args: []string{"-max_retrans", "1"}})
	if res.ExitCode == 0 || res.Successful != 0 {
		t.Fatalf("a call to nobody: %v", res)
	}
}

// fatalTB records Fatalf and stops the test goroutine, as testing.T does.
type fatalTB struct {
	testing.TB
	mu  sync.Mutex
	msg string
}

func (f *fatalTB) Helper() {}
func (f *fatalTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.msg = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

func TestMissingSippFailsWithWhatToInstall(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	tb := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Start(context.Background(), tb, Config{Scenario: Phone})
	}()
	<-done
	if !strings.Contains(tb.msg, "sipp not found") || !strings.Contains(tb.msg, "scripts/install-deps sipp") {
		t.Fatalf("message %q", tb.msg)
	}
}

func TestScenarioMustExist(t *testing.T) {
	if _, err := scenarioFile(t.TempDir(), "no-such.xml"); err == nil || !strings.Contains(err.Error(), "no-such.xml") {
		t.Fatalf("got %v", err)
	}
}

// The pcap holds the tone, then each digit as telephone-events (start with
// the marker, end three times with the E bit), then tone, with one SSRC,
// consecutive sequence numbers and times 20 ms apart.
func TestMediaPcap(t *testing.T) {
	m := Media{Lead: 100 * time.Millisecond, Digits: "1#", After: 40 * time.Millisecond}
	path := filepath.Join(t.TempDir(), "m.pcap")
	if err := m.WritePcap(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if binary.LittleEndian.Uint32(b) != 0xa1b2c3d4 || binary.LittleEndian.Uint32(b[20:]) != 1 {
		t.Fatal("not an Ethernet pcap")
	}
	type pkt struct {
		pt      byte
		marker  bool
		seq     uint16
		event   byte
		end     bool
		at      time.Duration
		payload int
	}
	var pkts []pkt
	for rest := b[24:]; len(rest) > 0; {
		at := time.Duration(binary.LittleEndian.Uint32(rest))*time.Second + time.Duration(binary.LittleEndian.Uint32(rest[4:]))*time.Microsecond
		n := binary.LittleEndian.Uint32(rest[8:])
		frame := rest[16 : 16+n]
		rest = rest[16+n:]
		if frame[14+9] != 17 || ipChecksum(frame[14:34]) != 0 {
			t.Fatal("not UDP, or a bad IP checksum")
		}
		rtp := frame[14+20+8:]
		if binary.BigEndian.Uint32(rtp[8:]) != ssrc {
			t.Fatal("SSRC changes")
		}
		p := pkt{pt: rtp[1] & 0x7f, marker: rtp[1]&0x80 != 0, seq: binary.BigEndian.Uint16(rtp[2:]), at: at, payload: len(rtp) - 12}
		if p.pt == ptEvent {
			p.event, p.end = rtp[12], rtp[13]&0x80 != 0
		}
		pkts = append(pkts, p)
	}
	if len(pkts) != m.Packets() || m.AudioPackets() != 7 {
		t.Fatalf("%d packets, Packets says %d, AudioPackets %d", len(pkts), m.Packets(), m.AudioPackets())
	}
	var got []string
	for i, p := range pkts {
		if p.seq != uint16(i) {
			t.Fatalf("packet %d has sequence number %d", i, p.seq)
		}
		switch {
		case p.pt == ptPCMU && p.payload == 160:
			got = append(got, "tone")
		case p.pt == ptEvent && p.marker:
			got = append(got, fmt.Sprintf("start %d", p.event))
		case p.pt == ptEvent && p.end:
			got = append(got, fmt.Sprintf("end %d", p.event))
		case p.pt == ptEvent:
			got = append(got, "…")
		default:
			t.Fatalf("packet %d: %+v", i, p)
		}
	}
	want := "tone tone tone tone tone start 1 … … … end 1 end 1 end 1 start 11 … … … end 11 end 11 end 11 tone tone"
	if strings.Join(got, " ") != want {
		t.Fatalf("got  %s\nwant %s", strings.Join(got, " "), want)
	}
	if last := pkts[len(pkts)-1].at; last != 100*time.Millisecond+2*200*time.Millisecond+20*time.Millisecond {
		t.Errorf("last packet at %v", last)
	}
	if err := (Media{Digits: "x"}).WritePcap(path); err == nil || !strings.Contains(err.Error(), "'x'") {
		t.Errorf("digit x: %v", err)
	}
}

// An INVITE retransmitted after the phone answered (its 180 or 200 slow
// to reach a caller on a loaded machine) is answered with the 200 again,
// not taken for an unexpected message that aborts the call.
func TestPhoneAnswersARetransmittedInvite(t *testing.T) {
	ctx := context.Background()
	phone := Start(ctx, t, Config{Scenario: Phone, Hold: 10 * time.Second})
	conn, err := net.Dial("udp", phone.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	local := conn.LocalAddr().String()
	dialog := "Call-ID: retrans-1@test\r\nFrom: <sip:caller@127.0.0.1>;tag=c1\r\n"
	invite := "INVITE sip:phone@" + phone.Addr + " SIP/2.0\r\nVia: SIP/2.0/UDP " + local + ";branch=z9hG4bK-retrans-1\r\n" + dialog +
		"To: <sip:phone@" + phone.Addr + ">\r\nCSeq: 1 INVITE\r\nContact: <sip:caller@" + local + ">\r\nMax-Forwards: 70\r\n" +
		"Content-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s"
	sdp := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
	invite = fmt.Sprintf(invite, len(sdp), sdp)
	send := func(msg string) {
		t.Helper()
		if _, err := conn.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	// await reads until a response starting with want to the request of
	// cseq, and returns its To header.
	await := func(want, cseq string) string {
		t.Helper()
		buf := make([]byte, 4096)
		for {
			if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
				t.Fatal(err)
			}
			n, err := conn.Read(buf)
			if err != nil {
				t.Fatalf("awaiting %q: %v", want, err)
			}
			msg := string(buf[:n])
			if !strings.HasPrefix(msg, want) || !strings.Contains(msg, "\r\nCSeq: "+cseq+"\r\n") {
				continue
			}
			for _, line := range strings.Split(msg, "\r\n") {
				if strings.HasPrefix(line, "To:") {
					return strings.TrimSpace(strings.TrimPrefix(line, "To:"))
				}
			}
			t.Fatalf("%q without a To header", want)
		}
	}
	send(invite)
	to := await("SIP/2.0 200", "1 INVITE")
	send(invite) // the same INVITE again, as a UDP retransmission
	if again := await("SIP/2.0 200", "1 INVITE"); again != to {
		t.Errorf("the 200 to the retransmission has To %q; the first had %q", again, to)
	}
	ack := "ACK sip:phone@" + phone.Addr + " SIP/2.0\r\nVia: SIP/2.0/UDP " + local + ";branch=z9hG4bK-retrans-ack\r\n" + dialog +
		"To: " + to + "\r\nCSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
	send(ack)
}
