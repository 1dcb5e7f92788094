package syscalls

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestEveryNumberClassified(t *testing.T) {
	for nr := 0; nr <= MaxSyscall; nr++ {
		e := Lookup(nr)
		if e.Action == unclassified {
			t.Errorf("syscall %d is unclassified", nr)
		}
		if e.Name == "" {
			t.Errorf("syscall %d has no name", nr)
		}
		if e.Action == Deny && e.Errno != unix.ENOSYS && e.Errno != unix.EPERM {
			t.Errorf("%s: deny errno %v, want ENOSYS or EPERM", e.Name, e.Errno)
		}
		if e.Action != Deny && e.Errno != 0 {
			t.Errorf("%s: errno set on a %v entry", e.Name, e.Action)
		}
		for _, r := range e.Args {
			if r.Arg < 0 || r.Arg > 5 {
				t.Errorf("%s: argument %d out of range", e.Name, r.Arg)
			}
			if r.Action == Trace || r.Action == Observe || r.Action == unclassified {
				t.Errorf("%s: argument rule action %v", e.Name, r.Action)
			}
		}
	}
	if e := Lookup(MaxSyscall + 1); e.Action != Deny || e.Errno != unix.ENOSYS {
		t.Errorf("number past the table: %+v, want ENOSYS", e)
	}
	if e := Lookup(-1); e.Action != Deny || e.Errno != unix.ENOSYS {
		t.Errorf("-1: %+v, want ENOSYS", e)
	}
}

func TestGapsAreENOSYS(t *testing.T) {
	for nr := 337; nr <= 423; nr++ {
		if e := Lookup(nr); e.Action != Deny || e.Errno != unix.ENOSYS {
			t.Errorf("gap %d: %+v", nr, e)
		}
	}
}

func TestClassification(t *testing.T) {
	want := map[string]struct {
		a Action
		e unix.Errno
	}{
		"openat": {Trap, 0}, "open": {Trap, 0}, "close": {Trap, 0}, "dup3": {Trap, 0},
		"fstat": {Trap, 0}, "newfstatat": {Trap, 0}, "statx": {Trap, 0}, "getdents64": {Trap, 0},
		"chdir": {Trap, 0}, "fchdir": {Trap, 0}, "chroot": {Trap, 0}, "getxattr": {Trap, 0},
		"bind": {Trap, 0}, "connect": {Trap, 0}, "sendmsg": {Trap, 0}, "sendto": {Trap, 0},
		"close_range": {Trap, 0}, "pipe2": {Trap, 0}, "memfd_create": {Trap, 0},
		"execve": {Trace, 0}, "execveat": {Trace, 0},
		"fork": {Observe, 0}, "vfork": {Observe, 0}, "clone": {Observe, 0},
		"exit": {Observe, 0}, "exit_group": {Observe, 0},
		"read": {Allow, 0}, "write": {Allow, 0}, "mmap": {Allow, 0}, "getppid": {Allow, 0},
		"futex": {Allow, 0}, "rt_sigreturn": {Allow, 0},
		"mount": {Deny, unix.EPERM}, "umount2": {Deny, unix.EPERM}, "pivot_root": {Deny, unix.EPERM},
		"ptrace": {Deny, unix.EPERM}, "process_vm_readv": {Deny, unix.EPERM},
		"process_vm_writev": {Deny, unix.EPERM}, "bpf": {Deny, unix.EPERM},
		"keyctl": {Deny, unix.EPERM}, "add_key": {Deny, unix.EPERM}, "request_key": {Deny, unix.EPERM},
		"perf_event_open": {Deny, unix.EPERM}, "userfaultfd": {Deny, unix.EPERM},
		"kexec_load": {Deny, unix.EPERM}, "kexec_file_load": {Deny, unix.EPERM},
		"init_module": {Deny, unix.EPERM}, "finit_module": {Deny, unix.EPERM},
		"delete_module": {Deny, unix.EPERM}, "open_by_handle_at": {Deny, unix.EPERM},
		"fsopen": {Deny, unix.EPERM}, "move_mount": {Deny, unix.EPERM}, "setns": {Deny, unix.EPERM},
		"io_uring_setup": {Deny, unix.ENOSYS}, "io_uring_enter": {Deny, unix.ENOSYS},
		"io_uring_register": {Deny, unix.ENOSYS}, "name_to_handle_at": {Deny, unix.ENOSYS},
		"clone3": {Deny, unix.ENOSYS}, "uselib": {Deny, unix.ENOSYS}, "_sysctl": {Deny, unix.ENOSYS},
	}
	seen := map[string]bool{}
	for nr := 0; nr <= MaxSyscall; nr++ {
		e := Lookup(nr)
		if seen[e.Name] {
			t.Errorf("name %s used twice", e.Name)
		}
		seen[e.Name] = true
		if w, ok := want[e.Name]; ok {
			if e.Action != w.a || e.Errno != w.e {
				t.Errorf("%s: %v/%v, want %v/%v", e.Name, e.Action, e.Errno, w.a, w.e)
			}
			delete(want, e.Name)
		}
	}
	for name := range want {
		t.Errorf("%s not in the table", name)
	}
}
