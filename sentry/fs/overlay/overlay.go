// Package overlay is an overlay file system: one writable upper file system
// (a tmpfs) over any number of read-only lowers, with the semantics of
// Linux's overlayfs and an upper encoded as Linux encodes it (whiteouts are
// char 0/0 nodes, opaque directories carry trusted.overlay.opaque=y), so the
// upper can be exported as an image layer. See docs/OVERLAY.md for the
// design and where it deliberately differs from Linux.
//
// Lock order:
//
//	VFS fsState.mu of the overlay (held around every Dentry call)
//	  FS.mu (read for queries, write for changes and for copy-up)
//	    dentry.cacheMu (children cache and readdir cookies)
//	      FS.inoMu (inode table)
//	        inode.filesMu (open lower files to redirect on copy-up)
//	          file.mu
//
// FS.mu exists because the VFS calls Open under its read lock, yet opening a
// lower file for writing copies it up, which changes the upper; the layers
// themselves rely on their caller for locking (package fs), so every call
// into a layer is made with FS.mu held, for writing if it changes a layer.
//
// Invariants:
//   - A dentry is cached in its parent for as long as its name exists, so
//     the VFS sees one Dentry value per name (mount points are keyed by it).
//   - Once d.upper is set it stays set; d.lowers of a directory lists the
//     lower directories merged under it, topmost first, and is empty once
//     the directory is opaque or wholly in the upper.
//   - An inode's number never changes: it is chosen when the inode is first
//     seen and keyed by every (layer, layer inode) that names it.
package overlay

import (
	"errors"
	"sync"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
)

// Format is how a layer encodes whiteouts and opaque directories.
type Format int

const (
	// FormatOverlay is Linux overlayfs's (Docker overlay2): a whiteout is a
	// char 0/0 node, an opaque directory has trusted.overlay.opaque=y.
	FormatOverlay Format = iota
	// FormatOCI is the OCI image layer's (AUFS): a whiteout of X is a file
	// ".wh.X", an opaque directory holds ".wh..wh..opq".
	FormatOCI
)

// Names and values of the encodings.
const (
	opaqueXattr  = "trusted.overlay.opaque"
	privatePfx   = "trusted.overlay."
	ociWhPrefix  = ".wh."
	ociOpaque    = ".wh..wh..opq"
	overlayMagic = 0x794c7630 // OVERLAYFS_SUPER_MAGIC
)

// Layer is a read-only lower layer.
type Layer struct {
	FS     fs.Filesystem
	Format Format
}

// Options configure an overlay.
type Options struct {
	// Upper is the writable layer, normally a tmpfs that nothing else
	// mounts; nil makes a read-only overlay.
	Upper fs.Filesystem
	// Lowers are the read-only layers, topmost first.
	Lowers []Layer
}

// FS is one overlay instance.
type FS struct {
	upper  fs.Filesystem
	lowers []Layer
	dev    uint64
	root   *dentry

	mu sync.RWMutex

	inoMu  sync.Mutex
	inodes map[layerIno]*inode
	// inos numbers layer inodes that readdir has shown but nothing has
	// looked up yet, so that the later lookup reports the same st_ino
	// without readdir allocating an inode per entry.
	inos    map[layerIno]uint64
	nextIno uint64
}

// layerIno names an inode of one layer: layer 0 is the upper, i+1 is
// Lowers[i].
type layerIno struct {
	layer int
	ino   uint64
}

// component is a layer's dentry for a name of the overlay.
type component struct {
	d     fs.Dentry
	layer int
}

// New makes an overlay of opts.Upper over opts.Lowers.
func New(opts Options) (*FS, error) {
	if len(opts.Lowers) == 0 && opts.Upper == nil {
		return nil, unix.EINVAL
	}
	for _, l := range opts.Lowers {
		if l.FS == nil || (l.Format != FormatOverlay && l.Format != FormatOCI) {
			return nil, unix.EINVAL
		}
	}
	f := &FS{upper: opts.Upper, lowers: opts.Lowers, dev: fs.NewAnonDev(), inodes: map[layerIno]*inode{}, inos: map[layerIno]uint64{}}
	root := &dentry{fs: f, isDir: true}
	if f.upper != nil {
		root.upper = f.upper.Root()
	}
	for i, l := range opts.Lowers {
		ld := l.FS.Root()
		root.lowers = append(root.lowers, component{ld, i + 1})
		if opaque, err := f.isOpaque(component{ld, i + 1}); err != nil {
			return nil, err
		} else if opaque {
			break
		}
	}
	top, err := root.top()
	if err != nil {
		return nil, err
	}
	st, err := top.d.Stat()
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, unix.ENOTDIR
	}
	root.inode = f.inodeFor(top.layer, &st)
	f.root = root
	if top.layer == 0 && len(root.lowers) > 0 {
		if err := root.adoptLowerRoot(); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// adoptLowerRoot gives an empty upper root the mode, owner and times of
// the topmost lower root: the root is copied up at mount, so a container's
// "/" looks like its image's whatever the upper tmpfs was made with.
func (d *dentry) adoptLowerRoot() error {
	empty := true
	if err := d.upper.Readdir(2, func(fs.DirEntry) bool { empty = false; return false }); err != nil || !empty {
		return err
	}
	st, err := d.lowers[0].d.Stat()
	if err != nil {
		return err
	}
	return d.upper.SetStat(&fs.SetStat{Mask: fs.SetMode | fs.SetUID | fs.SetGID | fs.SetAtime | fs.SetMtime,
		Mode: st.Mode & 0o7777, UID: st.UID, GID: st.GID, Atime: st.Atime, Mtime: st.Mtime})
}

// Root implements fs.Filesystem.
func (f *FS) Root() fs.Dentry { return f.root }

// Type implements fs.Filesystem.
func (f *FS) Type() string { return "overlay" }

// StatFS implements fs.Filesystem: the upper's usage (the topmost lower's
// for a read-only overlay), with overlayfs's magic, as Linux reports it.
func (f *FS) StatFS() (fs.Statfs, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	src := f.upper
	if src == nil {
		src = f.lowers[0].FS
	}
	s, err := src.StatFS()
	if err != nil {
		return fs.Statfs{}, err
	}
	s.Type = overlayMagic
	return s, nil
}

// Dev returns the overlay's st_dev.
func (f *FS) Dev() uint64 { return f.dev }

// Upper returns the writable layer (nil for a read-only overlay).
func (f *FS) Upper() fs.Filesystem { return f.upper }

func (f *FS) format(layer int) Format {
	if layer == 0 {
		return FormatOverlay
	}
	return f.lowers[layer-1].Format
}

// inode is the overlay's view of a file: one st_ino for every name and
// every layer it lives in.
type inode struct {
	ino uint64

	// The fields below change only under FS.mu held for writing, or under
	// FS.inoMu when a lookup (FS.mu held for reading) makes the inode.
	// upper is a name of the inode in the upper once it is copied up or
	// created there; any name of it serves for Stat, Open and Link.
	upper fs.Dentry
	// pending counts the lower names of a non-directory that still show
	// through (not copied up, not removed): they add to the upper's nlink.
	pending uint32
	// pin keeps a copied-up file's data while lower names of it remain
	// but no upper name does.
	pin fs.File

	filesMu sync.Mutex
	files   map[*file]struct{} // open read-only on a lower
}

// inodeFor returns the inode a layer's inode belongs to, making it on first
// sight.
func (f *FS) inodeFor(layer int, st *fs.Stat) *inode {
	f.inoMu.Lock()
	defer f.inoMu.Unlock()
	k := layerIno{layer, st.Ino}
	if i := f.inodes[k]; i != nil {
		return i
	}
	i := &inode{ino: f.inos[k]}
	if i.ino == 0 {
		f.nextIno++
		i.ino = f.nextIno
	}
	delete(f.inos, k)
	if layer > 0 && !st.IsDir() {
		i.pending = st.Nlink
	}
	f.inodes[k] = i
	return i
}

// inoOf returns the st_ino for a layer's inode (readdir).
func (f *FS) inoOf(layer int, ino uint64) uint64 {
	f.inoMu.Lock()
	defer f.inoMu.Unlock()
	k := layerIno{layer, ino}
	if i := f.inodes[k]; i != nil {
		return i.ino
	}
	n := f.inos[k]
	if n == 0 {
		f.nextIno++
		n = f.nextIno
		f.inos[k] = n
	}
	return n
}

// alias records that a layer's inode is i.
func (f *FS) alias(layer int, ino uint64, i *inode) {
	f.inoMu.Lock()
	f.inodes[layerIno{layer, ino}] = i
	delete(f.inos, layerIno{layer, ino})
	f.inoMu.Unlock()
}

// isWhiteout reports whether a layer dentry is a char 0/0 whiteout.
func isWhiteout(d fs.Dentry) (bool, error) {
	st, err := d.Stat()
	if err != nil {
		return false, err
	}
	return st.Type() == unix.S_IFCHR && st.Rdev == 0, nil
}

// isOpaque reports whether a layer's directory hides the layers below.
func (f *FS) isOpaque(c component) (bool, error) {
	if f.format(c.layer) == FormatOCI {
		_, err := c.d.Lookup(ociOpaque)
		if err == unix.ENOENT {
			return false, nil
		}
		return err == nil, err
	}
	v, err := c.d.Getxattr(opaqueXattr)
	switch {
	case err == nil:
		return len(v) == 1 && v[0] == 'y', nil
	case noXattr(err):
		return false, nil
	}
	return false, err
}

// noXattr reports an error that means a layer has no such xattr for us:
// absent, unsupported, or not readable by the gofer's credentials.
func noXattr(err error) bool {
	for _, e := range []unix.Errno{unix.ENODATA, unix.EOPNOTSUPP, unix.EPERM, unix.EACCES, unix.ENOSYS} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// hidden reports whether name is private to the encoding of a layer.
func (f *FS) hidden(layer int, name string) bool {
	return f.format(layer) == FormatOCI && len(name) >= len(ociWhPrefix) && name[:len(ociWhPrefix)] == ociWhPrefix
}

// whitedOut looks name up in dir, a directory of a layer: wh reports a
// whiteout of it there; otherwise found and st are the layer's dentry and
// attributes if it exists.
func (f *FS) whitedOut(dir component, name string) (found fs.Dentry, st fs.Stat, wh bool, err error) {
	if f.hidden(dir.layer, name) {
		return nil, st, false, nil
	}
	if f.format(dir.layer) == FormatOCI {
		if _, err := dir.d.Lookup(ociWhPrefix + name); err == nil {
			return nil, st, true, nil
		} else if err != unix.ENOENT && err != unix.ENAMETOOLONG {
			return nil, st, false, err
		}
	}
	c, err := dir.d.Lookup(name)
	if err == unix.ENOENT {
		return nil, st, false, nil
	}
	if err != nil {
		return nil, st, false, err
	}
	if st, err = c.Stat(); err != nil {
		return nil, st, false, err
	}
	if f.format(dir.layer) == FormatOverlay && st.Type() == unix.S_IFCHR && st.Rdev == 0 {
		return nil, st, true, nil
	}
	return c, st, false, nil
}
