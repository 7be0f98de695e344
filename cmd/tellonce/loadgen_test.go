package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"tellonce/loadgen"
)

// The loadgen package tests the runs themselves against an in-process
// server; here only the command's own parts.

func TestLoadgenCommandRefuses(t *testing.T) {
	noEnv := func(string) string { return "" }
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--url", "http://127.0.0.1:1"}, "admin-password"},
		{[]string{"--admin-password", "x", "--url", "http://example.com:8080"}, "loopback"},
		{[]string{"--admin-password", "x", "--channel", "fax"}, "channel"},
		{[]string{"--admin-password", "x", "extra"}, "unexpected argument"},
		{[]string{"--admin-password", "x", "--citizens"}, "use channel chat"},
		{[]string{"--admin-password", "x", "--hold", "-1s"}, "hold"},
		{[]string{"--admin-password", "x", "--rates", "100,fast"}, `--rates: "fast"`},
		{[]string{"--admin-password", "x", "--rates", "100", "--warmup", "-5"}, "warm-up"},
		{[]string{"--admin-password", "x", "--server-pid", "-2"}, "server pid"},
	} {
		var out, errOut strings.Builder
		err := run(context.Background(), append([]string{"loadgen"}, tc.args...), &out, &errOut, noEnv)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("loadgen %v: %v, want an error about %q", tc.args, err, tc.want)
		}
	}
}

func TestLoadgenProgressLines(t *testing.T) {
	var b strings.Builder
	p := newProgressPrinter(&b)
	p.print(loadgen.Progress{Phase: "create users", Total: 10})
	for i := 1; i <= 10; i++ { // throttled: only the last one is printed
		p.print(loadgen.Progress{Phase: "create users", Done: i, Total: 10, Elapsed: time.Duration(i) * time.Millisecond})
	}
	p.print(loadgen.Progress{Phase: "create users", Done: 10, Total: 10})
	p.print(loadgen.Progress{Phase: "contacts", Done: 5, Total: 10, Detail: "posted 6, offered 5, failed 0"})
	p.finish()
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[1], "10/10") || !strings.Contains(lines[2], "posted 6") {
		t.Errorf("progress lines:\n%s", b.String())
	}
}
