// Package ramfs is an in-memory file system: directory trees, symlinks,
// device nodes, fifos, sockets and regular files whose data lives in a host
// memfd per file (so the sentry can hand a program a real fd to it). tmpfs
// is ramfs with Linux tmpfs's mount options; boot uses ramfs alone for the
// tree of mount-point stubs under the root overlay.
//
// Locking: the VFS holds the file system's tree lock around every Dentry
// method (see package fs), so the tree and the attributes need no lock of
// their own. Regular file data is read and written without the tree lock;
// the memfd and the fs's page counter (atomic) are safe for that.
package ramfs

import (
	"container/list"
	"os"
	"sort"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
)

// PageSize is the unit tmpfs counts space in.
const PageSize = 4096

// shortSymlink is the longest symlink target Linux's tmpfs stores inside the
// inode; longer ones take a page.
const shortSymlink = 127

// Options configure a file system instance.
type Options struct {
	Type      string // shown in /proc/mounts; "ramfs" if empty
	Magic     int64  // f_type for statfs; RAMFS_MAGIC if zero
	Mode      uint32 // permission bits of the root directory
	UID, GID  uint32 // owner of the root directory
	MaxPages  uint64 // 0: unlimited
	MaxInodes uint64 // 0: unlimited
	// DataDir, if set, is a host directory (a host tmpfs of the file
	// system's size) where file data lives instead of in memfds, one file
	// per inode named by its number. The program writes to its fds
	// natively, so only the host can refuse a write past the limit:
	// MaxPages is then left to the host, and statfs reports its numbers.
	// And a file nobody has open holds no fd (see park), but for the
	// MaxIdle closed last (keepIdle).
	DataDir *os.File
}

// FS is one ramfs instance.
type FS struct {
	opts    Options
	dev     uint64
	root    *dentry
	nextIno atomic.Uint64
	pages   atomic.Int64 // pages of file data and long symlinks in use
	ispace  atomic.Int64 // bytes of inode space in use (see reserveIspace)
	// reserveMu serialises writes that might cross MaxPages, so two of them
	// cannot both take the last pages, and changes of the ballast.
	reserveMu sync.Mutex
	// ballast holds the pages of long symlinks in DataDir, where the host
	// counts them against the size limit.
	ballast      *os.File
	ballastPages int64
	// held counts the holds (fs.Holder) of each dentry with an open file;
	// pinnedDirs are removed directories an open file below still pins.
	// Both are protected by the tree lock.
	held       map[*dentry]int
	pinnedDirs map[*dentry]struct{}
	// idle lists the inodes closed last whose data file (in DataDir) is
	// still open, most recent first; the oldest beyond MaxIdle is parked.
	idleMu sync.Mutex
	idle   list.List
}

// New makes an empty file system whose root directory has opts' mode and
// owner.
func New(opts Options) *FS {
	if opts.Type == "" {
		opts.Type = "ramfs"
	}
	if opts.Magic == 0 {
		opts.Magic = unix.RAMFS_MAGIC
	}
	f := &FS{opts: opts, dev: fs.NewAnonDev(), held: map[*dentry]int{}, pinnedDirs: map[*dentry]struct{}{}}
	now := fs.Now()
	f.ispace.Add(inodeSpace)
	ino := f.newInode(unix.S_IFDIR|opts.Mode&0o7777, opts.UID, opts.GID, now)
	ino.nlink = 2
	ino.dir = &dirData{children: map[string]*dentry{}}
	f.root = &dentry{fs: f, inode: ino}
	return f
}

// Root implements fs.Filesystem.
func (f *FS) Root() fs.Dentry { return f.root }

// Type implements fs.Filesystem.
func (f *FS) Type() string { return f.opts.Type }

// StatFS implements fs.Filesystem.
func (f *FS) StatFS() (fs.Statfs, error) {
	s := fs.Statfs{Type: f.opts.Magic, Bsize: PageSize, Frsize: PageSize, Namelen: fs.NameMax}
	if f.opts.DataDir != nil {
		var hs unix.Statfs_t
		if err := unix.Fstatfs(int(f.opts.DataDir.Fd()), &hs); err != nil {
			return fs.Statfs{}, err
		}
		s.Blocks, s.Bfree, s.Bavail = hs.Blocks, hs.Bfree, hs.Bavail
	} else if f.opts.MaxPages > 0 {
		used := uint64(max(f.pages.Load(), 0))
		s.Blocks = f.opts.MaxPages
		s.Bfree = f.opts.MaxPages - min(used, f.opts.MaxPages)
		s.Bavail = s.Bfree
	}
	if f.opts.MaxInodes > 0 {
		free := max(int64(f.opts.MaxInodes)*inodeSpace-f.ispace.Load(), 0)
		s.Files = f.opts.MaxInodes
		s.Ffree = uint64(free / inodeSpace)
	}
	return s, nil
}

// Dev returns the file system's st_dev.
func (f *FS) Dev() uint64 { return f.dev }

// Pages returns the number of pages of data in use.
func (f *FS) Pages() int64 { return f.pages.Load() }

// inodeSpace is what an inode or an extra hard link takes of the inode
// space; an extended attribute takes xattrSpace. Linux's tmpfs counts the
// same (BOGO_INODE_SIZE, simple_xattr_space), so nr_inodes limits links and
// xattrs too.
const inodeSpace = 1024

func xattrSpace(name string, value []byte) int64 { return int64(40 + len(name) + len(value)) }

// reserveIspace takes n bytes of inode space, reporting false if the limit
// does not leave them.
func (f *FS) reserveIspace(n int64) bool {
	if f.opts.MaxInodes == 0 {
		f.ispace.Add(n)
		return true
	}
	limit := int64(f.opts.MaxInodes) * inodeSpace
	for {
		cur := f.ispace.Load()
		if cur+n > limit {
			return false
		}
		if f.ispace.CompareAndSwap(cur, cur+n) {
			return true
		}
	}
}

func (f *FS) releaseIspace(n int64) { f.ispace.Add(-n) }

// newInode makes an inode whose inode space the caller has reserved.
func (f *FS) newInode(mode, uid, gid uint32, now unix.Timespec) *inode {
	return &inode{
		ino: f.nextIno.Add(1), mode: mode, uid: uid, gid: gid, nlink: 1,
		times: newTimes(now),
	}
}

// times are an inode's atime, mtime, ctime and btime, with the seconds and
// nanoseconds kept apart so that an inode fits a smaller size class.
type times struct {
	sec  [4]int64
	nsec [4]uint32
}

// Indexes of times.
const (
	atime = iota
	mtime
	ctime
	btime
)

func newTimes(now unix.Timespec) times {
	var t times
	for i := range t.sec {
		t.set(i, now)
	}
	return t
}

func (t *times) get(i int) unix.Timespec {
	return unix.Timespec{Sec: t.sec[i], Nsec: int64(t.nsec[i])}
}

func (t *times) set(i int, ts unix.Timespec) { t.sec[i], t.nsec[i] = ts.Sec, uint32(ts.Nsec) }

// inode is a file's attributes and contents. A directory has dir; a
// regular file has data once it has been opened or sized.
type inode struct {
	ino       uint64
	mode      uint32
	nlink     uint32
	uid, gid  uint32
	rdev      uint64
	times     times
	target    string
	xattrs    map[string][]byte
	dir       *dirData
	data      *os.File     // memfd or DataDir file; nil if none or parked
	parked    bool         // the data (or FIFO) is in DataDir, with no fd open
	dataPages atomic.Int32 // pages of data, as last accounted
	opens     atomic.Int32
	dead      atomic.Bool   // no names left (nlink 0): freed at the last close
	dataMu    sync.Mutex    // guards data creation and release
	freed     bool          // the inode's space went back to the file system
	linkable  bool          // an O_TMPFILE file that Link may still name
	idle      *list.Element // in FS.idle; guarded by FS.idleMu
}

// dirData is a directory's entries. order lists them by cookie (the
// getdents offset); a removed entry leaves a hole that keeps its cookie, so
// lookups by cookie stay binary searches, and holes are squeezed out when
// they outnumber the live entries.
type dirData struct {
	children   map[string]*dentry
	order      []slot
	nextCookie int64
}

type slot struct {
	cookie int64
	d      *dentry // nil: removed
}

// firstCookie is the offset of the first entry after "." and "..".
const firstCookie = 2

func (d *dirData) add(c *dentry) {
	if d.nextCookie < firstCookie {
		d.nextCookie = firstCookie
	}
	c.cookie = d.nextCookie
	d.nextCookie++
	d.children[c.name] = c
	d.order = append(d.order, slot{c.cookie, c})
}

func (d *dirData) remove(c *dentry) {
	delete(d.children, c.name)
	if i := d.find(c.cookie); i < len(d.order) && d.order[i].d == c {
		d.order[i].d = nil
	}
	if len(d.order) > 32 && len(d.order) > 2*len(d.children) {
		live := d.order[:0]
		for _, e := range d.order {
			if e.d != nil {
				live = append(live, e)
			}
		}
		clear(d.order[len(live):])
		d.order = live
	}
}

// find returns the index of the first slot whose cookie is >= c.
func (d *dirData) find(c int64) int {
	return sort.Search(len(d.order), func(i int) bool { return d.order[i].cookie >= c })
}
