package ratelimit

import (
	"fmt"
	"testing"
	"time"

	"tellonce/clocktest"
)

func TestAllowBurstThenRefill(t *testing.T) {
	c := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	l := New(0.5, 3, 10, c.Now) // one every 2 s, 3 at once
	for i := 0; i < 3; i++ {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatalf("Allow #%d = false; want true within the burst", i+1)
		}
	}
	ok, wait := l.Allow("a")
	if ok || wait != 2*time.Second {
		t.Fatalf("Allow past burst = %v, %v; want false, 2s", ok, wait)
	}
	if ok, _ := l.Allow("b"); !ok {
		t.Fatal("Allow(b) = false; keys must not share a bucket")
	}
	c.Advance(2 * time.Second)
	if ok, _ := l.Allow("a"); !ok {
		t.Fatal("Allow after refill = false; want true")
	}
	if ok, _ := l.Allow("a"); ok {
		t.Fatal("second Allow after one refill = true; want false")
	}
}

func TestKeysAreBounded(t *testing.T) {
	c := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	l := New(1, 1, 100, c.Now)
	for i := 0; i < 1000; i++ {
		c.Advance(time.Millisecond)
		l.Allow(fmt.Sprint("k", i))
	}
	if n := l.Len(); n > 100 {
		t.Fatalf("Len() = %d after 1000 keys; want at most 100", n)
	}
	// The most recent key is still limited: eviction did not reset it.
	if ok, _ := l.Allow("k999"); ok {
		t.Fatal("Allow(k999) = true right after it used its only token; want false")
	}
}

// TestEvictsTheLeastRecentlyUsed: when full, the key used longest ago
// goes, and a key in use survives a flood of new ones.
func TestEvictsTheLeastRecentlyUsed(t *testing.T) {
	c := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	l := New(0.001, 1, 3, c.Now)
	l.Allow("a")
	l.Allow("b")
	l.Allow("c")
	l.Allow("a") // a is now the most recent; b the least
	l.Allow("d") // evicts b
	if n := l.Len(); n != 3 {
		t.Fatalf("Len() = %d; want 3", n)
	}
	if ok, _ := l.Allow("a"); ok {
		t.Fatal("a was evicted; want b, the least recently used")
	}
	if ok, _ := l.Allow("b"); !ok {
		t.Fatal("b kept its empty bucket; want it forgotten")
	}
}

func TestAddrKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7":            "192.0.2.7",
		"::ffff:192.0.2.7":     "192.0.2.7",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1": "2001:db8:1:2::/64",
		"2001:db8:1:3::1":      "2001:db8:1:3::/64",
		"fe80::1%eth0":         "fe80::/64",
		"not an address":       "not an address",
	} {
		if got := AddrKey(in); got != want {
			t.Errorf("AddrKey(%q) = %q; want %q", in, got, want)
		}
	}
}

// TestOneIPv6NetworkShares: a client hopping addresses within its /64
// spends one bucket.
func TestOneIPv6NetworkShares(t *testing.T) {
	l := New(0.001, 2, 100, nil)
	l.Allow(AddrKey("2001:db8::1"))
	l.Allow(AddrKey("2001:db8::2"))
	if ok, _ := l.Allow(AddrKey("2001:db8::3")); ok {
		t.Fatal("a third address of the same /64 was allowed past a burst of 2")
	}
	if ok, _ := l.Allow(AddrKey("2001:db8:0:1::1")); !ok {
		t.Fatal("the next /64 was refused; want its own bucket")
	}
}
