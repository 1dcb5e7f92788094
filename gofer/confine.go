package gofer

// Confinement of the gofer process. The future `runsc gofer` command starts
// the gofer with SysProcAttr, opens its exports, calls Confine, and only then
// serves its first message.
//
// Why this shape:
//   - Mount namespaces, capabilities and no_new_privs are per thread in
//     Linux, and a Go program always runs several threads. So the mount
//     namespace is created by the parent at clone time (SysProcAttr), and
//     capabilities are changed on every thread with
//     syscall.AllThreadsSyscall (which refuses to work when cgo is linked
//     in: build the gofer with CGO_ENABLED=0, as the Makefile does). The
//     seccomp filter reaches every thread through SECCOMP_FILTER_FLAG_TSYNC.
//   - The new root is an empty read-only tmpfs holding only /proc/self/fd
//     (a bind mount of this process's own fd directory), not the served
//     tree: the gofer reaches its trees only through the fds it opened
//     before confinement, and reopens files through /proc/self/fd/N. No
//     other part of /proc is visible, so /proc/<pid>/root of other
//     processes cannot be used to climb out.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// SysProcAttr returns the process attributes the parent must start the gofer
// with: its own mount namespace from the first instruction, and death with
// its parent.
func SysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWNS, Pdeathsig: unix.SIGKILL}
}

// KeptCapabilities are the capabilities a confined gofer keeps: enough to
// serve files owned by any user and to set their owner and mode.
var KeptCapabilities = []uintptr{
	unix.CAP_CHOWN, unix.CAP_DAC_OVERRIDE, unix.CAP_DAC_READ_SEARCH, unix.CAP_FOWNER, unix.CAP_FSETID,
}

// Confine confines the calling process, which must have been started with
// SysProcAttr and must have opened its exports already: it pivots into an
// empty root, drops capabilities to KeptCapabilities and installs the
// seccomp allowlist. It cannot be undone.
func Confine() error {
	if err := checkOwnMountNS(); err != nil {
		return err
	}
	if err := pivotToEmptyRoot(); err != nil {
		return fmt.Errorf("gofer: confine: %w", err)
	}
	if err := dropCapabilities(); err != nil {
		return fmt.Errorf("gofer: confine: %w", err)
	}
	if err := installSeccomp(); err != nil {
		return fmt.Errorf("gofer: confine: %w", err)
	}
	return nil
}

func checkOwnMountNS() error {
	self, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		return fmt.Errorf("gofer: confine: %w", err)
	}
	parent, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", os.Getppid()))
	if err == nil && parent == self {
		return errors.New("gofer: confine: not in a mount namespace of its own (start the gofer with SysProcAttr)")
	}
	return nil
}

func pivotToEmptyRoot() error {
	// Nothing done here may propagate back to the host.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private: %w", err)
	}
	root := os.TempDir()
	const flags = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	if err := unix.Mount("runsc-gofer", root, "tmpfs", flags, "mode=0555,size=64k"); err != nil {
		return fmt.Errorf("mounting the new root: %w", err)
	}
	fdDir := filepath.Join(root, "proc/self/fd")
	if err := os.MkdirAll(fdDir, 0o555); err != nil {
		return err
	}
	// Resolve /proc/self now: after the pivot, this process's fd directory
	// is the only piece of /proc that remains.
	if err := unix.Mount(fmt.Sprintf("/proc/%d/fd", os.Getpid()), fdDir, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("binding /proc/self/fd: %w", err)
	}
	if err := unix.Mount("", root, "", unix.MS_REMOUNT|unix.MS_RDONLY|flags, ""); err != nil {
		return fmt.Errorf("making the new root read-only: %w", err)
	}
	if err := unix.Chdir(root); err != nil {
		return err
	}
	// pivot_root(".", ".") stacks the old root on top of the new one;
	// detaching it leaves only the new root.
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detaching the old root: %w", err)
	}
	return unix.Chdir("/")
}

func allThreads(trap, a1, a2, a3 uintptr) error {
	_, _, e := syscall.AllThreadsSyscall(trap, a1, a2, a3)
	if e == syscall.ENOTSUP {
		return errors.New("cannot change every thread's credentials: the binary links cgo (build with CGO_ENABLED=0)")
	}
	if e != 0 {
		return e
	}
	return nil
}

func dropCapabilities() error {
	var keep uint64
	for _, c := range KeptCapabilities {
		keep |= 1 << c
	}
	last := uintptr(unix.CAP_LAST_CAP)
	for c := uintptr(0); c <= last; c++ {
		if keep&(1<<c) != 0 {
			continue
		}
		if err := allThreads(unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, c, 0); err != nil && err != unix.EINVAL {
			return fmt.Errorf("dropping capability %d from the bounding set: %w", c, err)
		}
	}
	if err := allThreads(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0); err != nil {
		return fmt.Errorf("clearing ambient capabilities: %w", err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capget: %w", err)
	}
	for i := range data {
		k := uint32(keep >> (32 * i))
		data[i].Effective &= k
		data[i].Permitted &= k
		data[i].Inheritable = 0
	}
	err := allThreads(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0)
	runtime.KeepAlive(&hdr)
	runtime.KeepAlive(&data)
	if err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	return nil
}
