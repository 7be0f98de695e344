package transcripts

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"

	"tellonce/cases"
)

// Load reads every open case with its legs, timeline and live contacts, in
// the shape cases.Restore takes, for rebuilding the router on start. Run
// it before Run starts writing. Offered contacts come back as offered: the
// router returns them to their queue (offers do not survive a restart).
func (j *Journal) Load(ctx context.Context) ([]cases.CaseSnapshot, error) {
	var out []cases.CaseSnapshot
	err := j.db.InTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		out, err = j.load(ctx, tx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("load open cases: %w", err)
	}
	return out, nil
}

type loadedCase struct {
	ID             string    `db:"id"`
	CallerID       string    `db:"caller_id"`
	CallerName     string    `db:"caller_name"`
	CallerLanguage string    `db:"caller_language"`
	Context        string    `db:"context"`
	CreatedAt      time.Time `db:"created_at"`
	Identity       string    `db:"identity"`
}

type loadedContact struct {
	ID             string       `db:"id"`
	CaseID         string       `db:"case_id"`
	Queue          string       `db:"queue_id"`
	Agency         string       `db:"agency_id"`
	Channel        string       `db:"channel"`
	Status         string       `db:"status"`
	Priority       int          `db:"priority"`
	Context        string       `db:"context"`
	CallbackNumber string       `db:"callback_number"`
	Skills         string       `db:"skills"`
	Seq            uint64       `db:"seq"`
	Head           bool         `db:"head"`
	Agent          string       `db:"agent"`
	EnqueuedAt     time.Time    `db:"enqueued_at"`
	AnsweredAt     sql.NullTime `db:"answered_at"`
	EndedAt        sql.NullTime `db:"ended_at"`
	Disposition    string       `db:"disposition"`
	WarmOf         string       `db:"warm_of"`
	DueAt          sql.NullTime `db:"due_at"`
	Slot           bool         `db:"slot"`
	Attempts       int          `db:"attempts"`
	ConferenceOf   string       `db:"conference_of"`
	Identity       string       `db:"identity"`
	Origin         string       `db:"origin"`
	IdemKey        string       `db:"idempotency_key"`
}

type loadedLeg struct {
	ContactID   string       `db:"contact_id"`
	CaseID      string       `db:"case_id"`
	Queue       string       `db:"queue_id"`
	Agency      string       `db:"agency_id"`
	Channel     string       `db:"channel"`
	Seq         uint64       `db:"seq"`
	Agent       string       `db:"agent"`
	EnqueuedAt  time.Time    `db:"enqueued_at"`
	AnsweredAt  sql.NullTime `db:"answered_at"`
	EndedAt     sql.NullTime `db:"ended_at"`
	Disposition string       `db:"disposition"`
}

type loadedEvent struct {
	CaseID string    `db:"case_id"`
	Seq    int64     `db:"seq"`
	At     time.Time `db:"at"`
	Type   string    `db:"type"`
	Actor  string    `db:"actor"`
	Text   string    `db:"text"`
	Data   string    `db:"data"`
}

// Load's queries: open cases, then only the rows that belong to them.
const (
	loadCases = `SELECT id, caller_id, caller_name, caller_language, context, created_at, identity
		FROM cases WHERE status = 'open' ORDER BY created_at, id`
	loadContacts = `SELECT c.id, c.case_id, c.queue_id, c.agency_id, c.channel, c.status, c.priority, c.context,
		c.callback_number, c.skills, c.seq, c.head, c.agent, c.enqueued_at, c.answered_at, c.ended_at,
		c.disposition, c.warm_of, c.due_at, c.slot, c.attempts, c.conference_of, c.identity, c.origin, c.idempotency_key
		FROM contacts c JOIN cases k ON k.id = c.case_id WHERE k.status = 'open'`
	loadLegs = `SELECT l.contact_id, l.case_id, l.queue_id, l.agency_id, l.channel, l.seq, l.agent,
		l.enqueued_at, l.answered_at, l.ended_at, l.disposition
		FROM requeued_legs l JOIN cases k ON k.id = l.case_id WHERE k.status = 'open'`
	loadEvents = `SELECT e.case_id, e.seq, e.at, e.type, e.actor, e.text, e.data
		FROM case_events e JOIN cases k ON k.id = e.case_id WHERE k.status = 'open' ORDER BY e.case_id, e.seq`
)

func (j *Journal) load(ctx context.Context, tx *sqlx.Tx) ([]cases.CaseSnapshot, error) {
	var open []loadedCase
	if err := tx.SelectContext(ctx, &open, loadCases); err != nil {
		return nil, fmt.Errorf("read cases: %w", err)
	}
	var contacts []loadedContact
	if err := tx.SelectContext(ctx, &contacts, loadContacts); err != nil {
		return nil, fmt.Errorf("read contacts: %w", err)
	}
	var legs []loadedLeg
	if err := tx.SelectContext(ctx, &legs, loadLegs); err != nil {
		return nil, fmt.Errorf("read requeued legs: %w", err)
	}
	var events []loadedEvent
	if err := tx.SelectContext(ctx, &events, loadEvents); err != nil {
		return nil, fmt.Errorf("read case events: %w", err)
	}

	byID := gather(open, contacts, legs, events)
	out := make([]cases.CaseSnapshot, 0, len(open))
	for _, c := range open {
		s, err := snapshotOf(c, byID[c.ID])
		if err != nil {
			return nil, fmt.Errorf("case %s: %w", c.ID, err)
		}
		if len(s.Contacts) == 0 {
			// The router closes a case in the transaction that ends its last
			// leg, and a transaction commits whole: this should not happen.
			j.log.Warn("case log: open case without a live contact; not restored", "case", c.ID)
			continue
		}
		out = append(out, s)
	}
	return out, nil
}

// gather sorts rows read for the given cases into each case's parts.
func gather(open []loadedCase, contacts []loadedContact, legs []loadedLeg, events []loadedEvent) map[string]*caseParts {
	byID := make(map[string]*caseParts, len(open))
	for _, c := range open {
		byID[c.ID] = &caseParts{}
	}
	interpreter := map[string]bool{} // contact ids of interpreter legs
	for _, c := range contacts {
		if c.ConferenceOf != "" {
			interpreter[c.ID] = true
		}
	}
	for _, l := range legs {
		if p := byID[l.CaseID]; p != nil {
			leg := legOf(l.ContactID, l.Queue, l.Agency, l.Channel, l.Agent, l.EnqueuedAt, l.AnsweredAt,
				l.EndedAt, l.Disposition)
			leg.Interpreter = interpreter[l.ContactID]
			p.legs = append(p.legs, legPart{leg: leg, seq: l.Seq, earlier: true})
		}
	}
	for i := range contacts {
		c := &contacts[i]
		if p := byID[c.CaseID]; p != nil {
			leg := legOf(c.ID, c.Queue, c.Agency, c.Channel, c.Agent, c.EnqueuedAt, c.AnsweredAt,
				c.EndedAt, c.Disposition)
			leg.Interpreter = c.ConferenceOf != ""
			p.legs = append(p.legs, legPart{leg: leg, seq: c.Seq, contact: c})
		}
	}
	for _, e := range events {
		if p := byID[e.CaseID]; p != nil {
			p.events = append(p.events, e)
		}
	}
	return byID
}

// caseParts gathers one case's rows.
type caseParts struct {
	legs   []legPart
	events []loadedEvent
}

// legPart is a leg with what orders it: a contact row's current leg (with
// the row) or an earlier leg of a re-queued contact.
type legPart struct {
	leg     cases.Leg
	seq     uint64
	earlier bool
	contact *loadedContact
}

func snapshotOf(c loadedCase, p *caseParts) (cases.CaseSnapshot, error) {
	cx, err := parseContext(c.Context)
	if err != nil {
		return cases.CaseSnapshot{}, err
	}
	s := cases.CaseSnapshot{ID: c.ID, Identity: c.Identity, Caller: cases.Caller{ID: storable(c.CallerID), Name: storable(c.CallerName),
		Language: c.CallerLanguage}, Context: cx, CreatedAt: c.CreatedAt.UTC()}
	// Legs in the order the router appended them: by when they started,
	// then enqueue order, an earlier leg of a contact before its current one.
	slices.SortStableFunc(p.legs, func(a, b legPart) int {
		if c := a.leg.EnqueuedAt.Compare(b.leg.EnqueuedAt); c != 0 {
			return c
		}
		if c := cmp.Compare(a.seq, b.seq); c != 0 {
			return c
		}
		return cmp.Compare(btoi(!a.earlier), btoi(!b.earlier))
	})
	for _, l := range p.legs {
		s.Legs = append(s.Legs, l.leg)
		if l.contact == nil || !live(l.contact.Status) {
			continue
		}
		cs, err := contactSnapshotOf(l.contact)
		if err != nil {
			return cases.CaseSnapshot{}, fmt.Errorf("contact %s: %w", l.contact.ID, err)
		}
		s.Contacts = append(s.Contacts, cs)
	}
	slices.SortFunc(s.Contacts, func(a, b cases.ContactSnapshot) int { return cmp.Compare(a.Seq, b.Seq) })
	for _, e := range p.events {
		var data map[string]string
		if err := json.Unmarshal([]byte(e.Data), &data); err != nil {
			return cases.CaseSnapshot{}, fmt.Errorf("event %d: decode data: %w", e.Seq, err)
		}
		s.Events = append(s.Events, cases.CaseEvent{Seq: e.Seq, At: e.At.UTC(), Type: e.Type,
			Actor: storable(e.Actor), Text: storable(e.Text), Data: storableMap(data)})
		if e.Type == cases.CaseContactCreated && s.PreviousCaseID == "" && len(s.Events) == 1 {
			s.PreviousCaseID = data["previous_case_id"] // a case's link is on its first entry
		}
	}
	return s, nil
}

// legOf is a stored leg as the router shows it: the agent is the one who
// answered (a contact row also names the agent it was merely offered to).
func legOf(contactID, queue, agency, channel, agent string, enqueued time.Time, answered, ended sql.NullTime,
	disposition string) cases.Leg {
	l := cases.Leg{ContactID: contactID, Queue: queue, Agency: agency, Channel: cases.Channel(channel),
		EnqueuedAt: enqueued.UTC(), AnsweredAt: nullTime(answered), EndedAt: nullTime(ended),
		Disposition: storable(disposition)}
	if answered.Valid {
		l.Agent = agent
	}
	return l
}

// live reports whether a stored contact status is a live one.
func live(status string) bool {
	switch cases.ContactStatus(status) {
	case cases.StatusQueued, cases.StatusOffered, cases.StatusAssigned, cases.StatusScheduled:
		return true
	}
	return false
}

func contactSnapshotOf(r *loadedContact) (cases.ContactSnapshot, error) {
	cx, err := parseContext(r.Context)
	if err != nil {
		return cases.ContactSnapshot{}, err
	}
	var skills map[string]int
	if err := json.Unmarshal([]byte(r.Skills), &skills); err != nil {
		return cases.ContactSnapshot{}, fmt.Errorf("decode skills: %w", err)
	}
	return cases.ContactSnapshot{
		ID: r.ID, Queue: r.Queue, Channel: cases.Channel(r.Channel), Priority: r.Priority, Context: cx,
		CallbackNumber: storable(r.CallbackNumber), Skills: skills, Seq: r.Seq, EnqueuedAt: r.EnqueuedAt.UTC(),
		Head: r.Head, Status: cases.ContactStatus(r.Status), Agent: r.Agent,
		AnsweredAt: nullTime(r.AnsweredAt), WarmOf: r.WarmOf,
		Due: nullTime(r.DueAt), Slot: r.Slot, Attempts: r.Attempts, ConferenceOf: r.ConferenceOf,
		Identity: r.Identity, Origin: r.Origin, IdemKey: r.IdemKey,
	}, nil
}

func nullTime(t sql.NullTime) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
