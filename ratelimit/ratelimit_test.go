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
