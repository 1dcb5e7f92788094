package syscalls

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The platform pins tasks that trap to its receivers' CPU while they keep
// trapping (platform/placement.go). The program must not see that pin: it
// would make nproc, os.cpu_count() and Go's GOMAXPROCS say 1.
func init() {
	register(sysSchedGetaffinity, unix.SYS_SCHED_GETAFFINITY)
	register(sysSchedSetaffinity, unix.SYS_SCHED_SETAFFINITY)
}

// maxCPUMask bounds the kernel's cpumask_size() (NR_CPUS is at most 8192).
const maxCPUMask = 8192 / 8

// affinityTarget returns the host tid of sched_*affinity's pid argument
// (0: the caller), or 0 if it names no task of the sandbox.
func (x *ctx) affinityTarget() int {
	pid := int32(x.arg(0))
	switch {
	case pid == 0:
		return x.t.Tid()
	case pid < 0:
		return 0
	}
	return x.t.Kernel().HostPid(int(pid))
}

// sysSchedGetaffinity answers for a placed task with the CPUs it had before
// the platform moved it; the host's answer stands for the others.
func sysSchedGetaffinity(x *ctx) Result {
	tid := x.affinityTarget()
	if tid == 0 {
		return native()
	}
	set, placed := x.t.Kernel().Affinity(tid)
	if !placed {
		return native()
	}
	// The host checks the length and sizes the answer as for the program
	// (EINVAL for a buffer shorter than nr_cpu_ids bits or not a whole
	// number of longs; min(len, cpumask_size()) bytes otherwise).
	var buf [maxCPUMask]byte
	n, _, e := unix.RawSyscall(unix.SYS_SCHED_GETAFFINITY, 0, uintptr(uint32(x.arg(1))), uintptr(unsafe.Pointer(&buf[0])))
	if e != 0 {
		return fail(e)
	}
	clear(buf[:n])
	for i, word := range set {
		for b := 0; b < 8; b++ {
			if at := i*8 + b; at < int(n) {
				buf[at] = byte(word >> (8 * b))
			}
		}
	}
	if _, err := x.c.WriteMemory(x.arg(2), buf[:n]); err != nil {
		return fail(unix.EFAULT)
	}
	return ok(int64(n))
}

// sysSchedSetaffinity lets the program place the task itself from now on.
func sysSchedSetaffinity(x *ctx) Result {
	if tid := x.affinityTarget(); tid != 0 {
		x.t.Kernel().KeepAffinity(tid)
	}
	return native()
}
