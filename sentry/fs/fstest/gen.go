package fstest

import (
	"math/rand"
	"strings"

	"golang.org/x/sys/unix"
)

// Generator makes random operations from a seed. The same seed always gives
// the same sequence.
type Generator struct {
	r *rand.Rand
	// slotCred is who opened each slot: operations on an open file run as
	// its opener (the VFS takes a file's credentials from its opener).
	slotCred [Slots]Cred
	// Names is the pool of path components; small so that operations keep
	// meeting each other's files.
	Names []string
}

// NewGenerator returns a generator for seed.
func NewGenerator(seed int64) *Generator {
	return &Generator{r: rand.New(rand.NewSource(seed)), Names: []string{"a", "b", "c", "d", "e"}}
}

func (g *Generator) pick(n int) int { return g.r.Intn(n) }

func (g *Generator) chance(p float64) bool { return g.r.Float64() < p }

// Ops returns n operations.
func (g *Generator) Ops(n int) []Op {
	ops := make([]Op, n)
	for i := range ops {
		ops[i] = g.Op()
	}
	return ops
}

// weights of the operation kinds: creation is frequent so the tree grows.
var weights = [numKinds]int{
	OpMkdir: 10, OpMknod: 6, OpOpen: 14, OpSymlink: 6, OpLink: 5, OpUnlink: 5, OpRmdir: 4,
	OpRename: 9, OpStat: 4, OpLstat: 3, OpReadlink: 2, OpChmod: 5, OpChown: 5, OpUtimens: 2,
	OpTruncate: 3, OpSetxattr: 5, OpGetxattr: 3, OpListxattr: 2, OpRemovexattr: 2, OpAccess: 3,
	OpGetdents: 3, OpStatfs: 1,
	OpFdOpen: 6, OpFdRead: 3, OpFdWrite: 4, OpFdSeek: 2, OpFdTruncate: 2, OpFdStat: 2, OpFdGetdents: 2,
	OpFdChmod: 1, OpFdChown: 1, OpFdClose: 2, OpFdLink: 1,
}

var totalWeight = func() int {
	t := 0
	for _, w := range weights {
		t += w
	}
	return t
}()

// Op returns one random operation.
func (g *Generator) Op() Op {
	w := g.pick(totalWeight)
	k := Kind(0)
	for ; w >= weights[k]; k++ {
		w -= weights[k]
	}
	op := Op{Kind: k, Cred: g.cred(), Umask: g.umask(), Path: g.path()}
	switch k {
	case OpMkdir:
		op.Mode = g.mode()
	case OpMknod:
		op.Mode = g.mode() & 0o7777
		switch g.pick(8) {
		case 6:
			op.Mode |= unix.S_IFBLK
			op.Dev = unix.Mkdev(7, 0)
		case 7:
			op.Mode |= []uint32{unix.S_IFDIR, unix.S_IFLNK, 0o170000}[g.pick(3)]
		case 0:
			op.Mode |= unix.S_IFREG
		case 1:
			op.Mode |= unix.S_IFIFO
		case 2:
			op.Mode |= unix.S_IFSOCK
		case 3:
			op.Mode |= unix.S_IFCHR
		case 4:
			op.Mode |= unix.S_IFCHR
			op.Dev = unix.Mkdev(1, 3)
		case 5:
			// no type: a regular file
		}
	case OpOpen:
		op.Flags = g.openFlags()
		op.Mode = g.mode()
		if op.Flags&unix.O_ACCMODE != unix.O_RDONLY {
			for range g.pick(4) {
				op.Writes = append(op.Writes, g.write())
			}
		}
	case OpSymlink:
		op.Path2 = g.target()
	case OpLink:
		op.Path2 = g.path()
		if g.chance(0.4) {
			op.Flags = unix.AT_SYMLINK_FOLLOW
		}
	case OpRename:
		op.Path2 = g.path()
		switch g.pick(8) {
		case 0:
			op.Flags = unix.RENAME_NOREPLACE
		case 1:
			op.Flags = unix.RENAME_EXCHANGE
		case 2:
			op.Flags = unix.RENAME_WHITEOUT
		case 3:
			op.Flags = unix.RENAME_EXCHANGE | unix.RENAME_NOREPLACE
		}
	case OpChmod:
		op.Mode = uint32(g.pick(0o10000))
		if g.chance(0.5) {
			op.Mode &= 0o777
		}
		if g.chance(0.1) {
			op.Flags = unix.AT_SYMLINK_NOFOLLOW
		}
	case OpChown:
		ids := []int64{-1, 0, 1000, 1001, 2000}
		op.UID, op.GID = ids[g.pick(len(ids))], ids[g.pick(len(ids))]
		if g.chance(0.3) {
			op.Flags = unix.AT_SYMLINK_NOFOLLOW
		}
	case OpUtimens:
		op.Times = g.pick(4)
		if g.chance(0.3) {
			op.Flags = unix.AT_SYMLINK_NOFOLLOW
		}
	case OpTruncate:
		sizes := []int64{0, 1, 100, 4096, 5000, 70000, -1}
		op.Size = sizes[g.pick(len(sizes))]
	case OpSetxattr, OpGetxattr, OpRemovexattr:
		op.Name = g.xattrName()
		if k == OpSetxattr {
			op.Value = g.data(g.pick(3) * g.pick(40))
			if g.chance(0.01) {
				op.Value = g.data(65537)
			}
			op.Flags = []int{0, 0, unix.XATTR_CREATE, unix.XATTR_REPLACE}[g.pick(4)]
		}
		if g.chance(0.3) {
			op.XFlags = unix.AT_SYMLINK_NOFOLLOW
		}
	case OpListxattr:
		if g.chance(0.3) {
			op.XFlags = unix.AT_SYMLINK_NOFOLLOW
		}
	case OpAccess:
		op.Mode = uint32(g.pick(8))
		if g.chance(0.3) {
			op.Flags = unix.AT_SYMLINK_NOFOLLOW
		}
	case OpFdOpen:
		op.Slot = g.pick(Slots)
		op.Flags = g.openFlags()
		if g.chance(0.05) {
			op.Flags = unix.O_PATH | op.Flags&(unix.O_NOFOLLOW|unix.O_DIRECTORY)
		}
		if g.chance(0.1) {
			// O_TMPFILE, now and then with a flag that makes it invalid.
			op.Flags = unix.O_TMPFILE | []int{unix.O_WRONLY, unix.O_RDWR, unix.O_RDWR, unix.O_RDONLY, 3}[g.pick(5)]
			op.Flags |= []int{0, 0, 0, unix.O_EXCL, unix.O_CREAT, unix.O_NOFOLLOW}[g.pick(6)]
		}
		op.Mode = g.mode()
		g.slotCred[op.Slot] = op.Cred
	}
	switch k {
	case OpMkdir, OpMknod, OpOpen, OpFdOpen, OpSymlink, OpUnlink, OpRmdir, OpStat, OpLstat, OpReadlink,
		OpChmod, OpChown, OpUtimens, OpAccess, OpGetdents:
		if g.chance(0.15) {
			op.At = 1 + g.pick(Slots)
		}
	}
	if k > OpFdOpen {
		op.Slot = g.pick(Slots)
		if k != OpFdLink {
			op.Cred, op.Path = g.slotCred[op.Slot], ""
		}
		op.Off = -1
		switch k {
		case OpFdRead:
			op.Size = int64([]int{1, 10, 5000, 100000}[g.pick(4)])
			if g.chance(0.5) {
				op.Off = int64(g.pick(80000))
			}
		case OpFdWrite:
			w := g.write()
			op.Value, op.Off = w.Data, w.Off
		case OpFdSeek:
			op.Flags = []int{0, 1, 2, unix.SEEK_DATA, unix.SEEK_HOLE, 7}[g.pick(6)]
			op.Off = []int64{0, 0, 10, 4096, 70000, -1, -100000}[g.pick(7)]
		case OpFdTruncate:
			op.Size = []int64{0, 1, 4096, 5000, 70000, -1}[g.pick(6)]
		case OpFdChmod:
			op.Mode = uint32(g.pick(0o10000))
		case OpFdChown:
			ids := []int64{-1, 0, 1000, 1001, 2000}
			op.UID, op.GID = ids[g.pick(len(ids))], ids[g.pick(len(ids))]
		}
	}
	return op
}

// cred is root with every capability half of the time, otherwise a user
// with a random set of the capabilities file systems check.
func (g *Generator) cred() Cred {
	if g.chance(0.4) {
		return RootCred
	}
	ids := []uint32{1000, 1001, 0}
	c := Cred{UID: ids[g.pick(3)], GID: ids[g.pick(3)]}
	for _, gid := range []uint32{0, 1000, 1001, 2000} {
		if g.chance(0.25) {
			c.Groups = append(c.Groups, gid)
		}
	}
	if g.chance(0.5) {
		for _, cp := range []int{unix.CAP_CHOWN, unix.CAP_DAC_OVERRIDE, unix.CAP_DAC_READ_SEARCH, unix.CAP_FOWNER,
			unix.CAP_FSETID, unix.CAP_SYS_ADMIN, unix.CAP_MKNOD} {
			if g.chance(0.25) {
				c.Caps |= 1 << cp
			}
		}
	}
	return c
}

func (g *Generator) umask() uint32 {
	return []uint32{0o022, 0o022, 0, 0o077, 0o002, 0o777, 0o027}[g.pick(7)]
}

func (g *Generator) mode() uint32 {
	switch g.pick(4) {
	case 0:
		return uint32(g.pick(0o10000))
	case 1:
		return 0o755
	case 2:
		return 0o777
	default:
		return 0o644 | uint32(g.pick(8))<<9
	}
}

func (g *Generator) name() string { return g.Names[g.pick(len(g.Names))] }

// path is 1 to 3 components from the pool, with now and then an absolute
// start, "." or "..", a trailing slash, or a name or path that is too long.
func (g *Generator) path() string {
	switch {
	case g.chance(0.005):
		return strings.Repeat("x", 256)
	case g.chance(0.005):
		return strings.Repeat("a/", 2049)
	case g.chance(0.01):
		return []string{".", "..", "/", ""}[g.pick(4)]
	}
	depth := 1
	if r := g.pick(100); r >= 85 {
		depth = 3
	} else if r >= 50 {
		depth = 2
	}
	var parts []string
	for range depth {
		switch {
		case g.chance(0.03):
			parts = append(parts, ".")
		case g.chance(0.03):
			parts = append(parts, "..")
		default:
			parts = append(parts, g.name())
		}
	}
	p := strings.Join(parts, "/")
	if g.chance(0.1) {
		p = "/" + p
	}
	if g.chance(0.05) {
		p += "/"
	}
	if g.chance(0.005) {
		p += "/" + strings.Repeat("y", 256)
	}
	return p
}

// target is a symlink target: relative (often dangling), absolute, or
// through "..".
func (g *Generator) target() string {
	switch g.pick(8) {
	case 0:
		return "/" + g.path()
	case 1:
		return "../" + g.name()
	case 2:
		return "zz"
	case 3:
		return g.name() + "/"
	case 4:
		return strings.Repeat("t", 130)
	default:
		return g.path()
	}
}

func (g *Generator) openFlags() int {
	f := []int{unix.O_RDONLY, unix.O_WRONLY, unix.O_RDWR, unix.O_RDWR, unix.O_WRONLY, 3}[g.pick(6)]
	for _, b := range []struct {
		flag int
		p    float64
	}{{unix.O_CREAT, 0.6}, {unix.O_EXCL, 0.15}, {unix.O_TRUNC, 0.2}, {unix.O_APPEND, 0.15},
		{unix.O_NOFOLLOW, 0.1}, {unix.O_DIRECTORY, 0.05}} {
		if g.chance(b.p) {
			f |= b.flag
		}
	}
	return f
}

func (g *Generator) data(n int) []byte {
	b := make([]byte, n)
	c := byte('A' + g.pick(26))
	for i := range b {
		b[i] = c + byte(i%7)
	}
	return b
}

// write is a write at the file offset or at a random (sometimes sparse)
// offset.
func (g *Generator) write() Write {
	n := []int{0, 1, 10, 100, 4096, 5000}[g.pick(6)]
	w := Write{Off: -1, Data: g.data(n)}
	switch g.pick(3) {
	case 0:
		w.Off = int64(g.pick(200))
	case 1:
		w.Off = int64(g.pick(100000))
	}
	return w
}

func (g *Generator) xattrName() string {
	ns := []string{"user.", "user.", "trusted.", "security.", "bogus.", "user"}[g.pick(6)]
	switch g.pick(20) {
	case 0:
		return ns
	case 1:
		return "user." + strings.Repeat("n", 251)
	}
	return ns + []string{"x", "y", "z"}[g.pick(3)]
}
