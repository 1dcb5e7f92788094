package overlay

import (
	"errors"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
)

// opKind is an operation of the differential tests.
type opKind int

const (
	opCreate opKind = iota // open O_CREAT|O_WRONLY|O_TRUNC (|O_EXCL) and write data
	opAppend
	opRead
	opTruncate
	opMkdir
	opRmdir
	opUnlink
	opRename
	opLink
	opSymlink
	opChmod
	opChown
	opSetxattr
	opRemovexattr
	opGetxattr
	opUtimens
	opMkfifo
	opStat
	opReaddir
	opReadlink
	opWhiteout // mknod char 0/0
	opHold     // open O_RDONLY and keep it in slot size
	opReadHeld // pread the description in slot size from offset 0
	numOps
)

var opNames = [...]string{"create", "append", "read", "truncate", "mkdir", "rmdir", "unlink", "rename",
	"link", "symlink", "chmod", "chown", "setxattr", "removexattr", "getxattr", "utimens", "mkfifo",
	"stat", "readdir", "readlink", "whiteout", "hold", "readheld"}

type op struct {
	kind  opKind
	path  string
	path2 string // rename and link destination, symlink target
	flags int    // open and rename flags
	mode  uint32
	data  string // file data, xattr value
	name  string // xattr name
	size  int64
	uid   uint32
	ts    [2]unix.Timespec
}

func (o op) String() string {
	s := fmt.Sprintf("%s %s", opNames[o.kind], o.path)
	switch o.kind {
	case opRename, opLink, opSymlink:
		s += " " + o.path2
	}
	switch o.kind {
	case opCreate, opRename:
		s += fmt.Sprintf(" flags=%#x", o.flags)
	case opChmod, opMkdir:
		s += fmt.Sprintf(" mode=%#o", o.mode)
	case opTruncate, opHold, opReadHeld:
		s += fmt.Sprintf(" size=%d", o.size)
	case opSetxattr, opRemovexattr, opGetxattr:
		s += " " + o.name
	}
	return s
}

// result is what an operation returned: an errno and any output.
type result struct {
	err unix.Errno
	out string
}

func (r result) String() string { return fmt.Sprintf("err=%v out=%q", r.err, r.out) }

func errnoOf(err error) unix.Errno {
	if err == nil {
		return 0
	}
	var e unix.Errno
	if errors.As(err, &e) {
		return e
	}
	return unix.EIO
}

func fmtStat(typ, mode, uid, gid uint32, size int64, nlink uint32, rdev uint64) string {
	if typ == unix.S_IFCHR && rdev == 0 {
		// A whiteout's owner means nothing, and Linux's depends on
		// whether it came from an unlink or a rename.
		return "whiteout"
	}
	if typ == unix.S_IFDIR {
		return fmt.Sprintf("%o %o %d:%d", typ>>12, mode&0o7777, uid, gid)
	}
	if typ != unix.S_IFREG && typ != unix.S_IFLNK {
		size = 0
	}
	return fmt.Sprintf("%o %o %d:%d size=%d nlink=%d rdev=%d", typ>>12, mode&0o7777, uid, gid, size, nlink, rdev)
}

// hostExec runs operations with syscalls under root.
// held are the descriptions opHold keeps open, by slot.
type hostExec struct {
	root string
	held map[int64]int
}

func (h hostExec) p(s string) string { return h.root + s }

func (h hostExec) run(o op) result {
	p := h.p(o.path)
	var err error
	var out string
	switch o.kind {
	case opCreate, opAppend:
		flags := o.flags
		if o.kind == opAppend {
			flags = unix.O_WRONLY | unix.O_APPEND
		}
		var fd int
		if fd, err = unix.Open(p, flags|unix.O_CLOEXEC, o.mode); err == nil {
			if o.data != "" {
				_, err = unix.Write(fd, []byte(o.data))
			}
			unix.Close(fd)
		}
	case opRead:
		var b []byte
		b, err = os.ReadFile(p)
		out = string(b)
	case opTruncate:
		err = unix.Truncate(p, o.size)
	case opMkdir:
		err = unix.Mkdir(p, o.mode)
	case opRmdir:
		err = unix.Rmdir(p)
	case opUnlink:
		err = unix.Unlink(p)
	case opRename:
		err = unix.Renameat2(unix.AT_FDCWD, p, unix.AT_FDCWD, h.p(o.path2), uint(o.flags))
	case opLink:
		err = unix.Linkat(unix.AT_FDCWD, p, unix.AT_FDCWD, h.p(o.path2), 0)
	case opSymlink:
		err = unix.Symlink(o.path2, p)
	case opChmod:
		err = unix.Fchmodat(unix.AT_FDCWD, p, o.mode, 0)
	case opChown:
		err = unix.Lchown(p, int(o.uid), int(o.uid))
	case opSetxattr:
		err = unix.Lsetxattr(p, o.name, []byte(o.data), 0)
	case opRemovexattr:
		err = unix.Lremovexattr(p, o.name)
	case opGetxattr:
		buf := make([]byte, 256)
		var k int
		if k, err = unix.Lgetxattr(p, o.name, buf); err == nil {
			out = string(buf[:k])
		}
	case opUtimens:
		err = unix.UtimesNanoAt(unix.AT_FDCWD, p, o.ts[:], unix.AT_SYMLINK_NOFOLLOW)
	case opMkfifo:
		err = unix.Mknod(p, unix.S_IFIFO|o.mode, 0)
	case opWhiteout:
		err = unix.Mknod(p, unix.S_IFCHR, 0)
	case opStat:
		var st unix.Stat_t
		if err = unix.Lstat(p, &st); err == nil {
			out = fmtStat(st.Mode&unix.S_IFMT, st.Mode, st.Uid, st.Gid, st.Size, uint32(st.Nlink), st.Rdev)
		}
	case opReaddir:
		var ents []os.DirEntry
		if ents, err = os.ReadDir(p); err == nil {
			var names []string
			for _, e := range ents {
				if h.ghost(path.Join(o.path, e.Name())) {
					continue
				}
				names = append(names, e.Name()+":"+e.Type().String())
			}
			out = strings.Join(names, " ")
		}
	case opReadlink:
		out, err = os.Readlink(p)
	case opHold:
		var fd int
		if fd, err = unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0); err == nil {
			if old, ok := h.held[o.size]; ok {
				unix.Close(old)
			}
			h.held[o.size] = fd
		}
	case opReadHeld:
		fd, ok := h.held[o.size]
		if !ok {
			err = unix.EBADF
			break
		}
		buf := make([]byte, 64)
		var k int
		if k, err = unix.Pread(fd, buf, 0); err == nil {
			out = string(buf[:k])
		}
	}
	return result{errnoOf(err), out}
}

func (h hostExec) close() {
	for _, fd := range h.held {
		unix.Close(fd)
	}
}

func (h hostExec) dump(raw bool) []string {
	var lines []string
	var walk func(rel string)
	walk = func(rel string) {
		p := h.p(rel)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			lines = append(lines, rel+" "+err.Error())
			return
		}
		typ := st.Mode & unix.S_IFMT
		line := rel + " " + fmtStat(typ, st.Mode, st.Uid, st.Gid, st.Size, 0, st.Rdev)
		switch typ {
		case unix.S_IFREG:
			b, _ := os.ReadFile(p)
			line += fmt.Sprintf(" data=%q", b)
		case unix.S_IFLNK:
			t, _ := os.Readlink(p)
			line += " -> " + t
		}
		line += hostXattrs(p, raw)
		lines = append(lines, line)
		if typ == unix.S_IFDIR {
			ents, _ := os.ReadDir(p)
			for _, e := range ents {
				if c := path.Join(rel, e.Name()); !h.ghost(c) {
					walk(c)
				}
			}
		}
	}
	walk("/")
	return lines
}

// ghost reports an entry Linux lists but cannot look up: a whiteout in a
// lower directory that is not merged with anything. Ours hides it from
// readdir as lookup does (a deliberate difference).
func (h hostExec) ghost(p string) bool {
	var st unix.Stat_t
	return unix.Lstat(h.p(p), &st) == unix.ENOENT
}

func hostXattrs(p string, raw bool) string {
	buf := make([]byte, 4096)
	k, err := unix.Llistxattr(p, buf)
	if err != nil {
		return ""
	}
	var names []string
	for _, n := range strings.Split(string(buf[:k]), "\x00") {
		if strings.HasPrefix(n, "user.") || (raw && (n == opaqueXattr || strings.HasPrefix(n, escapedPfx))) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	s := ""
	for _, n := range names {
		v := make([]byte, 256)
		k, _ := unix.Lgetxattr(p, n, v)
		s += fmt.Sprintf(" %s=%q", n, v[:max(k, 0)])
	}
	return s
}

// vfsExec runs operations through a sentry VFS.
type vfsExec struct {
	n    *ns
	held map[int64]*fs.FileDescription
}

func (x vfsExec) run(o op) result {
	v, ctx, root := x.n.v, x.n.ctx, x.n.v.Root()
	var err error
	var out string
	switch o.kind {
	case opCreate, opAppend:
		flags := o.flags
		if o.kind == opAppend {
			flags = unix.O_WRONLY | unix.O_APPEND
		}
		var fd *fs.FileDescription
		if fd, err = v.Open(ctx, root, o.path, fs.OpenHow{Flags: flags, Mode: o.mode}); err == nil {
			if o.data != "" {
				_, err = fd.Write([]byte(o.data))
			}
			fd.Close()
		}
	case opRead:
		out, err = x.n.read(o.path)
	case opTruncate:
		err = v.Truncate(ctx, root, o.path, o.size)
	case opMkdir:
		err = v.Mkdir(ctx, root, o.path, o.mode)
	case opRmdir:
		err = v.Rmdir(ctx, root, o.path)
	case opUnlink:
		err = v.Unlink(ctx, root, o.path)
	case opRename:
		err = v.Rename(ctx, root, o.path, root, o.path2, uint32(o.flags))
	case opLink:
		err = v.Link(ctx, root, o.path, root, o.path2, 0)
	case opSymlink:
		err = v.Symlink(ctx, o.path2, root, o.path)
	case opChmod:
		err = v.Chmod(ctx, root, o.path, o.mode, 0)
	case opChown:
		err = v.Chown(ctx, root, o.path, int64(o.uid), int64(o.uid), unix.AT_SYMLINK_NOFOLLOW)
	case opSetxattr:
		err = v.Setxattr(ctx, root, o.path, unix.AT_SYMLINK_NOFOLLOW, o.name, []byte(o.data), 0)
	case opRemovexattr:
		err = v.Removexattr(ctx, root, o.path, unix.AT_SYMLINK_NOFOLLOW, o.name)
	case opGetxattr:
		var b []byte
		b, err = v.Getxattr(ctx, root, o.path, unix.AT_SYMLINK_NOFOLLOW, o.name)
		out = string(b)
	case opUtimens:
		ts := o.ts
		err = v.Utimens(ctx, root, o.path, &ts, unix.AT_SYMLINK_NOFOLLOW)
	case opMkfifo:
		err = v.Mknod(ctx, root, o.path, unix.S_IFIFO|o.mode, 0)
	case opWhiteout:
		err = v.Mknod(ctx, root, o.path, unix.S_IFCHR, 0)
	case opStat:
		var st fs.Stat
		if st, err = v.Stat(ctx, root, o.path, unix.AT_SYMLINK_NOFOLLOW); err == nil {
			out = fmtStat(st.Type(), st.Mode, st.UID, st.GID, st.Size, st.Nlink, st.Rdev)
		}
	case opReaddir:
		var names []string
		if names, err = x.readdir(o.path); err == nil {
			out = strings.Join(names, " ")
		}
	case opReadlink:
		out, err = v.Readlink(ctx, root, o.path)
	case opHold:
		var fd *fs.FileDescription
		if fd, err = v.Open(ctx, root, o.path, fs.OpenHow{Flags: unix.O_RDONLY | unix.O_NOFOLLOW}); err == nil {
			if old := x.held[o.size]; old != nil {
				old.Close()
			}
			x.held[o.size] = fd
		}
	case opReadHeld:
		fd := x.held[o.size]
		if fd == nil {
			err = unix.EBADF
			break
		}
		buf := make([]byte, 64)
		var k int
		if k, err = fd.Pread(buf, 0); err == nil {
			out = string(buf[:k])
		}
	}
	return result{errnoOf(err), out}
}

func (x vfsExec) close() {
	for _, fd := range x.held {
		fd.Close()
	}
}

// readdir lists a directory as os.ReadDir does: sorted, with DT types.
func (x vfsExec) readdir(p string) ([]string, error) {
	fd, err := x.n.v.Open(x.n.ctx, x.n.v.Root(), p, fs.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY})
	if err != nil {
		return nil, err
	}
	defer fd.Close()
	var ents []fs.DirEntry
	if err := fd.Getdents(func(e fs.DirEntry) bool {
		if e.Name != "." && e.Name != ".." {
			ents = append(ents, e)
		}
		return true
	}); err != nil {
		return nil, err
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name < ents[j].Name })
	var names []string
	for _, e := range ents {
		// os.FileMode's type bits, as hostExec prints them.
		names = append(names, e.Name+":"+dtMode(e.Type).String())
	}
	return names, nil
}

func dtMode(t uint8) os.FileMode {
	switch t {
	case unix.DT_DIR:
		return os.ModeDir
	case unix.DT_LNK:
		return os.ModeSymlink
	case unix.DT_FIFO:
		return os.ModeNamedPipe
	case unix.DT_SOCK:
		return os.ModeSocket
	case unix.DT_CHR:
		return os.ModeDevice | os.ModeCharDevice
	case unix.DT_BLK:
		return os.ModeDevice
	}
	return 0
}

func (x vfsExec) dump(raw bool) []string {
	v, ctx, root := x.n.v, x.n.ctx, x.n.v.Root()
	var lines []string
	var walk func(rel string)
	walk = func(rel string) {
		st, err := v.Stat(ctx, root, rel, unix.AT_SYMLINK_NOFOLLOW)
		if err != nil {
			lines = append(lines, rel+" "+err.Error())
			return
		}
		line := rel + " " + fmtStat(st.Type(), st.Mode, st.UID, st.GID, st.Size, 0, st.Rdev)
		switch st.Type() {
		case unix.S_IFREG:
			b, _ := x.n.read(rel)
			line += fmt.Sprintf(" data=%q", b)
		case unix.S_IFLNK:
			t, _ := v.Readlink(ctx, root, rel)
			line += " -> " + t
		}
		names, _ := v.Listxattr(ctx, root, rel, unix.AT_SYMLINK_NOFOLLOW)
		var keep []string
		for _, n := range names {
			if strings.HasPrefix(n, "user.") || (raw && (n == opaqueXattr || strings.HasPrefix(n, escapedPfx))) {
				keep = append(keep, n)
			}
		}
		sort.Strings(keep)
		for _, n := range keep {
			val, _ := v.Getxattr(ctx, root, rel, unix.AT_SYMLINK_NOFOLLOW, n)
			line += fmt.Sprintf(" %s=%q", n, val)
		}
		lines = append(lines, line)
		if st.IsDir() {
			ents, _ := x.readdir(rel)
			for _, e := range ents {
				walk(path.Join(rel, e[:strings.LastIndexByte(e, ':')]))
			}
		}
	}
	walk("/")
	return lines
}

func (x vfsExec) typeOf(p string, flags int) uint32 {
	st, err := x.n.v.Stat(x.n.ctx, x.n.v.Root(), p, flags)
	if err != nil {
		return 0
	}
	return st.Type()
}

func (x vfsExec) isDir(p string) bool { return x.typeOf(p, unix.AT_SYMLINK_NOFOLLOW) == unix.S_IFDIR }

func (x vfsExec) isSymlink(p string) bool {
	return x.typeOf(p, unix.AT_SYMLINK_NOFOLLOW) == unix.S_IFLNK
}

func (x vfsExec) isSpecial(p string) bool {
	t := x.typeOf(p, 0)
	return t == unix.S_IFIFO || t == unix.S_IFCHR || t == unix.S_IFBLK
}
