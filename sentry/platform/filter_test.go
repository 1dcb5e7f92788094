package platform

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"
)

// runBPF interprets the subset of classic BPF that BuildFilter emits.
func runBPF(t *testing.T, prog []unix.SockFilter, data []byte) uint32 {
	var a uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		switch in.Code {
		case opLdAbs:
			a = binary.LittleEndian.Uint32(data[in.K:])
		case opJeq, opJge, opJset:
			var c bool
			switch in.Code {
			case opJeq:
				c = a == in.K
			case opJge:
				c = a >= in.K
			default:
				c = a&in.K != 0
			}
			if c {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case opJa:
			pc += int(in.K)
		case opRet:
			return in.K
		default:
			t.Fatalf("unexpected opcode %#x at %d", in.Code, pc)
		}
	}
	t.Fatal("fell off the end of the filter")
	return 0
}

func seccompData(arch uint32, nr int32, args [6]uint64) []byte {
	b := make([]byte, 64)
	binary.LittleEndian.PutUint32(b[offNr:], uint32(nr))
	binary.LittleEndian.PutUint32(b[offArch:], arch)
	for i, v := range args {
		binary.LittleEndian.PutUint64(b[offArgs+8*i:], v)
	}
	return b
}

func testPolicy() Policy {
	p := make(Policy, 500)
	for i := range p {
		switch {
		case i%7 == 0:
			p[i] = Rule{Action: Notify}
		case i%11 == 0:
			p[i] = Rule{Action: Errno, Errno: unix.EPERM}
		case i > 300 && i < 400:
			p[i] = Rule{Action: Errno, Errno: unix.ENOSYS}
		default:
			p[i] = Rule{Action: Allow}
		}
	}
	p[unix.SYS_EXECVEAT] = Rule{Action: Trace}
	p[unix.SYS_EXECVE] = Rule{Action: Trace}
	p[unix.SYS_CLOSE] = Rule{Action: Notify}
	p[unix.SYS_FCNTL] = Rule{Action: Notify, Args: []ArgMatch{{Arg: 1, Value: unix.F_GETFL, Action: Allow}}}
	p[unix.SYS_SENDTO] = Rule{Action: Notify, Args: []ArgMatch{{Arg: 4, Value: 0, Full: true, Action: Allow}}}
	return p
}

func want(r Rule, args [6]uint64) uint32 {
	for _, m := range r.Args {
		v := args[m.Arg]
		if !m.Full {
			v = uint64(uint32(v))
		}
		if v == m.Value {
			x, _ := retVal(m.Action, m.Errno)
			return x
		}
	}
	x, _ := retVal(r.Action, r.Errno)
	return x
}

func TestFilterMatchesPolicy(t *testing.T) {
	const cookie = 0x1234_5678_9abc_d000
	p, err := withInternalRules(testPolicy(), cookie)
	if err != nil {
		t.Fatal(err)
	}
	prog, err := BuildFilter(p)
	if err != nil {
		t.Fatal(err)
	}
	argSets := [][6]uint64{
		{},
		{1, unix.F_GETFL, 3, 4, 5, 6},
		{1, 1<<32 | unix.F_GETFL, 0, 0, 0, 0},
		{1, 2, 3, 4, 1 << 32, cookie},
		{1, 2, 3, 4, 0, cookie &^ (1 << 40)},
		{0, 0, 0, 0, 0, cookie & 0xffffffff},
	}
	for nr := range p {
		for _, args := range argSets {
			got := runBPF(t, prog, seccompData(auditArchX86_64, int32(nr), args))
			if w := want(p[nr], args); got != w {
				t.Errorf("nr %d args %x: got %#x want %#x", nr, args, got, w)
			}
		}
	}
	enosys := uint32(unix.SECCOMP_RET_ERRNO) | uint32(unix.ENOSYS)
	kill := uint32(unix.SECCOMP_RET_KILL_PROCESS)
	for _, c := range []struct {
		arch uint32
		nr   int32
		want uint32
	}{
		{auditArchX86_64, int32(len(p)), enosys},
		{auditArchX86_64, 100000, enosys},
		{auditArchX86_64, -1, enosys},
		{auditArchX86_64, x32SyscallBit | unix.SYS_READ, kill},
		{0x40000003, unix.SYS_READ, kill}, // i386
	} {
		if got := runBPF(t, prog, seccompData(c.arch, c.nr, [6]uint64{})); got != c.want {
			t.Errorf("arch %#x nr %d: got %#x want %#x", c.arch, c.nr, got, c.want)
		}
	}
	if got := runBPF(t, prog, seccompData(auditArchX86_64, unix.SYS_EXECVEAT, [6]uint64{5: cookie})); got != unix.SECCOMP_RET_USER_NOTIF {
		t.Errorf("exec carrier: %#x", got)
	}
	t.Logf("%d instructions", len(prog))
}
