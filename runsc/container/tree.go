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

// isGofer reports whether pid is a gofer (runsc gofer ...).
func isGofer(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	args := strings.Split(string(b), "\x00")
	return len(args) > 1 && args[1] == "gofer"
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
		if !isGofer(p) {
			pids = append(pids, p)
		}
	}
	return pids, nil
}
