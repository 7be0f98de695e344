package agents

import (
	"strconv"
	"testing"

	"tellonce/router"
)

// BenchmarkLineMove measures what one move of a long line costs the path
// that delivers events: a caller joins the back of a line of 20,000
// waiting contacts whose first 100 are chats with their citizens
// connected. Delivery runs on the commit path here (the test sink delivers
// under the router's write), so its cost is in each Enqueue.
//
//	go test -run '^$' -bench LineMove -benchtime 2000x ./agents/
func BenchmarkLineMove(b *testing.B) {
	const citizens, line = 100, 20_000
	e := newEnv(b)
	var ids []string
	for i := range citizens {
		ids = append(ids, e.enqueue(router.EnqueueRequest{Caller: caller("c" + strconv.Itoa(i))}).ID)
	}
	for i := range line - citizens {
		e.enqueue(router.EnqueueRequest{Caller: caller("v" + strconv.Itoa(i)), Channel: router.ChannelVoice})
	}
	for i, id := range ids {
		if q := e.dial("/citizen/" + id).expectNext("queued"); q.num("position") != i+1 {
			b.Fatalf("citizen %d connected at %v; want position %d", i, q, i+1)
		}
	}
	b.ResetTimer()
	for i := range b.N {
		e.enqueue(router.EnqueueRequest{Caller: caller("b" + strconv.Itoa(i)), Channel: router.ChannelVoice})
	}
}
