package local

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

// processStart reads a process's start time (clock ticks since boot,
// field 22 of /proc/<pid>/stat) and whether it is a zombie.
func processStart(pid int) (start uint64, err error) {
	start, _, err = procStat(pid)
	return start, err
}

func procStat(pid int) (start uint64, zombie bool, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false, err
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// the fields after it start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false, errors.New("malformed /proc stat")
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state), so field 22 is f[19].
	if len(f) < 20 {
		return 0, false, errors.New("malformed /proc stat")
	}
	start, err = strconv.ParseUint(string(f[19]), 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("malformed /proc stat: %w", err)
	}
	return start, string(f[0]) == "Z", nil
}

// alive says whether pid is still the process that started at start.
func alive(pid int, start uint64) bool {
	s, zombie, err := procStat(pid)
	return err == nil && !zombie && s == start
}

// orphanWait bounds how long killOrphan waits for a killed process to go.
var orphanWait = 10 * time.Second

// killOrphan kills the process group of an attempt's process that an
// earlier engine left running, if pid is still that process (same start
// time), and waits until it is gone. It reports whether it killed one.
// pid 0 (never started, or a journal of an older engine) does nothing.
func killOrphan(pid int, start uint64) bool {
	if pid <= 0 || start == 0 || !alive(pid, start) {
		return false
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL) // its group: what it started too
	_ = syscall.Kill(pid, syscall.SIGKILL)
	deadline := time.Now().Add(orphanWait)
	for alive(pid, start) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	return true
}
