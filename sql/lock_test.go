package sql

import (
	"path/filepath"
	"strings"
	"testing"
)

// A second server on one embedded file is refused, with the reason; once
// the first lets go the file is free again.
func TestLockServerRefusesASecondServer(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "tellonce.db")
	first, err := LockServer(dsn)
	if err != nil {
		t.Fatalf("first lock: %v", err)
	}
	_, err = LockServer(dsn)
	if err == nil || !strings.Contains(err.Error(), "another tellonce server is running on "+dsn) {
		t.Fatalf("second lock = %v; want a refusal naming the file", err)
	}
	first.Close()
	again, err := LockServer(dsn)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	again.Close()
	if _, err := LockServer("postgres://x/y"); err != nil {
		t.Errorf("PostgreSQL needs no lock, got %v", err)
	}
}

// On a first start the database's directory does not exist yet (make run
// on a fresh clone): the lock makes it rather than failing.
func TestLockServerMakesTheDirectory(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "data", "tellonce.db")
	l, err := LockServer(dsn)
	if err != nil {
		t.Fatalf("lock in a directory not made yet: %v", err)
	}
	l.Close()
}
