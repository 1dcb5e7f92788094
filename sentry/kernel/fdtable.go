package kernel

import (
	"sort"
	"sync"

	"golang.org/x/sys/unix"
)

// FDTable maps the program's fd numbers to the sandbox's open files. Only
// fds the sentry installed are here; an fd missing from the table is a host
// object the program made natively (pipe, socket, eventfd) or inherited
// (stdio), and calls on it run on the host.
//
// Invariant: every change of an entry happens with mu held together with
// the platform call that changes the program's real fd table, so the two
// never disagree (see Install).
type FDTable struct {
	mu    sync.Mutex
	fds   map[int]fdEntry
	users int // tasks sharing the table (CLONE_FILES)
}

type fdEntry struct {
	file    *File
	cloexec bool
}

func newFDTable() *FDTable { return &FDTable{fds: map[int]fdEntry{}, users: 1} }

func (t *FDTable) share() *FDTable {
	t.mu.Lock()
	t.users++
	t.mu.Unlock()
	return t
}

// fork copies the table for a new process (no CLONE_FILES).
func (t *FDTable) fork() *FDTable {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := &FDTable{fds: make(map[int]fdEntry, len(t.fds)), users: 1}
	for fd, e := range t.fds {
		e.file.IncRef()
		n.fds[fd] = e
	}
	return n
}

// release drops one user; the last one drops every file.
func (t *FDTable) release() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.users--
	if t.users > 0 {
		return
	}
	for fd, e := range t.fds {
		e.file.DecRef()
		delete(t.fds, fd)
	}
}

// Get returns the file at fd, or nil.
func (t *FDTable) Get(fd int) *File {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.fds[fd].file
}

// Acquire returns the file at fd with a reference the caller drops, or
// nil: a close by another thread meanwhile cannot free it under the caller,
// as Linux's fdget holds a file for a syscall.
func (t *FDTable) Acquire(fd int) *File {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.fds[fd].file
	if f != nil {
		f.IncRef()
	}
	return f
}

// Cloexec reports the close-on-exec flag of fd.
func (t *FDTable) Cloexec(fd int) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.fds[fd].cloexec
}

// Installer puts a host fd into the program's fd table; the platform
// implements it. target < 0 means the lowest free number.
type Installer func(host int, cloexec bool, target int) (int, error)

// Install runs install and records the result as fd → f, holding the table
// lock across both so that no close of the new number can come between.
// The table takes a reference to f on success. An entry that the install
// replaced (dup2 onto it) is dropped.
func (t *FDTable) Install(f *File, cloexec bool, target int, install Installer) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.installLocked(f, cloexec, target, install)
}

func (t *FDTable) installLocked(f *File, cloexec bool, target int, install Installer) (int, error) {
	fd, err := install(f.host, cloexec, target)
	if err != nil {
		return -1, err
	}
	if old, ok := t.fds[fd]; ok {
		old.file.DecRef()
	}
	f.IncRef()
	t.fds[fd] = fdEntry{file: f, cloexec: cloexec}
	return fd, nil
}

// InstallFrom is Install at the lowest number >= lowest that is free both
// in the table and, per open, in the program (F_DUPFD). With lowest 0 the
// kernel picks the number, atomically. Otherwise the number is chosen and
// filled under the lock, so no sandbox open or dup can take it in between;
// a descriptor another thread creates natively in that window (pipe,
// socket) can still be replaced, as the platform has no "lowest at or
// above" install.
func (t *FDTable) InstallFrom(f *File, cloexec bool, lowest, limit int, open func(int) bool, install Installer) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	target := -1
	if lowest > 0 {
		for fd := lowest; fd < limit && target < 0; fd++ {
			if _, ok := t.fds[fd]; !ok && !open(fd) {
				target = fd
			}
		}
		if target < 0 {
			return -1, unix.EMFILE
		}
	}
	return t.installLocked(f, cloexec, target, install)
}

// Remove forgets fd (before the program's close of it runs natively) and
// reports whether it was there.
func (t *FDTable) Remove(fd int) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.fds[fd]
	if ok {
		delete(t.fds, fd)
		e.file.DecRef()
	}
	return ok
}

// RemoveRange forgets fds first..last (close_range); with cloexecOnly it
// sets close-on-exec instead.
func (t *FDTable) RemoveRange(first, last uint, cloexecOnly bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for fd, e := range t.fds {
		if uint(fd) < first || uint(fd) > last {
			continue
		}
		if cloexecOnly {
			e.cloexec = true
			t.fds[fd] = e
			continue
		}
		delete(t.fds, fd)
		e.file.DecRef()
	}
}

// SetCloexec records fcntl(F_SETFD).
func (t *FDTable) SetCloexec(fd int, on bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e, ok := t.fds[fd]; ok {
		e.cloexec = on
		t.fds[fd] = e
	}
}

// Lock and Unlock hold the table while a caller changes the program's fds
// in a way the table must follow (dup2 of a host fd onto a VFS fd).
func (t *FDTable) Lock()   { t.mu.Lock() }
func (t *FDTable) Unlock() { t.mu.Unlock() }

// RemoveLocked is Remove with the lock held.
func (t *FDTable) RemoveLocked(fd int) {
	if e, ok := t.fds[fd]; ok {
		delete(t.fds, fd)
		e.file.DecRef()
	}
}

// FDs returns the table's fd numbers in order (for /proc/self/fd).
func (t *FDTable) FDs() []int {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]int, 0, len(t.fds))
	for fd := range t.fds {
		out = append(out, fd)
	}
	sort.Ints(out)
	return out
}

// execCopy is the table after exec: unshared, close-on-exec files gone.
func (t *FDTable) execCopy() *FDTable {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := &FDTable{fds: make(map[int]fdEntry, len(t.fds)), users: 1}
	for fd, e := range t.fds {
		if e.cloexec {
			continue
		}
		e.file.IncRef()
		n.fds[fd] = e
	}
	return n
}

// Exec records that the thread group of t has exec'd: the fd table is
// unshared and close-on-exec fds are gone (the kernel closed them), and
// exe is the program's VFS path. The credentials follow (credsExeced).
func (t *Task) Exec(exe string) {
	t.credsExeced()
	t.mu.Lock()
	old := t.files
	t.files = old.execCopy()
	t.exe = exe
	t.mu.Unlock()
	old.release()
}
