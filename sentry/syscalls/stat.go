package syscalls

import (
	"unsafe"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
)

func init() {
	register(sysStat, unix.SYS_STAT)
	register(sysLstat, unix.SYS_LSTAT)
	register(sysFstat, unix.SYS_FSTAT)
	register(sysNewfstatat, unix.SYS_NEWFSTATAT)
	register(sysStatx, unix.SYS_STATX)
	register(sysStatfs, unix.SYS_STATFS)
	register(sysFstatfs, unix.SYS_FSTATFS)
}

func bytesOf[T any](v *T) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(v)), unsafe.Sizeof(*v))
}

func linuxStat(s *fs.Stat) unix.Stat_t {
	return unix.Stat_t{
		Dev: s.Dev, Ino: s.Ino, Nlink: uint64(s.Nlink), Mode: s.Mode, Uid: s.UID, Gid: s.GID,
		Rdev: s.Rdev, Size: s.Size, Blksize: int64(s.Blksize), Blocks: s.Blocks,
		Atim: s.Atime, Mtim: s.Mtime, Ctim: s.Ctime,
	}
}

// statAt resolves (dirfd, path arg, flags) and stats it. A host fd named
// by AT_EMPTY_PATH is stat'ed on the host.
func (x *ctx) statAt(dirfd, pathArg, flags int) (*fs.Stat, *unix.Stat_t, error) {
	path, err := x.queryPath(pathArg)
	if err != nil {
		return nil, nil, err
	}
	if path == "" && flags&unix.AT_EMPTY_PATH != 0 && dirfd != unix.AT_FDCWD {
		f, err := x.file(dirfd)
		if err != nil {
			return nil, nil, err
		}
		if f == nil {
			hs, err := x.hostStat(dirfd)
			return nil, hs, err
		}
		st, err := f.Desc.Stat()
		return &st, nil, err
	}
	at, err := x.dir(dirfd, path)
	if err != nil {
		return nil, nil, err
	}
	st, err := x.v.Stat(x.fsctx(), at, path, flags)
	return &st, nil, err
}

// hostStat stats a host fd of the program through a copy of it.
func (x *ctx) hostStat(fd int) (*unix.Stat_t, error) {
	f, err := x.hostFile(fd)
	if err != nil {
		return nil, err
	}
	defer unix.Close(f)
	var st unix.Stat_t
	return &st, unix.Fstat(f, &st)
}

// hostFile copies the program's host fd into the sentry (pidfd_getfd).
func (x *ctx) hostFile(fd int) (int, error) {
	pidfd, err := unix.PidfdOpen(x.t.Tid(), unix.PIDFD_THREAD)
	if err != nil {
		return -1, err
	}
	defer unix.Close(pidfd)
	return unix.PidfdGetfd(pidfd, fd, 0)
}

func (x *ctx) writeStat(addr uint64, st *fs.Stat, hs *unix.Stat_t) Result {
	var ls unix.Stat_t
	if hs != nil {
		ls = *hs
	} else {
		ls = linuxStat(st)
	}
	return done(x.write(addr, bytesOf(&ls)))
}

func sysStat(x *ctx) Result {
	st, hs, err := x.statAt(unix.AT_FDCWD, 0, 0)
	if err != nil {
		return fail(err)
	}
	return x.writeStat(x.arg(1), st, hs)
}

func sysLstat(x *ctx) Result {
	st, hs, err := x.statAt(unix.AT_FDCWD, 0, unix.AT_SYMLINK_NOFOLLOW)
	if err != nil {
		return fail(err)
	}
	return x.writeStat(x.arg(1), st, hs)
}

func sysFstat(x *ctx) Result {
	f, err := x.file(x.int(0))
	if err != nil {
		return fail(err)
	}
	if f == nil {
		return native()
	}
	st, err := f.Desc.Stat()
	if err != nil {
		return fail(err)
	}
	return x.writeStat(x.arg(1), &st, nil)
}

func sysNewfstatat(x *ctx) Result {
	st, hs, err := x.statAt(x.int(0), 1, x.int(3))
	if err != nil {
		return fail(err)
	}
	return x.writeStat(x.arg(2), st, hs)
}

func sysStatx(x *ctx) Result {
	flags := x.int(2)
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH|unix.AT_NO_AUTOMOUNT|atStatxSyncType) != 0 ||
		flags&atStatxSyncType == atStatxSyncType {
		return fail(unix.EINVAL)
	}
	if uint32(x.arg(3))&unix.STATX__RESERVED != 0 {
		return fail(unix.EINVAL)
	}
	st, hs, err := x.statAt(x.int(0), 1, flags&^atStatxSyncType)
	if err != nil {
		return fail(err)
	}
	var sx unix.Statx_t
	if hs != nil {
		st = &fs.Stat{Mode: hs.Mode, Nlink: uint32(hs.Nlink), UID: hs.Uid, GID: hs.Gid, Size: hs.Size,
			Blocks: hs.Blocks, Blksize: uint32(hs.Blksize), Ino: hs.Ino, Dev: hs.Dev, Rdev: hs.Rdev,
			Atime: hs.Atim, Mtime: hs.Mtim, Ctime: hs.Ctim}
	} else {
		sx.Mask |= unix.STATX_BTIME
		sx.Btime = unix.StatxTimestamp{Sec: st.Btime.Sec, Nsec: uint32(st.Btime.Nsec)}
	}
	sx.Mask |= unix.STATX_BASIC_STATS
	sx.Blksize = st.Blksize
	sx.Nlink = st.Nlink
	sx.Uid, sx.Gid = st.UID, st.GID
	sx.Mode = uint16(st.Mode)
	sx.Ino = st.Ino
	sx.Size = uint64(st.Size)
	sx.Blocks = uint64(st.Blocks)
	sx.Atime = unix.StatxTimestamp{Sec: st.Atime.Sec, Nsec: uint32(st.Atime.Nsec)}
	sx.Mtime = unix.StatxTimestamp{Sec: st.Mtime.Sec, Nsec: uint32(st.Mtime.Nsec)}
	sx.Ctime = unix.StatxTimestamp{Sec: st.Ctime.Sec, Nsec: uint32(st.Ctime.Nsec)}
	sx.Rdev_major, sx.Rdev_minor = unix.Major(st.Rdev), unix.Minor(st.Rdev)
	sx.Dev_major, sx.Dev_minor = unix.Major(st.Dev), unix.Minor(st.Dev)
	return done(x.write(x.arg(4), bytesOf(&sx)))
}

func (x *ctx) writeStatfs(addr uint64, s fs.Statfs) Result {
	ls := unix.Statfs_t{
		Type: s.Type, Bsize: s.Bsize, Blocks: s.Blocks, Bfree: s.Bfree, Bavail: s.Bavail,
		Files: s.Files, Ffree: s.Ffree, Namelen: s.Namelen, Frsize: s.Frsize, Flags: s.Flags,
	}
	return done(x.write(addr, bytesOf(&ls)))
}

func sysStatfs(x *ctx) Result {
	path, err := x.path(0)
	if err != nil {
		return fail(err)
	}
	s, err := x.v.StatFS(x.fsctx(), x.t.Cwd(), path)
	if err != nil {
		return fail(err)
	}
	return x.writeStatfs(x.arg(1), s)
}

func sysFstatfs(x *ctx) Result {
	f, err := x.file(x.int(0))
	if err != nil {
		return fail(err)
	}
	if f == nil {
		return native()
	}
	s, err := x.v.StatFSLoc(f.Desc.Loc())
	if err != nil {
		return fail(err)
	}
	return x.writeStatfs(x.arg(1), s)
}

// atStatxSyncType is AT_STATX_SYNC_TYPE: the two sync-mode bits of statx.
const atStatxSyncType = unix.AT_STATX_FORCE_SYNC | unix.AT_STATX_DONT_SYNC
