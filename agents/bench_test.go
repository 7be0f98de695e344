package agents

import (
	"strconv"
	"sync"
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

// BenchmarkReconnectCrowd measures a crowd (re)connecting at once, as after
// a restart: 500 citizens spread over a line of 20,000 open their sockets
// together, and a round ends when every one has heard their place.
//
//	go test -run '^$' -bench ReconnectCrowd -benchtime 20x ./agents/
func BenchmarkReconnectCrowd(b *testing.B) {
	const line, crowd = 20_000, 500
	e := newEnv(b)
	ids := make([]string, line)
	for i := range line {
		ids[i] = e.enqueue(router.EnqueueRequest{Caller: caller("c" + strconv.Itoa(i))}).ID
	}
	b.ResetTimer()
	for range b.N {
		var wg sync.WaitGroup
		for k := range crowd {
			i := k * (line / crowd)
			wg.Go(func() {
				c := e.dial("/citizen/" + ids[i])
				if q := c.expectNext("queued"); q.num("position") != i+1 {
					b.Errorf("citizen %d heard %v; want position %d", i+1, q, i+1)
				}
				_ = c.ws.Close()
			})
		}
		wg.Wait()
	}
}
