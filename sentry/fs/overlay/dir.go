package overlay

import (
	"sort"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
)

// dirList is a directory's readdir state. Every name gets a cookie when it
// first appears and keeps it while it exists, so offsets stay valid while
// the directory changes; ents is the merged listing in cookie order,
// rebuilt after a change.
type dirList struct {
	valid  bool
	next   int64
	cookie map[string]int64
	ents   []fs.DirEntry
}

// invalidate marks d's listing stale after its entries changed.
func (d *dentry) invalidate() {
	d.cacheMu.Lock()
	d.list.valid = false
	d.cacheMu.Unlock()
}

// Readdir implements fs.Dentry.
func (d *dentry) Readdir(off int64, emit func(fs.DirEntry) bool) error {
	d.fs.mu.RLock()
	defer d.fs.mu.RUnlock()
	if !d.isDir {
		return unix.ENOTDIR
	}
	d.cacheMu.Lock()
	defer d.cacheMu.Unlock()
	if !d.list.valid {
		ents, err := d.merged()
		if err != nil {
			return err
		}
		d.list.refresh(ents)
	}
	ents := d.list.ents
	for i := sort.Search(len(ents), func(i int) bool { return ents[i].Off > off }); i < len(ents); i++ {
		if !emit(ents[i]) {
			return nil
		}
	}
	return nil
}

func (l *dirList) refresh(ents []fs.DirEntry) {
	if l.cookie == nil {
		l.cookie, l.next = map[string]int64{}, 2
	}
	live := make(map[string]struct{}, len(ents))
	for i := range ents {
		e := &ents[i]
		live[e.Name] = struct{}{}
		c, ok := l.cookie[e.Name]
		if !ok {
			c = l.next
			l.next++
			l.cookie[e.Name] = c
		}
		e.Off = c + 1
	}
	for n := range l.cookie {
		if _, ok := live[n]; !ok {
			delete(l.cookie, n)
		}
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].Off < ents[j].Off })
	l.ents, l.valid = ents, true
}

// merged lists d's entries: each visible name once, from the topmost layer
// holding it, without whiteouts or the encodings' private names.
func (d *dentry) merged() ([]fs.DirEntry, error) {
	f := d.fs
	layers := d.lowers
	if d.upper != nil {
		layers = append([]component{{d.upper, 0}}, d.lowers...)
	}
	seen := map[string]struct{}{}
	var out []fs.DirEntry
	for _, c := range layers {
		var ents []fs.DirEntry
		if err := c.d.Readdir(2, func(e fs.DirEntry) bool { ents = append(ents, e); return true }); err != nil {
			return nil, err
		}
		oci := f.format(c.layer) == FormatOCI
		var whs []string
		for _, e := range ents {
			if _, ok := seen[e.Name]; ok {
				continue
			}
			if oci && f.hidden(c.layer, e.Name) {
				if e.Name != ociOpaque {
					whs = append(whs, e.Name[len(ociWhPrefix):])
				}
				continue
			}
			seen[e.Name] = struct{}{}
			if !oci && e.Type == unix.DT_CHR {
				ld, err := c.d.Lookup(e.Name)
				if err != nil {
					return nil, err
				}
				if wh, err := isWhiteout(ld); err != nil {
					return nil, err
				} else if wh {
					continue
				}
			}
			out = append(out, fs.DirEntry{Name: e.Name, Ino: f.inoOf(c.layer, e.Ino), Type: e.Type})
		}
		for _, n := range whs {
			seen[n] = struct{}{}
		}
	}
	return out, nil
}

// empty reports whether d's merged listing is empty.
func (d *dentry) empty() (bool, error) {
	ents, err := d.merged()
	return len(ents) == 0, err
}

// lowerHas reports whether a lower shows name in d, so removing it from
// the overlay needs a whiteout.
func (d *dentry) lowerHas(name string) (bool, error) {
	for _, l := range d.lowers {
		ld, _, wh, err := d.fs.whitedOut(l, name)
		if err != nil || wh {
			return false, err
		}
		if ld != nil {
			return true, nil
		}
	}
	return false, nil
}

// A whiteout is owned by root (the overlay's mounter). Linux makes the one
// an unlink leaves in its work directory and moves it in, so it is
// root:root; the one a rename leaves is made by the upper in the old
// directory (RENAME_WHITEOUT), so it takes the directory's group when that
// is set-group-ID (inode_init_owner). Ours match, so uppers are identical.
var whiteoutAttrs = fs.CreateAttrs{Mode: unix.S_IFCHR}

// renameWhiteoutAttrs describes the whiteout a rename leaves in d.
func (d *dentry) renameWhiteoutAttrs() (*fs.CreateAttrs, error) {
	st, err := d.upper.Stat()
	if err != nil {
		return nil, err
	}
	a := &fs.CreateAttrs{Mode: unix.S_IFCHR}
	if st.Mode&unix.S_ISGID != 0 {
		a.GID = st.GID
	}
	return a, nil
}

// prepare checks that d is a live directory of a writable overlay and
// gives it an upper copy, for a change of its entries.
func (d *dentry) prepare() error {
	if d.fs.upper == nil {
		return unix.EROFS
	}
	if !d.isDir {
		return unix.ENOTDIR
	}
	if d.dead {
		return unix.ENOENT
	}
	return d.copyUp(false)
}

// takeWhiteout removes a whiteout called name from d's upper, reporting
// whether there was one.
func (d *dentry) takeWhiteout(name string) (bool, error) {
	u, err := d.upper.Lookup(name)
	if err == unix.ENOENT {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if wh, err := isWhiteout(u); err != nil || !wh {
		return false, err
	}
	return true, d.upper.Unlink(name)
}

// absent returns ENOENT if name is free in d, EEXIST if it is taken.
func (d *dentry) absent(name string) error {
	_, err := d.lookup(name)
	switch err {
	case nil:
		return unix.EEXIST
	case unix.ENOENT:
		return nil
	}
	return err
}

// Create implements fs.Dentry. A directory made where a whiteout was is
// opaque, so the lower one it replaces stays hidden. A char 0/0 node cannot
// be made: in the upper it would be a whiteout.
func (d *dentry) Create(name string, a *fs.CreateAttrs) (fs.Dentry, error) {
	if a.Mode&unix.S_IFMT == unix.S_IFCHR && a.Rdev == 0 {
		return nil, unix.EPERM // it would be a whiteout (Linux refuses too)
	}
	f := d.fs
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := d.prepare(); err != nil {
		return nil, err
	}
	if err := d.absent(name); err != nil {
		return nil, err
	}
	replaced, err := d.takeWhiteout(name)
	if err != nil {
		return nil, err
	}
	u, err := d.upper.Create(name, a)
	if err != nil {
		return nil, err
	}
	isDir := a.Mode&unix.S_IFMT == unix.S_IFDIR
	if isDir && replaced {
		if err := u.Setxattr(opaqueXattr, []byte("y"), 0); err != nil {
			d.upper.Rmdir(name)
			return nil, err
		}
	}
	return d.add(name, u)
}

// add caches a new child whose only layer is the upper dentry u.
func (d *dentry) add(name string, u fs.Dentry) (*dentry, error) {
	st, err := u.Stat()
	if err != nil {
		return nil, err
	}
	c := &dentry{fs: d.fs, parent: d, name: name, upper: u}
	c.finish(component{u, 0}, &st)
	d.cacheMu.Lock()
	d.cacheLocked(c)
	d.list.valid = false
	d.cacheMu.Unlock()
	return c, nil
}

// Link implements fs.Dentry: the target is copied up and linked there, so
// the new name shares its inode.
func (d *dentry) Link(name string, target fs.Dentry) (fs.Dentry, error) {
	f := d.fs
	t, ok := target.(*dentry)
	if !ok || t.fs != f {
		return nil, unix.EXDEV
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := d.prepare(); err != nil {
		return nil, err
	}
	if err := d.absent(name); err != nil {
		return nil, err
	}
	if err := t.copyUp(false); err != nil {
		return nil, err
	}
	if _, err := d.takeWhiteout(name); err != nil {
		return nil, err
	}
	u, err := d.upper.Link(name, t.inode.upper)
	if err != nil {
		return nil, err
	}
	c := &dentry{fs: f, parent: d, name: name, upper: u, inode: t.inode}
	d.cacheMu.Lock()
	d.cacheLocked(c)
	d.list.valid = false
	d.cacheMu.Unlock()
	return c, nil
}

// forget drops child c from d's cache after it was removed.
func (d *dentry) forget(c *dentry) {
	d.cacheMu.Lock()
	if d.children[c.name] == c {
		delete(d.children, c.name)
	}
	d.list.valid = false
	d.cacheMu.Unlock()
}

// Unlink implements fs.Dentry.
func (d *dentry) Unlink(name string) error {
	f := d.fs
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := d.lookup(name)
	if err != nil {
		return err
	}
	if c.isDir {
		return unix.EISDIR
	}
	return d.remove(c)
}

// remove takes c's name out of d: the upper name goes, and a whiteout
// hides any lower one.
func (d *dentry) remove(c *dentry) error {
	if err := d.prepare(); err != nil {
		return err
	}
	lower, err := d.lowerHas(c.name)
	if err != nil {
		return err
	}
	if c.upper != nil {
		if c.isDir {
			if err := c.clearWhiteouts(); err != nil {
				return err
			}
			err = d.upper.Rmdir(c.name)
		} else {
			err = d.upper.Unlink(c.name)
		}
		if err != nil {
			return err
		}
	} else if !c.isDir {
		c.inode.dropPending()
	}
	if lower {
		if _, err := d.upper.Create(c.name, &whiteoutAttrs); err != nil {
			return err
		}
	}
	c.dead = true
	d.forget(c)
	return nil
}

// Rmdir implements fs.Dentry. A merged directory whose upper holds only
// whiteouts and whose lower entries are all whited out is empty: its
// whiteouts are removed with it (where Linux can fail, seed 000).
func (d *dentry) Rmdir(name string) error {
	f := d.fs
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := d.lookup(name)
	if err != nil {
		return err
	}
	if !c.isDir {
		return unix.ENOTDIR
	}
	if empty, err := c.empty(); err != nil {
		return err
	} else if !empty {
		return unix.ENOTEMPTY
	}
	return d.remove(c)
}

// Rename implements fs.Dentry. Unlike Linux, a directory with lower parts
// moves too: its tree is copied up whole first (copyUpTree).
func (d *dentry) Rename(name string, newDir fs.Dentry, newName string, flags uint32, whiteout *fs.CreateAttrs) error {
	f := d.fs
	nd, ok := newDir.(*dentry)
	if !ok || nd.fs != f {
		return unix.EXDEV
	}
	if flags&unix.RENAME_WHITEOUT != 0 {
		return unix.EINVAL // as overlayfs: its whiteouts are its own
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := d.prepare(); err != nil {
		return err
	}
	if err := nd.prepare(); err != nil {
		return err
	}
	src, err := d.lookup(name)
	if err != nil {
		return err
	}
	dst, err := nd.lookup(newName)
	if err != nil && err != unix.ENOENT {
		return err
	}
	exchange := flags&unix.RENAME_EXCHANGE != 0
	if exchange && dst == nil {
		return unix.ENOENT
	}
	oldLower, err := d.lowerHas(name)
	if err != nil {
		return err
	}
	newLower, err := nd.lowerHas(newName)
	if err != nil {
		return err
	}
	srcWhole, err := src.prepareMove()
	if err != nil {
		return err
	}
	dstWhole := false
	if exchange {
		if dstWhole, err = dst.prepareMove(); err != nil {
			return err
		}
	} else if dst != nil && dst.isDir && dst.upper != nil {
		if err := dst.clearWhiteouts(); err != nil {
			return err
		}
	}
	var uflags uint32
	var wh *fs.CreateAttrs
	switch {
	case exchange:
		uflags = unix.RENAME_EXCHANGE
	case oldLower && srcWhole:
		// Where Linux refuses the move, a program moves the entries
		// and removes the directory, which leaves an unlink's whiteout.
		uflags, wh = unix.RENAME_WHITEOUT, &whiteoutAttrs
	case oldLower:
		uflags = unix.RENAME_WHITEOUT
		if wh, err = d.renameWhiteoutAttrs(); err != nil {
			return err
		}
	}
	if !exchange && dst != nil && dst.upper == nil && !dst.isDir {
		dst.inode.dropPending()
	}
	if err := d.upper.Rename(name, nd.upper, newName, uflags, wh); err != nil {
		return err
	}
	d.forget(src)
	if dst != nil {
		nd.forget(dst)
	}
	src.parent, src.name = nd, newName
	if src.upper, err = nd.upper.Lookup(newName); err != nil {
		return err
	}
	nd.cacheMu.Lock()
	nd.cacheLocked(src)
	nd.list.valid = false
	nd.cacheMu.Unlock()
	if exchange {
		dst.parent, dst.name = d, name
		if dst.upper, err = d.upper.Lookup(name); err != nil {
			return err
		}
		d.cacheMu.Lock()
		d.cacheLocked(dst)
		d.list.valid = false
		d.cacheMu.Unlock()
	} else if dst != nil {
		dst.dead = true
	}
	if src.isDir {
		if err := src.markMoved(srcWhole, newLower, nd); err != nil {
			return err
		}
	}
	if exchange && dst.isDir {
		return dst.markMoved(dstWhole, oldLower, d)
	}
	return nil
}

// prepareMove copies up what is about to be renamed; a directory with
// lower parts is copied up whole (reported as whole).
func (d *dentry) prepareMove() (bool, error) {
	if d.isDir && len(d.lowers) > 0 {
		return true, d.copyUpTree()
	}
	return false, d.copyUp(false)
}

// markMoved makes a directory that moved into newParent opaque where
// lowers could otherwise merge into it. A directory copied up whole needs
// it only where a lower has its new name; one that was upper-only already
// gets it whenever its new parent is merged, as Linux does.
func (d *dentry) markMoved(whole, lowerHasName bool, newParent *dentry) error {
	need := lowerHasName
	if !whole {
		need = len(newParent.lowers) > 0
		if opaque, err := d.fs.isOpaque(component{d.upper, 0}); err != nil || opaque {
			return err
		}
	}
	if !need {
		return nil
	}
	return d.upper.Setxattr(opaqueXattr, []byte("y"), 0)
}
