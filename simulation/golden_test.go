package simulation

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden reports in testdata/")

// The reports below are recorded in testdata/ and must come out byte for
// byte the same: the same seed gives the same table, and a change meant
// to make the simulation (or the router under it) faster must not change
// a single figure. A change that is meant to change the figures rewrites
// them with `go test ./simulation/ -run Golden -update` and says why.
func TestGoldenReports(t *testing.T) {
	t.Parallel()
	transfers, err := LoadScenario("weekday-8-transfers")
	if err != nil {
		t.Fatal(err)
	}
	// Short, so it runs in the suite: every queue overflowing after 30 s,
	// patience, transfers between agencies on one router and between
	// separate centres.
	transfers.Replications, transfers.WarmupH, transfers.HoursMeasured = 2, 0.25, 0.5
	every, err := ParseScenario([]byte(validScenario))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		file string
		s    Scenario
		opt  Options
	}{
		{"weekday-8-transfers.golden.json", transfers, Options{}},
		{"weekday-8-transfers-oldest-first.golden.json", transfers, Options{Policy: "oldest-first", Worlds: []World{WorldWritten}}},
		{"every-feature.golden.json", every, Options{}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			c, err := RunScenario(context.Background(), tc.s, tc.opt, nil)
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			if err := c.WriteJSON(&b); err != nil {
				t.Fatal(err)
			}
			if err := c.WriteText(&b); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.file, b.Bytes())
		})
	}
	t.Run("staffing-levels.golden.json", func(t *testing.T) {
		t.Parallel()
		cfg := quick(4)
		cfg.MaxAgents = 6
		var b bytes.Buffer
		rep, err := Run(context.Background(), cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := rep.WriteJSON(&b); err != nil {
			t.Fatal(err)
		}
		golden(t, "staffing-levels.golden.json", b.Bytes())
	})
}

func golden(t *testing.T, file string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", file)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (record it with -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s changed; the same seed must give the same report. Got:\n%s", path, got)
	}
}
