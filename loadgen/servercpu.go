package loadgen

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"
)

// clockTick is the unit of /proc/PID/stat's CPU times: USER_HZ, 100 on
// every Linux architecture Go runs on (sysconf would need cgo).
const clockTick = 10 * time.Millisecond

// serverCPU is the CPU time, user plus system, that process pid has
// used so far, from /proc/PID/stat (Linux only). It counts every thread
// of the process, whatever load the machine is under: the server's work
// per contact, where wall-clock latencies measure the machine.
func serverCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("the server's CPU time: %w", err)
	}
	return parseProcStat(data)
}

// parseProcStat reads utime and stime (fields 14 and 15) of a
// /proc/PID/stat line. The command name (field 2) is in parentheses and
// may hold spaces and parentheses itself, so fields are counted from the
// last ')'.
func parseProcStat(data []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, fmt.Errorf("the server's CPU time: no command name in %q", data)
	}
	fields := bytes.Fields(data[i+1:]) // from field 3, the state
	if len(fields) < 13 {
		return 0, fmt.Errorf("the server's CPU time: %d fields after the command name, want 13 or more", len(fields))
	}
	var total time.Duration
	for _, f := range fields[11:13] {
		n, err := strconv.ParseUint(string(f), 10, 63)
		if err != nil {
			return 0, fmt.Errorf("the server's CPU time: field %q: %w", f, err)
		}
		total += time.Duration(n) * clockTick
	}
	return total, nil
}
