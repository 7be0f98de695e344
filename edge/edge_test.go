package edge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emiago/diago/media"
	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"tellonce/dialplan"
)

func TestParseOffer(t *testing.T) {
	cases := []struct {
		name   string
		body   string
		usable bool
		err    bool
	}{
		{"pcmu", "v=0\r\nm=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n", true, false},
		{"pcma by rtpmap", "v=0\nm=audio 4000 RTP/AVP 96\na=rtpmap:96 PCMA/8000\n", true, false},
		{"g729 only", "v=0\r\nm=audio 4000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n", false, false},
		{"video pcmu does not count", "v=0\r\nm=video 4000 RTP/AVP 0\r\nm=audio 4002 RTP/AVP 18\r\n", false, false},
		{"late offer", "", true, false},
		{"not sdp", "hello", false, true},
		{"no audio", "v=0\r\nm=video 4000 RTP/AVP 96\r\n", false, true},
		{"short m line", "v=0\r\nm=audio 4000\r\n", false, true},
		{"bad port", "v=0\r\nm=audio x RTP/AVP 0\r\n", false, true},
		{"not type=value", "v=0\r\nthis\r\n", false, true},
	}
	for _, c := range cases {
		o, err := parseOffer([]byte(c.body))
		if (err != nil) != c.err || (err == nil && o.usable() != c.usable) {
			t.Errorf("%s: usable %v err %v; want usable %v err %v", c.name, o.usable(), err, c.usable, c.err)
		}
	}
}

func FuzzParseOffer(f *testing.F) {
	f.Add([]byte("v=0\r\nm=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n"))
	f.Add([]byte("v=0\nm=audio 1/2 RTP/AVP 96\na=rtpmap:96\n"))
	f.Add([]byte("v=\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := parseOffer(b)
		if err == nil && len(b) > 0 && !bytes.Contains(b, []byte("m=audio")) {
			t.Fatalf("accepted an offer without audio: %q %+v", b, o)
		}
	})
}

func TestDTMFInfo(t *testing.T) {
	cases := []struct{ ct, body, want string }{
		{"application/dtmf-relay", "Signal=5\r\nDuration=160\r\n", "5"},
		{"application/dtmf-relay", "signal= *\nDuration=100", "*"},
		{"application/dtmf-relay", "Signal=11\r\n", "#"},
		{"application/dtmf", "9", "9"},
	}
	for _, c := range cases {
		if got, err := dtmfInfo(c.ct, []byte(c.body)); err != nil || got != c.want {
			t.Errorf("%s %q = %q %v; want %q", c.ct, c.body, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "Duration=160", "Signal=55", "Signal=x"} {
		if d, err := dtmfInfo("application/dtmf-relay", []byte(bad)); err == nil {
			t.Errorf("%q read as %q", bad, d)
		}
	}
}

func FuzzDTMFInfo(f *testing.F) {
	f.Add("application/dtmf-relay", []byte("Signal=1\r\nDuration=160"))
	f.Add("application/dtmf", []byte("#"))
	f.Fuzz(func(t *testing.T, ct string, b []byte) {
		d, err := dtmfInfo(ct, b)
		if err == nil && (len(d) != 1 || !strings.Contains("0123456789*#ABCD", d)) {
			t.Fatalf("%q read as key %q", b, d)
		}
	})
}

func FuzzParseServerFrame(f *testing.F) {
	f.Add([]byte(`{"type":"connect","contact_id":"ct1","agent":"han.jiwon","phone":"sip:han@pbx"}`))
	f.Add([]byte(`{"type":"hello","calls":[{"contact_id":"ct1","status":"assigned","agent":"a"}]}`))
	f.Add([]byte(`{"type":"ack","ref":7}`))
	f.Add([]byte(`[1,2]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := parseServerFrame(b)
		if err != nil {
			return
		}
		if fr.Type == "" || len(fr.ContactID) > 128 {
			t.Fatalf("accepted %q", b)
		}
		if !json.Valid(b) {
			t.Fatalf("accepted invalid JSON %q", b)
		}
	})
}

// TestRelayTranscodes: a PCMU frame reaching a PCMA leg is re-encoded,
// and a frame between legs of one codec passes untouched.
func TestRelayTranscodes(t *testing.T) {
	var alawOut, ulawOut bytes.Buffer
	alaw := &leg{codec: media.CodecAudioAlaw, w: &alawOut}
	ulaw := &leg{codec: media.CodecAudioUlaw, w: &ulawOut}
	silenceU := bytes.Repeat([]byte{0xFF}, 160) // μ-law zero
	alaw.write(silenceU, media.CodecAudioUlaw)
	if want := bytes.Repeat([]byte{0xD5}, 160); !bytes.Equal(alawOut.Bytes(), want) { // A-law zero
		t.Errorf("PCMU→PCMA gave % x…; want d5…", alawOut.Bytes()[:4])
	}
	frame := bytes.Repeat([]byte{0x42}, 160)
	ulaw.write(frame, media.CodecAudioUlaw)
	if !bytes.Equal(ulawOut.Bytes(), frame) {
		t.Errorf("PCMU→PCMU changed the frame")
	}
	if alaw.tx.Load() != 1 || ulaw.tx.Load() != 1 {
		t.Errorf("frames counted: %d %d", alaw.tx.Load(), ulaw.tx.Load())
	}
}

func TestBridgeAndUnbridge(t *testing.T) {
	a, b, c := &leg{}, &leg{}, &leg{}
	bridge(a, b)
	if a.peer.Load() != b || b.peer.Load() != a {
		t.Fatal("not bridged both ways")
	}
	// Moving the caller to the next agent leaves the old one unbridged.
	bridge(a, c)
	unbridge(b)
	if a.peer.Load() != c || c.peer.Load() != a {
		t.Fatal("the caller lost the new agent when the old one left")
	}
	unbridge(a)
	if a.peer.Load() != nil || c.peer.Load() != nil {
		t.Fatal("unbridge left a peer")
	}
}

func TestCallerID(t *testing.T) {
	mk := func(headers ...sip.Header) *sip.Request {
		var u sip.Uri
		_ = sip.ParseUri("sip:126@edge", &u)
		r := sip.NewRequest(sip.INVITE, u)
		for _, h := range headers {
			r.AppendHeader(h)
		}
		return r
	}
	from := &sip.FromHeader{Address: sip.Uri{User: "0212345678", Host: "pbx"}}
	if got := callerID(mk(from, sip.NewHeader("P-Asserted-Identity", `"Hong" <sip:+821012345678@carrier;user=phone>`))); got != "+821012345678" {
		t.Errorf("with PAI: %q", got)
	}
	if got := callerID(mk(from)); got != "0212345678" {
		t.Errorf("From only: %q", got)
	}
	if got := callerID(mk()); got != "anonymous" {
		t.Errorf("neither: %q", got)
	}
}

func TestConfigValidateNamesTheFlag(t *testing.T) {
	plan, err := dialplan.Parse([]byte("numbers: {\"1\": m}\nmenus: {m: {default: {queue: a.b}}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	router, _ := url.Parse("http://127.0.0.1:8080/")
	good := Config{UDP: "127.0.0.1:5060", Router: router, Token: "t", Plan: plan, AnnounceEvery: time.Minute, MaxCalls: 10, RingTimeout: 20 * time.Second}
	if err := good.Validate(); err != nil {
		t.Fatalf("good config: %v", err)
	}
	for _, c := range []struct {
		flag string
		mod  func(*Config)
	}{
		{"--sip-udp", func(c *Config) { c.UDP = "" }},
		{"--sip-tls", func(c *Config) { c.TLS = "127.0.0.1:5061" }},
		{"--router", func(c *Config) { c.Router = &url.URL{Scheme: "ftp", Host: "x"} }},
		{"--gateway-user", func(c *Config) { c.Token = "" }},
		{"--dialplan", func(c *Config) { c.Plan = nil }},
		{"--announce-every", func(c *Config) { c.AnnounceEvery = time.Second }},
		{"--max-calls", func(c *Config) { c.MaxCalls = 0 }},
		{"--ring-timeout", func(c *Config) { c.RingTimeout = 0 }},
		{"--trunk", func(c *Config) { c.Trunk = "http://trunk" }},
		{"--softphone-grace", func(c *Config) { c.SoftphoneGrace = time.Millisecond }},
		{"--webrtc-ports", func(c *Config) { c.RTCPorts = "20000-10000" }},
		{"--webrtc-ports", func(c *Config) { c.RTCPorts = "udp" }},
		{"--webrtc-ip", func(c *Config) { c.RTCIP = "localhost" }},
		{"--webrtc-public-ip", func(c *Config) { c.NAT1To1IPs = []string{"203.0.113.300"} }},
	} {
		cfg := good
		c.mod(&cfg)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.flag) {
			t.Errorf("%s: %v", c.flag, err)
		}
	}
}

func TestAllowList(t *testing.T) {
	list, err := ParseAllowList("203.0.113.7, 198.51.100.0/24")
	if err != nil {
		t.Fatal(err)
	}
	c := Config{TrunkAllow: list}
	for addr, want := range map[string]bool{"203.0.113.7:5060": true, "198.51.100.9:5060": true, "203.0.113.8:5060": false, "junk": false} {
		if got := c.allowed(addr); got != want {
			t.Errorf("%s allowed %v; want %v", addr, got, want)
		}
	}
	if (&Config{}).allowed("192.0.2.1:5060") != true {
		t.Error("an empty list refuses")
	}
	if _, err := ParseAllowList("trunk.example"); err == nil || !strings.Contains(err.Error(), "--trunk-allow") {
		t.Errorf("bad entry: %v", err)
	}
}

func TestLoadPhones(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, "phones.yaml")
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ha1 := HA1("lee.sora", "another-secret")
	got, err := LoadPhones(write("phones:\n  - {username: kim.minji, password: long-enough}\n  - {username: lee.sora, ha1: " + ha1 + "}\n"))
	if err != nil || got["kim.minji"] != HA1("kim.minji", "long-enough") || got["lee.sora"] != ha1 {
		t.Fatalf("LoadPhones = %v, %v", got, err)
	}
	for src, want := range map[string]string{
		"phones:\n  - {username: Kim, password: long-enough}\n":                                             "phones[0].username",
		"phones:\n  - {username: kim, password: short}\n":                                                   "phones[0].password",
		"phones:\n  - {username: kim, password: long-enough}\n  - {username: kim, password: long-enough}\n": "phones[1].username",
		"phones:\n  - {username: kim, pasword: long-enough}\n":                                              "pasword",
		"phones:\n  - {username: kim, ha1: 5F4DCC3B5AA765D61D8327DEB882CF99}\n":                             "phones[0].ha1",
		"phones:\n  - {username: kim, ha1: abc}\n":                                                          "phones[0].ha1",
		"phones:\n  - {username: kim, password: long-enough, ha1: 5f4dcc3b5aa765d61d8327deb882cf99}\n":      "both given",
	} {
		if _, err := LoadPhones(write(src)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v; want %q", src, err, want)
		}
	}
}

func TestTonesPlayInRealTimeFrames(t *testing.T) {
	rs, err := Tones{}.Phrase("ko", Position, 3, 60)
	if err != nil || len(rs) != 6 {
		t.Fatalf("Phrase = %d readers, %v", len(rs), err)
	}
	var out bytes.Buffer
	l := &leg{codec: media.CodecAudioAlaw, w: &out, done: make(chan struct{})}
	if err := l.play(t.Context(), rs[:1]); err != nil {
		t.Fatal(err)
	}
	if n := l.tx.Load(); n < 10 || n > 15 { // 250 ms in 20 ms frames
		t.Errorf("played %d frames; want about 13", n)
	}
	// The μ-law prompt reached the A-law leg transcoded.
	if !bytes.Equal(out.Bytes()[:len(rs[0])], transcode(rs[0], "pcmu", "pcma")) {
		t.Error("the prompt was not transcoded to the leg's A-law")
	}
}

// TestMixerGivesEachTheOthers: in a conference each member hears the sum
// of the others, never themselves, in their own law.
func TestMixerGivesEachTheOthers(t *testing.T) {
	var outA, outB, outC bytes.Buffer
	a := &leg{codec: media.CodecAudioUlaw, w: &outA}
	b := &leg{codec: media.CodecAudioUlaw, w: &outB}
	c := &leg{codec: media.CodecAudioAlaw, w: &outC}
	m := newMixer(a, b, c)
	loud := bytes.Repeat([]byte{0x9F}, 160) // μ-law, a negative sample around -2000
	m.put(a, loud)
	m.tick()
	if outA.Len() != 0 {
		t.Error("a heard themselves")
	}
	if !bytes.Equal(outB.Bytes(), loud) {
		t.Errorf("b heard % x…; want a's frame", outB.Bytes()[:4])
	}
	if want := transcode(loud, "pcmu", "pcma"); !bytes.Equal(outC.Bytes(), want) {
		t.Errorf("c heard % x…; want a's frame in A-law % x…", outC.Bytes()[:4], want[:4])
	}
	// Nothing said: nothing sent (the legs' own silence is theirs to send).
	outB.Reset()
	m.tick()
	if outB.Len() != 0 {
		t.Error("a frame was sent for nothing said")
	}
}

func TestRingOutcome(t *testing.T) {
	res := func(code int) error {
		return &sipgo.ErrDialogResponse{Res: sip.NewResponse(code, "x")}
	}
	for err, want := range map[error]string{
		res(486): "busy", res(600): "busy", res(480): "no_answer", res(408): "no_answer",
		res(404): "failed", context.DeadlineExceeded: "no_answer", errors.New("network"): "failed",
	} {
		if got := ringOutcome(err); got != want {
			t.Errorf("%v → %q; want %q", err, got, want)
		}
	}
}

// A warm transfer's connect for the new leg can reach the edge while the
// call's own loop is still applying the transferred frame that names
// that leg: whichever comes first, the call gets the connect once.
func TestConnectRacingTheTransferReachesTheCall(t *testing.T) {
	e := &Edge{log: slog.New(slog.DiscardHandler), byID: map[string]*call{}, early: map[string]earlyConnect{}}
	for i := range 2000 {
		c := &call{e: e, log: e.log, events: make(chan any, 4)}
		id := fmt.Sprintf("ct-%d", i)
		tracked := make(chan struct{})
		go func() { defer close(tracked); e.track(c, "", id) }()
		e.frame(context.Background(), serverFrame{Type: "connect", ContactID: id})
		<-tracked
		if n := len(c.events); n != 1 {
			t.Fatalf("round %d: the call got %d connects; want 1", i, n)
		}
	}
}
