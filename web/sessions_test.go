package web

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"tellonce/sql/sqltest"
)

type loginAnswer struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	User      userView  `json:"user"`
}

func TestLogin(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newHarness(t, b)

		t.Run("success", func(t *testing.T) {
			h := h.on(t)
			r := h.login(asSup, testPassword)
			if !r.wantStatus(t, http.StatusCreated) {
				return
			}
			var got loginAnswer
			r.decode(t, &got)
			if got.Token == "" {
				t.Errorf("%s: no token in %s", r, r.body)
			}
			want := userView{Username: asSup, Name: "User " + asSup, Role: "supervisor", Agency: "gov110", Export: true}
			if got.User != want {
				t.Errorf("%s: user = %+v; want %+v", r, got.User, want)
			}
			if wantExp := h.clock.Now().Add(h.cfg.SessionTTL); !got.ExpiresAt.Equal(wantExp) {
				t.Errorf("%s: expires_at = %v; want %v", r, got.ExpiresAt, wantExp)
			}
			var c *http.Cookie
			for _, k := range r.cookies {
				if k.Name == sessionCookie {
					c = k
				}
			}
			switch {
			case c == nil:
				t.Errorf("%s: no %s cookie; Set-Cookie: %q", r, sessionCookie, r.header.Values("Set-Cookie"))
			case c.Value != got.Token:
				t.Errorf("%s: cookie holds %q; want the token %q", r, c.Value, got.Token)
			case !c.HttpOnly:
				t.Errorf("%s: cookie is not HttpOnly", r)
			case c.SameSite != http.SameSiteStrictMode && c.SameSite != http.SameSiteLaxMode:
				t.Errorf("%s: cookie SameSite = %v; want Strict or Lax", r, c.SameSite)
			case c.Path != "/":
				t.Errorf("%s: cookie Path = %q; want /", r, c.Path)
			}
			// The token works, and says who it belongs to.
			cur := h.do(http.MethodGet, "/v1/sessions/current", asAnon, nil, withToken(got.Token))
			var me struct {
				User userView `json:"user"`
			}
			if cur.wantStatus(t, http.StatusOK) && cur.decode(t, &me) && me.User != want {
				t.Errorf("%s: user = %+v; want %+v", cur, me.User, want)
			}
		})

		t.Run("refused", func(t *testing.T) {
			h := h.on(t)
			wrong := h.login(asSup, "not-the-password")
			wrong.wantError(t, http.StatusUnauthorized, codeUnauthorized, "")
			unknown := h.login("nobody-here", testPassword)
			unknown.wantError(t, http.StatusUnauthorized, codeUnauthorized, "")
			we, _ := strictError(t, wrong)
			ue, _ := strictError(t, unknown)
			if we.Message != ue.Message {
				t.Errorf("wrong password says %q but unknown user says %q; want the same, so names do not leak", we.Message, ue.Message)
			}
			for _, r := range []*response{wrong, unknown} {
				if len(r.cookies) > 0 {
					t.Errorf("%s: refused login sets cookies %v", r, r.cookies)
				}
			}
		})

		t.Run("validation", func(t *testing.T) {
			h := h.on(t)
			for _, c := range []struct {
				name  string
				body  any
				field string
			}{
				{"no username", map[string]string{"password": testPassword}, "username"},
				{"no password", map[string]string{"username": asAdmin}, "password"},
				{"unknown field", map[string]string{"username": asAdmin, "password": testPassword, "otp": "1"}, "otp"},
				{"wrong type", map[string]any{"username": 7, "password": testPassword}, "username"},
				{"long username", map[string]string{"username": strings.Repeat("a", 65), "password": testPassword}, "username"},
				{"long password", map[string]string{"username": asAdmin, "password": strings.Repeat("p", 257)}, "password"},
				{"malformed", rawBody(`{"username":`), ""},
				{"empty", rawBody(``), ""},
			} {
				h.do(http.MethodPost, "/v1/sessions", asAnon, c.body).wantError(t, http.StatusBadRequest, codeValidation, c.field)
			}
			big := rawBody(`{"username":"admin","password":"` + strings.Repeat("x", int(h.cfg.MaxBodyBytes)) + `"}`)
			h.do(http.MethodPost, "/v1/sessions", asAnon, big).wantError(t, http.StatusRequestEntityTooLarge, codeTooLarge, "")
		})
	})
}

func TestSessionTokens(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newHarness(t, b)
		origin := h.ts.URL

		t.Run("bearer and cookie authenticate", func(t *testing.T) {
			h := h.on(t)
			tok := h.loginToken(asAgent, testPassword)
			h.do(http.MethodGet, "/v1/sessions/current", asAnon, nil, withToken(tok)).wantStatus(t, http.StatusOK)
			h.do(http.MethodGet, "/v1/sessions/current", asAnon, nil, withCookie(tok)).wantStatus(t, http.StatusOK)
			h.do(http.MethodGet, "/v1/queues/gov110.general", asAnon, nil, withCookie(tok)).wantStatus(t, http.StatusOK)
		})

		t.Run("garbage tokens", func(t *testing.T) {
			h := h.on(t)
			valid := h.loginToken(asAgent, testPassword)
			id, _, _ := strings.Cut(valid, ".")
			for _, auth := range []string{
				"Bearer ", "Bearer x", "Bearer .", "Bearer abc.", "Bearer .abc", "Bearer " + id + ".wrong-secret",
				"Bearer " + id, "Bearer " + valid + "x", "Bearer " + strings.Repeat("a.", 150),
				"Bearer 토큰.비밀", "Basic " + valid, "bearer " + valid, valid,
			} {
				r := h.do(http.MethodGet, "/v1/sessions/current", asAnon, nil, withHeader("Authorization", auth))
				r.wantError(t, http.StatusUnauthorized, codeUnauthorized, "")
			}
			for _, c := range []string{"x", id + ".nope", "." + valid} {
				h.do(http.MethodGet, "/v1/sessions/current", asAnon, nil, withCookie(c)).wantError(t, http.StatusUnauthorized, codeUnauthorized, "")
			}
			// A bad Authorization header is not rescued by a good cookie.
			h.do(http.MethodGet, "/v1/sessions/current", asAnon, nil, withHeader("Authorization", "Bearer nope.nope"), withCookie(valid)).
				wantError(t, http.StatusUnauthorized, codeUnauthorized, "")
		})

		t.Run("logout", func(t *testing.T) {
			h := h.on(t)
			tok := h.loginToken(asAgent, testPassword)
			other := h.loginToken(asAgent, testPassword)
			r := h.do(http.MethodDelete, "/v1/sessions/current", asAnon, nil, withToken(tok))
			r.wantStatus(t, http.StatusNoContent)
			cleared := false
			for _, c := range r.cookies {
				cleared = cleared || (c.Name == sessionCookie && c.Value == "" && c.MaxAge < 0)
			}
			if !cleared {
				t.Errorf("%s: does not clear the %s cookie; Set-Cookie: %q", r, sessionCookie, r.header.Values("Set-Cookie"))
			}
			h.do(http.MethodGet, "/v1/sessions/current", asAnon, nil, withToken(tok)).wantError(t, http.StatusUnauthorized, codeUnauthorized, "")
			h.do(http.MethodDelete, "/v1/sessions/current", asAnon, nil, withToken(tok)).wantError(t, http.StatusUnauthorized, codeUnauthorized, "")
			// Logging out ends that login only.
			h.do(http.MethodGet, "/v1/sessions/current", asAnon, nil, withToken(other)).wantStatus(t, http.StatusOK)
			// Logging out with the cookie is a write: it needs the Origin.
			h.do(http.MethodDelete, "/v1/sessions/current", asAnon, nil, withCookie(other)).wantError(t, http.StatusForbidden, codeForbidden, "")
			h.do(http.MethodDelete, "/v1/sessions/current", asAnon, nil, withCookie(other), withOrigin(origin)).wantStatus(t, http.StatusNoContent)
			h.do(http.MethodGet, "/v1/sessions/current", asAnon, nil, withToken(other)).wantError(t, http.StatusUnauthorized, codeUnauthorized, "")
		})

		t.Run("expiry", func(t *testing.T) {
			h := h.on(t)
			tok := h.loginToken(asAgent, testPassword)
			h.clock.Advance(h.cfg.SessionTTL - time.Second)
			h.do(http.MethodGet, "/v1/sessions/current", asAnon, nil, withToken(tok)).wantStatus(t, http.StatusOK)
			h.clock.Advance(time.Second)
			h.do(http.MethodGet, "/v1/sessions/current", asAnon, nil, withToken(tok)).wantError(t, http.StatusUnauthorized, codeUnauthorized, "")
			h.do(http.MethodGet, "/v1/agencies", asAnon, nil, withCookie(tok)).wantError(t, http.StatusUnauthorized, codeUnauthorized, "")
			h.relogin() // the seeded sessions ended too
		})

		t.Run("deleted user", func(t *testing.T) {
			h := h.on(t)
			name := h.freshAgent("gov110")
			tok := h.loginToken(name, testPassword)
			h.do(http.MethodDelete, "/v1/users/"+name, asAdmin, nil).wantStatus(t, http.StatusNoContent)
			h.do(http.MethodGet, "/v1/sessions/current", asAnon, nil, withToken(tok)).wantError(t, http.StatusUnauthorized, codeUnauthorized, "")
		})
	})
}

func TestCrossSiteWrites(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newHarness(t, b, func(c *Config) { c.AllowedOrigins = []string{"https://console.example.org/"} })
		tok := h.tokens[asAdmin]
		own := h.ts.URL
		post := func(opts ...reqOpt) *response {
			id := h.fresh("xs")
			return h.do(http.MethodPost, "/v1/agencies", asAnon, map[string]string{"id": id, "name": "Cross " + id}, opts...)
		}
		for _, c := range []struct {
			name string
			opts []reqOpt
			want int
		}{
			{"cookie, foreign Origin", []reqOpt{withCookie(tok), withOrigin("https://evil.example")}, http.StatusForbidden},
			{"cookie, Origin null", []reqOpt{withCookie(tok), withOrigin("null")}, http.StatusForbidden},
			{"cookie, foreign Referer", []reqOpt{withCookie(tok), withHeader("Referer", "https://evil.example/page")}, http.StatusForbidden},
			{"cookie, neither Origin nor Referer", []reqOpt{withCookie(tok)}, http.StatusForbidden},
			{"cookie, own Origin", []reqOpt{withCookie(tok), withOrigin(own)}, http.StatusCreated},
			{"cookie, own Referer", []reqOpt{withCookie(tok), withHeader("Referer", own+"/admin")}, http.StatusCreated},
			{"cookie, configured Origin", []reqOpt{withCookie(tok), withOrigin("https://console.example.org")}, http.StatusCreated},
			{"bearer, no Origin", []reqOpt{withToken(tok)}, http.StatusCreated},
			{"bearer, foreign Origin", []reqOpt{withToken(tok), withOrigin("https://evil.example")}, http.StatusCreated},
		} {
			before := h.snapshot()
			r := post(c.opts...)
			if c.want == http.StatusForbidden {
				r.wantError(t, http.StatusForbidden, codeForbidden, "")
				h.unchanged(t, before, c.name)
			} else if !r.wantStatus(t, c.want) {
				t.Errorf("  case: %s", c.name)
			}
		}
		// Reads with the cookie need no Origin: a cross-site page cannot
		// read the answer anyway.
		h.do(http.MethodGet, "/v1/agencies", asAnon, nil, withCookie(tok), withOrigin("https://evil.example")).wantStatus(t, http.StatusOK)
		// The cookie check covers every write method.
		name := h.freshAgent("gov110")
		h.do(http.MethodPatch, "/v1/users/"+name, asAnon, map[string]string{"name": "X"}, withCookie(tok), withOrigin("https://evil.example")).
			wantError(t, http.StatusForbidden, codeForbidden, "")
		h.do(http.MethodDelete, "/v1/users/"+name, asAnon, nil, withCookie(tok), withOrigin("https://evil.example")).
			wantError(t, http.StatusForbidden, codeForbidden, "")
		if u, ok := h.getUser(name); !ok || u.Name != "User "+name {
			t.Errorf("refused cross-site writes changed user %s: %+v (exists %v)", name, u, ok)
		}
	})
}

func TestLoginRateLimit(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newHarness(t, b, func(c *Config) {
			c.TrustedProxies = loopbackProxies // the tests choose the client address
			c.LoginBurstAddr = 3
			c.LoginBurstUser = 2
			c.LoginRefill = 10 * time.Second
		})
		from := func(addr string) reqOpt { return withHeader("X-Forwarded-For", addr) }
		limited := func(t *testing.T, r *response, wantRetry string) {
			t.Helper()
			r.wantError(t, http.StatusTooManyRequests, codeRateLimited, "")
			if got := r.header.Get("Retry-After"); got != wantRetry {
				t.Errorf("%s: Retry-After %q; want %q", r, got, wantRetry)
			}
		}

		t.Run("per client address", func(t *testing.T) {
			h := h.on(t)
			// Three guesses at three names spend the address's burst...
			for range 3 {
				h.login(h.fresh("nobody"), "wrong-password", from("192.0.2.1")).wantError(t, http.StatusUnauthorized, codeUnauthorized, "")
			}
			// ...so even the right password is refused, from that address only.
			limited(t, h.login(asAgent, testPassword, from("192.0.2.1")), "10")
			h.login(asAgent, testPassword, from("192.0.2.2")).wantStatus(t, http.StatusCreated)
			h.clock.Advance(10 * time.Second)
			h.login(asAgent, testPassword, from("192.0.2.1")).wantStatus(t, http.StatusCreated)
			limited(t, h.login(asAgent, testPassword, from("192.0.2.1")), "10")
		})

		t.Run("per user name", func(t *testing.T) {
			h := h.on(t)
			name := h.freshAgent("gov110")
			h.login(name, "wrong-password", from("198.51.100.1")).wantError(t, http.StatusUnauthorized, codeUnauthorized, "")
			h.login(name, "wrong-password", from("198.51.100.2")).wantError(t, http.StatusUnauthorized, codeUnauthorized, "")
			// Spreading the guesses over addresses does not help.
			limited(t, h.login(name, testPassword, from("198.51.100.3")), "10")
			h.login(asOtherSup, testPassword, from("198.51.100.3")).wantStatus(t, http.StatusCreated)
			h.clock.Advance(5 * time.Second)
			limited(t, h.login(name, testPassword, from("198.51.100.4")), "5")
			h.clock.Advance(5 * time.Second)
			h.login(name, testPassword, from("198.51.100.4")).wantStatus(t, http.StatusCreated)
		})

	})
}

func TestPasswordChangeEndsSessions(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newHarness(t, b)
		const newPassword = "a-brand-new-password"

		t.Run("own change", func(t *testing.T) {
			h := h.on(t)
			name := h.freshAgent("gov110")
			h.tokens[name] = h.loginToken(name, testPassword)
			second := h.loginToken(name, testPassword)
			h.do(http.MethodPatch, "/v1/users/"+name, name, map[string]string{"password": newPassword}).wantStatus(t, http.StatusOK)
			h.do(http.MethodGet, "/v1/sessions/current", name, nil).wantError(t, http.StatusUnauthorized, codeUnauthorized, "")
			h.do(http.MethodGet, "/v1/sessions/current", asAnon, nil, withToken(second)).wantError(t, http.StatusUnauthorized, codeUnauthorized, "")
			h.login(name, testPassword).wantError(t, http.StatusUnauthorized, codeUnauthorized, "")
			h.login(name, newPassword).wantStatus(t, http.StatusCreated)
		})

		t.Run("changed by a supervisor", func(t *testing.T) {
			h := h.on(t)
			name := h.freshAgent("gov110")
			tok := h.loginToken(name, testPassword)
			h.do(http.MethodPatch, "/v1/users/"+name, asSup, map[string]string{"password": newPassword}).wantStatus(t, http.StatusOK)
			h.do(http.MethodGet, "/v1/sessions/current", asAnon, nil, withToken(tok)).wantError(t, http.StatusUnauthorized, codeUnauthorized, "")
			// The supervisor's own session is untouched.
			h.do(http.MethodGet, "/v1/sessions/current", asSup, nil).wantStatus(t, http.StatusOK)
		})

		t.Run("other changes keep sessions", func(t *testing.T) {
			h := h.on(t)
			name := h.freshAgent("gov110")
			tok := h.loginToken(name, testPassword)
			h.do(http.MethodPatch, "/v1/users/"+name, asSup, map[string]any{"name": "Renamed", "max_chats": 2}).wantStatus(t, http.StatusOK)
			h.do(http.MethodGet, "/v1/sessions/current", asAnon, nil, withToken(tok)).wantStatus(t, http.StatusOK)
		})

		t.Run("too short", func(t *testing.T) {
			h := h.on(t)
			name := h.freshAgent("gov110")
			tok := h.loginToken(name, testPassword)
			h.do(http.MethodPatch, "/v1/users/"+name, asAnon, map[string]string{"password": "short"}, withToken(tok)).
				wantError(t, http.StatusBadRequest, codeValidation, "password")
			h.do(http.MethodGet, "/v1/sessions/current", asAnon, nil, withToken(tok)).wantStatus(t, http.StatusOK)
			h.login(name, testPassword).wantStatus(t, http.StatusCreated)
		})
	})
}
