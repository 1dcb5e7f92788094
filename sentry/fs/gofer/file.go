package gofer

import (
	"io"
	"os"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/p9"
	"runsc.dev/runsc/sentry/fs"
)

// file is an open regular file: an opened clone of the dentry's fid and,
// when the server donated one, the host fd of the file.
type file struct {
	ino    *inode
	fid    *p9.Fid
	host   *os.File // nil without a donated fd
	hostFD int      // host's fd, or -1
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

// Open implements fs.Dentry.
func (d *dentry) Open(flags int) (fs.File, error) {
	if d.ino.ftype != unix.S_IFREG {
		return nil, nil
	}
	base, err := d.opFid()
	if err != nil {
		return nil, err
	}
	_, fid, err := base.Walk(bg, nil)
	if err != nil {
		return nil, errno(err)
	}
	_, _, host, err := fid.Open(bg, openFlags(flags))
	if err != nil {
		clunk(fid)
		return nil, errno(err)
	}
	f := &file{ino: d.ino, fid: fid, host: host, hostFD: -1}
	if host != nil {
		f.hostFD = int(host.Fd())
	}
	i := d.ino
	i.mu.Lock()
	if i.files == nil {
		i.files = map[*file]struct{}{}
	}
	i.files[f] = struct{}{}
	i.mu.Unlock()
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
	// Keep what the host fd last saw: the program may have written
	// through it, and nothing else would tell the cache.
	if f.hostFD >= 0 && i.fstat(f.hostFD, &i.st) == nil {
		i.valid = true
		i.gen++
	}
	i.mu.Unlock()
	if f.host != nil {
		f.host.Close()
	}
	clunk(f.fid)
	return nil
}
