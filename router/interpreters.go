package router

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	memdb "github.com/hashicorp/go-memdb"
)

// Interpret brings an interpreter into an assigned contact. A conference leg
// of the case waits in an interpreter queue (the requesting agent's
// agency's, else the first by id) and may be taken at once by the agents of
// every other interpreter queue too, so any agency's interpreter can
// answer; it needs lang:<language> (the caller's language when language is
// empty) and is never offered to the requesting agent. Once accepted, the
// interpreter holds the leg with the whole case, sees every message of the
// contact, and speaks into it; the leg ends on its own (End by the
// interpreter, ReleaseInterpreter by the agent) or with the contact.
//
// An interpreter sees what interpreting needs and no more (see
// interpreterCaseView): the agent's note for them, the caller's name and
// language, and the conversation from the moment they join — the case's
// earlier conversation only when the agent shares it (ShareHistory).
func (r *Router) Interpret(username, contactID, language, note string) (ContactView, []Event, error) {
	return r.InterpretWith(username, contactID, InterpretRequest{Language: language, Note: note})
}

// InterpretWith is Interpret with every option.
func (r *Router) InterpretWith(username, contactID string, req InterpretRequest) (ContactView, []Event, error) {
	language, note := req.Language, req.Note
	if language != "" && !validLanguage(language) {
		return ContactView{}, nil, fmt.Errorf("interpreter for %s: %w", contactID,
			invalid("language", "must be a language tag like en or zh-Hant"))
	}
	if utf8.RuneCountInString(note) > maxTextLen {
		return ContactView{}, nil, fmt.Errorf("interpreter for %s: %w", contactID,
			invalid("note", "is longer than %d characters", maxTextLen))
	}
	return r.writeContact(func(w *writer) (*contactRow, error) {
		leg, err := w.interpretTxn(username, contactID, strings.ToLower(language), note, req.ShareHistory)
		if err != nil {
			return nil, fmt.Errorf("interpreter for %s: %w", contactID, err)
		}
		return leg, nil
	})
}

func validLanguage(l string) bool {
	return l != "" && len(l) <= 16 &&
		strings.Trim(l, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") == ""
}

func (w *writer) interpretTxn(username, contactID, language, note string, share bool) (*contactRow, error) {
	c, err := w.assignedTo(username, contactID)
	if err != nil {
		return nil, err
	}
	if c.ConferenceOf != "" {
		return nil, invalid("contact_id", "an interpreter leg cannot ask for another interpreter")
	}
	if c.Interpreter != "" {
		return nil, fmt.Errorf("an interpreter is already asked for or present (%s): %w", c.Interpreter, ErrConflict)
	}
	if language == "" {
		language = strings.ToLower(c.Caller.Language)
	}
	if language == "" {
		return nil, invalid("language", "is required: the caller has no language")
	}
	a, err := w.agent(username)
	if err != nil {
		return nil, err
	}
	queues, err := interpreterQueues(w.tx())
	if err != nil {
		return nil, err
	}
	if len(queues) == 0 {
		return nil, fmt.Errorf("no interpreter queue is configured: %w", ErrUnavailable)
	}
	home := queues[0]
	for _, q := range queues {
		if q.Agency == a.Agency {
			home = q
			break
		}
	}
	var others []string
	for _, q := range queues {
		if q.ID != home.ID {
			others = append(others, q.ID)
		}
	}
	channel := ChannelVoice
	if c.Channel == ChannelChat {
		channel = ChannelChat
	}
	extra := map[string]int{"lang:" + language: 1}
	w.r.seq++
	leg := &contactRow{
		ID: w.id("ct"), CaseID: c.CaseID, Queue: home.ID, Agency: home.Agency, Channel: channel,
		Caller: interpreterCaller(c.Caller), Priority: c.Priority, Extra: extra,
		Skills: contactSkills(home.RequiredSkills, extra, ""), Seq: w.r.seq,
		CaseCreatedAt: c.CaseCreatedAt, EnqueuedAt: w.now, Status: StatusQueued,
		Overflowed: others, ConferenceOf: c.ID, RequestedBy: username,
	}
	data := map[string]string{"contact_id": c.ID, "interpreter_contact_id": leg.ID, "language": language, "queue": home.ID,
		"agency": a.Agency}
	if share {
		data["share_history"] = "true"
	}
	e, err := w.appendCaseEventTxn(c.CaseID, CaseInterpreterRequested, "agent:"+username, note, data)
	if err != nil {
		return nil, err
	}
	leg.TransferSeq = e.Seq
	if err := w.addContactTxn(leg, home); err != nil {
		return nil, err
	}
	n := c.copy()
	n.Interpreter = leg.ID
	if err := w.putContact(n); err != nil {
		return nil, err
	}
	v := contactView(leg)
	w.emit(Event{Type: EventContactCreated, CaseID: c.CaseID, ContactID: leg.ID, Queue: leg.Queue,
		Actor: e.Actor, Contact: &v})
	w.emitInterpreterWith(n, leg, InterpreterRequested, "", &e)
	return leg, nil
}

// interpreterQueues lists the interpreter queues by id.
func interpreterQueues(txn *memdb.Txn) ([]*queueRow, error) {
	it, err := txn.Get(tableQueues, indexID)
	if err != nil {
		return nil, fmt.Errorf("queues: %w", err)
	}
	var out []*queueRow
	for raw := it.Next(); raw != nil; raw = it.Next() {
		if q := raw.(*queueRow); q.Interpreters() {
			out = append(out, q)
		}
	}
	slices.SortFunc(out, func(a, b *queueRow) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// ReleaseInterpreter is the contact's agent ending its interpreter leg:
// cancelling the request while it waits, or letting the interpreter go.
func (r *Router) ReleaseInterpreter(username, contactID string) ([]Event, error) {
	return r.write(func(w *writer) error {
		c, err := w.assignedTo(username, contactID)
		if err != nil {
			return fmt.Errorf("release interpreter of %s: %w", contactID, err)
		}
		if c.Interpreter == "" {
			return fmt.Errorf("release interpreter of %s: no interpreter: %w", contactID, ErrConflict)
		}
		return w.endContactTxn(c.Interpreter, "interpreter_released", "", "agent:"+username, EventEnded)
	})
}

// unlinkConferenceTxn cleans up the interpreter link of a contact that
// ended: the contact's interpreter leg ends with it; an interpreter leg
// that ended is forgotten by its contact, whose agent and citizen are told.
func (w *writer) unlinkConferenceTxn(c *contactRow, actor string) error {
	if c.Interpreter != "" {
		if err := w.endContactTxn(c.Interpreter, "contact_ended", "", actor, EventEnded); err != nil {
			return err
		}
	}
	if c.ConferenceOf == "" {
		return nil
	}
	main, err := w.contact(c.ConferenceOf)
	if err != nil || main.Interpreter != c.ID {
		return nil
	}
	n := main.copy()
	n.Interpreter = ""
	if err := w.putContact(n); err != nil {
		return err
	}
	if n.Status.Live() {
		w.emitInterpreterWith(n, c, InterpreterLeft, c.Agent, nil)
	}
	return nil
}

// emitInterpreter tells the agent (and citizen) of the contact an
// interpreter leg serves how that leg stands.
func (w *writer) emitInterpreter(leg *contactRow, reason, interpreter string) {
	main, err := w.contact(leg.ConferenceOf)
	if err != nil || !main.Status.Live() {
		return
	}
	w.emitInterpreterWith(main, leg, reason, interpreter, nil)
}

func (w *writer) emitInterpreterWith(main, leg *contactRow, reason, interpreter string, e *CaseEvent) {
	language := ""
	for k := range leg.Extra {
		if l, ok := strings.CutPrefix(k, "lang:"); ok {
			language = l
		}
	}
	w.emit(Event{Type: EventInterpreter, CaseID: main.CaseID, ContactID: main.ID, Queue: leg.Queue,
		Agent: main.Agent, Actor: "router", Reason: reason, CaseEvent: e,
		Data: map[string]string{"interpreter_contact_id": leg.ID, "interpreter": interpreter, "language": language}})
}

// conferenceData is what a message on a contact carries for its joined
// interpreter, if any: who they are and their own leg's id. The leg is
// read as the call sees it, without flushing the call's rows first.
func (w *writer) conferenceData(c *contactRow) map[string]string {
	if c.Interpreter == "" {
		return nil
	}
	leg, err := w.contact(c.Interpreter)
	if err != nil || leg.Status != StatusAssigned {
		return nil
	}
	return map[string]string{"interpreter": leg.Agent, "interpreter_contact_id": leg.ID}
}

// interpreterCaseView is the case as the interpreter of leg needs it:
// the request (with the agent's note for them, first), the caller's name
// and language, their own leg, and the conversation of the contact they
// interpret — its messages and speech-to-text from the moment they
// joined, or all of the case's when the agent shared the history. Never
// notes, the context the caller gave, other legs or the caller's number:
// an interpreter may work for another agency, and needs none of it.
func interpreterCaseView(cases caseGetter, leg *contactRow) (CaseView, error) {
	cs, err := cases(leg.CaseID)
	if err != nil {
		return CaseView{}, err
	}
	return interpreterView(cs.ID, cs.Caller, cs.CreatedAt, cs.Legs, eventsOf(cs), leg.ID, leg.ConferenceOf), nil
}

// interpreterView filters a case's legs and timeline for the interpreter
// of leg legID, which interprets the contact main. They joined with the
// timeline's "assigned" entry of their leg: what was said after it (by
// seq, not time: a clock may not tell apart two changes of one instant)
// is theirs to hear.
func interpreterView(caseID string, caller Caller, created time.Time, legs []Leg, events []CaseEvent,
	legID, main string) CaseView {
	v := CaseView{ID: caseID, Caller: Caller{Name: caller.Name, Language: caller.Language}, Status: "open",
		CreatedAt: created, Events: []CaseEvent{}}
	for _, l := range legs {
		if l.ContactID == legID {
			v.Legs = append(v.Legs, l)
		}
	}
	share := false
	var request *CaseEvent
	var joined int64 // seq of the join; 0 while not joined
	for i := range events {
		e := &events[i]
		switch {
		case e.Type == CaseInterpreterRequested && e.Data["interpreter_contact_id"] == legID:
			share, request = e.Data["share_history"] == "true", e
		case e.Type == CaseAssigned && e.Data["contact_id"] == legID:
			joined = e.Seq
		}
	}
	if request != nil {
		note := request.Clone()
		v.TransferNote = &note
		v.Events = append(v.Events, request.Clone())
	}
	for _, e := range events {
		// A recording holds a whole leg, what was said before the
		// interpreter joined too: it is theirs only with the history.
		if e.Type == CaseRecording && share {
			v.Events = append(v.Events, e.Clone())
		}
		if e.Type != CaseMessage && e.Type != CaseTranscript {
			continue
		}
		during := e.Data["contact_id"] == main && joined > 0 && e.Seq > joined
		if during || share {
			v.Events = append(v.Events, e.Clone())
		}
	}
	return v
}

// InterpreterCase is the case as the interpreter holding leg legID sees it
// (see interpreterCaseView), while the leg is live and answered.
func (r *Router) InterpreterCase(legID string) (CaseView, error) {
	var out CaseView
	err := r.read(func(txn *memdb.Txn) error {
		c, err := getContact(txn, legID)
		if err != nil {
			return err
		}
		if c.ConferenceOf == "" || c.Status != StatusAssigned {
			return notYours("contact", legID)
		}
		out, err = interpreterCaseView(snapshotCases(txn), c)
		return err
	})
	return out, err
}

// interpreterCaller is the caller as an interpreter's leg carries them:
// the name to address them by and their language, not their number.
func interpreterCaller(c Caller) Caller {
	return Caller{Name: c.Name, Language: c.Language}
}

// InterpreterOnly says whether username's part in the case is only that of
// an interpreter: never assigned one of its own legs.
func interpreterOnly(cs *caseRow, username string) bool {
	for _, l := range cs.Legs {
		if l.Agent == username && !l.Interpreter {
			return false
		}
	}
	return true
}

// holdsInterpreterLeg says whether username holds a live interpreter leg
// of the case.
func holdsInterpreterLeg(cs *caseRow, username string) bool {
	for _, l := range cs.Legs {
		if l.Agent == username && l.Interpreter && l.EndedAt.IsZero() {
			return true
		}
	}
	return false
}
