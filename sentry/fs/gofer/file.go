package gofer

import (
	"io"
	"os"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/p9"
	"runsc.dev/runsc/sentry/fs"
)

// file is an open regular file: an opened clone of the dentry's fid and,
// when the server donated one, the host fd of the file. A file reopened
// from a cached handle has only the host fd.
type file struct {
	ino    *inode
	fid    *p9.Fid  // nil for a reopened handle
	host   *os.File // nil without a donated fd
	hostFD int      // host's fd, or -1
	// writable opens keep xattrs uncached: writing through the host fd
	// may remove security.capability.
	writable bool
}

var _ fs.File = (*file)(nil)

// openFlags maps open(2) flags to Tlopen flags. O_TRUNC is the VFS's job
// (SetStat) and O_APPEND too (it picks the offset), so neither is sent:
// an O_APPEND host fd would make pwrite ignore its offset.
func openFlags(flags int) p9.OpenFlags {
	var f p9.OpenFlags
	switch flags & unix.O_ACCMODE {
	case unix.O_WRONLY:
		f = p9.WriteOnly
	case unix.O_RDWR:
		f = p9.ReadWrite
	default:
		// O_RDONLY, and mode 3, which allows only ioctls.
		f = p9.ReadOnly
	}
	if flags&unix.O_DSYNC != 0 {
		f |= p9.OpenDSync
	}
	if flags&unix.O_SYNC == unix.O_SYNC {
		f |= p9.OpenSync
	}
	return f
}

// maxHandles bounds the read-only handles an FS keeps open (a fid in the
// gofer and a host fd here each).
const maxHandles = 1024

// handle is a cached read-only open of a file: its donated fd is reopened
// through /proc/self/fd for every later read-only open (a new open file
// description, ~4 µs, instead of two round trips).
type handle struct {
	fs     *FS
	fid    *p9.Fid
	host   *os.File
	hostFD int
}

func (i *inode) newHandle(fid *p9.Fid, host *os.File) *handle {
	return &handle{fs: i.fs, fid: fid, host: host, hostFD: int(host.Fd())}
}

func (h *handle) release() {
	h.host.Close()
	h.fs.clunk(h.fid)
}

// dropHandleIfGone releases the inode's cached handle once the file has
// neither a name nor an open file.
func (i *inode) dropHandleIfGone() {
	i.mu.Lock()
	gone := i.st.Nlink == 0 && len(i.files) == 0
	i.mu.Unlock()
	if gone {
		i.dropHandle()
	}
}

// dropHandle releases the inode's cached handle, if any.
func (i *inode) dropHandle() {
	i.mu.Lock()
	h := i.ro
	i.ro = nil
	i.mu.Unlock()
	if h != nil {
		h.release()
	}
}

// reopen opens a new description of the inode's cached read-only handle,
// or returns nil if there is none or the reopen fails (the sentry may not
// pass the host's permission check where the gofer did).
func (i *inode) reopen() *file {
	// i.mu keeps the handle's fd from being closed (and its number
	// reused) by an eviction while it is reopened.
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.ro == nil {
		return nil
	}
	fd, err := fs.ReopenFD(i.ro.hostFD, unix.O_RDONLY)
	if err != nil {
		return nil
	}
	return &file{ino: i, host: os.NewFile(uintptr(fd), "gofer-reopened"), hostFD: fd}
}

// keepHandle caches h as the inode's read-only handle, evicting the
// oldest handle of the file system beyond maxHandles. It reports whether
// h was kept.
func (i *inode) keepHandle(h *handle) bool {
	i.mu.Lock()
	if i.ro != nil {
		i.mu.Unlock()
		return false
	}
	i.ro = h
	i.mu.Unlock()
	f := i.fs
	f.mu.Lock()
	f.handles = append(f.handles, i)
	var old *inode
	if len(f.handles) > maxHandles {
		old = f.handles[0]
		f.handles = f.handles[1:]
	}
	f.mu.Unlock()
	if old != nil {
		old.dropHandle()
	}
	return true
}

func (i *inode) register(f *file) {
	i.mu.Lock()
	if i.files == nil {
		i.files = map[*file]struct{}{}
	}
	i.files[f] = struct{}{}
	if f.writable {
		i.writers++
		i.dropXattrsLocked()
	}
	i.mu.Unlock()
}

// Open implements fs.Dentry.
func (d *dentry) Open(flags int) (fs.File, error) {
	i := d.ino
	if i.ftype != unix.S_IFREG {
		return nil, nil
	}
	of := openFlags(flags)
	if of == p9.ReadOnly {
		if f := i.reopen(); f != nil {
			i.register(f)
			return f, nil
		}
	}
	fid, err := d.newFid()
	if err != nil {
		return nil, err
	}
	_, _, host, err := fid.Open(bg, of)
	if err != nil {
		i.fs.clunk(fid)
		return nil, errno(err)
	}
	if of == p9.ReadOnly && host != nil && i.keepHandle(i.newHandle(fid, host)) {
		if f := i.reopen(); f != nil {
			i.register(f)
			return f, nil
		}
		// The sentry may not reopen what the gofer could open: the
		// handle stays cached (for its fid) and this open gets its own.
		if fid, err = d.newFid(); err != nil {
			return nil, err
		}
		if _, _, host, err = fid.Open(bg, of); err != nil {
			i.fs.clunk(fid)
			return nil, errno(err)
		}
	}
	f := &file{ino: i, fid: fid, host: host, hostFD: -1, writable: of&p9.OpenAccMode != p9.ReadOnly}
	if host != nil {
		f.hostFD = int(host.Fd())
	}
	i.register(f)
	return f, nil
}

// HostFD implements fs.File.
func (f *file) HostFD() int { return f.hostFD }

// ReadAt implements fs.File; a short read comes with io.EOF.
func (f *file) ReadAt(p []byte, off int64) (int, error) {
	if f.hostFD < 0 {
		n, err := f.fid.ReadAt(bg, p, uint64(off))
		if err == io.EOF {
			return n, err
		}
		return n, errno(err)
	}
	total := 0
	for total < len(p) {
		n, err := unix.Pread(f.hostFD, p[total:], off+int64(total))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return total, err
		}
		if n == 0 {
			return total, io.EOF
		}
		total += n
	}
	return total, nil
}

// WriteAt implements fs.File.
func (f *file) WriteAt(p []byte, off int64) (int, error) {
	if f.hostFD < 0 {
		n, err := f.fid.WriteAt(bg, p, uint64(off))
		f.ino.invalidate()
		return n, errno(err)
	}
	total := 0
	for total < len(p) {
		n, err := unix.Pwrite(f.hostFD, p[total:], off+int64(total))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

// Sync implements fs.File.
func (f *file) Sync() error {
	if f.hostFD >= 0 {
		return unix.Fsync(f.hostFD)
	}
	return errno(f.fid.FSync(bg, false))
}

// Close implements fs.File.
func (f *file) Close() error {
	i := f.ino
	i.mu.Lock()
	delete(i.files, f)
	if f.writable {
		i.writers--
		i.dropXattrsLocked()
	}
	// Keep what the host fd last saw: the program may have written
	// through it, and nothing else would tell the cache.
	if f.hostFD >= 0 && i.fstat(f.hostFD, &i.st) == nil {
		i.valid = true
		i.gen++
	}
	i.mu.Unlock()
	i.dropHandleIfGone()
	if f.host != nil {
		f.host.Close()
	}
	if f.fid != nil {
		f.ino.fs.clunk(f.fid)
	}
	return nil
}
