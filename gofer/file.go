package gofer

// file implements p9.File over an O_PATH fd.
//
// Invariants: fd is an O_PATH|O_NOFOLLOW fd of the file, fixed for the
// file's life; ftype is its S_IFMT, which cannot change for a held inode.
// ofd (the fd opened for I/O) is -1 until Open or Create and then fixed; mu
// guards it and serialises lseek+getdents on directories.

import (
	"os"
	"sync"

	"golang.org/x/sys/unix"
	"runsc.dev/runsc/p9"
)

type file struct {
	e     *Export
	fd    int
	ftype uint32

	mu  sync.Mutex
	ofd int
}

func newFile(e *Export, fd int, ftype uint32) *file {
	return &file{e: e, fd: fd, ftype: ftype, ofd: -1}
}

func (f *file) openFD() (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ofd < 0 {
		return -1, unix.EBADF
	}
	return f.ofd, nil
}

func (f *file) Close() error {
	if f.ofd >= 0 {
		unix.Close(f.ofd)
	}
	return unix.Close(f.fd)
}

func (f *file) Walk(names []string) ([]p9.QID, p9.File, error) {
	var st unix.Stat_t
	if len(names) == 0 {
		fd, err := unix.FcntlInt(uintptr(f.fd), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return nil, nil, err
		}
		return nil, newFile(f.e, fd, f.ftype), nil
	}
	qids := make([]p9.QID, 0, len(names))
	cur := f.fd
	for i, name := range names {
		err := checkName(name)
		var fd int
		if err == nil {
			fd, err = unix.Openat(cur, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		}
		if err == nil {
			if err = unix.Fstat(fd, &st); err != nil {
				unix.Close(fd)
			}
		}
		if cur != f.fd {
			unix.Close(cur)
		}
		if err != nil {
			return qids, nil, err
		}
		qids = append(qids, f.e.qid(&st))
		cur = fd
		if i == len(names)-1 {
			return qids, newFile(f.e, fd, st.Mode&unix.S_IFMT), nil
		}
	}
	panic("unreachable")
}

func (f *file) stat() (unix.Stat_t, error) {
	var st unix.Stat_t
	err := unix.Fstat(f.fd, &st)
	return st, err
}

func (f *file) GetAttr(mask p9.AttrMask) (p9.QID, p9.AttrMask, p9.Attr, error) {
	st, err := f.stat()
	if err != nil {
		return p9.QID{}, 0, p9.Attr{}, err
	}
	a := p9.Attr{
		Mode: st.Mode, UID: p9.UID(st.Uid), GID: p9.GID(st.Gid), NLink: st.Nlink,
		RDev: st.Rdev, Size: uint64(st.Size), BlockSize: uint64(st.Blksize), Blocks: uint64(st.Blocks),
		ATimeSec: uint64(st.Atim.Sec), ATimeNsec: uint64(st.Atim.Nsec),
		MTimeSec: uint64(st.Mtim.Sec), MTimeNsec: uint64(st.Mtim.Nsec),
		CTimeSec: uint64(st.Ctim.Sec), CTimeNsec: uint64(st.Ctim.Nsec),
	}
	return f.e.qid(&st), p9.AttrBasic, a, nil
}

func (f *file) SetAttr(valid p9.SetAttrMask, a p9.SetAttr) error {
	if f.e.readOnly {
		return unix.EROFS
	}
	isLink := f.ftype == unix.S_IFLNK
	if valid&p9.SetAttrSize != 0 {
		switch f.ftype {
		case unix.S_IFDIR:
			return unix.EISDIR
		case unix.S_IFREG:
			if err := unix.Truncate(procPath(f.fd), int64(a.Size)); err != nil {
				return errno(err)
			}
		default:
			return unix.EINVAL
		}
	}
	if valid&p9.SetAttrMode != 0 {
		if isLink {
			return unix.EOPNOTSUPP // as lchmod on Linux
		}
		if err := unix.Fchmodat(unix.AT_FDCWD, procPath(f.fd), a.Mode&0o7777, 0); err != nil {
			return err
		}
	}
	if valid&(p9.SetAttrUID|p9.SetAttrGID) != 0 {
		uid, gid := -1, -1
		if valid&p9.SetAttrUID != 0 {
			uid = int(a.UID)
		}
		if valid&p9.SetAttrGID != 0 {
			gid = int(a.GID)
		}
		if err := unix.Fchownat(f.fd, "", uid, gid, unix.AT_EMPTY_PATH); err != nil {
			return err
		}
	}
	if valid&(p9.SetAttrATime|p9.SetAttrMTime) != 0 {
		ts := []unix.Timespec{{Nsec: unix.UTIME_OMIT}, {Nsec: unix.UTIME_OMIT}}
		set := func(i int, on, explicit bool, sec, nsec uint64) {
			switch {
			case on && explicit:
				ts[i] = unix.Timespec{Sec: int64(sec), Nsec: int64(nsec)}
			case on:
				ts[i] = unix.Timespec{Nsec: unix.UTIME_NOW}
			}
		}
		set(0, valid&p9.SetAttrATime != 0, valid&p9.SetAttrATimeSet != 0, a.ATimeSec, a.ATimeNsec)
		set(1, valid&p9.SetAttrMTime != 0, valid&p9.SetAttrMTimeSet != 0, a.MTimeSec, a.MTimeNsec)
		var err error
		if isLink {
			err = unix.UtimesNanoAt(f.fd, "", ts, unix.AT_EMPTY_PATH)
		} else {
			err = unix.UtimesNanoAt(unix.AT_FDCWD, procPath(f.fd), ts, 0)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// hostOpenFlags keeps the client flags that are safe to pass to the host.
func hostOpenFlags(flags p9.OpenFlags) int {
	const passed = p9.OpenAccMode | p9.OpenTrunc | p9.OpenAppend | p9.OpenSync | p9.OpenDSync | p9.OpenDirect
	return int(flags&passed) | unix.O_CLOEXEC
}

func (f *file) Open(flags p9.OpenFlags) (p9.QID, uint32, *os.File, error) {
	hflags := hostOpenFlags(flags)
	switch f.ftype {
	case unix.S_IFREG:
	case unix.S_IFDIR:
		if flags.Writable() {
			return p9.QID{}, 0, nil, unix.EISDIR
		}
		hflags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC
	case unix.S_IFLNK:
		return p9.QID{}, 0, nil, unix.ELOOP
	default:
		return p9.QID{}, 0, nil, unix.EPERM
	}
	if f.e.readOnly && flags.Writable() {
		return p9.QID{}, 0, nil, unix.EROFS
	}
	ofd, err := unix.Open(procPath(f.fd), hflags, 0)
	if err != nil {
		return p9.QID{}, 0, nil, errno(err)
	}
	st, err := f.stat()
	if err != nil {
		unix.Close(ofd)
		return p9.QID{}, 0, nil, err
	}
	var donate *os.File
	if f.ftype == unix.S_IFREG {
		if donate, err = dupFile(ofd); err != nil {
			unix.Close(ofd)
			return p9.QID{}, 0, nil, err
		}
	}
	f.mu.Lock()
	f.ofd = ofd
	f.mu.Unlock()
	return f.e.qid(&st), 0, donate, nil
}

func dupFile(fd int) (*os.File, error) {
	d, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(d), "donated"), nil
}

// chownAt gives a new file the requesting ids (the gofer creates files as
// itself). An empty name means dirfd itself.
func chownAt(dirfd int, name string, uid p9.UID, gid p9.GID) error {
	if uid == p9.NoUID && gid == p9.NoGID {
		return nil
	}
	flags := unix.AT_SYMLINK_NOFOLLOW
	if name == "" {
		flags = unix.AT_EMPTY_PATH
	}
	return unix.Fchownat(dirfd, name, chownID(uint32(uid)), chownID(uint32(gid)), flags)
}

func chownID(id uint32) int {
	if id == uint32(p9.NoUID) {
		return -1
	}
	return int(id)
}

func (f *file) mutableDir(name string) error {
	if f.e.readOnly {
		return unix.EROFS
	}
	if f.ftype != unix.S_IFDIR {
		return unix.ENOTDIR
	}
	return checkName(name)
}

func (f *file) Create(name string, flags p9.OpenFlags, mode uint32, uid p9.UID, gid p9.GID) (p9.File, p9.QID, uint32, *os.File, error) {
	if err := f.mutableDir(name); err != nil {
		return nil, p9.QID{}, 0, nil, err
	}
	hflags := hostOpenFlags(flags) | unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW
	ofd, err := unix.Openat(f.fd, name, hflags, mode&0o7777)
	if err != nil {
		return nil, p9.QID{}, 0, nil, err
	}
	nf, qid, donate, err := f.finishCreate(name, ofd, uid, gid)
	if err != nil {
		unix.Close(ofd)
		unix.Unlinkat(f.fd, name, 0)
		return nil, p9.QID{}, 0, nil, err
	}
	return nf, qid, 0, donate, nil
}

func (f *file) finishCreate(name string, ofd int, uid p9.UID, gid p9.GID) (*file, p9.QID, *os.File, error) {
	if err := chownAt(ofd, "", uid, gid); err != nil {
		return nil, p9.QID{}, nil, err
	}
	pfd, err := unix.Open(procPath(ofd), unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, p9.QID{}, nil, errno(err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(pfd, &st); err != nil {
		unix.Close(pfd)
		return nil, p9.QID{}, nil, err
	}
	donate, err := dupFile(ofd)
	if err != nil {
		unix.Close(pfd)
		return nil, p9.QID{}, nil, err
	}
	nf := newFile(f.e, pfd, unix.S_IFREG)
	nf.ofd = ofd
	return nf, f.e.qid(&st), donate, nil
}

func (f *file) ReadAt(p []byte, off uint64) (int, error) {
	fd, err := f.openFD()
	if err != nil {
		return 0, err
	}
	return unix.Pread(fd, p, int64(off))
}

func (f *file) WriteAt(p []byte, off uint64) (int, error) {
	fd, err := f.openFD()
	if err != nil {
		return 0, err
	}
	return unix.Pwrite(fd, p, int64(off))
}

func (f *file) Readdir(off uint64, count uint32) ([]p9.Dirent, error) {
	if f.ftype != unix.S_IFDIR {
		return nil, unix.ENOTDIR
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ofd < 0 {
		return nil, unix.EBADF
	}
	if _, err := unix.Seek(f.ofd, int64(off), 0); err != nil {
		return nil, err
	}
	st, err := f.stat()
	if err != nil {
		return nil, err
	}
	buf := make([]byte, max(int(count), 4096))
	var ents []p9.Dirent
	size := 0
	for {
		n, err := unix.Getdents(f.ofd, buf)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return ents, nil
		}
		for b := buf[:n]; len(b) >= 19; {
			reclen := int(b[16]) | int(b[17])<<8
			if reclen < 19 || reclen > len(b) {
				return nil, unix.EIO
			}
			rec := b[:reclen]
			b = b[reclen:]
			ino := le64(rec[0:])
			doff := le64(rec[8:])
			name := cstring(rec[19:])
			if name == "." || name == ".." {
				continue
			}
			d := p9.Dirent{
				QID:    p9.QID{Type: dtToQIDType(rec[18]), Path: f.e.qidPath(st.Dev, ino)},
				Offset: doff, Type: rec[18], Name: name,
			}
			if size += d.EncodedSize(); size > int(count) {
				return ents, nil
			}
			ents = append(ents, d)
		}
	}
}

func le64(b []byte) uint64 {
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

func cstring(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

func dtToQIDType(dt uint8) p9.QIDType {
	switch dt {
	case unix.DT_DIR:
		return p9.QTDir
	case unix.DT_LNK:
		return p9.QTSymlink
	}
	return p9.QTFile
}

func (f *file) statAt(name string) (p9.QID, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(f.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return p9.QID{}, err
	}
	return f.e.qid(&st), nil
}

// created finishes a Mkdir, Mknod or Symlink: ownership, then the QID. On
// failure the new entry is removed again.
func (f *file) created(name string, isDir bool, uid p9.UID, gid p9.GID) (p9.QID, error) {
	err := chownAt(f.fd, name, uid, gid)
	var qid p9.QID
	if err == nil {
		qid, err = f.statAt(name)
	}
	if err != nil {
		flags := 0
		if isDir {
			flags = unix.AT_REMOVEDIR
		}
		unix.Unlinkat(f.fd, name, flags)
	}
	return qid, err
}

func (f *file) Mkdir(name string, mode uint32, uid p9.UID, gid p9.GID) (p9.QID, error) {
	if err := f.mutableDir(name); err != nil {
		return p9.QID{}, err
	}
	if err := unix.Mkdirat(f.fd, name, mode&0o7777); err != nil {
		return p9.QID{}, err
	}
	return f.created(name, true, uid, gid)
}

func (f *file) Mknod(name string, mode, major, minor uint32, uid p9.UID, gid p9.GID) (p9.QID, error) {
	if err := f.mutableDir(name); err != nil {
		return p9.QID{}, err
	}
	switch mode & unix.S_IFMT {
	case 0, unix.S_IFREG, unix.S_IFIFO, unix.S_IFSOCK:
	case unix.S_IFCHR, unix.S_IFBLK:
		return p9.QID{}, unix.EPERM
	default:
		return p9.QID{}, unix.EINVAL
	}
	if err := unix.Mknodat(f.fd, name, mode&(unix.S_IFMT|0o7777), 0); err != nil {
		return p9.QID{}, err
	}
	return f.created(name, false, uid, gid)
}

func (f *file) Symlink(name, target string, uid p9.UID, gid p9.GID) (p9.QID, error) {
	if err := f.mutableDir(name); err != nil {
		return p9.QID{}, err
	}
	if err := unix.Symlinkat(target, f.fd, name); err != nil {
		return p9.QID{}, err
	}
	return f.created(name, false, uid, gid)
}

func (f *file) Link(target p9.File, name string) error {
	if err := f.mutableDir(name); err != nil {
		return err
	}
	t, ok := target.(*file)
	if !ok || t.e != f.e {
		return unix.EXDEV
	}
	if t.ftype == unix.S_IFDIR {
		return unix.EPERM
	}
	return unix.Linkat(unix.AT_FDCWD, procPath(t.fd), f.fd, name, unix.AT_SYMLINK_FOLLOW)
}

func (f *file) RenameAt(oldName string, newDir p9.File, newName string) error {
	if err := f.mutableDir(oldName); err != nil {
		return err
	}
	nd, ok := newDir.(*file)
	if !ok || nd.e != f.e {
		return unix.EXDEV
	}
	if err := nd.mutableDir(newName); err != nil {
		return err
	}
	return unix.Renameat(f.fd, oldName, nd.fd, newName)
}

func (f *file) Rename(p9.File, string) error { return unix.EOPNOTSUPP }

func (f *file) Remove() error { return unix.EOPNOTSUPP }

func (f *file) UnlinkAt(name string, flags uint32) error {
	if err := f.mutableDir(name); err != nil {
		return err
	}
	return unix.Unlinkat(f.fd, name, int(flags&p9.RemoveDir))
}

func (f *file) Readlink() (string, error) {
	if f.ftype != unix.S_IFLNK {
		return "", unix.EINVAL
	}
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(f.fd, "", buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

func (f *file) StatFS() (p9.StatFS, error) {
	var s unix.Statfs_t
	if err := unix.Fstatfs(f.fd, &s); err != nil {
		return p9.StatFS{}, err
	}
	return p9.StatFS{
		Type: uint32(s.Type), BlockSize: uint32(s.Bsize), Blocks: s.Blocks, BFree: s.Bfree,
		BAvail: s.Bavail, Files: s.Files, FFree: s.Ffree,
		FSID:    uint64(uint32(s.Fsid.Val[0])) | uint64(uint32(s.Fsid.Val[1]))<<32,
		NameLen: uint32(s.Namelen),
	}, nil
}

func (f *file) FSync(dataSync bool) error {
	fd, err := f.openFD()
	if err != nil {
		return err
	}
	if dataSync {
		return unix.Fdatasync(fd)
	}
	return unix.Fsync(fd)
}

// xattrBuf calls get with a growing buffer until the value fits.
func xattrBuf(get func([]byte) (int, error)) ([]byte, error) {
	for {
		n, err := get(nil)
		if err != nil {
			return nil, err
		}
		if n > p9.MaxXattrSize {
			return nil, unix.E2BIG
		}
		buf := make([]byte, n)
		if n, err = get(buf); err != unix.ERANGE {
			return buf[:n], err
		}
	}
}

func (f *file) GetXattr(name string) ([]byte, error) {
	if f.ftype == unix.S_IFLNK {
		return nil, unix.ENODATA
	}
	p := procPath(f.fd)
	return xattrBuf(func(b []byte) (int, error) { return unix.Getxattr(p, name, b) })
}

func (f *file) ListXattr() ([]string, error) {
	if f.ftype == unix.S_IFLNK {
		return nil, nil
	}
	p := procPath(f.fd)
	b, err := xattrBuf(func(b []byte) (int, error) { return unix.Listxattr(p, b) })
	if err != nil {
		return nil, err
	}
	var names []string
	start := 0
	for i, c := range b {
		if c == 0 {
			if i > start {
				names = append(names, string(b[start:i]))
			}
			start = i + 1
		}
	}
	return names, nil
}

func (f *file) SetXattr(name string, value []byte, flags uint32) error {
	if f.e.readOnly {
		return unix.EROFS
	}
	if f.ftype == unix.S_IFLNK {
		return unix.EPERM
	}
	return unix.Setxattr(procPath(f.fd), name, value, int(flags))
}

func (f *file) RemoveXattr(name string) error {
	if f.e.readOnly {
		return unix.EROFS
	}
	if f.ftype == unix.S_IFLNK {
		return unix.EPERM
	}
	return unix.Removexattr(procPath(f.fd), name)
}

func flockOf(l p9.Lock) (unix.Flock_t, error) {
	fl := unix.Flock_t{Whence: 0, Start: int64(l.Start), Len: int64(l.Length)}
	switch l.Type {
	case p9.LockRead:
		fl.Type = unix.F_RDLCK
	case p9.LockWrite:
		fl.Type = unix.F_WRLCK
	case p9.LockUnlock:
		fl.Type = unix.F_UNLCK
	default:
		return fl, unix.EINVAL
	}
	if fl.Start < 0 || fl.Len < 0 {
		return fl, unix.EINVAL
	}
	return fl, nil
}

// Lock takes open-file-description locks on the gofer's fd, so each client
// open holds its own locks. It never blocks: a conflict is LockBlocked.
func (f *file) Lock(l p9.Lock) (p9.LockStatus, error) {
	fd, err := f.openFD()
	if err != nil {
		return p9.LockError, err
	}
	fl, err := flockOf(l)
	if err != nil {
		return p9.LockError, err
	}
	switch err := unix.FcntlFlock(uintptr(fd), unix.F_OFD_SETLK, &fl); err {
	case nil:
		return p9.LockSuccess, nil
	case unix.EAGAIN, unix.EACCES:
		return p9.LockBlocked, nil
	default:
		return p9.LockError, err
	}
}

func (f *file) GetLock(l p9.Lock) (p9.Lock, error) {
	fd, err := f.openFD()
	if err != nil {
		return p9.Lock{}, err
	}
	fl, err := flockOf(l)
	if err != nil {
		return p9.Lock{}, err
	}
	if err := unix.FcntlFlock(uintptr(fd), unix.F_OFD_GETLK, &fl); err != nil {
		return p9.Lock{}, err
	}
	out := p9.Lock{Start: uint64(fl.Start), Length: uint64(fl.Len), ProcID: uint32(fl.Pid), ClientID: l.ClientID}
	switch fl.Type {
	case unix.F_RDLCK:
		out.Type = p9.LockRead
	case unix.F_WRLCK:
		out.Type = p9.LockWrite
	default:
		out = l
		out.Type = p9.LockUnlock
	}
	return out, nil
}
