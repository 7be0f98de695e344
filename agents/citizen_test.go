package agents

import (
	"strconv"
	"testing"

	"tellonce/router"
)

// fixedEstimator estimates 30 seconds per place; past place 3 the light
// turns yellow.
type fixedEstimator struct{}

func (fixedEstimator) Estimate(queue string, position int) (int, string) {
	if position > 3 {
		return position * 30, "yellow"
	}
	return position * 30, "green"
}

func TestQueuedPositionsFollowTheLine(t *testing.T) {
	// Six waiting citizens take the one-read path (router.Waiting) that
	// long lines use; the estimator fills the wait and the light.
	e := newEnv(t, func(c *Config) { c.Estimator = fixedEstimator{} })
	var cits []*client
	for i := 1; i <= 6; i++ {
		cv := e.enqueue(router.EnqueueRequest{Caller: caller("c" + strconv.Itoa(i))})
		c := e.dial("/citizen/" + cv.ID)
		q := c.expectNext("queued")
		if q.num("position") != i || q.num("estimated_wait_s") != 30*i {
			t.Fatalf("citizen %d got %v; want position %d, %ds", i, q, i, 30*i)
		}
		if want := map[bool]string{true: "yellow", false: "green"}[i > 3]; q.str("light") != want {
			t.Errorf("citizen %d light %q; want %s", i, q.str("light"), want)
		}
		cits = append(cits, c)
	}
	e.available("kim") // takes the first three: kim handles three chats at once
	for i, c := range cits {
		want := max(i+1-3, 0) // 0: an agent is being offered the contact
		if q := c.expectNext("queued"); q.num("position") != want || q.num("estimated_wait_s") != 30*want {
			t.Errorf("citizen %d after kim went available: %v; want position %d", i+1, q, want)
		}
	}
}
