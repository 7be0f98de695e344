package router

import "sync"

// placeRounds coalesces the counting of places deep in a line. A place
// near either end of its line costs a few steps (NearPosition); deeper,
// it costs a walk from the front. After a restart a whole line asks at
// once (every citizen's page reads its contact before reconnecting), and a
// walk each would cost the square of the line's length. So the callers
// who ask about one queue while a walk of it is running gather in the
// next round, and that round counts all their places in one walk
// (Positions): at most one walk per queue at a time, each for everyone
// who asked meanwhile, as a group commit does for writes.
type placeRounds struct {
	mu        sync.Mutex
	gathering map[string]*placeRound // per queue: the round still taking callers
	walks     map[string]*sync.Mutex // per queue: held by the round walking it
	walked    int                    // walks done, for tests
}

// placeRound is one walk of a queue's line for the callers who joined it.
type placeRound struct {
	ids    map[string]struct{}
	ready  chan struct{} // closed once places and err are set
	places map[string]int
	err    error
}

// deepPlace is the place of a contact waiting in queue, counted in a
// round; ok is false when the contact no longer waits there.
func (r *Router) deepPlace(queue, contactID string) (n int, ok bool, err error) {
	pr := &r.rounds
	pr.mu.Lock()
	if pr.gathering == nil {
		pr.gathering, pr.walks = map[string]*placeRound{}, map[string]*sync.Mutex{}
	}
	round := pr.gathering[queue]
	first := round == nil
	if first {
		round = &placeRound{ids: map[string]struct{}{}, ready: make(chan struct{})}
		pr.gathering[queue] = round
	}
	round.ids[contactID] = struct{}{}
	walk := pr.walks[queue]
	if walk == nil {
		walk = &sync.Mutex{}
		pr.walks[queue] = walk
	}
	pr.mu.Unlock()

	if first {
		// Wait for the queue's walk in progress, gathering callers
		// meanwhile; then close the round to newcomers and walk for all.
		walk.Lock()
		pr.mu.Lock()
		delete(pr.gathering, queue)
		ids := make([]string, 0, len(round.ids))
		for id := range round.ids {
			ids = append(ids, id)
		}
		pr.walked++
		pr.mu.Unlock()
		round.places, round.err = r.Positions(queue, ids)
		walk.Unlock()
		close(round.ready)
	} else {
		<-round.ready
	}
	if round.err != nil {
		return 0, false, round.err
	}
	n, ok = round.places[contactID]
	return n, ok, nil
}
