// Package fs is the sentry's virtual file system: a mount namespace of file
// systems with Linux semantics, used as a library by the syscall layer.
//
// The VFS owns everything that is the same for every file system: path
// resolution (symlinks, "..", mount crossings, openat2 RESOLVE_* rules),
// permission checks against the caller's credentials, mount flags, and the
// errno a syscall returns. A file system implements Filesystem and Dentry and
// trusts the VFS to have checked the request.
//
// Lock order:
//
//	VFS.renameMu (per file system, rename only)
//	  fsState.mu (per file system: read for queries, write for changes)
//	    VFS.mountMu
//	      FileDescription.mu
//
// Invariant: every Dentry method is called with its file system's fsState.mu
// held, for writing if the method changes the tree or any attribute. A file
// system therefore needs no locking of its own for its tree; it locks only
// caches it fills during queries (which run concurrently under the read lock).
// A file system used as a layer of another (an overlay's upper and lowers) is
// called under the outer file system's lock and must not be mounted elsewhere.
package fs

import (
	"strconv"

	"golang.org/x/sys/unix"
)

// Filesystem is one instance of a file system; it may be mounted at several
// places.
type Filesystem interface {
	// Root is the dentry a mount of this file system shows at its mount point.
	Root() Dentry
	// Type is the name /proc/mounts shows ("tmpfs", "overlay", "9p").
	Type() string
	// StatFS reports usage for statfs(2); the VFS fills in Flags.
	StatFS() (Statfs, error)
}

// Dentry is a file system's name for an inode. Two names of one inode (hard
// links) are different dentries sharing attributes. Methods that act on a
// directory return ENOTDIR when called on anything else.
type Dentry interface {
	// Parent is the directory holding this name, nil for the file system root.
	Parent() Dentry
	Stat() (Stat, error)
	SetStat(s *SetStat) error

	// Lookup returns the child called name (a valid component: not empty,
	// ".", ".." or containing '/').
	Lookup(name string) (Dentry, error)
	// Readlink returns a symlink's target; EINVAL for anything else.
	Readlink() (string, error)
	// Readdir calls emit for each entry after offset off (offsets 0 and 1 are
	// "." and "..", produced by the VFS), until emit returns false. Offsets
	// stay valid while the directory changes: an entry present throughout a
	// listing is returned exactly once.
	Readdir(off int64, emit func(DirEntry) bool) error

	// Create makes a new inode of any type called name; EEXIST if it exists.
	Create(name string, a *CreateAttrs) (Dentry, error)
	// Link makes name another name for target, an inode of the same file
	// system that is not a directory.
	Link(name string, target Dentry) (Dentry, error)
	// Unlink removes a non-directory called name.
	Unlink(name string) error
	// Rmdir removes an empty directory called name; ENOTEMPTY otherwise.
	Rmdir(name string) error
	// Rename moves name to newDir/newName, replacing what is there (the VFS
	// has checked types, emptiness and loops). flags are RENAME_EXCHANGE or
	// RENAME_WHITEOUT; with RENAME_WHITEOUT, whiteout describes the char 0/0
	// node left at the old name.
	Rename(name string, newDir Dentry, newName string, flags uint32, whiteout *CreateAttrs) error

	// Open prepares I/O on a regular file; other types return a nil File.
	Open(flags int) (File, error)

	Getxattr(name string) ([]byte, error)
	Setxattr(name string, value []byte, flags int) error
	Listxattr() ([]string, error)
	Removexattr(name string) error
}

// AttrStater is implemented by dentries whose Stat asks the host for the
// size and times of data kept in a host file. StatAttrs returns that Stat
// without the host calls, so its Size, Blocks and times may be zero or
// stale, and so may the set-user-ID and set-group-ID bits (a native write
// clears them on the host); path walks, permission checks and opens read
// only the rest.
type AttrStater interface {
	StatAttrs() (Stat, error)
}

// StatAttrs is d's StatAttrs if it has one, else its Stat.
func StatAttrs(d Dentry) (Stat, error) {
	if a, ok := d.(AttrStater); ok {
		return a.StatAttrs()
	}
	return d.Stat()
}

// CreateAttrs describes a new inode.
type CreateAttrs struct {
	Mode   uint32 // S_IFMT type and permission bits (umask already applied)
	UID    uint32
	GID    uint32
	Rdev   uint64 // character and block devices
	Target string // symlinks
}

// File is the I/O side of an open regular file.
type File interface {
	// HostFD is a host fd holding the file's data (a memfd for tmpfs, a
	// donated fd for the gofer), for handing to a program for native I/O.
	HostFD() int
	ReadAt(p []byte, off int64) (int, error)
	WriteAt(p []byte, off int64) (int, error)
	// Sync flushes the file to its backing store (fsync).
	Sync() error
	Close() error
}

// Reopener is implemented by files with a cheaper way to a new host open
// file description of their data than /proc/self/fd/N (a name in a
// directory the sentry holds).
type Reopener interface {
	Reopen(flags int) (int, error)
}

// Reopen opens f's host data again with flags (and O_CLOEXEC): a new host
// open file description, with its own offset and access mode. The caller
// owns the returned fd (a raw fd: an os.File costs an open and close
// about 1 µs more, on every open of the program).
func Reopen(f File, flags int) (int, error) {
	if r, ok := f.(Reopener); ok {
		return r.Reopen(flags)
	}
	return ReopenFD(f.HostFD(), flags)
}

// ReopenFD opens the file of the sentry's fd again through /proc/self/fd.
func ReopenFD(fd, flags int) (int, error) {
	if fd < 0 {
		return -1, unix.EIO
	}
	return unix.Open("/proc/self/fd/"+strconv.Itoa(fd), flags|unix.O_CLOEXEC, 0)
}

// Loc names a dentry as seen through a mount: the pair the VFS walks with.
type Loc struct {
	Mount  *Mount
	Dentry Dentry
}

// Context is the caller of a VFS operation.
type Context struct {
	Creds *Creds
	// Root is the caller's root directory (chroot); ".." never goes above it
	// and absolute paths and symlinks start there.
	Root  Loc
	Umask uint32
	// Devices, if set, is the caller's device cgroup: opening a device node
	// and making one (mknod) need its permission, after the other checks,
	// as in Linux.
	Devices DeviceCgroup
}

// DeviceCgroup decides access to devices by type (S_IFCHR or S_IFBLK) and
// number; access is 'r', 'w' or 'm' (mknod).
type DeviceCgroup interface {
	Allowed(typ uint32, rdev uint64, access byte) bool
}

// Limits of path names (linux/limits.h).
const (
	NameMax    = 255
	PathMax    = 4096
	maxSymlink = 40
)

// Flags of the *At operations (AT_*) the VFS understands.
const (
	atSymlinkNofollow = unix.AT_SYMLINK_NOFOLLOW
	atEmptyPath       = unix.AT_EMPTY_PATH
	atSymlinkFollow   = unix.AT_SYMLINK_FOLLOW
)
