// Package platform stops a sandboxed program's syscalls and lets the sentry
// answer them: it starts the program under a seccomp filter built from a
// Policy, receives trapped calls (seccomp user notification) on one thread
// per CPU, installs host fds into the program, reads and writes its memory,
// and follows its processes with ptrace (fork/clone/exec/exit, signals).
// It knows nothing about files: the syscall layer implements Handler.
//
// Threads: one tracer goroutine, locked to its OS thread for life, issues
// every ptrace request and forks every program (so PDEATHSIG and EXITKILL
// follow the sentry). Receiver goroutines, locked to their threads, block in
// SECCOMP_IOCTL_NOTIF_RECV and call Handler.Syscall concurrently.
//
// Lock order: Platform.mu (task table) before Process.mu. Task fields marked
// "tracer" are touched only by the tracer goroutine; Task.exec is shared with
// receivers through an atomic pointer.
package platform

import (
	"os"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Handler is what the syscall layer implements. The interception mechanism
// (seccomp notify today, an in-process trap later) only ever talks to the
// syscall layer through it, Call, Task and Response.
type Handler interface {
	// Syscall answers one trapped syscall. It is called concurrently from
	// the receiver threads; the calling thread is stopped until it returns.
	Syscall(c *Call) Response
	// Exec decides what an execve/execveat (c) becomes: a host file to run
	// with argv and env, or an errno for the program. It runs on the tracer
	// thread with t stopped.
	Exec(t *Task, c *ExecCall) (*ExecPlan, unix.Errno)
	// NewTask reports a task before it runs its first instruction: the
	// program's first task (parent nil) or a fork/vfork/clone child. Set
	// t.Data here (fd tables, cwd: CloneFlags says what is shared).
	NewTask(t, parent *Task)
	// Execed reports a successful exec in t: the kernel has closed the
	// CLOEXEC fds and ended the other threads.
	Execed(t *Task)
	// Exited reports that the task is gone, with its wait status.
	Exited(t *Task, status unix.WaitStatus)
}

// Response answers a trapped syscall.
type Response struct {
	Val   int64
	Errno unix.Errno
	// Continue lets the kernel run the original call. The kernel reads the
	// arguments again from the program's memory, where another thread can
	// change them after the handler looked: only continue calls whose
	// arguments are all in registers (close, dup of an int, fcntl without a
	// pointer, lseek, ...) or whose memory the handler did not judge.
	Continue bool
	// An Errno of ERESTARTSYS (512), with a signal pending for the task,
	// makes the kernel restart the call after the handler if it has
	// SA_RESTART and fail it with EINTR otherwise.
	//
	// Later, if set, answers instead, from a goroutine of its own: for a
	// call that waits for another process (the open of a FIFO end), so
	// that the receiver goes on serving the others. The Call stays usable
	// until Later returns; Later should give up once Call.Valid is false.
	Later func() Response
}

// Return answers with the value v.
func Return(v int64) Response { return Response{Val: v} }

// Fail answers with the error e.
func Fail(e unix.Errno) Response { return Response{Errno: e} }

// Continue runs the original call on the host (see Response.Continue).
func Continue() Response { return Response{Continue: true} }

// Task is one host thread of the program.
type Task struct {
	// TID and TGID are host ids in the sentry's pid namespace. After an
	// exec by a non-leader thread the task takes the leader's TID.
	TID  int
	TGID int
	// CloneFlags are the flags the task was created with (fork: SIGCHLD,
	// vfork: CLONE_VM|CLONE_VFORK|SIGCHLD); zero for the first task.
	CloneFlags uint64
	// Data belongs to the handler; set it in NewTask.
	Data any

	proc *Process
	// stub: still the platform's own stub, before the program's first exec.
	stub atomic.Bool
	// carrier is 1 + the sentry fd the exec carrier installs, or 0 (exec.go).
	carrier atomic.Int64
	// interrupted: the handler answered the last trapped call with
	// ERESTARTSYS itself (a signal ended its wait), which signalStop must
	// leave as it is.
	interrupted atomic.Bool
	// pin is the task's placement state, lastTrap the time of its last
	// trapped call since placer.epoch (placement.go). pinMu orders the
	// platform's affinity changes with the program's own.
	pin      atomic.Int32
	pinMu    sync.Mutex
	lastTrap atomic.Int64

	// tracer only
	syscallRun bool // resume with PTRACE_SYSCALL, not PTRACE_CONT
	stubExec   bool // the stub's exec of the program passed its seccomp stop
	ex         *execState
	// vforkParent is the task a vfork child (CLONE_VFORK) shares its
	// memory with until it execs; scratch is the exec scratch mapping a
	// vfork child of this task left in that memory, which this task
	// unmaps when the vfork is done (vforkDone), and rel that release.
	vforkParent *Task
	scratch     [2]uint64 // address, size; zero if none
	rel         *release
}

// Process is one program started by Platform.Start.
type Process struct {
	plat *Platform
	pid  int
	l    *listener

	done   chan struct{}
	mu     sync.Mutex
	status unix.WaitStatus

	held []unix.Signal // tracer only: signals for the program that reached the stub

	pidns *os.File // the new pid namespace (Spec.NewPIDNamespace)
}

// PIDNamespace returns the pid namespace the process was started in with
// Spec.NewPIDNamespace, opened before it could exit, or nil. The caller
// owns the file.
func (p *Process) PIDNamespace() *os.File { return p.pidns }

// Pid returns the host pid of the program's first process.
func (p *Process) Pid() int { return p.pid }

// Wait blocks until the program's first process is gone and returns its
// wait status (exit code or killing signal).
func (p *Process) Wait() unix.WaitStatus {
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.status
}

// Done is closed when Wait would return.
func (p *Process) Done() <-chan struct{} { return p.done }

// Signal sends sig to the program's first process.
func (p *Process) Signal(sig unix.Signal) error {
	select {
	case <-p.done:
		return unix.ESRCH
	default:
	}
	return unix.Kill(p.pid, sig)
}

// Spec describes a program to start.
type Spec struct {
	// Path is a host executable, run with execve; or File, run with
	// execveat(fd, "", AT_EMPTY_PATH). Exactly one is set.
	Path string
	File *os.File
	Argv []string
	Env  []string
	// Files become the program's fds 0..len-1.
	Files []*os.File
	// Creds, if set, are the ids and capabilities the program gets; nil
	// keeps the sentry's.
	Creds *Creds
	// Rlimits are set on the program before it starts.
	Rlimits []Rlimit
	// Terminal makes the program a session leader whose controlling
	// terminal is its stdin (a pty slave), for job control.
	Terminal bool
	// EmptyRoot puts the program in its own mount namespace whose root is
	// an empty read-only tmpfs (defense in depth: a path the host kernel
	// resolves for it without a trap finds nothing). Needs File.
	EmptyRoot bool
	// NewPIDNamespace makes the program pid 1 of a new pid namespace;
	// PIDNamespace (a /proc/<pid>/ns/pid file) starts it in an existing
	// one instead. Tasks keep their ids in the sentry's namespace.
	NewPIDNamespace bool
	PIDNamespace    *os.File
	// OOMScoreAdj, if set, is the program's /proc/<pid>/oom_score_adj.
	OOMScoreAdj *int
}

// Rlimit is one resource limit (RLIMIT_*).
type Rlimit struct {
	Resource   int
	Soft, Hard uint64
}

// Creds are a program's ids and capability sets (bit n = capability n).
type Creds struct {
	UID, GID    uint32
	Groups      []uint32
	Effective   uint64
	Permitted   uint64
	Inheritable uint64
	Bounding    uint64
	Ambient     uint64
}

// ExecCall is an execve or execveat the program made.
type ExecCall struct {
	Nr   int
	Args [6]uint64
}

// ExecPlan is what an exec becomes: execveat(File, "", Argv, Env,
// AT_EMPTY_PATH). The platform closes File when the exec is over.
type ExecPlan struct {
	File *os.File
	Argv []string
	Env  []string
}

// Counts returns how many trapped calls of each syscall number the
// handler answered (user notifications; exec and process events go
// through ptrace and are not counted). Numbers never trapped are absent.
func (p *Platform) Counts() map[int]uint64 {
	m := map[int]uint64{}
	for nr := range p.calls {
		if n := p.calls[nr].Load(); n > 0 {
			m[nr] = n
		}
	}
	return m
}
