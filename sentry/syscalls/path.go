package syscalls

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
)

func init() {
	register(func(x *ctx) Result { return x.mkdir(unix.AT_FDCWD, 0, 1) }, unix.SYS_MKDIR)
	register(func(x *ctx) Result { return x.mkdir(x.int(0), 1, 2) }, unix.SYS_MKDIRAT)
	register(func(x *ctx) Result { return x.mknod(unix.AT_FDCWD, 0, 1) }, unix.SYS_MKNOD)
	register(func(x *ctx) Result { return x.mknod(x.int(0), 1, 2) }, unix.SYS_MKNODAT)
	register(func(x *ctx) Result { return x.unlink(unix.AT_FDCWD, 0, 0) }, unix.SYS_UNLINK)
	register(func(x *ctx) Result { return x.unlink(unix.AT_FDCWD, 0, unix.AT_REMOVEDIR) }, unix.SYS_RMDIR)
	register(func(x *ctx) Result { return x.unlink(x.int(0), 1, x.int(2)) }, unix.SYS_UNLINKAT)
	register(func(x *ctx) Result { return x.rename(unix.AT_FDCWD, 0, unix.AT_FDCWD, 1, 0) }, unix.SYS_RENAME)
	register(func(x *ctx) Result { return x.rename(x.int(0), 1, x.int(2), 3, 0) }, unix.SYS_RENAMEAT)
	register(func(x *ctx) Result { return x.rename(x.int(0), 1, x.int(2), 3, uint32(x.arg(4))) }, unix.SYS_RENAMEAT2)
	register(func(x *ctx) Result { return x.link(unix.AT_FDCWD, 0, unix.AT_FDCWD, 1, 0) }, unix.SYS_LINK)
	register(func(x *ctx) Result { return x.link(x.int(0), 1, x.int(2), 3, x.int(4)) }, unix.SYS_LINKAT)
	register(func(x *ctx) Result { return x.symlink(0, unix.AT_FDCWD, 1) }, unix.SYS_SYMLINK)
	register(func(x *ctx) Result { return x.symlink(0, x.int(1), 2) }, unix.SYS_SYMLINKAT)
	register(func(x *ctx) Result { return x.readlink(unix.AT_FDCWD, 0, 1, 2) }, unix.SYS_READLINK)
	register(func(x *ctx) Result { return x.readlink(x.int(0), 1, 2, 3) }, unix.SYS_READLINKAT)
	register(func(x *ctx) Result { return x.access(unix.AT_FDCWD, 0, 1, 0) }, unix.SYS_ACCESS)
	register(func(x *ctx) Result { return x.access(x.int(0), 1, 2, 0) }, unix.SYS_FACCESSAT)
	register(func(x *ctx) Result { return x.access(x.int(0), 1, 2, x.int(3)) }, unix.SYS_FACCESSAT2)
	register(func(x *ctx) Result { return x.chmod(unix.AT_FDCWD, 0, 1, 0) }, unix.SYS_CHMOD)
	register(func(x *ctx) Result { return x.chmod(x.int(0), 1, 2, 0) }, unix.SYS_FCHMODAT)
	register(func(x *ctx) Result { return x.chmod(x.int(0), 1, 2, x.int(3)) }, unix.SYS_FCHMODAT2)
	register(sysFchmod, unix.SYS_FCHMOD)
	register(func(x *ctx) Result { return x.chown(unix.AT_FDCWD, 0, 1, 0) }, unix.SYS_CHOWN)
	register(func(x *ctx) Result { return x.chown(unix.AT_FDCWD, 0, 1, unix.AT_SYMLINK_NOFOLLOW) }, unix.SYS_LCHOWN)
	register(func(x *ctx) Result { return x.chown(x.int(0), 1, 2, x.int(4)) }, unix.SYS_FCHOWNAT)
	register(sysFchown, unix.SYS_FCHOWN)
	register(sysTruncate, unix.SYS_TRUNCATE)
	register(sysFtruncate, unix.SYS_FTRUNCATE)
	register(sysUtime, unix.SYS_UTIME)
	register(func(x *ctx) Result { return x.utimes(unix.AT_FDCWD, 0, 1) }, unix.SYS_UTIMES)
	register(func(x *ctx) Result { return x.utimes(x.int(0), 1, 2) }, unix.SYS_FUTIMESAT)
	register(sysUtimensat, unix.SYS_UTIMENSAT)
}

// at reads the path in argument pathArg and the directory it is relative to.
func (x *ctx) at(dirfd, pathArg int) (fs.Loc, string, error) {
	path, err := x.path(pathArg)
	if err != nil {
		return fs.Loc{}, "", err
	}
	at, err := x.dir(dirfd, path)
	return at, path, err
}

// atEmpty is at for calls taking AT_EMPTY_PATH: "" names dirfd itself.
func (x *ctx) atEmpty(dirfd, pathArg, flags int) (fs.Loc, string, error) {
	path, err := x.path(pathArg)
	if err != nil {
		return fs.Loc{}, "", err
	}
	if path == "" && flags&unix.AT_EMPTY_PATH != 0 && dirfd != unix.AT_FDCWD {
		f, err := x.file(dirfd)
		if err != nil {
			return fs.Loc{}, "", err
		}
		if f == nil {
			// A pipe or socket has no metadata the VFS could change.
			return fs.Loc{}, "", unix.EOPNOTSUPP
		}
		return f.Desc.Loc(), "", nil
	}
	at, err := x.dir(dirfd, path)
	return at, path, err
}

func (x *ctx) mkdir(dirfd, pathArg, modeArg int) Result {
	at, path, err := x.at(dirfd, pathArg)
	if err != nil {
		return fail(err)
	}
	return done(x.v.Mkdir(x.fsctx(), at, path, uint32(x.arg(modeArg))))
}

func (x *ctx) mknod(dirfd, pathArg, modeArg int) Result {
	at, path, err := x.at(dirfd, pathArg)
	if err != nil {
		return fail(err)
	}
	dev := uint32(x.arg(modeArg + 1))
	return done(x.v.Mknod(x.fsctx(), at, path, uint32(x.arg(modeArg)), unix.Mkdev(unix.Major(uint64(dev)), unix.Minor(uint64(dev)))))
}

func (x *ctx) unlink(dirfd, pathArg, flags int) Result {
	if flags&^unix.AT_REMOVEDIR != 0 {
		return fail(unix.EINVAL)
	}
	at, path, err := x.at(dirfd, pathArg)
	if err != nil {
		return fail(err)
	}
	if flags&unix.AT_REMOVEDIR != 0 {
		return done(x.v.Rmdir(x.fsctx(), at, path))
	}
	return done(x.v.Unlink(x.fsctx(), at, path))
}

func (x *ctx) rename(oldfd, oldArg, newfd, newArg int, flags uint32) Result {
	oldAt, oldPath, err := x.at(oldfd, oldArg)
	if err != nil {
		return fail(err)
	}
	newAt, newPath, err := x.at(newfd, newArg)
	if err != nil {
		return fail(err)
	}
	return done(x.v.Rename(x.fsctx(), oldAt, oldPath, newAt, newPath, flags))
}

func (x *ctx) link(oldfd, oldArg, newfd, newArg, flags int) Result {
	oldAt, oldPath, err := x.atEmpty(oldfd, oldArg, flags)
	if err != nil {
		return fail(err)
	}
	newAt, newPath, err := x.at(newfd, newArg)
	if err != nil {
		return fail(err)
	}
	return done(x.v.Link(x.fsctx(), oldAt, oldPath, newAt, newPath, flags))
}

func (x *ctx) symlink(targetArg, dirfd, pathArg int) Result {
	target, err := x.path(targetArg)
	if err != nil {
		return fail(err)
	}
	at, path, err := x.at(dirfd, pathArg)
	if err != nil {
		return fail(err)
	}
	return done(x.v.Symlink(x.fsctx(), target, at, path))
}

func (x *ctx) readlink(dirfd, pathArg, bufArg, sizeArg int) Result {
	size := int(int32(x.arg(sizeArg)))
	if size <= 0 {
		return fail(unix.EINVAL)
	}
	at, path, err := x.atEmpty(dirfd, pathArg, unix.AT_EMPTY_PATH)
	if err == unix.EOPNOTSUPP {
		// A host object (pipe, socket) is no symlink.
		return fail(unix.ENOENT)
	}
	if err != nil {
		return fail(err)
	}
	target, err := x.v.Readlink(x.fsctx(), at, path)
	if err != nil {
		return fail(err)
	}
	b := []byte(target)
	if len(b) > size {
		b = b[:size]
	}
	if err := x.write(x.arg(bufArg), b); err != nil {
		return fail(err)
	}
	return ok(int64(len(b)))
}

func (x *ctx) access(dirfd, pathArg, modeArg, flags int) Result {
	at, path, err := x.atEmpty(dirfd, pathArg, flags)
	if err != nil {
		return fail(err)
	}
	c := x.fsctx()
	if flags&unix.AT_EACCESS == 0 {
		c.Creds = x.t.RealCreds()
	}
	return done(x.v.Access(c, at, path, uint32(x.arg(modeArg)), flags))
}

func (x *ctx) chmod(dirfd, pathArg, modeArg, flags int) Result {
	at, path, err := x.atEmpty(dirfd, pathArg, flags)
	if err != nil {
		return fail(err)
	}
	return done(x.v.Chmod(x.fsctx(), at, path, uint32(x.arg(modeArg)), flags))
}

func sysFchmod(x *ctx) Result {
	f, err := x.file(x.int(0))
	if err != nil || f == nil {
		return x.hostFDOnly(err)
	}
	if f.Desc.Flags()&unix.O_PATH != 0 {
		return fail(unix.EBADF)
	}
	return done(x.v.ChmodLoc(x.fsctx(), f.Desc.Loc(), uint32(x.arg(1))))
}

// hostFDOnly answers a metadata call on fd that is not a sandbox file:
// its error, or the host's answer for a pipe or socket.
func (x *ctx) hostFDOnly(err error) Result {
	if err != nil {
		return fail(err)
	}
	return native()
}

func idArg(v uint64) int64 {
	if uint32(v) == ^uint32(0) {
		return -1
	}
	return int64(uint32(v))
}

func (x *ctx) chown(dirfd, pathArg, idArg0, flags int) Result {
	at, path, err := x.atEmpty(dirfd, pathArg, flags)
	if err != nil {
		return fail(err)
	}
	return done(x.v.Chown(x.fsctx(), at, path, idArg(x.arg(idArg0)), idArg(x.arg(idArg0+1)), flags))
}

func sysFchown(x *ctx) Result {
	f, err := x.file(x.int(0))
	if err != nil || f == nil {
		return x.hostFDOnly(err)
	}
	if f.Desc.Flags()&unix.O_PATH != 0 {
		return fail(unix.EBADF)
	}
	return done(x.v.ChownLoc(x.fsctx(), f.Desc.Loc(), idArg(x.arg(1)), idArg(x.arg(2))))
}

func sysTruncate(x *ctx) Result {
	path, err := x.path(0)
	if err != nil {
		return fail(err)
	}
	return done(x.v.Truncate(x.fsctx(), x.t.Cwd(), path, int64(x.arg(1))))
}

func sysFtruncate(x *ctx) Result {
	f, err := x.file(x.int(0))
	if err != nil || f == nil {
		return x.hostFDOnly(err)
	}
	return done(f.Desc.Truncate(int64(x.arg(1))))
}

func sysUtime(x *ctx) Result {
	var times *[2]unix.Timespec
	if addr := x.arg(1); addr != 0 {
		var b [16]byte
		if err := x.read(addr, b[:]); err != nil {
			return fail(err)
		}
		times = &[2]unix.Timespec{
			{Sec: int64(binary.LittleEndian.Uint64(b[0:]))},
			{Sec: int64(binary.LittleEndian.Uint64(b[8:]))},
		}
	}
	at, path, err := x.at(unix.AT_FDCWD, 0)
	if err != nil {
		return fail(err)
	}
	return done(x.v.Utimens(x.fsctx(), at, path, times, 0))
}

func (x *ctx) utimes(dirfd, pathArg, timesArg int) Result {
	var times *[2]unix.Timespec
	if addr := x.arg(timesArg); addr != 0 {
		var b [32]byte
		if err := x.read(addr, b[:]); err != nil {
			return fail(err)
		}
		times = new([2]unix.Timespec)
		for i := range times {
			sec, usec := int64(binary.LittleEndian.Uint64(b[16*i:])), int64(binary.LittleEndian.Uint64(b[16*i+8:]))
			if usec < 0 || usec >= 1e6 {
				return fail(unix.EINVAL)
			}
			times[i] = unix.Timespec{Sec: sec, Nsec: usec * 1000}
		}
	}
	at, path, err := x.at(dirfd, pathArg)
	if err != nil {
		return fail(err)
	}
	return done(x.v.Utimens(x.fsctx(), at, path, times, 0))
}

func sysUtimensat(x *ctx) Result {
	var times *[2]unix.Timespec
	if addr := x.arg(2); addr != 0 {
		var b [32]byte
		if err := x.read(addr, b[:]); err != nil {
			return fail(err)
		}
		times = new([2]unix.Timespec)
		for i := range times {
			times[i] = unix.Timespec{Sec: int64(binary.LittleEndian.Uint64(b[16*i:])), Nsec: int64(binary.LittleEndian.Uint64(b[16*i+8:]))}
		}
	}
	dirfd, flags := x.int(0), x.int(3)
	if x.arg(1) == 0 {
		// utimensat(fd, NULL, ...) is futimens(fd).
		if flags&^unix.AT_SYMLINK_NOFOLLOW != 0 {
			return fail(unix.EINVAL)
		}
		if dirfd == unix.AT_FDCWD {
			return fail(unix.EFAULT)
		}
		f, err := x.file(dirfd)
		if err != nil || f == nil {
			return x.hostFDOnly(err)
		}
		return done(x.v.Utimens(x.fsctx(), f.Desc.Loc(), "", times, unix.AT_EMPTY_PATH))
	}
	at, path, err := x.atEmpty(dirfd, 1, flags)
	if err != nil {
		return fail(err)
	}
	return done(x.v.Utimens(x.fsctx(), at, path, times, flags))
}
