//go:build unix

package sql

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// LockServer takes the one-server lock of an embedded database file (a
// lock on path + ".lock", released by the kernel when the process dies):
// a second server on the same file would run a second router over the
// same contacts. dsn is what Open takes; PostgreSQL needs no lock (its
// servers share the lease) and returns a no-op. Close releases it.
func LockServer(dsn string) (io.Closer, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return io.NopCloser(nil), nil
	}
	path := sqlitePath(dsn) + ".lock"
	// The lock is taken before the database is opened, so on a first start
	// its directory may not exist yet: make it, as opening would.
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("create the database directory for %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the server lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another tellonce server is running on %s (it holds the lock on %s): "+
				"the embedded database serves one server; stop the other one, or run several on PostgreSQL", sqlitePath(dsn), path)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}
