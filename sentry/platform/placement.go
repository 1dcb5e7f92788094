package platform

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Placement of the program's tasks and the receivers on CPUs.
//
// A trapped call is two context switches when the receiver and the caller
// share a CPU (SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP hands the CPU over), but
// the fd-install handshake of SECCOMP_IOCTL_NOTIF_ADDFD wakes both sides
// with plain wake-ups, which the scheduler sends to the idle CPU: a
// cross-CPU wake-up costs 40–125 µs on these VMs. Measured in a sandbox
// (docs/PERFORMANCE-platform.md): open+close 71–75 µs free, 20–26 µs with
// the receivers and the caller on one CPU.
//
// SameCPU pins the receivers to one CPU of the sandbox and moves each task
// that traps to it, for as long as it keeps trapping: a task that has not
// trapped for releaseAfter gets the sandbox's CPUs back, so compute-bound
// threads spread over the CPUs as the scheduler likes. The program never
// sees the pin: sched_getaffinity and /proc/<pid>/status report the
// sandbox's CPUs (Affinity), and a task whose affinity the program sets
// itself is never moved again (KeepAffinity).
//
// Lock order: Platform.mu, then Task.pinMu.
type Placement int

const (
	// SameCPU is the default: receivers and trapping tasks on one CPU.
	SameCPU Placement = iota
	// Free leaves receivers and tasks to the scheduler.
	Free
)

// releaseAfter is how long a placed task keeps its CPU without trapping.
const releaseAfter = 10 * time.Millisecond

// Task placement states (Task.pin).
const (
	pinFree   = iota // the task's affinity is the sandbox's
	pinPlaced        // the platform pinned it to placer.cpu
	pinOwn           // the program chose its affinity: never moved
)

// placer moves trapping tasks to the receivers' CPU and back.
type placer struct {
	cpu   int           // the receivers' CPU; -1 when placement is off
	all   unix.CPUSet   // the sandbox's CPUs: what placed tasks report
	one   unix.CPUSet   // {cpu}
	epoch time.Time     // for Task.lastTrap
	kick  chan struct{} // wakes the releaser when a task is placed
	start sync.Once
}

// newPlacer picks the receivers' CPU among the sentry's (which the
// programs inherit): one per sandbox, spread by the sentry's pid so that
// sandboxes do not all crowd the first CPU.
func newPlacer(mode Placement) *placer {
	pl := &placer{cpu: -1, epoch: time.Now(), kick: make(chan struct{}, 1)}
	if mode != SameCPU || unix.SchedGetaffinity(unix.Getpid(), &pl.all) != nil || pl.all.Count() < 2 {
		return pl
	}
	var cpus []int
	for c := 0; c < len(pl.all)*64; c++ {
		if pl.all.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	pl.cpu = cpus[unix.Getpid()%len(cpus)]
	pl.one = cpuSet(pl.cpu)
	return pl
}

// cpuSet is the set of one CPU.
func cpuSet(cpu int) (set unix.CPUSet) {
	set.Set(cpu)
	return set
}

// trapped places t on the receivers' CPU; called for every trapped call
// and every ptrace stop of a fork or an exec, which the tracer there
// handles. Signal stops do not count: a compute-bound thread that gets
// signals (Go's preemption, a profiler's timer) is not kept there.
func (p *Platform) trapped(t *Task) {
	if p.pl.cpu < 0 {
		return
	}
	t.lastTrap.Store(int64(time.Since(p.pl.epoch)))
	if p.place(t) {
		p.kickReleaser()
	}
}

// place pins a free task to the receivers' CPU and reports whether it did.
func (p *Platform) place(t *Task) bool {
	if t.pin.Load() != pinFree {
		return false
	}
	t.pinMu.Lock()
	defer t.pinMu.Unlock()
	if t.pin.Load() != pinFree {
		return false
	}
	if err := unix.SchedSetaffinity(t.TID, &p.pl.one); err != nil {
		// Gone, or the CPU is not the task's to use: leave it be.
		t.pin.Store(pinOwn)
		return false
	}
	t.pin.Store(pinPlaced)
	return true
}

// kickReleaser wakes the releaser; call it after a placed task is in
// Platform.tasks, where the releaser looks.
func (p *Platform) kickReleaser() {
	p.pl.start.Do(func() { go p.release() })
	select {
	case p.pl.kick <- struct{}{}:
	default:
	}
}

// inherit gives a new task its placement before it is added to
// Platform.tasks (addTask wakes the releaser). A child of a task whose
// affinity the program chose keeps that affinity; a first task (parent
// nil) is forked by the tracer, which runs on the receivers' CPU. A new
// process is placed now, before it runs: it usually execs, a dozen
// ptrace stops (else a parent that only forks and waits, freed by the
// releaser, ran them all across CPUs). A new thread keeps the affinity it
// was cloned with, its parent's of that moment, which the releaser may
// have changed since: it counts as placed, so the releaser frees it if
// it does not trap.
func (p *Platform) inherit(child, parent *Task) {
	if p.pl.cpu < 0 {
		return
	}
	child.lastTrap.Store(int64(time.Since(p.pl.epoch)))
	switch {
	case parent == nil:
		child.pin.Store(pinPlaced)
	case parent.pin.Load() == pinOwn:
		child.pin.Store(pinOwn)
	case child.CloneFlags&unix.CLONE_THREAD != 0:
		child.pin.Store(pinPlaced)
	default:
		p.place(child)
	}
}

// release gives tasks that stopped trapping the sandbox's CPUs back. It
// sleeps while no task is placed.
func (p *Platform) release() {
	pl := p.pl
	tick := time.NewTicker(releaseAfter)
	defer tick.Stop()
	for {
		select {
		case <-pl.kick:
		case <-p.dead:
			return
		}
		for placed := true; placed; {
			select {
			case <-tick.C:
			case <-p.dead:
				return
			}
			placed = false
			now := int64(time.Since(pl.epoch))
			p.mu.RLock()
			for _, t := range p.tasks {
				if t.pin.Load() != pinPlaced {
					continue
				}
				if now-t.lastTrap.Load() < int64(releaseAfter) {
					placed = true
				} else {
					t.unplace(pl)
				}
			}
			p.mu.RUnlock()
		}
	}
}

// unplace gives a placed task the sandbox's CPUs back.
func (t *Task) unplace(pl *placer) {
	t.pinMu.Lock()
	defer t.pinMu.Unlock()
	if t.unpinLocked(pl) {
		t.pin.Store(pinFree)
	}
}

// unpinLocked gives t the sandbox's CPUs if the platform placed it and
// reports whether it did; pinMu is held.
func (t *Task) unpinLocked(pl *placer) bool {
	if t.pin.Load() != pinPlaced {
		return false
	}
	_ = unix.SchedSetaffinity(t.TID, &pl.all)
	return true
}

// Affinity returns the CPUs the program should see as host task tid's
// affinity: the sandbox's for every task the platform may place. ok is
// false when the kernel's answer is the program's own (the program set
// the task's affinity, the task is not the platform's, or placement is
// off).
func (p *Platform) Affinity(tid int) (set unix.CPUSet, ok bool) {
	t := p.task(tid)
	if t == nil || p.pl.cpu < 0 || t.pin.Load() == pinOwn {
		return set, false
	}
	return p.pl.all, true
}

// KeepAffinity records that the program sets host task tid's affinity
// itself (sched_setaffinity): the platform stops moving it. Call it before
// the program's call runs: a placed task gets the sandbox's CPUs back
// first, so a call that fails leaves the task with the affinity the
// program saw, and a move the platform began is over when it returns.
func (p *Platform) KeepAffinity(tid int) {
	t := p.task(tid)
	if t == nil || p.pl.cpu < 0 {
		return
	}
	t.pinMu.Lock()
	defer t.pinMu.Unlock()
	t.unpinLocked(p.pl)
	t.pin.Store(pinOwn)
}

// lockThread runs f locked to an OS thread for life (the goroutine exiting
// locked ends the thread, so a pinned thread never goes back to the pool),
// pinned to cpu unless it is -1. A pinned thread is never the main thread,
// whose affinity is the process's (sched_getaffinity(pid), /proc/<pid>/
// status): on the main thread, lockThread holds it and runs f on another.
func lockThread(cpu int, f func()) {
	runtime.LockOSThread()
	if cpu >= 0 && unix.Gettid() == unix.Getpid() {
		done := make(chan struct{})
		go func() {
			defer close(done)
			lockThread(cpu, f)
		}()
		<-done
		runtime.UnlockOSThread()
		return
	}
	if cpu >= 0 {
		set := cpuSet(cpu)
		_ = unix.SchedSetaffinity(0, &set)
	}
	f()
}

// CPU returns the receivers' CPU under SameCPU placement, or -1.
func (p *Platform) CPU() int { return p.pl.cpu }

// PinProcess pins every thread of process pid to cpu; threads it makes
// later inherit the pin. The sandbox's gofers use it to join the
// receivers' CPU, so that a 9P round trip made for a trapped call does
// not wait for cross-CPU wake-ups either.
func PinProcess(pid, cpu int) error {
	tasks, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
	if err != nil {
		return err
	}
	set := cpuSet(cpu)
	for _, e := range tasks {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, &set); err != nil && err != unix.ESRCH {
			return fmt.Errorf("pin thread %d to CPU %d: %w", tid, cpu, err)
		}
	}
	return nil
}
