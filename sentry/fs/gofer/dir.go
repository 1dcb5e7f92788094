package gofer

import (
	"sort"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/p9"
	"runsc.dev/runsc/sentry/fs"
)

// listing is a directory's entries with stable cookies: an entry keeps its
// cookie while it exists, a new entry gets a cookie above every other, so a
// reader resuming after cookie c sees every entry that was there throughout
// exactly once (the fs.Dentry Readdir contract). Cookies 0-2 belong to the
// VFS ("." and "..").
type listing struct {
	ents     []listEnt      // by increasing cookie; removed entries have name ""
	byName   map[string]int // index in ents
	next     int64
	holes    int
	complete bool // every entry of the directory is here (exclusive mode)
}

type listEnt struct {
	name   string
	ino    uint64
	typ    uint8
	cookie int64
}

func newListing() *listing { return &listing{byName: map[string]int{}, next: 3} }

func (l *listing) add(name string, ino uint64, typ uint8) {
	if i, ok := l.byName[name]; ok {
		l.ents[i].ino, l.ents[i].typ = ino, typ
		return
	}
	l.byName[name] = len(l.ents)
	l.ents = append(l.ents, listEnt{name: name, ino: ino, typ: typ, cookie: l.next})
	l.next++
}

func (l *listing) remove(name string) {
	i, ok := l.byName[name]
	if !ok {
		return
	}
	delete(l.byName, name)
	l.ents[i].name = ""
	l.holes++
	if l.holes > 64 && l.holes > len(l.ents)/2 {
		live := l.ents[:0]
		for _, e := range l.ents {
			if e.name != "" {
				l.byName[e.name] = len(live)
				live = append(live, e)
			}
		}
		clear(l.ents[len(live):])
		l.ents, l.holes = live, 0
	}
}

// merge makes the listing match a fresh read of the server's directory,
// keeping the cookies of names still present.
func (l *listing) merge(ents []p9.Dirent) {
	seen := make(map[string]struct{}, len(ents))
	for _, e := range ents {
		seen[e.Name] = struct{}{}
		l.add(e.Name, e.QID.Path, e.Type)
	}
	for name := range l.byName {
		if _, ok := seen[name]; !ok {
			l.remove(name)
		}
	}
	l.complete = true
}

// readAll lists the directory from the server.
func (d *dentry) readAll() ([]p9.Dirent, error) {
	_, fid, err := d.fid.Walk(bg, nil)
	if err != nil {
		return nil, errno(err)
	}
	defer d.fs().clunk(fid)
	if _, _, _, err := fid.Open(bg, p9.ReadOnly); err != nil {
		return nil, errno(err)
	}
	var all []p9.Dirent
	var off uint64
	for {
		ents, err := fid.Readdir(bg, off, 0)
		if err != nil {
			return nil, errno(err)
		}
		if len(ents) == 0 {
			return all, nil
		}
		for _, e := range ents {
			if e.Name != "." && e.Name != ".." {
				all = append(all, e)
			}
		}
		off = ents[len(ents)-1].Offset
	}
}

// readdirBatch is how many entries Readdir copies out under d.mu at a time;
// emit runs unlocked because it may call back into the file system.
const readdirBatch = 128

// Readdir implements fs.Dentry.
func (d *dentry) Readdir(off int64, emit func(fs.DirEntry) bool) error {
	if !d.isDir() {
		return unix.ENOTDIR
	}
	if d.fid == nil {
		return unix.ENOENT
	}
	d.mu.Lock()
	load := d.list == nil || !d.list.complete || (!d.fs().exclusive() && off <= 2)
	d.mu.Unlock()
	if load {
		ents, err := d.readAll()
		if err != nil {
			return err
		}
		d.mu.Lock()
		if d.list == nil {
			d.list = newListing()
		}
		d.list.merge(ents)
		d.mu.Unlock()
	}
	batch := make([]fs.DirEntry, 0, readdirBatch)
	for {
		batch = batch[:0]
		d.mu.Lock()
		ents := d.list.ents
		i := sort.Search(len(ents), func(i int) bool { return ents[i].cookie > off })
		for ; i < len(ents) && len(batch) < readdirBatch; i++ {
			if e := ents[i]; e.name != "" {
				batch = append(batch, fs.DirEntry{Name: e.name, Ino: e.ino, Type: e.typ, Off: e.cookie})
			}
		}
		d.mu.Unlock()
		if len(batch) == 0 {
			return nil
		}
		for _, e := range batch {
			if !emit(e) {
				return nil
			}
			off = e.Off
		}
	}
}

// added records a new name made by this file system.
func (d *dentry) added(name string, c *dentry) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.children == nil {
		d.children = map[string]*dentry{}
	}
	d.children[name] = c
	delete(d.negative, name)
	if d.list != nil {
		d.list.add(name, c.ino.path, fs.DirentType(c.ino.ftype))
	}
}

// removed forgets a name this file system removed and returns its dentry,
// if one was cached.
func (d *dentry) removed(name string) *dentry {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.children[name]
	delete(d.children, name)
	if d.fs().exclusive() {
		if d.negative == nil {
			d.negative = map[string]struct{}{}
		}
		d.negative[name] = struct{}{}
	}
	if d.list != nil {
		d.list.remove(name)
	}
	return c
}

// kill marks c dead after its name went away: it keeps its attributes, with
// one link fewer (none for a directory), for whoever still holds it. A held
// dentry (an open file description refers to it) keeps its fid until its
// last Release, as the inode stays reachable through it on Linux.
func (c *dentry) kill() {
	i := c.ino
	i.mu.Lock()
	if i.ftype == unix.S_IFDIR {
		i.st.Nlink = 0
	} else if i.st.Nlink > 0 {
		i.st.Nlink--
	}
	// Other names of the file fetch the new count; this one keeps st.
	i.valid, i.fresh = false, 0
	i.gen++
	i.mu.Unlock()
	c.dead = true
	c.fs().release(i)
	if c.holds == 0 {
		c.drop()
	}
}

// drop releases a dead dentry's fid, and the inode's cached handle once the
// file has neither a name nor an open file: the host may then free it.
func (c *dentry) drop() {
	if c.fid != nil {
		c.fs().clunk(c.fid)
		c.fid = nil
	}
	c.ino.dropHandleIfGone()
}

// Hold implements fs.Holder.
func (c *dentry) Hold() { c.holds++ }

// Release implements fs.Holder.
func (c *dentry) Release() {
	c.holds--
	switch {
	case c.holds > 0:
	case c.dead:
		c.drop()
	default:
		// Pinned for a change that then failed.
		c.settle()
	}
}

// walkNew walks to a name this file system just made and caches it.
// In exclusive mode it fetches the directory's changed attributes at the
// same time (the VFS stats the directory before every create in it, so
// they are needed soon, and a concurrent request costs no extra latency).
func (d *dentry) walkNew(name string) (*dentry, *p9.Attr, error) {
	var refreshed chan struct{}
	if d.fs().exclusive() {
		refreshed = make(chan struct{})
		go func() {
			defer close(refreshed)
			d.refresh()
		}()
	}
	qids, fid, _, a, err := d.fid.WalkGetAttr(bg, []string{name})
	if refreshed != nil {
		<-refreshed
	}
	if err != nil {
		return nil, nil, errno(err)
	}
	if old := d.removed(name); old != nil {
		// A stale entry (shared mode) must not survive.
		d.fs().release(old.ino)
	}
	c := d.fs().newDentry(d, name, fid, qids[0], &a)
	if c.isDir() && d.fs().exclusive() {
		c.list = newListing()
		c.list.complete = true
	}
	d.added(name, c)
	return c, &a, nil
}

// Create implements fs.Dentry. The server creates files as itself (with
// the gid asked for) and under its own umask, so owner and mode are set
// afterwards when they came out different.
func (d *dentry) Create(name string, ca *fs.CreateAttrs) (fs.Dentry, error) {
	if !d.isDir() {
		return nil, unix.ENOTDIR
	}
	if d.fid == nil {
		return nil, unix.ENOENT
	}
	typ, perm, gid := ca.Mode&unix.S_IFMT, ca.Mode&0o7777, p9.GID(ca.GID)
	var err error
	switch typ {
	case unix.S_IFDIR:
		_, err = d.fid.Mkdir(bg, name, perm, gid)
	case unix.S_IFLNK:
		_, err = d.fid.Symlink(bg, name, ca.Target, gid)
	default:
		_, err = d.fid.Mknod(bg, name, ca.Mode, unix.Major(ca.Rdev), unix.Minor(ca.Rdev), gid)
	}
	d.ino.invalidate()
	if err != nil {
		return nil, errno(err)
	}
	c, a, err := d.walkNew(name)
	if err != nil {
		return nil, err
	}
	// The walked fid serves the fixes below, then goes.
	defer c.settle()
	var fix p9.SetAttrMask
	if uint32(a.UID) != ca.UID {
		fix |= p9.SetAttrUID
	}
	if uint32(a.GID) != ca.GID {
		fix |= p9.SetAttrGID
	}
	if fix != 0 || (typ != unix.S_IFLNK && a.Mode&0o7777 != perm) {
		s := &fs.SetStat{UID: ca.UID, GID: ca.GID, Mode: perm}
		if fix&p9.SetAttrUID != 0 {
			s.Mask |= fs.SetUID
		}
		if fix&p9.SetAttrGID != 0 {
			s.Mask |= fs.SetGID
		}
		if typ != unix.S_IFLNK {
			s.Mask |= fs.SetMode
		}
		if err := c.SetStat(s); err != nil {
			return nil, err
		}
	}
	if typ == unix.S_IFLNK {
		c.target, c.hasTgt = ca.Target, true
	}
	return c, nil
}

// Link implements fs.Dentry.
func (d *dentry) Link(name string, target fs.Dentry) (fs.Dentry, error) {
	t, ok := target.(*dentry)
	if !ok || t.fs() != d.fs() {
		return nil, unix.EXDEV
	}
	if d.fid == nil {
		return nil, unix.ENOENT
	}
	err := t.useFid(func(tfid *p9.Fid) error { return errno(d.fid.Link(bg, tfid, name)) })
	d.ino.invalidate()
	t.ino.invalidate()
	if err != nil {
		return nil, err
	}
	c, _, err := d.walkNew(name)
	if err != nil {
		return nil, err
	}
	c.settle()
	return c, nil
}

func (d *dentry) unlink(name string, flags uint32) error {
	if !d.isDir() {
		return unix.ENOTDIR
	}
	if d.fid == nil {
		return unix.ENOENT
	}
	d.pinHeld(name)
	err := d.fid.UnlinkAt(bg, name, flags)
	d.ino.invalidate()
	if err != nil {
		return errno(err)
	}
	if c := d.removed(name); c != nil {
		c.kill()
	}
	return nil
}

// pinHeld pins the cached child name, if an open file description holds
// it, before a change takes its name away.
func (d *dentry) pinHeld(name string) {
	d.mu.Lock()
	c := d.children[name]
	d.mu.Unlock()
	if c != nil && c.holds > 0 {
		c.pin()
	}
}

// Unlink implements fs.Dentry.
func (d *dentry) Unlink(name string) error { return d.unlink(name, 0) }

// Rmdir implements fs.Dentry.
func (d *dentry) Rmdir(name string) error { return d.unlink(name, p9.RemoveDir) }

// Rename implements fs.Dentry. 9P's Trenameat has no flags, so
// RENAME_EXCHANGE and RENAME_WHITEOUT get EINVAL, as on Linux's 9p.
func (d *dentry) Rename(name string, newDir fs.Dentry, newName string, flags uint32, _ *fs.CreateAttrs) error {
	nd, ok := newDir.(*dentry)
	if !ok || nd.fs() != d.fs() {
		return unix.EXDEV
	}
	if flags != 0 {
		return unix.EINVAL
	}
	if d.fid == nil || nd.fid == nil {
		return unix.ENOENT
	}
	nd.pinHeld(newName)
	err := d.fid.RenameAt(bg, name, nd.fid, newName)
	d.ino.invalidate()
	nd.ino.invalidate()
	if err != nil {
		return errno(err)
	}
	src := d.removed(name)
	if dst := nd.removed(newName); dst != nil && dst != src {
		dst.kill()
	}
	if src != nil {
		src.parent, src.name = nd, newName
		src.ino.invalidate()
		nd.added(newName, src)
		if !d.fs().client.Extended() {
			// A standard server may name files by path (diod does):
			// its fids of the moved file and everything under it now
			// name nothing. Walk them again from their new names.
			src.rewalk()
		}
	} else if nd.list != nil {
		// Not cached: forget the new directory's listing rather than
		// guess the entry.
		nd.mu.Lock()
		nd.list.complete = false
		nd.mu.Unlock()
	}
	return nil
}

// rewalk replaces the fids of d and its cached descendants with fresh walks
// from their parents. A name that cannot be walked any more leaves its
// dentry with the old fid.
func (d *dentry) rewalk() {
	if d.fid == nil || d.parent == nil || d.parent.fid == nil {
		return
	}
	if _, fid, err := d.parent.fid.Walk(bg, []string{d.name}); err == nil {
		d.fs().clunk(d.fid)
		d.fid = fid
	}
	d.mu.Lock()
	kids := make([]*dentry, 0, len(d.children))
	for _, c := range d.children {
		kids = append(kids, c)
	}
	d.mu.Unlock()
	for _, c := range kids {
		c.rewalk()
	}
}
