package router

import (
	"sync"
	"testing"
)

// groupLog is a WriteObserver that records the groups it hears of.
type groupLog struct {
	mu          sync.Mutex
	sizes       []int
	open, total int
	published   int // calls published
}

func (g *groupLog) Published(calls int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.published += calls
}

func (g *groupLog) WriteGroup(size int) func() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.sizes = append(g.sizes, size)
	g.open++
	g.total += size
	return func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		g.open--
	}
}

// Every write call is in exactly one observed group, each group is closed
// once, and a failed call is counted in the group it was taken in; every
// call that succeeded is published to readers once.
func TestWriteObserverHearsEveryGroup(t *testing.T) {
	obs := &groupLog{}
	r, err := New(Config{Writes: obs})
	if err != nil {
		t.Fatal(err)
	}
	const goroutines, calls = 8, 50
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range calls {
				_, err := r.write(func(*writer) error {
					if (g+i)%7 == 0 {
						return ErrConflict
					}
					return nil
				})
				if (g+i)%7 != 0 && err != nil {
					t.Errorf("write = %v", err)
				}
			}
		})
	}
	wg.Wait()
	r.snapshot() // a reader publishes what is left
	obs.mu.Lock()
	defer obs.mu.Unlock()
	succeeded := 0
	for g := range goroutines {
		for i := range calls {
			if (g+i)%7 != 0 {
				succeeded++
			}
		}
	}
	if obs.published != succeeded {
		t.Errorf("the commits published %d calls; want the %d that succeeded", obs.published, succeeded)
	}
	if obs.total != goroutines*calls {
		t.Errorf("the groups held %d calls; want %d", obs.total, goroutines*calls)
	}
	if obs.open != 0 {
		t.Errorf("%d groups were never closed", obs.open)
	}
	for _, n := range obs.sizes {
		if n < 1 || n > maxBatch {
			t.Errorf("a group of %d; want 1 to %d", n, maxBatch)
		}
	}
}
