package main

import (
	"testing"
	"time"
)

// The load side's spread pacing puts each leg on a slot of the 20 ms
// drawn at random, so every slot of 1 ms gets about as many legs; the
// phases put leg i on phase i mod N, sent by that phase's own sender.
func TestLoadPacingPlacesEachLeg(t *testing.T) {
	t.Setenv("TELLONCE_EDGE_LOAD_PHASES", "")
	spread := loadPacingFromEnv(t)
	if !spread.spread || spread.slots != 20 || spread.tick != time.Millisecond {
		t.Fatalf("default pacing %v; want spread over 20 slots of 1 ms", spread)
	}
	m := newLoadMedia(spread)
	const legs = 2000
	for range legs {
		m.add(&loadLeg{})
	}
	for k := range spread.slots {
		n := 0
		for s := range spread.senders {
			n += len(m.slots[s][k])
		}
		// 100 expected; the bounds are over 5 standard deviations away.
		if n < 50 || n > 150 {
			t.Errorf("slot %d has %d of %d legs; want about %d", k, n, legs, legs/spread.slots)
		}
	}

	t.Setenv("TELLONCE_EDGE_LOAD_PHASES", "4")
	phases := loadPacingFromEnv(t)
	if phases.spread || phases.slots != 4 || phases.senders != 4 || phases.tick != 5*time.Millisecond {
		t.Fatalf("4 phases: %v", phases)
	}
	m = newLoadMedia(phases)
	for range 8 {
		m.add(&loadLeg{})
	}
	for i, l := range m.legs {
		if got := m.slots[i%4][i%4]; len(got) != 2 || (got[0] != l && got[1] != l) {
			t.Errorf("leg %d is not on phase %d with its sender", i, i%4)
		}
	}
}
