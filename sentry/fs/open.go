package fs

import (
	"golang.org/x/sys/unix"
)

// OpenHow is openat2's struct open_how.
type OpenHow struct {
	Flags   int
	Mode    uint32
	Resolve uint64
}

const resolveMask = unix.RESOLVE_NO_XDEV | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_SYMLINKS |
	unix.RESOLVE_BENEATH | unix.RESOLVE_IN_ROOT

// Open is openat2(2) (openat(2) is openat2 with no RESOLVE_* flags).
func (v *VFS) Open(ctx *Context, at Loc, path string, how OpenHow) (*FileDescription, error) {
	flags := how.Flags
	if how.Resolve&^resolveMask != 0 || how.Resolve&(unix.RESOLVE_BENEATH|unix.RESOLVE_IN_ROOT) == unix.RESOLVE_BENEATH|unix.RESOLVE_IN_ROOT {
		return nil, unix.EINVAL
	}
	if flags&unix.O_PATH != 0 {
		flags &= unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_PATH | unix.O_CLOEXEC
	}
	tmpfile := flags&oTmpfile != 0
	if tmpfile && (flags&(unix.O_TMPFILE|unix.O_CREAT) != unix.O_TMPFILE || flags&unix.O_ACCMODE == unix.O_RDONLY) {
		return nil, unix.EINVAL
	}
	if flags&(unix.O_CREAT|unix.O_DIRECTORY) == unix.O_CREAT|unix.O_DIRECTORY {
		return nil, unix.EINVAL
	}
	if err := checkPath(path, false); err != nil {
		return nil, err
	}
	var (
		loc     Loc
		created bool
		err     error
	)
	o := resolveOpts{follow: flags&unix.O_NOFOLLOW == 0, resolve: how.Resolve}
	if tmpfile {
		return v.openTmpfile(ctx, at, path, flags, how.Mode, o)
	}
	if flags&unix.O_CREAT != 0 {
		loc, created, err = v.openCreate(ctx, at, path, flags, how.Mode, o)
	} else {
		loc, err = v.resolve(ctx, at, path, o)
	}
	if err != nil {
		return nil, err
	}
	return v.openLoc(ctx, loc, flags, created)
}

// oTmpfile is O_TMPFILE without the O_DIRECTORY that comes with it.
const oTmpfile = unix.O_TMPFILE &^ unix.O_DIRECTORY

// TmpfileCreator is implemented by directories of file systems that
// support O_TMPFILE.
type TmpfileCreator interface {
	// CreateTmpfile makes a regular file without a name (nlink 0) in the
	// directory. linkable says whether Link may give it one later.
	CreateTmpfile(a *CreateAttrs, linkable bool) (Dentry, error)
}

// Linkable is implemented by the dentries of unnamed files that Link may
// name (an O_TMPFILE file opened without O_EXCL, until it is linked).
type Linkable interface {
	Linkable() bool
}

// openTmpfile is do_tmpfile: an unnamed regular file in the directory
// path names.
func (v *VFS) openTmpfile(ctx *Context, at Loc, path string, flags int, mode uint32, o resolveOpts) (*FileDescription, error) {
	dir, err := v.resolve(ctx, at, path, o)
	if err != nil {
		return nil, err
	}
	dst, err := v.stat(dir)
	if err != nil {
		return nil, err
	}
	if !dst.IsDir() {
		return nil, unix.ENOTDIR
	}
	if dir.Mount.readOnly() {
		return nil, unix.EROFS
	}
	dir.lock()
	if dst, err = dir.Dentry.Stat(); err == nil {
		err = permission(ctx.Creds, &dst, mayWrite|mayExec)
	}
	var d Dentry
	if err == nil {
		if tc, ok := dir.Dentry.(TmpfileCreator); ok {
			d, err = tc.CreateTmpfile(newAttrs(ctx.Creds, &dst, unix.S_IFREG|mode&0o7777, ctx.Umask), flags&unix.O_EXCL == 0)
		} else {
			err = unix.EOPNOTSUPP
		}
	}
	dir.unlock()
	if err != nil {
		return nil, err
	}
	return v.openLoc(ctx, Loc{dir.Mount, d}, flags&^(unix.O_TMPFILE|unix.O_EXCL), true)
}

// openCreate resolves path for O_CREAT: it follows a final symlink (unless
// O_EXCL or O_NOFOLLOW), even a dangling one, and creates what is missing.
func (v *VFS) openCreate(ctx *Context, at Loc, path string, flags int, mode uint32, o resolveOpts) (Loc, bool, error) {
	w := v.newWalker(ctx, at, o)
	dir, name, kind, trailing, err := w.walkParent(at, path)
	for {
		if err != nil {
			return Loc{}, false, err
		}
		if kind != lastNorm {
			// ".", ".." or "/": an existing directory.
			if kind == lastDotDot {
				if _, err := w.dotdot(dir); err != nil {
					return Loc{}, false, err
				}
			}
			if flags&unix.O_EXCL != 0 {
				return Loc{}, false, unix.EEXIST
			}
			return Loc{}, false, unix.EISDIR
		}
		if trailing {
			return Loc{}, false, unix.EISDIR
		}
		loc, created, st, cerr := v.lookupOrCreate(ctx, dir, name, flags, mode)
		if cerr != nil || created {
			return loc, created, cerr
		}
		if flags&unix.O_EXCL != 0 {
			return Loc{}, false, unix.EEXIST
		}
		if loc, err = w.crossDown(loc); err != nil {
			return Loc{}, false, err
		}
		if st.Type() != unix.S_IFLNK || flags&unix.O_NOFOLLOW != 0 {
			if st.IsDir() {
				return Loc{}, false, unix.EISDIR
			}
			if err := v.mayCreateInSticky(ctx, dir, st); err != nil {
				return Loc{}, false, err
			}
			// openLoc refuses a symlink with ELOOP.
			return loc, false, nil
		}
		if err := w.mayFollow(dir, loc); err != nil {
			return Loc{}, false, err
		}
		if _, magic := loc.Dentry.(MagicLink); magic {
			loc, err = w.followLink(dir, loc, true, false)
			return loc, false, err
		}
		target, lerr := w.linkTarget(loc)
		if lerr != nil {
			return Loc{}, false, lerr
		}
		dir, name, kind, trailing, err = w.walkParent(dir, target)
	}
}

// lookupOrCreate returns dir/name, creating a regular file if it is missing.
func (v *VFS) lookupOrCreate(ctx *Context, dir Loc, name string, flags int, mode uint32) (Loc, bool, *Stat, error) {
	dir.lock()
	defer dir.unlock()
	child, cst, err := lookupLocked(dir.Dentry, name)
	if err != nil {
		return Loc{}, false, nil, err
	}
	if child != nil {
		return Loc{dir.Mount, child}, false, cst, nil
	}
	dst, err := StatAttrs(dir.Dentry)
	if err != nil {
		return Loc{}, false, nil, err
	}
	if dst.Nlink == 0 {
		return Loc{}, false, nil, unix.ENOENT
	}
	if dir.Mount.readOnly() {
		return Loc{}, false, nil, unix.EROFS
	}
	if err := permission(ctx.Creds, &dst, mayWrite|mayExec); err != nil {
		return Loc{}, false, nil, err
	}
	d, err := dir.Dentry.Create(name, newAttrs(ctx.Creds, &dst, unix.S_IFREG|mode&0o7777, ctx.Umask))
	if err != nil {
		return Loc{}, false, nil, err
	}
	return Loc{dir.Mount, d}, true, nil, nil
}

// linkTarget counts a symlink traversal and reads the link.
func (w *walker) linkTarget(link Loc) (string, error) {
	if w.resolve&unix.RESOLVE_NO_SYMLINKS != 0 {
		return "", unix.ELOOP
	}
	w.links++
	if w.links > maxSymlink {
		return "", unix.ELOOP
	}
	link.rlock()
	target, err := link.Dentry.Readlink()
	link.runlock()
	if err == nil && target == "" {
		err = unix.ENOENT
	}
	return target, err
}

// openLoc is Linux's do_open and may_open for a resolved location.
func (v *VFS) openLoc(ctx *Context, loc Loc, flags int, created bool) (*FileDescription, error) {
	st, err := v.attrs(loc)
	if err != nil {
		return nil, err
	}
	if flags&unix.O_DIRECTORY != 0 && !st.IsDir() {
		return nil, unix.ENOTDIR
	}
	fd := &FileDescription{vfs: v, loc: loc, flags: flags &^ (unix.O_CREAT | unix.O_EXCL | unix.O_TRUNC | unix.O_NOCTTY), creds: ctx.Creds}
	if flags&unix.O_PATH != 0 {
		fd.hold()
		return fd, nil
	}
	var want uint32
	switch flags & unix.O_ACCMODE {
	case unix.O_RDONLY:
		want = mayRead
	case unix.O_WRONLY:
		want = mayWrite
	default:
		want = mayRead | mayWrite
	}
	if flags&unix.O_TRUNC != 0 {
		want |= mayWrite
	}
	doTrunc := false
	if created {
		want = 0
	} else if st.Type() == unix.S_IFREG && flags&unix.O_TRUNC != 0 {
		if loc.Mount.readOnly() {
			return nil, unix.EROFS
		}
		doTrunc = true
	}
	special := false
	switch st.Type() {
	case unix.S_IFLNK:
		return nil, unix.ELOOP
	case unix.S_IFDIR:
		if want&mayWrite != 0 {
			return nil, unix.EISDIR
		}
	case unix.S_IFCHR, unix.S_IFBLK:
		if loc.Mount.Flags()&MountNoDev != 0 {
			return nil, unix.EACCES
		}
		special = true
	case unix.S_IFIFO, unix.S_IFSOCK:
		special = true
	}
	if want != 0 {
		if err := permission(ctx.Creds, &st, want); err != nil {
			return nil, err
		}
	}
	if typ := st.Type(); (typ == unix.S_IFCHR || typ == unix.S_IFBLK) && ctx.Devices != nil && !deviceAccess(ctx.Devices, typ, st.Rdev, want) {
		return nil, unix.EPERM
	}
	if flags&unix.O_NOATIME != 0 && !ownerOrCapable(ctx.Creds, &st) {
		return nil, unix.EPERM
	}
	if flags&unix.O_ACCMODE != unix.O_RDONLY && !special && loc.Mount.readOnly() {
		return nil, unix.EROFS
	}
	if st.Type() == unix.S_IFSOCK {
		// A socket is reached through connect(2), not open(2).
		return nil, unix.ENXIO
	}
	if st.Type() == unix.S_IFREG {
		loc.rlock()
		fd.impl, err = loc.Dentry.Open(flags)
		loc.runlock()
		if err != nil {
			return nil, err
		}
	}
	fd.hold()
	if doTrunc {
		if err := v.truncate(ctx, loc, 0); err != nil {
			fd.Close()
			return nil, err
		}
	}
	return fd, nil
}

// deviceAccess asks the device cgroup for the read and write access an
// open wants.
func deviceAccess(c DeviceCgroup, typ uint32, rdev uint64, want uint32) bool {
	return (want&mayRead == 0 || c.Allowed(typ, rdev, 'r')) && (want&mayWrite == 0 || c.Allowed(typ, rdev, 'w'))
}
