package web

import (
	"net/http"

	"tellonce/auth"
	"tellonce/directory"
)

func (s *Server) createAgency(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if !isAdmin(p) {
		s.writeError(w, r, errForbidden)
		return
	}
	var req directory.AgencyCreate
	if err := s.readBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	a, err := s.dir.CreateAgency(r.Context(), req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, a)
}

func (s *Server) listAgencies(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if !canReadDirectory(p) {
		s.writeError(w, r, errForbidden)
		return
	}
	pg, err := parsePage(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	as, more, err := s.dir.ListAgencies(r.Context(), pg)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	list(w, as, more, func(a directory.Agency) string { return a.ID })
}

func (s *Server) getAgency(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if !canReadDirectory(p) {
		s.writeError(w, r, errForbidden)
		return
	}
	a, err := s.dir.GetAgency(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (s *Server) patchAgency(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if !isAdmin(p) {
		s.writeError(w, r, errForbidden)
		return
	}
	var req directory.AgencyPatch
	if err := s.readBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	a, err := s.dir.UpdateAgency(r.Context(), r.PathValue("id"), req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.TimeZone != nil || req.Holidays != nil {
		// The directory is the truth, as for a queue: a failure is logged
		// and the router catches up at the next start.
		if err := s.board.SyncAgency(r.Context(), a); err != nil {
			s.log.ErrorContext(r.Context(), "router out of step with the directory", "agency", a.ID, "err", err)
		}
	}
	writeJSON(w, http.StatusOK, a)
}

func (s *Server) deleteAgency(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if !isAdmin(p) {
		s.writeError(w, r, errForbidden)
		return
	}
	if err := s.dir.DeleteAgency(r.Context(), r.PathValue("id")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
