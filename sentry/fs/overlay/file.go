package overlay

import (
	"sync"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
)

// fifoOpener is a layer's dentry whose FIFOs can be opened (ramfs).
type fifoOpener interface {
	OpenFIFO(flags int) (int, error)
}

// OpenFIFO opens the FIFO d in the layer that holds it, copying a FIFO of
// a layer that cannot open FIFOs (the gofer) up first. It blocks until the
// other end is open, without holding the overlay's lock.
func (d *dentry) OpenFIFO(flags int) (int, error) {
	f := d.fs
	f.mu.RLock()
	top, err := d.top()
	f.mu.RUnlock()
	if err != nil {
		return -1, err
	}
	if _, ok := top.d.(fifoOpener); !ok && f.upper != nil {
		f.mu.Lock()
		err = d.copyUp(true)
		if err == nil {
			top, err = d.top()
		}
		f.mu.Unlock()
		if err != nil {
			return -1, err
		}
	}
	o, ok := top.d.(fifoOpener)
	if !ok {
		return -1, unix.ENXIO
	}
	return o.OpenFIFO(flags)
}

// Open implements fs.Dentry. Opening for writing (or truncation) copies the
// file up first; a read-only open of a lower file is redirected to the
// upper copy if the file is copied up while it is open.
func (d *dentry) Open(flags int) (fs.File, error) {
	f := d.fs
	if flags&unix.O_ACCMODE != unix.O_RDONLY || flags&unix.O_TRUNC != 0 {
		f.mu.Lock()
		defer f.mu.Unlock()
		if d.isDir {
			return nil, nil
		}
		if err := d.copyUp(flags&unix.O_TRUNC != 0); err != nil {
			return nil, err
		}
		return d.inode.upper.Open(flags)
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	if d.isDir {
		return nil, nil
	}
	i := d.inode
	if i.upper != nil {
		return i.upper.Open(flags)
	}
	lf, err := d.lowers[0].d.Open(flags)
	if err != nil || lf == nil {
		return lf, err
	}
	fl := &file{inode: i, cur: lf}
	i.filesMu.Lock()
	if i.files == nil {
		i.files = map[*file]struct{}{}
	}
	i.files[fl] = struct{}{}
	i.filesMu.Unlock()
	return fl, nil
}

// file is a read-only description of a file opened while it was only in a
// lower; cur moves to the upper copy on copy-up.
type file struct {
	inode *inode
	mu    sync.RWMutex
	cur   fs.File
}

// HostFD implements fs.File.
func (fl *file) HostFD() int {
	fl.mu.RLock()
	defer fl.mu.RUnlock()
	return fl.cur.HostFD()
}

// Reopen implements fs.Reopener.
func (fl *file) Reopen(flags int) (int, error) {
	fl.mu.RLock()
	defer fl.mu.RUnlock()
	return fs.Reopen(fl.cur, flags)
}

// ReadAt implements fs.File.
func (fl *file) ReadAt(p []byte, off int64) (int, error) {
	fl.mu.RLock()
	defer fl.mu.RUnlock()
	return fl.cur.ReadAt(p, off)
}

// WriteAt implements fs.File; the VFS never writes a read-only description.
func (fl *file) WriteAt(p []byte, off int64) (int, error) { return 0, unix.EBADF }

// Sync implements fs.File.
func (fl *file) Sync() error {
	fl.mu.RLock()
	defer fl.mu.RUnlock()
	return fl.cur.Sync()
}

// Close implements fs.File.
func (fl *file) Close() error {
	fl.inode.filesMu.Lock()
	delete(fl.inode.files, fl)
	fl.inode.filesMu.Unlock()
	fl.mu.Lock()
	defer fl.mu.Unlock()
	return fl.cur.Close()
}
