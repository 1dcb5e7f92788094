package fs

import (
	"io"
	"math"
	"sync"

	"golang.org/x/sys/unix"
)

// FileDescription is an open file: what open(2) returns, shared by the fds
// dup(2) makes of it.
type FileDescription struct {
	vfs   *VFS
	loc   Loc
	impl  File   // regular files only
	creds *Creds // the opener's, as Linux's f_cred

	mu     sync.Mutex
	flags  int
	off    int64
	closed bool
	held   bool // the description keeps its mount busy
}

// Holder is implemented by dentries whose inode must outlive its last name
// while a file description (even an O_PATH one) refers to it. Hold and
// Release are called with the tree lock held for writing.
type Holder interface {
	Hold()
	Release()
}

// hold makes the mount busy and keeps the inode alive until Close.
func (fd *FileDescription) hold() {
	fd.held = true
	fd.loc.Mount.IncRef()
	if h, ok := fd.loc.Dentry.(Holder); ok {
		fd.loc.lock()
		h.Hold()
		fd.loc.unlock()
	}
}

// Loc is where the file was opened.
func (fd *FileDescription) Loc() Loc { return fd.loc }

// Flags returns the open flags (access mode and status flags).
func (fd *FileDescription) Flags() int {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	return fd.flags
}

// SetStatusFlags is fcntl(F_SETFL): only O_APPEND, O_NONBLOCK, O_ASYNC,
// O_DIRECT and O_NOATIME change.
func (fd *FileDescription) SetStatusFlags(flags int) {
	const settable = unix.O_APPEND | unix.O_NONBLOCK | unix.O_ASYNC | unix.O_DIRECT | unix.O_NOATIME
	fd.mu.Lock()
	fd.flags = fd.flags&^settable | flags&settable
	fd.mu.Unlock()
}

// HostFD returns the host fd holding a regular file's data, or -1.
func (fd *FileDescription) HostFD() int {
	if fd.impl == nil {
		return -1
	}
	return fd.impl.HostFD()
}

// Reopen opens a regular file's host data again (fs.Reopen).
func (fd *FileDescription) Reopen(flags int) (int, error) {
	if fd.impl == nil {
		return -1, unix.EIO
	}
	return Reopen(fd.impl, flags)
}

// Stat is fstat(2).
func (fd *FileDescription) Stat() (Stat, error) { return fd.vfs.stat(fd.loc) }

// Attrs is Stat without the size and times (AttrStater), for callers that
// need only the type, mode or device number.
func (fd *FileDescription) Attrs() (Stat, error) { return fd.vfs.attrs(fd.loc) }

// readable and writable follow the access mode; mode 3 (O_RDWR|O_WRONLY)
// allows neither, only ioctls.
func (fd *FileDescription) readable() error {
	if acc := fd.flags & unix.O_ACCMODE; fd.flags&unix.O_PATH != 0 || (acc != unix.O_RDONLY && acc != unix.O_RDWR) {
		return unix.EBADF
	}
	return nil
}

func (fd *FileDescription) writable() error {
	if acc := fd.flags & unix.O_ACCMODE; fd.flags&unix.O_PATH != 0 || (acc != unix.O_WRONLY && acc != unix.O_RDWR) {
		return unix.EBADF
	}
	return nil
}

// dataFile returns the file's data, or the errno read/write of a file of
// another type returns.
func (fd *FileDescription) dataFile() (File, error) {
	if fd.impl != nil {
		return fd.impl, nil
	}
	st, err := fd.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, unix.EISDIR
	}
	return nil, unix.EINVAL
}

// Read is read(2).
func (fd *FileDescription) Read(p []byte) (int, error) {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	n, err := fd.preadLocked(p, fd.off)
	fd.off += int64(n)
	return n, err
}

// Pread is pread64(2).
func (fd *FileDescription) Pread(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, unix.EINVAL
	}
	fd.mu.Lock()
	defer fd.mu.Unlock()
	return fd.preadLocked(p, off)
}

func (fd *FileDescription) preadLocked(p []byte, off int64) (int, error) {
	if err := fd.readable(); err != nil {
		return 0, err
	}
	f, err := fd.dataFile()
	if err != nil {
		return 0, err
	}
	n, err := f.ReadAt(p, off)
	if err == io.EOF {
		err = nil
	}
	return n, err
}

// Write is write(2).
func (fd *FileDescription) Write(p []byte) (int, error) {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	n, end, err := fd.writeLocked(p, fd.off)
	if n > 0 {
		fd.off = end
	}
	return n, err
}

// Pwrite is pwrite64(2); like Linux, it appends on an O_APPEND file.
func (fd *FileDescription) Pwrite(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, unix.EINVAL
	}
	fd.mu.Lock()
	defer fd.mu.Unlock()
	n, _, err := fd.writeLocked(p, off)
	return n, err
}

// writeLocked writes p at off, or at the end of an O_APPEND file, and
// returns the offset after the data. Writing nothing changes nothing: not
// the offset, not the set-id bits.
func (fd *FileDescription) writeLocked(p []byte, off int64) (int, int64, error) {
	if err := fd.writable(); err != nil {
		return 0, off, err
	}
	f, err := fd.dataFile()
	if err != nil {
		return 0, off, err
	}
	if len(p) == 0 {
		return 0, off, nil
	}
	if fd.flags&unix.O_APPEND != 0 {
		st, err := fd.Stat()
		if err != nil {
			return 0, off, err
		}
		off = st.Size
	}
	if err := fd.removePrivs(); err != nil {
		return 0, off, err
	}
	n, err := f.WriteAt(p, off)
	return n, off + int64(n), err
}

// removePrivs is file_remove_privs: writing disarms a set-id program.
func (fd *FileDescription) removePrivs() error {
	st, err := fd.Stat()
	if err != nil || killPrivs(fd.creds, &st) == 0 {
		return err
	}
	return fd.vfs.setattr(fd.loc, func(st *Stat) (*SetStat, error) {
		kill := killPrivs(fd.creds, st)
		if kill == 0 {
			return nil, nil
		}
		return &SetStat{Mask: SetMode, Mode: st.Mode & 0o7777 &^ kill}, nil
	})
}

// Seek is lseek(2).
func (fd *FileDescription) Seek(off int64, whence int) (int64, error) {
	if fd.flags&unix.O_PATH != 0 {
		return 0, unix.EBADF
	}
	fd.mu.Lock()
	defer fd.mu.Unlock()
	st, err := fd.Stat()
	if err != nil {
		return 0, err
	}
	var pos int64
	switch whence {
	case io.SeekStart:
		pos = off
	case io.SeekCurrent:
		pos = fd.off + off
	case io.SeekEnd:
		if st.IsDir() {
			return 0, unix.EINVAL
		}
		pos = st.Size + off
	case unix.SEEK_DATA, unix.SEEK_HOLE:
		if fd.impl == nil || fd.impl.HostFD() < 0 {
			return 0, unix.EINVAL
		}
		// The host file knows where the holes are; the offset is ours.
		p, err := unix.Seek(fd.impl.HostFD(), off, whence)
		if err != nil {
			return 0, err
		}
		pos = p
	default:
		return 0, unix.EINVAL
	}
	if pos < 0 {
		return 0, unix.EINVAL
	}
	fd.off = pos
	return pos, nil
}

// Getdents lists the directory from the current offset, calling emit for
// each entry until it returns false; the offset moves past every entry
// emit accepted (getdents64(2)).
func (fd *FileDescription) Getdents(emit func(DirEntry) bool) error {
	if fd.flags&unix.O_PATH != 0 {
		return unix.EBADF
	}
	fd.mu.Lock()
	defer fd.mu.Unlock()
	loc := fd.loc
	loc.rlock()
	defer loc.runlock()
	st, err := loc.Dentry.Stat()
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return unix.ENOTDIR
	}
	if st.Nlink == 0 {
		return unix.ENOENT
	}
	if fd.off == 0 {
		if !emit(DirEntry{Name: ".", Ino: st.Ino, Type: unix.DT_DIR, Off: 1}) {
			return nil
		}
		fd.off = 1
	}
	if fd.off == 1 {
		ino := st.Ino
		if p := loc.Dentry.Parent(); p != nil {
			pst, err := p.Stat()
			if err != nil {
				return err
			}
			ino = pst.Ino
		}
		if !emit(DirEntry{Name: "..", Ino: ino, Type: unix.DT_DIR, Off: 2}) {
			return nil
		}
		fd.off = 2
	}
	if fd.off == endOfDir {
		return nil
	}
	more := true
	err = loc.Dentry.Readdir(fd.off, func(e DirEntry) bool {
		if !emit(e) {
			more = false
			return false
		}
		fd.off = e.Off
		return true
	})
	if err == nil && more {
		fd.off = endOfDir
	}
	return err
}

// endOfDir is the offset of a directory description that has read to the
// end: entries created later are not returned until it is rewound, as in
// Linux's tmpfs (DIR_OFFSET_EOD), so a loop that creates entries while
// listing ends.
const endOfDir = math.MaxInt64

// Truncate is ftruncate(2).
func (fd *FileDescription) Truncate(size int64) error {
	if size < 0 {
		return unix.EINVAL
	}
	if fd.flags&unix.O_PATH != 0 {
		return unix.EBADF
	}
	if fd.writable() != nil {
		return unix.EINVAL
	}
	st, err := fd.Stat()
	if err != nil {
		return err
	}
	if st.Type() != unix.S_IFREG {
		return unix.EINVAL
	}
	return fd.vfs.truncate(&Context{Creds: fd.creds}, fd.loc, size)
}

// Sync is fsync(2).
func (fd *FileDescription) Sync() error {
	if fd.impl == nil {
		return nil
	}
	return fd.impl.Sync()
}

// Close releases the description.
func (fd *FileDescription) Close() error {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	if fd.closed {
		return unix.EBADF
	}
	fd.closed = true
	var err error
	if fd.impl != nil {
		err = fd.impl.Close()
	}
	if fd.held {
		if h, ok := fd.loc.Dentry.(Holder); ok {
			fd.loc.lock()
			h.Release()
			fd.loc.unlock()
		}
		fd.loc.Mount.DecRef()
	}
	return err
}
