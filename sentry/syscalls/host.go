package syscalls

import (
	"golang.org/x/sys/unix"
)

func init() {
	// These make or use host objects (pipes, sockets, event fds) whose fds
	// never enter the sandbox's table; the kernel picks numbers the table
	// does not hold, because every fd in it is open in the program.
	register(func(*ctx) Result { return native() },
		unix.SYS_PIPE, unix.SYS_PIPE2, unix.SYS_SOCKET, unix.SYS_SOCKETPAIR, unix.SYS_ACCEPT, unix.SYS_ACCEPT4,
		unix.SYS_EPOLL_CREATE, unix.SYS_EPOLL_CREATE1,
		unix.SYS_EVENTFD, unix.SYS_EVENTFD2, unix.SYS_SIGNALFD, unix.SYS_SIGNALFD4, unix.SYS_TIMERFD_CREATE,
		unix.SYS_MEMFD_CREATE, unix.SYS_PIDFD_OPEN, unix.SYS_PIDFD_GETFD, unix.SYS_RECVMSG, unix.SYS_RECVMMSG,
		unix.SYS_IOCTL, unix.SYS_FLOCK, unix.SYS_FALLOCATE)
	// Watching VFS files from the host is meaningless; programs fall back
	// to polling when inotify is missing.
	register(func(*ctx) Result { return fail(unix.ENOSYS) },
		unix.SYS_INOTIFY_INIT, unix.SYS_INOTIFY_INIT1, unix.SYS_INOTIFY_ADD_WATCH, unix.SYS_INOTIFY_RM_WATCH,
		unix.SYS_SETXATTRAT, unix.SYS_GETXATTRAT, unix.SYS_LISTXATTRAT,
		unix.SYS_REMOVEXATTRAT, sysFileGetattr, sysFileSetattr)
	register(sysUnshare, unix.SYS_UNSHARE)
}

// file_getattr and file_setattr (Linux 6.17).
const (
	sysFileGetattr = 468
	sysFileSetattr = 469
)

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
