package web

import (
	"crypto/subtle"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// MetricsHandler serves reg in Prometheus' exposition format. With a
// token, a scrape must send it as a bearer token: the figures are every
// agency's, so they are not for anyone who can reach the port.
func MetricsHandler(reg prometheus.Gatherer, token string) http.Handler {
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	if token == "" {
		return h
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			writeJSON(w, http.StatusUnauthorized, map[string]any{"error": apiError{Code: codeUnauthorized,
				Message: "send the metrics token: Authorization: Bearer <--metrics-token>"}})
			return
		}
		h.ServeHTTP(w, r)
	})
}
