package platform

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Config tunes a Platform.
type Config struct {
	// Receivers per program; 0 means one per CPU (one under SameCPU
	// placement, which puts them all on one CPU).
	Receivers int
	// ReceiverCPUs pins receiver i to CPU ReceiverCPUs[i%len] and turns
	// Placement off; nil leaves the receivers to Placement.
	ReceiverCPUs []int
	// Placement of receivers and trapping tasks (placement.go).
	Placement Placement
}

// Platform runs programs under one seccomp policy and one Handler.
type Platform struct {
	h      Handler
	cfg    Config
	pl     *placer
	filter []unix.SockFilter
	cookie uint64
	// restart[nr]: a signal before the sentry received the call restarts
	// it (ERESTARTNOINTR) instead of failing it with EINTR.
	restart []bool
	// calls[nr] counts the trapped calls of number nr handled (Counts).
	calls []atomic.Uint64

	doorbell  int // pid
	qmu       sync.Mutex
	queue     []func()      // for the tracer thread
	dead      chan struct{} // closed when the tracer has returned
	closeOnce sync.Once

	mu    sync.RWMutex
	tasks map[int]*Task // by TID; written by the tracer only

	// tracer only
	early map[int]unix.WaitStatus // stops of children whose parent event is pending
	procs map[int]*Process
}

const ptraceOptions = unix.PTRACE_O_TRACESECCOMP | unix.PTRACE_O_TRACEFORK |
	unix.PTRACE_O_TRACEVFORK | unix.PTRACE_O_TRACEVFORKDONE | unix.PTRACE_O_TRACECLONE | unix.PTRACE_O_TRACEEXEC |
	unix.PTRACE_O_TRACEEXIT | unix.PTRACE_O_EXITKILL | unix.PTRACE_O_TRACESYSGOOD

// New builds the filter from policy and starts the tracer thread (and its
// doorbell process).
// restartNrs lists the trapped syscalls that Linux never fails with EINTR.
func New(h Handler, policy Policy, restartNrs []int, cfg Config) (*Platform, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	p := &Platform{
		h:       h,
		cfg:     cfg,
		cookie:  binary.LittleEndian.Uint64(b[:]) | 1,
		restart: make([]bool, len(policy)),
		calls:   make([]atomic.Uint64, len(policy)),
		tasks:   map[int]*Task{},
		dead:    make(chan struct{}),
		early:   map[int]unix.WaitStatus{},
		procs:   map[int]*Process{},
	}
	for _, nr := range restartNrs {
		if nr >= 0 && nr < len(policy) {
			p.restart[nr] = true
		}
	}
	q, err := withInternalRules(policy, p.cookie)
	if err != nil {
		return nil, err
	}
	if p.filter, err = BuildFilter(q); err != nil {
		return nil, err
	}
	mode := p.cfg.Placement
	if len(p.cfg.ReceiverCPUs) > 0 {
		mode = Free
	}
	if p.pl = newPlacer(mode); p.pl.cpu >= 0 {
		p.cfg.ReceiverCPUs = []int{p.pl.cpu}
	}
	if p.cfg.Receivers <= 0 {
		// One per CPU they run on: every blocked RECV wakes on each
		// notification, so a second one on the same CPU costs every call
		// two more context switches and serves nothing in parallel.
		p.cfg.Receivers = runtime.NumCPU()
		if p.pl.cpu >= 0 {
			p.cfg.Receivers = 1
		}
	}
	started := make(chan error)
	// On the receivers' CPU, for the same reason (placement.go): each
	// fork, exec and exit is a ptrace stop that wakes the tracer.
	go lockThread(p.pl.cpu, func() { p.tracer(started) })
	if err := <-started; err != nil {
		return nil, err
	}
	return p, nil
}

// Close kills every program still running, waits for them and ends the
// tracer. The Platform cannot be used afterwards.
func (p *Platform) Close() { p.closeOnce.Do(p.close) }

func (p *Platform) close() {
	var procs []*Process
	p.do(func() {
		for _, pr := range p.procs {
			procs = append(procs, pr)
		}
	})
	for _, pr := range procs {
		_ = unix.Kill(pr.pid, unix.SIGKILL)
		pr.Wait()
	}
	_ = unix.Kill(p.doorbell, unix.SIGKILL)
	<-p.dead
}

func (p *Platform) task(tid int) *Task {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.tasks[tid]
}

func (p *Platform) addTask(t *Task) {
	p.mu.Lock()
	p.tasks[t.TID] = t
	p.mu.Unlock()
	if t.pin.Load() == pinPlaced {
		p.kickReleaser()
	}
}

func (p *Platform) removeTask(tid int) {
	p.mu.Lock()
	delete(p.tasks, tid)
	p.mu.Unlock()
}

// tracer is the only goroutine that issues ptrace requests or forks
// programs; its OS thread stays locked for life (lockThread; ptrace binds
// tracees to the thread, PDEATHSIG to the forking thread). It blocks in wait4: a
// signal-driven wakeup (SIGCHLD to a goroutine) is too slow for signal-heavy
// programs, which then livelock in signal-delivery stops. Requests ring the
// doorbell: a traced, paused child that a signal puts in a ptrace stop.
func (p *Platform) tracer(started chan<- error) {
	defer close(p.dead)
	bell, err := startDoorbell()
	if err != nil {
		started <- err
		return
	}
	p.doorbell = bell
	started <- nil
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WALL|unix.WNOTHREAD, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			panic(fmt.Sprintf("platform: wait4: %v", err))
		}
		if pid != bell {
			p.stopped(pid, ws)
			continue
		}
		if ws.Exited() || ws.Signaled() {
			return // Close killed it
		}
		_ = ptrace(unix.PTRACE_CONT, bell, 0, 0) // swallow the ring
		p.qmu.Lock()
		q := p.queue
		p.queue = nil
		p.qmu.Unlock()
		for _, f := range q {
			f()
		}
	}
}

// do runs f on the tracer thread and waits for it; after Close it does
// nothing.
func (p *Platform) do(f func()) {
	done := make(chan struct{})
	p.qmu.Lock()
	p.queue = append(p.queue, func() { f(); close(done) })
	p.qmu.Unlock()
	// Thread-directed: only the doorbell's main thread is traced.
	_ = unix.Tgkill(p.doorbell, p.doorbell, unix.SIGUSR1)
	select {
	case <-done:
	case <-p.dead:
	}
}

const doorbellEnv = "RUNSC_PLATFORM_DOORBELL"

// startDoorbell runs on the tracer thread.
func startDoorbell() (int, error) {
	pr, err := os.StartProcess("/proc/self/exe", []string{"runsc-platform-doorbell"}, &os.ProcAttr{
		Env: []string{doorbellEnv + "=1"},
		Sys: &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
	})
	if err != nil {
		return -1, err
	}
	pid := pr.Pid
	_ = pr.Release()
	if err := ptrace(unix.PTRACE_SEIZE, pid, 0, unix.PTRACE_O_EXITKILL); err != nil {
		_ = unix.Kill(pid, unix.SIGKILL)
		return -1, err
	}
	return pid, nil
}

func ptrace(req int, tid int, addr, data uintptr) error {
	_, _, e := unix.Syscall6(unix.SYS_PTRACE, uintptr(req), uintptr(tid), addr, data, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

func (p *Platform) resume(t *Task, sig unix.Signal) {
	req := unix.PTRACE_CONT
	if t.syscallRun {
		req = unix.PTRACE_SYSCALL
	}
	// ESRCH: killed meanwhile; its exit is reported by wait4.
	_ = ptrace(req, t.TID, 0, uintptr(sig))
}

func (p *Platform) stopped(tid int, ws unix.WaitStatus) {
	t := p.tasks[tid]
	if t == nil {
		t = p.stubThread(tid)
	}
	if t == nil {
		// A new child whose parent's fork/clone event has not arrived.
		p.early[tid] = ws
		return
	}
	if ws.Exited() || ws.Signaled() {
		p.gone(t, ws)
		return
	}
	if !ws.Stopped() {
		return
	}
	sig := ws.StopSignal()
	switch event := int(ws) >> 16 & 0xff; event {
	case unix.PTRACE_EVENT_STOP:
		switch sig {
		case unix.SIGSTOP, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU:
			// Group-stop: stay stopped until SIGCONT, as without ptrace.
			_ = ptrace(unix.PTRACE_LISTEN, tid, 0, 0)
		default:
			// First stop of a new task, or the end of a listen.
			p.resume(t, 0)
		}
	case unix.PTRACE_EVENT_FORK, unix.PTRACE_EVENT_VFORK, unix.PTRACE_EVENT_CLONE:
		p.trapped(t)
		p.cloned(t, event)
	case unix.PTRACE_EVENT_EXEC:
		p.trapped(t)
		p.execEvent(t)
	case unix.PTRACE_EVENT_VFORK_DONE:
		p.vforkDone(t)
	case unix.PTRACE_EVENT_EXIT:
		p.resume(t, 0)
	case unix.PTRACE_EVENT_SECCOMP:
		p.trapped(t)
		p.seccompStop(t)
	case 0:
		if sig == unix.SIGTRAP|0x80 {
			p.trapped(t)
			p.syscallStop(t)
		} else {
			p.signalStop(t, sig)
		}
	default:
		p.resume(t, 0)
	}
}

// signalStop re-injects the signal. A trapped call the sentry had not
// received yet was interrupted with ERESTARTSYS; for calls Linux never
// fails with EINTR it becomes ERESTARTNOINTR, so it restarts after the
// handler even without SA_RESTART. An ERESTARTSYS the handler answered
// (Response) stays.
func (p *Platform) signalStop(t *Task, sig unix.Signal) {
	if t.stub.Load() && t.proc != nil && !stubSignals[sig] {
		// Sent to the program before its exec (a kill right after
		// start): the stub, a Go program, would drop or die of it.
		// execEvent sends it again once the program runs.
		t.proc.held = append(t.proc.held, sig)
		p.resume(t, 0)
		return
	}
	var regs unix.PtraceRegs
	if !t.interrupted.Swap(false) && unix.PtraceGetRegs(t.TID, &regs) == nil {
		nr := int64(regs.Orig_rax)
		if nr >= 0 && nr < int64(len(p.restart)) && p.restart[nr] && int64(regs.Rax) == -int64(errERESTARTSYS) {
			regs.Rax = ^uint64(errERESTARTNOINTR - 1)
			_ = unix.PtraceSetRegs(t.TID, &regs)
		}
	}
	p.resume(t, sig)
}

// stubSignals are the signals the stub itself gets: faults, which would
// repeat if held, and the Go runtime's preemption signal.
var stubSignals = map[unix.Signal]bool{
	unix.SIGSEGV: true, unix.SIGBUS: true, unix.SIGILL: true, unix.SIGFPE: true,
	unix.SIGTRAP: true, unix.SIGSYS: true, unix.SIGURG: true,
}

// Kernel-internal restart codes seen by tracers.
const (
	errERESTARTSYS    = 512
	errERESTARTNOINTR = 513
)

// CloneFlags of tasks made by fork and vfork.
const (
	cloneFlagsFork  = uint64(unix.SIGCHLD)
	cloneFlagsVfork = uint64(unix.CLONE_VM | unix.CLONE_VFORK | unix.SIGCHLD)
)

// stubThread adopts a thread of a stub that the stub's runtime cloned while
// PTRACE_SEIZE was landing: the kernel attaches such a child without a clone
// event, so it would otherwise wait in its first stop forever (and block the
// stub's exec, which waits for every other thread to die).
func (p *Platform) stubThread(tid int) *Task {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", tid))
	if err != nil {
		return nil
	}
	var tgid int
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Tgid:"); ok {
			tgid, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	leader := p.tasks[tgid]
	if tgid == tid || leader == nil || !leader.stub.Load() {
		return nil
	}
	t := &Task{TID: tid, TGID: tgid, CloneFlags: unix.CLONE_THREAD, proc: leader.proc}
	t.stub.Store(true)
	p.addTask(t)
	return t
}

func (p *Platform) cloned(parent *Task, event int) {
	msg, err := unix.PtraceGetEventMsg(parent.TID)
	if err != nil {
		p.resume(parent, 0)
		return
	}
	tid := int(msg)
	if p.tasks[tid] != nil {
		// Adopted by stubThread already.
		p.resume(parent, 0)
		return
	}
	flags := cloneFlagsFork
	switch event {
	case unix.PTRACE_EVENT_VFORK:
		flags = cloneFlagsVfork
	case unix.PTRACE_EVENT_CLONE:
		// The registers of the stopped parent still hold clone's arguments.
		var regs unix.PtraceRegs
		if unix.PtraceGetRegs(parent.TID, &regs) == nil {
			flags = regs.Rdi
			if regs.Orig_rax == unix.SYS_CLONE3 {
				var b [8]byte
				if _, err := parent.ReadMemory(regs.Rdi, b[:]); err == nil {
					flags = binary.LittleEndian.Uint64(b[:])
				}
			}
		}
	}
	child := &Task{TID: tid, TGID: tid, CloneFlags: flags, proc: parent.proc}
	if flags&unix.CLONE_THREAD != 0 {
		child.TGID = parent.TGID
	}
	child.stub.Store(parent.stub.Load())
	if flags&(unix.CLONE_VM|unix.CLONE_VFORK) == unix.CLONE_VM|unix.CLONE_VFORK && flags&unix.CLONE_THREAD == 0 {
		child.vforkParent = parent
	}
	p.inherit(child, parent)
	if !child.stub.Load() {
		p.h.NewTask(child, parent)
	}
	p.addTask(child)
	if ws, ok := p.early[tid]; ok {
		delete(p.early, tid)
		p.stopped(tid, ws)
	}
	p.resume(parent, 0)
}

func (p *Platform) gone(t *Task, ws unix.WaitStatus) {
	p.removeTask(t.TID)
	if t.ex != nil {
		t.ex.close()
		t.ex = nil
	}
	if !t.stub.Load() {
		p.h.Exited(t, ws)
	}
	if pr := t.proc; t.TID == pr.pid {
		delete(p.procs, pr.pid)
		pr.mu.Lock()
		pr.status = ws
		pr.mu.Unlock()
		close(pr.done)
	}
}

// syscallInfo is struct ptrace_syscall_info.
type syscallInfo struct {
	Op   uint8
	_    [3]uint8
	Arch uint32
	IP   uint64
	SP   uint64
	Data [8]uint64
}

func getSyscallInfo(tid int) (syscallInfo, error) {
	var si syscallInfo
	_, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_GET_SYSCALL_INFO, uintptr(tid),
		unsafe.Sizeof(si), uintptr(unsafe.Pointer(&si)), 0, 0)
	if e != 0 {
		return si, e
	}
	return si, nil
}

func getSigmask(tid int) (uint64, error) {
	var m uint64
	err := ptrace(unix.PTRACE_GETSIGMASK, tid, 8, uintptr(unsafe.Pointer(&m)))
	return m, err
}

func setSigmask(tid int, m uint64) error {
	return ptrace(unix.PTRACE_SETSIGMASK, tid, 8, uintptr(unsafe.Pointer(&m)))
}

func (p *Platform) kill(t *Task, why string) {
	fmt.Fprintf(os.Stderr, "platform: killing task %d: %s\n", t.TID, why)
	_ = unix.Tgkill(t.TGID, t.TID, unix.SIGKILL)
	_ = unix.Kill(t.TGID, unix.SIGKILL)
}
