package fstest

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sort"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Host runs operations on the host kernel, on one OS thread that has its
// own fs_struct (unshare(CLONE_FS)), is chrooted into the directory under
// test, and switches its credentials per operation with raw per-thread
// syscalls. It needs root.
type Host struct {
	ops     chan *Op
	results chan Result
	perm    uint32 // permitted capabilities (low word) of the thread
	permHi  uint32
	fds     [Slots]int // open-file slots, -1 if closed
}

// NewHost starts an executor whose root is dir.
func NewHost(dir string) (*Host, error) {
	h := &Host{ops: make(chan *Op), results: make(chan Result)}
	for i := range h.fds {
		h.fds[i] = -1
	}
	ready := make(chan error)
	go h.loop(dir, ready)
	if err := <-ready; err != nil {
		return nil, err
	}
	return h, nil
}

// MountTmpfs mounts a fresh tmpfs with the given data at a new directory
// under parent, returning the directory and a function that unmounts it.
func MountTmpfs(parent, data string) (string, func(), error) {
	dir, err := os.MkdirTemp(parent, "fstest")
	if err != nil {
		return "", nil, err
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, data); err != nil {
		os.Remove(dir)
		return "", nil, fmt.Errorf("mount tmpfs on %s: %w", dir, err)
	}
	return dir, func() {
		unix.Unmount(dir, unix.MNT_DETACH)
		os.Remove(dir)
	}, nil
}

func (h *Host) loop(dir string, ready chan<- error) {
	// The thread's root, cwd, umask and credentials become the test's. It
	// is never unlocked, so it exits with this goroutine instead of going
	// back to the Go scheduler in that state.
	runtime.LockOSThread()
	err := func() error {
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			return fmt.Errorf("unshare(CLONE_FS): %w", err)
		}
		if err := unix.Chroot(dir); err != nil {
			return fmt.Errorf("chroot: %w", err)
		}
		if err := unix.Chdir("/"); err != nil {
			return err
		}
		var data [2]unix.CapUserData
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		if err := unix.Capget(&hdr, &data[0]); err != nil {
			return fmt.Errorf("capget: %w", err)
		}
		h.perm, h.permHi = data[0].Permitted, data[1].Permitted
		return nil
	}()
	ready <- err
	if err != nil {
		return
	}
	for op := range h.ops {
		h.results <- h.run(op)
	}
	for _, fd := range h.fds {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
}

// Run implements Executor.
func (h *Host) Run(op *Op) Result {
	h.ops <- op
	return <-h.results
}

// Close implements Executor. The thread exits.
func (h *Host) Close() error {
	close(h.ops)
	return nil
}

func (h *Host) capset(caps uint64) error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := [2]unix.CapUserData{
		{Effective: uint32(caps) & h.perm, Permitted: h.perm},
		{Effective: uint32(caps>>32) & h.permHi, Permitted: h.permHi},
	}
	return unix.Capset(&hdr, &data[0])
}

// setCreds switches the thread to c. Capabilities go last: changing the
// fsuid away from 0 clears the file system capabilities.
func (h *Host) setCreds(c *Cred, umask uint32) error {
	if err := h.capset(AllCaps); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	groups := make([]uint32, len(c.Groups)+1)
	copy(groups, c.Groups)
	if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(c.Groups)), uintptr(unsafe.Pointer(&groups[0])), 0); e != 0 {
		return fmt.Errorf("setgroups: %w", e)
	}
	unix.RawSyscall(unix.SYS_SETFSGID, uintptr(c.GID), 0, 0)
	unix.RawSyscall(unix.SYS_SETFSUID, uintptr(c.UID), 0, 0)
	if got, _, _ := unix.RawSyscall(unix.SYS_SETFSUID, ^uintptr(0), 0, 0); uint32(got) != c.UID {
		return fmt.Errorf("setfsuid(%d) left fsuid %d", c.UID, got)
	}
	if err := h.capset(c.Caps); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	unix.RawSyscall(unix.SYS_UMASK, uintptr(umask), 0, 0)
	return nil
}

func errnoOf(err error) unix.Errno {
	if err == nil {
		return 0
	}
	var e unix.Errno
	if errors.As(err, &e) {
		return e
	}
	panic(fmt.Sprintf("not an errno: %v", err))
}

func hostStat(st *unix.Stat_t) *Stat {
	return &Stat{Mode: st.Mode, Nlink: uint32(st.Nlink), UID: st.Uid, GID: st.Gid, Size: st.Size, Blocks: st.Blocks, Rdev: st.Rdev, Ino: st.Ino}
}

func cstr(s string) uintptr {
	p, err := unix.BytePtrFromString(s)
	if err != nil {
		panic(err)
	}
	return uintptr(unsafe.Pointer(p))
}

// special reports whether a file type is a fifo or a device: opening those
// is the pipe and device layers' business, not the VFS's, so neither
// executor opens an existing one (it stats the path as open would follow
// it, as root, first).
func special(typ uint32) bool {
	return typ == unix.S_IFIFO || typ == unix.S_IFCHR || typ == unix.S_IFBLK
}

func (h *Host) run(op *Op) Result {
	if err := h.setCreds(&op.Cred, op.Umask); err != nil {
		panic(err)
	}
	cwd := unix.AT_FDCWD
	if op.At > 0 {
		cwd = h.fds[op.At-1]
	}
	var r Result
	var err error
	p := op.Path
	switch op.Kind {
	case OpMkdir:
		err = unix.Mkdirat(cwd, p, op.Mode)
	case OpMknod:
		err = unix.Mknodat(cwd, p, op.Mode, int(op.Dev))
	case OpOpen:
		var st unix.Stat_t
		h.setCreds(&RootCred, 0)
		follow := 0
		if op.Flags&unix.O_NOFOLLOW != 0 {
			follow = unix.AT_SYMLINK_NOFOLLOW
		}
		if unix.Fstatat(cwd, p, &st, follow) == nil && special(st.Mode&unix.S_IFMT) {
			return Result{Skip: true}
		}
		h.setCreds(&op.Cred, op.Umask)
		var fd int
		fd, err = unix.Openat(cwd, p, op.Flags|unix.O_CLOEXEC, op.Mode)
		if err != nil {
			break
		}
		r.Writes = []int{}
		for _, w := range op.Writes {
			var n int
			var werr error
			if w.Off < 0 {
				n, werr = unix.Write(fd, w.Data)
			} else {
				n, werr = unix.Pwrite(fd, w.Data, w.Off)
			}
			if werr != nil {
				n = -int(errnoOf(werr))
			}
			r.Writes = append(r.Writes, n)
		}
		if err = unix.Fstat(fd, &st); err == nil {
			r.Stat = hostStat(&st)
		}
		unix.Close(fd)
	case OpSymlink:
		err = unix.Symlinkat(op.Path2, cwd, p)
	case OpLink:
		err = unix.Linkat(cwd, p, cwd, op.Path2, op.Flags)
	case OpUnlink:
		err = unix.Unlinkat(cwd, p, 0)
	case OpRmdir:
		err = unix.Unlinkat(cwd, p, unix.AT_REMOVEDIR)
	case OpRename:
		err = unix.Renameat2(cwd, p, cwd, op.Path2, uint(op.Flags))
	case OpStat, OpLstat:
		var st unix.Stat_t
		flags := 0
		if op.Kind == OpLstat {
			flags = unix.AT_SYMLINK_NOFOLLOW
		}
		if err = unix.Fstatat(cwd, p, &st, flags); err == nil {
			r.Stat = hostStat(&st)
		}
	case OpReadlink:
		buf := make([]byte, unix.PathMax)
		var n int
		if n, err = unix.Readlinkat(cwd, p, buf); err == nil {
			r.Data = buf[:n]
		}
	case OpChmod:
		_, _, e := unix.Syscall6(unix.SYS_FCHMODAT2, uintptr(cwd), cstr(p), uintptr(op.Mode), uintptr(op.Flags), 0, 0)
		if e != 0 {
			err = e
		}
	case OpChown:
		err = unix.Fchownat(cwd, p, int(op.UID), int(op.GID), op.Flags)
	case OpUtimens:
		var ts *[2]unix.Timespec
		if t := utimesArg(op.Times); t != nil {
			ts = t
		}
		_, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(cwd), cstr(p), uintptr(unsafe.Pointer(ts)), uintptr(op.Flags), 0, 0)
		if e != 0 {
			err = e
		}
	case OpTruncate:
		err = unix.Truncate(p, op.Size)
	case OpSetxattr:
		if op.XFlags != 0 {
			err = unix.Lsetxattr(p, op.Name, op.Value, op.Flags)
		} else {
			err = unix.Setxattr(p, op.Name, op.Value, op.Flags)
		}
	case OpGetxattr:
		buf := make([]byte, 1<<16)
		var n int
		if op.XFlags != 0 {
			n, err = unix.Lgetxattr(p, op.Name, buf)
		} else {
			n, err = unix.Getxattr(p, op.Name, buf)
		}
		if err == nil {
			r.Data = buf[:n]
		}
	case OpListxattr:
		buf := make([]byte, 1<<16)
		var n int
		if op.XFlags != 0 {
			n, err = unix.Llistxattr(p, buf)
		} else {
			n, err = unix.Listxattr(p, buf)
		}
		if err == nil {
			r.Names = splitNames(buf[:n])
		}
	case OpRemovexattr:
		if op.XFlags != 0 {
			err = unix.Lremovexattr(p, op.Name)
		} else {
			err = unix.Removexattr(p, op.Name)
		}
	case OpAccess:
		err = unix.Faccessat2(cwd, p, op.Mode, op.Flags|unix.AT_EACCESS)
	case OpGetdents:
		var fd int
		if fd, err = unix.Openat(cwd, p, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
			break
		}
		r.Names = []string{}
		buf := make([]byte, 8192)
		for {
			n, gerr := unix.Getdents(fd, buf)
			if gerr != nil {
				err = gerr
				break
			}
			if n == 0 {
				break
			}
			_, _, r.Names = unix.ParseDirent(buf[:n], -1, r.Names)
		}
		unix.Close(fd)
		sort.Strings(r.Names)
	case OpStatfs:
		var st unix.Statfs_t
		err = unix.Statfs(p, &st)
	case OpReadFile:
		var fd int
		if fd, err = unix.Openat(cwd, p, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0); err != nil {
			break
		}
		r.Data = []byte{}
		buf := make([]byte, 65536)
		for {
			n, rerr := unix.Read(fd, buf)
			if rerr != nil || n == 0 {
				err = rerr
				break
			}
			r.Data = append(r.Data, buf[:n]...)
		}
		unix.Close(fd)
	case OpFdOpen:
		// The slot's previous file goes after the open, which may use it
		// as its dirfd.
		defer func(old int) {
			if old >= 0 {
				unix.Close(old)
			}
		}(h.fds[op.Slot])
		h.fds[op.Slot] = -1
		var st unix.Stat_t
		h.setCreds(&RootCred, 0)
		follow := 0
		if op.Flags&unix.O_NOFOLLOW != 0 {
			follow = unix.AT_SYMLINK_NOFOLLOW
		}
		if op.Flags&unix.O_PATH == 0 && unix.Fstatat(cwd, p, &st, follow) == nil && special(st.Mode&unix.S_IFMT) {
			return Result{Skip: true}
		}
		h.setCreds(&op.Cred, op.Umask)
		var fd int
		if fd, err = unix.Openat(cwd, p, op.Flags|unix.O_CLOEXEC, op.Mode); err == nil {
			h.fds[op.Slot] = fd
		}
	default:
		r, err = h.runFD(op)
	}
	if err != nil {
		return Result{Err: errnoOf(err)}
	}
	return r
}

// runFD runs the operations on open-file slots.
func (h *Host) runFD(op *Op) (Result, error) {
	var r Result
	fd := h.fds[op.Slot]
	if fd < 0 {
		return r, unix.EBADF
	}
	var err error
	switch op.Kind {
	case OpFdRead:
		buf := make([]byte, op.Size)
		var n int
		if op.Off >= 0 {
			n, err = unix.Pread(fd, buf, op.Off)
		} else {
			n, err = unix.Read(fd, buf)
		}
		r.Data = buf[:max(n, 0)]
	case OpFdWrite:
		var n int
		if op.Off >= 0 {
			n, err = unix.Pwrite(fd, op.Value, op.Off)
		} else {
			n, err = unix.Write(fd, op.Value)
		}
		r.Writes = []int{n}
	case OpFdSeek:
		var st unix.Stat_t
		isDir := unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR
		if isDir && dirSeekSkipped(op) {
			return Result{Skip: true}, nil
		}
		var pos int64
		if pos, err = unix.Seek(fd, op.Off, op.Flags); err == nil && !isDir {
			r.Writes = []int{int(pos)}
		}
	case OpFdTruncate:
		err = unix.Ftruncate(fd, op.Size)
	case OpFdStat:
		var st unix.Stat_t
		if err = unix.Fstat(fd, &st); err == nil {
			r.Stat = hostStat(&st)
		}
	case OpFdGetdents:
		r.Names = []string{}
		buf := make([]byte, 8192)
		for {
			n, gerr := unix.Getdents(fd, buf)
			if gerr != nil || n == 0 {
				err = gerr
				break
			}
			_, _, r.Names = unix.ParseDirent(buf[:n], -1, r.Names)
		}
		sort.Strings(r.Names)
	case OpFdChmod:
		err = unix.Fchmod(fd, op.Mode)
	case OpFdChown:
		err = unix.Fchown(fd, int(op.UID), int(op.GID))
	case OpFdClose:
		err = unix.Close(fd)
		h.fds[op.Slot] = -1
	case OpFdLink:
		err = unix.Linkat(fd, "", unix.AT_FDCWD, op.Path, unix.AT_EMPTY_PATH)
	default:
		panic(fmt.Sprintf("unknown op %d", op.Kind))
	}
	return r, err
}

// dirSeekSkipped reports whether an lseek of a directory goes to an offset
// that only means something to one file system: directory offsets are each
// file system's own, so only a rewind, SEEK_CUR 0 and the invalid whences
// are compared.
func dirSeekSkipped(op *Op) bool {
	return (op.Flags == unix.SEEK_SET && op.Off > 0) || (op.Flags == unix.SEEK_CUR && op.Off != 0)
}

// utimesArg is utimensat's times argument for a TimesX selector.
func utimesArg(sel int) *[2]unix.Timespec {
	switch sel {
	case TimesExplicit:
		return &[2]unix.Timespec{{Sec: 1000, Nsec: 5}, {Sec: 2000, Nsec: 7}}
	case TimesOmit:
		return &[2]unix.Timespec{{Nsec: unix.UTIME_OMIT}, {Nsec: unix.UTIME_OMIT}}
	case TimesNowOmit:
		return &[2]unix.Timespec{{Nsec: unix.UTIME_NOW}, {Nsec: unix.UTIME_OMIT}}
	}
	return nil
}

func splitNames(b []byte) []string {
	names := []string{}
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != 0 {
			i++
		}
		names = append(names, string(b[:i]))
		if i < len(b) {
			i++
		}
		b = b[i:]
	}
	sort.Strings(names)
	return names
}
