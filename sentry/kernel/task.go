package kernel

import (
	"strconv"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
)

// Task is one thread of the sandboxed program, named by its host tid.
type Task struct {
	k    *Kernel
	tid  atomic.Int64 // changes once if the thread execs as a non-leader (Retid)
	tgid int
	ppid int

	cs credsState

	mu    sync.Mutex
	files *FDTable
	fsctx *FSContext
	// exe is the VFS path of the program the thread group runs (for
	// /proc/self/exe), set at exec.
	exe        string
	pendingExe string

	vtid atomic.Int64 // id in the program's pid namespace, once read (VPid)
}

// Kernel returns the task's kernel.
func (t *Task) Kernel() *Kernel { return t.k }

// Tid returns the host thread id.
func (t *Task) Tid() int { return int(t.tid.Load()) }

// Tgid returns the host process id.
func (t *Task) Tgid() int { return t.tgid }

// Creds returns the thread's file system credentials.
func (t *Task) Creds() *fs.Creds {
	t.hostCreds()
	return t.cs.fs.Load()
}

// SetHostCreds sets the thread's credentials (at start, from the spec).
func (t *Task) SetHostCreds(c *HostCreds) {
	t.cs.set(c)
	t.cs.stale.Store(false)
}

// Files returns the fd table.
func (t *Task) Files() *FDTable {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.files
}

// FS returns the cwd/root/umask context.
func (t *Task) FS() *FSContext {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.fsctx
}

// Exe returns the VFS path of the running program.
func (t *Task) Exe() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.exe
}

// Context returns the VFS caller for this thread.
func (t *Task) Context() *fs.Context {
	fsc := t.FS()
	fsc.mu.Lock()
	defer fsc.mu.Unlock()
	return &fs.Context{Creds: t.Creds(), Root: fsc.root, Umask: fsc.umask, Devices: t.k.devices}
}

// Cwd returns the working directory.
func (t *Task) Cwd() fs.Loc {
	fsc := t.FS()
	fsc.mu.Lock()
	defer fsc.mu.Unlock()
	return fsc.cwd
}

// FSContext is what CLONE_FS shares: root, cwd and umask.
type FSContext struct {
	mu    sync.Mutex
	root  fs.Loc
	cwd   fs.Loc
	umask uint32
}

func (c *FSContext) share() *FSContext { return c }

func (c *FSContext) fork() *FSContext {
	c.mu.Lock()
	defer c.mu.Unlock()
	return &FSContext{root: c.root, cwd: c.cwd, umask: c.umask}
}

// SetCwd changes the working directory.
func (c *FSContext) SetCwd(l fs.Loc) {
	c.mu.Lock()
	c.cwd = l
	c.mu.Unlock()
}

// SetRoot changes the root directory (chroot).
func (c *FSContext) SetRoot(l fs.Loc) {
	c.mu.Lock()
	c.root = l
	c.mu.Unlock()
}

// SwapUmask sets the umask and returns the old one.
func (c *FSContext) SwapUmask(m uint32) uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.umask
	c.umask = m & 0o777
	return old
}

// Root returns the root directory.
func (c *FSContext) Root() fs.Loc {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.root
}

// DirLoc returns where a path given with dirfd starts: the cwd for
// AT_FDCWD or an absolute path, else the directory dirfd names. EBADF if
// dirfd is not open; ENOTDIR if it is a host object (pipe, socket).
func (t *Task) DirLoc(dirfd int, path string) (fs.Loc, error) {
	if dirfd == unix.AT_FDCWD || len(path) > 0 && path[0] == '/' {
		return t.Cwd(), nil
	}
	if f := t.Files().Get(dirfd); f != nil {
		return f.Desc.Loc(), nil
	}
	if dirfd < 0 || !t.HasHostFD(dirfd) {
		return fs.Loc{}, unix.EBADF
	}
	return fs.Loc{}, unix.ENOTDIR
}

// HasHostFD reports whether the program has fd open on the host.
func (t *Task) HasHostFD(fd int) bool {
	var st unix.Stat_t
	return unix.Lstat("/proc/"+strconv.Itoa(t.Tid())+"/fd/"+strconv.Itoa(fd), &st) == nil
}

// SetPendingExe records the program an exec in progress runs, taken up by
// Exec when the exec succeeds.
func (t *Task) SetPendingExe(exe string) {
	t.mu.Lock()
	t.pendingExe = exe
	t.mu.Unlock()
}

// PendingExe returns what SetPendingExe recorded.
func (t *Task) PendingExe() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.pendingExe
}

// Unshare gives the thread its own copy of the fd table and/or the
// cwd/root/umask context (unshare(2)).
func (t *Task) Unshare(files, fsctx bool) {
	t.mu.Lock()
	var old *FDTable
	if files {
		old = t.files
		t.files = old.fork()
	}
	if fsctx {
		t.fsctx = t.fsctx.fork()
	}
	t.mu.Unlock()
	if old != nil {
		old.release()
	}
}
