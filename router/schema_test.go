package router

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

// TestSchemaGolden fails when the memdb schema changes without the golden
// file being regenerated (go test ./router -run SchemaGolden -update).
func TestSchemaGolden(t *testing.T) {
	s := schema()
	if err := s.Validate(); err != nil {
		t.Fatalf("schema.Validate() = %v", err)
	}
	checkGolden(t, "schema.golden", describeSchema(s), "SchemaGolden")
}

// checkGolden compares got with testdata/name, rewriting it with -update;
// test is the -run name that regenerates it.
func checkGolden(t *testing.T, name, got, test string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("%s changed; run go test ./router -run %s -update and review the diff.\ngot:\n%s\nwant:\n%s", name, test, got, want)
	}
}

func TestEncodeKeyPrefixIsExact(t *testing.T) {
	// "q1" must not match keys of "q10": every part is terminated.
	f := newFixture(t, []QueueConfig{queue("q1"), queue("q10")}, nil)
	f.enqueue("q10", "c1")
	n, err := f.r.QueueSnapshot("q1")
	f.must(err)
	if n.Waiting != 0 {
		t.Errorf("QueueSnapshot(q1).Waiting = %d; want 0", n.Waiting)
	}
}
