package overlay

import (
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
)

// dentry is a name of the overlay. Its fields are guarded by FS.mu except
// children and list, which lookups and readdirs fill under FS.mu held for
// reading and so guard with cacheMu.
type dentry struct {
	fs     *FS
	parent *dentry
	name   string
	inode  *inode
	isDir  bool
	upper  fs.Dentry   // this name in the upper, nil until created or copied up
	lowers []component // a directory's merged lower directories; a non-directory's lower origin
	dead   bool        // removed from the tree

	cacheMu  sync.Mutex
	children map[string]*dentry
	list     dirList
}

var _ fs.Dentry = (*dentry)(nil)

// top returns the layer dentry that answers for d's attributes and data.
func (d *dentry) top() (component, error) {
	if !d.isDir && d.inode != nil && d.inode.upper != nil {
		return component{d.inode.upper, 0}, nil
	}
	if d.upper != nil {
		return component{d.upper, 0}, nil
	}
	if len(d.lowers) == 0 {
		return component{}, unix.ENOENT
	}
	return d.lowers[0], nil
}

// Parent implements fs.Dentry.
func (d *dentry) Parent() fs.Dentry {
	d.fs.mu.RLock()
	defer d.fs.mu.RUnlock()
	if d.parent == nil {
		return nil
	}
	return d.parent
}

// Stat implements fs.Dentry.
func (d *dentry) Stat() (fs.Stat, error) {
	d.fs.mu.RLock()
	defer d.fs.mu.RUnlock()
	return d.stat()
}

// StatAttrs implements fs.AttrStater with its layers'.
func (d *dentry) StatAttrs() (fs.Stat, error) {
	d.fs.mu.RLock()
	defer d.fs.mu.RUnlock()
	return d.statWith(fs.StatAttrs)
}

func (d *dentry) stat() (fs.Stat, error) { return d.statWith(fs.Dentry.Stat) }

func (d *dentry) statWith(stat func(fs.Dentry) (fs.Stat, error)) (fs.Stat, error) {
	top, err := d.top()
	if err != nil {
		return fs.Stat{}, err
	}
	st, err := stat(top.d)
	if err != nil {
		return fs.Stat{}, err
	}
	switch {
	case d.isDir && d.dead:
		st.Nlink = 0
	case d.isDir && d.upper != nil && len(d.lowers) > 0:
		// A merged directory's subdirectories are spread over layers;
		// like Linux, report 1 ("unknown") rather than a wrong count.
		st.Nlink = 1
	case !d.isDir && top.layer == 0:
		st.Nlink += d.inode.pending
	case !d.isDir:
		st.Nlink = d.inode.pending
	}
	st.Dev, st.Ino = d.fs.dev, d.inode.ino
	return st, nil
}

// SetStat implements fs.Dentry: the change lands on a copy-up.
func (d *dentry) SetStat(s *fs.SetStat) error {
	d.fs.mu.Lock()
	defer d.fs.mu.Unlock()
	// Truncating to zero need not copy the data it drops.
	noData := s.Mask&fs.SetSize != 0 && s.Size == 0
	if err := d.copyUp(noData); err != nil {
		return err
	}
	return d.upperTop().SetStat(s)
}

// upperTop is the upper dentry for d's attributes once d is copied up.
func (d *dentry) upperTop() fs.Dentry {
	if !d.isDir {
		return d.inode.upper
	}
	return d.upper
}

// Lookup implements fs.Dentry.
func (d *dentry) Lookup(name string) (fs.Dentry, error) {
	d.fs.mu.RLock()
	defer d.fs.mu.RUnlock()
	c, err := d.lookup(name)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// lookup returns the cached child called name, resolving it through the
// layers on first use. FS.mu is held.
func (d *dentry) lookup(name string) (*dentry, error) {
	if !d.isDir {
		return nil, unix.ENOTDIR
	}
	if d.dead {
		return nil, unix.ENOENT
	}
	d.cacheMu.Lock()
	c := d.children[name]
	d.cacheMu.Unlock()
	if c != nil {
		return c, nil
	}
	c, err := d.resolve(name)
	if err != nil {
		return nil, err
	}
	d.cacheMu.Lock()
	defer d.cacheMu.Unlock()
	if old := d.children[name]; old != nil {
		return old, nil
	}
	d.cacheLocked(c)
	return c, nil
}

func (d *dentry) cacheLocked(c *dentry) {
	if d.children == nil {
		d.children = map[string]*dentry{}
	}
	d.children[c.name] = c
}

// resolve finds name in the layers: the upper first, then the lowers
// merged under d, stopping at a whiteout, an opaque directory, or a
// non-directory.
func (d *dentry) resolve(name string) (*dentry, error) {
	f := d.fs
	c := &dentry{fs: f, parent: d, name: name}
	var (
		top   component
		topSt fs.Stat
		found bool
	)
	if d.upper != nil {
		u, err := d.upper.Lookup(name)
		switch {
		case err == unix.ENOENT:
		case err != nil:
			return nil, err
		default:
			st, err := u.Stat()
			if err != nil {
				return nil, err
			}
			if st.Type() == unix.S_IFCHR && st.Rdev == 0 {
				return nil, unix.ENOENT
			}
			c.upper, top, topSt, found = u, component{u, 0}, st, true
			if !st.IsDir() || len(d.lowers) == 0 {
				return c.finish(top, &topSt), nil
			}
			if opaque, err := f.isOpaque(top); err != nil {
				return nil, err
			} else if opaque {
				return c.finish(top, &topSt), nil
			}
		}
	}
	// A directory found in a lower is opaque only if that hides something;
	// asking costs a round trip on a gofer lower, so it is asked only when
	// a layer below has the name at all (pending is the unasked one).
	var pending *component
	for _, l := range d.lowers {
		ld, st, wh, err := f.whitedOut(l, name)
		if err != nil {
			return nil, err
		}
		if !wh && ld == nil {
			continue
		}
		if pending != nil {
			if opaque, err := f.isOpaque(*pending); err != nil {
				return nil, err
			} else if opaque {
				break
			}
			pending = nil
		}
		if wh {
			break
		}
		if found && !st.IsDir() {
			break // a non-directory under a directory is hidden
		}
		lc := component{ld, l.layer}
		c.lowers = append(c.lowers, lc)
		if !found {
			top, topSt, found = lc, st, true
			if !st.IsDir() {
				break
			}
		}
		pending = &c.lowers[len(c.lowers)-1]
	}
	if !found {
		return nil, unix.ENOENT
	}
	return c.finish(top, &topSt), nil
}

func (c *dentry) finish(top component, st *fs.Stat) *dentry {
	c.isDir = st.IsDir()
	c.inode = c.fs.inodeFor(top.layer, st)
	if top.layer == 0 && !c.isDir {
		c.fs.inoMu.Lock()
		if c.inode.upper == nil {
			c.inode.upper = top.d
		}
		c.fs.inoMu.Unlock()
	}
	return c
}

// Readlink implements fs.Dentry.
func (d *dentry) Readlink() (string, error) {
	d.fs.mu.RLock()
	defer d.fs.mu.RUnlock()
	top, err := d.top()
	if err != nil {
		return "", err
	}
	return top.d.Readlink()
}

// The overlay's own xattrs (trusted.overlay.*) in a layer are private;
// one a program sets through the overlay is stored escaped as
// trusted.overlay.overlay.*, as Linux (>= 6.7) does, so it cannot forge or
// see the encoding.
const escapedPfx = privatePfx + "overlay."

func escape(name string) string {
	if strings.HasPrefix(name, privatePfx) {
		return escapedPfx + name[len(privatePfx):]
	}
	return name
}

// private reports whether a layer's xattr belongs to the encoding.
func private(name string) bool {
	return strings.HasPrefix(name, privatePfx) && !strings.HasPrefix(name, escapedPfx)
}

// Getxattr implements fs.Dentry.
func (d *dentry) Getxattr(name string) ([]byte, error) {
	d.fs.mu.RLock()
	defer d.fs.mu.RUnlock()
	top, err := d.top()
	if err != nil {
		return nil, err
	}
	return top.d.Getxattr(escape(name))
}

// Listxattr implements fs.Dentry.
func (d *dentry) Listxattr() ([]string, error) {
	d.fs.mu.RLock()
	defer d.fs.mu.RUnlock()
	top, err := d.top()
	if err != nil {
		return nil, err
	}
	names, err := top.d.Listxattr()
	if err != nil {
		return nil, err
	}
	out := names[:0:0]
	for _, n := range names {
		switch {
		case strings.HasPrefix(n, escapedPfx):
			out = append(out, privatePfx+n[len(escapedPfx):])
		case !private(n):
			out = append(out, n)
		}
	}
	return out, nil
}

// Setxattr implements fs.Dentry.
func (d *dentry) Setxattr(name string, value []byte, flags int) error {
	d.fs.mu.Lock()
	defer d.fs.mu.Unlock()
	if err := d.copyUp(false); err != nil {
		return err
	}
	return d.upperTop().Setxattr(escape(name), value, flags)
}

// Removexattr implements fs.Dentry.
func (d *dentry) Removexattr(name string) error {
	d.fs.mu.Lock()
	defer d.fs.mu.Unlock()
	name = escape(name)
	if d.upper == nil {
		// Removing what is not there is no change: no copy-up (Linux).
		top, err := d.top()
		if err != nil {
			return err
		}
		if _, err := top.d.Getxattr(name); err != nil {
			return err
		}
	}
	if err := d.copyUp(false); err != nil {
		return err
	}
	return d.upperTop().Removexattr(name)
}

// Name implements fs.Namer, so paths (exec, getcwd, /proc) need no
// listing of the parent.
func (d *dentry) Name() string { return d.name }
