package agents

import (
	"context"
	"time"

	"tellonce/auth"
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

// sessionsPerCheck is how many session ids one re-check query asks about.
const sessionsPerCheck = 500

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
	round := &sessionRound{groups: map[grant]*sessionGroup{}}
	for {
		select {
		case <-ctx.Done():
			return
		case <-sweep.C:
			h.expireSessions()
		case <-check:
			err := h.checkSessions(ctx, round)
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

// grant is what a socket's login allows beyond its user: the sockets
// of one grant are re-checked together.
type grant struct {
	role, agency string
	pii, export  bool
}

func grantOf(p auth.Principal) grant {
	return grant{role: p.Role, agency: p.Agency, pii: p.PII, export: p.Export}
}

// sessionGroup is the open sockets of one grant and their session ids,
// each id once.
type sessionGroup struct {
	conns []*conn
	ids   []string
}

// sessionRound is what a re-check builds. watchSessions keeps it from
// round to round, cleared rather than rebuilt: with thousands of sockets
// rebuilding it every SessionCheck was most of what the hub allocated at
// idle.
type sessionRound struct {
	groups map[grant]*sessionGroup
	asked  map[string]grant // session id → the grant it was asked with
}

// reset empties the round for the next, dropping the groups that had no
// socket in the last one. (Between rounds it holds the last round's
// sockets, closed ones too, for one SessionCheck at most.)
func (r *sessionRound) reset() {
	for g, grp := range r.groups {
		if len(grp.conns) == 0 {
			delete(r.groups, g)
			continue
		}
		clear(grp.conns)
		clear(grp.ids)
		grp.conns, grp.ids = grp.conns[:0], grp.ids[:0]
	}
	if r.asked == nil {
		r.asked = map[string]grant{}
	}
	clear(r.asked)
}

// checkSessions re-checks the sessions of the open agent and gateway
// sockets against the database and closes those whose session is gone or
// expired or whose user's role, agency or permissions changed. It asks,
// per group of sockets with the same grant, only whether all of them
// still hold (Unchanged: a count, no rows), and reads the sessions back
// (Current) only for a group where something changed.
func (h *Hub) checkSessions(ctx context.Context, round *sessionRound) error {
	round.reset()
	h.mu.Lock()
	for c := range h.conns {
		if c.kind == kindCitizen || c.login.SessionID == "" || c.revoked.Load() {
			continue
		}
		g := grantOf(c.login)
		grp := round.groups[g]
		if grp == nil {
			grp = &sessionGroup{}
			round.groups[g] = grp
		}
		grp.conns = append(grp.conns, c)
		// An id asked under another grant too (a socket opened before its
		// user changed, one after) is asked again in this group, where it
		// cannot hold: the group is then read back, which is exact.
		if was, ok := round.asked[c.login.SessionID]; !ok || was != g {
			round.asked[c.login.SessionID] = g
			grp.ids = append(grp.ids, c.login.SessionID)
		}
	}
	h.mu.Unlock()

	// The queries are spread over half the interval, a chunk of ids at a
	// time: asked at once, 10,000 sessions were one burst of tens of
	// milliseconds of CPU every SessionCheck, which the offers under way
	// waited behind. Each socket is still asked once per SessionCheck, at
	// the same point of each round.
	total := 0
	for _, grp := range round.groups {
		total += (len(grp.ids) + sessionsPerCheck - 1) / sessionsPerCheck
	}
	var pause time.Duration
	if total > 1 {
		pause = h.cfg.SessionCheck / 2 / time.Duration(total)
	}
	asked := 0
	for g, grp := range round.groups {
		for ids := grp.ids; len(ids) > 0; {
			chunk := ids[:min(len(ids), sessionsPerCheck)]
			ids = ids[len(chunk):]
			if asked > 0 && pause > 0 {
				if err := sleepCtx(ctx, pause); err != nil {
					return err
				}
			}
			asked++
			if err := h.checkChunk(ctx, g, grp, chunk); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkChunk re-checks the sessions ids of the group grp (of grant g) and
// closes the group's sockets among them that no longer hold.
func (h *Hub) checkChunk(ctx context.Context, g grant, grp *sessionGroup, ids []string) error {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	same, err := h.cfg.Sessions.Unchanged(ctx, auth.Principal{Role: g.role, Agency: g.agency, PII: g.pii, Export: g.export}, ids)
	if err != nil {
		return err
	}
	if same {
		return nil
	}
	current, err := h.cfg.Sessions.Current(ctx, ids)
	if err != nil {
		return err
	}
	in := make(map[string]struct{}, len(ids))
	for _, id := range ids {
		in[id] = struct{}{}
	}
	// Only the sockets asked about: one opened since may rest on a newer
	// state of its session than the query saw.
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range grp.conns {
		if _, ok := in[c.login.SessionID]; !ok {
			continue
		}
		p, ok := current[c.login.SessionID]
		switch {
		case !ok:
			h.signOutLocked(c, "session ended")
		case grantOf(p) != grantOf(c.login):
			h.signOutLocked(c, "user changed")
		}
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
