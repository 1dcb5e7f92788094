package fs

import (
	"strings"

	"golang.org/x/sys/unix"
)

// resolveOpts says how to resolve a path (openat2's RESOLVE_* plus the
// AT_* and O_* flags that affect the walk).
type resolveOpts struct {
	follow    bool   // follow a symlink in the final component
	emptyPath bool   // AT_EMPTY_PATH: "" names the starting point
	resolve   uint64 // RESOLVE_* flags
}

// walker resolves one path for one caller. It keeps the symlink count across
// the nested walks of symlink targets.
type walker struct {
	v       *VFS
	ctx     *Context
	root    Loc
	links   int
	resolve uint64
}

// lastKind classifies the final component of a path, as Linux's LAST_*.
type lastKind int

const (
	lastNorm lastKind = iota
	lastDot
	lastDotDot
	lastRoot
)

func (v *VFS) newWalker(ctx *Context, at Loc, o resolveOpts) *walker {
	w := &walker{v: v, ctx: ctx, root: ctx.Root, resolve: o.resolve}
	if o.resolve&(unix.RESOLVE_BENEATH|unix.RESOLVE_IN_ROOT) != 0 {
		w.root = at
	}
	return w
}

func checkPath(path string, emptyOK bool) error {
	if len(path) >= PathMax {
		return unix.ENAMETOOLONG
	}
	if path == "" && !emptyOK {
		return unix.ENOENT
	}
	return nil
}

// resolve returns the location path names, starting at at for relative paths.
func (v *VFS) resolve(ctx *Context, at Loc, path string, o resolveOpts) (Loc, error) {
	if err := checkPath(path, o.emptyPath); err != nil {
		return Loc{}, err
	}
	if path == "" {
		return at, nil
	}
	w := v.newWalker(ctx, at, o)
	return w.walk(at, path, o.follow, false)
}

// resolveParent walks all but the final component of path and returns the
// directory holding it, its name, and whether the path ended in a slash.
func (v *VFS) resolveParent(ctx *Context, at Loc, path string, o resolveOpts) (*walker, Loc, string, lastKind, bool, error) {
	if err := checkPath(path, false); err != nil {
		return nil, Loc{}, "", 0, false, err
	}
	w := v.newWalker(ctx, at, o)
	dir, last, kind, trailing, err := w.walkParent(at, path)
	return w, dir, last, kind, trailing, err
}

// walk resolves path from dir. followFinal follows a final symlink; mustDir
// requires the result to be a directory (a trailing slash somewhere up the
// chain of symlinks).
func (w *walker) walk(dir Loc, path string, followFinal, mustDir bool) (Loc, error) {
	parent, last, kind, trailing, err := w.walkParent(dir, path)
	if err != nil {
		return Loc{}, err
	}
	mustDir = mustDir || trailing
	var loc Loc
	switch kind {
	case lastRoot, lastDot:
		loc = parent
	case lastDotDot:
		if loc, err = w.dotdot(parent); err != nil {
			return Loc{}, err
		}
	default:
		child, st, err := w.step(parent, last)
		if err != nil {
			return Loc{}, err
		}
		if st.Type() == unix.S_IFLNK && (followFinal || mustDir) {
			return w.followLink(parent, child, true, mustDir)
		}
		loc = child
		if mustDir && !st.IsDir() {
			return Loc{}, unix.ENOTDIR
		}
		return loc, nil
	}
	if mustDir {
		st, err := w.v.attrs(loc)
		if err != nil {
			return Loc{}, err
		}
		if !st.IsDir() {
			return Loc{}, unix.ENOTDIR
		}
	}
	return loc, nil
}

// walkParent walks every component of path but the last from dir.
func (w *walker) walkParent(dir Loc, path string) (Loc, string, lastKind, bool, error) {
	if path[0] == '/' {
		var err error
		if dir, err = w.jumpRoot(dir); err != nil {
			return Loc{}, "", 0, false, err
		}
	}
	trailing := strings.HasSuffix(path, "/")
	for {
		path = strings.TrimLeft(path, "/")
		if path == "" {
			return dir, "", lastRoot, false, nil
		}
		name, rest, more := strings.Cut(path, "/")
		more = more && strings.TrimLeft(rest, "/") != ""
		if err := w.mayLookup(dir); err != nil {
			return Loc{}, "", 0, false, err
		}
		if !more {
			switch name {
			case ".":
				return dir, name, lastDot, trailing, nil
			case "..":
				return dir, name, lastDotDot, trailing, nil
			}
			return dir, name, lastNorm, trailing, nil
		}
		next, err := w.component(dir, name)
		if err != nil {
			return Loc{}, "", 0, false, err
		}
		dir, path = next, rest
	}
}

// component walks one intermediate component (following symlinks) and checks
// that the result is a directory.
func (w *walker) component(dir Loc, name string) (Loc, error) {
	var next Loc
	switch name {
	case ".":
		next = dir
	case "..":
		var err error
		if next, err = w.dotdot(dir); err != nil {
			return Loc{}, err
		}
	default:
		child, st, err := w.step(dir, name)
		if err != nil {
			return Loc{}, err
		}
		if st.Type() == unix.S_IFLNK {
			return w.followLink(dir, child, true, true)
		}
		if !st.IsDir() {
			return Loc{}, unix.ENOTDIR
		}
		return child, nil
	}
	return next, nil
}

// mayLookup checks that dir is a directory the caller may search.
func (w *walker) mayLookup(dir Loc) error {
	st, err := w.v.attrs(dir)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return unix.ENOTDIR
	}
	return permission(w.ctx.Creds, &st, mayExec)
}

// step looks name up in dir and crosses any mount on the result.
func (w *walker) step(dir Loc, name string) (Loc, Stat, error) {
	if len(name) > NameMax {
		// Linux does not look in a removed directory at all.
		if dst, err := w.v.stat(dir); err == nil && dst.Nlink == 0 {
			return Loc{}, Stat{}, unix.ENOENT
		}
		return Loc{}, Stat{}, unix.ENAMETOOLONG
	}
	st := dir.Mount.st
	st.mu.RLock()
	child, err := dir.Dentry.Lookup(name)
	var cst Stat
	if err == nil {
		cst, err = StatAttrs(child)
	}
	st.mu.RUnlock()
	if err != nil {
		return Loc{}, Stat{}, err
	}
	loc := Loc{dir.Mount, child}
	if top := w.v.mountedAt(loc.Mount, loc.Dentry); top != nil {
		if loc, err = w.crossDown(loc); err != nil {
			return Loc{}, Stat{}, err
		}
		if cst, err = w.v.attrs(loc); err != nil {
			return Loc{}, Stat{}, err
		}
	}
	return loc, cst, nil
}

// crossDown moves from a mount point to the root of the top mount on it.
func (w *walker) crossDown(loc Loc) (Loc, error) {
	for {
		top := w.v.mountedAt(loc.Mount, loc.Dentry)
		if top == nil {
			return loc, nil
		}
		if w.resolve&unix.RESOLVE_NO_XDEV != 0 {
			return Loc{}, unix.EXDEV
		}
		loc = top.Root()
	}
}

// dotdot returns the parent of dir, never going above the walk's root and
// moving up through mount points.
func (w *walker) dotdot(dir Loc) (Loc, error) {
	for {
		if dir == w.root {
			if w.resolve&unix.RESOLVE_BENEATH != 0 {
				return Loc{}, unix.EXDEV
			}
			return dir, nil
		}
		if dir.Dentry != dir.Mount.root {
			break
		}
		w.v.mountMu.RLock()
		parent, point := dir.Mount.parent, dir.Mount.point
		w.v.mountMu.RUnlock()
		if parent == nil {
			return dir, nil
		}
		if w.resolve&unix.RESOLVE_NO_XDEV != 0 {
			return Loc{}, unix.EXDEV
		}
		dir = Loc{parent, point}
	}
	dir.Mount.st.mu.RLock()
	p := dir.Dentry.Parent()
	dir.Mount.st.mu.RUnlock()
	if p == nil {
		return dir, nil
	}
	return w.crossDown(Loc{dir.Mount, p})
}

// jumpRoot moves to the walk's root for an absolute path or symlink.
func (w *walker) jumpRoot(from Loc) (Loc, error) {
	if w.resolve&unix.RESOLVE_BENEATH != 0 {
		return Loc{}, unix.EXDEV
	}
	if w.resolve&unix.RESOLVE_NO_XDEV != 0 && w.root.Mount != from.Mount {
		return Loc{}, unix.EXDEV
	}
	return w.root, nil
}

// followLink resolves the symlink link, found in dir, to what it names.
func (w *walker) followLink(dir, link Loc, followFinal, mustDir bool) (Loc, error) {
	if w.resolve&unix.RESOLVE_NO_SYMLINKS != 0 {
		return Loc{}, unix.ELOOP
	}
	w.links++
	if w.links > maxSymlink {
		return Loc{}, unix.ELOOP
	}
	if err := w.mayFollow(dir, link); err != nil {
		return Loc{}, err
	}
	if m, ok := link.Dentry.(MagicLink); ok {
		if w.resolve&unix.RESOLVE_NO_MAGICLINKS != 0 {
			return Loc{}, unix.ELOOP
		}
		loc, err := m.Resolve()
		if err != nil {
			return Loc{}, err
		}
		if mustDir {
			if st, err := w.v.stat(loc); err != nil || !st.IsDir() {
				return Loc{}, unix.ENOTDIR
			}
		}
		return loc, nil
	}
	link.Mount.st.mu.RLock()
	target, err := link.Dentry.Readlink()
	link.Mount.st.mu.RUnlock()
	if err != nil {
		return Loc{}, err
	}
	if target == "" {
		return Loc{}, unix.ENOENT
	}
	return w.walk(dir, target, followFinal, mustDir)
}

// MagicLink is implemented by symlinks whose target is not a path but an
// object (/proc/self/fd/N): following one jumps to the object itself, and
// openat2's RESOLVE_NO_MAGICLINKS refuses them.
type MagicLink interface {
	Dentry
	Resolve() (Loc, error)
}

// stat returns the attributes of loc's dentry.
func (v *VFS) stat(loc Loc) (Stat, error) {
	loc.Mount.st.mu.RLock()
	st, err := loc.Dentry.Stat()
	loc.Mount.st.mu.RUnlock()
	return st, err
}

// attrs is stat without the size and times (AttrStater).
func (v *VFS) attrs(loc Loc) (Stat, error) {
	loc.Mount.st.mu.RLock()
	st, err := StatAttrs(loc.Dentry)
	loc.Mount.st.mu.RUnlock()
	return st, err
}
