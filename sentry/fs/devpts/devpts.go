// Package devpts is the sandbox's /dev/pts: real pseudo-terminals, so that
// terminal I/O, line discipline and job control run natively in the host
// kernel.
//
// The sentry makes a private host devpts instance with the new mount API
// (fsopen/fsmount): a detached mount that is attached nowhere, so neither
// the host nor the program can reach it by path, and that goes away with
// its last fd. This file system mirrors that instance: "ptmx" and one
// character device per pty that exists there. Opening one (HostOpener)
// opens the instance's node: ptmx makes a new pty pair, N opens a slave.
// The program then holds real host tty fds, so ioctls (TIOCGPTN,
// TIOCSPTLCK, TCSETS, TIOCSCTTY, TIOCSPGRP) and read/write need no sentry.
//
// Lock order: the VFS holds the tree lock around every Dentry method; this
// file system keeps no other locks (the host instance is the state).
package devpts

import (
	"os"
	"sort"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
)

// Magic is DEVPTS_SUPER_MAGIC, statfs's f_type.
const Magic = unix.DEVPTS_SUPER_MAGIC

// fsopen(2) and fsmount(2) flags (linux/mount.h).
const (
	fsopenCloexec  = 1
	fsmountCloexec = 1
)

// FS is one /dev/pts.
type FS struct {
	mnt  *os.File // root of the detached host instance
	root *dir
}

// New makes a private host devpts instance (needs CAP_SYS_ADMIN) and a file
// system that shows it. ptys are owned by the tty group (gid) with mode
// 0620, as Docker mounts devpts; ptmx is open to all.
func New(gid uint32) (*FS, error) {
	fsfd, err := unix.Fsopen("devpts", fsopenCloexec)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fsfd)
	for k, v := range map[string]string{"ptmxmode": "0666", "mode": "0620", "gid": strconv.Itoa(int(gid))} {
		if err := unix.FsconfigSetString(fsfd, k, v); err != nil {
			return nil, err
		}
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return nil, err
	}
	mfd, err := unix.Fsmount(fsfd, fsmountCloexec, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NOEXEC)
	if err != nil {
		return nil, err
	}
	f := &FS{mnt: os.NewFile(uintptr(mfd), "devpts")}
	f.root = &dir{fs: f, nodes: map[string]*node{}}
	return f, nil
}

// Close releases the host instance (ptys still open stay usable).
func (f *FS) Close() error { return f.mnt.Close() }

// Root implements fs.Filesystem.
func (f *FS) Root() fs.Dentry { return f.root }

// Type implements fs.Filesystem.
func (f *FS) Type() string { return "devpts" }

// StatFS implements fs.Filesystem.
func (f *FS) StatFS() (fs.Statfs, error) {
	return fs.Statfs{Type: Magic, Bsize: 4096, Frsize: 4096, Namelen: fs.NameMax}, nil
}

// hostStat stats name in the host instance ("." for its root).
func (f *FS) hostStat(name string) (fs.Stat, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(int(f.mnt.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if err == unix.ENOENT {
			return fs.Stat{}, unix.ENOENT
		}
		return fs.Stat{}, err
	}
	return fs.Stat{
		Mode: st.Mode, Nlink: uint32(st.Nlink), UID: st.Uid, GID: st.Gid, Ino: st.Ino, Dev: st.Dev,
		Rdev: st.Rdev, Blksize: uint32(st.Blksize), Atime: st.Atim, Mtime: st.Mtim, Ctime: st.Ctim,
	}, nil
}

// names lists the host instance: "ptmx" and the pty numbers, in order.
func (f *FS) names() ([]string, error) {
	d, err := os.Open("/proc/self/fd/" + strconv.Itoa(int(f.mnt.Fd())))
	if err != nil {
		return nil, unix.EIO
	}
	defer d.Close()
	all, err := d.Readdirnames(-1)
	if err != nil {
		return nil, unix.EIO
	}
	var ptys []int
	for _, n := range all {
		if i, err := strconv.Atoi(n); err == nil {
			ptys = append(ptys, i)
		}
	}
	sort.Ints(ptys)
	out := []string{"ptmx"}
	for _, i := range ptys {
		out = append(out, strconv.Itoa(i))
	}
	return out, nil
}

// dir is the root directory. It keeps one dentry per name, so that a
// name keeps its dentry (fs.PathOf compares them).
type dir struct {
	fs *FS

	mu    sync.Mutex
	nodes map[string]*node
}

func (d *dir) Parent() fs.Dentry { return nil }

func (d *dir) Stat() (fs.Stat, error) { return d.fs.hostStat(".") }

func (d *dir) SetStat(*fs.SetStat) error { return unix.EPERM }

// Lookup implements fs.Dentry: a name is there while the host instance
// has it.
func (d *dir) Lookup(name string) (fs.Dentry, error) {
	if name != "ptmx" {
		if _, err := strconv.Atoi(name); err != nil {
			return nil, unix.ENOENT
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := d.fs.hostStat(name); err != nil {
		delete(d.nodes, name)
		return nil, err
	}
	n, ok := d.nodes[name]
	if !ok {
		n = &node{fs: d.fs, name: name}
		d.nodes[name] = n
	}
	return n, nil
}

func (d *dir) Readlink() (string, error) { return "", unix.EINVAL }

func (d *dir) Readdir(off int64, emit func(fs.DirEntry) bool) error {
	names, err := d.fs.names()
	if err != nil {
		return err
	}
	for i, n := range names {
		if int64(i)+2 < off {
			continue
		}
		st, err := d.fs.hostStat(n)
		if err != nil {
			continue
		}
		if !emit(fs.DirEntry{Name: n, Ino: st.Ino, Type: fs.DirentType(st.Mode), Off: int64(i) + 3}) {
			return nil
		}
	}
	return nil
}

// Linux's devpts makes its nodes itself; nothing else can be created.
func (d *dir) Create(string, *fs.CreateAttrs) (fs.Dentry, error) { return nil, unix.EPERM }
func (d *dir) Link(string, fs.Dentry) (fs.Dentry, error)         { return nil, unix.EPERM }
func (d *dir) Unlink(string) error                               { return unix.EPERM }
func (d *dir) Rmdir(string) error                                { return unix.EPERM }
func (d *dir) Rename(string, fs.Dentry, string, uint32, *fs.CreateAttrs) error {
	return unix.EPERM
}
func (d *dir) Open(int) (fs.File, error)          { return nil, nil }
func (d *dir) Getxattr(string) ([]byte, error)    { return nil, unix.EOPNOTSUPP }
func (d *dir) Setxattr(string, []byte, int) error { return unix.EOPNOTSUPP }
func (d *dir) Listxattr() ([]string, error)       { return nil, nil }
func (d *dir) Removexattr(string) error           { return unix.EOPNOTSUPP }

// node is ptmx or a pty slave.
type node struct {
	fs   *FS
	name string
}

func (n *node) Parent() fs.Dentry { return n.fs.root }

// Name implements fs.Namer.
func (n *node) Name() string { return n.name }

func (n *node) Stat() (fs.Stat, error) {
	st, err := n.fs.hostStat(n.name)
	if err == unix.ENOENT {
		// The pty was closed since the lookup.
		return fs.Stat{}, unix.ENOENT
	}
	return st, err
}

// SetStat applies owner and mode changes (grantpt, a terminal emulator's
// chown) to the host node.
func (n *node) SetStat(s *fs.SetStat) error {
	fd := int(n.fs.mnt.Fd())
	if s.Mask&fs.SetMode != 0 {
		if err := unix.Fchmodat(fd, n.name, s.Mode&0o7777, 0); err != nil {
			return err
		}
	}
	if s.Mask&(fs.SetUID|fs.SetGID) != 0 {
		uid, gid := -1, -1
		if s.Mask&fs.SetUID != 0 {
			uid = int(s.UID)
		}
		if s.Mask&fs.SetGID != 0 {
			gid = int(s.GID)
		}
		if err := unix.Fchownat(fd, n.name, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
	}
	if s.Mask&(fs.SetAtime|fs.SetMtime) != 0 {
		ts := []unix.Timespec{{Nsec: unix.UTIME_OMIT}, {Nsec: unix.UTIME_OMIT}}
		if s.Mask&fs.SetAtime != 0 {
			ts[0] = s.Atime
		}
		if s.Mask&fs.SetMtime != 0 {
			ts[1] = s.Mtime
		}
		return unix.UtimesNanoAt(fd, n.name, ts, unix.AT_SYMLINK_NOFOLLOW)
	}
	return nil
}

// OpenHost opens the host node for the program: ptmx makes a new pty. The
// sentry never takes the terminal as its own controlling tty (O_NOCTTY);
// a program gets one with TIOCSCTTY, which runs natively.
func (n *node) OpenHost(flags int) (*os.File, error) {
	fd, err := unix.Openat(int(n.fs.mnt.Fd()), n.name, flags|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), "/dev/pts/"+n.name), nil
}

func (n *node) Lookup(string) (fs.Dentry, error)                  { return nil, unix.ENOTDIR }
func (n *node) Readlink() (string, error)                         { return "", unix.EINVAL }
func (n *node) Readdir(int64, func(fs.DirEntry) bool) error       { return unix.ENOTDIR }
func (n *node) Create(string, *fs.CreateAttrs) (fs.Dentry, error) { return nil, unix.ENOTDIR }
func (n *node) Link(string, fs.Dentry) (fs.Dentry, error)         { return nil, unix.ENOTDIR }
func (n *node) Unlink(string) error                               { return unix.ENOTDIR }
func (n *node) Rmdir(string) error                                { return unix.ENOTDIR }
func (n *node) Rename(string, fs.Dentry, string, uint32, *fs.CreateAttrs) error {
	return unix.ENOTDIR
}
func (n *node) Open(int) (fs.File, error)          { return nil, nil }
func (n *node) Getxattr(string) ([]byte, error)    { return nil, unix.EOPNOTSUPP }
func (n *node) Setxattr(string, []byte, int) error { return unix.EOPNOTSUPP }
func (n *node) Listxattr() ([]string, error)       { return nil, nil }
func (n *node) Removexattr(string) error           { return unix.EOPNOTSUPP }

// NewPty makes a pty pair in the instance for a container's console
// ("docker run -t"): the master goes to the console socket, the slave is
// the process's stdio and shows in the sandbox as /dev/pts/<n>.
func (f *FS) NewPty() (master, slave *os.File, n int, err error) {
	ptmx := &node{fs: f, name: "ptmx"}
	if master, err = ptmx.OpenHost(unix.O_RDWR); err != nil {
		return nil, nil, 0, err
	}
	fd := int(master.Fd())
	if n, err = unix.IoctlGetInt(fd, unix.TIOCGPTN); err == nil {
		err = unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0)
	}
	if err == nil {
		slave, err = (&node{fs: f, name: strconv.Itoa(n)}).OpenHost(unix.O_RDWR)
	}
	if err != nil {
		master.Close()
		return nil, nil, 0, err
	}
	return master, slave, n, nil
}
