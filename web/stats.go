package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"tellonce/auth"
	"tellonce/directory"
	"tellonce/stats"
)

// statsRoutes serves live statistics and the public status:
//
//   - GET /v1/stats/queues: per queue live figures and today's counters.
//     Admins see every agency (or ?agency=); supervisors and agents their
//     own agency only (agents read-only: their console shows the queue
//     figures anyway); gateways 403.
//   - GET /v1/stats/agents: per agent state and today's counters. Admins
//     see all (or ?agency=), supervisors their agency; agents and
//     gateways 403 (colleagues' states are the supervisor's business).
//   - GET /v1/stats/queues/history: today's samples of the queue figures,
//     one a minute, for the wallboard's charts. Admins and supervisors as
//     for /v1/stats/agents; agents and gateways 403.
//   - GET /v1/stats/stream: the queue figures as server-sent events, with
//     the rules of /v1/stats/queues.
//   - GET /v1/status: public, no login: every public queue's light and
//     estimated wait, computed at most once a second and cacheable for one.
func (s *Server) statsRoutes(h func(string, http.HandlerFunc)) {
	h("GET /v1/stats/queues", s.authed(s.statsQueues))
	h("GET /v1/stats/queues/history", s.authed(s.statsHistory))
	h("GET /v1/stats/agents", s.authed(s.statsAgents))
	h("GET /v1/stats/stream", s.authed(s.statsStream))
	h("GET /v1/status", s.getStatus)
}

var errNoStats = errorf(http.StatusServiceUnavailable, codeUnavailable, "", "statistics are not available on this server")

// statsScope is the agency whose statistics p may read with r ("" = all),
// or the error to answer. agents says whether agents may read them.
func statsScope(r *http.Request, p auth.Principal, agents bool) (string, error) {
	agency := r.URL.Query().Get("agency")
	switch p.Role {
	case directory.RoleAdmin:
		return agency, nil
	case directory.RoleSupervisor:
	case directory.RoleAgent:
		if !agents {
			return "", errForbidden
		}
	default:
		return "", errForbidden
	}
	if p.Agency == "" || agency != "" && agency != p.Agency {
		return "", errForbidden
	}
	return p.Agency, nil
}

// statsFor answers the scope of a statistics request, or writes why there
// is none (no access, or no statistics on this server) and says so.
func (s *Server) statsFor(w http.ResponseWriter, r *http.Request, p auth.Principal, agentsMayRead bool) (string, bool) {
	agency, err := statsScope(r, p, agentsMayRead)
	if err == nil && s.stats == nil {
		err = errNoStats
	}
	if err != nil {
		s.writeError(w, r, err)
		return "", false
	}
	return agency, true
}

func (s *Server) statsQueues(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	agency, ok := s.statsFor(w, r, p, true)
	if !ok {
		return
	}
	items := []stats.QueueStats{}
	for _, q := range s.stats.Queues() {
		if agency == "" || q.Agency == agency {
			items = append(items, q)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "next_cursor": ""})
}

func (s *Server) statsAgents(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	agency, ok := s.statsFor(w, r, p, false)
	if !ok {
		return
	}
	items := []stats.AgentStats{}
	for _, a := range s.stats.Agents() {
		if agency == "" || a.Agency == agency {
			items = append(items, a)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "next_cursor": ""})
}

// queueHistory is one item of GET /v1/stats/queues/history.
type queueHistory struct {
	Queue  string        `json:"queue"`
	Points []stats.Point `json:"points"`
}

// statsHistory answers today's history of the queues p may see (every
// queue of the scope, or ?queue=), from ?since= on. The wallboard charts
// the day from it, then follows the stream.
func (s *Server) statsHistory(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	agency, ok := s.statsFor(w, r, p, false)
	if !ok {
		return
	}
	q := r.URL.Query()
	var (
		since time.Time
		err   error
	)
	if v := q.Get("since"); v != "" {
		if since, err = time.Parse(time.RFC3339, v); err != nil {
			s.writeError(w, r, errorf(http.StatusBadRequest, codeValidation, "since",
				"must be a time in RFC 3339 form, such as 2026-03-02T09:00:00+09:00"))
			return
		}
	}
	var ids []string
	if id := q.Get("queue"); id != "" {
		if err := s.historyQueue(r, p, agency, id); err != nil {
			s.writeError(w, r, err)
			return
		}
		ids = []string{id}
	} else {
		for _, qs := range s.stats.Queues() {
			if agency == "" || qs.Agency == agency {
				ids = append(ids, qs.Queue)
			}
		}
	}
	items := make([]queueHistory, 0, len(ids))
	for _, id := range ids {
		points := s.stats.History(id, since)
		if points == nil {
			points = []stats.Point{}
		}
		items = append(items, queueHistory{Queue: id, Points: points})
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "next_cursor": "",
		"day_start": s.stats.DayStart().UTC()})
}

// historyQueue checks ?queue= of a history request whose scope is agency
// ("" = all): another agency's queue is refused before it is looked up,
// as GET /v1/queues/{queue} does, so that its name does not leak through
// 404-versus-403; a queue the directory does not have is 404.
func (s *Server) historyQueue(r *http.Request, p auth.Principal, agency, id string) error {
	if of := directory.AgencyOfQueue(id); agency != "" && of != agency {
		if !isAdmin(p) {
			return errForbidden
		}
		return errorf(http.StatusBadRequest, codeValidation, "queue", "is not a queue of agency "+agency)
	}
	if _, err := s.dir.GetQueue(r.Context(), id); err != nil {
		if errors.Is(err, directory.ErrNotFound) {
			return errorf(http.StatusNotFound, codeNotFound, "queue", "no such queue")
		}
		return err
	}
	return nil
}

// streamWriteTimeout bounds each write of a stream: a client that takes
// longer to read is cut off.
const streamWriteTimeout = 10 * time.Second

// statsStream sends the queue figures as server-sent events: an event
// "queues" with the JSON {"at", "queues": [...]} at once and then whenever
// they change, at most once a second, and a comment line as a heartbeat
// when nothing changed for 15 seconds. The figures are computed once for
// every watcher and encoded once per agency. A watcher that falls behind
// is dropped (the stream ends; EventSource reconnects and starts with the
// current figures); the stream also ends when the server shuts down.
func (s *Server) statsStream(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	agency, ok := s.statsFor(w, r, p, true)
	if !ok {
		return
	}
	if s.draining.Load() {
		s.writeError(w, r, errorf(http.StatusServiceUnavailable, codeUnavailable, "", "shutting down"))
		return
	}
	rc := http.NewResponseController(w)
	// The server's timeouts are for ordinary requests: a stream stays
	// open, with a deadline on every write instead.
	_ = rc.SetReadDeadline(time.Time{})
	watcher := s.stats.Subscribe(agency)
	defer watcher.Close()
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no") // no proxy buffering
	w.WriteHeader(http.StatusOK)
	send := func(parts ...[]byte) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
		for _, b := range parts {
			if _, err := w.Write(b); err != nil {
				return false
			}
		}
		return rc.Flush() == nil
	}
	if !send([]byte("retry: 3000\n\n")) {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case u, ok := <-watcher.C:
			if !ok {
				return // dropped as too slow, or the server is stopping
			}
			msg := [][]byte{[]byte(": heartbeat\n\n")}
			if u.Data != nil {
				msg = [][]byte{[]byte("event: queues\ndata: "), u.Data, []byte("\n\n")}
			}
			if !send(msg...) {
				return
			}
		}
	}
}

// closeStreams ends the statistics streams; the server calls it when it
// shuts down, since a stream never ends by itself.
func (s *Server) closeStreams() {
	if s.stats != nil {
		s.stats.CloseWatchers()
	}
}

// getStatus is GET /v1/status: public, no login, not rate-limited, and
// cheap — the answer is encoded once per computation of the figures (at
// most once a second) and shared, and it may be cached for a second.
func (s *Server) getStatus(w http.ResponseWriter, r *http.Request) {
	if s.stats == nil {
		s.writeError(w, r, errNoStats)
		return
	}
	body, err := s.stats.PublicStatus(r.Context(), s.publicQueueSet)
	if err != nil {
		s.log.WarnContext(r.Context(), "public status", "err", err)
		s.writeError(w, r, errorf(http.StatusServiceUnavailable, codeUnavailable, "", "the status is not available right now"))
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/json; charset=utf-8")
	hd.Set("Cache-Control", "public, max-age=1")
	hd.Set("Content-Length", strconv.Itoa(len(body))) // one write, not chunks
	_, _ = w.Write(body)
}

// publicQueueSet lists the queues the public may see: the directory's
// public flag (the router does not hold it).
func (s *Server) publicQueueSet(ctx context.Context) (map[string]bool, error) {
	out := map[string]bool{}
	for pg := (directory.Page{Limit: 500}); ; {
		qs, more, err := s.dir.ListQueues(ctx, directory.QueueFilter{}, pg)
		if err != nil {
			return nil, err
		}
		for _, q := range qs {
			if q.Public {
				out[q.ID] = true
			}
		}
		if !more || len(qs) == 0 {
			return out, nil
		}
		pg.After = qs[len(qs)-1].ID
	}
}
