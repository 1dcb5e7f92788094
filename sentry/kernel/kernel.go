// Package kernel is the sentry's model of the sandboxed program: its
// processes and threads, their fd tables, working directories, roots,
// umasks and credentials. The syscall layer (sentry/syscalls) answers
// trapped syscalls by changing this state and calling the VFS; the platform
// (sentry/platform) reports process events (fork, clone, exec, exit).
//
// Lock order:
//
//	Kernel.mu
//	  FDTable.mu
//	    FSContext.mu
package kernel

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
)

// Kernel is one sandbox's state.
type Kernel struct {
	VFS *fs.VFS

	// placeholder is an empty, sentry-private host directory. A program's
	// fd for a VFS directory is an open of it: a native read gives EISDIR,
	// and everything else on the fd is trapped and answered from the VFS.
	placeholder string
	devices     *Devices

	sockets unixSockets
	pidns   atomic.Bool // programs run in their own pid namespace (VPid)
	// pidnsFile is that namespace, once known (UsePIDNamespace).
	pidnsFile atomic.Pointer[os.File]
	// placement is set before the first program starts (SetPlacement).
	placement Placement

	mu    sync.Mutex
	tasks map[int]*Task // by host tid
}

// New makes a kernel over a mount namespace. placeholderDir must be an empty
// host directory that only the sentry can reach.
func New(v *fs.VFS, placeholderDir string, devices *Devices) (*Kernel, error) {
	st, err := os.Stat(placeholderDir)
	if err != nil {
		return nil, fmt.Errorf("placeholder directory: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("placeholder directory %q: %w", placeholderDir, unix.ENOTDIR)
	}
	if devices == nil {
		devices = &Devices{}
	}
	return &Kernel{VFS: v, placeholder: placeholderDir, devices: devices, tasks: map[int]*Task{}}, nil
}

// Task returns the thread with host id tid, or nil.
func (k *Kernel) Task(tid int) *Task {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.tasks[tid]
}

// Tasks returns every thread.
func (k *Kernel) Tasks() []*Task {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]*Task, 0, len(k.tasks))
	for _, t := range k.tasks {
		out = append(out, t)
	}
	return out
}

// NewInit registers the first process of the sandbox: host tid, its
// credentials, root and working directory, and an empty fd table (the
// caller adds stdio with AdoptHostFD).
func (k *Kernel) NewInit(tid int, creds *HostCreds, root, cwd fs.Loc, umask uint32) *Task {
	t := &Task{
		k: k, tgid: tid, ppid: 0,
		files: newFDTable(),
		fsctx: &FSContext{root: root, cwd: cwd, umask: umask},
	}
	t.tid.Store(int64(tid))
	t.SetHostCreds(creds)
	k.mu.Lock()
	k.tasks[tid] = t
	k.mu.Unlock()
	return t
}

// CloneFlags say what a new thread or process shares with its parent.
type CloneFlags struct {
	Thread bool // CLONE_THREAD: same thread group
	Files  bool // CLONE_FILES: shared fd table
	FS     bool // CLONE_FS: shared cwd, root and umask
}

// Clone registers a thread or process that parent made (fork, vfork,
// clone). Without CLONE_FILES the child gets a copy of the fd table, as
// Linux's dup_fd.
func (k *Kernel) Clone(parent *Task, tid int, f CloneFlags) *Task {
	t := &Task{k: k, tgid: tid, ppid: parent.tgid}
	t.tid.Store(int64(tid))
	if f.Thread {
		t.tgid, t.ppid = parent.tgid, parent.ppid
	}
	t.cs.set(parent.hostCreds())
	// A forked child runs its parent's program until it execs.
	parent.mu.Lock()
	t.exe = parent.exe
	parent.mu.Unlock()
	if f.Files {
		t.files = parent.files.share()
	} else {
		t.files = parent.files.fork()
	}
	if f.FS {
		t.fsctx = parent.fsctx.share()
	} else {
		t.fsctx = parent.fsctx.fork()
	}
	k.mu.Lock()
	k.tasks[tid] = t
	k.mu.Unlock()
	return t
}

// Retid records that t, a thread that exec'd, took its thread group
// leader's id, as Linux's de_thread gives it (the leader is gone: Exit).
func (k *Kernel) Retid(t *Task, tid int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if old := t.Tid(); k.tasks[old] == t {
		delete(k.tasks, old)
	}
	t.tid.Store(int64(tid))
	t.vtid.Store(0)
	k.tasks[tid] = t
}

// Exit forgets a thread that has exited, releasing its references.
func (k *Kernel) Exit(tid int) {
	k.mu.Lock()
	t := k.tasks[tid]
	delete(k.tasks, tid)
	k.mu.Unlock()
	if t != nil {
		t.files.release()
	}
}
