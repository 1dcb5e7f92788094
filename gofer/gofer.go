// Package gofer serves host directory trees over 9P2000.L (package p9) to the
// sentry. One Export serves one tree; each connection attaches to it.
//
// # How the host is touched
//
//   - Every file is reached by walking one component at a time with
//     openat(dirfd, name, O_PATH|O_NOFOLLOW) from the export's root fd, so a
//     symlink is never followed on the host: walking to a symlink yields the
//     symlink itself (its target is for the client to resolve), and walking
//     through it fails with ENOTDIR. Fids hold these O_PATH fds, so renaming
//     or swapping a directory for a symlink after a walk cannot redirect a
//     later operation.
//   - Names are checked twice (by the p9 server and here): "", ".", "..",
//     anything containing '/' or NUL gets EINVAL; names longer than 255
//     bytes get ENAMETOOLONG.
//   - Opening for I/O, chmod, truncate, utimes, link and xattrs reopen the
//     held inode through /proc/self/fd/N (a magic link to exactly that
//     inode), never through a host path. Confine keeps /proc/self/fd
//     reachable for this and nothing else of /proc.
//   - Only regular files and directories can be opened. Device nodes,
//     FIFOs and sockets in the tree get EPERM on Tlopen, and Tmknod refuses
//     to create character or block devices (EPERM): the sentry provides
//     devices itself, and a device node must never reach host hardware.
//   - A read-only export refuses every mutation with EROFS.
//   - Tlcreate always uses O_EXCL: it creates, it never opens an existing
//     file (the client walks first).
//   - Trename and Tremove (which name a file by its fid rather than by
//     directory and name) get EOPNOTSUPP: a fid holds no trustworthy name.
//     Clients use Trenameat and Tunlinkat, as Linux does.
//   - Treaddir omits "." and "..": the client synthesises them, and ".." of
//     the root would describe a directory outside the export.
//
// # Donated fds
//
// Tlopen and Tlcreate of a regular file donate (SCM_RIGHTS, see package p9)
// a duplicate of the fd the gofer opened for that fid: same open file
// description, same access mode. A read-only open therefore donates a
// read-only fd. A writable open (only possible on a writable export) donates
// a writable fd to that one file; this lets the sentry map it shared, and it
// grants nothing the client could not already do through Twrite.
package gofer

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
	"runsc.dev/runsc/p9"
)

// Export is one served host directory tree.
type Export struct {
	root     int // O_PATH|O_DIRECTORY fd of the tree's root
	readOnly bool
	opts     p9.ServerOptions

	mu   sync.Mutex
	devs map[uint64]uint64 // host device -> QID path prefix (root's is 0)
}

// OpenExport opens the tree at path (a trusted, host-side configuration
// path: it may contain symlinks) for serving.
func OpenExport(path string, readOnly bool) (*Export, error) {
	fd, err := unix.Open(path, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("gofer: opening export %q: %w", path, err)
	}
	return newExport(fd, readOnly)
}

// NewExport serves the directory root (any fd of it; the Export keeps its
// own O_PATH duplicate, so the caller may close root).
func NewExport(root *os.File, readOnly bool) (*Export, error) {
	fd, err := unix.Open(procPath(int(root.Fd())), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("gofer: reopening export root: %w", err)
	}
	return newExport(fd, readOnly)
}

func newExport(fd int, readOnly bool) (*Export, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("gofer: stat export root: %w", err)
	}
	return &Export{root: fd, readOnly: readOnly, devs: map[uint64]uint64{st.Dev: 0}}, nil
}

// SetServerOptions sets the per-connection limits used by Serve.
func (e *Export) SetServerOptions(o p9.ServerOptions) { e.opts = o }

// Close releases the export's root fd. Connections already attached keep
// their own fds.
func (e *Export) Close() error { return unix.Close(e.root) }

// Serve serves one connection (see p9.Server.Serve) until the client leaves.
func (e *Export) Serve(sock *os.File) error {
	return p9.NewServer(e, e.opts).Serve(sock)
}

// Attach implements p9.Attacher. aname is ignored: a connection serves
// exactly one tree.
func (e *Export) Attach(aname string, uid p9.UID) (p9.File, error) {
	fd, err := unix.FcntlInt(uintptr(e.root), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return newFile(e, fd, unix.S_IFDIR), nil
}

func procPath(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// qidPath folds the device into the inode number so files on different
// filesystems below the root get different QIDs.
func (e *Export) qidPath(dev, ino uint64) uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	prefix, ok := e.devs[dev]
	if !ok {
		prefix = uint64(len(e.devs)) << 56
		e.devs[dev] = prefix
	}
	return prefix ^ ino
}

func (e *Export) qid(st *unix.Stat_t) p9.QID {
	return p9.QID{Type: p9.QIDTypeFromMode(st.Mode), Path: e.qidPath(st.Dev, st.Ino)}
}

// errno strips Go's wrapping (os.PathError and friends) so the p9 server
// sees the bare errno.
func errno(err error) error {
	var e unix.Errno
	if errors.As(err, &e) {
		return e
	}
	return err
}

func checkName(name string) error {
	if len(name) > 255 {
		return unix.ENAMETOOLONG
	}
	if !p9.ValidName(name) {
		return unix.EINVAL
	}
	return nil
}
