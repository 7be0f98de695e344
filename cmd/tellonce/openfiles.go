//go:build unix

package main

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// openFilesWanted is the open-file limit a node aims for: every socket is
// a descriptor, and 10,000 agents with 50,000 waiting citizens hold
// 60,000 of them.
const openFilesWanted = 1 << 20

// openFilesAdvised is the least limit worth running a node with; below it
// serve warns.
const openFilesAdvised = 65536

// raiseOpenFiles lifts this process's open-file limit as far as it may:
// Go already lifts the soft limit to the hard one at start, and a process
// allowed to (root, CAP_SYS_RESOURCE) lifts the hard one too, up to
// fs.nr_open. It returns the soft limit in force after.
func raiseOpenFiles() uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	want := uint64(openFilesWanted)
	if b, err := os.ReadFile("/proc/sys/fs/nr_open"); err == nil {
		if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil && n < want {
			want = n
		}
	}
	if lim.Max < want {
		// Refused without the privilege: the hard limit stays as set.
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: want, Max: want})
	}
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
		_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	return lim.Cur
}
