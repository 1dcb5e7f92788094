package syscalls

import (
	"fmt"

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
