package container

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// statFields returns the fields of /proc/<pid>/stat after the command
// name (which may contain spaces and parentheses).
func statFields(b []byte) []string {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil
	}
	return strfields(string(b[i+1:]))
}

func strfields(s string) []string {
	var out []string
	for _, f := range bytes.Fields([]byte(s)) {
		out = append(out, string(f))
	}
	return out
}

// processStart returns the start time of pid in clock ticks since boot.
func processStart(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	f := statFields(b)
	// Field 22 (starttime); f[0] is field 3 (state).
	if len(f) < 20 {
		return 0, fmt.Errorf("/proc/%d/stat: short", pid)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

func zombie(stat []byte) bool {
	f := statFields(stat)
	return len(f) > 0 && (f[0] == "Z" || f[0] == "X")
}
