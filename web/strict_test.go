package web

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"tellonce/sql/sqltest"
)

// TestEveryBodyIsReadStrictly posts a body with a duplicate key, one with
// a key in the wrong case and one with invalid UTF-8 to every route of the
// table that takes a JSON body, and expects 400 validation naming the
// field — encoding/json alone would accept all three. A new write route
// fails here until it is listed: with a body (and so read through
// readBody) or in noBody.
func TestEveryBodyIsReadStrictly(t *testing.T) {
	h := newHarness(t, sqltest.Open(t, "sqlite"))
	contact := h.chat(t, "gov110.general", "strict-1")
	values := map[string]string{
		"{agency}": "gov110", "{queue}": "gov110.general", "{username}": asAgent,
	}
	ids := map[string]string{ // {id} by the collection it is in
		"/v1/agencies/": "gov110", "/v1/contacts/": contact.ContactID,
	}
	// Routes whose body is not JSON.
	noBody := map[string]bool{"PUT /v1/contacts/{id}/recordings/{name}": true}
	bodies := []struct{ name, body, field string }{
		{"duplicate key", `{"name":"a","name":"b"}`, "name"},
		{"wrong case", `{"NAME":"a"}`, "NAME"},
		{"invalid UTF-8", "{\"name\":\"\xff\"}", "name"},
	}
	seen := 0
	for _, pattern := range h.server.Routes() {
		method, path, _ := strings.Cut(pattern, " ")
		if method != http.MethodPost && method != http.MethodPatch && method != http.MethodPut || noBody[pattern] {
			continue
		}
		for k, v := range values {
			path = strings.ReplaceAll(path, k, v)
		}
		for prefix, id := range ids {
			if strings.HasPrefix(path, prefix) {
				path = strings.Replace(path, "{id}", id, 1)
			}
		}
		if strings.Contains(path, "{") {
			t.Fatalf("%s: no value for a path parameter in the test", pattern)
		}
		seen++
		for _, b := range bodies {
			// A wrong-case key is refused only when it folds to a field
			// of the request: these requests have no "name".
			body, field := b.body, b.field
			if strings.HasSuffix(path, "/callback") || path == "/v1/sessions" || path == "/v1/contacts" {
				body, field = strictBodyFor(path, b.name)
			}
			as, opts := asAdmin, []reqOpt(nil)
			if strings.HasPrefix(path, "/v1/contacts") {
				as, opts = asAnon, []reqOpt{withHeader("X-Citizen-Token", contact.CitizenToken)}
			}
			r := h.do(method, path, as, rawBody(body), opts...)
			r.wantError(t, http.StatusBadRequest, codeValidation, field)
		}
	}
	if seen < 9 {
		t.Fatalf("only %d routes with a body in the table; the table is not what the test reads", seen)
	}
}

// strictBodyFor is the three bad bodies for the routes whose requests
// have no "name" field.
func strictBodyFor(path, kind string) (body, field string) {
	key := "number"
	switch path {
	case "/v1/sessions":
		key = "username"
	case "/v1/contacts":
		key = "queue"
	}
	switch kind {
	case "duplicate key":
		return `{"` + key + `":"a","` + key + `":"b"}`, key
	case "wrong case":
		return `{"` + strings.ToUpper(key) + `":"a"}`, strings.ToUpper(key)
	}
	return "{\"" + key + "\":\"\xff\"}", key
}

// TestWebSocketOriginRefusalIsJSON: a browser page of another origin
// opening a socket is refused 403 in the contract's error shape, as every
// other refusal is, and so is a handshake that is not one.
func TestWebSocketOriginRefusalIsJSON(t *testing.T) {
	h := newHarness(t, sqltest.Open(t, "sqlite"))
	contact := h.chat(t, "gov110.general", "origin-1")
	upgrade := []reqOpt{
		withHeader("Connection", "Upgrade"), withHeader("Upgrade", "websocket"),
		withHeader("Sec-WebSocket-Version", "13"), withHeader("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
	}
	for _, c := range []struct {
		path, as string
		opts     []reqOpt
	}{
		{"/v1/agent/ws", asAgent, nil},
		{"/v1/gateway/ws", asGateway, nil},
		{"/v1/contacts/" + contact.ContactID + "/ws", asAnon, []reqOpt{withHeader("X-Citizen-Token", contact.CitizenToken)}},
	} {
		opts := append(append(slices.Clone(upgrade), c.opts...), withOrigin("https://evil.example"))
		h.do(http.MethodGet, c.path, c.as, nil, opts...).wantError(t, http.StatusForbidden, codeForbidden, "")
		// Not a handshake at all: 400 validation, not plain text.
		h.do(http.MethodGet, c.path, c.as, nil, c.opts...).wantError(t, http.StatusBadRequest, codeValidation, "")
	}
}

// loopbackProxies trusts the test client's own address as a proxy, so
// that tests choose the client address with X-Forwarded-For.
var loopbackProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// TestClientAddrWalksForwardedForFromTheRight: only trusted proxies'
// entries are believed, from the right, and a client cannot choose its
// address by writing the header itself.
func TestClientAddrWalksForwardedForFromTheRight(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8:ffff::/48")}
	s := &Server{cfg: Config{TrustedProxies: proxies}}
	for _, c := range []struct {
		name, remote string
		xff          []string
		want         string
	}{
		{"no proxy", "192.0.2.1:5000", nil, "192.0.2.1"},
		{"an untrusted peer's header is ignored", "192.0.2.1:5000", []string{"198.51.100.9"}, "192.0.2.1"},
		{"one trusted hop", "10.0.0.1:5000", []string{"198.51.100.9"}, "198.51.100.9"},
		{"a forged entry left of the client is ignored", "10.0.0.1:5000", []string{"203.0.113.66, 198.51.100.9"}, "198.51.100.9"},
		{"trusted hops are skipped", "10.0.0.1:5000", []string{"198.51.100.9, 10.1.2.3, 10.9.9.9"}, "198.51.100.9"},
		{"across several headers", "10.0.0.1:5000", []string{"203.0.113.66, 198.51.100.9", "10.1.2.3"}, "198.51.100.9"},
		{"all trusted: the leftmost", "10.0.0.1:5000", []string{"10.1.1.1, 10.2.2.2"}, "10.1.1.1"},
		{"garbage stops at the hop that passed it", "10.0.0.1:5000", []string{"198.51.100.9, junk, 10.2.2.2"}, "10.2.2.2"},
		{"IPv6 proxy", "[2001:db8:ffff::1]:443", []string{"2001:db8:1::5"}, "2001:db8:1::5"},
		{"mapped IPv4", "[::ffff:10.0.0.1]:443", []string{"::ffff:198.51.100.9"}, "198.51.100.9"},
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = c.remote
		for _, v := range c.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := s.clientAddr(r); got != c.want {
			t.Errorf("%s: clientAddr = %q; want %q", c.name, got, c.want)
		}
	}
}

// TestLoginLimitIsPerIPv6Network: addresses of one /64 share a bucket.
func TestLoginLimitIsPerIPv6Network(t *testing.T) {
	h := newHarness(t, sqltest.Open(t, "sqlite"), func(c *Config) {
		c.TrustedProxies = loopbackProxies
		c.LoginBurstAddr = 2
		c.LoginRefill = time.Hour
	})
	from := func(addr string) reqOpt { return withHeader("X-Forwarded-For", addr) }
	h.login(h.fresh("nobody"), "wrong-password", from("2001:db8:5:6::1")).wantError(t, http.StatusUnauthorized, codeUnauthorized, "")
	h.login(h.fresh("nobody"), "wrong-password", from("2001:db8:5:6::2")).wantError(t, http.StatusUnauthorized, codeUnauthorized, "")
	h.login(asAgent, testPassword, from("2001:db8:5:6:abcd::3")).wantError(t, http.StatusTooManyRequests, codeRateLimited, "")
	h.login(asAgent, testPassword, from("2001:db8:5:7::1")).wantStatus(t, http.StatusCreated)
}
