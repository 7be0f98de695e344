package edge

import (
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// BenchmarkSoftphonePeerSetup is one softphone peer set up on loopback,
// as the edge makes it, against a browser-like pion peer (one
// certificate for the page, no mDNS) in the same process: the offer with
// gathering, the answer, ICE and DTLS until both are connected, then both
// closed. cpu-ms/op is the process's utime+stime per setup (both ends:
// the browser's half is the same in every variant), which a loaded
// machine does not move as it moves ns/op.
//
//	go test -run '^$' -bench SoftphonePeerSetup -benchmem -benchtime 200x ./edge/
func BenchmarkSoftphonePeerSetup(b *testing.B) {
	for _, v := range []struct{ name, ports string }{
		{"port-per-peer", ""}, // the default: any ephemeral port
		{"one-port", "one"},   // --webrtc-ports PORT
	} {
		b.Run(v.name, func(b *testing.B) {
			cfg := &Config{RTCIP: "127.0.0.1", RTCPorts: v.ports}
			if v.ports == "one" {
				cfg.RTCPorts = portOf(b)
			}
			e, err := newRTCEngine(cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			page := pageAPI(b)
			pageCert, err := e.certificate() // any one certificate for the page
			if err != nil {
				b.Fatal(err)
			}
			e.cert = nil // the edge's own, made at the first setup
			b.ReportAllocs()
			var ru0, ru1 syscall.Rusage
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
			b.ResetTimer()
			for range b.N {
				setupPeers(b, e.newPeer, page, pageCert)
			}
			b.StopTimer()
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
			cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
		})
	}
}

// pageAPI is a browser's media stack for the benchmark: G.711, no mDNS,
// loopback only.
func pageAPI(b *testing.B) *webrtc.API {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterCodec(pcmuParams, webrtc.RTPCodecTypeAudio); err != nil {
		b.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se))
}

// setupPeers offers from the edge's side, answers from the page's and
// waits until both peers are connected, then closes them.
func setupPeers(b *testing.B, newEdgePeer func(string) (*webrtc.PeerConnection, error), page *webrtc.API, pageCert webrtc.Certificate) {
	edgePC, err := newEdgePeer("pcmu")
	if err != nil {
		b.Fatal(err)
	}
	defer edgePC.Close()
	pagePC, err := page.NewPeerConnection(webrtc.Configuration{Certificates: []webrtc.Certificate{pageCert}})
	if err != nil {
		b.Fatal(err)
	}
	defer pagePC.Close()
	up := make(chan struct{}, 2)
	for _, pc := range []*webrtc.PeerConnection{edgePC, pagePC} {
		pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
			if s == webrtc.PeerConnectionStateConnected {
				up <- struct{}{}
			}
		})
		if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendrecv}); err != nil {
			b.Fatal(err)
		}
	}
	offer, err := edgePC.CreateOffer(nil)
	if err != nil {
		b.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(edgePC)
	if err := edgePC.SetLocalDescription(offer); err != nil {
		b.Fatal(err)
	}
	<-gathered
	if err := pagePC.SetRemoteDescription(*edgePC.LocalDescription()); err != nil {
		b.Fatal(err)
	}
	answer, err := pagePC.CreateAnswer(nil)
	if err != nil {
		b.Fatal(err)
	}
	gathered = webrtc.GatheringCompletePromise(pagePC)
	if err := pagePC.SetLocalDescription(answer); err != nil {
		b.Fatal(err)
	}
	<-gathered
	if err := edgePC.SetRemoteDescription(*pagePC.LocalDescription()); err != nil {
		b.Fatal(err)
	}
	for range 2 {
		select {
		case <-up:
		case <-time.After(time.Minute):
			b.Fatal("peers not connected within a minute")
		}
	}
}
