// Package syscalls holds the syscall layer of the sentry. This file is the one
// table that classifies every x86-64 syscall number: the platform builds the
// program's seccomp filter from it (see table_filter.go).
//
// Invariant: every number 0..MaxSyscall has exactly one entry; numbers Linux
// never assigned are Deny(ENOSYS), numbers above MaxSyscall are ENOSYS in the
// filter. table_test.go enforces both.
package syscalls

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Action says how the program's call is handled.
type Action uint8

const (
	unclassified Action = iota
	// Allow runs the call on the host unchanged.
	Allow
	// Trap stops the call with SECCOMP_RET_USER_NOTIF; the sentry answers it
	// (mechanism: seccomp notify).
	Trap
	// Trace stops the call with SECCOMP_RET_TRACE so the tracer can rewrite it
	// (mechanism: ptrace). Only execve and execveat.
	Trace
	// Observe lets the call run; the tracer sees its effect through ptrace
	// events (fork/vfork/clone events, exit events) (mechanism: ptrace).
	Observe
	// Deny fails the call with Errno without running it.
	Deny
)

func (a Action) String() string {
	switch a {
	case Allow:
		return "allow"
	case Trap:
		return "trap"
	case Trace:
		return "trace"
	case Observe:
		return "observe"
	case Deny:
		return "deny"
	}
	return "unclassified"
}

// MaxSyscall is the highest x86-64 syscall number the table classifies.
const MaxSyscall = unix.SYS_RSEQ_SLICE_YIELD

// ArgRule overrides an entry's action when argument Arg (0-5) equals Value.
// Int arguments compare only the low 32 bits, because the kernel truncates
// them and the filter must see what the kernel sees; Full compares all 64
// (pointers).
type ArgRule struct {
	Arg    int
	Value  uint64
	Full   bool
	Action Action
	Errno  unix.Errno
}

// Entry classifies one syscall number.
type Entry struct {
	Name   string
	Action Action
	Errno  unix.Errno // Deny only
	// Args are tried in order before Action; the first match wins.
	Args []ArgRule
}

var table [MaxSyscall + 1]Entry

// Lookup returns the entry for nr; numbers outside the table are ENOSYS.
func Lookup(nr int) Entry {
	if nr < 0 || nr > MaxSyscall {
		return Entry{Name: fmt.Sprintf("syscall_%d", nr), Action: Deny, Errno: unix.ENOSYS}
	}
	return table[nr]
}

// Name returns the syscall's name, or syscall_N for an unassigned number.
func Name(nr int) string { return Lookup(nr).Name }

type def struct {
	nr    int
	name  string
	entry Entry
}

func allow() Entry   { return Entry{Action: Allow} }
func trap() Entry    { return Entry{Action: Trap} }
func trace() Entry   { return Entry{Action: Trace} }
func observe() Entry { return Entry{Action: Observe} }
func eperm() Entry   { return Entry{Action: Deny, Errno: unix.EPERM} }
func enosys() Entry  { return Entry{Action: Deny, Errno: unix.ENOSYS} }

// allowUnless allows the call except when the int argument arg is val,
// which fails with errno.
func allowUnless(arg int, val uint64, errno unix.Errno) Entry {
	e := allow()
	e.Args = []ArgRule{{Arg: arg, Value: val, Action: Deny, Errno: errno}}
	return e
}

// SO_PASSPIDFD and SO_PEERPIDFD (Linux 6.5), which x/sys lacks.
const (
	soPassPidfd = 76
	soPeerPidfd = 77
)

// trapUnless traps the call except when the int argument arg is one of vals.
func trapUnless(arg int, vals ...uint64) Entry {
	e := trap()
	for _, v := range vals {
		e.Args = append(e.Args, ArgRule{Arg: arg, Value: v, Action: Allow})
	}
	return e
}

var defs = []def{
	// Data and memory on fds the sentry installed: native speed (§4).
	{unix.SYS_READ, "read", allow()},
	{unix.SYS_WRITE, "write", allow()},
	{unix.SYS_PREAD64, "pread64", allow()},
	{unix.SYS_PWRITE64, "pwrite64", allow()},
	{unix.SYS_READV, "readv", allow()},
	{unix.SYS_WRITEV, "writev", allow()},
	{unix.SYS_PREADV, "preadv", allow()},
	{unix.SYS_PWRITEV, "pwritev", allow()},
	{unix.SYS_PREADV2, "preadv2", allow()},
	{unix.SYS_PWRITEV2, "pwritev2", allow()},
	{unix.SYS_SENDFILE, "sendfile", allow()},
	{unix.SYS_SPLICE, "splice", allow()},
	{unix.SYS_TEE, "tee", allow()},
	{unix.SYS_VMSPLICE, "vmsplice", allow()},
	{unix.SYS_COPY_FILE_RANGE, "copy_file_range", allow()},
	{unix.SYS_FSYNC, "fsync", allow()},
	{unix.SYS_FDATASYNC, "fdatasync", allow()},
	{unix.SYS_SYNC, "sync", allow()},
	{unix.SYS_SYNCFS, "syncfs", allow()},
	{unix.SYS_SYNC_FILE_RANGE, "sync_file_range", allow()},
	{unix.SYS_READAHEAD, "readahead", allow()},
	{unix.SYS_FADVISE64, "fadvise64", allow()},
	{unix.SYS_CACHESTAT, "cachestat", allow()},
	{unix.SYS_MMAP, "mmap", allow()},
	{unix.SYS_MPROTECT, "mprotect", allow()},
	{unix.SYS_MUNMAP, "munmap", allow()},
	{unix.SYS_BRK, "brk", allow()},
	{unix.SYS_MREMAP, "mremap", allow()},
	{unix.SYS_MSYNC, "msync", allow()},
	{unix.SYS_MINCORE, "mincore", allow()},
	{unix.SYS_MADVISE, "madvise", allow()},
	{unix.SYS_REMAP_FILE_PAGES, "remap_file_pages", allow()},
	{unix.SYS_MLOCK, "mlock", allow()},
	{unix.SYS_MUNLOCK, "munlock", allow()},
	{unix.SYS_MLOCKALL, "mlockall", allow()},
	{unix.SYS_MUNLOCKALL, "munlockall", allow()},
	{unix.SYS_MLOCK2, "mlock2", allow()},
	{unix.SYS_MBIND, "mbind", allow()},
	{unix.SYS_SET_MEMPOLICY, "set_mempolicy", allow()},
	{unix.SYS_GET_MEMPOLICY, "get_mempolicy", allow()},
	{unix.SYS_SET_MEMPOLICY_HOME_NODE, "set_mempolicy_home_node", allow()},
	{unix.SYS_MIGRATE_PAGES, "migrate_pages", allow()},
	{unix.SYS_MOVE_PAGES, "move_pages", allow()},
	{unix.SYS_PKEY_MPROTECT, "pkey_mprotect", allow()},
	{unix.SYS_PKEY_ALLOC, "pkey_alloc", allow()},
	{unix.SYS_PKEY_FREE, "pkey_free", allow()},
	{unix.SYS_MAP_SHADOW_STACK, "map_shadow_stack", allow()},
	{unix.SYS_MSEAL, "mseal", allow()},
	{unix.SYS_MEMBARRIER, "membarrier", allow()},

	// Waiting and polling on fds.
	{unix.SYS_POLL, "poll", allow()},
	{unix.SYS_PPOLL, "ppoll", allow()},
	{unix.SYS_SELECT, "select", allow()},
	{unix.SYS_PSELECT6, "pselect6", allow()},
	{unix.SYS_EPOLL_WAIT, "epoll_wait", allow()},
	{unix.SYS_EPOLL_PWAIT, "epoll_pwait", allow()},
	{unix.SYS_EPOLL_PWAIT2, "epoll_pwait2", allow()},
	{unix.SYS_EPOLL_CTL, "epoll_ctl", allow()},
	{unix.SYS_TIMERFD_SETTIME, "timerfd_settime", allow()},
	{unix.SYS_TIMERFD_GETTIME, "timerfd_gettime", allow()},
	{unix.SYS_IO_SETUP, "io_setup", allow()},
	{unix.SYS_IO_DESTROY, "io_destroy", allow()},
	{unix.SYS_IO_GETEVENTS, "io_getevents", allow()},
	{unix.SYS_IO_PGETEVENTS, "io_pgetevents", allow()},
	{unix.SYS_IO_SUBMIT, "io_submit", allow()},
	{unix.SYS_IO_CANCEL, "io_cancel", allow()},

	// Signals, time, scheduling, identity reads, resource limits.
	{unix.SYS_RT_SIGACTION, "rt_sigaction", allow()},
	{unix.SYS_RT_SIGPROCMASK, "rt_sigprocmask", allow()},
	{unix.SYS_RT_SIGRETURN, "rt_sigreturn", allow()},
	{unix.SYS_RT_SIGPENDING, "rt_sigpending", allow()},
	{unix.SYS_RT_SIGTIMEDWAIT, "rt_sigtimedwait", allow()},
	{unix.SYS_RT_SIGQUEUEINFO, "rt_sigqueueinfo", allow()},
	{unix.SYS_RT_TGSIGQUEUEINFO, "rt_tgsigqueueinfo", allow()},
	{unix.SYS_RT_SIGSUSPEND, "rt_sigsuspend", allow()},
	{unix.SYS_SIGALTSTACK, "sigaltstack", allow()},
	{unix.SYS_PAUSE, "pause", allow()},
	{unix.SYS_KILL, "kill", allow()},
	{unix.SYS_TKILL, "tkill", allow()},
	{unix.SYS_TGKILL, "tgkill", allow()},
	{unix.SYS_PIDFD_SEND_SIGNAL, "pidfd_send_signal", allow()},
	{unix.SYS_RESTART_SYSCALL, "restart_syscall", allow()},
	{unix.SYS_NANOSLEEP, "nanosleep", allow()},
	{unix.SYS_CLOCK_NANOSLEEP, "clock_nanosleep", allow()},
	{unix.SYS_GETITIMER, "getitimer", allow()},
	{unix.SYS_SETITIMER, "setitimer", allow()},
	{unix.SYS_ALARM, "alarm", allow()},
	{unix.SYS_TIMER_CREATE, "timer_create", allow()},
	{unix.SYS_TIMER_SETTIME, "timer_settime", allow()},
	{unix.SYS_TIMER_GETTIME, "timer_gettime", allow()},
	{unix.SYS_TIMER_GETOVERRUN, "timer_getoverrun", allow()},
	{unix.SYS_TIMER_DELETE, "timer_delete", allow()},
	{unix.SYS_GETTIMEOFDAY, "gettimeofday", allow()},
	{unix.SYS_TIME, "time", allow()},
	{unix.SYS_CLOCK_GETTIME, "clock_gettime", allow()},
	{unix.SYS_CLOCK_GETRES, "clock_getres", allow()},
	{unix.SYS_TIMES, "times", allow()},
	{unix.SYS_FUTEX, "futex", allow()},
	{unix.SYS_FUTEX_WAITV, "futex_waitv", allow()},
	{unix.SYS_FUTEX_WAKE, "futex_wake", allow()},
	{unix.SYS_FUTEX_WAIT, "futex_wait", allow()},
	{unix.SYS_FUTEX_REQUEUE, "futex_requeue", allow()},
	{unix.SYS_SET_ROBUST_LIST, "set_robust_list", allow()},
	{unix.SYS_GET_ROBUST_LIST, "get_robust_list", allow()},
	{unix.SYS_SET_TID_ADDRESS, "set_tid_address", allow()},
	{unix.SYS_RSEQ, "rseq", allow()},
	{unix.SYS_ARCH_PRCTL, "arch_prctl", allow()},
	{unix.SYS_SCHED_YIELD, "sched_yield", allow()},
	{unix.SYS_SCHED_SETPARAM, "sched_setparam", allow()},
	{unix.SYS_SCHED_GETPARAM, "sched_getparam", allow()},
	{unix.SYS_SCHED_SETSCHEDULER, "sched_setscheduler", allow()},
	{unix.SYS_SCHED_GETSCHEDULER, "sched_getscheduler", allow()},
	{unix.SYS_SCHED_GET_PRIORITY_MAX, "sched_get_priority_max", allow()},
	{unix.SYS_SCHED_GET_PRIORITY_MIN, "sched_get_priority_min", allow()},
	{unix.SYS_SCHED_RR_GET_INTERVAL, "sched_rr_get_interval", allow()},
	{unix.SYS_SCHED_SETAFFINITY, "sched_setaffinity", trap()},
	{unix.SYS_SCHED_GETAFFINITY, "sched_getaffinity", trap()},
	{unix.SYS_SCHED_SETATTR, "sched_setattr", allow()},
	{unix.SYS_SCHED_GETATTR, "sched_getattr", allow()},
	{unix.SYS_GETPRIORITY, "getpriority", allow()},
	{unix.SYS_SETPRIORITY, "setpriority", allow()},
	{unix.SYS_IOPRIO_SET, "ioprio_set", allow()},
	{unix.SYS_IOPRIO_GET, "ioprio_get", allow()},
	{unix.SYS_GETCPU, "getcpu", allow()},
	{unix.SYS_GETRANDOM, "getrandom", allow()},
	{unix.SYS_GETPID, "getpid", allow()},
	{unix.SYS_GETPPID, "getppid", allow()},
	{unix.SYS_GETTID, "gettid", allow()},
	{unix.SYS_GETPGRP, "getpgrp", allow()},
	{unix.SYS_GETPGID, "getpgid", allow()},
	{unix.SYS_SETPGID, "setpgid", allow()},
	{unix.SYS_GETSID, "getsid", allow()},
	{unix.SYS_SETSID, "setsid", allow()},
	{unix.SYS_GETUID, "getuid", allow()},
	{unix.SYS_GETGID, "getgid", allow()},
	{unix.SYS_GETEUID, "geteuid", allow()},
	{unix.SYS_GETEGID, "getegid", allow()},
	{unix.SYS_GETRESUID, "getresuid", allow()},
	{unix.SYS_GETRESGID, "getresgid", allow()},
	{unix.SYS_GETGROUPS, "getgroups", allow()},
	{unix.SYS_CAPGET, "capget", allow()},
	{unix.SYS_GETRLIMIT, "getrlimit", allow()},
	{unix.SYS_SETRLIMIT, "setrlimit", allow()},
	{unix.SYS_PRLIMIT64, "prlimit64", allow()},
	{unix.SYS_GETRUSAGE, "getrusage", allow()},
	{unix.SYS_SYSINFO, "sysinfo", allow()},
	{unix.SYS_UNAME, "uname", allow()},
	{unix.SYS_PERSONALITY, "personality", allow()},
	// The sandbox has its own UTS namespace (§2).
	{unix.SYS_SETHOSTNAME, "sethostname", allow()},
	{unix.SYS_SETDOMAINNAME, "setdomainname", allow()},
	// Stacked filters can only narrow ours; a second listener is EBUSY.
	{unix.SYS_SECCOMP, "seccomp", allow()},
	// PR_SET_MM rewrites the exe link and the memory layout the sentry reports.
	{unix.SYS_PRCTL, "prctl", Entry{Action: Allow, Args: []ArgRule{
		{Arg: 0, Value: unix.PR_SET_MM, Action: Deny, Errno: unix.EPERM}}}},

	// Wait and SysV IPC run in the sandbox's own pid and IPC namespaces.
	{unix.SYS_WAIT4, "wait4", allow()},
	{unix.SYS_WAITID, "waitid", allow()},
	{unix.SYS_SHMGET, "shmget", allow()},
	{unix.SYS_SHMAT, "shmat", allow()},
	{unix.SYS_SHMCTL, "shmctl", allow()},
	{unix.SYS_SHMDT, "shmdt", allow()},
	{unix.SYS_SEMGET, "semget", allow()},
	{unix.SYS_SEMOP, "semop", allow()},
	{unix.SYS_SEMCTL, "semctl", allow()},
	{unix.SYS_SEMTIMEDOP, "semtimedop", allow()},
	{unix.SYS_MSGGET, "msgget", allow()},
	{unix.SYS_MSGSND, "msgsnd", allow()},
	{unix.SYS_MSGRCV, "msgrcv", allow()},
	{unix.SYS_MSGCTL, "msgctl", allow()},
	{unix.SYS_MQ_TIMEDSEND, "mq_timedsend", allow()},
	{unix.SYS_MQ_TIMEDRECEIVE, "mq_timedreceive", allow()},
	{unix.SYS_MQ_NOTIFY, "mq_notify", allow()},
	{unix.SYS_MQ_GETSETATTR, "mq_getsetattr", allow()},

	// Sockets: data and options run natively; anything that names a unix
	// socket path, reports one, creates an fd or carries fds is trapped.
	{unix.SYS_RECVFROM, "recvfrom", allow()},
	{unix.SYS_SHUTDOWN, "shutdown", allow()},
	{unix.SYS_LISTEN, "listen", allow()},
	// A peer's pidfd would be the sentry's for the unix sockets it
	// connects on the program's behalf (socket.go): these options fail as
	// on a kernel before 6.5, and programs fall back to SO_PEERCRED.
	{unix.SYS_SETSOCKOPT, "setsockopt", allowUnless(2, soPassPidfd, unix.ENOPROTOOPT)},
	{unix.SYS_GETSOCKOPT, "getsockopt", allowUnless(2, soPeerPidfd, unix.ENOPROTOOPT)},
	{unix.SYS_SOCKET, "socket", trap()},
	{unix.SYS_SOCKETPAIR, "socketpair", trap()},
	{unix.SYS_BIND, "bind", trap()},
	{unix.SYS_CONNECT, "connect", trap()},
	{unix.SYS_ACCEPT, "accept", trap()},
	{unix.SYS_ACCEPT4, "accept4", trap()},
	{unix.SYS_GETSOCKNAME, "getsockname", trap()},
	{unix.SYS_GETPEERNAME, "getpeername", trap()},
	// sendto without a destination (the common case) cannot name a path.
	{unix.SYS_SENDTO, "sendto", Entry{Action: Trap, Args: []ArgRule{{Arg: 4, Value: 0, Full: true, Action: Allow}}}},
	{unix.SYS_SENDMSG, "sendmsg", trap()},
	{unix.SYS_SENDMMSG, "sendmmsg", trap()},
	// SCM_RIGHTS would create fds the sentry's tables do not know.
	{unix.SYS_RECVMSG, "recvmsg", trap()},
	{unix.SYS_RECVMMSG, "recvmmsg", trap()},

	// Paths, metadata, xattrs, directories, cwd and root.
	{unix.SYS_OPEN, "open", trap()},
	{unix.SYS_OPENAT, "openat", trap()},
	{unix.SYS_OPENAT2, "openat2", trap()},
	{unix.SYS_CREAT, "creat", trap()},
	{unix.SYS_STAT, "stat", trap()},
	{unix.SYS_FSTAT, "fstat", trap()},
	{unix.SYS_LSTAT, "lstat", trap()},
	{unix.SYS_NEWFSTATAT, "newfstatat", trap()},
	{unix.SYS_STATX, "statx", trap()},
	{unix.SYS_STATFS, "statfs", trap()},
	{unix.SYS_FSTATFS, "fstatfs", trap()},
	{unix.SYS_ACCESS, "access", trap()},
	{unix.SYS_FACCESSAT, "faccessat", trap()},
	{unix.SYS_FACCESSAT2, "faccessat2", trap()},
	{unix.SYS_READLINK, "readlink", trap()},
	{unix.SYS_READLINKAT, "readlinkat", trap()},
	{unix.SYS_GETDENTS, "getdents", trap()},
	{unix.SYS_GETDENTS64, "getdents64", trap()},
	// Directory fds are placeholders whose offset the sentry keeps (§4).
	{unix.SYS_LSEEK, "lseek", trap()},
	{unix.SYS_GETCWD, "getcwd", trap()},
	{unix.SYS_CHDIR, "chdir", trap()},
	{unix.SYS_FCHDIR, "fchdir", trap()},
	{unix.SYS_CHROOT, "chroot", trap()},
	{unix.SYS_UMASK, "umask", trap()},
	{unix.SYS_MKDIR, "mkdir", trap()},
	{unix.SYS_MKDIRAT, "mkdirat", trap()},
	{unix.SYS_RMDIR, "rmdir", trap()},
	{unix.SYS_MKNOD, "mknod", trap()},
	{unix.SYS_MKNODAT, "mknodat", trap()},
	{unix.SYS_LINK, "link", trap()},
	{unix.SYS_LINKAT, "linkat", trap()},
	{unix.SYS_UNLINK, "unlink", trap()},
	{unix.SYS_UNLINKAT, "unlinkat", trap()},
	{unix.SYS_SYMLINK, "symlink", trap()},
	{unix.SYS_SYMLINKAT, "symlinkat", trap()},
	{unix.SYS_RENAME, "rename", trap()},
	{unix.SYS_RENAMEAT, "renameat", trap()},
	{unix.SYS_RENAMEAT2, "renameat2", trap()},
	{unix.SYS_TRUNCATE, "truncate", trap()},
	// Size changes are metadata the VFS reports; the handler may continue.
	{unix.SYS_FTRUNCATE, "ftruncate", trap()},
	{unix.SYS_FALLOCATE, "fallocate", trap()},
	{unix.SYS_CHMOD, "chmod", trap()},
	{unix.SYS_FCHMOD, "fchmod", trap()},
	{unix.SYS_FCHMODAT, "fchmodat", trap()},
	{unix.SYS_FCHMODAT2, "fchmodat2", trap()},
	{unix.SYS_CHOWN, "chown", trap()},
	{unix.SYS_FCHOWN, "fchown", trap()},
	{unix.SYS_LCHOWN, "lchown", trap()},
	{unix.SYS_FCHOWNAT, "fchownat", trap()},
	{unix.SYS_UTIME, "utime", trap()},
	{unix.SYS_UTIMES, "utimes", trap()},
	{unix.SYS_FUTIMESAT, "futimesat", trap()},
	{unix.SYS_UTIMENSAT, "utimensat", trap()},
	{unix.SYS_FILE_GETATTR, "file_getattr", trap()},
	{unix.SYS_FILE_SETATTR, "file_setattr", trap()},
	{unix.SYS_SETXATTR, "setxattr", trap()},
	{unix.SYS_LSETXATTR, "lsetxattr", trap()},
	{unix.SYS_FSETXATTR, "fsetxattr", trap()},
	{unix.SYS_SETXATTRAT, "setxattrat", trap()},
	{unix.SYS_GETXATTR, "getxattr", trap()},
	{unix.SYS_LGETXATTR, "lgetxattr", trap()},
	{unix.SYS_FGETXATTR, "fgetxattr", trap()},
	{unix.SYS_GETXATTRAT, "getxattrat", trap()},
	{unix.SYS_LISTXATTR, "listxattr", trap()},
	{unix.SYS_LLISTXATTR, "llistxattr", trap()},
	{unix.SYS_FLISTXATTR, "flistxattr", trap()},
	{unix.SYS_LISTXATTRAT, "listxattrat", trap()},
	{unix.SYS_REMOVEXATTR, "removexattr", trap()},
	{unix.SYS_LREMOVEXATTR, "lremovexattr", trap()},
	{unix.SYS_FREMOVEXATTR, "fremovexattr", trap()},
	{unix.SYS_REMOVEXATTRAT, "removexattrat", trap()},
	{unix.SYS_FLOCK, "flock", trap()},
	// ioctl on installed fds reads metadata (FS_IOC_*) and ttys; the handler
	// may continue the harmless ones.
	{unix.SYS_IOCTL, "ioctl", trap()},
	// fcntl duplicates fds, sets CLOEXEC and takes locks; reading the flags
	// and setting O_NONBLOCK/O_APPEND act on the host description alone.
	{unix.SYS_FCNTL, "fcntl", trapUnless(1, unix.F_GETFD, unix.F_GETFL, unix.F_SETFL)},
	// POSIX message queues are named in the IPC namespace (the sandbox's
	// own), not in a mount namespace; their fds are host objects.
	{unix.SYS_MQ_OPEN, "mq_open", allow()},
	{unix.SYS_MQ_UNLINK, "mq_unlink", allow()},

	// Creating, duplicating and closing fds.
	{unix.SYS_CLOSE, "close", trap()},
	{unix.SYS_CLOSE_RANGE, "close_range", trap()},
	{unix.SYS_DUP, "dup", trap()},
	{unix.SYS_DUP2, "dup2", trap()},
	{unix.SYS_DUP3, "dup3", trap()},
	{unix.SYS_PIPE, "pipe", trap()},
	{unix.SYS_PIPE2, "pipe2", trap()},
	{unix.SYS_EVENTFD, "eventfd", trap()},
	{unix.SYS_EVENTFD2, "eventfd2", trap()},
	{unix.SYS_SIGNALFD, "signalfd", trap()},
	{unix.SYS_SIGNALFD4, "signalfd4", trap()},
	{unix.SYS_TIMERFD_CREATE, "timerfd_create", trap()},
	{unix.SYS_EPOLL_CREATE, "epoll_create", trap()},
	{unix.SYS_EPOLL_CREATE1, "epoll_create1", trap()},
	{unix.SYS_MEMFD_CREATE, "memfd_create", trap()},
	{unix.SYS_INOTIFY_INIT, "inotify_init", trap()},
	{unix.SYS_INOTIFY_INIT1, "inotify_init1", trap()},
	{unix.SYS_INOTIFY_ADD_WATCH, "inotify_add_watch", trap()},
	{unix.SYS_INOTIFY_RM_WATCH, "inotify_rm_watch", trap()},
	{unix.SYS_PIDFD_OPEN, "pidfd_open", trap()},
	{unix.SYS_PIDFD_GETFD, "pidfd_getfd", trap()},

	// Credentials feed the VFS permission checks: the sentry tracks changes.
	{unix.SYS_SETUID, "setuid", trap()},
	{unix.SYS_SETGID, "setgid", trap()},
	{unix.SYS_SETREUID, "setreuid", trap()},
	{unix.SYS_SETREGID, "setregid", trap()},
	{unix.SYS_SETRESUID, "setresuid", trap()},
	{unix.SYS_SETRESGID, "setresgid", trap()},
	{unix.SYS_SETFSUID, "setfsuid", trap()},
	{unix.SYS_SETFSGID, "setfsgid", trap()},
	{unix.SYS_SETGROUPS, "setgroups", trap()},
	{unix.SYS_CAPSET, "capset", trap()},
	// CLONE_FILES/CLONE_FS change fd-table and cwd sharing; namespace flags
	// are refused by the handler.
	{unix.SYS_UNSHARE, "unshare", trap()},

	// Process lifecycle and exec (mechanism: ptrace).
	{unix.SYS_EXECVE, "execve", trace()},
	{unix.SYS_EXECVEAT, "execveat", trace()},
	{unix.SYS_FORK, "fork", observe()},
	{unix.SYS_VFORK, "vfork", observe()},
	{unix.SYS_CLONE, "clone", observe()},
	{unix.SYS_EXIT, "exit", observe()},
	{unix.SYS_EXIT_GROUP, "exit_group", observe()},
	// clone3 keeps its flags in memory, where neither the filter nor a racing
	// read can trust them; glibc falls back to clone on ENOSYS.
	{unix.SYS_CLONE3, "clone3", enosys()},

	// Escape hatches (§10): EPERM, as a kernel that forbids them answers.
	{unix.SYS_PTRACE, "ptrace", eperm()},
	{unix.SYS_PROCESS_VM_READV, "process_vm_readv", eperm()},
	{unix.SYS_PROCESS_VM_WRITEV, "process_vm_writev", eperm()},
	{unix.SYS_PROCESS_MADVISE, "process_madvise", eperm()},
	{unix.SYS_PROCESS_MRELEASE, "process_mrelease", eperm()},
	{unix.SYS_KCMP, "kcmp", eperm()},
	{unix.SYS_MOUNT, "mount", eperm()},
	{unix.SYS_UMOUNT2, "umount2", eperm()},
	{unix.SYS_PIVOT_ROOT, "pivot_root", eperm()},
	{unix.SYS_OPEN_TREE, "open_tree", eperm()},
	{unix.SYS_OPEN_TREE_ATTR, "open_tree_attr", eperm()},
	{unix.SYS_MOVE_MOUNT, "move_mount", eperm()},
	{unix.SYS_FSOPEN, "fsopen", eperm()},
	{unix.SYS_FSCONFIG, "fsconfig", eperm()},
	{unix.SYS_FSMOUNT, "fsmount", eperm()},
	{unix.SYS_FSPICK, "fspick", eperm()},
	{unix.SYS_MOUNT_SETATTR, "mount_setattr", eperm()},
	{unix.SYS_SETNS, "setns", eperm()},
	{unix.SYS_OPEN_BY_HANDLE_AT, "open_by_handle_at", eperm()},
	{unix.SYS_BPF, "bpf", eperm()},
	{unix.SYS_PERF_EVENT_OPEN, "perf_event_open", eperm()},
	{unix.SYS_USERFAULTFD, "userfaultfd", eperm()},
	{unix.SYS_FANOTIFY_INIT, "fanotify_init", eperm()},
	{unix.SYS_FANOTIFY_MARK, "fanotify_mark", eperm()},
	{unix.SYS_KEYCTL, "keyctl", eperm()},
	{unix.SYS_ADD_KEY, "add_key", eperm()},
	{unix.SYS_REQUEST_KEY, "request_key", eperm()},
	{unix.SYS_KEXEC_LOAD, "kexec_load", eperm()},
	{unix.SYS_KEXEC_FILE_LOAD, "kexec_file_load", eperm()},
	{unix.SYS_INIT_MODULE, "init_module", eperm()},
	{unix.SYS_FINIT_MODULE, "finit_module", eperm()},
	{unix.SYS_DELETE_MODULE, "delete_module", eperm()},
	{unix.SYS_REBOOT, "reboot", eperm()},
	{unix.SYS_SWAPON, "swapon", eperm()},
	{unix.SYS_SWAPOFF, "swapoff", eperm()},
	{unix.SYS_ACCT, "acct", eperm()},
	{unix.SYS_QUOTACTL, "quotactl", eperm()},
	{unix.SYS_QUOTACTL_FD, "quotactl_fd", eperm()},
	{unix.SYS_SYSLOG, "syslog", eperm()},
	{unix.SYS_VHANGUP, "vhangup", eperm()},
	{unix.SYS_IOPL, "iopl", eperm()},
	{unix.SYS_IOPERM, "ioperm", eperm()},
	{unix.SYS_SETTIMEOFDAY, "settimeofday", eperm()},
	{unix.SYS_CLOCK_SETTIME, "clock_settime", eperm()},
	{unix.SYS_ADJTIMEX, "adjtimex", eperm()},
	{unix.SYS_CLOCK_ADJTIME, "clock_adjtime", eperm()},

	// Not built into this kernel, as far as the program can tell: callers
	// fall back (io_uring to plain syscalls, landlock and statmount to
	// nothing, name_to_handle_at to mountinfo).
	{unix.SYS_IO_URING_SETUP, "io_uring_setup", enosys()},
	{unix.SYS_IO_URING_ENTER, "io_uring_enter", enosys()},
	{unix.SYS_IO_URING_REGISTER, "io_uring_register", enosys()},
	{unix.SYS_NAME_TO_HANDLE_AT, "name_to_handle_at", enosys()},
	{unix.SYS_LANDLOCK_CREATE_RULESET, "landlock_create_ruleset", enosys()},
	{unix.SYS_LANDLOCK_ADD_RULE, "landlock_add_rule", enosys()},
	{unix.SYS_LANDLOCK_RESTRICT_SELF, "landlock_restrict_self", enosys()},
	{unix.SYS_MEMFD_SECRET, "memfd_secret", enosys()},
	{unix.SYS_STATMOUNT, "statmount", enosys()},
	{unix.SYS_LISTMOUNT, "listmount", enosys()},
	{unix.SYS_LISTNS, "listns", enosys()},
	{unix.SYS_LSM_GET_SELF_ATTR, "lsm_get_self_attr", enosys()},
	{unix.SYS_LSM_SET_SELF_ATTR, "lsm_set_self_attr", enosys()},
	{unix.SYS_LSM_LIST_MODULES, "lsm_list_modules", enosys()},
	{unix.SYS_MODIFY_LDT, "modify_ldt", enosys()},
	{unix.SYS_SET_THREAD_AREA, "set_thread_area", enosys()},
	{unix.SYS_GET_THREAD_AREA, "get_thread_area", enosys()},
	{unix.SYS_URETPROBE, "uretprobe", enosys()},
	{unix.SYS_UPROBE, "uprobe", enosys()},
	{unix.SYS_RSEQ_SLICE_YIELD, "rseq_slice_yield", enosys()},

	// Obsolete or never implemented on x86-64: ENOSYS.
	{unix.SYS_USELIB, "uselib", enosys()},
	{unix.SYS_USTAT, "ustat", enosys()},
	{unix.SYS_SYSFS, "sysfs", enosys()},
	{unix.SYS__SYSCTL, "_sysctl", enosys()},
	{unix.SYS_CREATE_MODULE, "create_module", enosys()},
	{unix.SYS_GET_KERNEL_SYMS, "get_kernel_syms", enosys()},
	{unix.SYS_QUERY_MODULE, "query_module", enosys()},
	{unix.SYS_NFSSERVCTL, "nfsservctl", enosys()},
	{unix.SYS_GETPMSG, "getpmsg", enosys()},
	{unix.SYS_PUTPMSG, "putpmsg", enosys()},
	{unix.SYS_AFS_SYSCALL, "afs_syscall", enosys()},
	{unix.SYS_TUXCALL, "tuxcall", enosys()},
	{unix.SYS_SECURITY, "security", enosys()},
	{unix.SYS_LOOKUP_DCOOKIE, "lookup_dcookie", enosys()},
	{unix.SYS_EPOLL_CTL_OLD, "epoll_ctl_old", enosys()},
	{unix.SYS_EPOLL_WAIT_OLD, "epoll_wait_old", enosys()},
	{unix.SYS_VSERVER, "vserver", enosys()},
}

// Numbers between the x86-64 table and the generic numbers (424+) that Linux
// never assigned on x86-64.
const (
	firstGap = unix.SYS_UPROBE + 1
	lastGap  = unix.SYS_PIDFD_SEND_SIGNAL - 1
)

func init() {
	for _, d := range defs {
		if table[d.nr].Action != unclassified {
			panic(fmt.Sprintf("syscalls: %s (%d) classified twice", d.name, d.nr))
		}
		d.entry.Name = d.name
		table[d.nr] = d.entry
	}
	for nr := firstGap; nr <= lastGap; nr++ {
		if table[nr].Action != unclassified {
			panic(fmt.Sprintf("syscalls: %d is not a gap", nr))
		}
		e := enosys()
		e.Name = fmt.Sprintf("syscall_%d", nr)
		table[nr] = e
	}
}
