package switchboard

import (
	"errors"
	"testing"

	"tellonce/cases"
	"tellonce/router"
)

// TestUnrouteRefusesWhileContactsAreLive: a queue or an agent with a live
// contact stays in the router (a conflict); one the router does not know
// is no error; an idle one leaves.
func TestUnrouteRefusesWhileContactsAreLive(t *testing.T) {
	r, err := router.New(router.Config{})
	if err != nil {
		t.Fatal(err)
	}
	sb := New(r, nil, nil)
	q := cases.QueueConfig{ID: "gov110.general", Agency: "gov110", Channels: []cases.Channel{cases.ChannelVoice}}
	if _, err := r.UpsertQueue(q); err != nil {
		t.Fatal(err)
	}
	if _, err := r.UpsertAgent(cases.AgentProfile{Username: "kim", Agency: "gov110", Queues: map[string]int{q.ID: 1}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Enqueue(router.EnqueueRequest{Channel: cases.ChannelVoice, Queue: q.ID, Caller: cases.Caller{ID: "01012345678"}}); err != nil {
		t.Fatal(err)
	}
	if removed, err := sb.UnrouteQueue(q.ID); removed || !errors.Is(err, cases.ErrConflict) {
		t.Errorf("UnrouteQueue(busy) = %v, %v; want false and a conflict", removed, err)
	}
	if removed, err := sb.UnrouteQueue("nts126.tax"); removed || err != nil {
		t.Errorf("UnrouteQueue(unknown) = %v, %v; want false, nil", removed, err)
	}
	if err := sb.UnrouteAgent("nobody"); err != nil {
		t.Errorf("UnrouteAgent(unknown) = %v; want nil", err)
	}
	if err := sb.UnrouteAgent("kim"); err != nil {
		t.Errorf("UnrouteAgent(idle) = %v; want nil", err)
	}
	if _, err := r.Agent("kim"); !errors.Is(err, cases.ErrNotFound) {
		t.Errorf("after UnrouteAgent, Agent(kim) = %v; want not found", err)
	}
}
