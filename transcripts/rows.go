package transcripts

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"tellonce/cases"
	"tellonce/privacy"
)

// batchRows is one batch of router events as the rows it writes. Which
// event touches which table:
//
//   - every event with a CaseEvent appends it to case_events;
//   - every event with a Contact upserts the contact (the batch keeps only
//     each contact's last state: the rows are upserts, so the last wins);
//   - contact_created also inserts its case unless it exists (a new case is
//     created in the same router transaction as its first contact, so the
//     contact carries everything the case row holds), and opens it again if
//     the log holds it closed (a reopened case);
//   - requeued keeps the leg that ended, since the contact row moves on to
//     the new leg;
//   - case_closed marks the case closed (an upsert, so a case row that is
//     missing for any reason is written whole from the event);
//   - offered, when the offer shows the agent the case's history, writes
//     an access_audit row (offers.go).
//
// Events without these (queued, queue_changed, offer_revoked, declined,
// offer_timeout, agent_state, the warm transferred notice) change nothing
// that outlives the process: an offer ends at a restart anyway.
type batchRows struct {
	cases    []caseRow
	closed   []caseRow
	contacts []contactRow
	legs     []legRow
	// requeuedFromDB are re-queued contacts the writer has not seen
	// assigned (before a restart): the ended leg is copied from the
	// contact's row before the row moves on.
	requeuedFromDB []requeueRef
	events         []eventRow
	// audit is the offers that read a case's history, in event order.
	audit []auditRow
}

// caseRows is the batch's new and closed cases as one list, each case once,
// as the two statements of writeRows leave them: a case opened and closed in
// the batch is its new row, closed.
func (b batchRows) caseRows() []caseRow {
	if len(b.closed) == 0 {
		return b.cases
	}
	out := append(make([]caseRow, 0, len(b.cases)+len(b.closed)), b.cases...)
	at := make(map[string]int, len(b.cases))
	for i, c := range b.cases {
		at[c.ID] = i
	}
	for _, c := range b.closed {
		if i, ok := at[c.ID]; ok {
			out[i].Status, out[i].ClosedAt = c.Status, c.ClosedAt
			continue
		}
		out = append(out, c)
	}
	return out
}

// The rows' json names are their columns: on PostgreSQL a batch travels as
// one JSON array per table (see pgBatch).
type caseRow struct {
	ID             string    `json:"id"`
	CallerID       string    `json:"caller_id"`
	CallerName     string    `json:"caller_name"`
	CallerLanguage string    `json:"caller_language"`
	Context        string    `json:"context"`
	Status         string    `json:"status"`
	CreatedAt      time.Time `json:"created_at"`
	ClosedAt       any       `json:"closed_at"` // time.Time or nil
	Identity       string    `json:"identity"`
}

type contactRow struct {
	ID             string    `json:"id"`
	CaseID         string    `json:"case_id"`
	Queue          string    `json:"queue_id"`
	Agency         string    `json:"agency_id"`
	Channel        string    `json:"channel"`
	Status         string    `json:"status"`
	Priority       int       `json:"priority"`
	CallerID       string    `json:"caller_id"`
	Context        string    `json:"context"`
	CallbackNumber string    `json:"callback_number"`
	Skills         string    `json:"skills"`
	Seq            int64     `json:"seq"`
	Head           bool      `json:"head"`
	Agent          string    `json:"agent"`
	EnqueuedAt     time.Time `json:"enqueued_at"`
	AnsweredAt     any       `json:"answered_at"`
	EndedAt        any       `json:"ended_at"`
	Disposition    string    `json:"disposition"`
	WarmOf         string    `json:"warm_of"`
	DueAt          any       `json:"due_at"`
	Slot           bool      `json:"slot"`
	Attempts       int       `json:"attempts"`
	ConferenceOf   string    `json:"conference_of"`
	Identity       string    `json:"identity"`
	Origin         string    `json:"origin"`
	IdemKey        string    `json:"idempotency_key"`
}

type legRow struct {
	ContactID   string    `json:"contact_id"`
	EnqueuedAt  time.Time `json:"enqueued_at"`
	CaseID      string    `json:"case_id"`
	Queue       string    `json:"queue_id"`
	Agency      string    `json:"agency_id"`
	Channel     string    `json:"channel"`
	Seq         int64     `json:"seq"`
	Agent       string    `json:"agent"`
	AnsweredAt  any       `json:"answered_at"`
	EndedAt     time.Time `json:"ended_at"`
	Disposition string    `json:"disposition"`
}

type requeueRef struct {
	ContactID   string    `json:"contact_id"`
	Disposition string    `json:"disposition"`
	EndedAt     time.Time `json:"ended_at"`
	EnqueuedAt  time.Time `json:"enqueued_at"` // of the new leg: older legs are the ones to keep
}

type eventRow struct {
	CaseID    string    `json:"case_id"`
	Seq       int64     `json:"seq"`
	At        time.Time `json:"at"`
	Type      string    `json:"type"`
	Actor     string    `json:"actor"`
	ContactID string    `json:"contact_id"`
	Text      string    `json:"text"`
	Data      string    `json:"data"`
}

// contextJSON is how a ContactContext is stored: snake_case, and nil stays
// null so that what is read back equals what was written.
type contextJSON struct {
	Summary    string            `json:"summary"`
	IVR        []string          `json:"ivr"`
	Attributes map[string]string `json:"attributes"`
}

// rowsOf maps a batch to rows. It keeps j.assigned current, so it runs on
// the writer's goroutine, over batches in Seq order (a retry may present
// events again: the map then ends in the same state).
func (j *Journal) rowsOf(batch []cases.Event) (batchRows, error) {
	var b batchRows
	last := map[string]int{} // contact id -> index in b.contacts
	newCase := map[string]bool{}
	for i := range batch {
		ev := &batch[i]
		if ev.CaseEvent != nil {
			r, err := eventRowOf(ev.CaseID, ev.CaseEvent)
			if err != nil {
				return batchRows{}, fmt.Errorf("event %d: %w", ev.Seq, err)
			}
			b.events = append(b.events, r)
		}
		if ev.Type == cases.EventCaseClosed && ev.Case != nil {
			r, err := closedCaseRow(ev)
			if err != nil {
				return batchRows{}, fmt.Errorf("event %d: %w", ev.Seq, err)
			}
			b.closed = append(b.closed, r)
		}
		if ev.Type == cases.EventOffered && offerShowsHistory(ev) {
			b.audit = append(b.audit, offerAuditRowOf(ev))
		}
		c := ev.Contact
		if c == nil {
			continue
		}
		if ev.Type == cases.EventContactCreated && !newCase[c.CaseID] {
			r, err := newCaseRow(c)
			if err != nil {
				return batchRows{}, fmt.Errorf("event %d: %w", ev.Seq, err)
			}
			newCase[c.CaseID] = true
			b.cases = append(b.cases, r)
		}
		if ev.Type == cases.EventContactCreated && len(b.closed) > 0 {
			// A case closed earlier in this batch and reopened by this
			// contact ends the batch open.
			b.closed = slices.DeleteFunc(b.closed, func(r caseRow) bool { return r.ID == c.CaseID })
		}
		if ev.Type == cases.EventRequeued {
			disposition := storable(ev.Data["disposition"])
			if disposition == "" {
				disposition = "requeued"
			}
			if prev, ok := j.assigned[c.ID]; ok {
				b.legs = append(b.legs, endedLeg(prev, ev.At, disposition))
			} else {
				// Assigned before this process started: its row is committed.
				b.requeuedFromDB = append(b.requeuedFromDB, requeueRef{ContactID: c.ID,
					Disposition: disposition, EndedAt: ts(ev.At), EnqueuedAt: ts(c.EnqueuedAt)})
			}
		}
		r, err := contactRowOf(c)
		if err != nil {
			return batchRows{}, fmt.Errorf("event %d: contact %s: %w", ev.Seq, c.ID, err)
		}
		if c.Status == cases.StatusAssigned {
			j.assigned[c.ID] = r
		} else {
			delete(j.assigned, c.ID)
		}
		if k, seen := last[c.ID]; seen {
			b.contacts[k] = r
		} else {
			last[c.ID] = len(b.contacts)
			b.contacts = append(b.contacts, r)
		}
	}
	return b, nil
}

func newCaseRow(c *cases.ContactView) (caseRow, error) {
	cx, err := contextString(c.Context)
	if err != nil {
		return caseRow{}, err
	}
	return caseRow{ID: c.CaseID, Identity: clean(c.Identity), CallerID: clean(c.Caller.ID), CallerName: storable(c.Caller.Name),
		CallerLanguage: clean(c.Caller.Language), Context: cx, Status: "open",
		CreatedAt: ts(caseCreatedAt(c))}, nil
}

// caseCreatedAt is when the contact's case began; a view from before the
// field existed falls back to the contact's own start.
func caseCreatedAt(c *cases.ContactView) time.Time {
	if c.CaseCreatedAt.IsZero() {
		return c.EnqueuedAt
	}
	return c.CaseCreatedAt
}

func closedCaseRow(ev *cases.Event) (caseRow, error) {
	cs := ev.Case
	cx, err := contextString(cs.Context)
	if err != nil {
		return caseRow{}, err
	}
	return caseRow{ID: cs.ID, Identity: clean(cs.Identity), CallerID: clean(cs.Caller.ID), CallerName: storable(cs.Caller.Name),
		CallerLanguage: clean(cs.Caller.Language), Context: cx, Status: "closed",
		CreatedAt: ts(cs.CreatedAt), ClosedAt: ts(ev.At)}, nil
}

func contactRowOf(c *cases.ContactView) (contactRow, error) {
	cx, err := contextString(c.Context)
	if err != nil {
		return contactRow{}, err
	}
	skills, err := json.Marshal(c.Skills)
	if err != nil {
		return contactRow{}, fmt.Errorf("encode skills: %w", err)
	}
	return contactRow{
		ID: c.ID, CaseID: c.CaseID, Queue: c.Queue, Agency: c.Agency, Channel: string(c.Channel),
		Status: string(c.Status), Priority: c.Priority, CallerID: clean(c.Caller.ID), Context: cx,
		CallbackNumber: storable(c.CallbackNumber), Skills: string(skills), Seq: int64(c.Seq), Head: c.Head,
		Agent: c.Agent, EnqueuedAt: ts(c.EnqueuedAt), AnsweredAt: nullTS(c.AnsweredAt),
		EndedAt: nullTS(c.EndedAt), Disposition: storable(c.Disposition), WarmOf: c.WarmOf,
		DueAt: nullTS(c.Due), Slot: c.Slot, Attempts: c.Attempts, ConferenceOf: c.ConferenceOf,
		Identity: clean(c.Identity), Origin: c.Origin, IdemKey: clean(c.IdemKey),
	}, nil
}

// endedLeg is the leg a contact row described before it was re-queued.
func endedLeg(c contactRow, endedAt time.Time, disposition string) legRow {
	return legRow{ContactID: c.ID, EnqueuedAt: c.EnqueuedAt, CaseID: c.CaseID, Queue: c.Queue,
		Agency: c.Agency, Channel: c.Channel, Seq: c.Seq, Agent: c.Agent, AnsweredAt: c.AnsweredAt,
		EndedAt: ts(endedAt), Disposition: disposition}
}

func eventRowOf(caseID string, e *cases.CaseEvent) (eventRow, error) {
	data, err := json.Marshal(storableMap(e.Data))
	if err != nil {
		return eventRow{}, fmt.Errorf("encode case event data: %w", err)
	}
	return eventRow{CaseID: caseID, Seq: e.Seq, At: ts(e.At), Type: e.Type, Actor: clean(e.Actor),
		ContactID: e.Data["contact_id"], Text: storable(e.Text), Data: string(data)}, nil
}

func contextString(c cases.ContactContext) (string, error) {
	ivr := c.IVR
	if ivr != nil {
		ivr = make([]string, len(c.IVR))
		for i, s := range c.IVR {
			ivr[i] = storable(s)
		}
	}
	b, err := json.Marshal(contextJSON{Summary: storable(c.Summary), IVR: ivr, Attributes: storableMap(c.Attributes)})
	if err != nil {
		return "", fmt.Errorf("encode context: %w", err)
	}
	return string(b), nil
}

func parseContext(s string) (cases.ContactContext, error) {
	var c contextJSON
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		return cases.ContactContext{}, fmt.Errorf("decode context: %w", err)
	}
	// Rows written under older masking rules are masked again as they are
	// read (see storable).
	ivr := c.IVR
	if ivr != nil {
		ivr = mapSlice(c.IVR, storable)
	}
	return cases.ContactContext{Summary: storable(c.Summary), IVR: ivr, Attributes: storableMap(c.Attributes)}, nil
}

// ts is a time as both backends keep it: UTC, to the microsecond.
func ts(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// nullTS is ts, with the zero time as NULL.
func nullTS(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return ts(t)
}

// clean makes text storable on both backends: PostgreSQL rejects NUL bytes
// and invalid UTF-8 in TEXT, and one such string would otherwise fail its
// batch on every retry, blocking every acknowledgement behind it.
func clean(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}

// storable is free text as it may be stored: clean, and with every
// resident registration number masked (docs/privacy.md: masked before
// it is stored). Free text is whatever a person typed or said: messages,
// notes, transcripts, summaries, dispositions, the IVR path, attributes,
// the caller's name and the callback number. Identifiers (case, contact
// and caller ids, agents, queues) are not free text and are kept as given;
// the router has masked any resident registration number in a caller id
// already, as it enters.
//
// Every read of a row applies it again (the caller id and the actor
// included): a row written before the rules recognised a form still holds
// that form, and nobody — with the pii permission or without — reads it
// back, nor does a restore put it into the router. Remask rewrites such
// rows for good.
func storable(s string) string { return privacy.MaskRRN(clean(s)) }

// storableMap is m with storable keys and values (m itself when nothing
// changes), so the JSON holds no escaped NUL that a later cast to jsonb
// would reject and no resident registration number.
func storableMap(m map[string]string) map[string]string {
	dirty := false
	for k, v := range m {
		if storable(k) != k || storable(v) != v {
			dirty = true
			break
		}
	}
	if !dirty {
		return m
	}
	out := maps.Clone(m)
	clear(out)
	for k, v := range m {
		out[storable(k)] = storable(v)
	}
	return out
}
