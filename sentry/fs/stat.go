package fs

import (
	"time"

	"golang.org/x/sys/unix"
)

// Stat is the attributes of an inode, as statx(2) reports them.
type Stat struct {
	Mode    uint32 // file type and permission bits (S_IFMT | 07777)
	Nlink   uint32
	UID     uint32
	GID     uint32
	Size    int64
	Blocks  int64 // 512-byte blocks allocated
	Blksize uint32
	Ino     uint64
	Dev     uint64
	Rdev    uint64
	Atime   unix.Timespec
	Mtime   unix.Timespec
	Ctime   unix.Timespec
	Btime   unix.Timespec
}

// Type returns the S_IFMT bits.
func (s *Stat) Type() uint32 { return s.Mode & unix.S_IFMT }

// IsDir reports whether the inode is a directory.
func (s *Stat) IsDir() bool { return s.Type() == unix.S_IFDIR }

// Setattr masks, matching statx's STATX_* bits for the fields they share.
const (
	SetMode  = unix.STATX_MODE
	SetUID   = unix.STATX_UID
	SetGID   = unix.STATX_GID
	SetSize  = unix.STATX_SIZE
	SetAtime = unix.STATX_ATIME
	SetMtime = unix.STATX_MTIME
	SetCtime = unix.STATX_CTIME
)

// SetStat is a change of attributes, already checked by the VFS; a file
// system applies exactly the fields in Mask.
type SetStat struct {
	Mask  uint32
	Mode  uint32 // permission bits only (07777)
	UID   uint32
	GID   uint32
	Size  int64
	Atime unix.Timespec
	Mtime unix.Timespec
	Ctime unix.Timespec
}

// Now returns the current time as a Timespec.
func Now() unix.Timespec { return unix.NsecToTimespec(time.Now().UnixNano()) }

// Statfs is what statfs(2) reports for a file system.
type Statfs struct {
	Type    int64
	Bsize   int64
	Blocks  uint64
	Bfree   uint64
	Bavail  uint64
	Files   uint64
	Ffree   uint64
	Namelen int64
	Frsize  int64
	Flags   int64 // ST_* mount flags, filled in by the VFS
}

// DirEntry is one entry returned by getdents.
type DirEntry struct {
	Name string
	Ino  uint64
	Type uint8 // DT_*
	Off  int64 // offset of the entry after this one
}

// DirentType converts S_IFMT bits to a DT_* value.
func DirentType(mode uint32) uint8 {
	return uint8((mode & unix.S_IFMT) >> 12)
}
