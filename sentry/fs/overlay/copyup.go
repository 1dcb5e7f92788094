package overlay

import (
	"errors"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
)

// copyUp gives d a name in the upper, copying parents first, then the
// file's type, mode, owner, xattrs, data (unless noData) and times. A
// non-directory whose inode is already in the upper (another lower name of
// a hard-linked file) becomes a hard link of it. FS.mu is held for writing.
func (d *dentry) copyUp(noData bool) error {
	if d.upper != nil {
		return nil
	}
	f := d.fs
	if f.upper == nil {
		return unix.EROFS
	}
	if d.dead || d.parent == nil {
		return unix.ENOENT
	}
	p := d.parent
	if err := p.copyUp(false); err != nil {
		return err
	}
	i := d.inode
	if !d.isDir && i.upper != nil {
		u, err := p.upper.Link(d.name, i.upper)
		if err != nil {
			return err
		}
		d.upper = u
		i.dropPending()
		p.invalidate()
		return nil
	}
	src := d.lowers[0].d
	st, err := src.Stat()
	if err != nil {
		return err
	}
	a := &fs.CreateAttrs{Mode: st.Mode, UID: st.UID, GID: st.GID, Rdev: st.Rdev}
	if st.Type() == unix.S_IFLNK {
		if a.Target, err = src.Readlink(); err != nil {
			return err
		}
	}
	if st.Type() == unix.S_IFREG && !noData {
		if err := f.checkSpace(&st); err != nil {
			return err
		}
	}
	u, err := p.upper.Create(d.name, a)
	if err != nil {
		return err
	}
	if err := fill(u, src, &st, noData); err != nil {
		if d.isDir {
			p.upper.Rmdir(d.name)
		} else {
			p.upper.Unlink(d.name)
		}
		return err
	}
	ust, err := u.Stat()
	if err != nil {
		return err
	}
	d.upper = u
	f.alias(0, ust.Ino, i)
	p.invalidate()
	if d.isDir {
		return nil
	}
	i.upper = u
	i.dropPending()
	if st.Type() != unix.S_IFREG {
		return nil
	}
	if i.pending > 0 {
		// Lower names of this file remain; keep the data alive even if
		// every upper name of it goes.
		if i.pin, err = u.Open(unix.O_RDONLY); err != nil {
			return err
		}
	}
	return i.redirect(u)
}

// fill copies a new upper inode's contents and attributes from src.
func fill(u, src fs.Dentry, st *fs.Stat, noData bool) error {
	if st.Type() == unix.S_IFREG && !noData && st.Size > 0 {
		if err := copyData(u, src, st.Size); err != nil {
			return err
		}
	}
	if err := copyXattrs(u, src); err != nil {
		return err
	}
	return u.SetStat(&fs.SetStat{Mask: fs.SetAtime | fs.SetMtime, Atime: st.Atime, Mtime: st.Mtime})
}

// checkSpace refuses a copy-up the upper has no room for; the copy itself
// may bypass the upper's accounting (copy_file_range between host fds),
// which catches up when the copy sets the size.
func (f *FS) checkSpace(st *fs.Stat) error {
	s, err := f.upper.StatFS()
	if err != nil || s.Blocks == 0 || s.Bsize <= 0 {
		return err
	}
	need := uint64((st.Blocks*512 + s.Bsize - 1) / s.Bsize)
	if need > s.Bfree {
		return unix.ENOSPC
	}
	return nil
}

// copyXattrs copies the xattrs of src the upper can hold; like Linux, an
// attribute the upper does not support or the lower will not show is
// skipped rather than failing the copy-up.
func copyXattrs(u, src fs.Dentry) error {
	names, err := src.Listxattr()
	if noXattr(err) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, n := range names {
		if private(n) {
			continue
		}
		v, err := src.Getxattr(n)
		if err == nil {
			err = u.Setxattr(n, v, 0)
		}
		if err != nil && !noXattr(err) {
			return err
		}
	}
	return nil
}

// copyData copies a regular file's data, leaving holes as holes: the data
// segments come from SEEK_DATA/SEEK_HOLE on src's host fd when it has one,
// and copy_file_range moves them when both have host fds.
func copyData(u, src fs.Dentry, size int64) error {
	sf, err := src.Open(unix.O_RDONLY)
	if err != nil {
		return err
	}
	defer sf.Close()
	df, err := u.Open(unix.O_WRONLY)
	if err != nil {
		return err
	}
	defer df.Close()
	sfd := sf.HostFD()
	for off := int64(0); off < size; {
		start, end := off, size
		if sfd >= 0 {
			if start, err = unix.Seek(sfd, off, unix.SEEK_DATA); err == unix.ENXIO {
				break
			} else if err != nil {
				return err
			}
			if end, err = unix.Seek(sfd, start, unix.SEEK_HOLE); err != nil {
				return err
			}
			end = min(end, size)
		}
		if err := copyRange(df, sf, start, end, sfd >= 0); err != nil {
			return err
		}
		off = end
	}
	return u.SetStat(&fs.SetStat{Mask: fs.SetSize, Size: size})
}

const copyChunk = 1 << 20

// copyRange copies [start, end) of src to the same offsets of dst. Without
// a hole map (dense false) it skips all-zero chunks so they stay holes.
func copyRange(dst, src fs.File, start, end int64, dense bool) error {
	if sfd, dfd := src.HostFD(), dst.HostFD(); sfd >= 0 && dfd >= 0 {
		roff, woff := start, start
		for roff < end {
			n, err := unix.CopyFileRange(sfd, &roff, dfd, &woff, int(min(end-roff, 1<<30)), 0)
			if err != nil {
				if roff == start && (err == unix.EXDEV || err == unix.EINVAL || err == unix.ENOSYS || err == unix.EOPNOTSUPP) {
					break // not between these files: copy by hand
				}
				return err
			}
			if n == 0 {
				return unix.EIO
			}
		}
		if roff >= end {
			return nil
		}
	}
	buf := make([]byte, min(copyChunk, end-start))
	for off := start; off < end; {
		n, err := src.ReadAt(buf[:min(int64(len(buf)), end-off)], off)
		if n == 0 {
			if err == nil {
				err = unix.EIO
			}
			return err
		}
		if dense || !allZero(buf[:n]) {
			if _, err := dst.WriteAt(buf[:n], off); err != nil {
				return err
			}
		}
		off += int64(n)
	}
	return nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// dropPending records that one lower name of i no longer shows through.
func (i *inode) dropPending() {
	if i.pending > 0 {
		i.pending--
	}
	if i.pending == 0 && i.pin != nil {
		i.pin.Close()
		i.pin = nil
	}
}

// redirect moves every read-only description open on the lower copy of i
// to the upper copy, so they read what is written there (Linux >= 4.19).
func (i *inode) redirect(u fs.Dentry) error {
	i.filesMu.Lock()
	defer i.filesMu.Unlock()
	for fl := range i.files {
		uf, err := u.Open(unix.O_RDONLY)
		if err != nil {
			return err
		}
		fl.mu.Lock()
		old := fl.cur
		fl.cur = uf
		fl.mu.Unlock()
		old.Close()
		delete(i.files, fl)
	}
	return nil
}

// copyUpTree copies d and everything under it to the upper and makes the
// upper copy self-contained: no whiteouts, no opaque marks, no lowers. A
// directory moved this way then needs nothing from the lowers at its old
// place (rename without EXDEV).
func (d *dentry) copyUpTree() error {
	if err := d.copyUp(false); err != nil {
		return err
	}
	if !d.isDir {
		return nil
	}
	ents, err := d.merged()
	if err != nil {
		return err
	}
	for _, e := range ents {
		c, err := d.lookup(e.Name)
		if err != nil {
			return err
		}
		if err := c.copyUpTree(); err != nil {
			return err
		}
	}
	if err := d.clearWhiteouts(); err != nil {
		return err
	}
	if err := d.upper.Removexattr(opaqueXattr); err != nil && !errors.Is(err, unix.ENODATA) {
		return err
	}
	d.lowers = nil
	d.invalidate()
	return nil
}

// clearWhiteouts removes every whiteout from d's upper directory.
func (d *dentry) clearWhiteouts() error {
	var whs []string
	err := d.upper.Readdir(2, func(e fs.DirEntry) bool {
		if e.Type == unix.DT_CHR {
			whs = append(whs, e.Name)
		}
		return true
	})
	if err != nil {
		return err
	}
	for _, n := range whs {
		c, err := d.upper.Lookup(n)
		if err != nil {
			return err
		}
		if wh, err := isWhiteout(c); err != nil {
			return err
		} else if wh {
			if err := d.upper.Unlink(n); err != nil {
				return err
			}
		}
	}
	return nil
}
