package edge

import (
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/pion/webrtc/v4"
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
// and G.711 passes through; a one-port mux (--webrtc-ports PORT) is
// opened and closed.
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
	}
}

// portOf is a free loopback UDP port.
func portOf(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return strconv.Itoa(c.LocalAddr().(*net.UDPAddr).Port)
}
