package container

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// descendants lists the processes below pid, children first.
func descendants(pid int) []int {
	var out []int
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			c, err := strconv.Atoi(f)
			if err != nil {
				continue
			}
			out = append(out, c)
			out = append(out, descendants(c)...)
		}
	}
	return out
}

// isRunsc reports whether pid runs the same binary as the sandbox: a
// gofer or a helper of the platform, not a process of the program.
func isRunsc(pid, sandbox int) bool {
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return false
	}
	own, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", sandbox))
	return err == nil && exe == own
}

// Processes lists the program's processes (runsc ps).
func (r Root) Processes(id string) ([]int, error) {
	s, err := r.Load(id)
	if err != nil {
		return nil, err
	}
	if r.Status(s) == Stopped {
		return nil, nil
	}
	var pids []int
	for _, p := range descendants(s.Pid) {
		if !isRunsc(p, s.Pid) {
			pids = append(pids, p)
		}
	}
	return pids, nil
}
