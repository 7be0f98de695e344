//go:build !unix

package sql

import "io"

// LockServer is a no-op where flock is missing: run one server per file.
func LockServer(string) (io.Closer, error) { return io.NopCloser(nil), nil }
