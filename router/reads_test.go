package router

import (
	"slices"
	"testing"
)

// Agents lists every agent the router knows, in username order, and a
// removed one no more.
func TestAgentsListsEveryAgent(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q")}, []AgentProfile{agent("lee", "q"), agent("kim", "q"), agent("park", "q")})
	got, err := f.r.Agents()
	if err != nil || !slices.Equal(got, []string{"kim", "lee", "park"}) {
		t.Fatalf("Agents() = %v, %v; want kim, lee, park", got, err)
	}
	if _, err := f.r.RemoveAgent("lee"); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.r.Agents(); !slices.Equal(got, []string{"kim", "park"}) {
		t.Errorf("after removing lee, Agents() = %v; want kim, park", got)
	}
}
