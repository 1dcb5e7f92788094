package syscalls

import "golang.org/x/sys/unix"

func init() {
	// The kernel applies the set*id and capset rules; the sentry reads the
	// outcome back before the thread's next file system call.
	register(func(x *ctx) Result {
		x.t.CredsChanging()
		return native()
	}, unix.SYS_SETUID, unix.SYS_SETGID, unix.SYS_SETREUID, unix.SYS_SETREGID, unix.SYS_SETRESUID,
		unix.SYS_SETRESGID, unix.SYS_SETFSUID, unix.SYS_SETFSGID, unix.SYS_SETGROUPS, unix.SYS_CAPSET)
}
