package fs

import (
	"golang.org/x/sys/unix"
)

// The operations below are the VFS halves of the file system syscalls. Each
// takes the caller (ctx), the directory relative paths start from (at: the
// cwd or a dirfd's location) and the syscall's own arguments, and returns
// what Linux returns, in the order Linux checks it.

// lock and unlock take the file system's tree lock for a change.
func (l Loc) lock()    { l.Mount.st.mu.Lock() }
func (l Loc) unlock()  { l.Mount.st.mu.Unlock() }
func (l Loc) rlock()   { l.Mount.st.mu.RLock() }
func (l Loc) runlock() { l.Mount.st.mu.RUnlock() }

// lookupLocked looks name up in dir with the tree lock held; a missing name
// is a nil Dentry, not an error.
func lookupLocked(dir Dentry, name string) (Dentry, *Stat, error) {
	// A removed directory is not even looked in (IS_DEADDIR), so this
	// ENOENT comes before a long name's ENAMETOOLONG and before EROFS.
	if dst, err := StatAttrs(dir); err != nil {
		return nil, nil, err
	} else if dst.Nlink == 0 {
		return nil, nil, unix.ENOENT
	}
	if len(name) > NameMax {
		return nil, nil, unix.ENAMETOOLONG
	}
	d, err := dir.Lookup(name)
	if err == unix.ENOENT {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	st, err := StatAttrs(d)
	if err != nil {
		return nil, nil, err
	}
	return d, &st, nil
}

func (v *VFS) isMountpoint(m *Mount, d Dentry) bool { return v.mountedAt(m, d) != nil }

// newAttrs is the mode and owner of a new inode in dir: vfs_prepare_mode
// (a set-group-ID program made by an outsider in a set-group-ID directory
// loses S_ISGID, judged before the umask), then the umask, then
// inode_init_owner (the caller's fsuid, and a set-group-ID directory's
// group, which its subdirectories also inherit S_ISGID from).
func newAttrs(c *Creds, dir *Stat, mode, umask uint32) *CreateAttrs {
	sgidDir := dir.Mode&unix.S_ISGID != 0
	if sgidDir && mode&unix.S_IFMT != unix.S_IFDIR && mode&(unix.S_ISGID|unix.S_IXGRP) == unix.S_ISGID|unix.S_IXGRP && !inGroupOrCapable(c, dir.GID) {
		mode &^= unix.S_ISGID
	}
	mode &^= umask & 0o777
	a := &CreateAttrs{Mode: mode, UID: c.UID, GID: c.GID}
	if sgidDir {
		a.GID = dir.GID
		if mode&unix.S_IFMT == unix.S_IFDIR {
			a.Mode |= unix.S_ISGID
		}
	}
	return a
}

// create is filename_create plus may_create: it resolves the parent of path,
// checks that the final name is free and the caller may create it there,
// and calls make with the parent locked.
// check, if not nil, runs between the read-only check and may_create (link
// checks the source there).
func (v *VFS) create(ctx *Context, at Loc, path string, isDir bool, check func(dir Loc) error, make func(dir Loc, dst *Stat, name string) error) error {
	_, dir, name, kind, trailing, err := v.resolveParent(ctx, at, path, resolveOpts{})
	if err != nil {
		return err
	}
	if kind != lastNorm {
		return unix.EEXIST
	}
	dir.lock()
	defer dir.unlock()
	child, _, err := lookupLocked(dir.Dentry, name)
	if err != nil {
		return err
	}
	if child != nil {
		return unix.EEXIST
	}
	if trailing && !isDir {
		return unix.ENOENT
	}
	if dir.Mount.readOnly() {
		return unix.EROFS
	}
	if check != nil {
		if err := check(dir); err != nil {
			return err
		}
	}
	dst, err := dir.Dentry.Stat()
	if err != nil {
		return err
	}
	if dst.Nlink == 0 {
		return unix.ENOENT
	}
	if err := permission(ctx.Creds, &dst, mayWrite|mayExec); err != nil {
		return err
	}
	return make(dir, &dst, name)
}

// Mkdir is mkdirat(2).
func (v *VFS) Mkdir(ctx *Context, at Loc, path string, mode uint32) error {
	return v.create(ctx, at, path, true, nil, func(dir Loc, dst *Stat, name string) error {
		_, err := dir.Dentry.Create(name, newAttrs(ctx.Creds, dst, mode&(0o777|unix.S_ISVTX)|unix.S_IFDIR, ctx.Umask))
		return err
	})
}

// Mknod is mknodat(2): regular files, fifos, sockets and devices.
func (v *VFS) Mknod(ctx *Context, at Loc, path string, mode uint32, dev uint64) error {
	switch mode & unix.S_IFMT {
	case 0:
		mode |= unix.S_IFREG
	case unix.S_IFREG, unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO, unix.S_IFSOCK:
	case unix.S_IFDIR:
		return unix.EPERM
	default:
		return unix.EINVAL
	}
	return v.create(ctx, at, path, false, nil, func(dir Loc, dst *Stat, name string) error {
		typ := mode & unix.S_IFMT
		whiteout := typ == unix.S_IFCHR && dev == 0
		if (typ == unix.S_IFCHR || typ == unix.S_IFBLK) && !whiteout {
			if !ctx.Creds.HasCap(CapMknod) || ctx.Devices != nil && !ctx.Devices.Allowed(typ, dev, 'm') {
				return unix.EPERM
			}
		}
		a := newAttrs(ctx.Creds, dst, typ|mode&0o7777, ctx.Umask)
		if typ == unix.S_IFCHR || typ == unix.S_IFBLK {
			a.Rdev = dev
		}
		_, err := dir.Dentry.Create(name, a)
		return err
	})
}

// Symlink is symlinkat(2).
func (v *VFS) Symlink(ctx *Context, target string, at Loc, path string) error {
	if target == "" {
		return unix.ENOENT
	}
	if len(target) >= PathMax {
		return unix.ENAMETOOLONG
	}
	return v.create(ctx, at, path, false, nil, func(dir Loc, dst *Stat, name string) error {
		a := newAttrs(ctx.Creds, dst, unix.S_IFLNK|0o777, 0)
		a.Target = target
		_, err := dir.Dentry.Create(name, a)
		return err
	})
}

// Link is linkat(2).
func (v *VFS) Link(ctx *Context, oldAt Loc, oldPath string, newAt Loc, newPath string, flags int) error {
	if flags&^(atSymlinkFollow|atEmptyPath) != 0 {
		return unix.EINVAL
	}
	if flags&atEmptyPath != 0 && !ctx.Creds.HasCap(CapDacReadSearch) {
		return unix.ENOENT
	}
	old, err := v.resolve(ctx, oldAt, oldPath, resolveOpts{follow: flags&atSymlinkFollow != 0, emptyPath: flags&atEmptyPath != 0})
	if err != nil {
		return err
	}
	var st Stat
	return v.create(ctx, newAt, newPath, false, func(dir Loc) error {
		if dir.Mount != old.Mount {
			return unix.EXDEV
		}
		var err error
		if st, err = old.Dentry.Stat(); err != nil {
			return err
		}
		// fs.protected_hardlinks: only links to files the caller could
		// open for reading and writing, or owns.
		if v.Protected().Hardlinks && !ownerOrCapable(ctx.Creds, &st) && !safeHardlinkSource(ctx.Creds, &st) {
			return unix.EPERM
		}
		return nil
	}, func(dir Loc, _ *Stat, name string) error {
		if st.IsDir() {
			return unix.EPERM
		}
		if st.Nlink == 0 {
			if l, ok := old.Dentry.(Linkable); !ok || !l.Linkable() {
				return unix.ENOENT
			}
		}
		_, err := dir.Dentry.Link(name, old.Dentry)
		return err
	})
}

func safeHardlinkSource(c *Creds, st *Stat) bool {
	if st.Type() != unix.S_IFREG || st.Mode&unix.S_ISUID != 0 {
		return false
	}
	if st.Mode&(unix.S_ISGID|unix.S_IXGRP) == unix.S_ISGID|unix.S_IXGRP {
		return false
	}
	return permission(c, st, mayRead|mayWrite) == nil
}

// Unlink is unlinkat(2) without AT_REMOVEDIR.
func (v *VFS) Unlink(ctx *Context, at Loc, path string) error {
	_, dir, name, kind, trailing, err := v.resolveParent(ctx, at, path, resolveOpts{})
	if err != nil {
		return err
	}
	if kind != lastNorm {
		return unix.EISDIR
	}
	if dir.Mount.readOnly() {
		return unix.EROFS
	}
	dir.lock()
	defer dir.unlock()
	child, cst, err := lookupLocked(dir.Dentry, name)
	if err != nil {
		return err
	}
	if child == nil {
		return unix.ENOENT
	}
	if trailing {
		if cst.IsDir() {
			return unix.EISDIR
		}
		return unix.ENOTDIR
	}
	dst, err := dir.Dentry.Stat()
	if err != nil {
		return err
	}
	if err := mayDelete(ctx.Creds, &dst, cst, false); err != nil {
		return err
	}
	if v.isMountpoint(dir.Mount, child) {
		return unix.EBUSY
	}
	return dir.Dentry.Unlink(name)
}

// Rmdir is unlinkat(2) with AT_REMOVEDIR.
func (v *VFS) Rmdir(ctx *Context, at Loc, path string) error {
	_, dir, name, kind, _, err := v.resolveParent(ctx, at, path, resolveOpts{})
	if err != nil {
		return err
	}
	switch kind {
	case lastDotDot:
		return unix.ENOTEMPTY
	case lastDot:
		return unix.EINVAL
	case lastRoot:
		return unix.EBUSY
	}
	if dir.Mount.readOnly() {
		return unix.EROFS
	}
	dir.lock()
	defer dir.unlock()
	child, cst, err := lookupLocked(dir.Dentry, name)
	if err != nil {
		return err
	}
	if child == nil {
		return unix.ENOENT
	}
	dst, err := dir.Dentry.Stat()
	if err != nil {
		return err
	}
	if err := mayDelete(ctx.Creds, &dst, cst, true); err != nil {
		return err
	}
	if v.isMountpoint(dir.Mount, child) {
		return unix.EBUSY
	}
	return dir.Dentry.Rmdir(name)
}

// Rename is renameat2(2).
func (v *VFS) Rename(ctx *Context, oldAt Loc, oldPath string, newAt Loc, newPath string, flags uint32) error {
	if flags&^(unix.RENAME_NOREPLACE|unix.RENAME_EXCHANGE|unix.RENAME_WHITEOUT) != 0 {
		return unix.EINVAL
	}
	if flags&(unix.RENAME_NOREPLACE|unix.RENAME_WHITEOUT) != 0 && flags&unix.RENAME_EXCHANGE != 0 {
		return unix.EINVAL
	}
	_, oldDir, oldName, oldKind, oldTrailing, err := v.resolveParent(ctx, oldAt, oldPath, resolveOpts{})
	if err != nil {
		return err
	}
	_, newDir, newName, newKind, newTrailing, err := v.resolveParent(ctx, newAt, newPath, resolveOpts{})
	if err != nil {
		return err
	}
	if oldDir.Mount != newDir.Mount {
		return unix.EXDEV
	}
	if oldKind != lastNorm {
		return unix.EBUSY
	}
	if newKind != lastNorm {
		if flags&unix.RENAME_NOREPLACE != 0 {
			return unix.EEXIST
		}
		return unix.EBUSY
	}
	if oldDir.Mount.readOnly() {
		return unix.EROFS
	}
	st := oldDir.Mount.st
	st.renameMu.Lock()
	defer st.renameMu.Unlock()
	oldDir.lock()
	defer oldDir.unlock()

	// The ancestor of one directory that is a child of the other: moving
	// it under itself, or onto an ancestor of the source, is refused.
	trap := renameTrap(oldDir.Dentry, newDir.Dentry)
	src, sst, err := lookupLocked(oldDir.Dentry, oldName)
	if err != nil {
		return err
	}
	if src == nil {
		return unix.ENOENT
	}
	dst, dstSt, err := lookupLocked(newDir.Dentry, newName)
	if err != nil {
		return err
	}
	if dst != nil && flags&unix.RENAME_NOREPLACE != 0 {
		return unix.EEXIST
	}
	exchange := flags&unix.RENAME_EXCHANGE != 0
	if exchange {
		if dst == nil {
			return unix.ENOENT
		}
		if !dstSt.IsDir() && newTrailing {
			return unix.ENOTDIR
		}
	}
	if !sst.IsDir() && (oldTrailing || (!exchange && newTrailing)) {
		return unix.ENOTDIR
	}
	if trap != nil && src == trap {
		return unix.EINVAL
	}
	if trap != nil && dst == trap {
		if exchange {
			return unix.EINVAL
		}
		return unix.ENOTEMPTY
	}
	// Two names of one inode: rename does nothing.
	if dst != nil && sst.Ino == dstSt.Ino && sst.Dev == dstSt.Dev {
		return nil
	}
	odst, err := oldDir.Dentry.Stat()
	if err != nil {
		return err
	}
	ndst := odst
	if newDir.Dentry != oldDir.Dentry {
		if ndst, err = newDir.Dentry.Stat(); err != nil {
			return err
		}
	}
	isDir := sst.IsDir()
	if err := mayDelete(ctx.Creds, &odst, sst, isDir); err != nil {
		return err
	}
	if dst == nil {
		if ndst.Nlink == 0 {
			return unix.ENOENT
		}
		if err := permission(ctx.Creds, &ndst, mayWrite|mayExec); err != nil {
			return err
		}
	} else {
		want := isDir
		if exchange {
			want = dstSt.IsDir()
		}
		if err := mayDelete(ctx.Creds, &ndst, dstSt, want); err != nil {
			return err
		}
	}
	if newDir.Dentry != oldDir.Dentry {
		// A directory moving to a new parent changes its "..".
		if isDir {
			if err := permission(ctx.Creds, sst, mayWrite); err != nil {
				return err
			}
		}
		if exchange && dstSt.IsDir() {
			if err := permission(ctx.Creds, dstSt, mayWrite); err != nil {
				return err
			}
		}
	}
	if v.isMountpoint(oldDir.Mount, src) || (dst != nil && v.isMountpoint(newDir.Mount, dst)) {
		return unix.EBUSY
	}
	if dst != nil && !exchange && dstSt.IsDir() {
		if empty, err := isEmptyDir(dst); err != nil {
			return err
		} else if !empty {
			return unix.ENOTEMPTY
		}
	}
	var whiteout *CreateAttrs
	if flags&unix.RENAME_WHITEOUT != 0 {
		// A new inode: its group follows a set-group-ID directory.
		whiteout = newAttrs(ctx.Creds, &odst, unix.S_IFCHR, 0)
	}
	return oldDir.Dentry.Rename(oldName, newDir.Dentry, newName, flags&(unix.RENAME_EXCHANGE|unix.RENAME_WHITEOUT), whiteout)
}

// renameTrap is lock_rename's answer: if one of the two directories is an
// ancestor of the other, the child of the ancestor on the path to the
// other; otherwise nil.
func renameTrap(a, b Dentry) Dentry {
	if a == b {
		return nil
	}
	for d := b; d != nil; d = d.Parent() {
		if p := d.Parent(); p == a {
			return d
		}
	}
	for d := a; d != nil; d = d.Parent() {
		if p := d.Parent(); p == b {
			return d
		}
	}
	return nil
}

func isEmptyDir(d Dentry) (bool, error) {
	empty := true
	err := d.Readdir(2, func(DirEntry) bool {
		empty = false
		return false
	})
	return empty, err
}

// Stat is fstatat(2)/statx(2). flags: AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH.
func (v *VFS) Stat(ctx *Context, at Loc, path string, flags int) (Stat, error) {
	if flags&^(atSymlinkNofollow|atEmptyPath|unix.AT_NO_AUTOMOUNT|unix.AT_STATX_FORCE_SYNC|unix.AT_STATX_DONT_SYNC) != 0 {
		return Stat{}, unix.EINVAL
	}
	loc, err := v.resolve(ctx, at, path, resolveOpts{follow: flags&atSymlinkNofollow == 0, emptyPath: flags&atEmptyPath != 0})
	if err != nil {
		return Stat{}, err
	}
	return v.stat(loc)
}

// Lookup resolves path to a location, following a final symlink unless
// AT_SYMLINK_NOFOLLOW (chdir, chroot, and the syscall layer's own needs).
func (v *VFS) Lookup(ctx *Context, at Loc, path string, flags int) (Loc, error) {
	return v.resolve(ctx, at, path, resolveOpts{follow: flags&atSymlinkNofollow == 0, emptyPath: flags&atEmptyPath != 0})
}

// Readlink is readlinkat(2).
func (v *VFS) Readlink(ctx *Context, at Loc, path string) (string, error) {
	loc, err := v.resolve(ctx, at, path, resolveOpts{emptyPath: true})
	if err != nil {
		return "", err
	}
	if path == "" {
		// readlinkat(fd, "") reads the link an O_PATH fd refers to.
		if st, err := v.stat(loc); err != nil {
			return "", err
		} else if st.Type() != unix.S_IFLNK {
			return "", unix.ENOENT
		}
	}
	loc.rlock()
	defer loc.runlock()
	return loc.Dentry.Readlink()
}

// Access is faccessat2(2); the caller passes the credentials to check with
// (the real ids unless AT_EACCESS).
func (v *VFS) Access(ctx *Context, at Loc, path string, mode uint32, flags int) error {
	if mode&^7 != 0 || flags&^(atSymlinkNofollow|atEmptyPath|unix.AT_EACCESS) != 0 {
		return unix.EINVAL
	}
	loc, err := v.resolve(ctx, at, path, resolveOpts{follow: flags&atSymlinkNofollow == 0, emptyPath: flags&atEmptyPath != 0})
	if err != nil {
		return err
	}
	if mode == 0 {
		return nil
	}
	st, err := v.stat(loc)
	if err != nil {
		return err
	}
	if mode&mayWrite != 0 && loc.Mount.readOnly() {
		switch st.Type() {
		case unix.S_IFREG, unix.S_IFDIR, unix.S_IFLNK:
			return unix.EROFS
		}
	}
	if mode&mayExec != 0 && st.Type() == unix.S_IFREG && loc.Mount.Flags()&MountNoExec != 0 {
		return unix.EACCES
	}
	return permission(ctx.Creds, &st, mode)
}

// setattr applies a change to loc with the tree lock held, after check
// has approved it against the current attributes.
func (v *VFS) setattr(loc Loc, check func(st *Stat) (*SetStat, error)) error {
	loc.lock()
	defer loc.unlock()
	st, err := loc.Dentry.Stat()
	if err != nil {
		return err
	}
	s, err := check(&st)
	if err != nil || s == nil {
		return err
	}
	if s.Mask&SetCtime == 0 {
		s.Mask |= SetCtime
		s.Ctime = Now()
	}
	return loc.Dentry.SetStat(s)
}

// Chmod is fchmodat2(2).
func (v *VFS) Chmod(ctx *Context, at Loc, path string, mode uint32, flags int) error {
	if flags&^(atSymlinkNofollow|atEmptyPath) != 0 {
		return unix.EINVAL
	}
	loc, err := v.resolve(ctx, at, path, resolveOpts{follow: flags&atSymlinkNofollow == 0, emptyPath: flags&atEmptyPath != 0})
	if err != nil {
		return err
	}
	return v.ChmodLoc(ctx, loc, mode)
}

// ChmodLoc is fchmod(2) on an open file's location.
func (v *VFS) ChmodLoc(ctx *Context, loc Loc, mode uint32) error {
	if loc.Mount.readOnly() {
		return unix.EROFS
	}
	return v.setattr(loc, func(st *Stat) (*SetStat, error) {
		if st.Type() == unix.S_IFLNK {
			return nil, unix.EOPNOTSUPP
		}
		if !ownerOrCapable(ctx.Creds, st) {
			return nil, unix.EPERM
		}
		mode := mode & 0o7777
		if mode&unix.S_ISGID != 0 && !inGroupOrCapable(ctx.Creds, st.GID) {
			mode &^= unix.S_ISGID
		}
		return &SetStat{Mask: SetMode, Mode: mode}, nil
	})
}

// Chown is fchownat(2); -1 leaves an id unchanged.
func (v *VFS) Chown(ctx *Context, at Loc, path string, uid, gid int64, flags int) error {
	if flags&^(atSymlinkNofollow|atEmptyPath) != 0 {
		return unix.EINVAL
	}
	loc, err := v.resolve(ctx, at, path, resolveOpts{follow: flags&atSymlinkNofollow == 0, emptyPath: flags&atEmptyPath != 0})
	if err != nil {
		return err
	}
	return v.ChownLoc(ctx, loc, uid, gid)
}

// ChownLoc is fchown(2) on an open file's location.
func (v *VFS) ChownLoc(ctx *Context, loc Loc, uid, gid int64) error {
	if loc.Mount.readOnly() {
		return unix.EROFS
	}
	return v.setattr(loc, func(st *Stat) (*SetStat, error) {
		c := ctx.Creds
		s := &SetStat{}
		if uid != -1 {
			if !(c.UID == st.UID && uint32(uid) == st.UID) && !c.HasCap(CapChown) {
				return nil, unix.EPERM
			}
			s.Mask |= SetUID
			s.UID = uint32(uid)
		}
		if gid != -1 {
			if !(c.UID == st.UID && (c.InGroup(uint32(gid)) || uint32(gid) == st.GID)) && !c.HasCap(CapChown) {
				return nil, unix.EPERM
			}
			s.Mask |= SetGID
			s.GID = uint32(gid)
		}
		if st.Type() != unix.S_IFDIR {
			// Any chown of a set-id program disarms it, even one that
			// changes nothing or is done by root; that is a change of
			// mode, which only the owner or CAP_FOWNER may make.
			mode := st.Mode & 0o7777
			kill := mode&unix.S_ISUID | dropSgid(c, st)
			if kill != 0 {
				if !ownerOrCapable(c, st) {
					return nil, unix.EPERM
				}
				mode &^= kill
				gid := st.GID
				if s.Mask&SetGID != 0 {
					gid = s.GID
				}
				if !inGroupOrCapable(c, gid) {
					mode &^= unix.S_ISGID
				}
				s.Mask |= SetMode
				s.Mode = mode
			}
		}
		return s, nil
	})
}

// Utimens is utimensat(2). times nil means both now; a Nsec of
// UTIME_NOW or UTIME_OMIT means what it does in Linux.
func (v *VFS) Utimens(ctx *Context, at Loc, path string, times *[2]unix.Timespec, flags int) error {
	// Both omitted: nothing to do, and not even the path is checked.
	if times != nil && times[0].Nsec == unix.UTIME_OMIT && times[1].Nsec == unix.UTIME_OMIT {
		return nil
	}
	if flags&^(atSymlinkNofollow|atEmptyPath) != 0 {
		return unix.EINVAL
	}
	loc, err := v.resolve(ctx, at, path, resolveOpts{follow: flags&atSymlinkNofollow == 0, emptyPath: flags&atEmptyPath != 0})
	if err != nil {
		return err
	}
	return v.UtimensLoc(ctx, loc, times)
}

// UtimensLoc is futimens(2) on an open file's location.
func (v *VFS) UtimensLoc(ctx *Context, loc Loc, times *[2]unix.Timespec) error {
	if times != nil {
		for _, t := range times {
			if (t.Nsec < 0 || t.Nsec >= 1e9) && t.Nsec != unix.UTIME_NOW && t.Nsec != unix.UTIME_OMIT {
				return unix.EINVAL
			}
		}
		if times[0].Nsec == unix.UTIME_NOW && times[1].Nsec == unix.UTIME_NOW {
			times = nil
		}
	}
	if loc.Mount.readOnly() {
		return unix.EROFS
	}
	return v.setattr(loc, func(st *Stat) (*SetStat, error) {
		now := Now()
		s := &SetStat{Mask: SetAtime | SetMtime | SetCtime, Atime: now, Mtime: now, Ctime: now}
		if times != nil {
			for i, t := range times {
				bit, dst := uint32(SetAtime), &s.Atime
				if i == 1 {
					bit, dst = SetMtime, &s.Mtime
				}
				switch t.Nsec {
				case unix.UTIME_OMIT:
					s.Mask &^= bit
				case unix.UTIME_NOW:
				default:
					*dst = t
				}
			}
		}
		// Any times argument (even UTIME_NOW with UTIME_OMIT) is an
		// explicit setting, for the owner only; NULL is a touch, which
		// write permission allows.
		if times != nil {
			if !ownerOrCapable(ctx.Creds, st) {
				return nil, unix.EPERM
			}
		} else if !ownerOrCapable(ctx.Creds, st) {
			if err := permission(ctx.Creds, st, mayWrite); err != nil {
				return nil, err
			}
		}
		return s, nil
	})
}

// Truncate is truncate(2).
func (v *VFS) Truncate(ctx *Context, at Loc, path string, size int64) error {
	if size < 0 {
		return unix.EINVAL
	}
	loc, err := v.resolve(ctx, at, path, resolveOpts{follow: true})
	if err != nil {
		return err
	}
	st, err := v.stat(loc)
	if err != nil {
		return err
	}
	switch st.Type() {
	case unix.S_IFDIR:
		return unix.EISDIR
	case unix.S_IFREG:
	default:
		return unix.EINVAL
	}
	if loc.Mount.readOnly() {
		return unix.EROFS
	}
	if err := permission(ctx.Creds, &st, mayWrite); err != nil {
		return err
	}
	return v.truncate(ctx, loc, size)
}

// truncate sets the size of a regular file whose access the caller has
// checked, removing set-id bits as a write does.
func (v *VFS) truncate(ctx *Context, loc Loc, size int64) error {
	return v.setattr(loc, func(st *Stat) (*SetStat, error) {
		now := Now()
		s := &SetStat{Mask: SetSize | SetMtime | SetCtime, Size: size, Mtime: now, Ctime: now}
		if kill := killPrivs(ctx.Creds, st); kill != 0 {
			s.Mask |= SetMode
			s.Mode = st.Mode & 0o7777 &^ kill
		}
		return s, nil
	})
}

// StatFS is statfs(2).
func (v *VFS) StatFS(ctx *Context, at Loc, path string) (Statfs, error) {
	loc, err := v.resolve(ctx, at, path, resolveOpts{follow: true})
	if err != nil {
		return Statfs{}, err
	}
	return v.StatFSLoc(loc)
}

// StatFSLoc is fstatfs(2).
func (v *VFS) StatFSLoc(loc Loc) (Statfs, error) {
	loc.rlock()
	s, err := loc.Mount.fs.StatFS()
	loc.runlock()
	if err != nil {
		return Statfs{}, err
	}
	f := loc.Mount.Flags()
	s.Flags = 0x20 // ST_VALID
	for _, b := range []struct{ ms, st uint32 }{
		{MountReadOnly, unix.ST_RDONLY}, {MountNoSuid, unix.ST_NOSUID}, {MountNoDev, unix.ST_NODEV},
		{MountNoExec, unix.ST_NOEXEC}, {MountNoAtime, unix.ST_NOATIME},
	} {
		if f&b.ms != 0 {
			s.Flags |= int64(b.st)
		}
	}
	return s, nil
}
