package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	tsql "tellonce/sql"
	"tellonce/sql/sqltest"
	"tellonce/transcripts"
)

// "tellonce remask" rewrites the rows an older release stored with a
// registration number its rules missed, prints its progress table by
// table, records the run in the access audit, and finds nothing the
// second time.
func TestRemaskCommand(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		ctx := context.Background()
		const older = "900101 – 1234567" // a form older rules let through
		at := time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`INSERT INTO cases (id, caller_id, caller_name, caller_language, context, status, created_at, closed_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
				[]any{"cs-old", "c1", "홍길동 " + older, "ko", `{"summary":"주민번호 ` + older + `","ivr":null,"attributes":null}`, "closed", at, at}},
			{`INSERT INTO case_events (case_id, seq, at, type, actor, contact_id, text, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
				[]any{"cs-old", 1, at, "message", "citizen:c1", "ct-old", "제 번호는 " + older, "null"}},
			{`INSERT INTO case_events (case_id, seq, at, type, actor, contact_id, text, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
				[]any{"cs-old", 2, at, "message", "agent:kim", "ct-old", "확인했습니다", "null"}},
		} {
			if _, err := b.DB.ExecContext(ctx, b.DB.Rebind(q.sql), q.args...); err != nil {
				t.Fatal(err)
			}
		}
		var out bytes.Buffer
		if err := run(ctx, []string{"remask", "--db", b.DSN, "--by", "ops.kim"}, &out, io.Discard, env(nil)); err != nil {
			t.Fatalf("remask: %v\n%s", err, out.String())
		}
		for _, want := range []string{"cases          read 1, rewritten 1 done", "case_events    read 2, rewritten 1 done",
			"access_audit", "rewrote 2 rows"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("remask printed:\n%s\nwant a line with %q", out.String(), want)
			}
		}
		var texts []string
		if err := b.DB.SelectContext(ctx, &texts, `SELECT caller_name || context FROM cases UNION ALL SELECT text FROM case_events`); err != nil {
			t.Fatal(err)
		}
		for _, s := range texts {
			if strings.Contains(s, "1234567") {
				t.Errorf("after remask a row holds %q", s)
			}
		}
		var audit []transcripts.AuditEntry
		if err := b.DB.SelectContext(ctx, &audit, `SELECT id, at, username, role, agency_id, client_addr, action, case_id,
			query, format, reason, outcome FROM access_audit`); err != nil {
			t.Fatal(err)
		}
		if len(audit) != 1 || audit[0].Action != transcripts.ActionRemask || audit[0].Username != "ops.kim" ||
			audit[0].Outcome != transcripts.OutcomeOK || !strings.Contains(audit[0].Query, "case_events=1") ||
			!strings.Contains(audit[0].Query, "cases=1") {
			t.Errorf("audit rows %+v; want one remask run by ops.kim with its counts", audit)
		}

		out.Reset()
		if err := run(ctx, []string{"remask", "--db", b.DSN}, &out, io.Discard, env(map[string]string{"USER": "root"})); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "rewrote 0 rows") || !strings.Contains(out.String(), "by root") {
			t.Errorf("a second remask printed:\n%s\nwant nothing rewritten, by $USER", out.String())
		}
		if err := run(ctx, []string{"remask", "--db", b.DSN, "extra"}, io.Discard, io.Discard, env(nil)); err == nil {
			t.Error("remask with an argument succeeded")
		}
		// A server running on the embedded file holds its lock: remask
		// refuses rather than rewrite under it.
		if b.Name == "sqlite" {
			lock, err := tsql.LockServer(b.DSN)
			if err != nil {
				t.Fatal(err)
			}
			defer lock.Close()
			if err := run(ctx, []string{"remask", "--db", b.DSN}, io.Discard, io.Discard, env(nil)); err == nil ||
				!strings.Contains(err.Error(), "another tellonce server is running") {
				t.Errorf("remask beside a server on the embedded file = %v; want refused", err)
			}
		}
	})
}
