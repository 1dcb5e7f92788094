package platform

import (
	"fmt"
	"reflect"

	"golang.org/x/sys/unix"
)

// Action is what the program's seccomp filter does with one syscall.
type Action uint8

const (
	// Allow runs the syscall on the host.
	Allow Action = iota + 1
	// Notify stops it with SECCOMP_RET_USER_NOTIF for Handler.Syscall.
	Notify
	// Trace stops it with SECCOMP_RET_TRACE for the tracer (execve,
	// execveat only: the tracer hands them to Handler.Exec).
	Trace
	// Errno fails it with the rule's Errno.
	Errno
)

// ArgMatch overrides a Rule when syscall argument Arg (0-5) equals Value.
// Unless Full, only the low 32 bits are compared (int arguments, which the
// kernel truncates).
type ArgMatch struct {
	Arg    int
	Value  uint64
	Full   bool
	Action Action
	Errno  unix.Errno
}

// Rule is the filter's decision for one syscall number.
type Rule struct {
	Action Action
	Errno  unix.Errno
	// Args are tried in order before Action; the first match wins.
	Args []ArgMatch
}

// Policy maps every syscall number (the index) to its rule. Numbers past
// the end fail with ENOSYS.
type Policy []Rule

// seccomp_data layout.
const (
	offNr   = 0
	offArch = 4
	offArgs = 16
)

// Classic BPF opcodes used here.
const (
	opLdAbs = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
	opJeq   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
	opJge   = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
	opJset  = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
	opJa    = unix.BPF_JMP | unix.BPF_JA
	opRet   = unix.BPF_RET | unix.BPF_K
)

const (
	auditArchX86_64 = 0xc000003e
	x32SyscallBit   = 0x40000000
	maxBPFInsns     = 4096
)

func stmt(code uint16, k uint32) unix.SockFilter { return unix.SockFilter{Code: code, K: k} }

func jump(code uint16, k uint32, jt, jf uint8) unix.SockFilter {
	return unix.SockFilter{Code: code, Jt: jt, Jf: jf, K: k}
}

func retVal(a Action, e unix.Errno) (uint32, error) {
	switch a {
	case Allow:
		return unix.SECCOMP_RET_ALLOW, nil
	case Notify:
		return unix.SECCOMP_RET_USER_NOTIF, nil
	case Trace:
		return unix.SECCOMP_RET_TRACE, nil
	case Errno:
		if e <= 0 || e > unix.SECCOMP_RET_DATA {
			return 0, fmt.Errorf("platform: bad errno %d in filter rule", e)
		}
		return unix.SECCOMP_RET_ERRNO | uint32(e), nil
	}
	return 0, fmt.Errorf("platform: unknown filter action %d", a)
}

// leaf emits the code for one rule, ending in a return on every path.
func leaf(r Rule) ([]unix.SockFilter, error) {
	var out []unix.SockFilter
	for _, m := range r.Args {
		if m.Arg < 0 || m.Arg > 5 {
			return nil, fmt.Errorf("platform: argument %d out of range", m.Arg)
		}
		ret, err := retVal(m.Action, m.Errno)
		if err != nil {
			return nil, err
		}
		lo := uint32(offArgs + 8*m.Arg)
		out = append(out, stmt(opLdAbs, lo))
		if m.Full {
			out = append(out,
				jump(opJeq, uint32(m.Value), 0, 3),
				stmt(opLdAbs, lo+4),
				jump(opJeq, uint32(m.Value>>32), 0, 1))
		} else {
			out = append(out, jump(opJeq, uint32(m.Value), 0, 1))
		}
		out = append(out, stmt(opRet, ret))
	}
	ret, err := retVal(r.Action, r.Errno)
	if err != nil {
		return nil, err
	}
	return append(out, stmt(opRet, ret)), nil
}

type run struct {
	first int
	rule  Rule
}

// tree emits a binary search over runs (A holds the syscall number). Every
// subtree ends in returns, so the left one never falls into the right one.
func tree(runs []run) ([]unix.SockFilter, error) {
	if len(runs) == 1 {
		return leaf(runs[0].rule)
	}
	mid := len(runs) / 2
	left, err := tree(runs[:mid])
	if err != nil {
		return nil, err
	}
	right, err := tree(runs[mid:])
	if err != nil {
		return nil, err
	}
	pivot := uint32(runs[mid].first)
	var out []unix.SockFilter
	if len(left) <= 255 {
		out = append(out, jump(opJge, pivot, uint8(len(left)), 0))
	} else {
		// Conditional offsets are 8 bits: hop over the left side with JA.
		out = append(out, jump(opJge, pivot, 0, 1), stmt(opJa, uint32(len(left))))
	}
	out = append(out, left...)
	return append(out, right...), nil
}

// BuildFilter assembles the program's seccomp filter: other architectures
// and x32 numbers kill the process, numbers past the policy are ENOSYS, and
// every other number follows its rule.
func BuildFilter(p Policy) ([]unix.SockFilter, error) {
	if len(p) == 0 {
		return nil, fmt.Errorf("platform: empty policy")
	}
	var runs []run
	for nr, r := range p {
		if r.Action == 0 {
			return nil, fmt.Errorf("platform: syscall %d has no rule", nr)
		}
		if len(runs) > 0 && reflect.DeepEqual(runs[len(runs)-1].rule, r) {
			continue
		}
		runs = append(runs, run{first: nr, rule: r})
	}
	body, err := tree(runs)
	if err != nil {
		return nil, err
	}
	kill := uint32(unix.SECCOMP_RET_KILL_PROCESS)
	prog := []unix.SockFilter{
		stmt(opLdAbs, offArch),
		jump(opJeq, auditArchX86_64, 1, 0),
		stmt(opRet, kill),
		stmt(opLdAbs, offNr),
		jump(opJge, uint32(len(p)), 0, 4),
		// Out of range: negative numbers (syscall(-1)) are ENOSYS as on
		// Linux; x32 numbers kill.
		jump(opJge, 0x80000000, 2, 0),
		jump(opJset, x32SyscallBit, 0, 1),
		stmt(opRet, kill),
		stmt(opRet, unix.SECCOMP_RET_ERRNO|uint32(unix.ENOSYS)),
	}
	prog = append(prog, body...)
	if len(prog) > maxBPFInsns {
		return nil, fmt.Errorf("platform: filter has %d instructions, max %d", len(prog), maxBPFInsns)
	}
	return prog, nil
}

// withInternalRules returns a copy of p with the platform's own rules, keyed
// by a secret cookie in argument 5 (unused by both calls, so the kernel
// ignores it): execveat+cookie is the exec carrier (see exec.go), close+cookie
// is the cleanup the tracer injects after a failed exec.
func withInternalRules(p Policy, cookie uint64) (Policy, error) {
	if len(p) <= unix.SYS_EXECVEAT {
		return nil, fmt.Errorf("platform: policy too short")
	}
	q := append(Policy(nil), p...)
	add := func(nr int, m ArgMatch) {
		r := q[nr]
		r.Args = append([]ArgMatch{m}, r.Args...)
		q[nr] = r
	}
	add(unix.SYS_EXECVEAT, ArgMatch{Arg: 5, Value: cookie, Full: true, Action: Notify})
	add(unix.SYS_CLOSE, ArgMatch{Arg: 5, Value: cookie, Full: true, Action: Allow})
	return q, nil
}
