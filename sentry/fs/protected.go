package fs

import "golang.org/x/sys/unix"

// Protected are the fs.protected_* sysctls, which close races and tricks
// in world-writable sticky directories such as /tmp.
type Protected struct {
	// Hardlinks: only the owner (or CAP_FOWNER) may link to a file they
	// could not open for reading and writing, or to a set-id program.
	Hardlinks bool
	// Symlinks: in a sticky world-writable directory, a symlink is only
	// followed by its owner or when the directory's owner owns it.
	Symlinks bool
	// FIFOs and Regular (0, 1 or 2): O_CREAT may not open an existing fifo
	// or regular file owned by someone else in a sticky world-writable
	// (1) or also group-writable (2) directory.
	FIFOs, Regular int
}

// DefaultProtected is what a new VFS uses: protected hard and symbolic
// links, as distributions configure Linux.
var DefaultProtected = Protected{Hardlinks: true, Symlinks: true}

// Protected returns the namespace's fs.protected_* settings.
func (v *VFS) Protected() Protected {
	if p := v.protected.Load(); p != nil {
		return *p
	}
	return DefaultProtected
}

// SetProtected changes the namespace's fs.protected_* settings.
func (v *VFS) SetProtected(p Protected) { v.protected.Store(&p) }

// mayFollow is may_follow_link: fs.protected_symlinks for the symlink link
// found in dir.
func (w *walker) mayFollow(dir, link Loc) error {
	if !w.v.Protected().Symlinks {
		return nil
	}
	lst, err := w.v.stat(link)
	if err != nil {
		return err
	}
	if lst.UID == w.ctx.Creds.UID {
		return nil
	}
	dst, err := w.v.stat(dir)
	if err != nil {
		return err
	}
	if dst.Mode&(unix.S_ISVTX|unix.S_IWOTH) != unix.S_ISVTX|unix.S_IWOTH || dst.UID == lst.UID {
		return nil
	}
	return unix.EACCES
}

// mayCreateInSticky is may_create_in_sticky: what O_CREAT may open when it
// finds st already in the sticky directory dir.
func (v *VFS) mayCreateInSticky(ctx *Context, dir Loc, st *Stat) error {
	dst, err := v.stat(dir)
	if err != nil {
		return err
	}
	if dst.Mode&unix.S_ISVTX == 0 {
		return nil
	}
	p := v.Protected()
	typ := st.Type()
	if (typ == unix.S_IFREG && p.Regular == 0) || (typ == unix.S_IFIFO && p.FIFOs == 0) {
		return nil
	}
	if st.UID == dst.UID || st.UID == ctx.Creds.UID {
		return nil
	}
	if dst.Mode&unix.S_IWOTH != 0 ||
		(dst.Mode&unix.S_IWGRP != 0 && ((typ == unix.S_IFIFO && p.FIFOs >= 2) || (typ == unix.S_IFREG && p.Regular >= 2))) {
		return unix.EACCES
	}
	return nil
}
