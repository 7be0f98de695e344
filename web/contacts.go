package web

import (
	"context"
	"errors"
	"net/http"
	"time"

	"tellonce/agents"
	"tellonce/auth"
	"tellonce/directory"
	"tellonce/privacy"
	"tellonce/router"
)

// contactRequest is the body of POST /v1/contacts.
type contactRequest struct {
	Channel string `json:"channel"`
	Queue   string `json:"queue"`
	Caller  struct {
		ID       string `json:"id"`
		Name     string `json:"name"`
		Language string `json:"language"`
	} `json:"caller"`
	Priority int `json:"priority"`
	Context  struct {
		Summary    string            `json:"summary"`
		IVR        []string          `json:"ivr"`
		Attributes map[string]string `json:"attributes"`
	} `json:"context"`
	CallbackNumber string `json:"callback_number"`
	CaseID         string `json:"case_id"`
	// CallbackAt books a callback slot (channel callback, gateways only).
	CallbackAt *time.Time `json:"callback_at"`
}

func (c *contactRequest) enqueue() router.EnqueueRequest {
	return router.EnqueueRequest{
		Channel:        router.Channel(c.Channel),
		Queue:          c.Queue,
		Caller:         router.Caller{ID: c.Caller.ID, Name: c.Caller.Name, Language: c.Caller.Language},
		Priority:       c.Priority,
		Context:        router.ContactContext{Summary: c.Context.Summary, IVR: c.Context.IVR, Attributes: c.Context.Attributes},
		CallbackNumber: c.CallbackNumber,
		CaseID:         c.CaseID,
	}
}

func (c *contactRequest) callbackAt() time.Time {
	if c.CallbackAt == nil {
		return time.Time{}
	}
	return *c.CallbackAt
}

// contactStatus is the answer of POST and GET /v1/contacts.
type contactStatus struct {
	ContactID      string `json:"contact_id"`
	CaseID         string `json:"case_id"`
	Queue          string `json:"queue"`
	Channel        string `json:"channel"`
	Status         string `json:"status"`
	Position       int    `json:"position,omitempty"`
	EstimatedWaitS *int   `json:"estimated_wait_s"`
	Light          string `json:"light,omitempty"`
	CitizenToken   string `json:"citizen_token,omitempty"`
	// CallbackAt is when a booked callback joins the line (status
	// scheduled).
	CallbackAt *time.Time `json:"callback_at,omitempty"`
	// CallbackAttempts counts a callback's unanswered calls: scheduled
	// with attempts is a retry waiting for its time, not a booked slot.
	CallbackAttempts int `json:"callback_attempts,omitempty"`
	// CallbackOffered: the caller may ask for a callback now (what the
	// citizen's queued frame says, for a gateway's phone menu).
	CallbackOffered bool `json:"callback_offered"`
}

func (s *Server) statusOf(c router.ContactView) contactStatus {
	st := contactStatus{ContactID: c.ID, CaseID: c.CaseID, Queue: c.Queue, Channel: string(c.Channel), Status: string(c.Status)}
	if c.Status == router.StatusQueued {
		st.Position = c.Position
	}
	if !c.Due.IsZero() {
		at := c.Due.UTC()
		st.CallbackAt = &at
	}
	st.CallbackAttempts = c.Attempts
	if s.estimator != nil {
		secs, light := s.estimator.Estimate(c.Queue, st.Position)
		st.EstimatedWaitS, st.Light = &secs, light
		if c.Status == router.StatusQueued && c.Channel != router.ChannelCallback {
			q, err := s.router.Queue(c.Queue)
			st.CallbackOffered = err == nil && q.OffersCallback(time.Duration(secs)*time.Second)
		}
	}
	return st
}

// createContact opens a contact. Chat is public and limited per client
// address; voice and callback come only from a gateway of the queue's
// agency (or an all-agency gateway).
func (s *Server) createContact(w http.ResponseWriter, r *http.Request) {
	var req contactRequest
	if err := s.readBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	switch req.Channel {
	case string(router.ChannelChat):
		if ok, wait := s.chatLimit.Allow(s.clientAddr(r)); !ok {
			s.tooMany(w, r, wait)
			return
		}
		// A citizen cannot jump the line.
		if req.Priority != 0 {
			s.writeError(w, r, errorf(http.StatusBadRequest, codeValidation, "priority", "only a gateway sets a priority"))
			return
		}
	case string(router.ChannelVoice), string(router.ChannelCallback):
		p, err := s.principal(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if p.Role != directory.RoleGateway || (p.Agency != "" && p.Agency != directory.AgencyOfQueue(req.Queue)) {
			s.writeError(w, r, forbiddenField("channel", "voice and callback contacts come from the telephony gateway of the queue's agency"))
			return
		}
	default:
		s.writeError(w, r, errorf(http.StatusBadRequest, codeValidation, "channel", "must be voice, chat or callback"))
		return
	}
	if err := s.checkChannel(req.Queue, req.Channel); err != nil {
		s.writeError(w, r, err)
		return
	}
	er := req.enqueue()
	if er.CallbackAt = req.callbackAt(); !er.CallbackAt.IsZero() {
		er.HandleTime = s.handleTime(req.Queue) // sizes the slot; only a booking needs it
	}
	c, evs, err := s.router.Enqueue(er)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.durable(r.Context(), evs); err != nil {
		s.writeError(w, r, err)
		return
	}
	st := s.statusOf(c)
	st.CitizenToken = s.tokens.Token(c.ID)
	writeJSON(w, http.StatusCreated, st)
}

// checkChannel refuses a contact on a channel its queue does not serve.
func (s *Server) checkChannel(queue, channel string) error {
	q, err := s.router.Queue(queue)
	if err != nil {
		if errors.Is(err, router.ErrNotFound) {
			return errorf(http.StatusBadRequest, codeValidation, "queue", "no such queue: "+queue)
		}
		return err
	}
	for _, ch := range q.Channels {
		if string(ch) == channel {
			return nil
		}
	}
	return errorf(http.StatusBadRequest, codeValidation, "channel", "queue "+queue+" does not take "+channel+" contacts")
}

// durable waits until the events of a change are committed to SQL, so the
// answer that follows is a promise the database keeps.
func (s *Server) durable(ctx context.Context, evs []router.Event) error {
	if len(evs) == 0 {
		return nil
	}
	if err := s.journal.Wait(ctx, evs[len(evs)-1].Seq); err != nil {
		s.log.ErrorContext(ctx, "change not yet durable", "seq", evs[len(evs)-1].Seq, "err", err)
		return errorf(http.StatusServiceUnavailable, codeUnavailable, "", "the change could not be saved in time; it will be retried, please check its state before repeating it")
	}
	return nil
}

// principal authenticates a request that may also be anonymous.
func (s *Server) principal(r *http.Request) (auth.Principal, error) {
	token, _ := bearer(r)
	if token == "" {
		return auth.Principal{}, errUnauthorized
	}
	return s.sessions.Lookup(r.Context(), token)
}

// citizenToken is the token a citizen presents for their contact.
func citizenToken(r *http.Request) string {
	if t := r.Header.Get("X-Citizen-Token"); t != "" {
		return t
	}
	return r.URL.Query().Get("token")
}

// citizenOf checks a citizen token, if the request presents one: presented
// says whether it did, err whether the token fails to match the contact.
func (s *Server) citizenOf(r *http.Request, c router.ContactView) (presented bool, err error) {
	t := citizenToken(r)
	if t == "" {
		return false, nil
	}
	if s.tokens.Valid(c.ID, t) {
		return true, nil
	}
	return true, errorf(http.StatusUnauthorized, codeUnauthorized, "token", "the citizen token does not match this contact")
}

// contactAccess decides who may see or end a contact: its citizen (by
// token), a gateway of its agency, an admin, a supervisor of its agency,
// or the agent it is assigned or offered to.
func (s *Server) contactAccess(r *http.Request, c router.ContactView) error {
	if presented, err := s.citizenOf(r, c); presented {
		return err
	}
	p, err := s.principal(r)
	if err != nil {
		return err
	}
	switch p.Role {
	case directory.RoleAdmin:
		return nil
	case directory.RoleGateway, directory.RoleSupervisor:
		if p.Agency == "" && p.Role == directory.RoleGateway || p.Agency == c.Agency {
			return nil
		}
	case directory.RoleAgent:
		if p.Username == c.Agent {
			return nil
		}
	}
	return errForbidden
}

// contactFor reads the contact the path names and checks that the request
// may act on it; otherwise it writes why not and says so.
func (s *Server) contactFor(w http.ResponseWriter, r *http.Request, access func(*http.Request, router.ContactView) error) (router.ContactView, bool) {
	c, err := s.router.Contact(r.PathValue("id"))
	if err == nil {
		err = access(r, c)
	}
	if err != nil {
		s.writeError(w, r, err)
		return router.ContactView{}, false
	}
	return c, true
}

func (s *Server) getContact(w http.ResponseWriter, r *http.Request) {
	c, ok := s.contactFor(w, r, s.contactAccess)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, s.statusOf(c))
}

// deleteContact is the caller leaving: the contact is abandoned.
func (s *Server) deleteContact(w http.ResponseWriter, r *http.Request) {
	c, ok := s.contactFor(w, r, s.contactAccess)
	if !ok {
		return
	}
	evs, err := s.router.Abandon(c.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.durable(r.Context(), evs); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// getCase shows an open case to an admin, a supervisor of any agency it
// touched, or an agent who is or was assigned a leg of it.
func (s *Server) getCase(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	cs, err := s.router.Case(r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !mayReadCase(p, cs) {
		s.writeError(w, r, errForbidden)
		return
	}
	writeJSON(w, http.StatusOK, maskCase(agents.CaseOf(cs), p.PII))
}

// maskCase applies the personal-data rules to a live case for its reader,
// as the transcripts do for stored ones: resident registration numbers
// always, phone and card numbers unless the reader has the pii permission.
func maskCase(c agents.CaseJSON, pii bool) agents.CaseJSON {
	m := func(s string) string { return privacy.Mask(s, pii) }
	c.Caller.ID, c.Caller.Name = m(c.Caller.ID), m(c.Caller.Name)
	maskEvent := func(e agents.CaseEventJSON) agents.CaseEventJSON {
		e.Actor, e.Text = m(e.Actor), m(e.Text)
		if e.Data != nil {
			data := make(map[string]string, len(e.Data))
			for k, v := range e.Data {
				data[k] = m(v)
			}
			e.Data = data
		}
		return e
	}
	events := make([]agents.CaseEventJSON, len(c.Events))
	for i, e := range c.Events {
		events[i] = maskEvent(e)
	}
	c.Events = events
	if c.TransferNote != nil {
		n := maskEvent(*c.TransferNote)
		c.TransferNote = &n
	}
	return c
}

func mayReadCase(p auth.Principal, cs router.CaseView) bool {
	switch p.Role {
	case directory.RoleAdmin:
		return true
	case directory.RoleSupervisor:
		for _, l := range cs.Legs {
			if l.Agency == p.Agency {
				return true
			}
		}
	case directory.RoleAgent:
		for _, l := range cs.Legs {
			if l.Agent == p.Username {
				return true
			}
		}
	}
	return false
}

// The three WebSockets.

func (s *Server) agentWS(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if p.Role != directory.RoleAgent {
		s.writeError(w, r, forbiddenField("", "the agent desk is for agents"))
		return
	}
	s.hub.ServeAgent(w, r, p)
}

func (s *Server) gatewayWS(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if p.Role != directory.RoleGateway {
		s.writeError(w, r, errForbidden)
		return
	}
	s.hub.ServeGateway(w, r, p)
}

func (s *Server) citizenWS(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	t := citizenToken(r)
	if t == "" || !s.tokens.Valid(id, t) {
		s.writeError(w, r, errorf(http.StatusUnauthorized, codeUnauthorized, "token", "a valid citizen token is required"))
		return
	}
	if _, err := s.router.Peek(id); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.hub.ServeCitizen(w, r, id)
}

// checkWSOrigin is the hub's Origin rule: browsers must come from this
// server or a configured origin; non-browser clients send no Origin.
func (s *Server) checkWSOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	return s.OriginAllowed(origin, r.Host)
}
