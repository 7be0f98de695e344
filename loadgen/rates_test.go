package loadgen

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// TestRunRates sweeps two rates over one set of agents after a warm-up,
// reading this process's CPU as the server's (the server is in-process),
// and prints the sweep's summary.
func TestRunRates(t *testing.T) {
	ts := startServer(t, "sqlite")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	reps, err := RunRates(ctx, Config{URL: ts.URL, AdminPassword: testAdminPassword, Agents: 10, Queues: 2,
		Contacts: 40, Concurrency: 8, ServerPID: os.Getpid(), ServerStages: true}, Rates{Rates: []float64{200, 0}, Warmup: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(reps) != 2 {
		t.Fatalf("%d reports, want one per rate (2)", len(reps))
	}
	for i, want := range []float64{200, 0} {
		checkReport(t, reps[i], 40)
		if reps[i].Load.Rate != want {
			t.Errorf("report %d: rate %g, want %g", i, reps[i].Load.Rate, want)
		}
		stages := map[string]StageFigure{}
		for _, s := range reps[i].Stages {
			stages[s.Name] = s
		}
		// Each phase's own: the warm-up and the other rate are not counted.
		for _, name := range []string{"POST /v1/contacts, the handler", "  enqueue (router + commit)", "journal: published → durable"} {
			if s := stages[name]; s.N < 40 || s.P99 <= 0 || s.P99 < s.P50 {
				t.Errorf("report %d: stage %q = %+v; want 40 or more observations (the durable wait also times the accepts and ends), p50 ≤ p99", i, name, s)
			}
		}
		if s := stages["POST /v1/contacts, the handler"]; s.N != 40 {
			t.Errorf("report %d: %d POSTs seen by the server over the phase; want 40", i, s.N)
		}
		if reps[i].ServerCPU <= 0 || reps[i].CPUPerContact() <= 0 {
			t.Errorf("report %d: server CPU %s, %s per contact: not measured", i, reps[i].ServerCPU, reps[i].CPUPerContact())
		}
	}
	var b strings.Builder
	if err := PrintRates(&b, reps); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"rate asked", "200/s", "max", "server CPU/contact", "in the server", "journal: batch commit"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	// Which of the two depends on the machine's load.
	if !strings.Contains(out, "highest rate with p99 POST → offer under 20ms") && !strings.Contains(out, "no rate kept p99") {
		t.Errorf("summary does not say which rate kept p99 under 20 ms:\n%s", out)
	}
	b.Reset()
	if err := reps[0].Print(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "server CPU: ") {
		t.Errorf("the report does not give the server's CPU:\n%s", b.String())
	}
}

func TestRunRatesChecks(t *testing.T) {
	ctx := context.Background()
	cfg := Config{URL: "http://127.0.0.1:1", AdminPassword: "x"}
	for _, tc := range []struct {
		rs   Rates
		want string
	}{
		{Rates{}, "none given"},
		{Rates{Rates: []float64{100, -1}}, "rate -1"},
		{Rates{Rates: []float64{100}, Warmup: -1}, "warm-up -1"},
	} {
		if _, err := RunRates(ctx, cfg, tc.rs); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want one naming %q", tc.rs, err, tc.want)
		}
	}
}

func TestParseProcStat(t *testing.T) {
	// A command name with a space and a parenthesis; utime 250 and stime
	// 50 ticks.
	line := "4242 (tel once) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 123 456 789\n"
	got, err := parseProcStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if got != 3*time.Second {
		t.Errorf("CPU %s, want 3s (300 ticks)", got)
	}
	if _, err := parseProcStat([]byte("4242 tellonce S 1")); err == nil {
		t.Error("a line without a command name was accepted")
	}
	if _, err := parseProcStat([]byte("4242 (t) S 1 2 3")); err == nil {
		t.Error("a short line was accepted")
	}
	if _, err := serverCPU(os.Getpid()); err != nil && !os.IsNotExist(err) {
		if _, statErr := os.Stat("/proc/self/stat"); statErr == nil {
			t.Errorf("this process's CPU: %v", err)
		}
	}
}
