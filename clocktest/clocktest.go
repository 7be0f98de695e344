// Package clocktest is time for tests: a fake clock that moves only when a
// test moves it, and Eventually, which waits by the real clock for state
// that nothing announces. Any package's tests may use it: it imports none of
// the module's packages.
package clocktest

import (
	"sync"
	"testing"
	"time"
)

// Clock is a fake clock. It stands still until Advance or Set moves it, and
// is safe for concurrent use. Its Now satisfies router.Clock and
// stats.Clock; the method value c.Now is the now func() time.Time that the
// stores, the sessions and the rate limits take. The zero Clock reads the
// zero time.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// New returns a clock that reads start.
func New(start time.Time) *Clock { return &Clock{t: start} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// maxPoll is the longest pause between two polls.
const maxPoll = 20 * time.Millisecond

// Eventually polls cond until it holds, and fails t if it does not within
// the given time. The pause between polls starts at a millisecond and
// doubles up to maxPoll; cond is asked once more when the time is up.
func Eventually(t testing.TB, what string, within time.Duration, cond func() bool) {
	t.Helper()
	if !poll(within, cond) {
		t.Fatalf("%s: not within %v", what, within)
	}
}

// EventuallyNil is Eventually for a condition that says what is still
// wrong: it polls until cond returns nil, and a failure reports cond's last
// error.
func EventuallyNil(t testing.TB, what string, within time.Duration, cond func() error) {
	t.Helper()
	var err error
	if !poll(within, func() bool { err = cond(); return err == nil }) {
		t.Fatalf("%s: still %v after %v", what, err, within)
	}
}

// poll reports whether cond held within the given time.
func poll(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	pause := time.Millisecond
	for !cond() {
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		time.Sleep(min(pause, left))
		pause = min(2*pause, maxPoll)
	}
	return true
}
