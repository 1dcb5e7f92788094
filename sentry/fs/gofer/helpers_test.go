package gofer_test

import (
	"errors"
	"os"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	hostgofer "runsc.dev/runsc/gofer"
	"runsc.dev/runsc/p9"
	"runsc.dev/runsc/sentry/fs"
	"runsc.dev/runsc/sentry/fs/gofer"
)

// needRoot skips a test that needs root, except in CI (CI=true), where the
// test must run and its absence is a failure.
func needRoot(t testing.TB, why string) {
	t.Helper()
	if os.Getuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but not root: %s", why)
	}
	t.Skipf("not root and CI is not \"true\": %s", why)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t testing.TB, err error, want unix.Errno) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("got %v, want %v", err, want)
	}
}

// serve starts a gofer over dir on a socketpair and returns the client end.
func serve(t testing.TB, dir string, readOnly bool) *os.File {
	t.Helper()
	e, err := hostgofer.OpenExport(dir, readOnly)
	must(t, err)
	cs, ss, err := p9.Socketpair()
	must(t, err)
	done := make(chan error, 1)
	go func() { done <- e.Serve(ss) }()
	t.Cleanup(func() {
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		e.Close()
	})
	return cs
}

// mount serves dir and makes a VFS whose root is the gofer file system.
func mount(t testing.TB, dir string, mode gofer.CacheMode) (*fs.VFS, *fs.Context, *gofer.FS) {
	t.Helper()
	return mountSock(t, serve(t, dir, false), mode)
}

func mountSock(t testing.TB, sock *os.File, mode gofer.CacheMode) (*fs.VFS, *fs.Context, *gofer.FS) {
	t.Helper()
	g, err := gofer.Dial(sock, gofer.Options{Cache: mode})
	must(t, err)
	t.Cleanup(func() { g.Close() })
	v := fs.New(g, 0, "gofer")
	return v, &fs.Context{Creds: fs.Root(), Root: v.Root(), Umask: 0o022}, g
}

func names(t testing.TB, v *fs.VFS, ctx *fs.Context, path string) []string {
	t.Helper()
	fd, err := v.Open(ctx, v.Root(), path, fs.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY})
	must(t, err)
	defer fd.Close()
	var out []string
	must(t, fd.Getdents(func(e fs.DirEntry) bool {
		if e.Name != "." && e.Name != ".." {
			out = append(out, e.Name)
		}
		return true
	}))
	sort.Strings(out)
	return out
}

func readAll(t testing.TB, v *fs.VFS, ctx *fs.Context, path string) string {
	t.Helper()
	fd, err := v.Open(ctx, v.Root(), path, fs.OpenHow{Flags: unix.O_RDONLY})
	must(t, err)
	defer fd.Close()
	buf := make([]byte, 1<<16)
	n, err := fd.Read(buf)
	must(t, err)
	return string(buf[:n])
}

// counter relays 9P messages between a client and a server socket and
// counts the requests, so tests can see how many round trips a VFS
// operation costs.
type counter struct {
	n  atomic.Int64
	in int // the relay's end of the client's socket
}

// proxy returns a socket to hand to the client; messages to and from srv
// pass through c. Both directions carry donated fds along.
func (c *counter) proxy(t testing.TB, srv *os.File) *os.File {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	must(t, err)
	// The server side must be a plain blocking fd for the relay.
	sfd, err := unix.Dup(int(srv.Fd()))
	must(t, err)
	srv.Close()
	must(t, unix.SetNonblock(sfd, false))
	for _, fd := range []int{fds[0], fds[1], sfd} {
		// Room for msize datagrams (root may exceed wmem_max).
		if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 4<<20) != nil {
			unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20)
		}
	}
	relay := func(from, to int, count bool) {
		buf := make([]byte, 1<<20+8192)
		oob := make([]byte, unix.CmsgSpace(4*4))
		defer unix.Shutdown(to, unix.SHUT_RDWR)
		for {
			if count {
				// Counted while still queued, so that settle sees
				// every request taken off the socket counted.
				if _, _, err := unix.Recvfrom(from, buf[:1], unix.MSG_PEEK); err == unix.EINTR {
					continue
				} else if err != nil {
					return
				}
				c.n.Add(1)
			}
			n, oobn, _, _, err := unix.Recvmsg(from, buf, oob, 0)
			for err == unix.EINTR {
				n, oobn, _, _, err = unix.Recvmsg(from, buf, oob, 0)
			}
			if err != nil || n == 0 {
				return
			}
			err = unix.Sendmsg(to, buf[:n], oob[:oobn], nil, 0)
			if oobn > 0 {
				msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
				for _, m := range msgs {
					if rights, err := unix.ParseUnixRights(&m); err == nil {
						for _, fd := range rights {
							unix.Close(fd)
						}
					}
				}
			}
			if err != nil {
				return
			}
		}
	}
	c.in = fds[1]
	go relay(fds[1], sfd, true)
	go func() {
		relay(sfd, fds[1], false)
		unix.Close(sfd)
		unix.Close(fds[1])
	}()
	return os.NewFile(uintptr(fds[0]), "proxied-9p")
}

// count returns how many 9P requests run sent.
func (c *counter) count(run func()) int64 {
	c.settle()
	before := c.n.Load()
	run()
	c.settle()
	return c.n.Load() - before
}

// settle waits until the relay has taken, and so counted, every request
// the client has sent: one sent without waiting for its reply (an
// asynchronous clunk) must count in the window that sent it, not the next.
func (c *counter) settle() {
	for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(100 * time.Microsecond) {
		if queued, err := unix.IoctlGetInt(c.in, unix.SIOCINQ); err != nil || queued == 0 {
			return
		}
	}
}

// newStreamServer serves dir over a SOCK_STREAM socketpair, which carries
// no donated fds.
func newStreamServer(t testing.TB, dir string) (*os.File, error) {
	t.Helper()
	e, err := hostgofer.OpenExport(dir, false)
	if err != nil {
		return nil, err
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- e.Serve(os.NewFile(uintptr(fds[1]), "stream-server")) }()
	t.Cleanup(func() {
		<-done
		e.Close()
	})
	return os.NewFile(uintptr(fds[0]), "stream-client"), nil
}
