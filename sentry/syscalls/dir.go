package syscalls

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
)

func init() {
	register(func(x *ctx) Result { return x.getdents(true) }, unix.SYS_GETDENTS64)
	register(func(x *ctx) Result { return x.getdents(false) }, unix.SYS_GETDENTS)
	register(sysLseek, unix.SYS_LSEEK)
	register(sysChdir, unix.SYS_CHDIR)
	register(sysFchdir, unix.SYS_FCHDIR)
	register(sysChroot, unix.SYS_CHROOT)
	register(sysGetcwd, unix.SYS_GETCWD)
	register(sysUmask, unix.SYS_UMASK)
}

// getdents fills the program's buffer with linux_dirent64 (or the old
// linux_dirent) records from the directory's offset on.
func (x *ctx) getdents(is64 bool) Result {
	f, err := x.file(x.int(0))
	if err != nil {
		return fail(err)
	}
	if f == nil {
		return fail(unix.ENOTDIR)
	}
	size := int(uint32(x.arg(2)))
	buf := make([]byte, 0, min(size, 1<<16))
	tooSmall := false
	err = f.Desc.Getdents(func(e fs.DirEntry) bool {
		var rec []byte
		if is64 {
			reclen := (19 + len(e.Name) + 1 + 7) &^ 7
			rec = make([]byte, reclen)
			binary.LittleEndian.PutUint64(rec[0:], e.Ino)
			binary.LittleEndian.PutUint64(rec[8:], uint64(e.Off))
			binary.LittleEndian.PutUint16(rec[16:], uint16(reclen))
			rec[18] = e.Type
			copy(rec[19:], e.Name)
		} else {
			reclen := (18 + len(e.Name) + 2 + 7) &^ 7
			rec = make([]byte, reclen)
			binary.LittleEndian.PutUint64(rec[0:], e.Ino)
			binary.LittleEndian.PutUint64(rec[8:], uint64(e.Off))
			binary.LittleEndian.PutUint16(rec[16:], uint16(reclen))
			copy(rec[18:], e.Name)
			rec[reclen-1] = e.Type
		}
		if len(buf)+len(rec) > size {
			tooSmall = len(buf) == 0
			return false
		}
		buf = append(buf, rec...)
		return true
	})
	if err != nil {
		return fail(err)
	}
	if tooSmall {
		return fail(unix.EINVAL)
	}
	if len(buf) > 0 {
		if err := x.write(x.arg(1), buf); err != nil {
			return fail(err)
		}
	}
	return ok(int64(len(buf)))
}

// sysLseek emulates lseek on directories (whose offset lives in the VFS);
// on everything else the host fd's own offset is the truth.
func sysLseek(x *ctx) Result {
	f, err := x.file(x.int(0))
	if err != nil || f == nil || f.Desc.HostFD() >= 0 {
		return native()
	}
	off, err := f.Desc.Seek(int64(x.arg(1)), x.int(2))
	return result(off, err)
}

func sysChdir(x *ctx) Result {
	path, err := x.path(0)
	if err != nil {
		return fail(err)
	}
	loc, err := x.chdirTarget(x.t.Cwd(), path, 0)
	if err != nil {
		return fail(err)
	}
	x.t.FS().SetCwd(loc)
	return ok(0)
}

// chdirTarget resolves a directory the caller may search.
func (x *ctx) chdirTarget(at fs.Loc, path string, flags int) (fs.Loc, error) {
	c := x.fsctx()
	loc, err := x.v.Lookup(c, at, path, flags)
	if err != nil {
		return fs.Loc{}, err
	}
	st, err := x.v.Stat(c, loc, "", unix.AT_EMPTY_PATH)
	if err != nil {
		return fs.Loc{}, err
	}
	if !st.IsDir() {
		return fs.Loc{}, unix.ENOTDIR
	}
	if err := x.v.Access(c, loc, "", unix.X_OK, unix.AT_EMPTY_PATH|unix.AT_EACCESS); err != nil {
		return fs.Loc{}, err
	}
	return loc, nil
}

func sysFchdir(x *ctx) Result {
	f, err := x.file(x.int(0))
	if err != nil {
		return fail(err)
	}
	if f == nil {
		return fail(unix.ENOTDIR)
	}
	loc, err := x.chdirTarget(f.Desc.Loc(), "", unix.AT_EMPTY_PATH)
	if err != nil {
		return fail(err)
	}
	x.t.FS().SetCwd(loc)
	return ok(0)
}

func sysChroot(x *ctx) Result {
	path, err := x.path(0)
	if err != nil {
		return fail(err)
	}
	loc, err := x.chdirTarget(x.t.Cwd(), path, 0)
	if err != nil {
		return fail(err)
	}
	if !x.fsctx().Creds.HasCap(unix.CAP_SYS_CHROOT) {
		return fail(unix.EPERM)
	}
	x.t.FS().SetRoot(loc)
	return ok(0)
}

func sysGetcwd(x *ctx) Result {
	fsc := x.t.FS()
	cwd := x.t.Cwd()
	// A removed working directory has no path (Linux: ENOENT).
	if st, err := x.v.Stat(x.fsctx(), cwd, "", unix.AT_EMPTY_PATH); err == nil && st.Nlink == 0 {
		return fail(unix.ENOENT)
	}
	path := x.v.PathOf(fsc.Root(), cwd)
	b := append([]byte(path), 0)
	if uint64(len(b)) > x.arg(1) {
		return fail(unix.ERANGE)
	}
	if err := x.write(x.arg(0), b); err != nil {
		return fail(err)
	}
	return ok(int64(len(b)))
}

func sysUmask(x *ctx) Result {
	return ok(int64(x.t.FS().SwapUmask(uint32(x.arg(0)))))
}
