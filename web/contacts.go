package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"tellonce/agents"
	"tellonce/auth"
	"tellonce/cases"
	"tellonce/directory"
	"tellonce/ratelimit"
	"tellonce/switchboard"
	"tellonce/transcripts"
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
	// CaseToken proves the caller may continue CaseID: the continuation
	// token the case's citizen was given.
	CaseToken string `json:"case_token"`
	// CallbackAt books a callback slot (channel callback, gateways only).
	CallbackAt *time.Time `json:"callback_at"`
}

func (c *contactRequest) enqueue() switchboard.EnqueueRequest {
	return switchboard.EnqueueRequest{
		Channel:        cases.Channel(c.Channel),
		Queue:          c.Queue,
		Caller:         cases.Caller{ID: c.Caller.ID, Name: c.Caller.Name, Language: c.Caller.Language},
		Priority:       c.Priority,
		Context:        cases.ContactContext{Summary: c.Context.Summary, IVR: c.Context.IVR, Attributes: c.Context.Attributes},
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
	// CaseToken lets the citizen continue this case later, from another
	// contact (POST /v1/contacts with case_id and case_token).
	CaseToken string `json:"case_token,omitempty"`
	// CallbackAt is when a booked callback joins the line (status
	// scheduled).
	CallbackAt *time.Time `json:"callback_at,omitempty"`
	// CallbackAttempts counts a callback's unanswered calls: scheduled
	// with attempts is a retry waiting for its time, not a booked slot.
	CallbackAttempts int `json:"callback_attempts,omitempty"`
	// CallbackOffered: the caller may ask for a callback now (what the
	// citizen's queued frame says, for a gateway's phone menu).
	CallbackOffered bool `json:"callback_offered"`
	// PreviousCaseID: the request continued a case that closed too long
	// ago to reopen, and this new case links to it.
	PreviousCaseID string `json:"previous_case_id,omitempty"`
}

func (s *Server) statusOf(c cases.ContactView) contactStatus {
	st := contactStatus{ContactID: c.ID, CaseID: c.CaseID, Queue: c.Queue, Channel: string(c.Channel), Status: string(c.Status)}
	if c.Status == cases.StatusQueued {
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
		if c.Status == cases.StatusQueued && c.Channel != cases.ChannelCallback {
			q, err := s.board.Queue(c.Queue)
			st.CallbackOffered = err == nil && q.OffersCallback(time.Duration(secs)*time.Second)
		}
	}
	return st
}

// createContact opens a contact. An Idempotency-Key header makes a retry
// safe: the same identity sending the same key while its contact is live
// gets that contact back (201, with its tokens) instead of a conflict and
// a lost place. Chat is public and limited per client
// address, and its caller id is only a label: the chat's identity is its
// device (a cookie this server hands out). Voice and callback come only
// from a gateway of the queue's agency (or an all-agency gateway), whose
// caller id is the number the phone network asserted.
func (s *Server) createContact(w http.ResponseWriter, r *http.Request) {
	began := time.Now()
	if err := s.checkCitizenWrite(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	var req contactRequest
	if err := s.readBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	er := req.enqueue()
	er.IdempotencyKey = r.Header.Get("Idempotency-Key")
	var who auth.Principal // the gateway; zero for a citizen's chat
	switch req.Channel {
	case string(cases.ChannelChat):
		if ok, wait := s.chatLimit.Allow(ratelimit.AddrKey(s.clientAddr(r))); !ok {
			s.tooMany(w, r, wait)
			return
		}
		// A citizen cannot jump the line.
		if req.Priority != 0 {
			s.writeError(w, r, errorf(http.StatusBadRequest, codeValidation, "priority", "only a gateway sets a priority"))
			return
		}
		device, err := s.chatDevice(w, r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		er.Identity = s.tokens.DeviceIdentity(device)
	case string(cases.ChannelVoice), string(cases.ChannelCallback):
		p, err := s.principal(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if p.Role != directory.RoleGateway || (p.Agency != "" && p.Agency != directory.AgencyOfQueue(req.Queue)) {
			s.writeError(w, r, forbiddenField("channel", "voice and callback contacts come from the telephony gateway of the queue's agency"))
			return
		}
		who = p
		er.Identity = s.tokens.PhoneIdentity(req.Caller.ID)
	default:
		s.writeError(w, r, errorf(http.StatusBadRequest, codeValidation, "channel", "must be voice, chat or callback"))
		return
	}
	if err := s.checkChannel(req.Queue, req.Channel); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.CaseID != "" && req.CaseToken != "" {
		if !s.tokens.ValidCase(req.CaseID, req.CaseToken) {
			s.refuseCase(w, r, who, req.CaseID)
			return
		}
		er.CaseProven = true
	}
	if req.CaseID != "" {
		if err := s.continueClosed(r.Context(), &er); err != nil {
			if errors.Is(err, transcripts.ErrNotFound) {
				s.refuseCase(w, r, who, req.CaseID)
			} else {
				s.writeError(w, r, err)
			}
			return
		}
	}
	looked := time.Now()
	er.History = s.earlierCases(r.Context(), er.Identity, req.CaseID)
	if er.CallbackAt = req.callbackAt(); !er.CallbackAt.IsZero() {
		er.HandleTime = s.handleTime(req.Queue) // sizes the slot; only a booking needs it
	}
	enqueued := time.Now()
	c, err := s.board.Enqueue(r.Context(), er)
	if err != nil {
		if req.CaseID != "" && errors.Is(err, cases.ErrNotFound) {
			s.refuseCase(w, r, who, req.CaseID)
			return
		}
		var dup *cases.DuplicateContactError
		if errors.As(err, &dup) {
			s.alreadyWaiting(w, r, dup)
			return
		}
		s.writeError(w, r, err)
		return
	}
	answering := time.Now()
	st := s.statusOf(c)
	st.CitizenToken = s.tokens.Token(c.ID)
	st.CaseToken = s.tokens.CaseToken(c.CaseID)
	st.PreviousCaseID = er.PreviousCaseID
	writeJSON(w, http.StatusCreated, st)
	stages := s.metrics.contactStages
	stages.WithLabelValues(stageAdmit).Observe(looked.Sub(began).Seconds())
	stages.WithLabelValues(stageHistory).Observe(enqueued.Sub(looked).Seconds())
	stages.WithLabelValues(stageEnqueue).Observe(answering.Sub(enqueued).Seconds())
	stages.WithLabelValues(stageAnswer).Observe(time.Since(answering).Seconds())
}

// continueClosed prepares a request that continues case er.CaseID when
// the router no longer holds it: the case closed. With the same proof an
// open case needs (its continuation token, or the identity that opened it:
// the gateway's number, the chat device), a case that closed within
// --history-days reopens, and one that closed longer ago is linked from a
// new case (previous_case_id). Without proof, or with history off, the
// answer is transcripts.ErrNotFound: the same 404 as today's for a case
// that is closed, someone else's or never was. A live case is left to the
// router's own rule.
func (s *Server) continueClosed(ctx context.Context, er *switchboard.EnqueueRequest) error {
	if _, err := s.board.Case(er.CaseID); !errors.Is(err, cases.ErrNotFound) {
		return nil
	}
	window := s.historyWindow()
	if s.review == nil || window <= 0 {
		return transcripts.ErrNotFound
	}
	snap, closed, err := s.review.ClosedCase(ctx, er.CaseID)
	if err != nil {
		return err
	}
	if !er.CaseProven && (snap.Identity == "" || snap.Identity != er.Identity) {
		return transcripts.ErrNotFound
	}
	if !closed.Before(s.now().Add(-window)) {
		er.Reopen, er.CaseProven = &snap, true
		return nil
	}
	er.PreviousCaseID, er.CaseID, er.CaseProven = er.CaseID, "", false
	return nil
}

// historyWindow is how far back earlier cases count (--history-days);
// zero when history is off.
func (s *Server) historyWindow() time.Duration {
	return time.Duration(max(s.cfg.HistoryDays, 0)) * 24 * time.Hour
}

// earlierCases looks up the earlier cases of a returning caller, for the
// offer to show: only by identity, which createContact takes from what is
// asserted (the number a gateway gives, this server's device cookie),
// never from a typed caller id. A look-up that fails costs the caller no
// place in line: the contact goes ahead without history, and the failure
// is logged.
func (s *Server) earlierCases(ctx context.Context, identity, except string) []cases.PastCase {
	window := s.historyWindow()
	if s.review == nil || window <= 0 || identity == "" {
		return nil
	}
	h, err := s.review.Earlier(ctx, identity, s.now().Add(-window), except, cases.MaxHistory)
	if err != nil {
		s.log.WarnContext(ctx, "earlier cases not looked up; the contact goes ahead without them", "err", err)
		return nil
	}
	return h
}

// alreadyWaiting answers a caller who holds a live place in the queue
// already: 409 with that contact and its tokens, so a citizen's own device
// that lost them (another tab, cleared storage) can rejoin its place. The
// one-place rule keys on the identity — this device, this asserted number
// — so the contact named is always the asker's own, never someone else's.
func (s *Server) alreadyWaiting(w http.ResponseWriter, r *http.Request, dup *cases.DuplicateContactError) {
	body := map[string]any{"error": apiError{Code: codeConflict, Message: "this caller is already waiting in this queue"},
		"contact_id": dup.ContactID}
	if c, err := s.board.Peek(dup.ContactID); err == nil {
		body["citizen_token"] = s.tokens.Token(c.Origin)
		body["case_id"], body["case_token"] = c.CaseID, s.tokens.CaseToken(c.CaseID)
	}
	writeJSON(w, http.StatusConflict, body)
}

// refuseCase answers a continuation of a case the caller may not continue
// exactly as one of a case that does not exist, and audits the attempt.
func (s *Server) refuseCase(w http.ResponseWriter, r *http.Request, who auth.Principal, caseID string) {
	s.auditRefusal(r, who, transcripts.AuditEntry{Action: transcripts.ActionContinue, CaseID: caseID})
	s.writeError(w, r, errorf(http.StatusNotFound, codeNotFound, "case_id", "no open case "+caseID+" that this caller may continue"))
}

// deviceCookie names the chat device: a random secret this server hands a
// browser with its first chat. The device's identity (a keyed digest of
// it) holds the chat's one place per queue, so neither a typed phone
// number nor anything else a stranger knows can take or block that place.
const deviceCookie = "tellonce_device"

// chatDevice returns the request's device secret, handing out a new one
// when it brings none (or a malformed one). A client without cookies is a
// new device each time; the per-address chat limit still bounds it.
func (s *Server) chatDevice(w http.ResponseWriter, r *http.Request) (string, error) {
	if c, err := r.Cookie(deviceCookie); err == nil && validDevice(c.Value) {
		return c.Value, nil
	}
	d, err := auth.NewDevice()
	if err != nil {
		return "", fmt.Errorf("new chat device: %w", err)
	}
	http.SetCookie(w, &http.Cookie{
		Name: deviceCookie, Value: d, Path: "/v1/contacts", MaxAge: 365 * 24 * 60 * 60,
		HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: s.cfg.SecureCookies || r.TLS != nil,
	})
	return d, nil
}

func validDevice(v string) bool {
	if len(v) < 16 || len(v) > 64 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// checkChannel refuses a contact on a channel its queue does not serve.
func (s *Server) checkChannel(queue, channel string) error {
	q, err := s.board.Queue(queue)
	if err != nil {
		if errors.Is(err, cases.ErrNotFound) {
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

// errNoContact answers for a contact the request may not see, exactly as
// for one that does not exist.
func errNoContact(id string) error {
	return errorf(http.StatusNotFound, codeNotFound, "", "contact "+id+": not found")
}

// citizenOf checks a citizen token, if the request presents one: presented
// says whether it did, err whether the token fails to reach the contact.
// A token reaches the contact it was given with and the legs transfers made
// of it (the contact's Origin), never another contact of the same case.
func (s *Server) citizenOf(r *http.Request, c cases.ContactView) (presented bool, err error) {
	t := citizenToken(r)
	if t == "" {
		return false, nil
	}
	if s.tokens.Valid(c.Origin, t) {
		return true, nil
	}
	return true, errNoContact(c.ID)
}

// contactAccess decides who may see a contact: its citizen (by token), an
// admin, a supervisor of its agency, the agent it is assigned or offered
// to, and for voice and callback contacts a gateway of its agency. Anyone
// else is told it does not exist.
func (s *Server) contactAccess(r *http.Request, c cases.ContactView) (actor string, err error) {
	if presented, err := s.citizenOf(r, c); presented {
		return "", err
	}
	p, err := s.principal(r)
	if err != nil {
		return "", err
	}
	switch p.Role {
	case directory.RoleAdmin:
		return "admin:" + p.Username, nil
	case directory.RoleSupervisor:
		if p.Agency == c.Agency {
			return "supervisor:" + p.Username, nil
		}
	case directory.RoleGateway:
		if gatewayCarries(p, c) {
			return "gateway:" + p.Username, nil
		}
	case directory.RoleAgent:
		if p.Username == c.Agent {
			return "agent:" + p.Username, nil
		}
	}
	return "", errNoContact(c.ID)
}

// gatewayCarries says whether gateway p carries contact c: a voice or
// callback contact of its agency (or any, for an all-agency gateway). A
// gateway never acts on a chat.
func gatewayCarries(p auth.Principal, c cases.ContactView) bool {
	return p.Role == directory.RoleGateway && c.Channel != cases.ChannelChat &&
		(p.Agency == "" || p.Agency == c.Agency)
}

// endAccess decides who may end a contact before it is served: its
// citizen, the agent holding it, a supervisor of its agency, and for its
// voice and callback calls a gateway of its agency. It returns the actor
// the timeline records ("" for the citizen). An agent it was only offered
// to, or an admin, may see it but not end it.
func (s *Server) endAccess(r *http.Request, c cases.ContactView) (string, error) {
	actor, err := s.contactAccess(r, c)
	if err != nil || actor == "" {
		return actor, err
	}
	role, name, _ := strings.Cut(actor, ":")
	switch {
	case role == directory.RoleSupervisor, role == directory.RoleGateway:
		return actor, nil
	case role == directory.RoleAgent && c.Status == cases.StatusAssigned && c.Agent == name:
		return actor, nil
	}
	return "", forbiddenField("", "a contact is ended by its citizen, the agent holding it, a supervisor of its agency or its gateway")
}

// contactFor reads the contact the path names and checks that the request
// may act on it; otherwise it writes why not, audits a refusal, and says
// so. actor is who acts, as access returned it.
func (s *Server) contactFor(w http.ResponseWriter, r *http.Request, op string,
	access func(*http.Request, cases.ContactView) (string, error)) (c cases.ContactView, actor string, ok bool) {
	id := r.PathValue("id")
	c, err := s.board.Contact(id)
	if errors.Is(err, cases.ErrNotFound) {
		// Answered as a contact the caller may not see would be: 401
		// without credentials, else not found in the same words.
		err = errNoContact(id)
		if citizenToken(r) == "" {
			if _, perr := s.principal(r); perr != nil {
				err = perr
			}
		}
	} else if err == nil {
		actor, err = access(r, c)
		if err != nil && !errors.Is(err, errUnauthorized) {
			p, _ := s.principal(r)
			s.auditRefusal(r, p, transcripts.AuditEntry{Action: transcripts.ActionContact, CaseID: c.CaseID,
				Query: "op=" + op + "&contact_id=" + c.ID})
		}
	}
	if err != nil {
		s.writeError(w, r, err)
		return cases.ContactView{}, "", false
	}
	return c, actor, true
}

func (s *Server) getContact(w http.ResponseWriter, r *http.Request) {
	c, _, ok := s.contactFor(w, r, "read", s.contactAccess)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, s.statusOf(c))
}

// deleteContact ends a contact before it was served: the caller leaving
// (the contact is abandoned), or the agent holding it, a supervisor or the
// gateway ending it; the timeline records which.
func (s *Server) deleteContact(w http.ResponseWriter, r *http.Request) {
	if err := s.checkCitizenWrite(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	c, actor, ok := s.contactFor(w, r, "end", s.endAccess)
	if !ok {
		return
	}
	if err := s.board.EndContact(r.Context(), c.ID, actor); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// getCase shows an open case to an admin, a supervisor of any agency it
// touched, or an agent who is or was assigned a leg of it. Interpreter
// legs give their interpreter, and their agency's supervisors, only the
// interpreter's view of the case while the leg is live.
func (s *Server) getCase(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	id := r.PathValue("id")
	noCase := errorf(http.StatusNotFound, codeNotFound, "", "case "+id+": not found")
	cs, err := s.board.Case(id)
	if errors.Is(err, cases.ErrNotFound) {
		// Closed, or never was: the case log answers for a closed one.
		s.getClosedCase(w, r, p, id, noCase)
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	full, legID := caseReader(p, cs)
	if !full && legID != "" {
		if cs, err = s.board.InterpreterCase(legID); err != nil {
			legID = ""
		}
	}
	if !full && legID == "" {
		// The same answer as for a case that does not exist.
		s.auditRefusal(r, p, transcripts.AuditEntry{Action: transcripts.ActionRead, CaseID: cs.ID})
		s.writeError(w, r, noCase)
		return
	}
	entry := transcripts.AuditEntry{Action: transcripts.ActionRead, CaseID: cs.ID, Query: "view=live", Outcome: transcripts.OutcomeOK}
	if !full {
		entry.Query = "view=interpreter"
	}
	if err := s.audit(r, p, entry); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, maskCase(agents.CaseOf(cs), p.PII))
}

// getClosedCase answers GET /v1/cases/{id} for a case that has left the
// router, from the case log: the same shape, role rules (through review's
// scopes: whoever could read it live may read it closed, an interpreting
// agency the part it interpreted), masking and audit as an open one. A
// case the log does not hold, or the reader may not see, is notFound.
func (s *Server) getClosedCase(w http.ResponseWriter, r *http.Request, p auth.Principal, id string, notFound error) {
	scope, ok := reviewScope(p)
	if s.review == nil || !ok {
		s.writeError(w, r, notFound)
		return
	}
	t, err := s.review.Timeline(r.Context(), id)
	if errors.Is(err, transcripts.ErrNotFound) {
		s.writeError(w, r, notFound)
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	entry := transcripts.AuditEntry{Action: transcripts.ActionRead, CaseID: id, Query: "view=closed", Outcome: transcripts.OutcomeOK}
	if !t.Allowed(scope) && s.showsEarlierCase(p, id) {
		entry.Query = "view=history"
	} else if !t.Allowed(scope) {
		part, ok := t.InterpreterPart(scope)
		if !ok {
			s.auditRefusal(r, p, transcripts.AuditEntry{Action: transcripts.ActionRead, CaseID: id})
			s.writeError(w, r, notFound)
			return
		}
		t, entry.Query = part, "view=interpreter"
	}
	if err := s.audit(r, p, entry); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, maskCase(caseOfTimeline(t), p.PII))
}

// showsEarlierCase says whether agent p holds, or is offered, a live
// contact whose case lists id among its caller's earlier cases: the agent
// the returning caller reached may open those cases in full, each read
// audited (docs/trust.md).
func (s *Server) showsEarlierCase(p auth.Principal, id string) bool {
	if p.Role != directory.RoleAgent {
		return false
	}
	desk, err := s.board.Desk(p.Username)
	if err != nil {
		return false
	}
	lists := func(cs cases.CaseView) bool {
		return slices.ContainsFunc(cs.History, func(h cases.PastCase) bool { return h.ID == id })
	}
	for _, a := range desk.Contacts {
		if lists(a.Case) {
			return true
		}
	}
	for _, o := range desk.Offers {
		if cs, err := s.board.OfferCase(o.ContactID); err == nil && lists(cs) {
			return true
		}
	}
	return false
}

// caseOfTimeline is a case from the log in the shape of a live one.
func caseOfTimeline(t transcripts.Timeline) agents.CaseJSON {
	at := func(v time.Time) *time.Time { return &v }
	c := agents.CaseJSON{CaseID: t.CaseID, Status: t.Status, CreatedAt: at(t.StartedAt), PreviousCaseID: t.PreviousCaseID,
		Caller: agents.CallerJSON{ID: t.Caller.ID, Name: t.Caller.Name, Language: t.Caller.Language},
		Legs:   make([]agents.LegJSON, 0, len(t.Legs)), Events: make([]agents.CaseEventJSON, 0, len(t.Events))}
	for _, l := range t.Legs {
		c.Legs = append(c.Legs, agents.LegJSON{ContactID: l.ContactID, Queue: l.Queue, Agency: l.Agency, Agent: l.Agent,
			Channel: l.Channel, EnqueuedAt: at(l.EnqueuedAt), AnsweredAt: l.AnsweredAt, EndedAt: l.EndedAt,
			Disposition: l.Disposition, Interpreter: l.Interpreter})
	}
	for _, e := range t.Events {
		c.Events = append(c.Events, agents.CaseEventJSON{Seq: e.Seq, At: at(e.At), Type: e.Type, Actor: e.Actor,
			Text: e.Text, Data: e.Data})
	}
	return c
}

// maskCase applies the personal-data rules to a live case for its reader,
// as the transcripts do for stored ones and the agent's socket does for
// its frames: resident registration numbers always, phone, card and
// account numbers unless the reader has the pii permission.
func maskCase(c agents.CaseJSON, pii bool) agents.CaseJSON { return agents.MaskCase(c, pii) }

// caseReader says how p may read a live case: whole (full), or as the
// interpreter view of the live interpreter leg legID — the interpreter's
// own, or for a supervisor one their agency's interpreter holds.
func caseReader(p auth.Principal, cs cases.CaseView) (full bool, legID string) {
	if p.Role == directory.RoleAdmin {
		return true, ""
	}
	for _, l := range cs.Legs {
		mine := p.Role == directory.RoleSupervisor && l.Agency == p.Agency ||
			p.Role == directory.RoleAgent && l.Agent == p.Username
		switch {
		case !mine:
		case !l.Interpreter:
			return true, ""
		case l.EndedAt.IsZero() && !l.AnsweredAt.IsZero():
			legID = l.ContactID
		}
	}
	return false, legID
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
	if t == "" {
		s.writeError(w, r, errorf(http.StatusUnauthorized, codeUnauthorized, "token", "a valid citizen token is required"))
		return
	}
	// A token that does not reach the contact gets the answer an unknown
	// contact gets.
	c, err := s.board.Peek(id)
	if errors.Is(err, cases.ErrNotFound) {
		err = errNoContact(id)
	} else if err == nil && !s.tokens.Valid(c.Origin, t) {
		s.auditRefusal(r, auth.Principal{}, transcripts.AuditEntry{Action: transcripts.ActionContact, CaseID: c.CaseID,
			Query: "op=follow&contact_id=" + c.ID})
		err = errNoContact(id)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.hub.ServeCitizen(w, r, c.ID)
}

// checkWSOrigin is the hub's Origin rule: browsers must come from this
// server or a configured origin; non-browser clients send no Origin.
func (s *Server) checkWSOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	return s.OriginAllowed(origin, r)
}
