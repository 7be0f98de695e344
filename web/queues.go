package web

import (
	"errors"
	"net/http"

	"tellonce/auth"
	"tellonce/cases"
	"tellonce/directory"
)

func (s *Server) createQueue(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	agency := r.PathValue("agency")
	if !canManage(p, agency) {
		s.writeError(w, r, errForbidden)
		return
	}
	var req directory.QueueCreate
	if err := s.readBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	q, err := s.dir.CreateQueue(r.Context(), agency, req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.routeQueue(r, q)
	writeJSON(w, http.StatusCreated, q)
}

func (s *Server) listQueues(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	agency := r.URL.Query().Get("agency")
	if !isAdmin(p) {
		if agency == "" {
			agency = p.Agency
		}
		if !canReadQueuesOf(p, agency) {
			s.writeError(w, r, errForbidden)
			return
		}
	}
	pg, err := parsePage(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	qs, more, err := s.dir.ListQueues(r.Context(), directory.QueueFilter{Agency: agency}, pg)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	list(w, qs, more, func(q directory.Queue) string { return q.ID })
}

// queueFor loads a queue and checks that p may act on it; manage asks for
// the right to change it rather than read it.
func (s *Server) queueFor(r *http.Request, p auth.Principal, manage bool) (directory.Queue, error) {
	id := r.PathValue("queue")
	agency := directory.AgencyOfQueue(id)
	allowed := canReadQueuesOf(p, agency)
	if manage {
		allowed = canManage(p, agency)
	}
	// Refuse before looking, so that a foreign agency's queue names do not
	// leak through 404-versus-403.
	if !allowed {
		return directory.Queue{}, errForbidden
	}
	return s.dir.GetQueue(r.Context(), id)
}

func (s *Server) getQueue(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	q, err := s.queueFor(r, p, false)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, q)
}

func (s *Server) patchQueue(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if _, err := s.queueFor(r, p, true); err != nil {
		s.writeError(w, r, err)
		return
	}
	var req directory.QueueSettings
	if err := s.readBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	q, err := s.dir.UpdateQueue(r.Context(), r.PathValue("queue"), req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.routeQueue(r, q)
	writeJSON(w, http.StatusOK, q)
}

func (s *Server) deleteQueue(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if _, err := s.queueFor(r, p, true); err != nil {
		s.writeError(w, r, err)
		return
	}
	id := r.PathValue("queue")
	removed := false
	err := s.dir.DeleteQueue(r.Context(), id, func(string) error {
		// Inside the directory's transaction: the router refuses while
		// contacts are live in the queue, and then nothing is deleted.
		var err error
		removed, err = s.board.UnrouteQueue(id)
		if errors.Is(err, cases.ErrConflict) {
			return errorf(http.StatusConflict, codeConflict, "", "contacts are waiting in queue "+id+": wait until it is empty")
		}
		return err
	})
	if err != nil {
		if removed {
			// The directory kept the queue: give it back to the router.
			if q, gerr := s.dir.GetQueue(r.Context(), id); gerr == nil {
				s.routeQueue(r, q)
			}
		}
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// routeQueue passes a committed queue change to the router. The directory
// is the truth: a failure here is logged, and the router catches up at the
// next start.
func (s *Server) routeQueue(r *http.Request, q directory.Queue) {
	if err := s.board.SyncQueue(r.Context(), q); err != nil {
		s.log.ErrorContext(r.Context(), "router out of step with the directory", "queue", q.ID, "err", err)
	}
}
