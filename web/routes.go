package web

import (
	"log/slog"
	"net/http"
)

func slogLevelFor(code int) slog.Level {
	if code >= 500 {
		return slog.LevelWarn
	}
	return slog.LevelInfo
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	h := func(pattern string, f http.HandlerFunc) { s.handle(mux, pattern, f) }

	h("POST /v1/sessions", s.login)
	h("GET /v1/sessions/current", s.authed(s.currentSession))
	h("DELETE /v1/sessions/current", s.authed(s.logout))

	h("POST /v1/agencies", s.authed(s.createAgency))
	h("GET /v1/agencies", s.authed(s.listAgencies))
	h("GET /v1/agencies/{id}", s.authed(s.getAgency))
	h("PATCH /v1/agencies/{id}", s.authed(s.patchAgency))
	h("DELETE /v1/agencies/{id}", s.authed(s.deleteAgency))

	h("POST /v1/agencies/{agency}/queues", s.authed(s.createQueue))
	h("GET /v1/queues", s.authed(s.listQueues))
	h("GET /v1/queues/{queue}", s.authed(s.getQueue))
	h("PATCH /v1/queues/{queue}", s.authed(s.patchQueue))
	h("DELETE /v1/queues/{queue}", s.authed(s.deleteQueue))

	h("POST /v1/users", s.authed(s.createUser))
	h("GET /v1/users", s.authed(s.listUsers))
	h("GET /v1/users/{username}", s.authed(s.getUser))
	h("PATCH /v1/users/{username}", s.authed(s.patchUser))
	h("DELETE /v1/users/{username}", s.authed(s.deleteUser))

	h("POST /v1/contacts", s.createContact)
	h("GET /v1/contacts/{id}", s.getContact)
	h("DELETE /v1/contacts/{id}", s.deleteContact)
	h("GET /v1/cases/{id}", s.authed(s.getCase))

	h("GET /v1/agent/ws", s.authed(s.agentWS))
	h("GET /v1/contacts/{id}/ws", s.citizenWS)
	h("GET /v1/gateway/ws", s.authed(s.gatewayWS))
	s.callbackRoutes(h)
	s.supervisionRoutes(h)
	s.recordingRoutes(h)
	s.statsRoutes(h)
	s.reportRoutes(h)

	h("GET /v1/openapi.json", s.openAPI)
	h("GET /healthz", s.healthz)
	h("GET /readyz", s.readyz)
	if !s.cfg.MetricsElsewhere {
		mux.Handle("GET /metrics", MetricsHandler(s.registry, s.cfg.MetricsToken))
	}

	s.pages(mux)
	return securityHeaders(jsonNotFound(mux))
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz is ready when the database answers, its schema is current and the
// server is not shutting down: a load balancer stops sending work then.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		s.writeError(w, r, errorf(http.StatusServiceUnavailable, codeUnavailable, "", "shutting down"))
		return
	}
	if err := s.db.Ready(r.Context()); err != nil {
		// The reason goes to the log, not to anonymous callers.
		s.log.WarnContext(r.Context(), "not ready", "err", err)
		s.writeError(w, r, errorf(http.StatusServiceUnavailable, codeUnavailable, "", "the database is not ready"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
