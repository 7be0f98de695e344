package edge

import (
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/diago/media"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/transport/v4/stdnet"
	"github.com/pion/webrtc/v4"
	pmedia "github.com/pion/webrtc/v4/pkg/media"

	"tellonce/iceservers"
)

// The browser softphone: an agent whose desk takes voice (connect,
// dial or conference with browser: true) is bridged to a WebRTC peer
// connection with the page instead of a phone. The softphone is an agent
// leg like a phone's (a *leg whose reader and writer are the peer's
// tracks), so bridging, transfers, the interpreter mix and recording work
// unchanged. It outlives a peer connection: a reload or a lost network is
// a new peer (rtc_restart) within the grace, and meanwhile the caller
// hears hold audio.

// rtcEngine builds the peer connections: one pion API per G.711 law, so
// that the offer lists the caller's law first and the browser answers
// with it (the audio then passes through untouched).
type rtcEngine struct {
	byLaw map[string]*webrtc.API
	ice   []iceservers.Server
	turn  *iceservers.Minter // nil: ice's credentials are static
	name  string             // whose credentials turn mints
	mux   ice.UDPMux
	conn  *net.UDPConn // the mux's socket (--webrtc-ports PORT), else nil
	now   func() time.Time

	// One DTLS certificate for every peer, as a browser keeps one per
	// page: pion would otherwise make an ECDSA key and certificate for
	// each peer connection. It is replaced every certRotation; a peer
	// keeps the one it was made with.
	certMu sync.Mutex
	cert   *webrtc.Certificate
	certAt time.Time
}

// certRotation is how long the edge's DTLS certificate is used for new
// peers. pion's certificates are valid for a month; the fingerprint in
// every offer is what the browser checks, so a new one needs nothing.
const certRotation = 24 * time.Hour

// certificate is the DTLS certificate for a new peer: the current one,
// or a new one when it is due.
func (e *rtcEngine) certificate() (webrtc.Certificate, error) {
	e.certMu.Lock()
	defer e.certMu.Unlock()
	now := e.now()
	if e.cert == nil || now.Sub(e.certAt) >= certRotation || now.Before(e.certAt) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return webrtc.Certificate{}, fmt.Errorf("dtls key: %w", err)
		}
		c, err := webrtc.GenerateCertificate(key)
		if err != nil {
			return webrtc.Certificate{}, fmt.Errorf("dtls certificate: %w", err)
		}
		e.cert, e.certAt = c, now
	}
	return *e.cert, nil
}

// newPeer is a peer connection for a caller of law (pcmu, pcma) with the
// engine's certificate and ICE servers.
func (e *rtcEngine) newPeer(law string) (*webrtc.PeerConnection, error) {
	cert, err := e.certificate()
	if err != nil {
		return nil, err
	}
	pc, err := e.byLaw[law].NewPeerConnection(webrtc.Configuration{ICEServers: e.iceServers(e.now()),
		Certificates: []webrtc.Certificate{cert}})
	if err != nil {
		return nil, fmt.Errorf("peer connection: %w", err)
	}
	return pc, nil
}

// iceServers is the list for a new peer connection: with a TURN secret,
// credentials minted now.
func (e *rtcEngine) iceServers(now time.Time) []webrtc.ICEServer {
	list := e.ice
	if e.turn != nil {
		list = e.turn.For(list, e.name, now)
	}
	out := make([]webrtc.ICEServer, 0, len(list))
	for _, s := range list {
		out = append(out, webrtc.ICEServer{URLs: []string{s.URL}, Username: s.Username, Credential: s.Credential})
	}
	return out
}

// telephone-event for the browser's digits (a desk sends none today, but
// a browser may).
var (
	pcmuParams = webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypePCMU, ClockRate: 8000, Channels: 1}, PayloadType: 0}
	pcmaParams = webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypePCMA, ClockRate: 8000, Channels: 1}, PayloadType: 8}
	eventParams = webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
		MimeType: "audio/telephone-event", ClockRate: 8000, Channels: 1, SDPFmtpLine: "0-16"}, PayloadType: 101}
)

func newRTCEngine(cfg *Config) (*rtcEngine, error) {
	se := webrtc.SettingEngine{}
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6})
	if cfg.RTCIP != "" {
		only := net.ParseIP(cfg.RTCIP)
		se.SetIPFilter(func(ip net.IP) bool { return ip.Equal(only) })
		if only.IsLoopback() {
			se.SetIncludeLoopbackCandidate(true)
		}
	}
	// One view of the interfaces for every peer, read once here: pion
	// would otherwise read them (netlink) for each peer connection.
	ifaces, err := stdnet.NewNet()
	if err != nil {
		return nil, fmt.Errorf("edge: webrtc interfaces: %w", err)
	}
	se.SetNet(ifaces)
	var mux ice.UDPMux
	var conn *net.UDPConn
	if cfg.RTCPorts != "" {
		lo, hi, _ := parsePorts(cfg.RTCPorts)
		if lo == hi {
			// One port for every peer: pion demultiplexes by ICE
			// credentials.
			addr := &net.UDPAddr{Port: lo}
			if cfg.RTCIP != "" {
				addr.IP = net.ParseIP(cfg.RTCIP)
			}
			if conn, err = net.ListenUDP("udp", addr); err != nil {
				return nil, fmt.Errorf("edge: --webrtc-ports %s: %w", cfg.RTCPorts, err)
			}
			mux = webrtc.NewICEUDPMux(nil, conn)
			se.SetICEUDPMux(mux)
		} else if err := se.SetEphemeralUDPPortRange(uint16(lo), uint16(hi)); err != nil {
			return nil, fmt.Errorf("edge: --webrtc-ports %s: %w", cfg.RTCPorts, err)
		}
	}
	if len(cfg.NAT1To1IPs) > 0 {
		// Behind 1:1 NAT the host candidates carry the public address.
		if err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{External: cfg.NAT1To1IPs,
			AsCandidateType: webrtc.ICECandidateTypeHost, Mode: webrtc.ICEAddressRewriteReplace}); err != nil {
			return nil, fmt.Errorf("edge: --webrtc-public-ip: %w", err)
		}
	}
	e := &rtcEngine{byLaw: map[string]*webrtc.API{}, mux: mux, conn: conn, ice: cfg.ICEServers, turn: cfg.TURN, name: cmp.Or(cfg.Username, "edge"),
		now: time.Now}
	for law, order := range map[string][]webrtc.RTPCodecParameters{
		"pcmu": {pcmuParams, pcmaParams}, "pcma": {pcmaParams, pcmuParams},
	} {
		m := &webrtc.MediaEngine{}
		for _, p := range append(order, eventParams) {
			if err := m.RegisterCodec(p, webrtc.RTPCodecTypeAudio); err != nil {
				return nil, fmt.Errorf("edge: webrtc codecs: %w", err)
			}
		}
		// RTCP sender and receiver reports only: pion's default set adds
		// NACK, transport-wide congestion control and a stats recorder,
		// each with goroutines and state per peer and work per packet, for
		// nothing on a G.711 stream the edge passes through.
		ir := &interceptor.Registry{}
		if err := webrtc.ConfigureRTCPReports(ir); err != nil {
			return nil, fmt.Errorf("edge: webrtc interceptors: %w", err)
		}
		e.byLaw[law] = webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se), webrtc.WithInterceptorRegistry(ir))
	}
	return e, nil
}

// parsePorts reads --webrtc-ports: "PORT" (one UDP port for every peer)
// or "LOW-HIGH" (a range, one port per peer).
func parsePorts(s string) (lo, hi int, err error) {
	a, b, isRange := strings.Cut(s, "-")
	if lo, err = strconv.Atoi(a); err != nil || lo < 1 || lo > 65535 {
		return 0, 0, fmt.Errorf("--webrtc-ports %q: want PORT or LOW-HIGH", s)
	}
	hi = lo
	if isRange {
		if hi, err = strconv.Atoi(b); err != nil || hi < lo || hi > 65535 {
			return 0, 0, fmt.Errorf("--webrtc-ports %q: want PORT or LOW-HIGH", s)
		}
	}
	return lo, hi, nil
}

// Events the softphone posts to its call's loop.
type (
	softphoneUp   struct{ sp *softphone }
	softphoneDown struct{ sp *softphone }
	// softphoneLost: the peer stayed down past the grace.
	softphoneLost struct{ sp *softphone }
)

// softphone is one agent's browser leg of a call (or an interpreter's).
type softphone struct {
	e         *Edge
	c         *call
	contactID string // the contact its signalling names (an interpreter: their leg)
	agent     string
	law       string
	leg       *leg
	// ofAgent: the call's agent's leg (not an interpreter's), whose
	// offers say whether the call is on hold.
	ofAgent bool

	in    chan []byte // the browser's audio, across peer connections
	done  chan struct{}
	close sync.Once

	mu      sync.Mutex
	pc      *webrtc.PeerConnection // the connected peer (nil until the first connects)
	track   *webrtc.TrackLocalStaticSample
	pending map[string]*peer // offered, not yet connected, by session
	up      bool
	grace   *time.Timer
}

// peer is one peer connection of a softphone.
type peer struct {
	session   string
	pc        *webrtc.PeerConnection
	track     *webrtc.TrackLocalStaticSample
	answer    chan webrtc.SessionDescription
	connected chan struct{}
	once      sync.Once
}

func newSoftphone(e *Edge, c *call, contactID, agent, law string) *softphone {
	sp := &softphone{e: e, c: c, contactID: contactID, agent: agent, law: law,
		in: make(chan []byte, 64), done: make(chan struct{}), pending: map[string]*peer{}}
	codec := media.CodecAudioUlaw
	if law == "pcma" {
		codec = media.CodecAudioAlaw
	}
	sp.leg = &leg{codec: codec, r: spReader{sp}, w: spWriter{sp}, done: sp.done, contactID: contactID,
		hangup: func(context.Context) error { sp.end(); return nil }, up: sp.isUp}
	return sp
}

func (sp *softphone) isUp() bool {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return sp.up
}

// spReader is the leg's reader: the browser's frames, whichever peer
// carries them.
type spReader struct{ sp *softphone }

func (r spReader) Read(b []byte) (int, error) {
	select {
	case f := <-r.sp.in:
		return copy(b, f), nil
	case <-r.sp.done:
		return 0, io.EOF
	}
}

// spWriter is the leg's writer: to the connected peer; dropped while none.
type spWriter struct{ sp *softphone }

func (w spWriter) Write(b []byte) (int, error) {
	w.sp.mu.Lock()
	t, up := w.sp.track, w.sp.up
	w.sp.mu.Unlock()
	if t == nil || !up {
		return len(b), nil
	}
	if err := t.WriteSample(pmedia.Sample{Data: b, Duration: time.Duration(len(b)) * time.Second / 8000}); err != nil {
		return 0, err
	}
	return len(b), nil
}

// register makes the softphone reachable by its contact for rtc_answer
// and rtc_restart.
func (sp *softphone) register() {
	sp.e.mu.Lock()
	sp.e.softphones[sp.contactID] = sp
	sp.e.mu.Unlock()
}

// end closes every peer and the leg, for good.
func (sp *softphone) end() {
	sp.close.Do(func() {
		sp.e.mu.Lock()
		if sp.e.softphones[sp.contactID] == sp {
			delete(sp.e.softphones, sp.contactID)
		}
		sp.e.mu.Unlock()
		sp.mu.Lock()
		pcs := []*webrtc.PeerConnection{sp.pc}
		for _, p := range sp.pending {
			pcs = append(pcs, p.pc)
		}
		sp.pc, sp.pending, sp.up = nil, map[string]*peer{}, false
		if sp.grace != nil {
			sp.grace.Stop()
		}
		sp.mu.Unlock()
		close(sp.done)
		for _, pc := range pcs {
			if pc != nil {
				_ = pc.Close()
			}
		}
	})
}

// connect offers a peer and waits until it is connected (the first
// connect of a call: ringing), or ctx ends.
func (sp *softphone) connect(ctx context.Context) error { return sp.connectPeer(ctx) }

// connectPeer offers a peer and waits until it is connected or ctx ends
// (which drops the peer if it was not answered).
func (sp *softphone) connectPeer(ctx context.Context) error {
	p, err := sp.offer(ctx)
	if err != nil {
		return err
	}
	select {
	case <-p.connected:
		return nil
	case <-sp.done:
		return errors.New("softphone ended")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// restart offers a new peer (rtc_restart); the connected one, if any,
// carries on until the new one connects.
func (sp *softphone) restart(ctx context.Context) {
	select {
	case <-sp.done:
		return
	default:
	}
	go func() {
		// The offer is answered within the ring timeout, or dropped.
		octx, cancel := context.WithTimeout(ctx, sp.e.cfg.RingTimeout)
		defer cancel()
		if err := sp.connectPeer(octx); err != nil {
			sp.e.log.Info("edge: softphone re-offer", "contact", sp.contactID, "err", err)
		}
	}()
}

// offer makes a peer connection, sends its offer once ICE gathering is
// complete, and applies the answer when it comes.
func (sp *softphone) offer(ctx context.Context) (*peer, error) {
	pc, err := sp.e.rtc.newPeer(sp.law)
	if err != nil {
		return nil, err
	}
	codec := pcmuParams.RTPCodecCapability
	if sp.law == "pcma" {
		codec = pcmaParams.RTPCodecCapability
	}
	track, err := webrtc.NewTrackLocalStaticSample(codec, "audio", "tellonce")
	if err == nil {
		_, err = pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendrecv})
	}
	if err != nil {
		_ = pc.Close()
		return nil, fmt.Errorf("audio track: %w", err)
	}
	p := &peer{session: newSession(), pc: pc, track: track, answer: make(chan webrtc.SessionDescription, 1),
		connected: make(chan struct{})}
	pc.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { sp.readTrack(t) })
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) { sp.state(p, s) })
	sp.mu.Lock()
	sp.pending[p.session] = p
	sp.mu.Unlock()

	o, err := pc.CreateOffer(nil)
	if err == nil {
		gathered := webrtc.GatheringCompletePromise(pc)
		if err = pc.SetLocalDescription(o); err == nil {
			select {
			case <-gathered:
			case <-ctx.Done():
				err = ctx.Err()
			}
		}
	}
	if err != nil {
		sp.drop(p)
		return nil, fmt.Errorf("offer: %w", err)
	}
	msg := map[string]any{"type": "rtc_offer", "contact_id": sp.contactID, "agent": sp.agent,
		"session": p.session, "sdp": pc.LocalDescription().SDP}
	if sp.ofAgent && sp.c.heldNow.Load() {
		msg["held"] = true // a desk reloaded during hold shows it
	}
	sp.e.gw.send(msg)
	go func() { // until the answer is applied, or never comes
		select {
		case a := <-p.answer:
			if err := pc.SetRemoteDescription(a); err != nil {
				sp.e.log.Info("edge: softphone answer refused", "contact", sp.contactID, "err", err)
				sp.drop(p)
			}
		case <-ctx.Done():
			sp.drop(p) // no answer in time
		case <-sp.done:
		}
	}()
	return p, nil
}

// drop closes a peer that never connected.
func (sp *softphone) drop(p *peer) {
	sp.mu.Lock()
	delete(sp.pending, p.session)
	sp.mu.Unlock()
	_ = p.pc.Close()
}

// answered hands an rtc_answer to the peer it answers; an answer for an
// older session is ignored.
func (sp *softphone) answered(session, sdp string) {
	sp.mu.Lock()
	p := sp.pending[session]
	sp.mu.Unlock()
	if p == nil {
		sp.e.log.Info("edge: softphone answer for an older session ignored", "contact", sp.contactID, "session", session)
		return
	}
	select {
	case p.answer <- webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}:
	default:
	}
}

// state follows a peer's connection: the first to connect becomes the
// softphone's (the one before it is closed); the current one going down
// puts the caller on hold audio and starts the grace.
func (sp *softphone) state(p *peer, s webrtc.PeerConnectionState) {
	sp.mu.Lock()
	var notify any
	var report string
	var old []*webrtc.PeerConnection
	switch s {
	case webrtc.PeerConnectionStateConnected:
		if sp.pending[p.session] == p {
			// The first of the offered peers to connect wins; the others,
			// and the peer before, are closed.
			old = append(old, sp.pc)
			for _, o := range sp.pending {
				if o != p {
					old = append(old, o.pc)
				}
			}
			sp.pc, sp.track, sp.pending = p.pc, p.track, map[string]*peer{}
			if sp.grace != nil {
				sp.grace.Stop()
				sp.grace = nil
			}
			if !sp.up {
				notify = softphoneUp{sp}
			}
			sp.up, report = true, "connected"
			p.once.Do(func() { close(p.connected) })
		}
	case webrtc.PeerConnectionStateDisconnected, webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
		if sp.pc == p.pc && sp.up {
			sp.up, report, notify = false, string(stateName(s)), softphoneDown{sp}
			grace := sp.e.cfg.SoftphoneGrace
			sp.grace = time.AfterFunc(grace, func() { sp.c.post(softphoneLost{sp}) })
		}
	}
	sp.mu.Unlock()
	for _, pc := range old {
		if pc != nil && pc != p.pc {
			_ = pc.Close()
		}
	}
	if report != "" {
		sp.e.gw.send(map[string]any{"type": "rtc_state", "contact_id": sp.contactID, "agent": sp.agent, "state": report})
	}
	if notify != nil {
		sp.c.post(notify)
	}
}

func stateName(s webrtc.PeerConnectionState) string {
	switch s {
	case webrtc.PeerConnectionStateFailed:
		return "failed"
	case webrtc.PeerConnectionStateClosed:
		return "closed"
	}
	return "disconnected"
}

// readTrack feeds the browser's audio to the leg, in the leg's law.
func (sp *softphone) readTrack(t *webrtc.TrackRemote) {
	from := strings.ToLower(strings.TrimPrefix(t.Codec().MimeType, "audio/"))
	pt := uint8(t.PayloadType())
	for {
		pkt, _, err := t.ReadRTP()
		if err != nil {
			return
		}
		if pkt.PayloadType != pt || len(pkt.Payload) == 0 {
			continue // telephone-event
		}
		f := transcode(append([]byte(nil), pkt.Payload...), from, sp.law)
		if f == nil {
			continue
		}
		select {
		case sp.in <- f:
		default: // the bridge is behind: drop, as a jitter buffer would
		}
	}
}

func newSession() string {
	b := make([]byte, 9)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// rtcFrame takes the gateway frames about softphones: an answer, a
// restart.
func (e *Edge) rtcFrame(ctx context.Context, f serverFrame) {
	e.mu.Lock()
	sp := e.softphones[f.ContactID]
	e.mu.Unlock()
	if sp == nil || sp.agent != f.Agent {
		e.log.Info("edge: "+f.Type+" for no softphone here", "contact", f.ContactID, "agent", f.Agent)
		return
	}
	switch f.Type {
	case "rtc_answer":
		sp.answered(f.Session, f.SDP)
	case "rtc_restart":
		sp.restart(ctx)
	}
}

// addr is the one UDP address every peer uses (--webrtc-ports PORT); nil
// otherwise.
func (e *rtcEngine) addr() net.Addr {
	if e.conn == nil {
		return nil
	}
	return e.conn.LocalAddr()
}

// Close releases what newRTCEngine opened (a --webrtc-ports mux).
func (e *rtcEngine) Close() {
	if e.mux != nil {
		_ = e.mux.Close()
	}
}
