package ramfs

import (
	"os"
	"runtime"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
)

// mfdExec is MFD_EXEC (Linux 6.3): the memfd may be executed, as a file of
// a tmpfs can be.
const mfdExec = 0x10

// newData makes the host file that holds a regular file's data: a file in
// DataDir named after the inode if the file system has one, else a memfd.
//
// The sentry holds a DataDir file read-only and opens it for writing only
// while a description writes (writable): the host refuses to exec a file
// open for writing (ETXTBSY), and a program must be able to run a file
// that is merely open. A memfd is exempt from that rule, so it is held
// read-write.
func (f *FS) newData(name string) (*os.File, error) {
	if f.opts.DataDir != nil {
		fd, err := unix.Openat(int(f.opts.DataDir.Fd()), name, unix.O_CREAT|unix.O_EXCL|unix.O_RDONLY|unix.O_CLOEXEC, 0o700)
		if err != nil {
			return nil, err
		}
		return os.NewFile(uintptr(fd), "data:ramfs"), nil
	}
	fd, err := unix.MemfdCreate("ramfs", unix.MFD_CLOEXEC|mfdExec)
	if err == unix.EINVAL {
		fd, err = unix.MemfdCreate("ramfs", unix.MFD_CLOEXEC)
	}
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), "memfd:ramfs"), nil
}

// futimens sets the access and modification times of the host file f:
// utimensat with a NULL path, which acts on the fd itself (a
// /proc/self/fd path costs a procfs walk, ~2 µs, on every file created).
func futimens(f *os.File, ts *[2]unix.Timespec) error {
	_, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, f.Fd(), 0, uintptr(unsafe.Pointer(ts)), 0, 0, 0)
	runtime.KeepAlive(f)
	if e != 0 {
		return e
	}
	return nil
}

// dataName is the name of the inode's data in DataDir.
func (i *inode) dataName() string { return strconv.FormatUint(i.ino, 16) }

// dataFile returns the inode's host data file: the open one, the parked
// one reopened from DataDir, or a new one (with the inode's times, so they
// carry over). With open the caller becomes an opener under the same lock,
// so a concurrent last close cannot park the file it is handed.
func (i *inode) dataFile(fsys *FS, open bool) (*os.File, error) {
	i.dataMu.Lock()
	defer i.dataMu.Unlock()
	if i.data == nil {
		if err := i.loadData(fsys); err != nil {
			return nil, err
		}
	}
	if open {
		i.opens.Add(1)
	}
	return i.data, nil
}

// loadData sets i.data; dataMu is held.
func (i *inode) loadData(fsys *FS) error {
	if i.parked {
		fd, err := unix.Openat(int(fsys.opts.DataDir.Fd()), i.dataName(), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		i.data, i.parked = os.NewFile(uintptr(fd), "data:ramfs"), false
		return nil
	}
	f, err := fsys.newData(i.dataName())
	if err != nil {
		return err
	}
	if err := futimens(f, &[2]unix.Timespec{i.times.get(atime), i.times.get(mtime)}); err != nil {
		f.Close()
		if fsys.opts.DataDir != nil {
			unix.Unlinkat(int(fsys.opts.DataDir.Fd()), i.dataName(), 0)
		}
		return err
	}
	i.data = f
	return nil
}

// writable returns a read-write file of i's data (data, the inode's data
// file, itself for a memfd), which the caller closes with doneWriting. Like
// Linux, it fails with ETXTBSY while a program runs the file.
func (i *inode) writable(fsys *FS, data *os.File) (*os.File, error) {
	if fsys.opts.DataDir == nil {
		return data, nil
	}
	fd, err := unix.Openat(int(fsys.opts.DataDir.Fd()), i.dataName(), unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), "data:ramfs"), nil
}

func (i *inode) doneWriting(w, data *os.File) {
	if w != data {
		w.Close()
	}
}

// MaxIdle is how many closed files keep their data file open (FS.idle):
// a file opened again soon after its last close (a stat or open loop, a
// build's headers) then skips reopening its data by name.
const MaxIdle = 256

// keepIdle puts a live regular file nobody has open, whose data file is
// open, at the front of the idle list and parks the one that falls off
// its end. Anything else has nothing to keep.
func (i *inode) keepIdle(fsys *FS) {
	if fsys.opts.DataDir == nil || i.mode&unix.S_IFMT != unix.S_IFREG {
		return
	}
	i.dataMu.Lock()
	open := i.data != nil
	i.dataMu.Unlock()
	if !open {
		return
	}
	fsys.idleMu.Lock()
	if i.idle != nil {
		fsys.idle.MoveToFront(i.idle)
	} else {
		i.idle = fsys.idle.PushFront(i)
	}
	var old *inode
	if fsys.idle.Len() > MaxIdle {
		old = fsys.idle.Remove(fsys.idle.Back()).(*inode)
		old.idle = nil
	}
	fsys.idleMu.Unlock()
	if old != nil {
		old.park(fsys)
	}
	if i.dead.Load() {
		// Its last name went meanwhile, and releaseIfUnused may have
		// looked for it on the list before it was there.
		i.leaveIdle(fsys)
	}
}

// leaveIdle takes a freed file off the idle list.
func (i *inode) leaveIdle(fsys *FS) {
	fsys.idleMu.Lock()
	if i.idle != nil {
		fsys.idle.Remove(i.idle)
		i.idle = nil
	}
	fsys.idleMu.Unlock()
}

// park closes the data file of a live file nobody has open when DataDir
// keeps it by name, so that a file system holds no host fd per file (the
// sentry's RLIMIT_NOFILE would otherwise cap how many files it can hold).
// A program's mapping of the file outlives this: it maps the same host
// inode, which the next open finds again.
func (i *inode) park(fsys *FS) {
	if fsys.opts.DataDir == nil {
		return
	}
	i.dataMu.Lock()
	defer i.dataMu.Unlock()
	if i.opens.Load() > 0 || i.data == nil || i.freed {
		return
	}
	i.data.Close()
	i.data, i.parked = nil, true
}

// closed is called when the opens of i drop to zero: a file without names
// goes, a live one joins the idle list.
func (i *inode) closed(fsys *FS) {
	if i.dead.Load() {
		i.releaseIfUnused(fsys)
	} else {
		i.keepIdle(fsys)
	}
}

// releaseIfUnused frees a file that has no names and no opens: its data,
// its long symlink's page and its inode space.
func (i *inode) releaseIfUnused(f *FS) {
	if !i.dead.Load() || i.opens.Load() > 0 {
		return
	}
	i.leaveIdle(f)
	i.dataMu.Lock()
	defer i.dataMu.Unlock()
	if i.freed {
		return
	}
	i.freed = true
	if i.data != nil || i.parked {
		if i.data != nil {
			i.data.Close()
			i.data = nil
		}
		if f.opts.DataDir != nil {
			unix.Unlinkat(int(f.opts.DataDir.Fd()), i.dataName(), 0)
		}
		i.parked = false
		f.pages.Add(-int64(i.dataPages.Swap(0)))
	}
	if i.mode&unix.S_IFMT == unix.S_IFLNK && len(i.target) > shortSymlink {
		f.releasePages(1)
	}
	f.releaseIspace(inodeSpace + i.xattrsSpace())
}

func (i *inode) xattrsSpace() int64 {
	var n int64
	for name, v := range i.xattrs {
		n += xattrSpace(name, v)
	}
	return n
}

// reservePages takes n pages from the size limit, reporting false if they
// are not there. With a DataDir the host's tmpfs keeps the limit, so the
// pages (of long symlinks) are taken there, as the size of a ballast file.
func (f *FS) reservePages(n int64) bool {
	if f.opts.DataDir != nil {
		return f.resizeBallast(n) == nil
	}
	if f.opts.MaxPages == 0 {
		f.pages.Add(n)
		return true
	}
	for {
		cur := f.pages.Load()
		if cur+n > int64(f.opts.MaxPages) {
			return false
		}
		if f.pages.CompareAndSwap(cur, cur+n) {
			return true
		}
	}
}

// releasePages gives back n pages reservePages took.
func (f *FS) releasePages(n int64) {
	if f.opts.DataDir != nil {
		f.resizeBallast(-n)
		return
	}
	f.pages.Add(-n)
}

// resizeBallast grows or shrinks the ballast file in DataDir by n pages.
func (f *FS) resizeBallast(n int64) error {
	f.reserveMu.Lock()
	defer f.reserveMu.Unlock()
	if f.ballast == nil {
		fd, err := unix.Openat(int(f.opts.DataDir.Fd()), ".", unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return err
		}
		f.ballast = os.NewFile(uintptr(fd), "ballast:ramfs")
	}
	size := (f.ballastPages + n) * PageSize
	var err error
	if n > 0 {
		err = unix.Fallocate(int(f.ballast.Fd()), 0, 0, size)
	} else {
		err = unix.Ftruncate(int(f.ballast.Fd()), size)
	}
	if err == nil {
		f.ballastPages += n
	}
	return err
}

// account updates the page count after the memfd's allocation changed.
func (i *inode) account(f *FS, data *os.File) error {
	var st unix.Stat_t
	if err := unix.Fstat(int(data.Fd()), &st); err != nil {
		return err
	}
	pages := (st.Blocks*512 + PageSize - 1) / PageSize
	f.pages.Add(pages - int64(i.dataPages.Swap(int32(pages))))
	return nil
}

// setSize truncates or extends a regular file (holes take no pages).
func (d *dentry) setSize(size int64) error {
	i := d.inode
	if i.mode&unix.S_IFMT != unix.S_IFREG {
		return unix.EINVAL
	}
	i.dataMu.Lock()
	empty := i.data == nil && !i.parked
	i.dataMu.Unlock()
	if size == 0 && empty {
		return nil
	}
	data, err := i.dataFile(d.fs, true)
	if err != nil {
		return err
	}
	defer i.release(d.fs)
	w, err := i.writable(d.fs, data)
	if err != nil {
		return err
	}
	defer i.doneWriting(w, data)
	if err := w.Truncate(size); err != nil {
		return errnoOf(err)
	}
	return i.account(d.fs, data)
}

// release ends one open of i.
func (i *inode) release(fsys *FS) {
	if i.opens.Add(-1) == 0 {
		i.closed(fsys)
	}
}

// Open implements fs.Dentry.
func (d *dentry) Open(flags int) (fs.File, error) {
	if d.inode.mode&unix.S_IFMT != unix.S_IFREG {
		return nil, nil
	}
	data, err := d.inode.dataFile(d.fs, true)
	if err != nil {
		return nil, err
	}
	r := &regularFile{fs: d.fs, inode: d.inode, data: data, w: data}
	if flags&unix.O_ACCMODE != unix.O_RDONLY {
		if r.w, err = d.inode.writable(d.fs, data); err != nil {
			d.inode.release(d.fs)
			return nil, err
		}
	}
	return r, nil
}

// OpenFIFO opens the host FIFO that stands for a FIFO of a file system with
// a DataDir (made there at the first open, named like a file's data) with
// the program's flags. It blocks as fifo(7) says until the other end is
// open, so callers open off the syscall receivers. Without a DataDir a
// FIFO cannot be opened (ENXIO).
func (d *dentry) OpenFIFO(flags int) (int, error) {
	i, fsys := d.inode, d.fs
	if i.mode&unix.S_IFMT != unix.S_IFIFO || fsys.opts.DataDir == nil {
		return -1, unix.ENXIO
	}
	dir := int(fsys.opts.DataDir.Fd())
	i.dataMu.Lock()
	if !i.parked {
		if err := unix.Mkfifoat(dir, i.dataName(), 0o600); err != nil {
			i.dataMu.Unlock()
			return -1, err
		}
		i.parked = true
	}
	i.dataMu.Unlock()
	for {
		fd, err := unix.Openat(dir, i.dataName(), flags|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return -1, err
		}
		return fd, nil
	}
}

// regularFile is an open regular file of a ramfs.
type regularFile struct {
	fs    *FS
	inode *inode
	data  *os.File
	w     *os.File // data opened for writing, if the open may write
}

// HostFD implements fs.File.
// It is open for writing if the description may write.
func (r *regularFile) HostFD() int { return int(r.w.Fd()) }

// Reopen implements fs.Reopener: by name in DataDir, where the data is.
func (r *regularFile) Reopen(flags int) (int, error) {
	dir := r.fs.opts.DataDir
	if dir == nil {
		return fs.ReopenFD(r.HostFD(), flags)
	}
	return unix.Openat(int(dir.Fd()), r.inode.dataName(), flags|unix.O_CLOEXEC, 0)
}

// ReadAt implements fs.File.
func (r *regularFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := r.data.ReadAt(p, off)
	if err != nil && n == 0 {
		if errno := errnoOf(err); errno != nil {
			return 0, errno
		}
	}
	return n, nil
}

// WriteAt implements fs.File. With a size limit it writes page by page once
// the limit is near, so a full file system gives a short write and then
// ENOSPC, as Linux's does.
func (r *regularFile) WriteAt(p []byte, off int64) (int, error) {
	f := r.fs
	if f.opts.MaxPages == 0 {
		n, err := pwrite(r.w, p, off)
		if aerr := r.inode.account(f, r.data); err == nil {
			err = aerr
		}
		// Some data written is a short write, not an error (the host's
		// tmpfs under DataDir filling up).
		if n > 0 {
			err = nil
		}
		return n, errnoOf(err)
	}
	f.reserveMu.Lock()
	defer f.reserveMu.Unlock()
	written := 0
	for written < len(p) {
		pos := off + int64(written)
		chunk := int64(len(p) - written)
		// The pages the rest spans; if they might not fit, go page by
		// page and stop at the first new page that does not.
		span := (pos+chunk-1)/PageSize - pos/PageSize + 1
		if f.pages.Load()+span > int64(f.opts.MaxPages) {
			chunk = min(chunk, PageSize-pos%PageSize)
			if f.pages.Load()+1 > int64(f.opts.MaxPages) && !r.pageAllocated(pos) {
				if written == 0 {
					return 0, unix.ENOSPC
				}
				return written, nil
			}
		}
		n, err := pwrite(r.w, p[written:written+int(chunk)], pos)
		written += n
		if aerr := r.inode.account(f, r.data); err == nil {
			err = aerr
		}
		if err != nil {
			return written, errnoOf(err)
		}
	}
	return written, nil
}

// pwrite writes p at off, returning how much was written even when an
// error stopped it (os.File.WriteAt drops that count).
func pwrite(f *os.File, p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		m, err := unix.Pwrite(int(f.Fd()), p[n:], off+int64(n))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, err
		}
		n += m
	}
	return n, nil
}

// pageAllocated reports whether the page holding off already has storage.
func (r *regularFile) pageAllocated(off int64) bool {
	page := off &^ (PageSize - 1)
	next, err := unix.Seek(int(r.data.Fd()), page, unix.SEEK_DATA)
	return err == nil && next == page
}

// Hold implements fs.Holder: an open file keeps its inode.
// The dentry of an open file also keeps its parent directories alive, as
// Linux's dentries hold their parents: a directory removed while an
// unlinked or O_TMPFILE file in it is open keeps its inode space until
// that file is closed.
func (d *dentry) Hold() {
	d.inode.opens.Add(1)
	d.fs.held[d]++
}

// Release implements fs.Holder.
func (d *dentry) Release() {
	f := d.fs
	if f.held[d]--; f.held[d] == 0 {
		delete(f.held, d)
	}
	if d.inode.opens.Add(-1) == 0 {
		if d.inode.dir != nil && d.inode.dead.Load() && f.pinned(d) {
			f.pinnedDirs[d] = struct{}{}
		} else {
			d.inode.closed(f)
		}
	}
	for z := range f.pinnedDirs {
		if !f.pinned(z) {
			delete(f.pinnedDirs, z)
			z.inode.releaseIfUnused(f)
		}
	}
}

// pinned reports whether an open file's dentry lies under the directory d.
func (f *FS) pinned(d *dentry) bool {
	for h := range f.held {
		for p := h.parent; p != nil; p = p.parent {
			if p == d {
				return true
			}
		}
	}
	return false
}

// Sync implements fs.File.
func (r *regularFile) Sync() error { return nil }

// Close implements fs.File.
func (r *regularFile) Close() error {
	// Without the tree lock: dead and opens are atomics, so of this and a
	// concurrent last unlink at least one sees the other's change.
	r.inode.doneWriting(r.w, r.data)
	r.inode.release(r.fs)
	return nil
}

// errnoOf unwraps the errno of an *os.PathError and friends.
func errnoOf(err error) error {
	if err == nil {
		return nil
	}
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	if se, ok := err.(*os.SyscallError); ok {
		return se.Err
	}
	return err
}
