// Package relay is a node's front door. While the node leads, requests
// go to its own server; while it stands by, HTTP requests and WebSockets
// are passed to the leader (the standard library's reverse proxy carries
// the upgrade), with the client's address added to X-Forwarded-For. The
// leader believes that address only from another node. /readyz, /healthz
// and /metrics are always the node's own.
package relay

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"tellonce/lease"
)

// relayedHeader marks a request one node passed to another: a node that
// does not lead answers it unavailable instead of passing it on again,
// so two nodes with stale views never bounce a request between them.
const relayedHeader = "X-Tellonce-Relayed"

// Leadership is what the front needs to know of the election.
type Leadership interface {
	Status() lease.Status
	// IsPeer reports whether ip is another node's.
	IsPeer(ip string) bool
}

// Config wires a Front.
type Config struct {
	Leadership Leadership
	// Ready reports whether the node's own storage can serve.
	Ready func(ctx context.Context) error
	// Metrics serves /metrics.
	Metrics http.Handler
	Log     *slog.Logger
	// DialTimeout bounds reaching the leader (default 2s): a standby that
	// cannot reach it answers 503, not a hang.
	DialTimeout time.Duration
}

// Front routes each request to the node's own server or to the leader.
type Front struct {
	cfg       Config
	local     atomic.Pointer[http.Handler]
	transport *http.Transport

	mu      sync.Mutex
	proxies map[string]*httputil.ReverseProxy // by the leader's address
	// relayed ends when the leader changes: the reverse proxy then closes
	// the WebSockets and streams it carries to the old one, whose clients
	// reconnect to the new leader instead of hanging on a paused one.
	relayed   context.Context
	endRelays context.CancelFunc
	relayedTo string
}

// New makes a front; until Lead is called the node serves nothing of its own.
func New(cfg Config) *Front {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 2 * time.Second
	}
	if cfg.Metrics == nil {
		cfg.Metrics = http.NotFoundHandler()
	}
	d := &net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second}
	return &Front{cfg: cfg, proxies: map[string]*httputil.ReverseProxy{}, transport: &http.Transport{
		DialContext: d.DialContext, MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
	}}
}

// Lead makes h the node's own server (nil: none, the node stands by).
func (f *Front) Lead(h http.Handler) {
	if h == nil {
		f.local.Store(nil)
		return
	}
	f.local.Store(&h)
}

// Settled reports whether the node knows where to send requests: it
// leads with its own server running, or it stands by and knows the leader.
func (f *Front) Settled() bool {
	st := f.cfg.Leadership.Status()
	if st.Role == lease.RoleLeader {
		return f.local.Load() != nil
	}
	return st.Leader != ""
}

func (f *Front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/readyz":
		f.readyz(w, r)
		return
	case "/metrics":
		f.cfg.Metrics.ServeHTTP(w, r)
		return
	case "/healthz":
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		return
	}
	st := f.cfg.Leadership.Status()
	h := f.local.Load()
	switch {
	case h != nil && st.Role == lease.RoleLeader:
		(*h).ServeHTTP(w, f.fromPeer(r))
		return
	case st.Role == lease.RoleLeader:
		unavailable(w, r, "this server is restoring the live state; try again shortly", settle)
		return
	case st.Leader == "" || r.Header.Get(relayedHeader) != "":
		unavailable(w, r, "no server leads right now; try again in a few seconds", settle)
		return
	}
	p, ctx := f.proxy(st.Leader)
	p.ServeHTTP(w, r.WithContext(mergeCancel(r.Context(), ctx)))
}

// mergeCancel is parent, ended also when other ends.
func mergeCancel(parent, other context.Context) context.Context {
	ctx, cancel := context.WithCancel(parent)
	stop := context.AfterFunc(other, cancel)
	context.AfterFunc(ctx, func() { stop(); cancel() })
	return ctx
}

// Run ends the relayed connections of a leader that is no longer the
// leader, looking every interval (default 100ms), until ctx ends.
func (f *Front) Run(ctx context.Context) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			f.retarget("")
			return nil
		case <-tick.C:
		}
		st := f.cfg.Leadership.Status()
		if st.Role == lease.RoleLeader {
			f.retarget("")
		} else {
			f.retarget(st.Leader)
		}
	}
}

// retarget ends the relays to any leader but leader.
func (f *Front) retarget(leader string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.relayedTo != leader && f.endRelays != nil {
		f.endRelays()
		f.relayed, f.endRelays, f.relayedTo = nil, nil, ""
	}
}

// fromPeer takes the client's address from the last X-Forwarded-For entry
// when another node passed the request on, and only then.
func (f *Front) fromPeer(r *http.Request) *http.Request {
	if r.Header.Get(relayedHeader) == "" {
		return r
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil || !f.cfg.Leadership.IsPeer(host) {
		return r
	}
	xff := r.Header.Get("X-Forwarded-For")
	i := strings.LastIndex(xff, ",")
	client := strings.TrimSpace(xff[i+1:])
	if net.ParseIP(client) == nil {
		return r
	}
	r2 := r.Clone(r.Context())
	r2.RemoteAddr = net.JoinHostPort(client, "0")
	if i < 0 {
		r2.Header.Del("X-Forwarded-For")
	} else {
		r2.Header.Set("X-Forwarded-For", strings.TrimSpace(xff[:i]))
	}
	r2.Header.Del(relayedHeader)
	return r2
}

func (f *Front) proxy(leader string) (*httputil.ReverseProxy, context.Context) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.relayedTo != leader || f.relayed == nil {
		if f.endRelays != nil {
			f.endRelays()
		}
		f.relayed, f.endRelays = context.WithCancel(context.Background())
		f.relayedTo = leader
	}
	if p := f.proxies[leader]; p != nil {
		return p, f.relayed
	}
	p := &httputil.ReverseProxy{
		Transport: f.transport,
		// WebSocket frames and statistics streams go through at once.
		FlushInterval: -1,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = "http", leader
			pr.Out.Host = pr.In.Host // the Origin rule compares with the host the client used
			// Rewrite starts without forwarding headers: keep a load
			// balancer's, and add this hop's client.
			client, _, err := net.SplitHostPort(pr.In.RemoteAddr)
			if err != nil {
				client = pr.In.RemoteAddr
			}
			if prior := pr.In.Header.Get("X-Forwarded-For"); prior != "" {
				client = prior + ", " + client
			}
			pr.Out.Header.Set("X-Forwarded-For", client)
			for _, h := range []string{"X-Forwarded-Proto", "X-Forwarded-Host"} {
				if v := pr.In.Header.Get(h); v != "" {
					pr.Out.Header.Set(h, v)
				}
			}
			pr.Out.Header.Set(relayedHeader, "1")
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			f.cfg.Log.Warn("relay: the leader did not answer", "leader", leader, "path", r.URL.Path, "err", err)
			unavailable(w, r, "the server that leads cannot be reached; try again in a few seconds", retryIn(f.cfg.Leadership.Status(), time.Now()))
		},
	}
	f.proxies = map[string]*httputil.ReverseProxy{leader: p} // only the current leader's is kept
	return p, f.relayed
}

// readyz is 200 when this node can serve: as leader, its own server runs
// and its storage is ready; as standby, the leader answers.
func (f *Front) readyz(w http.ResponseWriter, r *http.Request) {
	st := f.cfg.Leadership.Status()
	body := map[string]any{"role": st.Role, "leader": st.Leader, "epoch": st.Epoch}
	fail := func(why string) {
		body["status"] = "unavailable"
		body["error"] = map[string]string{"code": "unavailable", "message": why}
		writeJSON(w, http.StatusServiceUnavailable, body)
	}
	ctx, cancel := context.WithTimeout(r.Context(), f.cfg.DialTimeout)
	defer cancel()
	switch {
	case st.Role == lease.RoleLeader && f.local.Load() == nil:
		fail("restoring the live state")
		return
	case st.Role == lease.RoleLeader:
		if err := f.cfg.Ready(ctx); err != nil {
			f.cfg.Log.WarnContext(ctx, "not ready", "err", err)
			fail("the database is not ready")
			return
		}
	case st.Leader == "":
		fail("no server leads right now")
		return
	default:
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+st.Leader+"/healthz", nil)
		resp, err := f.transport.RoundTrip(req)
		if err != nil {
			fail("the server that leads cannot be reached")
			return
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			fail("the server that leads is not healthy")
			return
		}
	}
	body["status"] = "ready"
	writeJSON(w, http.StatusOK, body)
}

// CloseRetry is the WebSocket close code of a node that cannot serve a
// socket now (no reachable leader, or its own state still restoring); the
// reason says when to try again: "unavailable; retry in N ms". A browser
// cannot read the HTTP answer to a refused upgrade, so the socket is
// accepted only to be closed with it.
const CloseRetry = 4503

// settle is how soon to try again while a takeover is under way (no live
// lease, or the new leader restoring): short, so desks are back soon
// after the new leader is; a refusal costs the node next to nothing.
const settle = 500 * time.Millisecond

// maxRetry bounds a hint: a client never waits longer than that on our
// word.
const maxRetry = 15 * time.Second

// retryIn is when to try again while the leader st names does not answer:
// once its lease has run out unrenewed and another node may have taken
// it, a little later than that.
func retryIn(st lease.Status, now time.Time) time.Duration {
	if st.Expires.After(now) {
		return min(st.Expires.Sub(now)+settle, maxRetry)
	}
	return settle
}

// unavailable answers a request this node cannot serve now: 503 with a
// Retry-After in whole seconds, or, to a WebSocket, the close CloseRetry
// with the wait in milliseconds.
func unavailable(w http.ResponseWriter, r *http.Request, msg string, retry time.Duration) {
	if websocket.IsWebSocketUpgrade(r) {
		// Only a close is sent, so any origin may have it.
		up := websocket.Upgrader{HandshakeTimeout: time.Second, CheckOrigin: func(*http.Request) bool { return true }}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return // the upgrader answered the bad handshake
		}
		defer c.Close()
		reason := fmt.Sprintf("unavailable; retry in %d ms", retry.Milliseconds())
		_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(CloseRetry, reason), time.Now().Add(time.Second))
		return
	}
	w.Header().Set("Retry-After", strconv.FormatInt(int64(math.Ceil(retry.Seconds())), 10))
	writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": map[string]string{"code": "unavailable", "message": msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
