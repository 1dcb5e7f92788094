package fstest

import (
	"os"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
)

// VFS runs operations on a sentry VFS, at its root.
type VFS struct {
	V   *fs.VFS
	fds [Slots]*fs.FileDescription
}

// NewVFS returns an executor for v.
func NewVFS(v *fs.VFS) *VFS { return &VFS{V: v} }

// Close implements Executor.
func (x *VFS) Close() error {
	for _, fd := range x.fds {
		if fd != nil {
			fd.Close()
		}
	}
	return nil
}

func vfsStat(st *fs.Stat) *Stat {
	return &Stat{Mode: st.Mode, Nlink: st.Nlink, UID: st.UID, GID: st.GID, Size: st.Size, Blocks: st.Blocks, Rdev: st.Rdev, Ino: st.Ino}
}

// Run implements Executor.
func (x *VFS) Run(op *Op) Result {
	v := x.V
	root := v.Root()
	c := op.Cred
	ctx := &fs.Context{Creds: &fs.Creds{UID: c.UID, GID: c.GID, Groups: c.Groups, Caps: c.Caps}, Root: root, Umask: op.Umask}
	var r Result
	var err error
	p := op.Path
	at := root
	if op.At > 0 {
		if fd := x.fds[op.At-1]; fd != nil {
			at = fd.Loc()
		} else {
			at = fs.Loc{Mount: root.Mount, Dentry: closedDir{}}
		}
	}
	switch op.Kind {
	case OpMkdir:
		err = v.Mkdir(ctx, at, p, op.Mode)
	case OpMknod:
		err = v.Mknod(ctx, at, p, op.Mode, op.Dev)
	case OpOpen:
		rootCtx := &fs.Context{Creds: fs.Root(), Root: root}
		flags := 0
		if op.Flags&unix.O_NOFOLLOW != 0 {
			flags = unix.AT_SYMLINK_NOFOLLOW
		}
		if st, err := v.Stat(rootCtx, at, p, flags); err == nil && special(st.Mode&unix.S_IFMT) {
			return Result{Skip: true}
		}
		var fd *fs.FileDescription
		if fd, err = v.Open(ctx, at, p, fs.OpenHow{Flags: op.Flags, Mode: op.Mode}); err != nil {
			break
		}
		r.Writes = []int{}
		for _, w := range op.Writes {
			var n int
			var werr error
			if w.Off < 0 {
				n, werr = fd.Write(w.Data)
			} else {
				n, werr = fd.Pwrite(w.Data, w.Off)
			}
			if werr != nil {
				n = -int(errnoOf(werr))
			}
			r.Writes = append(r.Writes, n)
		}
		var st fs.Stat
		if st, err = fd.Stat(); err == nil {
			r.Stat = vfsStat(&st)
		}
		fd.Close()
	case OpSymlink:
		err = v.Symlink(ctx, op.Path2, at, p)
	case OpLink:
		err = v.Link(ctx, root, p, root, op.Path2, op.Flags)
	case OpUnlink:
		err = v.Unlink(ctx, at, p)
	case OpRmdir:
		err = v.Rmdir(ctx, at, p)
	case OpRename:
		err = v.Rename(ctx, root, p, root, op.Path2, uint32(op.Flags))
	case OpStat, OpLstat:
		flags := 0
		if op.Kind == OpLstat {
			flags = unix.AT_SYMLINK_NOFOLLOW
		}
		var st fs.Stat
		if st, err = v.Stat(ctx, at, p, flags); err == nil {
			r.Stat = vfsStat(&st)
		}
	case OpReadlink:
		var t string
		if t, err = v.Readlink(ctx, at, p); err == nil {
			r.Data = []byte(t)
		}
	case OpChmod:
		err = v.Chmod(ctx, at, p, op.Mode, op.Flags)
	case OpChown:
		err = v.Chown(ctx, at, p, op.UID, op.GID, op.Flags)
	case OpUtimens:
		err = v.Utimens(ctx, at, p, utimesArg(op.Times), op.Flags)
	case OpTruncate:
		err = v.Truncate(ctx, root, p, op.Size)
	case OpSetxattr:
		err = v.Setxattr(ctx, root, p, op.XFlags, op.Name, op.Value, op.Flags)
	case OpGetxattr:
		var val []byte
		if val, err = v.Getxattr(ctx, root, p, op.XFlags, op.Name); err == nil {
			r.Data = append([]byte{}, val...)
		}
	case OpListxattr:
		var names []string
		if names, err = v.Listxattr(ctx, root, p, op.XFlags); err == nil {
			r.Names = append([]string{}, names...)
			sort.Strings(r.Names)
		}
	case OpRemovexattr:
		err = v.Removexattr(ctx, root, p, op.XFlags, op.Name)
	case OpAccess:
		err = v.Access(ctx, at, p, op.Mode, op.Flags|unix.AT_EACCESS)
	case OpGetdents:
		var fd *fs.FileDescription
		if fd, err = v.Open(ctx, at, p, fs.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY}); err != nil {
			break
		}
		r.Names = []string{}
		err = fd.Getdents(func(e fs.DirEntry) bool {
			if e.Name != "." && e.Name != ".." {
				r.Names = append(r.Names, e.Name)
			}
			return true
		})
		fd.Close()
		sort.Strings(r.Names)
	case OpStatfs:
		_, err = v.StatFS(ctx, root, p)
	case OpReadFile:
		var fd *fs.FileDescription
		if fd, err = v.Open(ctx, root, p, fs.OpenHow{Flags: unix.O_RDONLY | unix.O_NOFOLLOW}); err != nil {
			break
		}
		r.Data = []byte{}
		buf := make([]byte, 65536)
		for {
			n, rerr := fd.Read(buf)
			if rerr != nil || n == 0 {
				err = rerr
				break
			}
			r.Data = append(r.Data, buf[:n]...)
		}
		fd.Close()
	case OpFdOpen:
		// The slot's previous file goes after the open, which may use it
		// as its dirfd.
		defer func(old *fs.FileDescription) {
			if old != nil {
				old.Close()
			}
		}(x.fds[op.Slot])
		x.fds[op.Slot] = nil
		rootCtx := &fs.Context{Creds: fs.Root(), Root: root}
		flags := 0
		if op.Flags&unix.O_NOFOLLOW != 0 {
			flags = unix.AT_SYMLINK_NOFOLLOW
		}
		if st, err := v.Stat(rootCtx, at, p, flags); op.Flags&unix.O_PATH == 0 && err == nil && special(st.Mode&unix.S_IFMT) {
			return Result{Skip: true}
		}
		var fd *fs.FileDescription
		if fd, err = v.Open(ctx, at, p, fs.OpenHow{Flags: op.Flags, Mode: op.Mode}); err == nil {
			x.fds[op.Slot] = fd
		}
	default:
		r, err = x.runFD(ctx, op)
	}
	if err != nil {
		return Result{Err: errnoOf(err)}
	}
	return r
}

// runFD runs the operations on open-file slots. fchmod and fchown of an
// O_PATH file are EBADF in the syscall layer, which this stands in for.
func (x *VFS) runFD(ctx *fs.Context, op *Op) (Result, error) {
	var r Result
	fd := x.fds[op.Slot]
	if fd == nil {
		return r, unix.EBADF
	}
	var err error
	switch op.Kind {
	case OpFdRead:
		buf := make([]byte, op.Size)
		var n int
		if op.Off >= 0 {
			n, err = fd.Pread(buf, op.Off)
		} else {
			n, err = fd.Read(buf)
		}
		r.Data = buf[:n]
	case OpFdWrite:
		var n int
		if op.Off >= 0 {
			n, err = fd.Pwrite(op.Value, op.Off)
		} else {
			n, err = fd.Write(op.Value)
		}
		r.Writes = []int{n}
	case OpFdSeek:
		st, serr := fd.Stat()
		isDir := serr == nil && st.IsDir()
		if isDir && dirSeekSkipped(op) {
			return Result{Skip: true}, nil
		}
		var pos int64
		if pos, err = fd.Seek(op.Off, op.Flags); err == nil && !isDir {
			r.Writes = []int{int(pos)}
		}
	case OpFdTruncate:
		err = fd.Truncate(op.Size)
	case OpFdStat:
		var st fs.Stat
		if st, err = fd.Stat(); err == nil {
			r.Stat = vfsStat(&st)
		}
	case OpFdGetdents:
		r.Names = []string{}
		err = fd.Getdents(func(e fs.DirEntry) bool {
			if e.Name != "." && e.Name != ".." {
				r.Names = append(r.Names, e.Name)
			}
			return true
		})
		sort.Strings(r.Names)
	case OpFdChmod, OpFdChown:
		if fd.Flags()&unix.O_PATH != 0 {
			return r, unix.EBADF
		}
		if op.Kind == OpFdChmod {
			err = x.V.ChmodLoc(ctx, fd.Loc(), op.Mode)
		} else {
			err = x.V.ChownLoc(ctx, fd.Loc(), op.UID, op.GID)
		}
	case OpFdClose:
		err = fd.Close()
		x.fds[op.Slot] = nil
	case OpFdLink:
		err = x.V.Link(ctx, fd.Loc(), "", x.V.Root(), op.Path, unix.AT_EMPTY_PATH)
	}
	return r, err
}

// HostProtected reads the host's fs.protected_* sysctls, for a VFS that
// must behave like the host.
func HostProtected() (fs.Protected, error) {
	var p fs.Protected
	for _, s := range []struct {
		name string
		val  *int
	}{{"fifos", &p.FIFOs}, {"regular", &p.Regular}} {
		b, err := os.ReadFile("/proc/sys/fs/protected_" + s.name)
		if err != nil {
			return p, err
		}
		if *s.val, err = strconv.Atoi(strings.TrimSpace(string(b))); err != nil {
			return p, err
		}
	}
	for _, s := range []struct {
		name string
		val  *bool
	}{{"hardlinks", &p.Hardlinks}, {"symlinks", &p.Symlinks}} {
		b, err := os.ReadFile("/proc/sys/fs/protected_" + s.name)
		if err != nil {
			return p, err
		}
		*s.val = strings.TrimSpace(string(b)) != "0"
	}
	return p, nil
}

// closedDir stands for the dirfd of a closed slot: a walk that starts there
// fails with EBADF, which is where Linux notices a bad dirfd.
type closedDir struct{}

func (closedDir) Parent() fs.Dentry                                 { return nil }
func (closedDir) Stat() (fs.Stat, error)                            { return fs.Stat{}, unix.EBADF }
func (closedDir) SetStat(*fs.SetStat) error                         { return unix.EBADF }
func (closedDir) Lookup(string) (fs.Dentry, error)                  { return nil, unix.EBADF }
func (closedDir) Readlink() (string, error)                         { return "", unix.EBADF }
func (closedDir) Readdir(int64, func(fs.DirEntry) bool) error       { return unix.EBADF }
func (closedDir) Create(string, *fs.CreateAttrs) (fs.Dentry, error) { return nil, unix.EBADF }
func (closedDir) Link(string, fs.Dentry) (fs.Dentry, error)         { return nil, unix.EBADF }
func (closedDir) Unlink(string) error                               { return unix.EBADF }
func (closedDir) Rmdir(string) error                                { return unix.EBADF }
func (closedDir) Rename(string, fs.Dentry, string, uint32, *fs.CreateAttrs) error {
	return unix.EBADF
}
func (closedDir) Open(int) (fs.File, error)          { return nil, unix.EBADF }
func (closedDir) Getxattr(string) ([]byte, error)    { return nil, unix.EBADF }
func (closedDir) Setxattr(string, []byte, int) error { return unix.EBADF }
func (closedDir) Listxattr() ([]string, error)       { return nil, unix.EBADF }
func (closedDir) Removexattr(string) error           { return unix.EBADF }
