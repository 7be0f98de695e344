package agents

import (
	"time"

	"tellonce/cases"
)

// The JSON shapes of contacts and cases, as the contract writes them in
// snake_case. They are exported so that the REST layer answers
// GET /v1/cases/{id} with the same shapes the agent console receives.
// Zero times are omitted; every time is UTC.

// CallerJSON is the citizen a case belongs to.
type CallerJSON struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Language string `json:"language,omitempty"`
}

// ContextJSON is what the citizen already told the IVR or the widget.
type ContextJSON struct {
	Summary    string            `json:"summary"`
	IVR        []string          `json:"ivr"`
	Attributes map[string]string `json:"attributes"`
}

// ContactJSON is one contact (one leg of a case). Agent, ended_at and
// disposition are additions to the contract's list, present when set.
type ContactJSON struct {
	ContactID   string      `json:"contact_id"`
	CaseID      string      `json:"case_id"`
	Queue       string      `json:"queue"`
	Agency      string      `json:"agency"`
	Channel     string      `json:"channel"`
	Status      string      `json:"status"`
	Caller      CallerJSON  `json:"caller"`
	Priority    int         `json:"priority"`
	Context     ContextJSON `json:"context"`
	EnqueuedAt  *time.Time  `json:"enqueued_at,omitempty"`
	AnsweredAt  *time.Time  `json:"answered_at,omitempty"`
	Position    int         `json:"position"`
	Agent       string      `json:"agent,omitempty"`
	EndedAt     *time.Time  `json:"ended_at,omitempty"`
	Disposition string      `json:"disposition,omitempty"`
	// CallbackNumber is the number to call (callbacks); Attempts counts
	// calls nobody answered; CallbackAt is when a scheduled callback
	// joins its line.
	CallbackNumber string     `json:"callback_number,omitempty"`
	Attempts       int        `json:"attempts,omitempty"`
	CallbackAt     *time.Time `json:"callback_at,omitempty"`
	// ConferenceOf is set on an interpreter's leg: the contact it joins.
	// Interpreter is set on a contact with an interpreter leg.
	ConferenceOf string `json:"conference_of,omitempty"`
	Interpreter  string `json:"interpreter,omitempty"`
}

// LegJSON is one leg of a case: who handled it, when, how it ended.
type LegJSON struct {
	ContactID   string     `json:"contact_id"`
	Queue       string     `json:"queue"`
	Agency      string     `json:"agency"`
	Agent       string     `json:"agent,omitempty"`
	Channel     string     `json:"channel"`
	EnqueuedAt  *time.Time `json:"enqueued_at,omitempty"`
	AnsweredAt  *time.Time `json:"answered_at,omitempty"`
	EndedAt     *time.Time `json:"ended_at,omitempty"`
	Disposition string     `json:"disposition,omitempty"`
	// Interpreter marks a leg that brought an interpreter into the case.
	Interpreter bool `json:"interpreter,omitempty"`
}

// CaseEventJSON is one entry of a case timeline.
type CaseEventJSON struct {
	Seq   int64             `json:"seq"`
	At    *time.Time        `json:"at,omitempty"`
	Type  string            `json:"type"`
	Actor string            `json:"actor"`
	Text  string            `json:"text,omitempty"`
	Data  map[string]string `json:"data,omitempty"`
}

// CaseJSON is a case with its whole context. In an offer made by a
// transfer, the transfer's entry comes first in events and is repeated in
// transfer_note, so the receiving agent reads it before anything else.
type CaseJSON struct {
	CaseID       string          `json:"case_id"`
	Caller       CallerJSON      `json:"caller"`
	Status       string          `json:"status"`
	CreatedAt    *time.Time      `json:"created_at,omitempty"`
	Legs         []LegJSON       `json:"legs"`
	Events       []CaseEventJSON `json:"events"`
	TransferNote *CaseEventJSON  `json:"transfer_note,omitempty"`
	// PreviousCaseID is the closed case this one continues, if any.
	PreviousCaseID string `json:"previous_case_id,omitempty"`
}

// ContactOf maps a router contact view to its JSON shape.
func ContactOf(v cases.ContactView) ContactJSON {
	return ContactJSON{
		ContactID: v.ID, CaseID: v.CaseID, Queue: v.Queue, Agency: v.Agency,
		Channel: string(v.Channel), Status: string(v.Status), Caller: callerOf(v.Caller),
		Priority: v.Priority, Context: contextOf(v.Context),
		EnqueuedAt: timeOf(v.EnqueuedAt), AnsweredAt: timeOf(v.AnsweredAt), Position: v.Position,
		Agent: v.Agent, EndedAt: timeOf(v.EndedAt), Disposition: v.Disposition,
		CallbackNumber: v.CallbackNumber, Attempts: v.Attempts, CallbackAt: timeOf(v.Due),
		ConferenceOf: v.ConferenceOf, Interpreter: v.Interpreter,
	}
}

// CaseOf maps a router case view to its JSON shape.
func CaseOf(v cases.CaseView) CaseJSON {
	out := CaseJSON{
		CaseID: v.ID, Caller: callerOf(v.Caller), Status: v.Status, CreatedAt: timeOf(v.CreatedAt),
		PreviousCaseID: v.PreviousCaseID, Legs: make([]LegJSON, 0, len(v.Legs)), Events: make([]CaseEventJSON, 0, len(v.Events)),
	}
	for _, l := range v.Legs {
		out.Legs = append(out.Legs, LegJSON{
			ContactID: l.ContactID, Queue: l.Queue, Agency: l.Agency, Agent: l.Agent,
			Channel: string(l.Channel), EnqueuedAt: timeOf(l.EnqueuedAt), AnsweredAt: timeOf(l.AnsweredAt),
			EndedAt: timeOf(l.EndedAt), Disposition: l.Disposition, Interpreter: l.Interpreter,
		})
	}
	for _, e := range v.Events {
		out.Events = append(out.Events, caseEventOf(e))
	}
	if v.TransferNote != nil {
		n := caseEventOf(*v.TransferNote)
		out.TransferNote = &n
	}
	return out
}

func caseEventOf(e cases.CaseEvent) CaseEventJSON {
	return CaseEventJSON{Seq: e.Seq, At: timeOf(e.At), Type: e.Type, Actor: e.Actor, Text: e.Text, Data: e.Data}
}

func callerOf(c cases.Caller) CallerJSON {
	return CallerJSON{ID: c.ID, Name: c.Name, Language: c.Language}
}

// contextOf never yields null lists, so consoles can iterate without checks.
func contextOf(c cases.ContactContext) ContextJSON {
	out := ContextJSON{Summary: c.Summary, IVR: c.IVR, Attributes: c.Attributes}
	if out.IVR == nil {
		out.IVR = []string{}
	}
	if out.Attributes == nil {
		out.Attributes = map[string]string{}
	}
	return out
}

func timeOf(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
