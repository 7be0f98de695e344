package edge

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/diago"
	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"golang.org/x/sync/errgroup"
)

// Edge is the SIP edge. New builds it; Run serves SIP and keeps the
// gateway socket up until its context ends.
type Edge struct {
	cfg     Config
	log     *slog.Logger
	prompts Prompts
	api     *api
	gw      *gateway
	phones  *registrar
	uploads *uploader // nil without recordings

	dg     *diago.Diago // set by Run before serving
	active atomic.Int64
	dials  sync.WaitGroup // callbacks being dialled, started from frames

	mu       sync.Mutex
	byID     map[string]*call // by contact id
	byCallID map[string]*call // by SIP Call-ID of the caller's leg
	// early holds connects for contacts no call carries yet: a warm
	// transfer's connect can come before its transferred.
	early  map[string]earlyConnect
	runCtx context.Context
	// softphones are the browser legs by the contact their signalling
	// names; rtc builds their peer connections (set by Run).
	softphones map[string]*softphone
	rtc        *rtcEngine
}

// New builds an edge; prompts is the audio it plays (Tones when nil).
func New(cfg Config, log *slog.Logger, prompts Prompts) (*Edge, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if prompts == nil {
		prompts = Tones{}
	}
	if cfg.SoftphoneGrace == 0 {
		cfg.SoftphoneGrace = 30 * time.Second
	}
	e := &Edge{cfg: cfg, log: log, prompts: prompts, byID: map[string]*call{}, byCallID: map[string]*call{}, early: map[string]earlyConnect{},
		softphones: map[string]*softphone{}}
	e.api = newAPI(&e.cfg)
	e.gw = newGateway(e.api, log, e.frame)
	e.phones = newRegistrar(cfg.Phones, time.Now)
	if cfg.Recordings != nil {
		e.uploads = newUploader(e.api, cfg.Recordings, log)
	}
	return e, nil
}

// Active is the number of calls the edge carries now.
func (e *Edge) Active() int { return int(e.active.Load()) }

// Online says whether the gateway socket is up.
func (e *Edge) Online() bool { return e.gw.Online() }

// Run serves SIP on the configured addresses and keeps the gateway socket
// up; it returns when ctx ends, after the calls it started have ended.
func (e *Edge) Run(ctx context.Context) error {
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("tellonce-edge"))
	if err != nil {
		return fmt.Errorf("edge: sip user agent: %w", err)
	}
	defer ua.Close()
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		return fmt.Errorf("edge: sip server: %w", err)
	}
	opts := []diago.DiagoOption{diago.WithLogger(e.log), diago.WithServer(srv), diago.WithServerRequestMiddleware(e.middleware)}
	for _, t := range []struct{ proto, addr string }{{"udp", e.cfg.UDP}, {"tcp", e.cfg.TCP}, {"tls", e.cfg.TLS}} {
		if t.addr == "" {
			continue
		}
		host, port, err := net.SplitHostPort(t.addr)
		if err != nil {
			return fmt.Errorf("edge: --sip-%s %q: %w", t.proto, t.addr, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			return fmt.Errorf("edge: --sip-%s %q: bad port", t.proto, t.addr)
		}
		tr := diago.Transport{Transport: t.proto, BindHost: host, BindPort: p, ExternalHost: e.cfg.ExternalHost}
		if t.proto == "tls" {
			cert, err := tls.LoadX509KeyPair(e.cfg.TLSCert, e.cfg.TLSKey)
			if err != nil {
				return fmt.Errorf("edge: --tls-cert/--tls-key: %w", err)
			}
			tr.TLSConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		}
		opts = append(opts, diago.WithTransport(tr))
	}
	// The peer connections' engine: here, not in New, because a
	// --webrtc-ports mux opens its socket and starts reading it.
	if e.rtc, err = newRTCEngine(&e.cfg); err != nil {
		return err
	}
	defer e.rtc.Close()
	if a := e.rtc.addr(); a != nil {
		e.log.Info("edge: softphone peers on one UDP port", "addr", a.String())
	}
	e.dg = diago.NewDiago(ua, opts...)
	srv.OnRegister(e.phones.handle)
	e.mu.Lock()
	e.runCtx = ctx
	e.mu.Unlock()

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return e.gw.Run(ctx) })
	if e.cfg.Recordings != nil {
		// The age sweep is only the spool's safety net: a recording
		// normally leaves once the server has it.
		g.Go(func() error { return e.cfg.Recordings.Run(ctx) })
		g.Go(func() error { return e.uploads.Run(ctx) })
	}
	g.Go(func() error {
		err := e.dg.Serve(ctx, func(d *diago.DialogServerSession) { e.inbound(ctx, d) })
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("edge: sip: %w", err)
	})
	err = g.Wait()
	e.dials.Wait()
	return err
}

// middleware takes SIP INFO digits before diago (which refuses them).
func (e *Edge) middleware(next sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		switch req.Method {
		case sip.INFO:
			e.info(req, tx)
			return
		case sip.INVITE:
			if why := malformedInvite(req); why != "" {
				e.log.Info("edge: malformed INVITE", "why", why, "source", req.Source())
				_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusBadRequest, "Bad Request", nil))
				return
			}
		}
		next(req, tx)
	}
}

// malformedInvite says what makes an INVITE unusable, "" when nothing:
// what the dialog layer would otherwise drop without an answer.
func malformedInvite(req *sip.Request) string {
	switch {
	case req.Contact() == nil:
		return "no Contact header"
	case req.From() == nil || req.To() == nil || req.CallID() == nil || req.CSeq() == nil:
		return "missing From, To, Call-ID or CSeq"
	}
	return ""
}

func (e *Edge) info(req *sip.Request, tx sip.ServerTransaction) {
	ct := ""
	if h := req.ContentType(); h != nil {
		ct = strings.TrimSpace(strings.SplitN(h.Value(), ";", 2)[0])
	}
	if !strings.EqualFold(ct, "application/dtmf-relay") && !strings.EqualFold(ct, "application/dtmf") {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusUnsupportedMediaType, "Unsupported Media Type", nil))
		return
	}
	var c *call
	if id := req.CallID(); id != nil {
		e.mu.Lock()
		c = e.byCallID[id.Value()]
		e.mu.Unlock()
	}
	if c == nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist", nil))
		return
	}
	d, err := dtmfInfo(ct, req.Body())
	if err != nil {
		e.log.Warn("edge: bad SIP INFO digit", "err", err, "source", req.Source())
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusBadRequest, "Bad Request", nil))
		return
	}
	select {
	case c.digits <- d:
	default:
	}
	_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil))
}

// refuse answers an INVITE with a final error.
func (e *Edge) refuse(d *diago.DialogServerSession, code int, reason, why string, headers ...sip.Header) {
	req := d.InviteRequest
	e.log.Info("edge: call refused", "status", code, "why", why, "source", req.Source(), "to", req.Recipient.User)
	if err := d.Respond(code, reason, nil, headers...); err != nil {
		e.log.Warn("edge: refusing a call", "err", err)
	}
}

// inbound serves one INVITE from a trunk or PBX, for the call's life.
func (e *Edge) inbound(ctx context.Context, d *diago.DialogServerSession) {
	req := d.InviteRequest
	if !e.cfg.allowed(req.Source()) {
		e.refuse(d, sip.StatusForbidden, "Forbidden", "source not in --trunk-allow")
		return
	}
	number := req.Recipient.User
	walk, step, err := e.cfg.Plan.Start(number)
	if err != nil {
		e.refuse(d, sip.StatusNotFound, "Not Found", "no menu for the called number")
		return
	}
	o, err := parseOffer(req.Body())
	if err != nil {
		e.refuse(d, sip.StatusBadRequest, "Bad Request", err.Error())
		return
	}
	if !o.usable() {
		e.refuse(d, sip.StatusNotAcceptableHere, "Not Acceptable Here", "no PCMU or PCMA offered")
		return
	}
	// Counted only once it would be answered: a refusal holds no place.
	if n := e.active.Add(1); n > int64(e.cfg.MaxCalls) {
		e.active.Add(-1)
		e.refuse(d, sip.StatusServiceUnavailable, "Service Unavailable", "--max-calls reached", sip.NewHeader("Retry-After", "30"))
		return
	}
	defer e.active.Add(-1)
	// Known by its Call-ID before the answer: a SIP INFO digit may follow
	// the ACK at once.
	c := newCall(e, callerID(req))
	callID := req.CallID().Value()
	c.callID = callID
	e.mu.Lock()
	e.byCallID[callID] = c
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		delete(e.byCallID, callID)
		e.mu.Unlock()
	}()
	_ = d.Trying()
	changes := &mediaChanges{}
	med, err := d.Answer(diago.AnswerOptions{OnMediaUpdate: changes.note})
	if err != nil {
		e.log.Warn("edge: answering a call", "err", err)
		return
	}
	c.caller, err = newLeg(med, changes, d.Context().Done(), d.Hangup, c.digits)
	if err != nil {
		e.log.Warn("edge: caller's media", "err", err)
		return
	}
	go c.caller.readLoop()
	c.inbound(ctx, walk, step)
}

// callerID is the caller's number: the P-Asserted-Identity the network
// vouches for, else From.
func callerID(req *sip.Request) string {
	if h := req.GetHeader("P-Asserted-Identity"); h != nil {
		var u sip.Uri
		v := h.Value()
		if i := strings.IndexByte(v, '<'); i >= 0 {
			if j := strings.IndexByte(v[i:], '>'); j > 0 {
				v = v[i+1 : i+j]
			}
		}
		if err := sip.ParseUri(v, &u); err == nil && u.User != "" {
			return u.User
		}
	}
	if f := req.From(); f != nil && f.Address.User != "" {
		return f.Address.User
	}
	return "anonymous"
}

type earlyConnect struct {
	f  serverFrame
	at time.Time
}

// track registers a call under its contact id, and hands it a connect
// that came for that id before.
func (e *Edge) track(c *call, old, id string) {
	e.mu.Lock()
	if old != "" && e.byID[old] == c {
		delete(e.byID, old)
	}
	var early *serverFrame
	if id != "" {
		e.byID[id] = c
		if ec, ok := e.early[id]; ok {
			delete(e.early, id)
			early = &ec.f
		}
	}
	e.mu.Unlock()
	if early != nil {
		c.post(*early)
	}
}

// keepEarlyLocked remembers a connect for a contact no call carries, for
// a minute. The caller holds e.mu from the lookup that found no call, so
// that a track on a call's loop cannot slip in between and miss it.
func (e *Edge) keepEarlyLocked(f serverFrame) {
	now := time.Now()
	for id, ec := range e.early {
		if now.Sub(ec.at) > time.Minute {
			delete(e.early, id)
		}
	}
	e.early[f.ContactID] = earlyConnect{f: f, at: now}
}

// frame takes one frame from the router.
func (e *Edge) frame(ctx context.Context, f serverFrame) {
	switch f.Type {
	case "hello":
		e.reconcile(f.Calls)
		return
	case "dial":
		e.startDial(f)
		return
	case "rtc_answer", "rtc_restart":
		e.rtcFrame(ctx, f)
		return
	}
	if f.ContactID == "" {
		return
	}
	e.mu.Lock()
	c := e.byID[f.ContactID]
	if c == nil && f.Type == "connect" {
		// A warm transfer's connect can overtake the transferred frame
		// that a call's own loop is still applying.
		e.keepEarlyLocked(f)
	}
	e.mu.Unlock()
	if c == nil {
		if f.Type == "connect" {
			e.log.Info("edge: connect for a call this edge does not carry (yet)", "contact", f.ContactID)
		}
		return
	}
	c.post(f)
}

// reconcile brings the calls in step with the router's picture after a
// (re)connect: a call the router no longer has ended while the socket was
// down; an assigned one whose connect was missed rings its agent now.
func (e *Edge) reconcile(calls []helloCall) {
	live := map[string]helloCall{}
	for _, hc := range calls {
		live[hc.ContactID] = hc
	}
	e.mu.Lock()
	var mine []*call
	for _, c := range e.byID {
		mine = append(mine, c)
	}
	e.mu.Unlock()
	for _, c := range mine {
		c.post(reconcileEvent{live: live})
	}
}

// errNoTrunk: a callback to dial without --trunk.
var errNoTrunk = errors.New("edge: no --trunk for callbacks")
