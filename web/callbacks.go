package web

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"tellonce/cases"
	"tellonce/directory"
	"tellonce/ratelimit"
)

// Callbacks: a waiting citizen (or the gateway for a caller on the phone)
// may ask to be called back instead of waiting, once the queue's estimate
// passes its callback_after_s; the callback keeps the caller's place or
// books one of the queue's time slots.

func (s *Server) callbackRoutes(h func(string, http.HandlerFunc)) {
	h("GET /v1/queues/{queue}/callback-slots", s.getCallbackSlots)
	h("POST /v1/contacts/{id}/callback", s.postCallback)
}

type slotJSON struct {
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Capacity int       `json:"capacity"`
	Booked   int       `json:"booked"`
	Free     int       `json:"free"`
}

type slotsAnswer struct {
	Queue          string     `json:"queue"`
	CallbackAfterS int        `json:"callback_after_s"`
	Items          []slotJSON `json:"items"`
}

// getCallbackSlots lists a queue's bookable slots. Public queues' slots are
// public (rate-limited per client, like the chat); other queues' need a
// login that may see the queue.
func (s *Server) getCallbackSlots(w http.ResponseWriter, r *http.Request) {
	if ok, wait := s.publicLimit.Allow(ratelimit.AddrKey(s.clientAddr(r))); !ok {
		s.tooMany(w, r, wait)
		return
	}
	q, err := s.board.Queue(r.PathValue("queue"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !s.isPublicQueue(r, q.ID) {
		p, err := s.principal(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if p.Role != directory.RoleAdmin && p.Agency != "" && p.Agency != q.Agency {
			s.writeError(w, r, errForbidden)
			return
		}
	}
	slots, err := s.board.CallbackSlots(q.ID, s.handleTime(q.ID))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := slotsAnswer{Queue: q.ID, CallbackAfterS: int(q.CallbackAfter / time.Second), Items: make([]slotJSON, 0, len(slots))}
	for _, sl := range slots {
		out.Items = append(out.Items, slotJSON{Start: sl.Start.UTC(), End: sl.End.UTC(), Capacity: sl.Capacity,
			Booked: sl.Booked, Free: sl.Free()})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) isPublicQueue(r *http.Request, id string) bool {
	q, err := s.dir.GetQueue(r.Context(), id)
	return err == nil && q.Public
}

// handleTime is the queue's average handle time today, which sizes its
// callback slots; zero (the router's default) until one is measured.
func (s *Server) handleTime(queue string) time.Duration {
	if s.stats == nil {
		return 0
	}
	for _, q := range s.stats.Queues() {
		if q.Queue == queue && q.Today.AHTS != nil && *q.Today.AHTS > 0 {
			return time.Duration(*q.Today.AHTS * float64(time.Second))
		}
	}
	return 0
}

type callbackRequest struct {
	Number     string     `json:"number"`
	CallbackAt *time.Time `json:"callback_at"`
}

// postCallback turns a waiting contact into a callback, for its citizen
// (by token) or a gateway of its agency.
func (s *Server) postCallback(w http.ResponseWriter, r *http.Request) {
	if err := s.checkCitizenWrite(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	c, _, ok := s.contactFor(w, r, "callback", s.callbackAccess)
	if !ok {
		return
	}
	var req callbackRequest
	if err := s.readBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.callbackOffered(c); err != nil {
		s.writeError(w, r, err)
		return
	}
	cr := cases.CallbackRequest{Number: req.Number, HandleTime: s.handleTime(c.Queue)}
	if req.CallbackAt != nil {
		cr.At = *req.CallbackAt
	}
	v, err := s.board.RequestCallback(r.Context(), c.ID, cr)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.statusOf(v))
}

// callbackAccess: the contact's citizen, or for a voice call a gateway of
// its agency (or an all-agency gateway), may ask for its callback.
func (s *Server) callbackAccess(r *http.Request, c cases.ContactView) (string, error) {
	actor, err := s.contactAccess(r, c)
	if err != nil || actor == "" {
		return actor, err
	}
	if strings.HasPrefix(actor, directory.RoleGateway+":") {
		return actor, nil
	}
	return "", forbiddenField("", "only the citizen or the telephony gateway may ask for a callback")
}

// callbackOffered refuses a callback the queue does not offer now: it must
// take callbacks, offer them (callback_after_s above zero) and estimate a
// wait past that threshold for this caller.
func (s *Server) callbackOffered(c cases.ContactView) error {
	q, err := s.board.Queue(c.Queue)
	if err != nil {
		return err
	}
	if !q.OffersCallbacks() {
		return errorf(http.StatusConflict, codeConflict, "", "this queue does not offer callbacks")
	}
	if s.estimator == nil || c.Status != cases.StatusQueued {
		return nil // the router says why a contact that is not waiting cannot
	}
	wait, _ := s.estimator.Estimate(c.Queue, c.Position)
	if !q.OffersCallback(time.Duration(wait) * time.Second) {
		return errorf(http.StatusConflict, codeConflict, "",
			fmt.Sprintf("a callback is offered when the wait passes %d s; the estimate is %d s", int(q.CallbackAfter/time.Second), wait))
	}
	return nil
}
