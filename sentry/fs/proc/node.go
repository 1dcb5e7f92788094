package proc

import (
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
)

// This file is a small kit of synthetic inodes (directories with generated
// entries, files whose content is made at open, symlinks and magic links)
// that proc and sys build their trees from.

// Tree is one synthetic file system instance: it numbers inodes and gives
// them a device.
type Tree struct {
	typ     string
	magic   int64
	dev     uint64
	nextIno atomic.Uint64
	root    *Dir
	boot    unix.Timespec
}

// NewTree makes a file system of type typ (shown in /proc/mounts) with
// statfs magic.
func NewTree(typ string, magic int64) *Tree {
	return &Tree{typ: typ, magic: magic, dev: fs.NewAnonDev(), boot: fs.Now()}
}

// SetRoot sets the directory mounts of the tree show.
func (t *Tree) SetRoot(d *Dir) { t.root = d }

// Root implements fs.Filesystem.
func (t *Tree) Root() fs.Dentry { return t.root }

// Type implements fs.Filesystem.
func (t *Tree) Type() string { return t.typ }

// StatFS implements fs.Filesystem.
func (t *Tree) StatFS() (fs.Statfs, error) {
	return fs.Statfs{Type: t.magic, Bsize: 4096, Frsize: 4096, Namelen: fs.NameMax}, nil
}

// Attrs are an inode's owner and permission bits, possibly computed per
// call (a /proc/<pid> entry belongs to the process's owner).
type Attrs func() (uid, gid uint32, mode uint32)

// Static returns fixed root-owned attributes.
func Static(mode uint32) Attrs { return func() (uint32, uint32, uint32) { return 0, 0, mode } }

// node is what every synthetic inode shares.
type node struct {
	tree   *Tree
	parent fs.Dentry
	name   string
	ino    uint64
	typ    uint32 // S_IFMT
	attrs  Attrs
}

func (t *Tree) node(parent fs.Dentry, name string, typ uint32, a Attrs) node {
	return node{tree: t, parent: parent, name: name, ino: t.nextIno.Add(1), typ: typ, attrs: a}
}

func (n *node) Parent() fs.Dentry { return n.parent }

// Name implements fs.Namer.
func (n *node) Name() string { return n.name }

func (n *node) Stat() (fs.Stat, error) {
	uid, gid, mode := n.attrs()
	st := fs.Stat{
		Mode: n.typ | mode&0o7777, Nlink: 1, UID: uid, GID: gid, Ino: n.ino, Dev: n.tree.dev,
		Blksize: 1024, Atime: n.tree.boot, Mtime: n.tree.boot, Ctime: n.tree.boot,
	}
	if n.typ == unix.S_IFDIR {
		st.Nlink = 2
	}
	return st, nil
}

// SetStat refuses changes, but lets O_TRUNC's size change through so that
// "echo x > file" works on writable files.
func (n *node) SetStat(s *fs.SetStat) error {
	if s.Mask&^(fs.SetSize|fs.SetAtime|fs.SetMtime|fs.SetCtime) == 0 && n.typ == unix.S_IFREG {
		return nil
	}
	return unix.EPERM
}

func (n *node) Lookup(string) (fs.Dentry, error) { return nil, unix.ENOTDIR }
func (n *node) Readlink() (string, error)        { return "", unix.EINVAL }
func (n *node) Readdir(int64, func(fs.DirEntry) bool) error {
	return unix.ENOTDIR
}
func (n *node) Create(string, *fs.CreateAttrs) (fs.Dentry, error) { return nil, n.noDirOp() }
func (n *node) Link(string, fs.Dentry) (fs.Dentry, error)         { return nil, n.noDirOp() }
func (n *node) Unlink(string) error                               { return n.noDirOp() }
func (n *node) Rmdir(string) error                                { return n.noDirOp() }
func (n *node) Rename(string, fs.Dentry, string, uint32, *fs.CreateAttrs) error {
	return n.noDirOp()
}
func (n *node) Open(int) (fs.File, error)          { return nil, nil }
func (n *node) Getxattr(string) ([]byte, error)    { return nil, unix.EOPNOTSUPP }
func (n *node) Setxattr(string, []byte, int) error { return unix.EOPNOTSUPP }
func (n *node) Listxattr() ([]string, error)       { return nil, nil }
func (n *node) Removexattr(string) error           { return unix.EOPNOTSUPP }
func (n *node) noDirOp() error {
	if n.typ != unix.S_IFDIR {
		return unix.ENOTDIR
	}
	// Linux's vfs_mkdir and friends when the inode has no such operation.
	return unix.EPERM
}

// Entry is one name a directory lists. Cookie orders the listing and must
// stay the same for the same name while the directory lives, so a listing
// that runs while entries come and go returns each survivor once.
type Entry struct {
	Name   string
	Cookie int64
}

// DirOps generate a directory's contents.
type DirOps struct {
	// List returns the entries, in any order.
	List func() ([]Entry, error)
	// Make returns the child called name, or ENOENT. It is called once per
	// name while Valid says the child still exists.
	Make func(d *Dir, name string) (fs.Dentry, error)
	// Valid reports whether a child made earlier still exists; nil means
	// children never go away.
	Valid func(name string) bool
}

// Dir is a synthetic directory. Its children are made on first lookup and
// kept, so that a name keeps its dentry (fs.PathOf compares them).
type Dir struct {
	node
	ops DirOps

	mu       sync.Mutex
	children map[string]fs.Dentry
	// sweepAt is the cache size at which children that are gone (exited
	// processes, closed fds) are dropped.
	sweepAt int
}

// minSweep is the smallest cache a directory sweeps.
const minSweep = 64

// NewDir makes a directory.
func (t *Tree) NewDir(parent fs.Dentry, name string, a Attrs, ops DirOps) *Dir {
	return &Dir{node: t.node(parent, name, unix.S_IFDIR, a), ops: ops, children: map[string]fs.Dentry{}}
}

// Lookup implements fs.Dentry.
func (d *Dir) Lookup(name string) (fs.Dentry, error) {
	d.mu.Lock()
	c, ok := d.children[name]
	d.mu.Unlock()
	if ok {
		if d.ops.Valid == nil || d.ops.Valid(name) {
			return c, nil
		}
		// Gone (an exited process, a closed fd); the name may be back with
		// a new object.
		d.mu.Lock()
		if d.children[name] == c {
			delete(d.children, name)
		}
		d.mu.Unlock()
	}
	c, err := d.ops.Make(d, name)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	if old, ok := d.children[name]; ok {
		d.mu.Unlock()
		return old, nil
	}
	d.children[name] = c
	sweep := d.ops.Valid != nil && len(d.children) >= max(d.sweepAt, minSweep)
	if sweep {
		d.sweepAt = 2 * len(d.children)
	}
	d.mu.Unlock()
	if sweep {
		d.sweep()
	}
	return c, nil
}

// sweep drops the cached children that no longer exist. Valid runs
// without d.mu, which is a leaf lock.
func (d *Dir) sweep() {
	d.mu.Lock()
	cached := make(map[string]fs.Dentry, len(d.children))
	for n, c := range d.children {
		cached[n] = c
	}
	d.mu.Unlock()
	for n, c := range cached {
		if d.ops.Valid(n) {
			continue
		}
		d.mu.Lock()
		if d.children[n] == c {
			delete(d.children, n)
		}
		d.mu.Unlock()
	}
	d.mu.Lock()
	d.sweepAt = 2 * len(d.children)
	d.mu.Unlock()
}

// Readdir implements fs.Dentry.
func (d *Dir) Readdir(off int64, emit func(fs.DirEntry) bool) error {
	ents, err := d.ops.List()
	if err != nil {
		return err
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].Cookie < ents[j].Cookie })
	for _, e := range ents {
		if e.Cookie+2 < off {
			continue
		}
		var ino uint64
		var typ uint32
		c, err := d.Lookup(e.Name)
		if err != nil {
			// Gone since List: skip it, as a listing racing an exit does.
			continue
		}
		if st, err := c.Stat(); err == nil {
			ino, typ = st.Ino, st.Type()
		}
		if !emit(fs.DirEntry{Name: e.Name, Ino: ino, Type: fs.DirentType(typ), Off: e.Cookie + 3}) {
			return nil
		}
	}
	return nil
}

// Child is one entry of a directory with fixed contents.
type Child struct {
	Name string
	Make func(d *Dir) fs.Dentry
}

// StaticDir returns DirOps for a fixed set of children, listed in order.
func StaticDir(children ...Child) DirOps {
	return DirOps{
		List: func() ([]Entry, error) {
			out := make([]Entry, 0, len(children))
			for i, c := range children {
				out = append(out, Entry{Name: c.Name, Cookie: int64(i)})
			}
			return out, nil
		},
		Make: func(d *Dir, name string) (fs.Dentry, error) {
			for _, c := range children {
				if c.Name == name {
					return c.Make(d), nil
				}
			}
			return nil, unix.ENOENT
		},
	}
}

// Content makes a file's content at open; its errors are open(2)'s.
type Content func() ([]byte, error)

// File is a synthetic regular file: open snapshots its content into a
// sealed memfd that the program reads natively.
type File struct {
	node
	content Content
	// writer, if set, makes the file writable: called at open (on the
	// opener's behalf, so it can check the opener's rights), it returns
	// what applies the data written when the open goes away.
	writer Writer
}

// Writer prepares a write-open of a writable file.
type Writer func() (apply func(data []byte) error, err error)

// NewFile makes a read-only file.
func (t *Tree) NewFile(parent fs.Dentry, name string, a Attrs, c Content) *File {
	return &File{node: t.node(parent, name, unix.S_IFREG, a), content: c}
}

// NewWritable makes a file whose writes are applied at close.
func (t *Tree) NewWritable(parent fs.Dentry, name string, a Attrs, c Content, w Writer) *File {
	f := t.NewFile(parent, name, a, c)
	f.writer = w
	return f
}

// Open implements fs.Dentry.
func (f *File) Open(flags int) (fs.File, error) {
	acc := flags & unix.O_ACCMODE
	var apply func([]byte) error
	if acc != unix.O_RDONLY {
		if f.writer == nil {
			return nil, unix.EACCES
		}
		var err error
		if apply, err = f.writer(); err != nil {
			return nil, err
		}
	}
	var data []byte
	if acc != unix.O_WRONLY {
		var err error
		if data, err = f.content(); err != nil {
			return nil, err
		}
	}
	return newSnapshot(data, apply)
}

// snapshot is an open synthetic file: a memfd holding the content.
type snapshot struct {
	mem   *os.File
	write func([]byte) error
}

func newSnapshot(data []byte, write func([]byte) error) (*snapshot, error) {
	flags := unix.MFD_CLOEXEC
	if write == nil {
		flags |= unix.MFD_ALLOW_SEALING
	}
	fd, err := unix.MemfdCreate("proc", flags)
	if err != nil {
		return nil, err
	}
	mem := os.NewFile(uintptr(fd), "memfd:proc")
	if _, err := mem.WriteAt(data, 0); err != nil {
		mem.Close()
		return nil, unix.EIO
	}
	if write == nil {
		// Sealed: a read-only snapshot, even for a program that reopens
		// it for writing through /proc/self/fd.
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_SEAL|unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_WRITE); err != nil {
			mem.Close()
			return nil, err
		}
	}
	return &snapshot{mem: mem, write: write}, nil
}

func (s *snapshot) HostFD() int { return int(s.mem.Fd()) }

func (s *snapshot) ReadAt(p []byte, off int64) (int, error) {
	n, err := s.mem.ReadAt(p, off)
	if n > 0 || err == nil {
		return n, nil
	}
	if off >= 0 {
		return 0, nil
	}
	return 0, unix.EINVAL
}

func (s *snapshot) WriteAt(p []byte, off int64) (int, error) {
	if s.write == nil {
		return 0, unix.EPERM
	}
	n, err := s.mem.WriteAt(p, off)
	if err != nil {
		return n, unix.EIO
	}
	return n, nil
}

func (s *snapshot) Sync() error { return nil }

// Close applies what was written to a writable file: errors cannot reach
// the program any more (its write returned), so a bad value is dropped.
func (s *snapshot) Close() error {
	defer s.mem.Close()
	if s.write == nil {
		return nil
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(s.mem.Fd()), &st); err != nil || st.Size == 0 {
		return nil
	}
	b := make([]byte, st.Size)
	n, _ := s.mem.ReadAt(b, 0)
	_ = s.write(b[:n])
	return nil
}

// Symlink is a synthetic symlink whose target may change (/proc/self).
type Symlink struct {
	node
	target func() (string, error)
}

// NewSymlink makes a symlink.
func (t *Tree) NewSymlink(parent fs.Dentry, name string, target func() (string, error)) *Symlink {
	return &Symlink{node: t.node(parent, name, unix.S_IFLNK, Static(0o777)), target: target}
}

// Readlink implements fs.Dentry.
func (s *Symlink) Readlink() (string, error) { return s.target() }

// MagicLink is a symlink to an object (/proc/<pid>/fd/N, exe, cwd):
// readlink shows a path, following it jumps to the object.
type MagicLink struct {
	Symlink
	resolve func() (fs.Loc, error)
}

// NewMagicLink makes a magic link.
func (t *Tree) NewMagicLink(parent fs.Dentry, name string, a Attrs, target func() (string, error), resolve func() (fs.Loc, error)) *MagicLink {
	m := &MagicLink{Symlink: Symlink{node: t.node(parent, name, unix.S_IFLNK, a), target: target}, resolve: resolve}
	return m
}

// Resolve implements fs.MagicLink.
func (m *MagicLink) Resolve() (fs.Loc, error) { return m.resolve() }

var _ fs.MagicLink = (*MagicLink)(nil)

// extraCookie orders mount-point directories after a tree's fixed entries
// (fewer than this) and before /proc's pids.
const extraCookie = 1000

// WithMountPoints adds to a root directory's ops an empty directory for
// each top-level component of nested (mount points of mounts made on top
// of the tree, "/name/..."), unless the tree has that name already.
func (t *Tree) WithMountPoints(ops DirOps, nested []string) DirOps {
	var extra []string
	seen := map[string]bool{}
	for _, n := range nested {
		name, _, _ := strings.Cut(strings.TrimPrefix(n, "/"), "/")
		if name == "" || seen[name] {
			continue
		}
		seen[name] = true
		if c, err := ops.Make(nil, name); err == nil && c != nil {
			continue
		}
		extra = append(extra, name)
	}
	if len(extra) == 0 {
		return ops
	}
	isExtra := func(name string) bool {
		for _, e := range extra {
			if e == name {
				return true
			}
		}
		return false
	}
	return DirOps{
		List: func() ([]Entry, error) {
			ents, err := ops.List()
			for i, e := range extra {
				ents = append(ents, Entry{Name: e, Cookie: extraCookie + int64(i)})
			}
			return ents, err
		},
		Make: func(d *Dir, name string) (fs.Dentry, error) {
			if isExtra(name) {
				return t.NewDir(d, name, Static(0o555), StaticDir()), nil
			}
			return ops.Make(d, name)
		},
		Valid: func(name string) bool { return isExtra(name) || ops.Valid == nil || ops.Valid(name) },
	}
}
