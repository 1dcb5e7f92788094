// Package proc is the sandbox's /proc: a synthetic file system generated
// from the sentry's state (sentry/kernel: tasks, fd tables, cwd, mounts) and,
// where the host kernel holds the truth about the sandbox's own processes
// (memory maps, CPU times, limits), from the host's /proc/<tid> of those
// processes, filtered so that nothing outside the sandbox shows.
//
// Every file is a snapshot made at open into a sealed memfd (the program
// reads it natively); writable files (oom_score_adj, comm,
// sys/kernel/hostname) take effect when the open is closed.
//
// The caller of a lookup (/proc/self) is kernel.Current(): the task whose
// syscall the calling sentry thread is answering.
//
// Lock order: the VFS holds this file system's tree lock (for reading)
// around every Dentry method. Below it come the kernel's locks (each taken
// and released within one kernel call), other file systems' tree locks
// (fs.PathOf, VFS.Open and Stat of a process's files), and the leaf locks
// Dir.mu and FS.mu. This tree's own lock is not taken a second time
// (FS.pathOf), except by fs.PathOf of a mount stacked on /proc (mountinfo).
// FileDescription.mu is never taken: getdents holds it around Readdir.
package proc

import (
	"sort"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
	"runsc.dev/runsc/sentry/kernel"
)

// Magic is PROC_SUPER_MAGIC, statfs's f_type.
const Magic = 0x9fa0

// Options configure a /proc.
type Options struct {
	// Hostname is the sandbox's host name (sys/kernel/hostname). Without
	// it, the name of the sandbox's own UTS namespace if OwnUTS, else
	// "localhost" (never the host's).
	Hostname string
	// OwnUTS: the sentry runs in the sandbox's own UTS namespace, so
	// uname(2) names the sandbox and writes of the host name go there.
	OwnUTS bool
	// MountPoints are paths ("/name/...") of mounts to be made on top of
	// this /proc; their first components are added as empty directories.
	MountPoints []string
}

// FS is one /proc instance.
type FS struct {
	*Tree
	host hostClock

	mu       sync.Mutex
	hostname string
	ownUTS   bool
	bootID   string
	// files caches which VFS file a host inode mapped into a process is
	// (see maps.go), by host device and inode.
	files map[devIno]string
	// comms are names threads were given through /proc (pid.go).
	comms map[int]commSet
}

// New makes a /proc.
func New(o Options) *FS {
	f := &FS{Tree: NewTree("proc", Magic), host: readHostClock(), hostname: o.Hostname, ownUTS: o.OwnUTS, bootID: newUUID(), files: map[devIno]string{}, comms: map[int]commSet{}}
	ops := DirOps{List: f.rootList, Make: f.rootMake, Valid: f.rootValid}
	root := f.NewDir(nil, "", Static(0o555), f.WithMountPoints(ops, o.MountPoints))
	f.SetRoot(root)
	return f
}

// rootStatic are /proc's fixed entries; pids follow them.
var rootStatic = []string{
	"self", "thread-self", "mounts", "net", "meminfo", "cpuinfo", "stat", "uptime", "loadavg",
	"version", "filesystems", "sys", "cgroups", "cmdline",
}

const pidCookieBase = 1 << 20

func (f *FS) rootList() ([]Entry, error) {
	var out []Entry
	for i, n := range rootStatic {
		out = append(out, Entry{Name: n, Cookie: int64(i)})
	}
	if t := kernel.Current(); t != nil {
		k := t.Kernel()
		for _, pid := range k.Processes() {
			if v := k.VPid(pid); v > 0 {
				out = append(out, Entry{Name: strconv.Itoa(v), Cookie: pidCookieBase + int64(v)})
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Cookie < out[j].Cookie })
	}
	return out, nil
}

// pidName parses a /proc/<pid> name as Linux does: decimal, no sign, no
// leading zeros.
func pidName(name string) (int, bool) {
	if name == "" || name[0] == '0' || name[0] == '+' {
		return 0, false
	}
	n, err := strconv.Atoi(name)
	return n, err == nil && n > 0
}

func (f *FS) rootValid(name string) bool {
	v, ok := pidName(name)
	if !ok {
		return true
	}
	t := kernel.Current()
	if t == nil {
		return false
	}
	return t.Kernel().HostPid(v) != 0
}

func (f *FS) rootMake(d *Dir, name string) (fs.Dentry, error) {
	if v, ok := pidName(name); ok {
		t := kernel.Current()
		if t == nil {
			return nil, unix.ENOENT
		}
		k := t.Kernel()
		tid := k.HostPid(v)
		if tid == 0 {
			return nil, unix.ENOENT
		}
		if k.IsProcess(tid) {
			return f.newPidDir(d, name, k, tid, tid, true), nil
		}
		// A thread's id works as a pid, though /proc does not list it.
		if th := k.Task(tid); th != nil {
			return f.newPidDir(d, name, k, th.Tgid(), tid, true), nil
		}
		return nil, unix.ENOENT
	}
	ro := Static(0o444)
	switch name {
	case "self":
		return f.NewSymlink(d, name, func() (string, error) {
			t := kernel.Current()
			if t == nil {
				return "", unix.ENOENT
			}
			return strconv.Itoa(t.Kernel().VPid(t.Tgid())), nil
		}), nil
	case "thread-self":
		return f.NewSymlink(d, name, func() (string, error) {
			t := kernel.Current()
			if t == nil {
				return "", unix.ENOENT
			}
			k := t.Kernel()
			return strconv.Itoa(k.VPid(t.Tgid())) + "/task/" + strconv.Itoa(k.VPid(t.Tid())), nil
		}), nil
	case "mounts", "net":
		return f.NewSymlink(d, name, func() (string, error) { return "self/" + name, nil }), nil
	case "meminfo":
		return f.NewFile(d, name, ro, meminfo), nil
	case "cpuinfo":
		return f.NewFile(d, name, ro, cpuinfo), nil
	case "stat":
		return f.NewFile(d, name, ro, f.stat), nil
	case "uptime":
		return f.NewFile(d, name, ro, f.uptime), nil
	case "loadavg":
		return f.NewFile(d, name, ro, loadavg), nil
	case "version":
		return f.NewFile(d, name, ro, version), nil
	case "filesystems":
		return f.NewFile(d, name, ro, filesystems), nil
	case "cgroups":
		return f.NewFile(d, name, ro, func() ([]byte, error) {
			return []byte("#subsys_name\thierarchy\tnum_cgroups\tenabled\n"), nil
		}), nil
	case "cmdline":
		return f.NewFile(d, name, ro, func() ([]byte, error) { return []byte("runsc\n"), nil }), nil
	case "sys":
		return f.newSysDir(d), nil
	}
	return nil, unix.ENOENT
}

// caller returns the task on whose behalf the sentry runs now.
func caller() (*kernel.Task, error) {
	t := kernel.Current()
	if t == nil {
		return nil, unix.ESRCH
	}
	return t, nil
}

// callerRoot is where paths /proc shows start: the caller's root.
func callerRoot(t *kernel.Task) fs.Loc { return t.FS().Root() }

// mayPtrace approximates ptrace_may_access(PTRACE_MODE_READ_FSCREDS): the
// caller is in the target's thread group, or its fsuid and fsgid match
// all the target's ids, or it has CAP_SYS_PTRACE.
func mayPtrace(c, target *kernel.Task) bool {
	if c.Tgid() == target.Tgid() {
		return true
	}
	cc, tc := c.HostCreds(), target.HostCreds()
	if cc == nil || tc == nil {
		return false
	}
	if cc.CapEff&(1<<unix.CAP_SYS_PTRACE) != 0 {
		return true
	}
	return cc.FSUID == tc.RUID && cc.FSUID == tc.EUID && cc.FSUID == tc.SUID &&
		cc.FSGID == tc.RGID && cc.FSGID == tc.EGID && cc.FSGID == tc.SGID
}

// lines splits text into lines without the final newline's empty one.
func lines(b []byte) []string {
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// pathOf is VFS.PathOf, except that it names locations in this /proc
// itself. PathOf takes the read lock of each tree it walks; the VFS already
// holds this tree's around the method that asks, and a second read lock
// would wait behind a writer that came in between, which waits for the
// first.
func (f *FS) pathOf(v *fs.VFS, root, loc fs.Loc) string {
	if loc.Mount.Filesystem() != fs.Filesystem(f) || loc == root {
		return v.PathOf(root, loc)
	}
	top := loc.Mount.Root()
	var parts []string
	for d := loc.Dentry; d != top.Dentry; d = d.Parent() {
		n, ok := d.(fs.Namer)
		if d == nil || !ok {
			return v.PathOf(root, loc)
		}
		parts = append(parts, n.Name())
	}
	p := strings.TrimSuffix(v.PathOf(root, top), "/")
	for i := len(parts) - 1; i >= 0; i-- {
		p += "/" + parts[i]
	}
	return p
}
