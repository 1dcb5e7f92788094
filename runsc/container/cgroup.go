package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// cgroupRoot is where the cgroup hierarchies are mounted.
const cgroupRoot = "/sys/fs/cgroup"

// v1Controllers are the cgroup v1 hierarchies a container joins.
var v1Controllers = []string{"memory", "cpu", "cpuacct", "pids", "freezer", "blkio", "devices"}

// cgroupV2 reports whether the host runs the unified hierarchy only.
func cgroupV2() bool {
	_, err := os.Stat(filepath.Join(cgroupRoot, "cgroup.controllers"))
	return err == nil
}

// cgroupDir is one directory of a container's cgroup: in the hierarchy of
// controller (v1), or in the unified hierarchy (controller "").
type cgroupDir struct {
	controller string
	dir        string
}

// cgroupDirs returns the directories of a container's cgroup.
func cgroupDirs(path string) []cgroupDir {
	if path == "" || path == "/" {
		return nil
	}
	if cgroupV2() {
		return []cgroupDir{{"", filepath.Join(cgroupRoot, path)}}
	}
	var dirs []cgroupDir
	for _, c := range v1Controllers {
		if _, err := os.Stat(filepath.Join(cgroupRoot, c)); err == nil {
			dirs = append(dirs, cgroupDir{c, filepath.Join(cgroupRoot, c, path)})
		}
	}
	return dirs
}

func cgroupsPath(spec *specs.Spec) string {
	if spec.Linux == nil {
		return ""
	}
	p := spec.Linux.CgroupsPath
	if p == "" || strings.Contains(p, ":") && !strings.HasPrefix(p, "/") {
		// None, or systemd's "slice:prefix:name", which needs
		// --systemd-cgroup.
		return ""
	}
	if p = filepath.Clean("/" + p); p == "/" {
		return ""
	}
	return p
}

// joinCgroup creates (or joins) the container's cgroup, applies the
// spec's limits and moves pid (the sandbox: its gofer and program follow)
// into it.
func joinCgroup(spec *specs.Spec, pid int) error {
	path := cgroupsPath(spec)
	if path == "" || path == "/" {
		return nil
	}
	var res *specs.LinuxResources
	if spec.Linux != nil {
		res = spec.Linux.Resources
	}
	v2 := cgroupV2()
	if v2 {
		if err := enableV2Controllers(path); err != nil {
			return err
		}
	}
	for _, d := range cgroupDirs(path) {
		if err := os.MkdirAll(d.dir, 0o755); err != nil {
			return fmt.Errorf("cgroup %s: %w", d.dir, err)
		}
		for file, val := range limits(res, v2, d.controller) {
			if err := writeCgroup(d.dir, file, val); err != nil {
				return err
			}
		}
		if err := writeCgroup(d.dir, "cgroup.procs", strconv.Itoa(pid)); err != nil {
			return err
		}
	}
	return nil
}

// limits maps the spec's resources to cgroup files of controller (v1) or
// of the unified hierarchy (v2).
func limits(r *specs.LinuxResources, v2 bool, controller string) map[string]string {
	out := map[string]string{}
	if r == nil {
		return out
	}
	if m := r.Memory; m != nil && m.Limit != nil && *m.Limit > 0 {
		if v2 {
			out["memory.max"] = strconv.FormatInt(*m.Limit, 10)
		} else if controller == "memory" {
			out["memory.limit_in_bytes"] = strconv.FormatInt(*m.Limit, 10)
		}
	}
	if c := r.CPU; c != nil {
		if c.Quota != nil && *c.Quota > 0 {
			period := uint64(100000)
			if c.Period != nil && *c.Period > 0 {
				period = *c.Period
			}
			if v2 {
				out["cpu.max"] = fmt.Sprintf("%d %d", *c.Quota, period)
			} else if controller == "cpu" {
				out["cpu.cfs_period_us"] = strconv.FormatUint(period, 10)
				out["cpu.cfs_quota_us"] = strconv.FormatInt(*c.Quota, 10)
			}
		}
		if c.Shares != nil && *c.Shares > 0 && !v2 && controller == "cpu" {
			out["cpu.shares"] = strconv.FormatUint(*c.Shares, 10)
		}
	}
	if p := r.Pids; p != nil && p.Limit != nil && *p.Limit > 0 {
		if v2 || controller == "pids" {
			out["pids.max"] = strconv.FormatInt(*p.Limit, 10)
		}
	}
	return out
}

// enableV2Controllers turns on memory, cpu and pids for every ancestor of
// path, so that its limits apply.
func enableV2Controllers(path string) error {
	dir := cgroupRoot
	for _, c := range strings.Split(strings.Trim(path, "/"), "/") {
		avail, _ := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
		var enable []string
		for _, want := range []string{"memory", "cpu", "pids"} {
			if strings.Contains(" "+strings.TrimSpace(string(avail))+" ", " "+want+" ") {
				enable = append(enable, "+"+want)
			}
		}
		if len(enable) > 0 {
			// Best effort: a parent with processes of its own refuses.
			os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte(strings.Join(enable, " ")), 0)
		}
		dir = filepath.Join(dir, c)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	return nil
}

func writeCgroup(dir, file, val string) error {
	if err := os.WriteFile(filepath.Join(dir, file), []byte(val), 0); err != nil {
		return fmt.Errorf("cgroup %s: %w", filepath.Join(dir, file), err)
	}
	return nil
}

// removeCgroup removes the container's cgroup directories. Processes
// just killed leave them busy for a moment, so it retries for a while.
func removeCgroup(path string) error {
	var errs []error
	for _, d := range cgroupDirs(path) {
		var err error
		for i := 0; i < 200; i++ {
			if err = os.Remove(d.dir); err == nil || errors.Is(err, os.ErrNotExist) || !errors.Is(err, unix.EBUSY) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// freeze pauses (or thaws) every process of the cgroup.
func freeze(path string, frozen bool) error {
	if path == "" || path == "/" {
		return errors.New("the container has no cgroup to freeze")
	}
	if cgroupV2() {
		v := "0"
		if frozen {
			v = "1"
		}
		return writeCgroup(filepath.Join(cgroupRoot, path), "cgroup.freeze", v)
	}
	v := "THAWED"
	if frozen {
		v = "FROZEN"
	}
	return writeCgroup(filepath.Join(cgroupRoot, "freezer", path), "freezer.state", v)
}
