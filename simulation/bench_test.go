package simulation

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"
)

// BenchmarkWeekday8Day runs days of the shipped weekday-8 scenario, one
// world at a time, on one goroutine: the unit of the target run
// (`tellonce simulate --scenario weekday-8`: 3 worlds × 20 days). Its
// cpu-s/day is the process's CPU time (all threads, the collector's
// included) per simulated day, which a loaded machine disturbs far less
// than ns/op. For a profile:
//
//	go test -run '^$' -bench Weekday8Day -benchtime 2x -cpuprofile cpu.out ./simulation/
func BenchmarkWeekday8Day(b *testing.B) {
	s, err := LoadScenario("weekday-8")
	if err != nil {
		b.Fatal(err)
	}
	for _, w := range Worlds {
		b.Run(string(w), func(b *testing.B) {
			b.ReportAllocs()
			cpu := processCPU(b)
			for i := range b.N {
				d, err := newDay(s, w, i)
				if err != nil {
					b.Fatal(err)
				}
				if err := d.run(context.Background()); err != nil {
					b.Fatal(fmt.Errorf("day %d: %w", i+1, err))
				}
			}
			b.ReportMetric((processCPU(b)-cpu).Seconds()/float64(b.N), "cpu-s/day")
		})
	}
}

// processCPU is the process's user and system time so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
