package router

import (
	"maps"
	"slices"

	memdb "github.com/hashicorp/go-memdb"
)

// Views are copies handed to callers; changing them changes nothing inside,
// except the Data maps of timeline entries, which are shared with the
// timeline and read-only (see eventsOf).

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

func caseView(c *caseRow, status string) (CaseView, error) {
	events := eventsOf(c)
	return CaseView{
		ID: c.ID, Identity: c.Identity, Caller: c.Caller, Context: c.Context.Clone(), Status: status,
		CreatedAt: c.CreatedAt, Legs: slices.Clone(c.Legs), Events: events,
		Agents: slices.Clone(c.Agents), History: clonePastCases(c.History), PreviousCaseID: c.PreviousCaseID,
	}, nil
}

// caseGetter reads a case: from a snapshot (snapshotCases) or as a
// write call left it so far (writer.getCase).
type caseGetter func(id string) (*caseRow, error)

// snapshotCases reads cases from a transaction.
func snapshotCases(txn *memdb.Txn) caseGetter {
	return func(id string) (*caseRow, error) { return getCase(txn, id) }
}

// offerCaseView is the case as an offer carries it: with the transfer note
// that created the leg first.
func offerCaseView(cases caseGetter, c *contactRow) (CaseView, error) {
	if c.ConferenceOf != "" {
		return interpreterCaseView(cases, c)
	}
	cs, err := cases(c.CaseID)
	if err != nil {
		return CaseView{}, err
	}
	v, err := caseView(cs, "open")
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

// classes are the two lines of a queue, in the order [2]*lineTree holds
// them.
var classes = [2]capClass{classVoice, classChat}

// position is a contact's place in its queue's line inside the write,
// from the writer's own lines (this group's changes included); 0 when it
// is not waiting.
func (w *writer) position(c *contactRow) (int, error) {
	return placeIn([2]*lineTree{w.m.line(c.Queue, classVoice), w.m.line(c.Queue, classChat)}, c), nil
}

// sortByRank sorts contacts in routing order.
func sortByRank(cs []*contactRow) {
	slices.SortFunc(cs, func(a, b *contactRow) int {
		if byRank(a, b) {
			return -1
		}
		if byRank(b, a) {
			return 1
		}
		return 0
	})
}
