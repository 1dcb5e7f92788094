package syscalls

import (
	"fmt"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/platform"
)

// Policy converts the table into the platform's filter policy.
func Policy() platform.Policy {
	p := make(platform.Policy, MaxSyscall+1)
	for nr := range p {
		e := Lookup(nr)
		p[nr] = platform.Rule{Action: filterAction(e.Action), Errno: e.Errno}
		for _, a := range e.Args {
			p[nr].Args = append(p[nr].Args, platform.ArgMatch{
				Arg: a.Arg, Value: a.Value, Full: a.Full, Action: filterAction(a.Action), Errno: a.Errno})
		}
	}
	return p
}

// interruptible lists trapped calls that may block and that Linux fails
// with EINTR when a signal interrupts them (unless SA_RESTART).
var interruptible = map[int]bool{
	unix.SYS_ACCEPT: true, unix.SYS_ACCEPT4: true, unix.SYS_CONNECT: true,
	unix.SYS_RECVMSG: true, unix.SYS_RECVMMSG: true, unix.SYS_SENDMSG: true,
	unix.SYS_SENDMMSG: true, unix.SYS_SENDTO: true, unix.SYS_FLOCK: true,
	unix.SYS_FCNTL: true, unix.SYS_IOCTL: true,
}

// RestartNrs lists the trapped calls that Linux never fails with EINTR: a
// signal that arrives before the sentry received one restarts it.
func RestartNrs() []int {
	var nrs []int
	for nr := 0; nr <= MaxSyscall; nr++ {
		if table[nr].Action == Trap && !interruptible[nr] {
			nrs = append(nrs, nr)
		}
	}
	return nrs
}

func filterAction(a Action) platform.Action {
	switch a {
	case Allow, Observe:
		return platform.Allow
	case Trap:
		return platform.Notify
	case Trace:
		return platform.Trace
	case Deny:
		return platform.Errno
	}
	panic(fmt.Sprintf("syscalls: no filter action for %v", a))
}
