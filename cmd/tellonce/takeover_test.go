package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"tellonce/clocktest"
	"tellonce/servertest"
	"tellonce/sql/sqltest"
)

// A server whose restore fails as it takes the lease (a table it reads
// is gone) does not exit: it steps down, keeps trying, and leads once the
// database can be read again.
func TestFailedRestoreStandsByAndRetries(t *testing.T) {
	if os.Getenv(sqltest.EnvPostgres) == "" && os.Getenv("CI") == "" {
		t.Skip("no PostgreSQL: run with scripts/with-postgres")
	}
	dsn := sqltest.DSN(t, "postgres")
	lease := []string{"--lease-renew", "100ms", "--lease-ttl", "500ms"}
	_, stop := serveOn(t, dsn, lease...) // migrates and seeds, then stops
	stop()
	db := openDB(t, dsn)
	if _, err := db.Exec(`ALTER TABLE case_events RENAME TO case_events_away`); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, logs servertest.LogBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"serve", "--demo", "--addr", "127.0.0.1:0", "--db", dsn, "--log-level", "warn"}, lease...),
			&out, &logs, env(map[string]string{"TELLONCE_ADMIN_PASSWORD": e2eAdminPassword}))
	}()
	failures := func() int { return strings.Count(logs.String(), "the term as leader failed") }
	clocktest.Eventually(t, "two failed terms", waitTime, func() bool {
		select {
		case err := <-done:
			t.Fatalf("serve returned %v after a failed restore; want it to stand by and retry\n%s", err, logs.String())
		default:
		}
		return failures() >= 2
	})
	if !strings.Contains(logs.String(), "case_events") {
		t.Errorf("the log does not say what failed:\n%s", tail(logs.String(), 20))
	}

	if _, err := db.Exec(`ALTER TABLE case_events_away RENAME TO case_events`); err != nil {
		t.Fatal(err)
	}
	s := &testServer{dsn: dsn, logs: &logs, base: waitFor(t, &out, done)}
	clocktest.Eventually(t, "the server leads once the restore succeeds", waitTime, func() bool { return readyRole(s) == "leader" })
	c := s.createChat(t, "gov110.general", "after-failed-restore", "복구 뒤 문의")
	if c.Status != "queued" {
		t.Errorf("a chat after the recovery is %q; want queued", c.Status)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve returned %v on cancel; want nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop within 30s of cancel")
	}
}
