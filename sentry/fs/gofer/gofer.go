// Package gofer is a sentry file system backed by a 9P2000.L connection to a
// gofer (package runsc.dev/runsc/gofer, or any 9P2000.L server such as diod).
//
// A directory's dentry holds a walked (never opened) fid of it; other files
// are reached by a walk from their directory when needed (so the gofer
// holds an fd per cached directory and open file, not per file ever looked
// up), except while an open file description holds one whose name goes
// away. Opening a regular file opens a fresh fid of it, and the host fd the
// gofer donates with Rlopen becomes File.HostFD. Without a donated fd (a
// standard server) reads and writes go over 9P.
//
// # Caching
//
// Exclusive mode (the container root: nothing else changes the tree) caches
// dentries, negative lookups, attributes, xattrs, symlink targets and
// directory listings, and keeps them right across its own mutations (it drops the
// attributes a mutation changes and fetches them again on the next Stat).
// Shared mode (bind mounts of host directories) re-walks the name on every
// Lookup, replaces a cached dentry whose QID path or type changed, fetches
// attributes on every Stat except within a millisecond of the Lookup that
// fetched them (the same syscall's walk), and reads directory listings
// again at the start of each listing.
//
// In both modes the attributes of a regular file with an open donated fd
// come from fstat(2) of that fd, so writes the program makes natively
// through the fd are seen at once. The first read-only open of a file keeps
// its donated fd (at most 1,024 per file system, oldest evicted), and later
// read-only opens reopen it through /proc/self/fd: a new open file
// description without a round trip.
//
// # Use
//
// Boot makes the container root from the gofer fd it was given (one end of
// a SOCK_SEQPACKET socketpair whose other end the gofer serves):
//
//	root, err := gofer.Dial(os.NewFile(uintptr(fd), "gofer-root"), gofer.Options{})
//
// (exclusive caching), and uses it as the lower layer of the root overlay
// or mounts it directly. A bind mount gets its own gofer fd and shared
// caching, so changes made on the host are seen:
//
//	g, err := gofer.Dial(os.NewFile(uintptr(fd), "gofer-bind"), gofer.Options{Cache: gofer.Shared})
//	_, err = vfs.Mount(ctx, at, target, g, flags, source)
//
// New attaches over an existing *p9.Client instead. Close the FS after its
// last unmount.
//
// # Lock order
//
//	VFS tree lock (fs.fsState.mu, taken by the VFS around every Dentry call)
//	  dentry.mu
//	    inode.mu
//	      FS.mu
//
// No lock of this package is held across a 9P round trip.
//
// Invariants:
//   - dentry.mu guards what queries fill in concurrently: children,
//     negative, listing and the symlink target.
//   - inode.mu guards the attribute and xattr caches, the set of open
//     files and the cached read-only handle (held across the reopen syscall, so an
//     eviction cannot close the fd while it is reopened); an attribute
//     fetch started at generation g is stored only if the generation is
//     still g, so an invalidation racing with a fetch wins.
//   - FS.mu guards the inode table and inode reference counts. An inode is
//     in the table while a live dentry refers to it.
//   - A dentry's parent, name, fid, dead and holds change only under the
//     VFS write lock (Rename, Unlink, Rmdir, fs.Holder's Hold and Release);
//     queries may read them without locking.
//   - A dead dentry (unlinked, removed, renamed over) keeps its fid while
//     held, then has a nil fid and keeps its last attributes (with the
//     link count dropped).
package gofer

import (
	"context"
	"errors"
	"os"
	"sync"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/p9"
	"runsc.dev/runsc/sentry/fs"
)

// CacheMode selects how much the file system trusts its caches.
type CacheMode int

const (
	// Exclusive caches everything: only this sentry changes the tree.
	Exclusive CacheMode = iota
	// Shared revalidates on every lookup and stat: the host may change the
	// tree at any time.
	Shared
)

func (m CacheMode) String() string {
	if m == Shared {
		return "shared"
	}
	return "exclusive"
}

// Options configure New and Dial.
type Options struct {
	// Cache is the caching mode (default Exclusive).
	Cache CacheMode
	// AName is the tree to attach to (the gofer ignores it; diod wants
	// the exported path).
	AName string
	// UName and UID are who to attach as. The zero Options attach with
	// UID NoUID, which our gofer takes as "create files as yourself" (the
	// file system then chowns them to their creator); standard servers
	// such as diod want a real user (UName "root", UID 0).
	UName string
	UID   *p9.UID
	// Dev is the st_dev reported for every file; 0 picks a fresh anonymous
	// device number.
	Dev uint64
	// Client tunes the connection Dial makes.
	Client p9.ClientOptions
}

// FS is one attached 9P tree.
type FS struct {
	client *p9.Client
	owned  bool // Close closes client
	opts   Options
	dev    uint64
	root   *dentry

	mu      sync.Mutex
	inodes  map[uint64]*inode // by QID path
	handles []*inode          // inodes with a cached read-only handle, oldest first
}

var _ fs.Filesystem = (*FS)(nil)

var bg = context.Background()

// New attaches to the server's root over c. The caller keeps ownership of
// c (closing the FS does not close it).
func New(c *p9.Client, opts Options) (*FS, error) {
	f := &FS{client: c, opts: opts, dev: opts.Dev, inodes: map[uint64]*inode{}}
	if f.dev == 0 {
		f.dev = fs.NewAnonDev()
	}
	uid := p9.NoUID
	if opts.UID != nil {
		uid = *opts.UID
	}
	fid, _, err := c.Attach(bg, opts.UName, uid, opts.AName)
	if err != nil {
		return nil, errno(err)
	}
	qid, _, attr, err := fid.GetAttr(bg, p9.AttrAll)
	if err != nil {
		fid.Clunk(bg)
		return nil, errno(err)
	}
	if attr.Mode&unix.S_IFMT != unix.S_IFDIR {
		fid.Clunk(bg)
		return nil, unix.ENOTDIR
	}
	f.root = f.newDentry(nil, "", fid, qid, &attr)
	return f, nil
}

// Dial connects over sock (the gofer's end of a socketpair, e.g. from an fd
// boot received: os.NewFile(uintptr(fd), "gofer")), takes ownership of it
// and attaches. Closing the FS closes the connection.
func Dial(sock *os.File, opts Options) (*FS, error) {
	c, err := p9.NewClient(bg, sock, opts.Client)
	if err != nil {
		return nil, err
	}
	f, err := New(c, opts)
	if err != nil {
		c.Close()
		return nil, err
	}
	f.owned = true
	return f, nil
}

// Close releases the file system after its last unmount (no operation may
// be in flight): it releases the cached read-only handles, closes the
// connection if Dial made it (the server then drops every fid), and
// otherwise clunks the fids of every cached dentry. Files still open keep
// their donated fds for I/O; everything else fails.
func (f *FS) Close() error {
	f.mu.Lock()
	handles := f.handles
	f.handles = nil
	f.mu.Unlock()
	for _, i := range handles {
		i.dropHandle()
	}
	if f.owned {
		return f.client.Close()
	}
	var release func(d *dentry)
	release = func(d *dentry) {
		d.mu.Lock()
		kids := make([]*dentry, 0, len(d.children))
		for _, c := range d.children {
			kids = append(kids, c)
		}
		d.mu.Unlock()
		for _, c := range kids {
			release(c)
		}
		if d.fid != nil {
			d.fid.Clunk(bg)
			d.fid = nil
		}
	}
	release(f.root)
	return nil
}

// Client returns the 9P connection.
func (f *FS) Client() *p9.Client { return f.client }

// Mode returns the caching mode.
func (f *FS) Mode() CacheMode { return f.opts.Cache }

func (f *FS) exclusive() bool { return f.opts.Cache == Exclusive }

// Root implements fs.Filesystem.
func (f *FS) Root() fs.Dentry { return f.root }

// Type implements fs.Filesystem.
func (f *FS) Type() string { return "9p" }

// StatFS implements fs.Filesystem.
func (f *FS) StatFS() (fs.Statfs, error) {
	s, err := f.root.fid.StatFS(bg)
	if err != nil {
		return fs.Statfs{}, errno(err)
	}
	return fs.Statfs{
		Type: int64(s.Type), Bsize: int64(s.BlockSize), Blocks: s.Blocks, Bfree: s.BFree,
		Bavail: s.BAvail, Files: s.Files, Ffree: s.FFree, Namelen: int64(s.NameLen),
		Frsize: int64(s.BlockSize),
	}, nil
}

// errno turns a p9 error into the bare errno the VFS compares against; a
// lost connection is EIO.
func errno(err error) error {
	if err == nil {
		return nil
	}
	var e unix.Errno
	if errors.As(err, &e) {
		return e
	}
	return unix.EIO
}

// clunk releases a fid the file system no longer needs without waiting
// for the reply (p9.Fid.ClunkAsync): nothing depends on it, and the fid
// number is reused only after the server has answered.
func (f *FS) clunk(fid *p9.Fid) { fid.ClunkAsync() }
