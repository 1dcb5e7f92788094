// Package boot builds a sandbox: the mount namespace from an OCI spec (or
// from a host directory, for tests and developers), the sentry's kernel,
// and the platform that runs the program under it.
package boot

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
	"runsc.dev/runsc/sentry/fs/tmpfs"
	"runsc.dev/runsc/sentry/kernel"
	"runsc.dev/runsc/sentry/platform"
	"runsc.dev/runsc/sentry/syscalls"
)

// Sandbox is one running sentry: a mount namespace, a kernel and a
// platform. It starts one program (the container's process).
type Sandbox struct {
	VFS    *fs.VFS
	Kernel *kernel.Kernel

	plat        *platform.Platform
	startMu     sync.Mutex
	sentry      *syscalls.Sentry
	devices     *kernel.Devices
	placeholder string
	// pidns is the pid namespace of the first program, which is its pid
	// 1, as runc makes it; later programs ("runsc exec") join it.
	pidns *os.File
}

// Process describes the program a sandbox runs.
type Process struct {
	Argv  []string
	Env   []string
	Cwd   string // in the sandbox; "/" if empty
	Umask uint32
	// Files become the program's fds 0, 1, 2, ...; they pass through
	// natively (pipes, ttys, sockets).
	Files []*os.File
	// Creds are the program's ids and capabilities; nil runs it with the
	// sentry's.
	Creds   *platform.Creds
	Rlimits []platform.Rlimit
	// Terminal: Files[0] is a terminal that becomes the program's
	// controlling terminal.
	Terminal bool
	// OOMScoreAdj, if set, is the program's oom_score_adj.
	OOMScoreAdj *int
}

// NewSandbox makes a sentry over the namespace v, its receivers and
// trapping tasks placed on CPUs as placement says.
func NewSandbox(v *fs.VFS, placement platform.Placement) (*Sandbox, error) {
	s := &Sandbox{VFS: v}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
	var err error
	if s.placeholder, err = os.MkdirTemp("", "runsc-dir-"); err != nil {
		return nil, fmt.Errorf("placeholder directory: %w", err)
	}
	if err := os.Chmod(s.placeholder, 0o555); err != nil {
		return nil, err
	}
	if s.devices, err = kernel.StandardDevices(); err != nil {
		return nil, err
	}
	if s.Kernel, err = kernel.New(v, s.placeholder, s.devices); err != nil {
		return nil, err
	}
	s.sentry = &syscalls.Sentry{Kernel: s.Kernel}
	if s.plat, err = platform.New(s.sentry, syscalls.Policy(), syscalls.RestartNrs(), platform.Config{Placement: placement}); err != nil {
		return nil, fmt.Errorf("platform: %w", err)
	}
	s.Kernel.SetPlacement(s.plat)
	ok = true
	return s, nil
}

// Pin moves the gofers (every thread of their processes) to the CPU of the
// platform's receivers, when placement has one (platform.SameCPU): a 9P
// round trip made for a trapped call, which the receiver reads itself
// (p9.ClientOptions.CallerReads), then wakes nothing on another CPU. The
// rest of the sentry stays free: pinning all of it slowed trapped calls
// (its runtime's threads then compete with the receivers).
func (s *Sandbox) Pin(gofers ...*Gofer) error {
	cpu := s.plat.CPU()
	if cpu < 0 {
		return nil
	}
	for _, g := range gofers {
		if err := platform.PinProcess(g.Cmd.Process.Pid, cpu); err != nil {
			return err
		}
	}
	return nil
}

// TrapCounts summarises the trapped calls the sentry answered, most
// frequent first: "trapped calls: 1234 (openat 600, close 600, ...)".
func (s *Sandbox) TrapCounts() string {
	counts := s.plat.Counts()
	nrs := make([]int, 0, len(counts))
	var total uint64
	for nr, n := range counts {
		nrs = append(nrs, nr)
		total += n
	}
	sort.Slice(nrs, func(i, j int) bool {
		if counts[nrs[i]] != counts[nrs[j]] {
			return counts[nrs[i]] > counts[nrs[j]]
		}
		return nrs[i] < nrs[j]
	})
	parts := make([]string, len(nrs))
	for i, nr := range nrs {
		parts[i] = fmt.Sprintf("%s %d", syscalls.Name(nr), counts[nr])
	}
	return fmt.Sprintf("trapped calls: %d (%s)", total, strings.Join(parts, ", "))
}

// Start runs p in the sandbox (the container's process, or one that
// "runsc exec" adds), resolving its program in the sandbox's VFS.
func (s *Sandbox) Start(p Process) (*platform.Process, error) {
	// The sentry hands the new process's identity to its first task;
	// one start at a time.
	s.startMu.Lock()
	defer s.startMu.Unlock()
	if len(p.Argv) == 0 {
		return nil, fmt.Errorf("start: empty argv: %w", unix.EINVAL)
	}
	creds, err := kernel.ReadHostCreds(os.Getpid())
	if err != nil {
		return nil, err
	}
	if c := p.Creds; c != nil {
		creds = &kernel.HostCreds{
			RUID: c.UID, EUID: c.UID, SUID: c.UID, FSUID: c.UID,
			RGID: c.GID, EGID: c.GID, SGID: c.GID, FSGID: c.GID,
			Groups: c.Groups, CapEff: c.Effective, CapPrm: c.Permitted,
		}
	}
	root := s.VFS.Root()
	ctx := &fs.Context{Creds: creds.FS(), Root: root, Umask: p.Umask}
	cwdPath := p.Cwd
	if cwdPath == "" {
		cwdPath = "/"
	}
	cwd, err := s.VFS.Lookup(ctx, root, cwdPath, 0)
	if err != nil {
		return nil, fmt.Errorf("cwd %q: %w", cwdPath, err)
	}
	prog, err := s.lookPath(ctx, cwd, p.Argv[0], p.Env)
	if err != nil {
		return nil, fmt.Errorf("exec %q: %w", p.Argv[0], err)
	}
	plan, err := s.Kernel.ResolveExec(ctx, cwd, cwd, prog, 0, p.Argv, p.Env)
	if err != nil {
		return nil, fmt.Errorf("exec %q: %w", p.Argv[0], err)
	}
	s.sentry.Creds, s.sentry.Root, s.sentry.Cwd, s.sentry.Umask, s.sentry.Exe = creds, root, cwd, p.Umask, plan.Exe
	spec := platform.Spec{File: plan.File, Argv: plan.Argv, Env: plan.Env, Files: p.Files, Creds: p.Creds, Rlimits: p.Rlimits, EmptyRoot: true, Terminal: p.Terminal,
		NewPIDNamespace: s.pidns == nil, PIDNamespace: s.pidns, OOMScoreAdj: p.OOMScoreAdj}
	// /proc shows the namespace's ids from the program's first call on.
	s.Kernel.SetPIDNamespace()
	proc, err := s.plat.Start(spec)
	plan.File.Close()
	if err != nil {
		return nil, err
	}
	if s.pidns == nil {
		s.pidns = proc.PIDNamespace()
		s.Kernel.UsePIDNamespace(s.pidns)
	}
	if t := s.Kernel.Task(proc.Pid()); t != nil {
		// The host holds the exact credentials the stub could set.
		t.CredsChanging()
	}
	return proc, nil
}

// defaultPath is the PATH runc searches when the process has none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// lookPath finds a program named without a slash in the directories of the
// process's PATH, inside the sandbox, as runc's init does.
func (s *Sandbox) lookPath(ctx *fs.Context, cwd fs.Loc, name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	path := defaultPath
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range strings.Split(path, ":") {
		if dir == "" {
			dir = "."
		}
		p := dir + "/" + name
		st, err := s.VFS.Stat(ctx, cwd, p, 0)
		if err != nil || st.Type() != unix.S_IFREG {
			continue
		}
		if s.VFS.Access(ctx, cwd, p, unix.X_OK, unix.AT_EACCESS) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("executable file not found in $PATH: %w", unix.ENOENT)
}

// Close stops the platform (killing what still runs) and frees the
// sandbox's host resources.
func (s *Sandbox) Close() {
	if s.plat != nil {
		s.plat.Close()
	}
	if s.devices != nil {
		s.devices.Close()
	}
	if s.Kernel != nil {
		s.Kernel.Close()
	}
	if s.pidns != nil {
		s.pidns.Close()
	}
	if s.placeholder != "" {
		os.Remove(s.placeholder)
	}
}

// RunOverCopy runs p in a sandbox whose root is a tmpfs holding a copy of
// the host directory rootfs, and returns its wait status.
func RunOverCopy(rootfs string, p Process) (unix.WaitStatus, error) {
	v := fs.New(tmpfs.New(tmpfs.Options{Mode: 0o755}), 0, "tmpfs")
	if err := CopyIn(v, v.Root(), rootfs); err != nil {
		return 0, err
	}
	return Run(v, p)
}

// Run runs p in a new sandbox over the namespace v until it exits, and
// returns its wait status.
func Run(v *fs.VFS, p Process) (unix.WaitStatus, error) {
	return run(v, platform.SameCPU, nil, p)
}

// run is Run; a gofer, if given, is pinned with the receivers (Pin).
func run(v *fs.VFS, placement platform.Placement, gofer *Gofer, p Process) (unix.WaitStatus, error) {
	s, err := NewSandbox(v, placement)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	if gofer != nil {
		if err := s.Pin(gofer); err != nil {
			return 0, err
		}
	}
	proc, err := s.Start(p)
	if err != nil {
		return 0, err
	}
	return proc.Wait(), nil
}
