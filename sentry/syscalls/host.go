package syscalls

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

func init() {
	// These make or use host objects (pipes, sockets, event fds) whose fds
	// never enter the sandbox's table; the kernel picks numbers the table
	// does not hold, because every fd in it is open in the program.
	register(func(*ctx) Result { return native() },
		unix.SYS_PIPE, unix.SYS_PIPE2, unix.SYS_SOCKET, unix.SYS_SOCKETPAIR, unix.SYS_ACCEPT, unix.SYS_ACCEPT4,
		unix.SYS_GETSOCKNAME, unix.SYS_GETPEERNAME, unix.SYS_EPOLL_CREATE, unix.SYS_EPOLL_CREATE1,
		unix.SYS_EVENTFD, unix.SYS_EVENTFD2, unix.SYS_SIGNALFD, unix.SYS_SIGNALFD4, unix.SYS_TIMERFD_CREATE,
		unix.SYS_MEMFD_CREATE, unix.SYS_PIDFD_OPEN, unix.SYS_PIDFD_GETFD, unix.SYS_RECVMSG, unix.SYS_RECVMMSG,
		unix.SYS_IOCTL, unix.SYS_FLOCK, unix.SYS_FALLOCATE)
	// Watching VFS files from the host is meaningless; programs fall back
	// to polling when inotify is missing.
	register(func(*ctx) Result { return fail(unix.ENOSYS) },
		unix.SYS_INOTIFY_INIT, unix.SYS_INOTIFY_INIT1, unix.SYS_INOTIFY_ADD_WATCH, unix.SYS_INOTIFY_RM_WATCH,
		unix.SYS_MQ_OPEN, unix.SYS_MQ_UNLINK, unix.SYS_SETXATTRAT, unix.SYS_GETXATTRAT, unix.SYS_LISTXATTRAT,
		unix.SYS_REMOVEXATTRAT, sysFileGetattr, sysFileSetattr)
	register(func(x *ctx) Result { return x.sockaddrCall(1, 2) }, unix.SYS_CONNECT, unix.SYS_BIND)
	register(func(x *ctx) Result { return x.sockaddrCall(4, 5) }, unix.SYS_SENDTO)
	register(sysSendmsg, unix.SYS_SENDMSG)
	register(sysSendmmsg, unix.SYS_SENDMMSG)
	register(sysUnshare, unix.SYS_UNSHARE)
}

// file_getattr and file_setattr (Linux 6.17).
const (
	sysFileGetattr = 468
	sysFileSetattr = 469
)

// sockaddrCall checks the address of bind, connect or sendto. A unix
// socket path would be resolved by the host, outside the sandbox's VFS;
// sockets named in the VFS are not supported yet, so such calls fail.
func (x *ctx) sockaddrCall(addrArg, lenArg int) Result {
	addr, n := x.arg(addrArg), x.arg(lenArg)
	if addr == 0 || n < 3 {
		return native()
	}
	var b [3]byte
	if err := x.read(addr, b[:]); err != nil {
		return fail(err)
	}
	if binary.LittleEndian.Uint16(b[:]) != unix.AF_UNIX || b[2] == 0 {
		return native()
	}
	return fail(unix.ENOENT)
}

func sysSendmsg(x *ctx) Result {
	var hdr [16]byte
	if err := x.read(x.arg(1), hdr[:]); err != nil {
		return fail(err)
	}
	return x.sockaddrAt(binary.LittleEndian.Uint64(hdr[0:]), uint64(binary.LittleEndian.Uint32(hdr[8:])))
}

func sysSendmmsg(x *ctx) Result {
	vlen := min(x.arg(2), 1024)
	for i := uint64(0); i < vlen; i++ {
		var hdr [16]byte
		if err := x.read(x.arg(1)+i*64, hdr[:]); err != nil {
			return fail(err)
		}
		if r := x.sockaddrAt(binary.LittleEndian.Uint64(hdr[0:]), uint64(binary.LittleEndian.Uint32(hdr[8:]))); !r.Continue {
			return r
		}
	}
	return native()
}

func (x *ctx) sockaddrAt(addr, n uint64) Result {
	if addr == 0 || n < 3 {
		return native()
	}
	var b [3]byte
	if err := x.read(addr, b[:]); err != nil {
		return fail(err)
	}
	if binary.LittleEndian.Uint16(b[:]) == unix.AF_UNIX && b[2] != 0 {
		return fail(unix.ENOENT)
	}
	return native()
}

// sysUnshare follows CLONE_FILES and CLONE_FS; new namespaces are not the
// program's to make.
func sysUnshare(x *ctx) Result {
	flags := x.arg(0)
	if flags&^uint64(unix.CLONE_FILES|unix.CLONE_FS|unix.CLONE_SYSVSEM) != 0 {
		return fail(unix.EPERM)
	}
	x.t.Unshare(flags&unix.CLONE_FILES != 0, flags&unix.CLONE_FS != 0)
	return native()
}
