package edge

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"tellonce/iceservers"
)

func TestParsePorts(t *testing.T) {
	for in, want := range map[string][2]int{"3479": {3479, 3479}, "10000-10999": {10000, 10999}} {
		lo, hi, err := parsePorts(in)
		if err != nil || lo != want[0] || hi != want[1] {
			t.Errorf("parsePorts(%q) = %d, %d, %v; want %v", in, lo, hi, err, want)
		}
	}
	for _, bad := range []string{"", "0", "70000", "10-5", "a-b", "1-"} {
		if _, _, err := parsePorts(bad); err == nil || !strings.Contains(err.Error(), "--webrtc-ports") {
			t.Errorf("parsePorts(%q) = %v; want an error naming --webrtc-ports", bad, err)
		}
	}
}

// The engine offers the caller's law first, so a browser answers with it
// and G.711 passes through, without pion's congestion-control
// interceptor; a one-port mux (--webrtc-ports PORT) is opened and closed.
func TestRTCEngineOffersTheCallersLawFirst(t *testing.T) {
	e, err := newRTCEngine(&Config{RTCIP: "127.0.0.1", RTCPorts: portOf(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for law, first := range map[string]string{"pcmu": "PCMU", "pcma": "PCMA"} {
		pc, err := e.byLaw[law].NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendrecv}); err != nil {
			t.Fatal(err)
		}
		o, err := pc.CreateOffer(nil)
		if err != nil {
			t.Fatal(err)
		}
		_ = pc.Close()
		pcmu, pcma := strings.Index(o.SDP, "PCMU/8000"), strings.Index(o.SDP, "PCMA/8000")
		if pcmu < 0 || pcma < 0 || (first == "PCMU") != (pcmu < pcma) {
			t.Errorf("%s caller: offer lists %s first? SDP:\n%s", law, first, o.SDP)
		}
		if !strings.Contains(o.SDP, "telephone-event/8000") {
			t.Errorf("%s caller: no telephone-event offered", law)
		}
		// RTCP reports only: no congestion-control feedback or its
		// header extension (pion's default interceptors) on G.711.
		if strings.Contains(o.SDP, "transport-cc") || strings.Contains(o.SDP, "transport-wide-cc") {
			t.Errorf("%s caller: the offer asks for transport-wide congestion control:\n%s", law, o.SDP)
		}
	}
}

// portOf is a free loopback UDP port.
func portOf(t testing.TB) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return strconv.Itoa(c.LocalAddr().(*net.UDPAddr).Port)
}

// With a TURN secret the edge's peer connections get credentials minted
// for the gateway account at each offer; without one, the static list.
func TestRTCEngineMintsTURNCredentials(t *testing.T) {
	servers, err := iceservers.ParseMinted("stun:turn.example:3478,turn:turn.example:3478")
	if err != nil {
		t.Fatal(err)
	}
	m, err := iceservers.NewMinter([]byte("a-long-turn-secret-0123"), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	e, err := newRTCEngine(&Config{RTCIP: "127.0.0.1", ICEServers: servers, TURN: m, Username: "gw-gov"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	now := time.Unix(1767222000, 0)
	got := e.iceServers(now)
	if len(got) != 2 || got[0].Username != "" {
		t.Fatalf("iceServers = %+v", got)
	}
	if want := "1767225600:gw-gov"; got[1].Username != want || got[1].Credential != iceservers.Credential([]byte("a-long-turn-secret-0123"), want) {
		t.Errorf("the TURN server's credentials %s / %v; want %s and its HMAC", got[1].Username, got[1].Credential, want)
	}
	static, err := iceservers.Parse("turn:u:p@turn.example:3478")
	if err != nil {
		t.Fatal(err)
	}
	e2, err := newRTCEngine(&Config{RTCIP: "127.0.0.1", ICEServers: static})
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	if got := e2.iceServers(now); len(got) != 1 || got[0].Username != "u" || got[0].Credential != "p" {
		t.Errorf("static iceServers = %+v", got)
	}
}

// Every peer gets the engine's one DTLS certificate (no key made per
// call) until it is a day old; then a new one, which later peers share.
func TestRTCEngineReusesAndRotatesTheCertificate(t *testing.T) {
	e, err := newRTCEngine(&Config{RTCIP: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	now := time.Unix(1767222000, 0)
	e.now = func() time.Time { return now }
	fingerprint := func() string {
		t.Helper()
		pc, err := e.newPeer("pcmu")
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		fps, err := pc.GetConfiguration().Certificates[0].GetFingerprints()
		if err != nil || len(fps) == 0 {
			t.Fatalf("fingerprints %v, %v", fps, err)
		}
		return fps[0].Value
	}
	first := fingerprint()
	now = now.Add(certRotation - time.Second)
	if got := fingerprint(); got != first {
		t.Errorf("a peer made within the day has certificate %s; want the first one, %s", got, first)
	}
	now = now.Add(time.Second)
	second := fingerprint()
	if second == first {
		t.Error("the certificate was not replaced after a day")
	}
	if got := fingerprint(); got != second {
		t.Errorf("after the rotation a peer has certificate %s; want the new one, %s", got, second)
	}
}

// offerCandidates is a softphone offer's candidates, gathered, from the
// engine.
func offerCandidates(t *testing.T, e *rtcEngine) []string {
	t.Helper()
	pc, err := e.newPeer("pcmu")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendrecv}); err != nil {
		t.Fatal(err)
	}
	o, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(o); err != nil {
		t.Fatal(err)
	}
	select {
	case <-gathered:
	case <-time.After(time.Minute):
		t.Fatal("ICE gathering did not complete within a minute")
	}
	var out []string
	for line := range strings.SplitSeq(pc.LocalDescription().SDP, "\n") {
		if c, ok := strings.CutPrefix(strings.TrimSpace(line), "a=candidate:"); ok {
			out = append(out, c)
		}
	}
	return out
}

// The offer carries host candidates on --webrtc-ip only, none of them an
// mDNS name: with any ephemeral port, with one port for every peer
// (--webrtc-ports PORT) on that port, with a range on a port of it.
func TestRTCEngineOffersOnlyTheConfiguredAddress(t *testing.T) {
	one := portOf(t)
	for _, c := range []struct {
		ports  string
		lo, hi int
	}{{"", 1, 65535}, {one, 0, 0}, {"20000-29999", 20000, 29999}} {
		e, err := newRTCEngine(&Config{RTCIP: "127.0.0.1", RTCPorts: c.ports})
		if err != nil {
			t.Fatal(err)
		}
		if c.lo == 0 {
			p := e.addr().(*net.UDPAddr).Port
			c.lo, c.hi = p, p
		} else if e.addr() != nil {
			t.Errorf("--webrtc-ports %q: the engine has one address %v", c.ports, e.addr())
		}
		for range 2 {
			cands := offerCandidates(t, e)
			if len(cands) == 0 {
				t.Fatalf("--webrtc-ports %q: the offer has no candidate", c.ports)
			}
			for _, cand := range cands {
				// foundation component transport priority address port typ type …
				f := strings.Fields(cand)
				if len(f) < 8 {
					t.Fatalf("candidate %q", cand)
				}
				p, _ := strconv.Atoi(f[5])
				if f[4] != "127.0.0.1" || p < c.lo || p > c.hi || f[7] != "host" || strings.Contains(cand, ".local") {
					t.Errorf("--webrtc-ports %q: candidate %q; want a host candidate on 127.0.0.1, port %d-%d, no mDNS name", c.ports, cand, c.lo, c.hi)
				}
			}
		}
		e.Close()
	}
}
