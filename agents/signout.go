package agents

import (
	"context"
	"time"
)

// Sockets follow their login: an agent's or gateway's socket is closed
// with CloseSignedOut when the session it was opened with ends. Web calls
// EndSession on logout and SignOut when it changes or deletes a user;
// watchSessions closes sockets whose session expired, and — for changes
// made through another server — those whose session is gone from the
// database or whose user no longer has the role, agency or permissions
// the socket was opened with.

// sweepEvery is how often expired sessions are looked for: half a second,
// so that a socket closes within a second of its session's end.
const sweepEvery = 500 * time.Millisecond

// checkTimeout bounds one re-check query.
const checkTimeout = 10 * time.Second

// SignOut closes every agent and gateway socket of username: their
// password, role, agency or permissions changed, or they were deleted.
// why is a short reason for the close frame ("user changed").
func (h *Hub) SignOut(username, why string) {
	if username == "" {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.conns {
		if c.kind != kindCitizen && c.username == username {
			h.signOutLocked(c, why)
		}
	}
}

// EndSession closes the agent and gateway sockets opened with the session
// sessionID, after a logout; the user's other sessions keep theirs.
func (h *Hub) EndSession(sessionID string) {
	if sessionID == "" {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.conns {
		if c.kind != kindCitizen && c.login.SessionID == sessionID {
			h.signOutLocked(c, "logged out")
		}
	}
}

// signOutLocked marks c revoked, so that nothing it sent from now on is
// applied, and closes it without sending what is queued: its user may no
// longer see it.
func (h *Hub) signOutLocked(c *conn, why string) {
	if c.revoked.Load() {
		return
	}
	c.revoked.Store(true)
	if !c.stopped {
		h.log.Info("websocket signed out", "kind", c.kind, "user", c.username, "reason", why)
	}
	h.stopLocked(c, CloseSignedOut, "signed out: "+why, false)
}

// watchSessions closes the sockets of expired sessions every sweepEvery
// and, with Config.Sessions, re-checks the open sockets' sessions against
// the database every SessionCheck, until ctx ends (see Run).
func (h *Hub) watchSessions(ctx context.Context) {
	sweep := time.NewTicker(sweepEvery)
	defer sweep.Stop()
	var check <-chan time.Time
	if h.cfg.Sessions != nil {
		t := time.NewTicker(h.cfg.SessionCheck)
		defer t.Stop()
		check = t.C
	}
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-sweep.C:
			h.expireSessions()
		case <-check:
			err := h.checkSessions(ctx)
			switch {
			case err != nil && ctx.Err() != nil:
				return
			case err != nil && !failing:
				// Once per run of failures: a database that is down would
				// log every check. The sockets stay open meanwhile.
				h.log.Warn("re-checking the sessions of open sockets failed; changes made on other servers wait",
					"err", err)
				failing = true
			case err == nil && failing:
				h.log.Info("re-checking the sessions of open sockets works again")
				failing = false
			}
		}
	}
}

// expireSessions closes the sockets whose session has expired.
func (h *Hub) expireSessions() {
	now := h.cfg.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.conns {
		if c.kind != kindCitizen && !c.login.ExpiresAt.IsZero() && !now.Before(c.login.ExpiresAt) {
			h.signOutLocked(c, "session expired")
		}
	}
}

// checkSessions reads back, in one query, the sessions of the open agent
// and gateway sockets, and closes those whose session is gone or expired
// or whose user's role, agency or permissions changed.
func (h *Hub) checkSessions(ctx context.Context) error {
	var open []*conn
	ids := []string{}
	asked := map[string]struct{}{}
	h.mu.Lock()
	for c := range h.conns {
		if c.kind == kindCitizen || c.login.SessionID == "" || c.revoked.Load() {
			continue
		}
		open = append(open, c)
		if _, ok := asked[c.login.SessionID]; !ok {
			asked[c.login.SessionID] = struct{}{}
			ids = append(ids, c.login.SessionID)
		}
	}
	h.mu.Unlock()
	if len(ids) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	current, err := h.cfg.Sessions.Current(ctx, ids)
	if err != nil {
		return err
	}

	// Only the sockets asked about: one opened since may rest on a newer
	// state of its session than the query saw.
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range open {
		p, ok := current[c.login.SessionID]
		switch {
		case !ok:
			h.signOutLocked(c, "session ended")
		case p.Role != c.login.Role || p.Agency != c.login.Agency || p.PII != c.login.PII || p.Export != c.login.Export:
			h.signOutLocked(c, "user changed")
		}
	}
	return nil
}
