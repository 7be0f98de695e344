package agents

import (
	"errors"
	"net/http"

	"tellonce/auth"
	"tellonce/cases"
)

// Refusal is a frame refused on a contact, case or offer that exists but
// is not the sender's: an attempt on someone's personal data, which the
// access audit records (Config.Refused). A frame naming an id that does
// not exist refuses nothing of anyone's and is not reported.
type Refusal struct {
	// Login is who sent it; Addr where from.
	Login auth.Principal
	Addr  string
	// Frame is the frame's type; ContactID and CaseID what it named (the
	// case also when only its contact or offer was named).
	Frame     string
	ContactID string
	CaseID    string
}

// clientAddr is where a socket's request came from, as the server tells
// it (Config.ClientAddr), else the connection's remote address.
func (h *Hub) clientAddr(r *http.Request) string {
	if h.cfg.ClientAddr != nil {
		return h.cfg.ClientAddr(r)
	}
	return r.RemoteAddr
}

// refused reports a refused frame of c, if err is a refusal ("not
// found" for the sender) of something that exists.
func (h *Hub) refused(c *conn, frame, contactID, caseID, offerID string, err error) {
	if h.cfg.Refused == nil || !errors.Is(err, cases.ErrNotFound) && !errors.Is(err, cases.ErrForbidden) {
		return
	}
	h.refusedIDs(c, frame, contactID, caseID, offerID)
}

// refusedIDs reports a refusal of c's frame naming these ids, for those
// that exist.
func (h *Hub) refusedIDs(c *conn, frame, contactID, caseID, offerID string) {
	if h.cfg.Refused == nil {
		return
	}
	if offerID != "" && contactID == "" {
		if o, err := h.sb.Offer(offerID); err == nil {
			contactID = o.ContactID
		}
	}
	if contactID != "" {
		cv, err := h.sb.Peek(contactID)
		if err != nil {
			contactID = ""
		} else {
			caseID = cv.CaseID
		}
	}
	if caseID != "" && contactID == "" {
		if _, err := h.sb.Case(caseID); err != nil {
			caseID = ""
		}
	}
	if contactID == "" && caseID == "" {
		return
	}
	h.cfg.Refused(Refusal{Login: c.login, Addr: c.addr, Frame: frame, ContactID: contactID, CaseID: caseID})
}
