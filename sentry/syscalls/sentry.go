package syscalls

import (
	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
	"runsc.dev/runsc/sentry/kernel"
	"runsc.dev/runsc/sentry/platform"
)

// Exec argument limits: Linux allows a quarter of the stack limit for argv
// and envp together; 8 MiB stacks give 2 MiB.
const (
	maxArgBytes   = 2 << 20
	maxArgStrings = 1 << 17
)

// Sentry answers a program's trapped calls from a kernel. It implements
// platform.Handler.
type Sentry struct {
	Kernel *kernel.Kernel
	// The first process's credentials, root, working directory and umask.
	Creds     *kernel.HostCreds
	Root, Cwd fs.Loc
	Umask     uint32
	// Exe is the VFS path of the first process's program.
	Exe string
}

var _ platform.Handler = (*Sentry)(nil)

// call adapts a platform call to Caller.
type call struct{ *platform.Call }

func (c call) Arg(i int) uint64 { return c.Args[i] }

func (c call) InstallFD(host int, cloexec bool, target int) (int, error) {
	if target < 0 {
		return c.Call.InstallFD(host, cloexec)
	}
	return c.Call.InstallFDAt(host, target, cloexec)
}

// Syscall implements platform.Handler.
func (s *Sentry) Syscall(c *platform.Call) platform.Response {
	t, _ := c.Task.Data.(*kernel.Task)
	if t == nil {
		return platform.Fail(unix.ENOSYS)
	}
	// /proc/self names the caller.
	defer t.Serve()()
	return response(Handle(t, c.Nr, call{c}))
}

func response(r Result) platform.Response {
	if r.Later != nil {
		later := r.Later
		return platform.Response{Later: func() platform.Response { return response(later()) }}
	}
	return platform.Response{Val: r.Val, Errno: r.Errno, Continue: r.Continue}
}

// NewTask implements platform.Handler.
func (s *Sentry) NewTask(t, parent *platform.Task) {
	if parent == nil {
		kt := s.Kernel.NewInit(t.TID, s.Creds, s.Root, s.Cwd, s.Umask)
		kt.Exec(s.Exe)
		kt.SetPendingExe(s.Exe)
		t.Data = kt
		return
	}
	p, _ := parent.Data.(*kernel.Task)
	if p == nil {
		return
	}
	f := t.CloneFlags
	t.Data = s.Kernel.Clone(p, t.TID, kernel.CloneFlags{
		Thread: f&unix.CLONE_THREAD != 0, Files: f&unix.CLONE_FILES != 0, FS: f&unix.CLONE_FS != 0,
	})
}

// Exec implements platform.Handler.
func (s *Sentry) Exec(t *platform.Task, c *platform.ExecCall) (*platform.ExecPlan, unix.Errno) {
	kt, _ := t.Data.(*kernel.Task)
	if kt == nil {
		return nil, unix.ENOSYS
	}
	defer kt.Serve()()
	dirfd, a, flags := unix.AT_FDCWD, c.Args[:], 0
	if c.Nr == unix.SYS_EXECVEAT {
		dirfd, a, flags = int(int32(c.Args[0])), c.Args[1:], int(int32(c.Args[4]))
	}
	if a[0] == 0 {
		return nil, unix.EFAULT
	}
	path, err := t.ReadString(a[0], fs.PathMax)
	if err != nil {
		return nil, errnoOf(err)
	}
	argv, err := t.ReadStringArray(a[1], maxArgStrings, maxArgBytes)
	if err != nil {
		return nil, errnoOf(err)
	}
	env, err := t.ReadStringArray(a[2], maxArgStrings, maxArgBytes)
	if err != nil {
		return nil, errnoOf(err)
	}
	if path == "" && flags&unix.AT_EMPTY_PATH == 0 {
		return nil, unix.ENOENT
	}
	at, err := kt.DirLoc(dirfd, path)
	if err != nil {
		if err == unix.ENOTDIR && path == "" {
			// fexecve of a host object (a memfd the program made):
			// nothing in the VFS to run.
			return nil, unix.EACCES
		}
		return nil, errnoOf(err)
	}
	plan, err := kt.ResolveExec(at, path, flags, argv, env)
	if err != nil {
		return nil, errnoOf(err)
	}
	kt.SetPendingExe(plan.Exe)
	return &platform.ExecPlan{File: plan.File, Argv: plan.Argv, Env: plan.Env}, 0
}

// Execed implements platform.Handler.
func (s *Sentry) Execed(t *platform.Task) {
	if kt, _ := t.Data.(*kernel.Task); kt != nil {
		if kt.Tid() != t.TID {
			s.Kernel.Retid(kt, t.TID)
		}
		kt.Exec(kt.PendingExe())
	}
}

// Exited implements platform.Handler.
func (s *Sentry) Exited(t *platform.Task, status unix.WaitStatus) {
	s.Kernel.Exit(t.TID)
}
