package p9

import (
	"fmt"
	"strings"
)

// Protocol limits.
const (
	// MaxWalkElements is the most names one Twalk may carry (9P's MAXWELEM).
	MaxWalkElements = 16
	// MaxNameLen bounds every name and string field (Linux's NAME_MAX is 255,
	// a symlink target may be PATH_MAX).
	MaxNameLen = 4096
	// MaxXattrSize is Linux's XATTR_SIZE_MAX: the largest value or list a
	// Txattrwalk or Txattrcreate may move.
	MaxXattrSize = 65536
	// NoTag is the tag of Tversion.
	NoTag uint16 = 0xFFFF
	// NoFID means "no fid" (the afid of an unauthenticated Tattach).
	NoFID uint32 = 0xFFFFFFFF
	// NoUID means "no uid" in Tattach's n_uname and Tsetattr.
	NoUID UID = 0xFFFFFFFF
	// NoGID means "no gid".
	NoGID GID = 0xFFFFFFFF

	// headerSize is size[4] type[1] tag[2].
	headerSize = 7
	// readHeaderSize is the overhead of Rread/Rreaddir around the data.
	readHeaderSize = headerSize + 4
	// ioHeaderSize is the I/O overhead 9P implementations budget for
	// (Linux's P9_IOHDRSZ): clients keep Tread, Twrite and Treaddir counts
	// within msize-ioHeaderSize, which some servers (diod) insist on.
	ioHeaderSize = 24
	// MinMessageSize is the smallest msize either side accepts: room for
	// a walk of MaxWalkElements maximal names would be far more, but any
	// sane peer offers at least this.
	MinMessageSize = 4096
	// DefaultMessageSize is what NewClient proposes and servers accept by
	// default; it is lowered when a socket cannot carry datagrams this big.
	DefaultMessageSize = 1<<20 + 4096
)

// Version strings. VersionL is standard 9P2000.L; VersionExt is the same
// protocol plus the extensions in the package documentation.
const (
	VersionL   = "9P2000.L"
	VersionExt = "9P2000.L.runsc"
)

// UID and GID are numeric Linux ids.
type (
	UID uint32
	GID uint32
)

// QIDType is the high byte of a Linux-style mode, as 9P carries it.
type QIDType uint8

// QID types.
const (
	QTDir     QIDType = 0x80
	QTAppend  QIDType = 0x40
	QTExcl    QIDType = 0x20
	QTMount   QIDType = 0x10
	QTAuth    QIDType = 0x08
	QTTmp     QIDType = 0x04
	QTSymlink QIDType = 0x02
	QTLink    QIDType = 0x01
	QTFile    QIDType = 0x00
)

// QID is the server's unique identity of a file.
type QID struct {
	Type    QIDType
	Version uint32
	Path    uint64
}

func (q QID) String() string {
	return fmt.Sprintf("QID{Type:%#x Version:%d Path:%d}", uint8(q.Type), q.Version, q.Path)
}

// QIDTypeFromMode maps the S_IFMT bits of a Linux mode to a QID type.
func QIDTypeFromMode(mode uint32) QIDType {
	switch mode & S_IFMT {
	case S_IFDIR:
		return QTDir
	case S_IFLNK:
		return QTSymlink
	default:
		return QTFile
	}
}

// File type bits of a Linux mode (the wire carries Linux values).
//
//revive:disable:var-naming
const (
	S_IFMT   = 0o170000
	S_IFSOCK = 0o140000
	S_IFLNK  = 0o120000
	S_IFREG  = 0o100000
	S_IFBLK  = 0o060000
	S_IFDIR  = 0o040000
	S_IFCHR  = 0o020000
	S_IFIFO  = 0o010000
)

// OpenFlags are Tlopen/Tlcreate flags. 9P2000.L's values equal Linux x86's.
type OpenFlags uint32

// Open flags.
const (
	ReadOnly      OpenFlags = 0
	WriteOnly     OpenFlags = 1
	ReadWrite     OpenFlags = 2
	OpenAccMode   OpenFlags = 3
	OpenCreate    OpenFlags = 0o100
	OpenExcl      OpenFlags = 0o200
	OpenNoCTTY    OpenFlags = 0o400
	OpenTrunc     OpenFlags = 0o1000
	OpenAppend    OpenFlags = 0o2000
	OpenNonBlock  OpenFlags = 0o4000
	OpenDSync     OpenFlags = 0o10000
	OpenDirect    OpenFlags = 0o40000
	OpenLargeFile OpenFlags = 0o100000
	OpenDirectory OpenFlags = 0o200000
	OpenNoFollow  OpenFlags = 0o400000
	OpenNoATime   OpenFlags = 0o1000000
	OpenCloExec   OpenFlags = 0o2000000
	OpenSync      OpenFlags = 0o4010000
)

// Writable reports whether the flags ask for write access or truncation.
func (f OpenFlags) Writable() bool {
	return f&OpenAccMode != ReadOnly || f&OpenTrunc != 0
}

// AttrMask selects Tgetattr fields (request_mask, valid).
type AttrMask uint64

// Tgetattr mask bits.
const (
	AttrMode        AttrMask = 0x1
	AttrNLink       AttrMask = 0x2
	AttrUID         AttrMask = 0x4
	AttrGID         AttrMask = 0x8
	AttrRDev        AttrMask = 0x10
	AttrATime       AttrMask = 0x20
	AttrMTime       AttrMask = 0x40
	AttrCTime       AttrMask = 0x80
	AttrIno         AttrMask = 0x100
	AttrSize        AttrMask = 0x200
	AttrBlocks      AttrMask = 0x400
	AttrBTime       AttrMask = 0x800
	AttrGen         AttrMask = 0x1000
	AttrDataVersion AttrMask = 0x2000
	AttrBasic       AttrMask = 0x7ff
	AttrAll         AttrMask = 0x3fff
)

// Attr is the body of Rgetattr.
type Attr struct {
	Mode        uint32 // including S_IFMT
	UID         UID
	GID         GID
	NLink       uint64
	RDev        uint64
	Size        uint64
	BlockSize   uint64
	Blocks      uint64
	ATimeSec    uint64
	ATimeNsec   uint64
	MTimeSec    uint64
	MTimeNsec   uint64
	CTimeSec    uint64
	CTimeNsec   uint64
	BTimeSec    uint64
	BTimeNsec   uint64
	Gen         uint64
	DataVersion uint64
}

func (e *encoder) attr(a *Attr) {
	e.u32(a.Mode)
	e.u32(uint32(a.UID))
	e.u32(uint32(a.GID))
	for _, v := range [...]uint64{a.NLink, a.RDev, a.Size, a.BlockSize, a.Blocks,
		a.ATimeSec, a.ATimeNsec, a.MTimeSec, a.MTimeNsec, a.CTimeSec, a.CTimeNsec,
		a.BTimeSec, a.BTimeNsec, a.Gen, a.DataVersion} {
		e.u64(v)
	}
}

func (d *decoder) attr(a *Attr) {
	a.Mode = d.u32()
	a.UID = UID(d.u32())
	a.GID = GID(d.u32())
	for _, p := range [...]*uint64{&a.NLink, &a.RDev, &a.Size, &a.BlockSize, &a.Blocks,
		&a.ATimeSec, &a.ATimeNsec, &a.MTimeSec, &a.MTimeNsec, &a.CTimeSec, &a.CTimeNsec,
		&a.BTimeSec, &a.BTimeNsec, &a.Gen, &a.DataVersion} {
		*p = d.u64()
	}
}

// SetAttrMask selects Tsetattr fields.
type SetAttrMask uint32

// Tsetattr valid bits.
const (
	SetAttrMode     SetAttrMask = 0x1
	SetAttrUID      SetAttrMask = 0x2
	SetAttrGID      SetAttrMask = 0x4
	SetAttrSize     SetAttrMask = 0x8
	SetAttrATime    SetAttrMask = 0x10
	SetAttrMTime    SetAttrMask = 0x20
	SetAttrCTime    SetAttrMask = 0x40
	SetAttrATimeSet SetAttrMask = 0x80 // use ATime* rather than "now"
	SetAttrMTimeSet SetAttrMask = 0x100
)

// SetAttr is the body of Tsetattr.
type SetAttr struct {
	Mode      uint32
	UID       UID
	GID       GID
	Size      uint64
	ATimeSec  uint64
	ATimeNsec uint64
	MTimeSec  uint64
	MTimeNsec uint64
}

// StatFS is the body of Rstatfs.
type StatFS struct {
	Type      uint32
	BlockSize uint32
	Blocks    uint64
	BFree     uint64
	BAvail    uint64
	Files     uint64
	FFree     uint64
	FSID      uint64
	NameLen   uint32
}

// Dirent is one entry of Rreaddir. Offset is the cookie to pass to the next
// Treaddir to continue after this entry.
type Dirent struct {
	QID    QID
	Offset uint64
	Type   uint8 // Linux DT_* value
	Name   string
}

// direntSize is the encoded size of a Dirent without its name.
const direntSize = qidSize + 8 + 1 + 2

// EncodedSize is the number of bytes d takes in an Rreaddir.
func (d *Dirent) EncodedSize() int { return direntSize + len(d.Name) }

// LockType is the lock type of Tlock/Tgetlock.
type LockType uint8

// Lock types.
const (
	LockRead   LockType = 0
	LockWrite  LockType = 1
	LockUnlock LockType = 2
)

// LockFlags are Tlock flags.
type LockFlags uint32

// Lock flags.
const (
	LockBlock   LockFlags = 1
	LockReclaim LockFlags = 2
)

// LockStatus is Rlock's status.
type LockStatus uint8

// Lock statuses.
const (
	LockSuccess LockStatus = 0
	LockBlocked LockStatus = 1
	LockError   LockStatus = 2
	LockGrace   LockStatus = 3
)

// Lock describes a POSIX byte-range lock (Tlock, Tgetlock, Rgetlock).
type Lock struct {
	Type     LockType
	Flags    LockFlags // Tlock only
	Start    uint64
	Length   uint64 // 0 means "to end of file"
	ProcID   uint32
	ClientID string
}

// Unlinkat flags.
const (
	// RemoveDir is AT_REMOVEDIR.
	RemoveDir uint32 = 0x200
)

// Xattr flags for SetXattr (Linux's XATTR_CREATE, XATTR_REPLACE).
const (
	XattrCreate  uint32 = 1
	XattrReplace uint32 = 2
)

// checkString reports whether s may be sent as a 9P string.
func checkString(s string) bool { return len(s) <= MaxNameLen }

// ValidName reports whether name is a single path component a server may
// resolve: not empty, not "." or "..", no '/' and no NUL. Both sides check it;
// servers must not rely on clients doing so.
func ValidName(name string) bool {
	return name != "" && name != "." && name != ".." && len(name) <= 255 &&
		!strings.ContainsAny(name, "/\x00")
}
