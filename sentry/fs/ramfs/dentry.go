package ramfs

import (
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
)

// dentry is one name of an inode.
type dentry struct {
	fs     *FS
	parent *dentry
	name   string
	inode  *inode
	cookie int64
}

var _ fs.Dentry = (*dentry)(nil)

// Parent implements fs.Dentry.
func (d *dentry) Parent() fs.Dentry {
	if d.parent == nil {
		return nil
	}
	return d.parent
}

// StatAttrs implements fs.AttrStater.
func (d *dentry) StatAttrs() (fs.Stat, error) {
	i := d.inode
	return fs.Stat{Mode: i.mode, Nlink: i.nlink, UID: i.uid, GID: i.gid, Ino: i.ino, Dev: d.fs.dev, Rdev: i.rdev, Blksize: PageSize}, nil
}

// Stat implements fs.Dentry.
func (d *dentry) Stat() (fs.Stat, error) {
	i := d.inode
	st, _ := d.StatAttrs()
	st.Atime, st.Mtime, st.Ctime, st.Btime = i.times.get(atime), i.times.get(mtime), i.times.get(ctime), i.times.get(btime)
	switch i.mode & unix.S_IFMT {
	case unix.S_IFDIR:
		// Linux's tmpfs counts 20 bytes per entry, "." and ".." included.
		st.Size = int64(20 * (len(i.dir.children) + 2))
	case unix.S_IFLNK:
		st.Size = int64(len(i.target))
		if len(i.target) > shortSymlink {
			st.Blocks = PageSize / 512
		}
	case unix.S_IFREG:
		i.dataMu.Lock()
		defer i.dataMu.Unlock()
		if i.data != nil || i.parked {
			var hs unix.Stat_t
			var err error
			if i.data != nil {
				err = unix.Fstat(int(i.data.Fd()), &hs)
			} else {
				err = unix.Fstatat(int(d.fs.opts.DataDir.Fd()), i.dataName(), &hs, 0)
			}
			if err != nil {
				return fs.Stat{}, err
			}
			st.Size, st.Blocks = hs.Size, hs.Blocks
			st.Atime, st.Mtime = hs.Atim, hs.Mtim
			if later(hs.Ctim, st.Ctime) {
				st.Ctime = hs.Ctim
			}
		}
	}
	return st, nil
}

func later(a, b unix.Timespec) bool {
	return a.Sec > b.Sec || (a.Sec == b.Sec && a.Nsec > b.Nsec)
}

// SetStat implements fs.Dentry.
func (d *dentry) SetStat(s *fs.SetStat) error {
	i := d.inode
	if s.Mask&fs.SetSize != 0 {
		if err := d.setSize(s.Size); err != nil {
			return err
		}
	}
	if s.Mask&fs.SetMode != 0 {
		i.mode = i.mode&unix.S_IFMT | s.Mode&0o7777
	}
	if s.Mask&fs.SetUID != 0 {
		i.uid = s.UID
	}
	if s.Mask&fs.SetGID != 0 {
		i.gid = s.GID
	}
	if s.Mask&(fs.SetAtime|fs.SetMtime) != 0 {
		if s.Mask&fs.SetAtime != 0 {
			i.times.set(atime, s.Atime)
		}
		if s.Mask&fs.SetMtime != 0 {
			i.times.set(mtime, s.Mtime)
		}
		if err := i.syncTimes(d.fs, s); err != nil {
			return err
		}
	}
	if s.Mask&fs.SetCtime != 0 {
		i.times.set(ctime, s.Ctime)
	}
	return nil
}

// syncTimes copies explicitly set times to the data file, which is where a
// regular file's atime and mtime live once it has data.
func (i *inode) syncTimes(fsys *FS, s *fs.SetStat) error {
	i.dataMu.Lock()
	defer i.dataMu.Unlock()
	ts := [2]unix.Timespec{{Nsec: unix.UTIME_OMIT}, {Nsec: unix.UTIME_OMIT}}
	if s.Mask&fs.SetAtime != 0 {
		ts[0] = s.Atime
	}
	if s.Mask&fs.SetMtime != 0 {
		ts[1] = s.Mtime
	}
	switch {
	case i.data != nil:
		return futimens(i.data, &ts)
	case i.parked:
		return unix.UtimesNanoAt(int(fsys.opts.DataDir.Fd()), i.dataName(), ts[:], 0)
	}
	return nil
}

// dirOf returns the directory data of d, or ENOTDIR.
func (d *dentry) dirOf() (*dirData, error) {
	if d.inode.dir == nil {
		return nil, unix.ENOTDIR
	}
	return d.inode.dir, nil
}

// Lookup implements fs.Dentry.
func (d *dentry) Lookup(name string) (fs.Dentry, error) {
	dir, err := d.dirOf()
	if err != nil {
		return nil, err
	}
	if c, ok := dir.children[name]; ok {
		return c, nil
	}
	return nil, unix.ENOENT
}

// Readlink implements fs.Dentry.
func (d *dentry) Readlink() (string, error) {
	if d.inode.mode&unix.S_IFMT != unix.S_IFLNK {
		return "", unix.EINVAL
	}
	return d.inode.target, nil
}

// Readdir implements fs.Dentry.
func (d *dentry) Readdir(off int64, emit func(fs.DirEntry) bool) error {
	dir, err := d.dirOf()
	if err != nil {
		return err
	}
	for i := dir.find(off); i < len(dir.order); i++ {
		c := dir.order[i].d
		if c == nil {
			continue
		}
		if !emit(fs.DirEntry{Name: c.name, Ino: c.inode.ino, Type: fs.DirentType(c.inode.mode), Off: c.cookie + 1}) {
			return nil
		}
	}
	return nil
}

// touchDir records a change of a directory's entries.
func (d *dentry) touchDir(now unix.Timespec) {
	d.inode.times.set(mtime, now)
	d.inode.times.set(ctime, now)
}

// Create implements fs.Dentry.
func (d *dentry) Create(name string, a *fs.CreateAttrs) (fs.Dentry, error) {
	dir, err := d.dirOf()
	if err != nil {
		return nil, err
	}
	if _, ok := dir.children[name]; ok {
		return nil, unix.EEXIST
	}
	if d.inode.dead.Load() {
		return nil, unix.ENOENT
	}
	f := d.fs
	if !f.reserveIspace(inodeSpace) {
		return nil, unix.ENOSPC
	}
	typ := a.Mode & unix.S_IFMT
	if typ == unix.S_IFLNK && len(a.Target) > shortSymlink {
		if !f.reservePages(1) {
			f.releaseIspace(inodeSpace)
			return nil, unix.ENOSPC
		}
	}
	now := fs.Now()
	ino := f.newInode(a.Mode, a.UID, a.GID, now)
	switch typ {
	case unix.S_IFDIR:
		ino.nlink = 2
		ino.dir = &dirData{children: map[string]*dentry{}}
		d.inode.nlink++
	case unix.S_IFLNK:
		ino.target = a.Target
	case unix.S_IFCHR, unix.S_IFBLK:
		ino.rdev = a.Rdev
	}
	// The name may be a slice of a long path; keep only the name.
	c := &dentry{fs: f, parent: d, name: strings.Clone(name), inode: ino}
	dir.add(c)
	d.touchDir(now)
	return c, nil
}

// Link implements fs.Dentry.
func (d *dentry) Link(name string, target fs.Dentry) (fs.Dentry, error) {
	dir, err := d.dirOf()
	if err != nil {
		return nil, err
	}
	t, ok := target.(*dentry)
	if !ok || t.fs != d.fs {
		return nil, unix.EXDEV
	}
	if _, ok := dir.children[name]; ok {
		return nil, unix.EEXIST
	}
	// Naming an O_TMPFILE file uses the space its inode already has.
	if t.inode.nlink > 0 && !d.fs.reserveIspace(inodeSpace) {
		return nil, unix.ENOSPC
	}
	now := fs.Now()
	t.inode.linkable = false
	t.inode.nlink++
	t.inode.dead.Store(false)
	t.inode.times.set(ctime, now)
	c := &dentry{fs: d.fs, parent: d, name: strings.Clone(name), inode: t.inode}
	dir.add(c)
	d.touchDir(now)
	return c, nil
}

// CreateTmpfile implements fs.TmpfileCreator.
func (d *dentry) CreateTmpfile(a *fs.CreateAttrs, linkable bool) (fs.Dentry, error) {
	if _, err := d.dirOf(); err != nil {
		return nil, err
	}
	if !d.fs.reserveIspace(inodeSpace) {
		return nil, unix.ENOSPC
	}
	ino := d.fs.newInode(a.Mode, a.UID, a.GID, fs.Now())
	ino.nlink = 0
	ino.dead.Store(true)
	ino.linkable = linkable
	// Linux names it "#<ino>" in the directory without entering it there.
	return &dentry{fs: d.fs, parent: d, name: "#" + strconv.FormatUint(ino.ino, 10), inode: ino}, nil
}

// Linkable implements fs.Linkable.
func (d *dentry) Linkable() bool { return d.inode.linkable }

// Unlink implements fs.Dentry.
func (d *dentry) Unlink(name string) error {
	dir, err := d.dirOf()
	if err != nil {
		return err
	}
	c, ok := dir.children[name]
	if !ok {
		return unix.ENOENT
	}
	if c.inode.dir != nil {
		return unix.EISDIR
	}
	now := fs.Now()
	dir.remove(c)
	c.inode.times.set(ctime, now)
	d.fs.dropLink(c.inode)
	d.touchDir(now)
	return nil
}

// Rmdir implements fs.Dentry.
func (d *dentry) Rmdir(name string) error {
	dir, err := d.dirOf()
	if err != nil {
		return err
	}
	c, ok := dir.children[name]
	if !ok {
		return unix.ENOENT
	}
	if c.inode.dir == nil {
		return unix.ENOTDIR
	}
	if len(c.inode.dir.children) != 0 {
		return unix.ENOTEMPTY
	}
	now := fs.Now()
	dir.remove(c)
	c.inode.times.set(ctime, now)
	d.fs.dropDir(c)
	d.inode.nlink--
	d.touchDir(now)
	return nil
}

// dropDir frees a removed directory, unless an open file below it still
// pins it.
func (f *FS) dropDir(d *dentry) {
	i := d.inode
	i.nlink = 0
	i.dead.Store(true)
	if f.pinned(d) {
		f.pinnedDirs[d] = struct{}{}
		return
	}
	i.releaseIfUnused(f)
}

// dropLink removes one link of a non-directory, freeing it with the last
// (or, if it is open, at the last close).
func (f *FS) dropLink(i *inode) {
	i.nlink--
	if i.nlink > 0 {
		f.releaseIspace(inodeSpace)
		return
	}
	i.dead.Store(true)
	i.releaseIfUnused(f)
}

// Rename implements fs.Dentry.
func (d *dentry) Rename(name string, newDir fs.Dentry, newName string, flags uint32, whiteout *fs.CreateAttrs) error {
	odir, err := d.dirOf()
	if err != nil {
		return err
	}
	nd, ok := newDir.(*dentry)
	if !ok || nd.fs != d.fs {
		return unix.EXDEV
	}
	ndir, err := nd.dirOf()
	if err != nil {
		return err
	}
	src, ok := odir.children[name]
	if !ok {
		return unix.ENOENT
	}
	dst := ndir.children[newName]
	now := fs.Now()
	if flags&unix.RENAME_EXCHANGE != 0 {
		if dst == nil {
			return unix.ENOENT
		}
		odir.remove(src)
		ndir.remove(dst)
		src.name, dst.name = strings.Clone(newName), strings.Clone(name)
		src.parent, dst.parent = nd, d
		ndir.add(src)
		odir.add(dst)
		if (src.inode.dir != nil) != (dst.inode.dir != nil) && d != nd {
			if src.inode.dir != nil {
				d.inode.nlink--
				nd.inode.nlink++
			} else {
				d.inode.nlink++
				nd.inode.nlink--
			}
		}
		src.inode.times.set(ctime, now)
		dst.inode.times.set(ctime, now)
		d.touchDir(now)
		nd.touchDir(now)
		return nil
	}
	if dst != nil && dst.inode.dir != nil && len(dst.inode.dir.children) != 0 {
		return unix.ENOTEMPTY
	}
	var wh *dentry
	if whiteout != nil {
		if !d.fs.reserveIspace(inodeSpace) {
			return unix.ENOSPC
		}
		wi := d.fs.newInode(whiteout.Mode, whiteout.UID, whiteout.GID, now)
		wh = &dentry{fs: d.fs, parent: d, name: strings.Clone(name), inode: wi}
	}
	if dst != nil {
		ndir.remove(dst)
		if dst.inode.dir != nil {
			d.fs.dropDir(dst)
			nd.inode.nlink--
		} else {
			d.fs.dropLink(dst.inode)
		}
		dst.inode.times.set(ctime, now)
	}
	odir.remove(src)
	src.name, src.parent = strings.Clone(newName), nd
	ndir.add(src)
	if src.inode.dir != nil && d != nd {
		d.inode.nlink--
		nd.inode.nlink++
	}
	if wh != nil {
		odir.add(wh)
	}
	src.inode.times.set(ctime, now)
	d.touchDir(now)
	nd.touchDir(now)
	return nil
}

// Getxattr implements fs.Dentry.
func (d *dentry) Getxattr(name string) ([]byte, error) {
	if err := xattrSupported(name); err != nil {
		return nil, err
	}
	v, ok := d.inode.xattrs[name]
	if !ok {
		return nil, unix.ENODATA
	}
	return v, nil
}

// Setxattr implements fs.Dentry.
func (d *dentry) Setxattr(name string, value []byte, flags int) error {
	if err := xattrSupported(name); err != nil {
		return err
	}
	// Like Linux's tmpfs, take the space before the other checks.
	space := xattrSpace(name, value)
	if !d.fs.reserveIspace(space) {
		return unix.ENOSPC
	}
	old, ok := d.inode.xattrs[name]
	if ok && flags&unix.XATTR_CREATE != 0 {
		d.fs.releaseIspace(space)
		return unix.EEXIST
	}
	if !ok && flags&unix.XATTR_REPLACE != 0 {
		d.fs.releaseIspace(space)
		return unix.ENODATA
	}
	if ok {
		d.fs.releaseIspace(xattrSpace(name, old))
	}
	if d.inode.xattrs == nil {
		d.inode.xattrs = map[string][]byte{}
	}
	d.inode.xattrs[name] = append([]byte(nil), value...)
	return nil
}

// Listxattr implements fs.Dentry.
func (d *dentry) Listxattr() ([]string, error) {
	names := make([]string, 0, len(d.inode.xattrs))
	for n := range d.inode.xattrs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

// Removexattr implements fs.Dentry.
func (d *dentry) Removexattr(name string) error {
	if err := xattrSupported(name); err != nil {
		return err
	}
	old, ok := d.inode.xattrs[name]
	if !ok {
		return unix.ENODATA
	}
	d.fs.releaseIspace(xattrSpace(name, old))
	delete(d.inode.xattrs, name)
	return nil
}

// xattrSupported accepts the namespaces Linux's tmpfs stores.
func xattrSupported(name string) error {
	for _, p := range []string{"user.", "trusted.", "security."} {
		if name == p {
			return unix.EINVAL
		}
		if len(name) > len(p) && name[:len(p)] == p {
			return nil
		}
	}
	return unix.EOPNOTSUPP
}
