package syscalls

import (
	"encoding/binary"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/kernel"
	"runsc.dev/runsc/sentry/platform"
)

// Unix sockets named by a path live in the VFS (kernel.BindUnix): bind
// makes the socket file and binds the program's socket to a private host
// address; connect, sendto and sendmsg find that address through the file;
// getsockname and getpeername show the path again. Abstract and unnamed
// addresses, and every other family, are the host's (the sandbox's network
// namespace) and run natively.

func init() {
	register(namedSocket(bind), unix.SYS_BIND)
	register(namedSocket(connect), unix.SYS_CONNECT)
	register(sysSendto, unix.SYS_SENDTO)
	register(sysSendmsg, unix.SYS_SENDMSG)
	register(sysSendmmsg, unix.SYS_SENDMMSG)
	register(func(x *ctx) Result { return x.sockname(unix.Getsockname) }, unix.SYS_GETSOCKNAME)
	register(func(x *ctx) Result { return x.sockname(unix.Getpeername) }, unix.SYS_GETPEERNAME)
}

// sizeofSockaddrUn is sizeof(struct sockaddr_un): family and 108 bytes.
const sizeofSockaddrUn = 110

// maxSend bounds the data the sentry sends for one sendto or sendmsg to a
// path (a unix datagram is smaller still).
const maxSend = 4 << 20

// unixPath reads a sockaddr and returns the path of a path-named unix
// address. ok is false for anything the host should see (another family,
// abstract, unnamed, or a length the host rejects itself).
func (x *ctx) unixPath(addr, n uint64) (path string, ok bool, err error) {
	if addr == 0 || n <= 2 || n > sizeofSockaddrUn {
		return "", false, nil
	}
	b := make([]byte, n)
	if err := x.read(addr, b); err != nil {
		return "", false, err
	}
	if binary.LittleEndian.Uint16(b) != unix.AF_UNIX || b[2] == 0 {
		return "", false, nil
	}
	path = string(b[2:])
	if i := strings.IndexByte(path, 0); i >= 0 {
		path = path[:i]
	}
	return path, true, nil
}

// socket returns the program's socket fd in the sentry; the caller closes it.
func (x *ctx) socket(fd int) (int, error) {
	if _, err := x.file(fd); err != nil {
		return -1, err
	}
	s, err := x.hostFile(fd)
	if err != nil {
		return -1, unix.EBADF
	}
	return s, nil
}

// namedSocket makes the handler of bind or connect: calls on a path-named
// unix address go to fn with the path and the program's socket (fd
// argument 0, address and length arguments 1 and 2); others run natively.
func namedSocket(fn func(x *ctx, path string, sock int) Result) handlerFunc {
	return func(x *ctx) Result {
		path, named, err := x.unixPath(x.arg(1), x.arg(2))
		if err != nil || !named {
			return nativeUnless(err)
		}
		sock, err := x.socket(x.int(0))
		if err != nil {
			return fail(err)
		}
		defer unix.Close(sock)
		return fn(x, path, sock)
	}
}

func bind(x *ctx, path string, sock int) Result {
	domain, err := unix.GetsockoptInt(sock, unix.SOL_SOCKET, unix.SO_DOMAIN)
	if err != nil {
		return fail(err) // ENOTSOCK
	}
	if domain != unix.AF_UNIX {
		return native() // the host refuses the address family
	}
	// As in Linux, the file is made first: an already bound socket gets
	// EINVAL from the host's bind below (and the file goes again).
	at, err := x.dir(unix.AT_FDCWD, path)
	if err != nil {
		return fail(err)
	}
	ctx := x.fsctx()
	if err := x.v.Mknod(ctx, at, path, unix.S_IFSOCK|0o777, 0); err != nil {
		if err == unix.EEXIST {
			err = unix.EADDRINUSE
		}
		return fail(err)
	}
	st, err := x.v.Stat(ctx, at, path, unix.AT_SYMLINK_NOFOLLOW)
	if err == nil {
		err = x.t.Kernel().BindUnix(sock, kernel.SocketKey{Dev: st.Dev, Ino: st.Ino}, path)
	}
	if err != nil {
		x.v.Unlink(ctx, at, path)
		return fail(err)
	}
	return ok(0)
}

// hostAddr finds the host address of the socket file at path, with
// connect's checks: a socket file, writable by the caller, that a program
// of the sandbox bound.
func (x *ctx) hostAddr(path string) (*unix.SockaddrUnix, error) {
	at, err := x.dir(unix.AT_FDCWD, path)
	if err != nil {
		return nil, err
	}
	ctx := x.fsctx()
	st, err := x.v.Stat(ctx, at, path, 0)
	if err != nil {
		return nil, err
	}
	if st.Type() != unix.S_IFSOCK {
		return nil, unix.ECONNREFUSED
	}
	if err := x.v.Access(ctx, at, path, unix.W_OK, unix.AT_EACCESS); err != nil {
		return nil, err
	}
	addr, ok := x.t.Kernel().UnixAddr(kernel.SocketKey{Dev: st.Dev, Ino: st.Ino})
	if !ok {
		return nil, unix.ECONNREFUSED
	}
	return &unix.SockaddrUnix{Name: addr}, nil
}

func connect(x *ctx, path string, sock int) Result {
	sa, err := x.hostAddr(path)
	if err != nil {
		return fail(err)
	}
	// The program's socket description is shared: a non-blocking one
	// gives EAGAIN here as it would natively.
	return x.asCaller(sock, func(s int) Result { return done(unix.Connect(s, sa)) })
}

// asCaller runs fn on a copy of sock from a goroutine of its own (the call
// is answered later, so a connect to a full backlog or a send to a full
// queue holds no receiver), on a new OS thread that has the caller's ids
// and groups: the peer's SO_PEERCRED and SCM_CREDENTIALS then name the
// program's user, not the sentry's root. (The pid they carry is the
// sentry's, outside the sandbox's pid namespace: 0 to the peer.) Raw
// set*id calls change only that thread, which ends with the goroutine.
func (x *ctx) asCaller(sock int, fn func(sock int) Result) Result {
	s, err := unix.Dup(sock)
	if err != nil {
		return fail(err)
	}
	hc := x.t.HostCreds()
	return Result{Later: func() Result {
		defer unix.Close(s)
		r := make(chan Result, 1)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread goes with its changed ids
			if hc != nil {
				gids, uids := [3]uint32{hc.RGID, hc.EGID, hc.SGID}, [3]uint32{hc.RUID, hc.EUID, hc.SUID}
				if err := platform.SetThreadIDs(append([]uint32(nil), hc.Groups...), gids, uids); err != nil {
					r <- fail(err)
					return
				}
			}
			r <- fn(s)
		}()
		return <-r
	}}
}

func sysSendto(x *ctx) Result {
	path, named, err := x.unixPath(x.arg(4), x.arg(5))
	if err != nil || !named {
		return nativeUnless(err)
	}
	n := x.arg(2)
	if n > maxSend {
		return fail(unix.EMSGSIZE)
	}
	buf := make([]byte, n)
	if err := x.read(x.arg(1), buf); err != nil && n > 0 {
		return fail(err)
	}
	return x.sendTo(x.int(0), path, buf, x.int(3))
}

// sendTo sends buf from the program's socket fd to the socket file at path.
func (x *ctx) sendTo(fd int, path string, buf []byte, flags int) Result {
	sock, err := x.socket(fd)
	if err != nil {
		return fail(err)
	}
	defer unix.Close(sock)
	sa, err := x.hostAddr(path)
	if err != nil {
		return fail(err)
	}
	return x.asCaller(sock, func(s int) Result {
		if err := unix.Sendto(s, buf, flags|unix.MSG_NOSIGNAL, sa); err != nil {
			return fail(err)
		}
		return ok(int64(len(buf)))
	})
}

// msghdr is struct msghdr's fields the sentry reads.
type msghdr struct {
	name, namelen, iov, iovlen, controllen uint64
}

func (x *ctx) readMsghdr(addr uint64) (msghdr, error) {
	var b [56]byte
	if err := x.read(addr, b[:]); err != nil {
		return msghdr{}, err
	}
	le := binary.LittleEndian
	return msghdr{name: le.Uint64(b[0:]), namelen: uint64(le.Uint32(b[8:])), iov: le.Uint64(b[16:]), iovlen: le.Uint64(b[24:]), controllen: le.Uint64(b[40:])}, nil
}

// gather reads the data of a message's iovecs.
func (x *ctx) gather(m msghdr) ([]byte, error) {
	if m.iovlen > 1024 {
		return nil, unix.EMSGSIZE
	}
	var buf []byte
	for i := uint64(0); i < m.iovlen; i++ {
		var iov [16]byte
		if err := x.read(m.iov+16*i, iov[:]); err != nil {
			return nil, err
		}
		base, n := binary.LittleEndian.Uint64(iov[0:]), binary.LittleEndian.Uint64(iov[8:])
		if uint64(len(buf))+n > maxSend {
			return nil, unix.EMSGSIZE
		}
		if n == 0 {
			continue
		}
		chunk := make([]byte, n)
		if err := x.read(base, chunk); err != nil {
			return nil, err
		}
		buf = append(buf, chunk...)
	}
	return buf, nil
}

// sendMsg sends the message at addr if it names a socket file; ok is false
// if it does not (the host sends it).
func (x *ctx) sendMsg(fd int, addr uint64, flags int) (r Result, ok bool) {
	m, err := x.readMsghdr(addr)
	if err != nil {
		return fail(err), true
	}
	path, ok, err := x.unixPath(m.name, m.namelen)
	if err != nil {
		return fail(err), true
	}
	if !ok {
		return Result{}, false
	}
	if m.controllen > 0 {
		// Passing fds or credentials to a path would need them
		// translated into the sentry's; not supported.
		return fail(unix.EOPNOTSUPP), true
	}
	buf, err := x.gather(m)
	if err != nil {
		return fail(err), true
	}
	return x.sendTo(fd, path, buf, flags), true
}

func sysSendmsg(x *ctx) Result {
	r, ok := x.sendMsg(x.int(0), x.arg(1), x.int(2))
	if !ok {
		return native()
	}
	return r
}

// sysSendmmsg sends natively unless a message names a socket file; then
// the sentry sends them all, in order, as sendmmsg would.
func sysSendmmsg(x *ctx) Result {
	const sizeofMmsghdr = 64
	vlen := min(x.arg(2), 1024)
	named := false
	for i := uint64(0); i < vlen && !named; i++ {
		m, err := x.readMsghdr(x.arg(1) + i*sizeofMmsghdr)
		if err != nil {
			return fail(err)
		}
		_, ok, err := x.unixPath(m.name, m.namelen)
		if err != nil {
			return fail(err)
		}
		named = ok
	}
	if !named {
		return native()
	}
	sent := int64(0)
	for i := uint64(0); i < vlen; i++ {
		addr := x.arg(1) + i*sizeofMmsghdr
		r, ok := x.sendMsg(x.int(0), addr, x.int(3))
		if !ok {
			r = x.sendConnected(x.int(0), addr, x.int(3))
		}
		if r.Later != nil {
			// One message after the other, each sent as the caller.
			r = r.Later()
		}
		if r.Errno != 0 {
			if sent > 0 {
				break
			}
			return r
		}
		var n [4]byte
		binary.LittleEndian.PutUint32(n[:], uint32(r.Val))
		if err := x.write(addr+56, n[:]); err != nil {
			return fail(err)
		}
		sent++
	}
	return ok(sent)
}

// sendConnected sends the unnamed message at addr from the sentry (a
// sendmmsg batch that also names socket files).
func (x *ctx) sendConnected(fd int, addr uint64, flags int) Result {
	m, err := x.readMsghdr(addr)
	if err != nil {
		return fail(err)
	}
	if m.controllen > 0 {
		return fail(unix.EOPNOTSUPP)
	}
	sock, err := x.socket(fd)
	if err != nil {
		return fail(err)
	}
	defer unix.Close(sock)
	buf, err := x.gather(m)
	if err != nil {
		return fail(err)
	}
	n, err := unix.SendmsgN(sock, buf, nil, nil, flags|unix.MSG_NOSIGNAL)
	return result(int64(n), err)
}

// sockname answers getsockname or getpeername: the host's answer, with a
// private host address shown as the path the program bound.
func (x *ctx) sockname(get func(int) (unix.Sockaddr, error)) Result {
	sock, err := x.socket(x.int(0))
	if err != nil {
		return fail(err)
	}
	defer unix.Close(sock)
	sa, err := get(sock)
	if err != nil {
		return native() // the host gives the errno
	}
	su, ok := sa.(*unix.SockaddrUnix)
	if !ok {
		return native()
	}
	path, ok := x.t.Kernel().UnixPath(su.Name)
	if !ok {
		return native()
	}
	var lb [4]byte
	if err := x.read(x.arg(2), lb[:]); err != nil {
		return fail(err)
	}
	size := int(int32(binary.LittleEndian.Uint32(lb[:])))
	if size < 0 {
		return fail(unix.EINVAL)
	}
	full := make([]byte, 2+len(path)+1)
	binary.LittleEndian.PutUint16(full, unix.AF_UNIX)
	copy(full[2:], path)
	if err := x.write(x.arg(1), full[:min(size, len(full))]); err != nil && size > 0 {
		return fail(err)
	}
	binary.LittleEndian.PutUint32(lb[:], uint32(len(full)))
	return done(x.write(x.arg(2), lb[:]))
}

// nativeUnless runs the call on the host unless reading it failed.
func nativeUnless(err error) Result {
	if err != nil {
		return fail(err)
	}
	return native()
}
