// Package ratelimit owns keyed token buckets: per client address, per user
// name, per anything a public endpoint must not let one caller flood.
package ratelimit

import (
	"container/list"
	"math"
	"net/netip"
	"sync"
	"time"
)

// Limiter allows Burst events at once per key and refills Rate events a
// second. It remembers at most MaxKeys keys; when full it forgets the one
// used longest ago (a bounded LRU: one step under the lock, never a scan),
// so an attacker spraying keys cannot grow it without bound.
type Limiter struct {
	rate    float64
	burst   float64
	maxKeys int
	now     func() time.Time

	mu      sync.Mutex
	buckets map[string]*list.Element // of *bucket
	lru     *list.List               // most recently used at the front
}

type bucket struct {
	key    string
	tokens float64
	last   time.Time
}

// New returns a limiter. now is the clock (nil: time.Now).
func New(rate float64, burst int, maxKeys int, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	if maxKeys <= 0 {
		maxKeys = 100_000
	}
	return &Limiter{rate: rate, burst: float64(burst), maxKeys: maxKeys, now: now,
		buckets: map[string]*list.Element{}, lru: list.New()}
}

// Allow takes one token for key. When none is left it returns false and
// how long until one will be.
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	var b *bucket
	if e := l.buckets[key]; e != nil {
		l.lru.MoveToFront(e)
		b = e.Value.(*bucket)
	} else {
		if len(l.buckets) >= l.maxKeys {
			// The least recently used key goes: it is the one most
			// likely to have refilled, and a flood of new keys only
			// ever pushes out other new keys after the ones in use.
			oldest := l.lru.Back()
			l.lru.Remove(oldest)
			delete(l.buckets, oldest.Value.(*bucket).key)
		}
		b = &bucket{key: key, tokens: l.burst, last: now}
		l.buckets[key] = l.lru.PushFront(b)
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = math.Min(l.burst, b.tokens+el*l.rate)
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	return false, wait
}

// Len returns how many keys the limiter remembers.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// AddrKey is the key of a client address: an IPv4 address as it is, an
// IPv6 address by its /64 — one subscriber's network, whose 2^64 addresses
// a single client may use one after another. An IPv4-mapped IPv6 address
// counts as its IPv4 address; text that is no address is its own key.
func AddrKey(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, _ := a.WithZone("").Prefix(64)
	return p.String()
}
