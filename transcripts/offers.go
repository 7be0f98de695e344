package transcripts

import (
	"net/url"
	"strings"
	"time"

	"tellonce/cases"
)

// An offer shows the agent the case (router offerCaseView: every earlier
// leg, message and note; for an interpreter, the request and what they may
// hear). When that is more than the offered contact's own leg, the offer is
// a read of personal data and goes into the access audit, like a read in
// review. The journal writes these rows in the same transaction as the
// batch of router events that made the offers, so an offer is audited
// before it is delivered to the agent, at no cost beyond one more
// multi-row insert in a batch that holds such offers (none otherwise).
//
// Such a row: the agent (username, role "agent", their own agency), the
// offer's time, the case, and query "offer_id=…&contact_id=…"; action
// "offer", outcome "ok". The client address is empty: routing does not
// know where the agent is connected from. A retried batch writes its rows
// again; the offer's natural key (case and query, which names the offer)
// makes that a no-op.

// offerAuditRole is the role an offered reader is audited with: only
// agents are offered contacts (directory.RoleAgent).
const offerAuditRole = "agent"

// auditRow is an access_audit row written by the journal; the json names
// are its columns (see pgBatch).
type auditRow struct {
	At         time.Time `json:"at"`
	Username   string    `json:"username"`
	Role       string    `json:"role"`
	Agency     string    `json:"agency_id"`
	ClientAddr string    `json:"client_addr"`
	Action     string    `json:"action"`
	CaseID     string    `json:"case_id"`
	Query      string    `json:"query"`
	Format     string    `json:"format"`
	Reason     string    `json:"reason"`
	Outcome    string    `json:"outcome"`
}

// offerAuditTable is where offer rows go; a row that exists (the same
// offer, from a retried batch) is left alone. The conflict target names
// the partial unique index access_audit_offer (migration 0009).
var offerAuditTable = table{"access_audit",
	[]string{"at", "username", "role", "agency_id", "client_addr", "action", "case_id", "query", "format", "reason", "outcome"},
	"ON CONFLICT (case_id, query) WHERE action = 'offer' DO NOTHING"}

// offerShowsHistory says whether an offered event shows the agent more of
// the case than the offered contact's own leg: the case has another leg
// (the contact was transferred, the citizen came back to the case, another
// contact of the case is live) or an earlier leg of the same contact (it
// was re-queued after an agent had it), or the contact is an interpreter's
// leg (whose view is filtered down to that leg, but shows the request and
// the conversation it is for), or the offer shows the caller's earlier
// cases (cases.CaseView.History, looked up by Review.Earlier). The first
// offer of a brand-new case of a caller without history shows only what
// the citizen brought to this contact, and is not audited.
func offerShowsHistory(ev *cases.Event) bool {
	c := ev.Contact
	if c == nil || ev.Case == nil {
		return false // an offer without its case shows nothing (agents.Hub sends none)
	}
	if c.ConferenceOf != "" || len(ev.Case.History) > 0 {
		return true
	}
	own := 0
	for _, l := range ev.Case.Legs {
		if l.ContactID != c.ID {
			return true
		}
		own++
	}
	return own > 1
}

// offerAuditRowOf is the audit row of an offered event.
func offerAuditRowOf(ev *cases.Event) auditRow {
	return auditRow{At: ts(ev.At), Username: clean(ev.Agent), Role: offerAuditRole, Agency: clean(ev.AgentAgency),
		Action: ActionOffer, CaseID: storable(ev.CaseID), Query: storable(offerQuery(ev.OfferID, ev.ContactID, ev.Case.History)),
		Outcome: OutcomeOK}
}

// offerQuery is what an offer row says was read: the offer, the contact
// it offered and, for a returning caller, the earlier cases it showed
// ("history=<id>,<id>", newest first).
func offerQuery(offerID, contactID string, history []cases.PastCase) string {
	q := "offer_id=" + url.QueryEscape(offerID) + "&contact_id=" + url.QueryEscape(contactID)
	if len(history) == 0 {
		return q
	}
	ids := make([]string, len(history))
	for i, h := range history {
		ids[i] = url.QueryEscape(h.ID)
	}
	return q + "&history=" + strings.Join(ids, ",")
}

func (r auditRow) appendArgs(a []any) []any {
	return append(a, r.At, r.Username, r.Role, r.Agency, r.ClientAddr, r.Action, r.CaseID, r.Query, r.Format,
		r.Reason, r.Outcome)
}
