package sys

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"runsc.dev/runsc/sentry/fs"
	"runsc.dev/runsc/sentry/fs/proc"
)

// Cgroup2Magic is CGROUP2_SUPER_MAGIC, statfs's f_type.
const Cgroup2Magic = 0x63677270

// NewCgroup makes the sandbox's /sys/fs/cgroup: a read-only cgroup v2
// view of the container's own cgroup, as a program in a cgroup namespace
// sees it (/proc/self/cgroup says "0::/"), whatever the host runs: the
// limits and usage that runtimes (Go, the JVM, Node) read to size
// themselves, taken at open from the host's v1 or v2 files of the cgroup
// the sandbox runs in.
func NewCgroup() *proc.Tree {
	t := proc.NewTree("cgroup2", Cgroup2Magic)
	file := func(name string, c proc.Content) proc.Child {
		return proc.Child{Name: name, Make: func(d *proc.Dir) fs.Dentry { return t.NewFile(d, name, proc.Static(0o444), c) }}
	}
	text := func(s string) proc.Content { return func() ([]byte, error) { return []byte(s + "\n"), nil } }
	root := t.NewDir(nil, "", proc.Static(0o555), proc.StaticDir(
		file("cgroup.controllers", text("cpu memory pids")),
		file("cgroup.procs", text("")),
		file("memory.max", limit("memory", "memory.max", "memory.limit_in_bytes")),
		file("memory.current", value("memory", "memory.current", "memory.usage_in_bytes")),
		file("memory.swap.max", limit("memory", "memory.swap.max", "")),
		file("cpu.max", cpuMax),
		file("pids.max", limit("pids", "pids.max", "pids.max")),
		file("pids.current", value("pids", "pids.current", "pids.current")),
	))
	t.SetRoot(root)
	return t
}

// cgroupPaths are the host directories of the cgroups the sentry (and so
// the program) runs in: v2's unified one, or one per v1 controller.
type cgroupPaths struct {
	v2 string
	v1 map[string]string
}

// hostCgroups reads the sentry's cgroups from /proc/self/cgroup (at each
// open: the sandbox joins the container's cgroup after it is built); v1
// hierarchies are where Linux distributions mount them.
func hostCgroups() cgroupPaths {
	h := cgroupPaths{v1: map[string]string{}}
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return h
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		if f[1] == "" {
			if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
				h.v2 = filepath.Join("/sys/fs/cgroup", f[2])
			}
			continue
		}
		for _, c := range strings.Split(f[1], ",") {
			h.v1[c] = filepath.Join("/sys/fs/cgroup", c, f[2])
		}
	}
	return h
}

// read returns the trimmed content of the v2 file, or of the v1 file of
// the controller, or "" if neither is there.
func (h cgroupPaths) read(controller, v2, v1 string) string {
	p := ""
	switch {
	case h.v2 != "" && v2 != "":
		p = filepath.Join(h.v2, v2)
	case h.v1[controller] != "" && v1 != "":
		p = filepath.Join(h.v1[controller], v1)
	default:
		return ""
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// limit is a v2 limit file: a number or "max" (v1's "unlimited" is the
// largest page-aligned number, or -1).
func limit(controller, v2, v1 string) proc.Content {
	return func() ([]byte, error) {
		s := hostCgroups().read(controller, v2, v1)
		if n, err := strconv.ParseInt(s, 10, 64); s == "" || s == "max" || err == nil && (n < 0 || n >= 1<<62) {
			s = "max"
		}
		return []byte(s + "\n"), nil
	}
}

// value is a v2 counter file.
func value(controller, v2, v1 string) proc.Content {
	return func() ([]byte, error) {
		s := hostCgroups().read(controller, v2, v1)
		if s == "" {
			s = "0"
		}
		return []byte(s + "\n"), nil
	}
}

// cpuMax is "QUOTA PERIOD" in µs, QUOTA "max" without a limit.
func cpuMax() ([]byte, error) {
	h := hostCgroups()
	if h.v2 != "" {
		if s := h.read("cpu", "cpu.max", ""); s != "" {
			return []byte(s + "\n"), nil
		}
		return []byte("max 100000\n"), nil
	}
	quota, period := h.read("cpu", "", "cpu.cfs_quota_us"), h.read("cpu", "", "cpu.cfs_period_us")
	if period == "" {
		period = "100000"
	}
	if n, err := strconv.ParseInt(quota, 10, 64); err != nil || n < 0 {
		quota = "max"
	}
	return []byte(quota + " " + period + "\n"), nil
}
