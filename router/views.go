package router

import (
	"maps"
	"slices"
	"strings"

	memdb "github.com/hashicorp/go-memdb"
)

// Views are copies handed to callers; changing them changes nothing inside.

func contactView(c *contactRow) ContactView {
	return ContactView{
		ID: c.ID, CaseID: c.CaseID, Identity: c.Identity, Origin: originOf(c), IdemKey: c.IdemKey, Queue: c.Queue, Agency: c.Agency,
		Channel: c.Channel, Status: c.Status, Caller: c.Caller, Priority: c.Priority,
		Context: c.Context.Clone(), CallbackNumber: c.CallbackNumber,
		Skills: maps.Clone(c.Skills), Agent: c.Agent, OfferID: c.OfferID,
		EnqueuedAt: c.EnqueuedAt, AnsweredAt: c.AnsweredAt, EndedAt: c.EndedAt,
		Disposition: c.Disposition, WarmOf: c.WarmOf, Seq: c.Seq, Head: c.Head,
		CaseCreatedAt: c.CaseCreatedAt, Due: c.Due, Slot: c.Slot, Attempts: c.Attempts,
		ConferenceOf: c.ConferenceOf, Interpreter: c.Interpreter,
	}
}

func agentView(a *agentRow) AgentView {
	return AgentView{
		Username: a.Username, Name: a.Name, Agency: a.Agency,
		State: a.display(), Chosen: a.State, Reason: a.Reason, Connected: a.Connected,
		StateSince: a.StateSince, IdleSince: a.IdleSince,
		Voice: a.Voice, Chats: a.Chats, MaxChats: a.EffectiveMaxChats(),
		Queues: maps.Clone(a.Queues), Skills: maps.Clone(a.Skills), Phone: a.Phone,
	}
}

func caseView(txn *memdb.Txn, c *caseRow, status string) (CaseView, error) {
	events, err := caseEvents(txn, c.ID)
	if err != nil {
		return CaseView{}, err
	}
	return CaseView{
		ID: c.ID, Identity: c.Identity, Caller: c.Caller, Context: c.Context.Clone(), Status: status,
		CreatedAt: c.CreatedAt, Legs: slices.Clone(c.Legs), Events: events,
		Agents: slices.Clone(c.Agents), History: clonePastCases(c.History), PreviousCaseID: c.PreviousCaseID,
	}, nil
}

// offerCaseView is the case as an offer carries it: with the transfer note
// that created the leg first.
func offerCaseView(txn *memdb.Txn, c *contactRow) (CaseView, error) {
	if c.ConferenceOf != "" {
		return interpreterCaseView(txn, c)
	}
	cs, err := getCase(txn, c.CaseID)
	if err != nil {
		return CaseView{}, err
	}
	v, err := caseView(txn, cs, "open")
	if err != nil {
		return v, err
	}
	for i, e := range v.Events {
		// TransferSeq names the note; a leg restored after a restart has
		// lost it, and is found as the transfer's new contact instead.
		if c.TransferSeq != 0 && e.Seq == c.TransferSeq ||
			c.TransferSeq == 0 && e.Type == CaseTransfer && e.Data["new_contact_id"] == c.ID {
			note := e.Clone()
			v.TransferNote = &note
			v.Events = append([]CaseEvent{e}, append(v.Events[:i:i], v.Events[i+1:]...)...)
			break
		}
	}
	return v, nil
}

// waitingLine is a queue's waiting contacts in rank order, all classes.
func waitingLine(txn *memdb.Txn, queue string) ([]*contactRow, error) {
	it, err := txn.Get(tableContacts, indexContactRank, queue)
	if err != nil {
		return nil, err
	}
	var line []*contactRow
	for raw := it.Next(); raw != nil; raw = it.Next() {
		line = append(line, raw.(*contactRow))
	}
	slices.SortFunc(line, func(a, b *contactRow) int { return strings.Compare(a.rank(), b.rank()) })
	return line, nil
}

// lineLengths are the lengths of a queue's two lines (voice, chat) as of
// one snapshot.
type lineLengths [2]int

// classes are the two lines of a queue, in lineLengths' order.
var classes = [2]capClass{classVoice, classChat}

// position counts the contact's place in its queue's line, from 1: one
// more than the waiting contacts of the queue that rank before it, counted
// from whichever end of each line is nearer (see countAhead), so that a
// new caller at the back of a long line costs a step or two. lengths are
// the lines' lengths as of txn.
func position(txn *memdb.Txn, c *contactRow, lengths lineLengths) (int, error) {
	if c.Status != StatusQueued {
		return 0, nil
	}
	n, _, err := placeWithin(txn, c, lengths, 0)
	return n, err
}

// placeWithin is position, giving up (ok false) when the contact is more
// than limit steps from both ends of a line; limit 0 never gives up.
func placeWithin(txn *memdb.Txn, c *contactRow, lengths lineLengths, limit int) (int, bool, error) {
	if c.Status != StatusQueued {
		return 0, true, nil
	}
	n := 1
	for i, class := range classes {
		ahead, ok, err := countAhead(txn, c.Queue, class, c.rank(), lengths[i], limit)
		if err != nil || !ok {
			return 0, false, err
		}
		n += ahead
	}
	return n, true, nil
}

// position is the package function's answer inside the write, under the
// write lock: the lengths include the write group's own changes.
func (w *writer) position(c *contactRow) (int, error) {
	var lengths lineLengths
	for i, class := range classes {
		lengths[i] = w.lineLength(lineID(c.Queue, class))
	}
	return position(w.txn, c, lengths)
}

// countAhead counts the contacts of a queue's line of one class ranked
// before rank, on txn, where the line is length long; with limit above 0 it
// gives up (false) past limit steps from the front. Most places asked
// for are near an end: a new caller at the back (an enqueue, a citizen's
// socket opening right after), a transfer or a requeue at the front. So it
// walks from the front and, for the first backProbe steps, also from rank
// towards the back, stopping at whichever ends first: from the front it
// has counted the contacts ahead; from rank it has counted the others, and
// the line's length gives the rest. Past the probe it walks on from the
// front only: two walks at once cost more per step than one (they share
// the CPU's caches), so a place in the middle costs what one walk does.
func countAhead(txn *memdb.Txn, queue string, class capClass, rank string, length, limit int) (int, bool, error) {
	front, err := txn.Get(tableContacts, indexContactRank, queue, string(class))
	if err != nil {
		return 0, false, err
	}
	rest, err := txn.LowerBound(tableContacts, indexContactRank, queue, string(class), rank)
	if err != nil {
		return 0, false, err
	}
	ahead, others := 0, 0
	for {
		f := front.Next()
		if f == nil || f.(*contactRow).rank() >= rank {
			return ahead, true, nil
		}
		ahead++
		if limit > 0 && ahead > limit {
			return 0, false, nil
		}
		if others >= backProbe {
			continue
		}
		// The lower bound runs on past the line into the next ones.
		b := rest.Next()
		if b == nil || b.(*contactRow).Queue != queue || b.(*contactRow).class() != class {
			return length - others, true, nil
		}
		others++
	}
}

// backProbe is how far countAhead looks from a contact towards the back of
// its line before it counts from the front only.
const backProbe = 256
