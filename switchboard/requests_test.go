package switchboard

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"tellonce/cases"
	"tellonce/router"
)

// refusingJournal never confirms a commit, and records the waits.
type refusingJournal struct {
	mu    sync.Mutex
	waits []uint64
}

func (j *refusingJournal) Wait(_ context.Context, seq uint64) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.waits = append(j.waits, seq)
	return errors.New("the disk is full")
}

func (j *refusingJournal) count() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.waits)
}

// TestEveryRequestWaitsForDurability walks one contact of each channel
// through every request a client can make. Each one the router accepts
// must wait for the journal: with a journal that never confirms, each
// answers ErrNotDurable (unavailable), never success. A request method
// that forgot the wait would answer nil here.
func TestEveryRequestWaitsForDurability(t *testing.T) {
	r, err := router.New(router.Config{})
	if err != nil {
		t.Fatal(err)
	}
	const q, pool = "gov.general", "lang.pool"
	for _, cfg := range []cases.QueueConfig{
		{ID: q, Agency: "gov", Name: "General", Wrapup: -1,
			Channels: []cases.Channel{cases.ChannelVoice, cases.ChannelChat, cases.ChannelCallback}},
		{ID: pool, Agency: "lang", Name: "Interpreters", Kind: cases.QueueInterpreter, Wrapup: -1,
			Channels: []cases.Channel{cases.ChannelChat, cases.ChannelVoice}},
	} {
		if _, err := r.UpsertQueue(cfg); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range []cases.AgentProfile{
		{Username: "kim", Agency: "gov", Queues: map[string]int{q: 1}, MaxChats: 3},
		{Username: "lee", Agency: "gov", Queues: map[string]int{q: 1}, MaxChats: 3},
		{Username: "nam", Agency: "lang", Queues: map[string]int{pool: 1}, Skills: map[string]int{"lang:vi": 5}, MaxChats: 3},
	} {
		if _, err := r.UpsertAgent(a); err != nil {
			t.Fatal(err)
		}
	}
	j := &refusingJournal{}
	sb := New(r, j, nil)
	ctx := context.Background()

	// step runs one request, which the router must accept and the
	// switchboard must then hold until the journal confirms.
	waited := 0
	stepped := map[string]bool{}
	step := func(name string, err error) {
		t.Helper()
		stepped[name] = true
		if !errors.Is(err, ErrNotDurable) {
			t.Fatalf("%s = %v; want ErrNotDurable", name, err)
		}
		if f, ok := Classify(err); !ok || f.Code != CodeUnavailable {
			t.Errorf("Classify(%s's error) = %+v, %v; want unavailable", name, f, ok)
		}
		if n := j.count(); n == waited {
			t.Errorf("%s: the journal was not asked", name)
		} else {
			waited = n
		}
	}
	// offered is the one agent of these with an offer, and the offer.
	offered := func(agents ...string) (string, string) {
		t.Helper()
		for _, a := range agents {
			d, err := sb.Desk(a)
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Offers) == 1 {
				return a, d.Offers[0].ID
			}
		}
		t.Fatalf("none of %v has an offer", agents)
		return "", ""
	}
	held := func(agent string) string {
		t.Helper()
		d, err := sb.Desk(agent)
		if err != nil || len(d.Contacts) != 1 {
			t.Fatalf("Desk(%s) = %d contacts, %v; want one", agent, len(d.Contacts), err)
		}
		return d.Contacts[0].Contact.ID
	}
	for _, a := range []string{"kim", "lee", "nam"} {
		if _, _, err := sb.Connect(a); err != nil {
			t.Fatal(err)
		}
	}
	step("SetState", sb.SetState(ctx, "lee", cases.StateAvailable, ""))

	// A chat: accepted by lee, talked about, interpreted, transferred to
	// kim, who files a follow-up callback.
	chat, err := sb.Enqueue(ctx, EnqueueRequest{Channel: cases.ChannelChat, Queue: q,
		Caller: cases.Caller{ID: "web-1"}})
	step("Enqueue", err)
	_, offer := offered("lee")
	step("Accept", sb.Accept(ctx, "lee", offer))
	step("CitizenSay", sb.CitizenSay(ctx, chat.ID, "hello"))
	step("AgentSay", sb.AgentSay(ctx, "lee", chat.ID, "how can I help"))
	step("Note", sb.Note(ctx, "lee", chat.CaseID, "lost card"))
	step("SetState", sb.SetState(ctx, "nam", cases.StateAvailable, ""))
	step("Interpret", sb.Interpret(ctx, "lee", chat.ID, cases.InterpretRequest{Language: "vi"}))
	_, offer = offered("nam")
	step("Accept", sb.Accept(ctx, "nam", offer))
	step("ReleaseInterpreter", sb.ReleaseInterpreter(ctx, "lee", chat.ID))
	step("SetState", sb.SetState(ctx, "kim", cases.StateAvailable, ""))
	step("Transfer", sb.Transfer(ctx, "lee", chat.ID, cases.Target{Agent: "kim"}, cases.TransferCold, "for kim"))
	_, offer = offered("kim")
	step("Accept", sb.Accept(ctx, "kim", offer))
	step("EndWithCallback", sb.EndWithCallback(ctx, "kim", held("kim"), cases.FollowUp{Queue: q, Number: "01012345678"}))

	// The follow-up callback: whoever is offered it dials; nobody answers.
	agent, offer := offered("kim", "lee")
	step("Accept", sb.Accept(ctx, agent, offer))
	step("CallbackResult", sb.CallbackResult(ctx, agent, held(agent), cases.CallbackNoAnswer))

	// A call, declined once: the gateway's frames.
	call, err := sb.Enqueue(ctx, EnqueueRequest{Channel: cases.ChannelVoice, Queue: q, Caller: cases.Caller{ID: "0212345678"}})
	step("Enqueue", err)
	agent, offer = offered("kim", "lee")
	step("Decline", sb.Decline(ctx, agent, offer, "busy"))
	agent, offer = offered("kim", "lee")
	step("Accept", sb.Accept(ctx, agent, offer))
	step("Transcript", sb.Transcript(ctx, call.ID, cases.RoleCitizen, "hello"))
	step("Record", sb.Record(ctx, call.ID, "gateway:gw", cases.Recording{File: "a.wav", Seconds: 3, StartedAt: time.Now()}))
	step("ConnectFailed", sb.ConnectFailed(ctx, call.ID, cases.ConnectNoAnswer))
	step("SetState", sb.SetState(ctx, agent, cases.StateAvailable, ""))
	agent, offer = offered("kim", "lee")
	step("Accept", sb.Accept(ctx, agent, offer))
	step("AgentHangup", sb.AgentHangup(ctx, call.ID))

	other, err := sb.Enqueue(ctx, EnqueueRequest{Channel: cases.ChannelVoice, Queue: q, Caller: cases.Caller{ID: "0299998888"}})
	step("Enqueue", err)
	step("CallerHangup", sb.CallerHangup(ctx, other.ID))

	// A chat that its agent ends.
	ended, err := sb.Enqueue(ctx, EnqueueRequest{Channel: cases.ChannelChat, Queue: q, Caller: cases.Caller{ID: "web-5"}})
	step("Enqueue", err)
	agent, offer = offered("kim", "lee")
	step("Accept", sb.Accept(ctx, agent, offer))
	step("End", sb.End(ctx, agent, ended.ID, "resolved", "answered"))

	// A waiting chat that becomes a callback, which the gateway dials.
	for _, a := range []string{"kim", "lee"} {
		if v, _ := sb.Agent(a); v.State != cases.StateBreak {
			step("SetState", sb.SetState(ctx, a, cases.StateBreak, "lunch"))
		}
	}
	waiting, err := sb.Enqueue(ctx, EnqueueRequest{Channel: cases.ChannelChat, Queue: q, Caller: cases.Caller{ID: "web-2"}})
	step("Enqueue", err)
	_, err = sb.RequestCallback(ctx, waiting.ID, cases.CallbackRequest{Number: "01055556666"})
	step("RequestCallback", err)
	step("SetState", sb.SetState(ctx, "kim", cases.StateAvailable, ""))
	_, offer = offered("kim")
	step("Accept", sb.Accept(ctx, "kim", offer))
	step("DialResult", sb.DialResult(ctx, waiting.ID, cases.CallbackBusy))

	last, err := sb.Enqueue(ctx, EnqueueRequest{Channel: cases.ChannelChat, Queue: q, Caller: cases.Caller{ID: "web-3"}})
	step("Enqueue", err)
	step("EndContact", sb.EndContact(ctx, last.ID, "supervisor:sup.gov"))
	leaving, err := sb.Enqueue(ctx, EnqueueRequest{Channel: cases.ChannelChat, Queue: q, Caller: cases.Caller{ID: "web-4"}})
	step("Enqueue", err)
	step("CitizenLeave", sb.CitizenLeave(ctx, leaving.ID))

	// A refusal of the router is answered as it is, before any wait.
	before := j.count()
	if err := sb.Accept(ctx, "kim", "of-nobody"); !errors.Is(err, cases.ErrNotFound) {
		t.Errorf("Accept(unknown offer) = %v; want not found", err)
	}
	if j.count() != before {
		t.Error("a refused request waited for the journal")
	}

	// Every request method is walked above: a new one joins the walk.
	notRequests := map[string]bool{"Settle": true, "SyncQueue": true, "SyncAgency": true, "SyncUser": true, "RestoreAgent": true}
	ctxType := reflect.TypeFor[context.Context]()
	for m := range reflect.TypeOf(sb).Methods() {
		if m.Type.NumIn() > 1 && m.Type.In(1) == ctxType && !notRequests[m.Name] && !stepped[m.Name] {
			t.Errorf("request %s is not walked by this test", m.Name)
		}
	}
}
