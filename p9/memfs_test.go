package p9

// A small in-memory backend for exercising the server and client. One mutex
// guards the whole tree; hooks let tests block or count operations.

import (
	"os"
	"slices"
	"sort"
	"sync"

	"golang.org/x/sys/unix"
)

type memNode struct {
	mode     uint32
	ino      uint64
	uid      UID
	gid      GID
	data     []byte
	target   string
	children map[string]*memNode
	xattrs   map[string][]byte
	rdev     uint64
}

type memFS struct {
	mu      sync.Mutex
	nextIno uint64
	root    *memNode
	locks   map[*memNode]Lock
	// getattrHook, if set, runs (without mu held) at the start of GetAttr;
	// set it under mu.
	getattrHook func(name string)
	closes      int
}

func newMemFS() *memFS {
	fs := &memFS{nextIno: 1, locks: map[*memNode]Lock{}}
	fs.root = fs.newNode(S_IFDIR|0o755, 0, 0)
	return fs
}

func (fs *memFS) newNode(mode uint32, uid UID, gid GID) *memNode {
	fs.nextIno++
	n := &memNode{mode: mode, ino: fs.nextIno, uid: uid, gid: gid, xattrs: map[string][]byte{}}
	if mode&S_IFMT == S_IFDIR {
		n.children = map[string]*memNode{}
	}
	return n
}

func (fs *memFS) setHook(h func(name string)) {
	fs.mu.Lock()
	fs.getattrHook = h
	fs.mu.Unlock()
}

func (n *memNode) qid() QID { return QID{Type: QIDTypeFromMode(n.mode), Path: n.ino} }

func (fs *memFS) Attach(aname string, uid UID) (File, error) {
	if aname == "nope" {
		return nil, unix.EACCES
	}
	return &memFile{fs: fs, n: fs.root, name: "/"}, nil
}

type memFile struct {
	fs    *memFS
	n     *memNode
	name  string
	open  OpenFlags
	dir   *memNode // parent, for Rename/Remove
	bname string
}

func (f *memFile) Walk(names []string) ([]QID, File, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	n, parent, bname := f.n, f.dir, f.bname
	var qids []QID
	for _, name := range names {
		if n.children == nil {
			return qids, nil, unix.ENOTDIR
		}
		c, ok := n.children[name]
		if !ok {
			return qids, nil, unix.ENOENT
		}
		parent, bname, n = n, name, c
		qids = append(qids, n.qid())
	}
	return qids, &memFile{fs: f.fs, n: n, name: bname, dir: parent, bname: bname}, nil
}

func (f *memFile) GetAttr(mask AttrMask) (QID, AttrMask, Attr, error) {
	f.fs.mu.Lock()
	h := f.fs.getattrHook
	f.fs.mu.Unlock()
	if h != nil {
		h(f.name)
	}
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	n := f.n
	return n.qid(), AttrBasic, Attr{Mode: n.mode, UID: n.uid, GID: n.gid, NLink: 1, Size: uint64(len(n.data)), RDev: n.rdev, BlockSize: 4096}, nil
}

func (f *memFile) SetAttr(valid SetAttrMask, a SetAttr) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if valid&SetAttrMode != 0 {
		f.n.mode = f.n.mode&S_IFMT | a.Mode&0o7777
	}
	if valid&SetAttrUID != 0 {
		f.n.uid = a.UID
	}
	if valid&SetAttrSize != 0 {
		if f.n.children != nil {
			return unix.EISDIR
		}
		f.n.data = slices.Grow(f.n.data[:min(len(f.n.data), int(a.Size))], int(a.Size))[:a.Size]
	}
	return nil
}

func (f *memFile) donate() *os.File {
	fd, err := unix.MemfdCreate("memfs", unix.MFD_CLOEXEC)
	if err != nil {
		return nil
	}
	unix.Write(fd, f.n.data)
	return os.NewFile(uintptr(fd), "memfs")
}

func (f *memFile) Open(flags OpenFlags) (QID, uint32, *os.File, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.n.children != nil && flags.Writable() {
		return QID{}, 0, nil, unix.EISDIR
	}
	if flags&OpenTrunc != 0 {
		f.n.data = nil
	}
	f.open = flags
	var d *os.File
	if f.n.mode&S_IFMT == S_IFREG {
		d = f.donate()
	}
	return f.n.qid(), 0, d, nil
}

func (f *memFile) Create(name string, flags OpenFlags, mode uint32, uid UID, gid GID) (File, QID, uint32, *os.File, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.n.children == nil {
		return nil, QID{}, 0, nil, unix.ENOTDIR
	}
	if _, ok := f.n.children[name]; ok {
		return nil, QID{}, 0, nil, unix.EEXIST
	}
	n := f.fs.newNode(S_IFREG|mode&0o7777, uid, gid)
	f.n.children[name] = n
	nf := &memFile{fs: f.fs, n: n, name: name, open: flags, dir: f.n, bname: name}
	return nf, n.qid(), 0, nf.donate(), nil
}

func (f *memFile) ReadAt(p []byte, off uint64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.n.children != nil {
		return 0, unix.EISDIR
	}
	if off >= uint64(len(f.n.data)) {
		return 0, nil
	}
	return copy(p, f.n.data[off:]), nil
}

func (f *memFile) WriteAt(p []byte, off uint64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.open&OpenAccMode == ReadOnly {
		return 0, unix.EBADF
	}
	if end := int(off) + len(p); end > len(f.n.data) {
		f.n.data = append(f.n.data, make([]byte, end-len(f.n.data))...)
	}
	return copy(f.n.data[off:], p), nil
}

func (f *memFile) Readdir(off uint64, count uint32) ([]Dirent, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.n.children == nil {
		return nil, unix.ENOTDIR
	}
	names := make([]string, 0, len(f.n.children))
	for n := range f.n.children {
		names = append(names, n)
	}
	sort.Strings(names)
	var ents []Dirent
	size := 0
	if off > uint64(len(names)) {
		return nil, nil
	}
	for i := int(off); i < len(names); i++ {
		c := f.n.children[names[i]]
		d := Dirent{QID: c.qid(), Offset: uint64(i + 1), Type: uint8(c.mode >> 12), Name: names[i]}
		if size += d.EncodedSize(); size > int(count) {
			break
		}
		ents = append(ents, d)
	}
	return ents, nil
}

func (f *memFile) add(name string, n *memNode) (QID, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.n.children == nil {
		return QID{}, unix.ENOTDIR
	}
	if _, ok := f.n.children[name]; ok {
		return QID{}, unix.EEXIST
	}
	f.n.children[name] = n
	return n.qid(), nil
}

func (f *memFile) Mkdir(name string, mode uint32, uid UID, gid GID) (QID, error) {
	return f.add(name, f.fs.newNode(S_IFDIR|mode&0o7777, uid, gid))
}

func (f *memFile) Mknod(name string, mode, major, minor uint32, uid UID, gid GID) (QID, error) {
	n := f.fs.newNode(mode, uid, gid)
	n.rdev = uint64(unix.Mkdev(major, minor))
	return f.add(name, n)
}

func (f *memFile) Symlink(name, target string, uid UID, gid GID) (QID, error) {
	n := f.fs.newNode(S_IFLNK|0o777, uid, gid)
	n.target = target
	return f.add(name, n)
}

func (f *memFile) Link(target File, name string) error {
	_, err := f.add(name, target.(*memFile).n)
	return err
}

func (f *memFile) RenameAt(oldName string, newDir File, newName string) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	nd := newDir.(*memFile).n
	c, ok := f.n.children[oldName]
	if !ok {
		return unix.ENOENT
	}
	if nd.children == nil {
		return unix.ENOTDIR
	}
	delete(f.n.children, oldName)
	nd.children[newName] = c
	return nil
}

func (f *memFile) Rename(newDir File, newName string) error {
	if f.dir == nil {
		return unix.EBUSY
	}
	p := &memFile{fs: f.fs, n: f.dir}
	return p.RenameAt(f.bname, newDir, newName)
}

func (f *memFile) Remove() error {
	if f.dir == nil {
		return unix.EBUSY
	}
	return (&memFile{fs: f.fs, n: f.dir}).UnlinkAt(f.bname, 0)
}

func (f *memFile) UnlinkAt(name string, flags uint32) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	c, ok := f.n.children[name]
	switch {
	case !ok:
		return unix.ENOENT
	case flags&RemoveDir != 0 && c.children == nil:
		return unix.ENOTDIR
	case flags&RemoveDir == 0 && c.children != nil:
		return unix.EISDIR
	case len(c.children) > 0:
		return unix.ENOTEMPTY
	}
	delete(f.n.children, name)
	return nil
}

func (f *memFile) Readlink() (string, error) {
	if f.n.mode&S_IFMT != S_IFLNK {
		return "", unix.EINVAL
	}
	return f.n.target, nil
}

func (f *memFile) StatFS() (StatFS, error) {
	return StatFS{Type: 0x01021994, BlockSize: 4096, Blocks: 100, NameLen: 255}, nil
}

func (f *memFile) FSync(dataSync bool) error { return nil }

func (f *memFile) GetXattr(name string) ([]byte, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	v, ok := f.n.xattrs[name]
	if !ok {
		return nil, unix.ENODATA
	}
	return v, nil
}

func (f *memFile) ListXattr() ([]string, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	var names []string
	for n := range f.n.xattrs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

func (f *memFile) SetXattr(name string, value []byte, flags uint32) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	_, exists := f.n.xattrs[name]
	if flags&XattrCreate != 0 && exists {
		return unix.EEXIST
	}
	if flags&XattrReplace != 0 && !exists {
		return unix.ENODATA
	}
	f.n.xattrs[name] = slices.Clone(value)
	return nil
}

func (f *memFile) RemoveXattr(name string) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if _, ok := f.n.xattrs[name]; !ok {
		return unix.ENODATA
	}
	delete(f.n.xattrs, name)
	return nil
}

func (f *memFile) Lock(l Lock) (LockStatus, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	held, ok := f.fs.locks[f.n]
	switch {
	case l.Type == LockUnlock:
		delete(f.fs.locks, f.n)
	case ok && held.ProcID != l.ProcID:
		return LockBlocked, nil
	default:
		f.fs.locks[f.n] = l
	}
	return LockSuccess, nil
}

func (f *memFile) GetLock(l Lock) (Lock, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if held, ok := f.fs.locks[f.n]; ok && held.ProcID != l.ProcID {
		held.Flags = 0
		return held, nil
	}
	l.Type = LockUnlock
	return l, nil
}

func (f *memFile) Close() error {
	f.fs.mu.Lock()
	f.fs.closes++
	f.fs.mu.Unlock()
	return nil
}
