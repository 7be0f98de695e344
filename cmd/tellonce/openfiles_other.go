//go:build !unix

package main

// raiseOpenFiles does nothing where there is no RLIMIT_NOFILE; 0 says
// the limit is unknown.
func raiseOpenFiles() uint64 { return 0 }
