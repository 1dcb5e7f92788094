package proc

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// cgroupDirs returns the host cgroup directories that hold the sentry's
// limits for controller (v1) or for all controllers (v2), innermost first.
func cgroupDirs(controller string) []string {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil
	}
	var dirs []string
	for _, l := range lines(b) {
		parts := strings.SplitN(l, ":", 3)
		if len(parts) != 3 {
			continue
		}
		base := ""
		switch {
		case parts[0] == "0" && parts[1] == "":
			base = "/sys/fs/cgroup"
		case strings.Contains(","+parts[1]+",", ","+controller+","):
			base = "/sys/fs/cgroup/" + parts[1]
		default:
			continue
		}
		for p := strings.TrimSuffix(parts[2], "/"); ; p = p[:strings.LastIndexByte(p, '/')] {
			dirs = append(dirs, base+p)
			if p == "" {
				break
			}
		}
	}
	return dirs
}

// readUint reads a number file of a cgroup; "max" and absent files are
// unlimited.
func readUint(path string) (uint64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	return v, err == nil
}

// memLimit returns the sandbox's memory limit, usage and page cache in
// bytes, if its cgroup has a limit.
func memLimit() (limit, usage, cache uint64, ok bool) {
	limit = math.MaxUint64
	for _, d := range cgroupDirs("memory") {
		for _, name := range []string{"memory.max", "memory.limit_in_bytes"} {
			if v, found := readUint(d + "/" + name); found && v < limit {
				limit = v
				if usage == 0 {
					usage, _ = readUint(d + "/memory.current")
					if u, found := readUint(d + "/memory.usage_in_bytes"); found {
						usage = u
					}
					cache = statField(d+"/memory.stat", "file", "total_cache", "cache")
				}
			}
		}
	}
	return limit, usage, cache, limit != math.MaxUint64
}

// statField returns the first of keys found in a "key value" file.
func statField(path string, keys ...string) uint64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	vals := map[string]uint64{}
	for _, l := range lines(b) {
		k, v, _ := strings.Cut(l, " ")
		n, _ := strconv.ParseUint(v, 10, 64)
		vals[k] = n
	}
	for _, k := range keys {
		if v, ok := vals[k]; ok {
			return v
		}
	}
	return 0
}

// meminfo is the host's meminfo with the totals of the sandbox's memory
// cgroup when it has a smaller limit, as Docker users expect free(1) to
// show.
func meminfo() ([]byte, error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return nil, unix.EIO
	}
	limit, usage, cache, ok := memLimit()
	var total uint64
	for _, l := range lines(b) {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "MemTotal:" {
			total, _ = strconv.ParseUint(f[1], 10, 64)
		}
	}
	if !ok || limit/1024 >= total {
		return b, nil
	}
	kb := func(v uint64) uint64 { return v / 1024 }
	usage = min(usage, limit)
	set := map[string]uint64{
		"MemTotal:": kb(limit), "MemFree:": kb(limit - usage), "MemAvailable:": kb(limit - usage + min(cache, usage)),
		"Buffers:": 0, "Cached:": kb(cache), "SwapTotal:": 0, "SwapFree:": 0, "SwapCached:": 0,
	}
	var out strings.Builder
	for _, l := range lines(b) {
		f := strings.Fields(l)
		if len(f) >= 2 {
			if v, ok := set[f[0]]; ok {
				l = fmt.Sprintf("%-15s %8d kB", f[0], v)
			}
		}
		out.WriteString(l)
		out.WriteByte('\n')
	}
	return []byte(out.String()), nil
}

// cpus returns the host CPUs the sandbox may use, in order: its affinity,
// cut to its cgroup's CPU quota. The affinity is the sentry's main
// thread's, which the platform never pins (the calling thread may be a
// receiver it pinned).
func cpus() []int {
	var set unix.CPUSet
	var out []int
	if err := unix.SchedGetaffinity(unix.Getpid(), &set); err == nil {
		for i := 0; i < len(set)*64; i++ {
			if set.IsSet(i) {
				out = append(out, i)
			}
		}
	}
	if len(out) == 0 {
		out = []int{0}
	}
	quota := math.Inf(1)
	for _, d := range cgroupDirs("cpu") {
		if b, err := os.ReadFile(d + "/cpu.max"); err == nil {
			var q, per float64
			if n, _ := fmt.Sscanf(string(b), "%f %f", &q, &per); n == 2 && per > 0 {
				quota = math.Min(quota, q/per)
			}
		}
		q, okq := readInt(d + "/cpu.cfs_quota_us")
		per, okp := readInt(d + "/cpu.cfs_period_us")
		if okq && okp && q > 0 && per > 0 {
			quota = math.Min(quota, float64(q)/float64(per))
		}
	}
	if n := int(math.Ceil(quota)); n >= 1 && n < len(out) {
		out = out[:n]
	}
	return out
}

func readInt(path string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return v, err == nil
}

// cpuinfo is the host's cpuinfo for the sandbox's CPUs, numbered from 0.
func cpuinfo() ([]byte, error) {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return nil, unix.EIO
	}
	allowed := map[int]int{}
	cs := cpus()
	for i, c := range cs {
		allowed[c] = i
	}
	var out bytes.Buffer
	for _, block := range strings.Split(strings.TrimSpace(string(b)), "\n\n") {
		ls := strings.Split(block, "\n")
		var host int
		if len(ls) == 0 || !strings.HasPrefix(ls[0], "processor") {
			continue
		}
		if _, err := fmt.Sscanf(ls[0][strings.IndexByte(ls[0], ':')+1:], "%d", &host); err != nil {
			continue
		}
		idx, ok := allowed[host]
		if !ok {
			continue
		}
		for _, l := range ls {
			key, _, _ := strings.Cut(l, ":")
			switch strings.TrimSpace(key) {
			case "processor":
				l = fmt.Sprintf("processor\t: %d", idx)
			case "siblings", "cpu cores":
				l = fmt.Sprintf("%s: %d", key, len(cs))
			case "core id", "apicid", "initial apicid":
				l = fmt.Sprintf("%s: %d", key, idx)
			}
			out.WriteString(l)
			out.WriteByte('\n')
		}
		out.WriteByte('\n')
	}
	return out.Bytes(), nil
}

// stat is /proc/stat: the sandbox's CPUs' times, its boot time and
// process counts.
func (f *FS) stat() ([]byte, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return nil, unix.EIO
	}
	cs := cpus()
	idx := map[string]int{}
	for i, c := range cs {
		idx["cpu"+strconv.Itoa(c)] = i
	}
	var sum []uint64
	var percpu []string
	var rest []string
	for _, l := range lines(b) {
		fl := strings.Fields(l)
		if len(fl) == 0 {
			continue
		}
		switch {
		case fl[0] == "cpu":
		case strings.HasPrefix(fl[0], "cpu"):
			i, ok := idx[fl[0]]
			if !ok {
				continue
			}
			for j, v := range fl[1:] {
				n, _ := strconv.ParseUint(v, 10, 64)
				if j >= len(sum) {
					sum = append(sum, 0)
				}
				sum[j] += n
			}
			percpu = append(percpu, "cpu"+strconv.Itoa(i)+" "+strings.Join(fl[1:], " "))
		case fl[0] == "btime" && len(fl) == 2:
			bt, _ := strconv.ParseUint(fl[1], 10, 64)
			rest = append(rest, "btime "+strconv.FormatUint(bt+uint64(f.host.uptime), 10))
		case fl[0] == "processes", fl[0] == "procs_running", fl[0] == "procs_blocked":
			rest = append(rest, f.counts(fl[0]))
		default:
			rest = append(rest, l)
		}
	}
	var out strings.Builder
	out.WriteString("cpu ")
	for _, v := range sum {
		fmt.Fprintf(&out, " %d", v)
	}
	out.WriteByte('\n')
	for _, l := range append(percpu, rest...) {
		out.WriteString(l)
		out.WriteByte('\n')
	}
	return []byte(out.String()), nil
}

// counts is one of /proc/stat's process counters for the sandbox.
func (f *FS) counts(key string) string {
	n := 0
	if t, err := caller(); err == nil {
		n = len(t.Kernel().Tasks())
	}
	switch key {
	case "procs_running":
		n = 1
	case "procs_blocked":
		n = 0
	}
	return key + " " + strconv.Itoa(n)
}

// uptime counts from the sandbox's boot.
func (f *FS) uptime() ([]byte, error) {
	now := readHostClock()
	up := math.Max(now.uptime-f.host.uptime, 0)
	idle := math.Max(now.idle-f.host.idle, 0)
	return []byte(fmt.Sprintf("%.2f %.2f\n", up, idle)), nil
}

// loadavg is the host's load (the sandbox shares its CPUs) with the
// sandbox's task count and newest pid.
func loadavg() ([]byte, error) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return nil, unix.EIO
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return nil, unix.EIO
	}
	tasks, last := 0, 0
	if t, err := caller(); err == nil {
		k := t.Kernel()
		for _, task := range k.Tasks() {
			tasks++
			last = max(last, k.VPid(task.Tid()))
		}
	}
	return []byte(fmt.Sprintf("%s %s %s 1/%d %d\n", f[0], f[1], f[2], tasks, last)), nil
}

// uname returns the host kernel's release and version strings (the
// sandbox runs on it: glibc and programs check the release).
func uname() (release, version string) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "6.0.0", "#1 SMP"
	}
	return unix.ByteSliceToString(u.Release[:]), unix.ByteSliceToString(u.Version[:])
}

func version() ([]byte, error) {
	rel, ver := uname()
	return []byte(fmt.Sprintf("Linux version %s (runsc@sandbox) (gcc) %s\n", rel, ver)), nil
}

// filesystems lists the file system types the sandbox has.
func filesystems() ([]byte, error) {
	var b strings.Builder
	for _, t := range []string{"sysfs", "tmpfs", "proc", "devpts", "overlay", "9p", "ramfs", "mqueue"} {
		fmt.Fprintf(&b, "nodev\t%s\n", t)
	}
	return []byte(b.String()), nil
}

// CPURange is the sandbox's CPUs as a sysfs CPU list ("0-3"): numbered
// from 0, as /proc/cpuinfo numbers them.
func CPURange() string {
	n := len(cpus())
	if n == 1 {
		return "0"
	}
	return "0-" + strconv.Itoa(n-1)
}
