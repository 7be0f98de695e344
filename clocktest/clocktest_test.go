package clocktest

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestClockMovesOnlyWhenTold(t *testing.T) {
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	c := New(start)
	if got := c.Now(); !got.Equal(start) {
		t.Fatalf("Now() = %v; want %v", got, start)
	}
	c.Advance(90 * time.Second)
	if got, want := c.Now(), start.Add(90*time.Second); !got.Equal(want) {
		t.Fatalf("Now() after Advance(90s) = %v; want %v", got, want)
	}
	c.Set(start)
	if got := c.Now(); !got.Equal(start) {
		t.Fatalf("Now() after Set = %v; want %v", got, start)
	}
}

func TestClockIsSafeForConcurrentUse(t *testing.T) {
	c := New(time.Time{})
	now := c.Now // the form the stores take
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				c.Advance(time.Second)
				_ = now()
			}
		})
	}
	wg.Wait()
	if got, want := c.Now(), (time.Time{}).Add(800*time.Second); !got.Equal(want) {
		t.Fatalf("Now() after 800 concurrent Advance(1s) = %v; want %v", got, want)
	}
}

func TestEventuallyWaitsForTheCondition(t *testing.T) {
	var n atomic.Int32
	go func() {
		for range 5 {
			n.Add(1)
		}
	}()
	Eventually(t, "five counted", 5*time.Second, func() bool { return n.Load() == 5 })
	EventuallyNil(t, "five counted", 5*time.Second, func() error {
		if v := n.Load(); v != 5 {
			return fmt.Errorf("counted %d", v)
		}
		return nil
	})
}

// fatalTB records Fatalf instead of ending the test.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) { f.msg = fmt.Sprintf(format, args...) }

func TestEventuallyFailsOnTime(t *testing.T) {
	f := &fatalTB{TB: t}
	polls := 0
	start := time.Now()
	Eventually(f, "never", 50*time.Millisecond, func() bool { polls++; return false })
	if took := time.Since(start); took < 50*time.Millisecond {
		t.Errorf("Eventually gave up after %v; want at least 50ms", took)
	}
	if want := "never: not within 50ms"; f.msg != want {
		t.Errorf("failure = %q; want %q", f.msg, want)
	}
	if polls < 2 {
		t.Errorf("cond asked %d times; want it asked again before giving up", polls)
	}
	f.msg = ""
	EventuallyNil(f, "never", 10*time.Millisecond, func() error { return errors.New("not yet") })
	if want := "never: still not yet after 10ms"; f.msg != want {
		t.Errorf("failure = %q; want %q", f.msg, want)
	}
}
