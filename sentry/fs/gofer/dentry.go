package gofer

import (
	"bytes"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/p9"
	"runsc.dev/runsc/sentry/fs"
)

// inode is the cached state of one server file, shared by its hard links.
type inode struct {
	fs    *FS
	path  uint64 // QID path: the server's inode identity
	ftype uint32 // S_IFMT, fixed for a file's life

	mu    sync.Mutex
	st    fs.Stat // last known attributes, even when invalid
	valid bool
	// fresh (shared mode) is when a Lookup last fetched st: a Stat
	// within freshFor of it (the VFS stats every component it looks up,
	// and the final one again) uses st without a round trip.
	fresh int64
	gen   uint64
	files map[*file]struct{} // open files
	ro    *handle            // cached read-only open, or nil
	// xattrs caches values and ENODATA answers (exclusive mode, while no
	// writable open could make the host drop security.capability).
	xattrs  map[string]xattrEntry
	xlist   []string // cached Listxattr, when hasList
	hasList bool
	writers int // open files that may write

	refs int // live dentries; guarded by FS.mu
}

// dentry is one name of a server file.
type dentry struct {
	ino *inode

	// Changed only under the VFS write lock.
	parent *dentry
	name   string
	// fid: a directory's while it is live; another file's only while
	// pinned (see settle and pin); nil once dead and not held.
	fid   *p9.Fid
	dead  bool // its name went away
	holds int  // fs.Holder references (open file descriptions)

	mu       sync.Mutex
	children map[string]*dentry
	negative map[string]struct{} // exclusive mode: names known not to exist
	list     *listing            // nil until first listed
	target   string              // symlink target, once read
	hasTgt   bool
}

var (
	_ fs.Dentry = (*dentry)(nil)
	_ fs.Namer  = (*dentry)(nil)
)

func (f *FS) toStat(qidPath uint64, a *p9.Attr) fs.Stat {
	return fs.Stat{
		Mode: a.Mode, Nlink: uint32(a.NLink), UID: uint32(a.UID), GID: uint32(a.GID),
		Size: int64(a.Size), Blocks: int64(a.Blocks), Blksize: uint32(a.BlockSize),
		Ino: qidPath, Dev: f.dev, Rdev: a.RDev,
		Atime: unix.Timespec{Sec: int64(a.ATimeSec), Nsec: int64(a.ATimeNsec)},
		Mtime: unix.Timespec{Sec: int64(a.MTimeSec), Nsec: int64(a.MTimeNsec)},
		Ctime: unix.Timespec{Sec: int64(a.CTimeSec), Nsec: int64(a.CTimeNsec)},
		Btime: unix.Timespec{Sec: int64(a.BTimeSec), Nsec: int64(a.BTimeNsec)},
	}
}

// newDentry makes a live dentry for a walked fid, sharing the inode of any
// other live name of the same file.
func (f *FS) newDentry(parent *dentry, name string, fid *p9.Fid, qid p9.QID, a *p9.Attr) *dentry {
	st := f.toStat(qid.Path, a)
	ftype := a.Mode & unix.S_IFMT
	f.mu.Lock()
	i := f.inodes[qid.Path]
	if i == nil || i.ftype != ftype {
		i = &inode{fs: f, path: qid.Path, ftype: ftype}
		f.inodes[qid.Path] = i
	}
	i.refs++
	f.mu.Unlock()
	i.setStat(&st, !f.exclusive())
	return &dentry{ino: i, parent: parent, name: name, fid: fid}
}

// release drops a dentry's reference to its inode.
func (f *FS) release(i *inode) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i.refs--
	if i.refs == 0 && f.inodes[i.path] == i {
		delete(f.inodes, i.path)
	}
}

// freshFor is how long (ns) attributes a shared-mode Lookup fetched stay
// good enough for Stat: long enough to cover the one syscall that did the
// lookup, far shorter than any host-side change could be ordered against.
const freshFor = int64(time.Millisecond)

func (i *inode) setStat(st *fs.Stat, fresh bool) {
	i.mu.Lock()
	i.st, i.valid, i.fresh = *st, true, 0
	if fresh {
		i.fresh = nanotime()
	}
	i.gen++
	i.mu.Unlock()
}

// invalidate drops the cached attributes and xattrs after a change (a
// chown or write may remove security.capability on the host).
func (i *inode) invalidate() {
	i.mu.Lock()
	i.valid, i.fresh = false, 0
	i.gen++
	i.dropXattrsLocked()
	i.mu.Unlock()
}

func nanotime() int64 { return time.Now().UnixNano() }

// hostStatLocked fills st from an open donated fd, if there is one: the
// host inode itself, so it sees native writes. i.mu must be held.
func (i *inode) hostStatLocked(st *fs.Stat) bool {
	for f := range i.files {
		if f.hostFD >= 0 && i.fstat(f.hostFD, st) == nil {
			return true
		}
	}
	return false
}

func (i *inode) fstat(fd int, st *fs.Stat) error {
	var hs unix.Stat_t
	if err := unix.Fstat(fd, &hs); err != nil {
		return err
	}
	*st = fs.Stat{
		Mode: hs.Mode, Nlink: uint32(hs.Nlink), UID: hs.Uid, GID: hs.Gid, Size: hs.Size,
		Blocks: hs.Blocks, Blksize: uint32(hs.Blksize), Ino: i.path, Dev: i.fs.dev, Rdev: hs.Rdev,
		Atime: hs.Atim, Mtime: hs.Mtim, Ctime: hs.Ctim,
	}
	return nil
}

// anyOpenFid returns the fid of an open file of the inode, or nil: what a
// dead dentry still has to reach its file.
func (i *inode) anyOpenFid() *p9.Fid {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.ro != nil {
		return i.ro.fid
	}
	for f := range i.files {
		if f.fid != nil {
			return f.fid
		}
	}
	return nil
}

// newFid returns a fid of the file for the caller to own (and clunk): a
// clone of the dentry's own, or, for an unpinned file, a walk from its
// directory, checked to reach the same file (ESTALE if the host replaced
// it, in shared mode).
func (d *dentry) newFid() (*p9.Fid, error) {
	if d.fid != nil {
		_, fid, err := d.fid.Walk(bg, nil)
		return fid, errno(err)
	}
	if d.dead || d.parent == nil || d.parent.fid == nil {
		return nil, unix.ENOENT
	}
	qids, fid, err := d.parent.fid.Walk(bg, []string{d.name})
	if err != nil {
		return nil, errno(err)
	}
	if qids[0].Path != d.ino.path {
		d.fs().clunk(fid)
		return nil, unix.ESTALE
	}
	return fid, nil
}

// useFid runs op on a fid of the file: the dentry's own, a fresh walk for
// an unpinned file, or, for a dead one, an open file's.
func (d *dentry) useFid(op func(*p9.Fid) error) error {
	if d.fid != nil {
		return op(d.fid)
	}
	if !d.dead {
		fid, err := d.newFid()
		if err != nil {
			return err
		}
		defer d.fs().clunk(fid)
		return op(fid)
	}
	if fid := d.ino.anyOpenFid(); fid != nil {
		return op(fid)
	}
	return unix.ENOENT
}

// settle drops the fid of a new dentry that is not a directory: such files
// are reached by a walk from their directory when needed, so the gofer
// holds an fd per cached directory and open file, not per file ever looked
// up. It runs before the dentry is published, or under the write lock.
func (d *dentry) settle() {
	if !d.isDir() && d.fid != nil && d.holds == 0 {
		d.fs().clunk(d.fid)
		d.fid = nil
	}
}

// pin gives an unpinned file its own fid while its name still reaches it:
// a held file about to lose its name stays reachable through it.
func (d *dentry) pin() {
	if d.fid == nil && !d.dead {
		if fid, err := d.newFid(); err == nil {
			d.fid = fid
		}
	}
}

// Name implements fs.Namer.
func (d *dentry) Name() string { return d.name }

// Parent implements fs.Dentry.
func (d *dentry) Parent() fs.Dentry {
	if d.parent == nil {
		return nil
	}
	return d.parent
}

func (d *dentry) isDir() bool { return d.ino.ftype == unix.S_IFDIR }

// Stat implements fs.Dentry.
func (d *dentry) Stat() (fs.Stat, error) { return d.stat(false) }

// StatAttrs implements fs.AttrStater: the cached attributes while they
// are valid, without the fstat of an open file's host fd.
func (d *dentry) StatAttrs() (fs.Stat, error) { return d.stat(true) }

// stat answers from, in order: the cache if attrsOnly, the host fd of an
// open file, the cache, the server.
func (d *dentry) stat(attrsOnly bool) (fs.Stat, error) {
	i := d.ino
	i.mu.Lock()
	var st fs.Stat
	switch {
	case attrsOnly && d.cachedLocked():
		st = i.st
	case i.hostStatLocked(&st):
	case d.cachedLocked():
		st = i.st
	default:
		i.mu.Unlock()
		return d.refresh()
	}
	i.mu.Unlock()
	return st, nil
}

// cachedLocked reports whether the cached attributes may be used: they are
// valid and either nothing else changes the files or they are fresh, or
// the file is gone. i.mu is held.
func (d *dentry) cachedLocked() bool {
	i := d.ino
	return (i.valid && (d.fs().exclusive() || (i.fresh != 0 && nanotime()-i.fresh < freshFor))) || (d.dead && d.fid == nil)
}

// refresh fetches the attributes from the server and caches them unless
// they were invalidated meanwhile.
func (d *dentry) refresh() (fs.Stat, error) {
	i := d.ino
	i.mu.Lock()
	gen := i.gen
	i.mu.Unlock()
	var qid p9.QID
	var a p9.Attr
	var err error
	if d.fid == nil && !d.dead && d.parent != nil && d.parent.fid != nil {
		// An unpinned file: walk and get attributes in one message.
		var qids []p9.QID
		var fid *p9.Fid
		qids, fid, _, a, err = d.parent.fid.WalkGetAttr(bg, []string{d.name})
		if err != nil {
			return fs.Stat{}, errno(err)
		}
		d.fs().clunk(fid)
		if qid = qids[0]; qid.Path != i.path {
			return fs.Stat{}, unix.ESTALE
		}
	} else {
		err = d.useFid(func(fid *p9.Fid) error {
			var err error
			qid, _, a, err = fid.GetAttr(bg, p9.AttrAll)
			return errno(err)
		})
	}
	if err != nil {
		return fs.Stat{}, err
	}
	st := d.fs().toStat(qid.Path, &a)
	i.mu.Lock()
	if i.gen == gen {
		i.st, i.valid = st, true
		i.gen++
	}
	i.mu.Unlock()
	return st, nil
}

func (d *dentry) fs() *FS { return d.ino.fs }

// SetStat implements fs.Dentry. A change of ctime alone needs no message:
// the server sets ctime itself on every change it makes.
func (d *dentry) SetStat(s *fs.SetStat) error {
	var valid p9.SetAttrMask
	var a p9.SetAttr
	if s.Mask&fs.SetMode != 0 {
		valid |= p9.SetAttrMode
		a.Mode = s.Mode & 0o7777
	}
	if s.Mask&fs.SetUID != 0 {
		valid |= p9.SetAttrUID
		a.UID = p9.UID(s.UID)
	}
	if s.Mask&fs.SetGID != 0 {
		valid |= p9.SetAttrGID
		a.GID = p9.GID(s.GID)
	}
	if s.Mask&fs.SetSize != 0 {
		valid |= p9.SetAttrSize
		a.Size = uint64(s.Size)
	}
	if s.Mask&fs.SetAtime != 0 {
		valid |= p9.SetAttrATime | p9.SetAttrATimeSet
		a.ATimeSec, a.ATimeNsec = uint64(s.Atime.Sec), uint64(s.Atime.Nsec)
	}
	if s.Mask&fs.SetMtime != 0 {
		valid |= p9.SetAttrMTime | p9.SetAttrMTimeSet
		a.MTimeSec, a.MTimeNsec = uint64(s.Mtime.Sec), uint64(s.Mtime.Nsec)
	}
	defer d.ino.invalidate()
	if valid == 0 {
		return nil
	}
	return d.useFid(func(fid *p9.Fid) error {
		// The server applies mode before owner, and a chown clears
		// set-id bits: send an owner change first so the mode sticks.
		if own := valid & (p9.SetAttrUID | p9.SetAttrGID); own != 0 && valid&p9.SetAttrMode != 0 {
			if err := fid.SetAttr(bg, own, a); err != nil {
				return errno(err)
			}
			valid &^= own
		}
		return errno(fid.SetAttr(bg, valid, a))
	})
}

// Lookup implements fs.Dentry.
func (d *dentry) Lookup(name string) (fs.Dentry, error) {
	if !d.isDir() {
		return nil, unix.ENOTDIR
	}
	if d.fid == nil {
		return nil, unix.ENOENT
	}
	excl := d.fs().exclusive()
	if excl {
		d.mu.Lock()
		c := d.children[name]
		_, neg := d.negative[name]
		if !neg && c == nil && d.list != nil && d.list.complete {
			_, present := d.list.byName[name]
			neg = !present
		}
		d.mu.Unlock()
		if c != nil {
			return c, nil
		}
		if neg {
			return nil, unix.ENOENT
		}
	}
	qids, fid, _, a, err := d.fid.WalkGetAttr(bg, []string{name})
	if err != nil {
		err = errno(err)
		if err == unix.ENOENT {
			d.mu.Lock()
			if excl {
				if d.negative == nil {
					d.negative = map[string]struct{}{}
				}
				d.negative[name] = struct{}{}
			} else if c := d.children[name]; c != nil {
				delete(d.children, name)
				d.fs().release(c.ino)
			}
			d.mu.Unlock()
		}
		return nil, err
	}
	qid := qids[0]
	d.mu.Lock()
	defer d.mu.Unlock()
	if c := d.children[name]; c != nil {
		if c.ino.path == qid.Path && c.ino.ftype == a.Mode&unix.S_IFMT {
			st := d.fs().toStat(qid.Path, &a)
			c.ino.setStat(&st, !excl)
			d.fs().clunk(fid)
			return c, nil
		}
		// Replaced behind our back (shared mode): the old dentry stays
		// valid for whoever holds it, but is no longer this name.
		d.fs().release(c.ino)
	}
	c := d.fs().newDentry(d, name, fid, qid, &a)
	c.settle()
	if d.children == nil {
		d.children = map[string]*dentry{}
	}
	d.children[name] = c
	delete(d.negative, name)
	return c, nil
}

// Readlink implements fs.Dentry. A symlink's target never changes, so it is
// cached in both modes.
func (d *dentry) Readlink() (string, error) {
	if d.ino.ftype != unix.S_IFLNK {
		return "", unix.EINVAL
	}
	d.mu.Lock()
	t, ok := d.target, d.hasTgt
	d.mu.Unlock()
	if ok {
		return t, nil
	}
	err := d.useFid(func(fid *p9.Fid) error {
		var err error
		t, err = fid.Readlink(bg)
		return errno(err)
	})
	if err != nil {
		return "", err
	}
	d.mu.Lock()
	d.target, d.hasTgt = t, true
	d.mu.Unlock()
	return t, nil
}

// knownXattr reports whether name is in a namespace Linux's 9p client has
// a handler for; others are EOPNOTSUPP without asking the server.
func knownXattr(name string) bool {
	for _, ns := range []string{"user.", "trusted.", "security.", "system."} {
		if strings.HasPrefix(name, ns) {
			return true
		}
	}
	return false
}

type xattrEntry struct {
	value []byte
	err   error
}

// xattrCacheable reports whether xattr answers may be cached.
func (i *inode) xattrCacheableLocked() bool { return i.fs.exclusive() && i.writers == 0 }

// dropXattrsLocked forgets the cached xattrs. i.mu must be held.
func (i *inode) dropXattrsLocked() {
	i.xattrs, i.xlist, i.hasList = nil, nil, false
}

// Getxattr implements fs.Dentry.
func (d *dentry) Getxattr(name string) ([]byte, error) {
	if !knownXattr(name) {
		return nil, unix.EOPNOTSUPP
	}
	i := d.ino
	i.mu.Lock()
	e, ok := i.xattrs[name]
	i.mu.Unlock()
	if ok {
		return bytes.Clone(e.value), e.err
	}
	var v []byte
	err := d.useFid(func(fid *p9.Fid) error {
		var err error
		v, err = fid.GetXattr(bg, name)
		return errno(err)
	})
	if err == nil || err == unix.ENODATA {
		i.mu.Lock()
		if i.xattrCacheableLocked() {
			if i.xattrs == nil {
				i.xattrs = map[string]xattrEntry{}
			}
			i.xattrs[name] = xattrEntry{bytes.Clone(v), err}
		}
		i.mu.Unlock()
	}
	return v, err
}

// Setxattr implements fs.Dentry.
func (d *dentry) Setxattr(name string, value []byte, flags int) error {
	if !knownXattr(name) {
		return unix.EOPNOTSUPP
	}
	defer d.ino.invalidate()
	return d.useFid(func(fid *p9.Fid) error {
		if len(value) == 0 && uint32(flags) == p9.XattrReplace {
			// On the wire this would be a removal (that is how
			// removexattr is sent): check the replace condition
			// here, and set without it.
			if _, err := fid.GetXattr(bg, name); err != nil {
				return errno(err)
			}
			flags = 0
		}
		return errno(fid.SetXattr(bg, name, value, uint32(flags)))
	})
}

// Listxattr implements fs.Dentry.
func (d *dentry) Listxattr() ([]string, error) {
	i := d.ino
	i.mu.Lock()
	names, ok := i.xlist, i.hasList
	i.mu.Unlock()
	if ok {
		return slices.Clone(names), nil
	}
	err := d.useFid(func(fid *p9.Fid) error {
		var err error
		names, err = fid.ListXattr(bg)
		return errno(err)
	})
	if err != nil {
		return nil, err
	}
	i.mu.Lock()
	if i.xattrCacheableLocked() {
		i.xlist, i.hasList = slices.Clone(names), true
	}
	i.mu.Unlock()
	return names, nil
}

// Removexattr implements fs.Dentry.
func (d *dentry) Removexattr(name string) error {
	if !knownXattr(name) {
		return unix.EOPNOTSUPP
	}
	defer d.ino.invalidate()
	return d.useFid(func(fid *p9.Fid) error { return errno(fid.RemoveXattr(bg, name)) })
}
