package transcripts

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"tellonce/cases"
	"tellonce/privacy"
)

// Timeline is one case as review shows it: every leg in every agency it
// passed through, with how long the caller waited on each, and every
// entry of its timeline — messages from both sides, speech-to-text
// segments, notes, transfers and endings with their dispositions — each
// entry placed in the agency and queue of the leg it belongs to.
type Timeline struct {
	CaseID    string      `json:"case_id"`
	Status    string      `json:"status"`
	StartedAt time.Time   `json:"started_at"`
	EndedAt   *time.Time  `json:"ended_at"`
	Caller    CallerView  `json:"caller"`
	Context   ContextView `json:"context"`
	Agencies  []string    `json:"agencies"`
	Agents    []string    `json:"agents"`
	Legs      []LegView   `json:"legs"`
	Events    []EntryView `json:"events"`
	Masked    bool        `json:"masked"`
	// PreviousCaseID is the closed case this one continues (a citizen who
	// came back too late to reopen it), from its first entry.
	PreviousCaseID string       `json:"previous_case_id,omitempty"`
	scope          reviewScopes // what the case touched, for Allowed
}

// CallerView is who called.
type CallerView struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Language string `json:"language"`
}

// ContextView is what the caller told the IVR or the widget.
type ContextView struct {
	Summary    string            `json:"summary"`
	IVR        []string          `json:"ivr"`
	Attributes map[string]string `json:"attributes"`
}

// LegView is one contact of the case: a stay in one queue.
type LegView struct {
	ContactID      string     `json:"contact_id"`
	Agency         string     `json:"agency"`
	Queue          string     `json:"queue"`
	Channel        string     `json:"channel"`
	Status         string     `json:"status"`
	Agent          string     `json:"agent"` // who answered, "" if nobody did
	CallbackNumber string     `json:"callback_number,omitempty"`
	EnqueuedAt     time.Time  `json:"enqueued_at"`
	AnsweredAt     *time.Time `json:"answered_at"`
	EndedAt        *time.Time `json:"ended_at"`
	// WaitS is how long the caller waited in this queue: until answered,
	// or until the leg ended unanswered; null while still waiting.
	WaitS       *float64 `json:"wait_s"`
	Disposition string   `json:"disposition"`
	// Interpreter marks a leg that brought an interpreter into the case.
	Interpreter bool `json:"interpreter,omitempty"`
}

// EntryView is one timeline entry.
type EntryView struct {
	Seq       int64             `json:"seq"`
	At        time.Time         `json:"at"`
	Type      string            `json:"type"`
	Actor     string            `json:"actor"`
	ContactID string            `json:"contact_id,omitempty"`
	Agency    string            `json:"agency,omitempty"`
	Queue     string            `json:"queue,omitempty"`
	Text      string            `json:"text"`
	Data      map[string]string `json:"data"`
}

// reviewScopes is what decides who may read a case. Interpreter legs do
// not count: an interpreter, and their agency, read only the part they
// interpreted (InterpreterPart).
type reviewScopes struct {
	agencies map[string]bool
	answered map[string]bool // agents who answered a leg
	// interpreting maps an agency to the answered interpreter legs it gave
	// the case.
	interpreting map[string][]string
}

// Allowed reports whether a reader of scope may read this case.
func (t *Timeline) Allowed(s Scope) bool {
	switch {
	case s.All:
		return true
	case s.Agency != "":
		return t.scope.agencies[s.Agency]
	case s.Agent != "":
		return t.scope.answered[s.Agent]
	}
	return false
}

// Timeline reads one case whole, or ErrNotFound. It is masked by the
// storage rule (resident registration numbers, again, for rows stored
// under older rules) and no further: see Redacted.
func (rv *Review) Timeline(ctx context.Context, caseID string) (Timeline, error) {
	var t Timeline
	err := rv.db.InTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		t, err = rv.timeline(ctx, tx, caseID)
		return err
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Timeline{}, fmt.Errorf("read case %s: %w", caseID, err)
	}
	return t, err
}

func (rv *Review) timeline(ctx context.Context, tx *sqlx.Tx, caseID string) (Timeline, error) {
	var c struct {
		loadedCase
		Status   string     `db:"status"`
		ClosedAt *time.Time `db:"closed_at"`
	}
	err := tx.GetContext(ctx, &c, rv.db.Rebind(`SELECT id, caller_id, caller_name, caller_language, context,
		created_at, status, closed_at FROM cases WHERE id = ?`), caseID)
	if errors.Is(err, sql.ErrNoRows) {
		return Timeline{}, ErrNotFound
	}
	if err != nil {
		return Timeline{}, err
	}
	cx, err := parseContext(c.Context)
	if err != nil {
		return Timeline{}, err
	}
	t := Timeline{
		CaseID: c.ID, Status: c.Status, StartedAt: c.CreatedAt.UTC(), EndedAt: utcPtr(c.ClosedAt),
		Caller:  CallerView{ID: storable(c.CallerID), Name: storable(c.CallerName), Language: c.CallerLanguage},
		Context: ContextView{Summary: cx.Summary, IVR: orEmpty(cx.IVR), Attributes: cx.Attributes},
		scope:   reviewScopes{agencies: map[string]bool{}, answered: map[string]bool{}, interpreting: map[string][]string{}},
	}
	if t.Context.Attributes == nil {
		t.Context.Attributes = map[string]string{}
	}
	// The legs: the same query as a search page's, in a transaction so the
	// legs and entries are of one moment.
	q, args, err := sqlx.In(legsOfCases, []string{caseID}, []string{caseID})
	if err != nil {
		return Timeline{}, err
	}
	var legs []reviewLeg
	if err := tx.SelectContext(ctx, &legs, rv.db.Rebind(q), args...); err != nil {
		return Timeline{}, fmt.Errorf("read legs: %w", err)
	}
	sortLegs(legs)
	var agents []string
	t.Agencies, _, agents, _ = touched(legs)
	t.Agents = agents
	where := map[string]LegView{} // contact id -> its latest leg
	for _, l := range legs {
		v := legView(l)
		t.Legs = append(t.Legs, v)
		where[l.ContactID] = v
		switch {
		case l.ConferenceOf != "":
			if l.AnsweredAt != nil && !slices.Contains(t.scope.interpreting[l.Agency], l.ContactID) {
				t.scope.interpreting[l.Agency] = append(t.scope.interpreting[l.Agency], l.ContactID)
			}
		default:
			t.scope.agencies[l.Agency] = true
			if l.AnsweredAt != nil {
				t.scope.answered[l.Agent] = true
			}
		}
	}
	var events []loadedEvent
	if err := tx.SelectContext(ctx, &events, rv.db.Rebind(`SELECT case_id, seq, at, type, actor, text, data
		FROM case_events WHERE case_id = ? ORDER BY seq`), caseID); err != nil {
		return Timeline{}, fmt.Errorf("read case events: %w", err)
	}
	t.Events = make([]EntryView, 0, len(events))
	for _, e := range events {
		var data map[string]string
		if err := json.Unmarshal([]byte(e.Data), &data); err != nil {
			return Timeline{}, fmt.Errorf("event %d: decode data: %w", e.Seq, err)
		}
		if data == nil {
			data = map[string]string{}
		}
		data = storableMap(data)
		v := EntryView{Seq: e.Seq, At: e.At.UTC(), Type: e.Type, Actor: storable(e.Actor), ContactID: data["contact_id"],
			Text: storable(e.Text), Data: data}
		if len(t.Events) == 0 && e.Type == cases.CaseContactCreated {
			t.PreviousCaseID = data["previous_case_id"]
		}
		if l, ok := where[v.ContactID]; ok {
			v.Agency, v.Queue = l.Agency, l.Queue
		} else if a := data["agency"]; a != "" {
			v.Agency = a // a note: its author's agency
		}
		t.Events = append(t.Events, v)
	}
	if t.Legs == nil {
		t.Legs = []LegView{}
	}
	return t, nil
}

// sortLegs puts legs in the order they started (a re-queued contact's
// earlier leg before its current one, which started later), and marks the
// earlier legs of an interpreter's contact as the interpreter's too.
func sortLegs(legs []reviewLeg) {
	conference := map[string]string{}
	for _, l := range legs {
		if l.ConferenceOf != "" {
			conference[l.ContactID] = l.ConferenceOf
		}
	}
	for i := range legs {
		if legs[i].ConferenceOf == "" {
			legs[i].ConferenceOf = conference[legs[i].ContactID]
		}
	}
	slices.SortStableFunc(legs, func(a, b reviewLeg) int {
		if c := a.EnqueuedAt.Compare(b.EnqueuedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ContactID, b.ContactID)
	})
}

func legView(l reviewLeg) LegView {
	v := LegView{ContactID: l.ContactID, Agency: l.Agency, Queue: l.Queue, Channel: l.Channel, Status: l.Status,
		CallbackNumber: storable(l.CallbackNumber), EnqueuedAt: l.EnqueuedAt.UTC(), AnsweredAt: utcPtr(l.AnsweredAt),
		EndedAt: utcPtr(l.EndedAt), Disposition: storable(l.Disposition), Interpreter: l.ConferenceOf != ""}
	if l.AnsweredAt != nil {
		v.Agent = l.Agent
	}
	until := l.AnsweredAt
	if until == nil {
		until = l.EndedAt
	}
	if until != nil {
		w := math.Round(until.Sub(l.EnqueuedAt).Seconds()*1000) / 1000
		v.WaitS = &w
	}
	return v
}

// Redacted is the timeline as a reader without the pii permission sees
// it: phone, card and account numbers masked wherever free text or a
// caller's id may hold them — attribute and data keys included (resident
// registration numbers were masked before storage, and are masked again
// here for rows written before the current rules).
func (t Timeline) Redacted() Timeline {
	m := privacy.MaskContacts
	t.Caller.ID, t.Caller.Name = m(t.Caller.ID), m(t.Caller.Name)
	t.Context.Summary = m(t.Context.Summary)
	t.Context.IVR = mapSlice(t.Context.IVR, m)
	t.Context.Attributes = privacy.MaskMap(t.Context.Attributes, false)
	t.Legs = slices.Clone(t.Legs)
	for i := range t.Legs {
		t.Legs[i].CallbackNumber = m(t.Legs[i].CallbackNumber)
		t.Legs[i].Disposition = m(t.Legs[i].Disposition)
	}
	t.Events = slices.Clone(t.Events)
	for i := range t.Events {
		e := &t.Events[i]
		e.Actor, e.Text, e.Data = m(e.Actor), m(e.Text), privacy.MaskMap(e.Data, false)
	}
	t.Masked = true
	return t
}

func mapSlice(in []string, f func(string) string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = f(s)
	}
	return out
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// InterpreterPart is what a supervisor of an agency that only interpreted
// in the case may review: each interpreter leg the agency gave, the
// request that asked for it (with the agent's note) and the conversation
// of the interpreted contact while the interpreter was on it — by the
// timeline's order, from the leg's "assigned" entry to its "ended" one.
// Not the caller's number, the context, notes or other legs. ok is false
// when the scope has no such part (a request nobody answered gives none).
func (t *Timeline) InterpreterPart(s Scope) (Timeline, bool) {
	legIDs := t.scope.interpreting[s.Agency]
	if s.Agency == "" || len(legIDs) == 0 {
		return Timeline{}, false
	}
	part := Timeline{CaseID: t.CaseID, Status: t.Status, StartedAt: t.StartedAt, EndedAt: t.EndedAt,
		Caller:   CallerView{Name: t.Caller.Name, Language: t.Caller.Language},
		Context:  ContextView{IVR: []string{}, Attributes: map[string]string{}},
		Agencies: []string{s.Agency}, Agents: []string{}, Legs: []LegView{}, Events: []EntryView{}, Masked: t.Masked}
	main := map[string]string{} // interpreter leg -> the contact it interpreted
	for _, e := range t.Events {
		if e.Type == "interpreter_requested" && slices.Contains(legIDs, e.Data["interpreter_contact_id"]) {
			main[e.Data["interpreter_contact_id"]] = e.ContactID
		}
	}
	for _, l := range t.Legs {
		if slices.Contains(legIDs, l.ContactID) {
			part.Legs = append(part.Legs, l)
			if l.Agent != "" && !slices.Contains(part.Agents, l.Agent) {
				part.Agents = append(part.Agents, l.Agent)
			}
		}
	}
	on := map[string]bool{} // interpreted contacts with their interpreter on, as the timeline goes
	for _, e := range t.Events {
		leg := e.Data["contact_id"]
		switch {
		case e.Type == "interpreter_requested" && main[e.Data["interpreter_contact_id"]] != "":
			part.Events = append(part.Events, e)
		case e.Type == "assigned" && main[leg] != "":
			on[main[leg]] = true
		case e.Type == "ended" && main[leg] != "":
			on[main[leg]] = false
		case (e.Type == "message" || e.Type == "transcript") && on[e.ContactID]:
			part.Events = append(part.Events, e)
		}
	}
	return part, true
}
