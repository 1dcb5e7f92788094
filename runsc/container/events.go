package container

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Stats are a container's resource usage, in the shape of runc's
// "events --stats" data (what containerd reads for docker stats).
type Stats struct {
	CPU struct {
		Usage struct {
			Total uint64 `json:"total"` // ns
		} `json:"usage"`
	} `json:"cpu"`
	Memory struct {
		Usage struct {
			Usage uint64 `json:"usage"`
			Limit uint64 `json:"limit"`
		} `json:"usage"`
	} `json:"memory"`
	Pids struct {
		Current uint64 `json:"current"`
		Limit   uint64 `json:"limit,omitempty"`
	} `json:"pids"`
}

// Event is one line of "runsc events".
type Event struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data *Stats `json:"data,omitempty"`
}

// Stats reads the container's usage from its cgroup.
func (r Root) Stats(id string) (*Stats, error) {
	s, err := r.Load(id)
	if err != nil {
		return nil, err
	}
	if r.Status(s) == Stopped {
		return nil, fmt.Errorf("container %q is not running", id)
	}
	var st Stats
	if s.Cgroup == "" || s.Cgroup == "/" {
		return &st, nil
	}
	if cgroupV2() {
		dir := filepath.Join(cgroupRoot, s.Cgroup)
		st.Memory.Usage.Usage = readUint(filepath.Join(dir, "memory.current"))
		st.Memory.Usage.Limit = readUint(filepath.Join(dir, "memory.max"))
		st.Pids.Current = readUint(filepath.Join(dir, "pids.current"))
		st.Pids.Limit = readUint(filepath.Join(dir, "pids.max"))
		if b, err := os.ReadFile(filepath.Join(dir, "cpu.stat")); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(line, "usage_usec "); ok {
					us, _ := strconv.ParseUint(v, 10, 64)
					st.CPU.Usage.Total = us * 1000
				}
			}
		}
		return &st, nil
	}
	st.Memory.Usage.Usage = readUint(filepath.Join(cgroupRoot, "memory", s.Cgroup, "memory.usage_in_bytes"))
	st.Memory.Usage.Limit = readUint(filepath.Join(cgroupRoot, "memory", s.Cgroup, "memory.limit_in_bytes"))
	st.CPU.Usage.Total = readUint(filepath.Join(cgroupRoot, "cpuacct", s.Cgroup, "cpuacct.usage"))
	st.Pids.Current = readUint(filepath.Join(cgroupRoot, "pids", s.Cgroup, "pids.current"))
	st.Pids.Limit = readUint(filepath.Join(cgroupRoot, "pids", s.Cgroup, "pids.max"))
	return &st, nil
}

// readUint reads a cgroup counter; "max" and unreadable files are 0.
func readUint(path string) uint64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	v, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	return v
}

// exitName is where the sandbox records the program's exit status.
const exitName = "exit"

// Wait blocks until the container has stopped and returns the program's
// exit status (-1 if the sandbox died without recording one).
func (r Root) Wait(id string) (int, error) {
	s, err := r.Load(id)
	if err != nil {
		return 0, err
	}
	for r.Status(s) != Stopped {
		time.Sleep(10 * time.Millisecond)
	}
	dir, _ := r.dir(id)
	b, err := os.ReadFile(filepath.Join(dir, exitName))
	if err != nil {
		return -1, nil
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}
