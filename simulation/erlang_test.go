package simulation

import (
	"math"
	"testing"
	"time"
)

func TestErlangC(t *testing.T) {
	// The expected values are exact rational arithmetic on the textbook
	// formula (A^c/c!·c/(c−A)) / (Σ_{k<c} A^k/k! + A^c/c!·c/(c−A)).
	tests := []struct {
		agents  int
		erlangs float64
		want    float64
	}{
		{1, 0.5, 0.5}, // M/M/1: the chance to wait is the load
		{2, 1, 1.0 / 3},
		{10, 8, 0.40918015079644354},
		{11, 10, 0.6821182046893324},
		{12, 10, 0.44938822429827086},
		{14, 10, 0.17413193359504983},
		{100, 90, 0.2169404809063664},
		{1000, 950, 0.06825341537714143}, // past where A^c/c! overflows
		{5, 0, 0},
		{5, 5, 1}, // unstable: everyone waits
		{5, 7, 1},
		{0, 1, 1},
	}
	for _, tt := range tests {
		if got := ErlangC(tt.agents, tt.erlangs); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("ErlangC(%d, %g) = %.12f; want %.12f", tt.agents, tt.erlangs, got, tt.want)
		}
	}
}

func TestErlangCServiceLevel(t *testing.T) {
	tests := []struct {
		agents          int
		erlangs         float64
		service, within time.Duration
		want            float64
	}{
		// 100 calls in half an hour at 3 minutes: 10 erlangs.
		{11, 10, 3 * time.Minute, 20 * time.Second, 0.3896138117291533},
		{14, 10, 3 * time.Minute, 20 * time.Second, 0.8883500191794669},
		{14, 10, 3 * time.Minute, 0, 1 - 0.17413193359504983}, // answered at once
		{10, 10, 3 * time.Minute, 20 * time.Second, 0},        // unstable
		{10, 12, 3 * time.Minute, 20 * time.Second, 0},
	}
	for _, tt := range tests {
		got := ErlangCServiceLevel(tt.agents, tt.erlangs, tt.service, tt.within)
		if math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("ErlangCServiceLevel(%d, %g, %s, %s) = %.12f; want %.12f", tt.agents, tt.erlangs,
				tt.service, tt.within, got, tt.want)
		}
	}
	// More agents, or a longer threshold, never predict a lower level.
	prev := 0.0
	for n := 1; n <= 40; n++ {
		sl := ErlangCServiceLevel(n, 20, time.Minute, 15*time.Second)
		if sl < prev || sl > 1 {
			t.Fatalf("ErlangCServiceLevel(%d agents) = %g after %g; want non-decreasing in [0, 1]", n, sl, prev)
		}
		prev = sl
	}
}
