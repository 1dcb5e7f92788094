package kernel

import (
	"fmt"
	"os"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs/tmpfs"
)

// SocketKey names the VFS node of a unix socket file.
type SocketKey struct{ Dev, Ino uint64 }

// unixSockets binds the sandbox's path-named unix sockets. The socket file
// is a node of the VFS (S_IFSOCK, made by bind, found by connect); the
// program's host socket is bound under a generated name in a directory of
// a detached host tmpfs that only the sentry reaches, so no host process
// can connect and no host path is resolved by the host for the program.
type unixSockets struct {
	mu     sync.Mutex
	dir    *os.File
	prefix string // "/proc/self/fd/<dir>/": a bind path within sun_path's 108 bytes
	next   uint64
	hostOf map[SocketKey]string // socket file → host address
	pathOf map[string]string    // host address → the path the program bound
}

// BindUnix binds the host socket sock to a new host address for the VFS
// socket file key, which the program named path.
func (k *Kernel) BindUnix(sock int, key SocketKey, path string) error {
	s := &k.sockets
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dir == nil {
		// Searchable by all: a connect runs with the program's ids
		// (the directory is reached only through the sentry's fd).
		dir, err := tmpfs.HostDir([]string{"mode=0711"}, false)
		if err != nil {
			return fmt.Errorf("unix socket directory: %w", err)
		}
		s.dir, s.prefix = dir, "/proc/self/fd/"+strconv.Itoa(int(dir.Fd()))+"/"
		s.hostOf, s.pathOf = map[SocketKey]string{}, map[string]string{}
	}
	s.next++
	addr := s.prefix + strconv.FormatUint(s.next, 36)
	if err := unix.Bind(sock, &unix.SockaddrUnix{Name: addr}); err != nil {
		return err
	}
	// The VFS's socket file holds the permissions; the host's must let
	// any connecting user through.
	if err := unix.Fchmodat(int(s.dir.Fd()), strconv.FormatUint(s.next, 36), 0o777, 0); err != nil {
		return err
	}
	s.hostOf[key] = addr
	s.pathOf[addr] = path
	return nil
}

// UnixAddr returns the host address of the socket file key, if a program
// of the sandbox bound it.
func (k *Kernel) UnixAddr(key SocketKey) (string, bool) {
	s := &k.sockets
	s.mu.Lock()
	defer s.mu.Unlock()
	addr, ok := s.hostOf[key]
	return addr, ok
}

// UnixPath returns the path a program bound the host address addr to, as
// getsockname and getpeername show it.
func (k *Kernel) UnixPath(addr string) (string, bool) {
	s := &k.sockets
	s.mu.Lock()
	defer s.mu.Unlock()
	path, ok := s.pathOf[addr]
	return path, ok
}

// Close frees the kernel's host resources once no program runs.
func (k *Kernel) Close() {
	s := &k.sockets
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dir != nil {
		s.dir.Close()
		s.dir = nil
	}
}
