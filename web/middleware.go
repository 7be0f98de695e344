package web

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"tellonce/auth"
	"tellonce/transcripts"
)

type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	// contactStages splits a created contact's POST into its stages.
	contactStages *prometheus.HistogramVec
}

// The stages of POST /v1/contacts, in order (tellonce_contact_create_stage_seconds).
const (
	// stageAdmit: the handler's start to the look-up of earlier cases:
	// origin, rate limit, decoding, the caller's identity, validation.
	stageAdmit = "admit"
	// stageHistory: the caller's earlier cases read from the log.
	stageHistory = "history"
	// stageEnqueue: the router's write and the wait until it is committed.
	stageEnqueue = "enqueue"
	// stageAnswer: the tokens and the 201 written.
	stageAnswer = "answer"
)

func newHTTPMetrics(reg *prometheus.Registry) (*httpMetrics, error) {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tellonce_http_requests_total",
			Help: "HTTP requests answered, by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tellonce_http_request_duration_seconds",
			Help:    "Time to answer HTTP requests, by route pattern and method.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method"}),
		contactStages: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tellonce_contact_create_stage_seconds",
			Help:    "Time each stage of a created contact's POST /v1/contacts took (admit, history, enqueue, answer).",
			Buckets: transcripts.StageBuckets,
		}, []string{"stage"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.contactStages} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// statusWriter remembers the status code a handler answered with, and
// whether it took the connection over.
type statusWriter struct {
	http.ResponseWriter
	status   int
	hijacked bool
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack hands the connection to a WebSocket upgrade: gorilla/websocket
// asserts http.Hijacker on the writer it is given rather than going
// through http.ResponseController, so Unwrap alone is not enough. The
// upgrade answers 101 on the hijacked connection itself.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.hijacked = true
		if w.status == 0 {
			w.status = http.StatusSwitchingProtocols
		}
	}
	return conn, rw, err
}

// flush sends what the handler wrote to the client now rather than when
// the handler returns to the server. A hijacked connection is no longer
// the server's to write to, and an answer with nothing written yet is left
// for the server to complete: flushing it would commit a 200 without a
// length.
func (w *statusWriter) flush() {
	if w.hijacked || w.status == 0 {
		return
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush() // the client may have gone
}

// handle registers h for pattern with metrics, logging and panic recovery,
// labelled by the pattern so that metrics stay bounded in cardinality.
func (s *Server) handle(mux *http.ServeMux, pattern string, h http.HandlerFunc) {
	_, route, _ := strings.Cut(pattern, " ")
	s.patterns = append(s.patterns, pattern)
	mux.Handle(pattern, s.instrument(route, h))
}

// Routes is the API's route table: every pattern under /v1/ and the
// health checks ("METHOD /path/{param}"), in the order registered. The
// pages, their assets and /metrics are not in it.
func (s *Server) Routes() []string {
	return slices.DeleteFunc(slices.Clone(s.patterns), func(p string) bool {
		_, path, _ := strings.Cut(p, " ")
		return !strings.HasPrefix(path, "/v1/") && path != "/healthz" && path != "/readyz"
	})
}

func (s *Server) instrument(route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.ErrorContext(r.Context(), "handler panic", "route", route, "panic", p)
				if sw.status == 0 {
					writeJSON(sw, http.StatusInternalServerError, map[string]any{"error": apiError{Code: codeInternal, Message: "internal error; it has been logged"}})
				}
			}
			// el is the handler's time alone: neither the flush below nor
			// the client's reading counts.
			el := time.Since(start)
			code := sw.status
			if code == 0 {
				code = http.StatusOK
			}
			s.metrics.requests.WithLabelValues(route, r.Method, strconv.Itoa(code)).Inc()
			s.metrics.duration.WithLabelValues(route, r.Method).Observe(el.Seconds())
			// The answer reaches the client before the access log is
			// written, so a slow log does not slow every request. An answer
			// with a Content-Length is then complete on the wire; a chunked
			// one still ends when the handler returns to the server.
			sw.flush()
			level := slogLevelFor(code)
			s.log.Log(r.Context(), level, "http", "method", r.Method, "route", route, "status", code,
				"ms", float64(el.Microseconds())/1000, "client", s.clientAddr(r))
		}()
		h.ServeHTTP(sw, r)
	})
}

// securityHeaders sets headers every answer carries.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
		if r.TLS != nil {
			// Served over TLS: browsers keep to HTTPS for a year.
			hd.Set("Strict-Transport-Security", "max-age=31536000")
		}
		if strings.HasPrefix(r.URL.Path, "/v1/") {
			hd.Set("Cache-Control", "no-store")
		}
		h.ServeHTTP(w, r)
	})
}

// clientAddr is the caller's IP address, for rate limits and the audit:
// the connection's address, or — when that is a trusted proxy — the
// X-Forwarded-For chain walked from the right past every trusted hop. The
// entries left of the first untrusted one were written by whoever that
// is, so they are not believed.
func (s *Server) clientAddr(r *http.Request) string {
	peer := remoteIP(r.RemoteAddr)
	if !s.trusted(peer) {
		return peerString(peer, r.RemoteAddr)
	}
	client := peer
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			hop, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				// A malformed entry: the last hop that passed it on is
				// the client as far as anyone can tell.
				return peerString(client, r.RemoteAddr)
			}
			client = hop.Unmap()
			if !s.trusted(client) {
				return client.String()
			}
		}
	}
	return peerString(client, r.RemoteAddr)
}

// trusted reports whether a is one of the configured proxies.
func (s *Server) trusted(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func remoteIP(remote string) netip.Addr {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

func peerString(a netip.Addr, remote string) string {
	if !a.IsValid() {
		return remote
	}
	return a.String()
}

const sessionCookie = "tellonce_session"

type principalKey struct{}

// bearer returns the session token a request carries and whether it came
// from the cookie (which makes a cross-site write possible).
func bearer(r *http.Request) (token string, fromCookie bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		if t, ok := strings.CutPrefix(h, "Bearer "); ok {
			return strings.TrimSpace(t), false
		}
		return "", false
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		return c.Value, true
	}
	return "", false
}

// authed wraps h so that it runs only for a logged-in principal.
func (s *Server) authed(h func(w http.ResponseWriter, r *http.Request, p auth.Principal)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token, fromCookie := bearer(r)
		if token == "" {
			s.writeError(w, r, errUnauthorized)
			return
		}
		p, err := s.sessions.Lookup(r.Context(), token)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if fromCookie && !safeMethod(r.Method) && !s.sameOrigin(r) {
			s.writeError(w, r, errCrossSite)
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)), p)
	}
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// sameOrigin reports whether a browser request comes from this server's
// own pages or a configured origin. Browsers send Origin on every
// cross-origin request and on same-origin writes.
func (s *Server) sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		ref := r.Header.Get("Referer")
		if ref == "" {
			return false
		}
		u, err := url.Parse(ref)
		if err != nil {
			return false
		}
		origin = u.Scheme + "://" + u.Host
	}
	return s.OriginAllowed(origin, r)
}

// OriginAllowed reports whether origin may act on this server as r reached
// it: the server's own origin — scheme, host and port alike — or one of
// the configured origins.
func (s *Server) OriginAllowed(origin string, r *http.Request) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Scheme, s.scheme(r)) && strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, o := range s.cfg.AllowedOrigins {
		if strings.EqualFold(strings.TrimRight(o, "/"), origin) {
			return true
		}
	}
	return false
}

// scheme is how the client reached this server: https when the connection
// is TLS, or behind a trusted proxy that says so.
func (s *Server) scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	if s.trusted(remoteIP(r.RemoteAddr)) && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		return "https"
	}
	return "http"
}

// checkCitizenWrite applies the cross-site rule to the contact endpoints
// (create, end, callback). They need no session, but a browser sends them
// cookies — the chat device's, a logged-in user's — so another site's
// page could otherwise act with them. A request that says where it comes
// from (Origin) must come from this server or a configured origin, and one
// that carries cookies must say; an API client with neither (a gateway
// with its bearer token, a script) is not a browser and passes.
func (s *Server) checkCitizenWrite(r *http.Request) error {
	if r.Header.Get("Origin") == "" && len(r.Cookies()) == 0 {
		return nil
	}
	if s.sameOrigin(r) {
		return nil
	}
	return errCrossSite
}

var errCrossSite = errorf(http.StatusForbidden, codeForbidden, "", "cross-site request refused: the Origin is not this server's")

// jsonNotFound turns the mux's plain-text 404 and 405 answers under /v1/
// into the contract's JSON error shape.
func jsonNotFound(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/v1/") {
			mux.ServeHTTP(w, r)
			return
		}
		h, pattern := mux.Handler(r)
		if pattern != "" {
			// Serve through the mux, not h: only ServeMux.ServeHTTP sets
			// the request's path values ({id}, {queue}, {username}).
			mux.ServeHTTP(w, r)
			return
		}
		// No pattern: the mux would answer 404 or 405; find out which.
		rec := &probeWriter{header: http.Header{}}
		h.ServeHTTP(rec, r)
		if rec.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", rec.header.Get("Allow"))
			writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"error": apiError{Code: "method_not_allowed", Message: r.Method + " is not allowed here; allowed: " + rec.header.Get("Allow")}})
			return
		}
		writeJSON(w, http.StatusNotFound, map[string]any{"error": apiError{Code: codeNotFound, Message: "no such endpoint: " + r.URL.Path}})
	})
}

// probeWriter catches what the mux's own error handler would answer.
type probeWriter struct {
	header http.Header
	status int
}

func (p *probeWriter) Header() http.Header         { return p.header }
func (p *probeWriter) Write(b []byte) (int, error) { return len(b), nil }
func (p *probeWriter) WriteHeader(code int)        { p.status = code }
