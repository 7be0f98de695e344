package web

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"tellonce/sql/sqltest"
)

func TestHealthAndReadiness(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		h := newHarness(t, b)
		h.do(http.MethodGet, "/healthz", asAnon, nil).wantStatus(t, http.StatusOK)
		h.do(http.MethodGet, "/readyz", asAnon, nil).wantStatus(t, http.StatusOK)

		// A server that is shutting down is not ready.
		h.server.draining.Store(true)
		h.do(http.MethodGet, "/readyz", asAnon, nil).wantError(t, http.StatusServiceUnavailable, codeUnavailable, "")
		h.server.draining.Store(false)
		h.do(http.MethodGet, "/readyz", asAnon, nil).wantStatus(t, http.StatusOK)

		// Nor is one whose schema is behind the binary's migrations.
		if _, err := b.DB.Exec(`DELETE FROM schema_migrations WHERE version = (SELECT MAX(version) FROM schema_migrations)`); err != nil {
			t.Fatal(err)
		}
		h.do(http.MethodGet, "/readyz", asAnon, nil).wantError(t, http.StatusServiceUnavailable, codeUnavailable, "")
		// It is alive all the same.
		h.do(http.MethodGet, "/healthz", asAnon, nil).wantStatus(t, http.StatusOK)
	})
}

func TestMetrics(t *testing.T) {
	h := newHarness(t, sqltest.Open(t, "sqlite"))
	h.do(http.MethodGet, "/v1/agencies/gov110", asAdmin, nil).wantStatus(t, http.StatusOK)
	h.do(http.MethodGet, "/v1/agencies/nts126", asAgent, nil).wantStatus(t, http.StatusOK)
	h.do(http.MethodGet, "/v1/agencies/nowhere", asAdmin, nil).wantStatus(t, http.StatusNotFound)
	h.do(http.MethodGet, "/v1/agencies", asAnon, nil).wantStatus(t, http.StatusUnauthorized)
	r := h.do(http.MethodGet, "/metrics", asAnon, nil)
	if !r.wantStatus(t, http.StatusOK) {
		return
	}
	body := string(r.body)
	for _, want := range []string{
		// Labelled by route pattern, not by path: bounded cardinality.
		`tellonce_http_requests_total{code="200",method="GET",route="/v1/agencies/{id}"} 2`,
		`tellonce_http_requests_total{code="404",method="GET",route="/v1/agencies/{id}"} 1`,
		`tellonce_http_requests_total{code="401",method="GET",route="/v1/agencies"} 1`,
		`tellonce_http_requests_total{code="201",method="POST",route="/v1/sessions"} 6`,
		`tellonce_http_request_duration_seconds_count{method="GET",route="/v1/agencies/{id}"} 3`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// (Queue gauges are labelled by queue and agency on purpose.)
	if reqs := grepLines(body, "tellonce_http_"); strings.Contains(reqs, "nowhere") || strings.Contains(reqs, "gov110") {
		t.Errorf("/metrics labels hold request paths:\n%s", grepLines(body, "tellonce_http_requests_total"))
	}
}

// A created contact's POST is split into its stages, each timed once.
func TestMetricsTimeAContactsStages(t *testing.T) {
	h := newHarness(t, sqltest.Open(t, "sqlite"))
	h.chat(t, "gov110.general", "caller-1")
	h.chat(t, "gov110.general", "caller-2")
	r := h.do(http.MethodGet, "/metrics", asAnon, nil)
	if !r.wantStatus(t, http.StatusOK) {
		return
	}
	for _, stage := range []string{stageAdmit, stageHistory, stageEnqueue, stageAnswer} {
		want := `tellonce_contact_create_stage_seconds_count{stage="` + stage + `"} 2`
		if !strings.Contains(string(r.body), want) {
			t.Errorf("/metrics lacks %s:\n%s", want, grepLines(string(r.body), "tellonce_contact_create_stage_seconds_count"))
		}
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestRoutingErrorsAndHeaders(t *testing.T) {
	h := newHarness(t, sqltest.Open(t, "sqlite"))

	for _, c := range []struct {
		method, path string
		as           string
	}{
		{"GET", "/v1/nothing-here", asAnon},
		{"GET", "/v1/nothing-here", asAdmin},
		{"GET", "/v1/agencies/gov110/users", asAdmin},
		{"GET", "/v1/queues/gov110.general/extra", asAdmin},
		{"DELETE", "/v1/", asAdmin},
	} {
		h.do(c.method, c.path, c.as, nil).wantError(t, http.StatusNotFound, codeNotFound, "")
	}
	for _, c := range []struct{ method, path, allow string }{
		{"PUT", "/v1/agencies", "GET, HEAD, POST"},
		{"POST", "/v1/queues/gov110.general", "DELETE, GET, HEAD, PATCH"},
		{"GET", "/v1/agencies/gov110/queues", "POST"},
		{"PATCH", "/v1/sessions/current", "DELETE, GET, HEAD"},
	} {
		r := h.do(c.method, c.path, asAdmin, nil)
		r.wantError(t, http.StatusMethodNotAllowed, "method_not_allowed", "")
		if got := r.header.Get("Allow"); got != c.allow {
			t.Errorf("%s: Allow %q; want %q", r, got, c.allow)
		}
	}

	// Every answer carries the security headers; API answers are not cached.
	for _, c := range []struct {
		path, as string
		api      bool
	}{
		{"/", asAnon, false},
		{"/static/app.js", asAnon, false},
		{"/healthz", asAnon, false},
		{"/v1/agencies", asAdmin, true},
		{"/v1/agencies", asAnon, true},
		{"/v1/nothing-here", asAnon, true},
	} {
		r := h.do(http.MethodGet, c.path, c.as, nil)
		for k, want := range map[string]string{
			"X-Content-Type-Options": "nosniff",
			"X-Frame-Options":        "DENY",
			"Referrer-Policy":        "no-referrer",
		} {
			if got := r.header.Get(k); got != want {
				t.Errorf("%s: %s %q; want %q", r, k, got, want)
			}
		}
		csp := r.header.Get("Content-Security-Policy")
		for _, d := range []string{"default-src 'self'", "object-src 'none'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, d) {
				t.Errorf("%s: Content-Security-Policy %q lacks %q", r, csp, d)
			}
		}
		if got := r.header.Get("Cache-Control"); c.api && got != "no-store" {
			t.Errorf("%s: Cache-Control %q; want no-store", r, got)
		}
	}

	// The login page.
	r := h.do(http.MethodGet, "/", asAnon, nil)
	if r.wantStatus(t, http.StatusOK) {
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("%s: Content-Type %q; want text/html", r, ct)
		}
		page := string(r.body)
		if !regexp.MustCompile(`(?i)<!doctype html>`).MatchString(page) || !strings.Contains(page, `id="login-form"`) ||
			!strings.Contains(page, `type="password"`) {
			t.Errorf("%s: not the login page:\n%s", r, truncate(r.body))
		}
	}
	// Pages outside /v1/ are not the API's business: a plain 404.
	if r := h.do(http.MethodGet, "/no-such-page", asAnon, nil); r.status != http.StatusNotFound {
		t.Errorf("%s = %d; want 404", r, r.status)
	}
}
