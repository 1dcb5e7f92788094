package gofer

// The gofer's seccomp allowlist (x86-64). Anything not listed fails with
// EPERM rather than killing the process: a system call the Go runtime starts
// using in a later release then shows up as an error in the gofer's log, not
// as a sandbox that dies mid-request. Foreign architectures and the x32 ABI
// are killed outright: they would bypass the syscall numbers checked here.

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// allowedSyscalls are what serving needs: the Go runtime (memory, threads,
// signals, timers, the poller), socket I/O on inherited sockets, and the
// *at file operations on held fds.
var allowedSyscalls = []uint32{
	// Go runtime.
	unix.SYS_MMAP, unix.SYS_MUNMAP, unix.SYS_MPROTECT, unix.SYS_MADVISE, unix.SYS_BRK,
	unix.SYS_RT_SIGACTION, unix.SYS_RT_SIGPROCMASK, unix.SYS_RT_SIGRETURN, unix.SYS_SIGALTSTACK,
	unix.SYS_FUTEX, unix.SYS_SCHED_YIELD, unix.SYS_SCHED_GETAFFINITY, unix.SYS_NANOSLEEP,
	unix.SYS_CLOCK_GETTIME, unix.SYS_CLOCK_NANOSLEEP, unix.SYS_GETTID, unix.SYS_GETPID,
	unix.SYS_TGKILL, unix.SYS_EXIT, unix.SYS_EXIT_GROUP, unix.SYS_RESTART_SYSCALL,
	unix.SYS_GETRANDOM, unix.SYS_PRLIMIT64, unix.SYS_EPOLL_CREATE1, unix.SYS_EPOLL_CTL,
	unix.SYS_EPOLL_PWAIT, unix.SYS_EPOLL_PWAIT2, unix.SYS_EPOLL_WAIT, unix.SYS_EVENTFD2,
	unix.SYS_PIPE2, unix.SYS_FCNTL, unix.SYS_DUP3, unix.SYS_CLOSE,
	// Sockets the gofer was given.
	unix.SYS_READ, unix.SYS_WRITE, unix.SYS_RECVMSG, unix.SYS_SENDMSG, unix.SYS_SHUTDOWN,
	unix.SYS_GETSOCKOPT, unix.SYS_SETSOCKOPT,
	// Files, always relative to held fds or /proc/self/fd.
	unix.SYS_OPENAT, unix.SYS_FSTAT, unix.SYS_NEWFSTATAT, unix.SYS_STATX, unix.SYS_FSTATFS,
	unix.SYS_LSEEK, unix.SYS_GETDENTS64, unix.SYS_PREAD64, unix.SYS_PWRITE64,
	unix.SYS_READLINKAT, unix.SYS_MKDIRAT, unix.SYS_MKNODAT, unix.SYS_SYMLINKAT,
	unix.SYS_LINKAT, unix.SYS_RENAMEAT, unix.SYS_RENAMEAT2, unix.SYS_UNLINKAT,
	unix.SYS_FCHOWNAT, unix.SYS_FCHMODAT, unix.SYS_UTIMENSAT, unix.SYS_TRUNCATE,
	unix.SYS_FTRUNCATE, unix.SYS_FSYNC, unix.SYS_FDATASYNC,
	unix.SYS_GETXATTR, unix.SYS_SETXATTR, unix.SYS_LISTXATTR, unix.SYS_REMOVEXATTR,
}

const (
	auditArchX86_64 = 0xc000003e
	x32SyscallBit   = 0x40000000
	// Offsets in struct seccomp_data.
	offNr   = 0
	offArch = 4
	offArg0 = 16
)

func stmt(code uint16, k uint32) unix.SockFilter { return unix.SockFilter{Code: code, K: k} }

func jump(code uint16, k uint32, jt, jf int) unix.SockFilter {
	return unix.SockFilter{Code: code, K: k, Jt: uint8(jt), Jf: uint8(jf)}
}

// seccompProgram builds the filter. Layout (jumps are relative):
//
//	arch check -> nr load -> x32 check -> one JEQ per allowed syscall ->
//	clone: allow only thread creation -> deny / allow / kill
func seccompProgram() []unix.SockFilter {
	n := len(allowedSyscalls)
	// Absolute indexes of the three return instructions.
	deny := 4 + n + 3
	allow := deny + 1
	kill := allow + 1
	rel := func(pc, target int) int { return target - pc - 1 }
	p := []unix.SockFilter{
		stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offArch),
		jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, auditArchX86_64, 0, rel(1, kill)),
		stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offNr),
		jump(unix.BPF_JMP|unix.BPF_JGE|unix.BPF_K, x32SyscallBit, rel(3, kill), 0),
	}
	for i, nr := range allowedSyscalls {
		pc := 4 + i
		p = append(p, jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, nr, rel(pc, allow), 0))
	}
	pc := 4 + n
	p = append(p,
		jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, unix.SYS_CLONE, 0, rel(pc, deny)),
		stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offArg0),
		jump(unix.BPF_JMP|unix.BPF_JSET|unix.BPF_K, unix.CLONE_THREAD, rel(pc+2, allow), rel(pc+2, deny)),
		stmt(unix.BPF_RET|unix.BPF_K, unix.SECCOMP_RET_ERRNO|uint32(unix.EPERM)),
		stmt(unix.BPF_RET|unix.BPF_K, unix.SECCOMP_RET_ALLOW),
		stmt(unix.BPF_RET|unix.BPF_K, unix.SECCOMP_RET_KILL_PROCESS),
	)
	return p
}

func installSeccomp() error {
	if runtime.GOARCH != "amd64" {
		return fmt.Errorf("seccomp allowlist is written for amd64, not %s", runtime.GOARCH)
	}
	// Required for an unprivileged filter, and keeps exec from regaining
	// privileges should it ever be allowed.
	if err := allThreads(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0); err != nil {
		return fmt.Errorf("no_new_privs: %w", err)
	}
	prog := seccompProgram()
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	_, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(prog)
	if e != 0 {
		return fmt.Errorf("installing seccomp filter: %w", e)
	}
	return nil
}
