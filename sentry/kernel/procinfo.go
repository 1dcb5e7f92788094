package kernel

import (
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
)

// This file holds what /proc (sentry/fs/proc) reads from the kernel.

// serving maps a sentry OS thread to the task whose syscall it is
// answering: Linux's "current". The VFS calls file systems without a
// caller, but /proc/self must name the caller; the platform answers each
// syscall synchronously on a thread locked to its goroutine, so the thread
// identifies the caller for the length of the call. A plain map under a
// lock: a sync.Map allocated a node per call.
var serving = struct {
	sync.RWMutex
	m map[int]*Task // sentry tid → task
}{m: map[int]*Task{}}

// Serve records that the calling OS thread answers a syscall of t until the
// returned function runs. The caller must be locked to its OS thread
// (runtime.LockOSThread), as the platform's receivers and tracer are.
func (t *Task) Serve() (done func()) {
	tid := unix.Gettid()
	serving.Lock()
	prev := serving.m[tid]
	serving.m[tid] = t
	serving.Unlock()
	return func() {
		serving.Lock()
		if prev != nil {
			serving.m[tid] = prev
		} else {
			delete(serving.m, tid) // the thread may end: no entry left behind
		}
		serving.Unlock()
	}
}

// Current returns the task the calling sentry thread is serving, or nil.
func Current() *Task {
	serving.RLock()
	defer serving.RUnlock()
	return serving.m[unix.Gettid()]
}

// Processes returns the thread-group ids of the sandbox, ascending.
func (k *Kernel) Processes() []int {
	k.mu.Lock()
	seen := map[int]bool{}
	for _, t := range k.tasks {
		seen[t.tgid] = true
	}
	k.mu.Unlock()
	out := make([]int, 0, len(seen))
	for tgid := range seen {
		out = append(out, tgid)
	}
	sort.Ints(out)
	return out
}

// ThreadGroup returns the threads of process tgid by tid, ascending (the
// leader first while it lives).
func (k *Kernel) ThreadGroup(tgid int) []*Task {
	k.mu.Lock()
	var out []*Task
	for _, t := range k.tasks {
		if t.tgid == tgid {
			out = append(out, t)
		}
	}
	k.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Tid() < out[j].Tid() })
	return out
}

// IsProcess reports whether pid is a thread group of the sandbox.
func (k *Kernel) IsProcess(pid int) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, t := range k.tasks {
		if t.tgid == pid {
			return true
		}
	}
	return false
}

// HostCreds returns the thread's current ids and capabilities.
func (t *Task) HostCreds() *HostCreds { return t.hostCreds() }

// Umask returns the umask (the host's copy is stale: umask(2) is answered
// by the sentry).
func (t *Task) Umask() uint32 {
	c := t.FS()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.umask
}

// FDFile is one entry of a fd table, for /proc/<pid>/fd and fdinfo.
type FDFile struct {
	FD      int
	Desc    *fs.FileDescription
	Cloexec bool
}

// FDFiles returns the sandbox's open files in t's fd table, by fd.
func (t *Task) FDFiles() []FDFile {
	tab := t.Files()
	tab.mu.Lock()
	out := make([]FDFile, 0, len(tab.fds))
	for fd, e := range tab.fds {
		out = append(out, FDFile{FD: fd, Desc: e.file.Desc, Cloexec: e.cloexec})
	}
	tab.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].FD < out[j].FD })
	return out
}

// PPid returns the thread group id of the parent the task was forked from.
func (t *Task) PPid() int { return t.ppid }

// SignalPending reports whether a signal that would interrupt a call waits
// for the thread (its own or its process's), from the host's /proc: one it
// does not block and does not ignore. A traced task queues even ignored
// signals (the tracer sees them all), so those are left out here.
func (t *Task) SignalPending() bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(t.Tid()) + "/status")
	if err != nil {
		return false
	}
	var pending, blocked, ignored, caught uint64
	for _, line := range strings.Split(string(b), "\n") {
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v, err := strconv.ParseUint(strings.TrimSpace(val), 16, 64)
		if err != nil {
			continue
		}
		switch key {
		case "SigPnd", "ShdPnd":
			pending |= v
		case "SigBlk":
			blocked = v
		case "SigIgn":
			ignored = v
		case "SigCgt":
			caught = v
		}
	}
	return pending&^blocked&^ignored&^(defaultIgnored&^caught) != 0
}

// defaultIgnored are the signals whose default action is to ignore them
// (SIGCHLD, SIGURG, SIGWINCH), as bits of /proc's signal masks.
const defaultIgnored = 1<<(unix.SIGCHLD-1) | 1<<(unix.SIGURG-1) | 1<<(unix.SIGWINCH-1)

// The program is pid 1 of its own pid namespace (boot.Sandbox); the sentry
// and the platform name tasks by their ids in the sentry's namespace, and
// /proc shows the program's ids. Without a namespace of its own the two
// are the same.

// SetPIDNamespace records that the programs run in a pid namespace of
// their own, whose ids /proc shows.
func (k *Kernel) SetPIDNamespace() { k.pidns.Store(true) }

// UsePIDNamespace gives VPid the programs' pid namespace, once it exists,
// to translate ids with (NS_GET_PID_IN_PIDNS, Linux 6.11: 0.5 µs, where
// reading /proc/<pid>/status takes 15–100 µs). The kernel keeps a
// duplicate of ns, which it never closes: the garbage collector does once
// nothing can use it any more. Without one (no fd left) VPid reads /proc.
func (k *Kernel) UsePIDNamespace(ns *os.File) {
	if fd, err := unix.FcntlInt(ns.Fd(), unix.F_DUPFD_CLOEXEC, 0); err == nil {
		k.pidnsFile.Store(os.NewFile(uintptr(fd), "pidns"))
	}
}

// VPid returns the id the program sees for the host thread or process id
// h (its NSpid), or 0 if h is not one of the sandbox's.
func (k *Kernel) VPid(h int) int {
	if !k.pidns.Load() {
		if k.Task(h) != nil || k.IsProcess(h) {
			return h
		}
		return 0
	}
	t := k.Task(h)
	if t != nil {
		if v := t.vtid.Load(); v != 0 {
			return int(v)
		}
	} else if !k.IsProcess(h) {
		return 0
	}
	v := k.nsPid(h)
	if t != nil && v != 0 {
		t.vtid.Store(int64(v))
	}
	return v
}

// HostPid returns the host id of the thread or process the program calls
// v, or 0.
func (k *Kernel) HostPid(v int) int {
	for _, t := range k.Tasks() {
		if k.VPid(t.Tid()) == v {
			return t.Tid()
		}
	}
	for _, pid := range k.Processes() {
		if k.VPid(pid) == v {
			return pid
		}
	}
	return 0
}

// nsPid returns the id of host thread h in the programs' pid namespace:
// translated by the namespace if known, else the innermost of its NSpid.
func (k *Kernel) nsPid(h int) int {
	if ns := k.pidnsFile.Load(); ns != nil {
		v, _, e := unix.Syscall(unix.SYS_IOCTL, ns.Fd(), unix.NS_GET_PID_IN_PIDNS, uintptr(h))
		switch e {
		case 0:
			return int(v)
		case unix.ESRCH:
			return 0
		}
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(h) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if val, ok := strings.CutPrefix(line, "NSpid:"); ok {
			f := strings.Fields(val)
			if len(f) == 0 {
				return 0
			}
			v, _ := strconv.Atoi(f[len(f)-1])
			return v
		}
	}
	return 0
}

// Placement is the platform's placement of tasks on CPUs
// (platform.Platform): a task it moved shows another affinity than the
// kernel's, and a task whose affinity the program sets is left alone.
type Placement interface {
	Affinity(tid int) (set unix.CPUSet, ok bool)
	KeepAffinity(tid int)
}

// SetPlacement installs the platform's placement; call it before the first
// program starts.
func (k *Kernel) SetPlacement(p Placement) { k.placement = p }

// Affinity returns the CPUs host task tid shows as its affinity when the
// platform placed it; ok is false when the kernel's own answer stands.
func (k *Kernel) Affinity(tid int) (set unix.CPUSet, ok bool) {
	if k.placement == nil {
		return set, false
	}
	return k.placement.Affinity(tid)
}

// KeepAffinity records that the program sets host task tid's affinity.
func (k *Kernel) KeepAffinity(tid int) {
	if k.placement != nil {
		k.placement.KeepAffinity(tid)
	}
}
