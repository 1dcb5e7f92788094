// Package fstest is differential testing for file systems: it generates
// random sequences of file system operations from a seed, runs them on two
// executors (the host kernel and a sentry VFS), and compares every result
// and the final trees. On a mismatch it reports the seed, the index of the
// first differing operation and a minimised log of operations.
//
// A test builds two Sides, each making a fresh executor per replay (the
// minimiser replays many times):
//
//	host := fstest.Side{Name: "linux", New: func() (fstest.Executor, error) {
//		dir, unmount, err := fstest.MountTmpfs(t.TempDir(), "mode=777")
//		... h, err := fstest.NewHost(dir) ... // close h, then unmount
//	}}
//	vfs := fstest.Side{Name: "sentry", New: func() (fstest.Executor, error) {
//		return fstest.NewVFS(fs.New(myfs, 0, "myfs")), nil
//	}}
//	err := fstest.Check(seed, 1000, host, vfs)
//
// A file system that cannot do everything filters the generated operations
// and calls CheckOps. NewHost needs root.
package fstest

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// Kind is an operation.
type Kind int

// The operations. Each corresponds to one syscall (OpOpen to open, the
// writes that follow it, fstat and close).
const (
	OpMkdir Kind = iota
	OpMknod
	OpOpen
	OpSymlink
	OpLink
	OpUnlink
	OpRmdir
	OpRename
	OpStat
	OpLstat
	OpReadlink
	OpChmod
	OpChown
	OpUtimens
	OpTruncate
	OpSetxattr
	OpGetxattr
	OpListxattr
	OpRemovexattr
	OpAccess
	OpGetdents
	OpStatfs
	OpReadFile // open O_RDONLY|O_NOFOLLOW and read it all (tree dumps)

	// Operations on open files, kept in Slots numbered slots: OpFdOpen
	// opens into one (closing what was there), the others use it.
	OpFdOpen
	OpFdRead     // read(2) of Size bytes, or pread(2) at Off >= 0
	OpFdWrite    // write(2) of Value, or pwrite(2) at Off >= 0
	OpFdSeek     // lseek(2) to Off from Flags (whence)
	OpFdTruncate // ftruncate(2) to Size
	OpFdStat     // fstat(2)
	OpFdGetdents // getdents64(2) until the end (names compared as a set)
	OpFdChmod    // fchmod(2)
	OpFdChown    // fchown(2)
	OpFdClose
	OpFdLink // linkat(fd, "", AT_FDCWD, Path, AT_EMPTY_PATH): names an O_TMPFILE file
	numKinds
)

// Slots is the number of open-file slots.
const Slots = 4

var kindNames = [...]string{
	"mkdir", "mknod", "open", "symlink", "link", "unlink", "rmdir", "rename", "stat", "lstat",
	"readlink", "chmod", "chown", "utimensat", "truncate", "setxattr", "getxattr", "listxattr",
	"removexattr", "faccessat2", "getdents", "statfs", "readfile",
	"open", "read", "write", "lseek", "ftruncate", "fstat", "getdents", "fchmod", "fchown", "close", "linkat",
}

func (k Kind) String() string { return kindNames[k] }

// Capabilities the generator hands out (bits of Cred.Caps).
const (
	AllCaps uint64 = 1<<(unix.CAP_LAST_CAP+1) - 1
)

// Cred is who runs an operation: fsuid, fsgid, supplementary groups and the
// effective capabilities.
type Cred struct {
	UID, GID uint32
	Groups   []uint32
	Caps     uint64
}

// RootCred is uid 0 with every capability.
var RootCred = Cred{Caps: AllCaps}

var capNames = map[int]string{
	unix.CAP_CHOWN: "CHOWN", unix.CAP_DAC_OVERRIDE: "DAC_OVERRIDE", unix.CAP_DAC_READ_SEARCH: "DAC_READ_SEARCH",
	unix.CAP_FOWNER: "FOWNER", unix.CAP_FSETID: "FSETID", unix.CAP_SYS_ADMIN: "SYS_ADMIN", unix.CAP_MKNOD: "MKNOD",
}

func (c Cred) String() string {
	s := fmt.Sprintf("u%d g%d", c.UID, c.GID)
	if len(c.Groups) > 0 {
		s += fmt.Sprintf(" G%v", c.Groups)
	}
	switch c.Caps {
	case AllCaps:
		s += " allcaps"
	case 0:
	default:
		var n []string
		for b := 0; b < 64; b++ {
			if c.Caps&(1<<b) != 0 {
				if name, ok := capNames[b]; ok {
					n = append(n, name)
				} else {
					n = append(n, fmt.Sprint(b))
				}
			}
		}
		s += " caps=" + strings.Join(n, "|")
	}
	return s
}

// Write is one write after an open: Off -1 is write(2) at the file offset,
// anything else pwrite(2).
type Write struct {
	Off  int64
	Data []byte
}

// Times selects utimensat's times argument.
const (
	TimesNow      = iota // NULL
	TimesExplicit        // two fixed times
	TimesOmit            // UTIME_OMIT for both
	TimesNowOmit         // UTIME_NOW, UTIME_OMIT
)

// Op is one operation with its caller.
type Op struct {
	Kind  Kind
	Cred  Cred
	Umask uint32

	Path, Path2 string // Path2: rename and link destination, symlink target
	Mode        uint32
	Dev         uint64
	Flags       int // open, AT_*, RENAME_* or XATTR_* flags
	UID, GID    int64
	Size        int64
	Name        string // xattr name
	Value       []byte
	Writes      []Write
	Times       int
	XFlags      int // AT_* flags of xattr operations (AT_SYMLINK_NOFOLLOW: l*xattr)
	Slot        int
	Off         int64
	// At is the directory a relative Path starts from: 0 for the working
	// directory (the root), k for the file open in slot k-1 (an *at(2)
	// dirfd; EBADF if the slot is closed).
	At int
}

func short(s string) string {
	if len(s) > 40 {
		return fmt.Sprintf("%.12s...(%d bytes)", s, len(s))
	}
	return s
}

func (o *Op) String() string {
	p, p2 := short(o.Path), short(o.Path2)
	var s string
	switch o.Kind {
	case OpMkdir:
		s = fmt.Sprintf("mkdir(%q, %#o)", p, o.Mode)
	case OpMknod:
		s = fmt.Sprintf("mknod(%q, %s|%#o, %d:%d)", p, typeName(o.Mode), o.Mode&0o7777, unix.Major(o.Dev), unix.Minor(o.Dev))
	case OpOpen:
		s = fmt.Sprintf("open(%q, %s, %#o)", p, openFlags(o.Flags), o.Mode)
		for _, w := range o.Writes {
			if w.Off < 0 {
				s += fmt.Sprintf("; write(%d)", len(w.Data))
			} else {
				s += fmt.Sprintf("; pwrite(%d, off %d)", len(w.Data), w.Off)
			}
		}
	case OpSymlink:
		s = fmt.Sprintf("symlink(%q -> %q)", p, p2)
	case OpLink:
		s = fmt.Sprintf("linkat(%q, %q, %#x)", p, p2, o.Flags)
	case OpUnlink, OpRmdir, OpStat, OpLstat, OpReadlink, OpGetdents, OpStatfs, OpListxattr, OpReadFile:
		s = fmt.Sprintf("%s(%q)", o.Kind, p)
		if o.Kind == OpListxattr && o.XFlags != 0 {
			s = "l" + s
		}
	case OpRename:
		s = fmt.Sprintf("renameat2(%q, %q, %s)", p, p2, renameFlags(o.Flags))
	case OpChmod:
		s = fmt.Sprintf("fchmodat2(%q, %#o, %#x)", p, o.Mode, o.Flags)
	case OpChown:
		s = fmt.Sprintf("fchownat(%q, %d, %d, %#x)", p, o.UID, o.GID, o.Flags)
	case OpUtimens:
		s = fmt.Sprintf("utimensat(%q, times%d, %#x)", p, o.Times, o.Flags)
	case OpTruncate:
		s = fmt.Sprintf("truncate(%q, %d)", p, o.Size)
	case OpSetxattr:
		s = fmt.Sprintf("setxattr(%q, %q, %d bytes, %d)", p, short(o.Name), len(o.Value), o.Flags)
	case OpGetxattr, OpRemovexattr:
		s = fmt.Sprintf("%s(%q, %q)", o.Kind, p, short(o.Name))
	case OpAccess:
		s = fmt.Sprintf("faccessat2(%q, %d, AT_EACCESS|%#x)", p, o.Mode, o.Flags)
	case OpFdOpen:
		s = fmt.Sprintf("fd%d = open(%q, %s, %#o)", o.Slot, p, openFlags(o.Flags), o.Mode)
	case OpFdRead:
		s = fmt.Sprintf("read(fd%d, %d)", o.Slot, o.Size)
		if o.Off >= 0 {
			s = fmt.Sprintf("pread(fd%d, %d, off %d)", o.Slot, o.Size, o.Off)
		}
	case OpFdWrite:
		s = fmt.Sprintf("write(fd%d, %d bytes)", o.Slot, len(o.Value))
		if o.Off >= 0 {
			s = fmt.Sprintf("pwrite(fd%d, %d bytes, off %d)", o.Slot, len(o.Value), o.Off)
		}
	case OpFdSeek:
		s = fmt.Sprintf("lseek(fd%d, %d, %d)", o.Slot, o.Off, o.Flags)
	case OpFdTruncate:
		s = fmt.Sprintf("ftruncate(fd%d, %d)", o.Slot, o.Size)
	case OpFdChmod:
		s = fmt.Sprintf("fchmod(fd%d, %#o)", o.Slot, o.Mode)
	case OpFdChown:
		s = fmt.Sprintf("fchown(fd%d, %d, %d)", o.Slot, o.UID, o.GID)
	case OpFdLink:
		s = fmt.Sprintf("linkat(fd%d, \"\", %q, AT_EMPTY_PATH)", o.Slot, p)
	case OpFdStat, OpFdGetdents, OpFdClose:
		s = fmt.Sprintf("%s(fd%d)", o.Kind, o.Slot)
	}
	if o.XFlags != 0 && (o.Kind == OpSetxattr || o.Kind == OpGetxattr || o.Kind == OpRemovexattr) {
		s = "l" + s
	}
	if o.At > 0 {
		s = fmt.Sprintf("at fd%d: %s", o.At-1, s)
	}
	return fmt.Sprintf("[%v umask %03o] %s", o.Cred, o.Umask, s)
}

func typeName(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return "S_IFREG"
	case unix.S_IFDIR:
		return "S_IFDIR"
	case unix.S_IFLNK:
		return "S_IFLNK"
	case unix.S_IFIFO:
		return "S_IFIFO"
	case unix.S_IFSOCK:
		return "S_IFSOCK"
	case unix.S_IFCHR:
		return "S_IFCHR"
	case unix.S_IFBLK:
		return "S_IFBLK"
	}
	return "0"
}

func openFlags(f int) string {
	var n []string
	switch f & unix.O_ACCMODE {
	case unix.O_RDONLY:
		n = append(n, "O_RDONLY")
	case unix.O_WRONLY:
		n = append(n, "O_WRONLY")
	case unix.O_RDWR:
		n = append(n, "O_RDWR")
	default:
		n = append(n, "3")
	}
	for _, b := range []struct {
		f    int
		name string
	}{{unix.O_CREAT, "O_CREAT"}, {unix.O_EXCL, "O_EXCL"}, {unix.O_TRUNC, "O_TRUNC"}, {unix.O_APPEND, "O_APPEND"},
		{unix.O_NOFOLLOW, "O_NOFOLLOW"}, {unix.O_DIRECTORY, "O_DIRECTORY"}, {unix.O_TMPFILE &^ unix.O_DIRECTORY, "O_TMPFILE"},
		{unix.O_PATH, "O_PATH"}} {
		if f&b.f != 0 {
			n = append(n, b.name)
		}
	}
	return strings.Join(n, "|")
}

func renameFlags(f int) string {
	var n []string
	for _, b := range []struct {
		f    int
		name string
	}{{unix.RENAME_NOREPLACE, "NOREPLACE"}, {unix.RENAME_EXCHANGE, "EXCHANGE"}, {unix.RENAME_WHITEOUT, "WHITEOUT"}} {
		if f&b.f != 0 {
			n = append(n, b.name)
		}
	}
	if len(n) == 0 {
		return "0"
	}
	return strings.Join(n, "|")
}

// Stat is the part of stat(2) that must match: not times, not st_ino.
type Stat struct {
	Mode   uint32
	Nlink  uint32
	UID    uint32
	GID    uint32
	Size   int64
	Blocks int64
	Rdev   uint64
	Ino    uint64 // for grouping hard links; never compared
}

func (s *Stat) String() string {
	str := fmt.Sprintf("%s|%04o nlink=%d %d:%d size=%d", typeName(s.Mode), s.Mode&0o7777, s.Nlink, s.UID, s.GID, s.Size)
	if s.Mode&unix.S_IFMT == unix.S_IFREG {
		str += fmt.Sprintf(" blocks=%d", s.Blocks)
	}
	if t := s.Mode & unix.S_IFMT; t == unix.S_IFCHR || t == unix.S_IFBLK {
		str += fmt.Sprintf(" rdev=%d:%d", unix.Major(s.Rdev), unix.Minor(s.Rdev))
	}
	return str
}

// Result is what an operation returned.
type Result struct {
	Err    unix.Errno
	Stat   *Stat    // stat, lstat; open's fstat after the writes
	Names  []string // getdents (sorted, without "." and ".."), listxattr
	Data   []byte   // readlink, getxattr, readfile
	Writes []int    // bytes written or -errno, per write; lseek's offset
	Skip   bool     // the operation was not run (see Host.Run)
}

func (r Result) String() string {
	if r.Skip {
		return "skipped"
	}
	if r.Err != 0 {
		s := unix.ErrnoName(r.Err)
		if s == "" {
			s = r.Err.Error()
		}
		return s
	}
	var parts []string
	if r.Writes != nil {
		parts = append(parts, fmt.Sprintf("writes=%v", r.Writes))
	}
	if r.Stat != nil {
		parts = append(parts, r.Stat.String())
	}
	if r.Names != nil {
		parts = append(parts, fmt.Sprintf("%q", r.Names))
	}
	if r.Data != nil {
		parts = append(parts, short(fmt.Sprintf("%q", r.Data)))
	}
	if len(parts) == 0 {
		return "ok"
	}
	return "ok " + strings.Join(parts, " ")
}

// Executor runs operations on one file system.
type Executor interface {
	// Run performs op. The root of the file system under test is "/" and
	// the working directory.
	Run(op *Op) Result
	Close() error
}
