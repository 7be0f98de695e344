package main

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"tellonce/auth"
	"tellonce/directory"
	tsql "tellonce/sql"
)

// The admin can get back in: reset-password sets a new password from the
// server and ends the user's sessions; TELLONCE_ADMIN_PASSWORD on a
// database that has an admin says it was ignored and how to reset.
func TestUsersResetPassword(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "t.db")
	var out bytes.Buffer
	if err := run(ctx, []string{"migrate", "--db", path}, io.Discard, io.Discard, env(nil)); err != nil {
		t.Fatal(err)
	}
	db, err := tsql.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	dir := directory.NewStore(db, nil)
	hasher := auth.DefaultHasher()
	if err := ensureAdmin(ctx, dir, hasher, "first-password-1", &out); err != nil {
		t.Fatal(err)
	}
	sessions := auth.NewSessions(db, time.Hour, nil)
	token, _, err := sessions.Create(ctx, "admin", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}

	out.Reset()
	if err := ensureAdmin(ctx, dir, hasher, "another-password", &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "ignored") || !strings.Contains(out.String(), "tellonce users reset-password") {
		t.Errorf("an admin password on a database with an admin printed %q; want it said ignored, and how to reset", out.String())
	}

	out.Reset()
	if err := run(ctx, []string{"users", "reset-password", "--db", path, "admin"}, &out, io.Discard, env(nil)); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`is now: (\S+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("reset-password printed %q; want the new password once", out.String())
	}
	_, hash, err := dir.Credentials(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := auth.Verify(m[1], hash); !ok {
		t.Error("the printed password does not log in")
	}
	if ok, _ := auth.Verify("first-password-1", hash); ok {
		t.Error("the old password still logs in")
	}
	if _, err := sessions.Lookup(ctx, token); err == nil {
		t.Error("the admin's session outlived the reset")
	}

	err = run(ctx, []string{"users", "reset-password", "--db", path, "nobody"}, io.Discard, io.Discard, env(nil))
	if err == nil || !strings.Contains(err.Error(), "no user") {
		t.Errorf("reset-password of an unknown user = %v; want no user", err)
	}
	err = run(ctx, []string{"users", "reset-password", "--db", path, "admin"}, io.Discard, io.Discard,
		env(map[string]string{"TELLONCE_NEW_PASSWORD": "short"}))
	if err == nil {
		t.Error("a too short TELLONCE_NEW_PASSWORD was taken")
	}
}
