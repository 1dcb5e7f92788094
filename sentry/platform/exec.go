package platform

// Exec. execve and execveat stop with SECCOMP_RET_TRACE. Handler.Exec
// resolves the program in the VFS and answers with a host file and the argv
// and env to run it with; the platform then turns the stopped call into
// execveat(file, "", argv, env, AT_EMPTY_PATH) without ever letting the host
// resolve a path the program chose:
//
//  1. seccomp stop: save the registers and the signal mask, block every
//     signal (so no handler runs in the middle and no stop but ours comes),
//     and change the call into mmap(scratch); the kernel re-checks the
//     filter on the changed call and runs it.
//  2. exit stop: write "", argv, env and their pointer arrays into the
//     scratch page, then rewind rip onto the syscall instruction as the
//     "carrier": execveat with a secret cookie in argument 5, which the
//     filter sends to the seccomp listener.
//  3. a receiver sees the carrier and installs the file with
//     SECCOMP_IOCTL_NOTIF_ADDFD (O_CLOEXEC); the call returns its number.
//  4. exit stop: rewind again as the real execveat(fd, scratch...).
//  5. its seccomp stop: the registers must be exactly ours; let it run.
//  6. PTRACE_EVENT_EXEC: before the new image runs one instruction, check
//     that /proc/PID/exe is the planned file (another thread could have
//     rewritten the scratch string into a host path) and kill on mismatch;
//     restore the signal mask.
//
// If the exec fails the tracer injects close(fd) (allowed by the cookie) and
// munmap(scratch), then returns the error from the original call with its
// registers restored. A vfork child shares its parent's memory, so its
// scratch mapping stays there after a successful exec: the parent unmaps
// it when its vfork returns (vforkDone). A child cloned with CLONE_VM but
// not CLONE_VFORK (rare: posix_spawn and vfork set both) leaves it.

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

type execPhase int

const (
	exMmap execPhase = iota + 1
	exCarrier
	exArmed
	exRunning
	exCloseFD
	exUnmap
)

type execState struct {
	phase  execPhase
	regs   unix.PtraceRegs // at the program's seccomp stop
	mask   uint64          // its signal mask
	plan   *ExecPlan
	hostFD int

	image            []byte // scratch page contents, pointers relative
	argvOff, envpOff int
	ptrOffs          []int // offsets in image of pointers to relocate
	scratch, size    uint64
	fd               int // installed in the program, or -1
	err              unix.Errno
}

func (ex *execState) close() {
	if ex.plan != nil && ex.plan.File != nil {
		ex.plan.File.Close()
	}
}

// layout builds the scratch image: "" then the strings, then the argv and
// envp arrays (8-byte aligned).
func (ex *execState) layout() {
	img := []byte{0}
	var strOffs []int
	for _, list := range [][]string{ex.plan.Argv, ex.plan.Env} {
		for _, s := range list {
			strOffs = append(strOffs, len(img))
			img = append(img, s...)
			img = append(img, 0)
		}
	}
	for len(img)%8 != 0 {
		img = append(img, 0)
	}
	i := 0
	for k, list := range [][]string{ex.plan.Argv, ex.plan.Env} {
		if k == 0 {
			ex.argvOff = len(img)
		} else {
			ex.envpOff = len(img)
		}
		for range list {
			ex.ptrOffs = append(ex.ptrOffs, len(img))
			img = binary.LittleEndian.AppendUint64(img, uint64(strOffs[i]))
			i++
		}
		img = binary.LittleEndian.AppendUint64(img, 0)
	}
	ex.image = img
	ex.size = (uint64(len(img)) + pageSize - 1) &^ (pageSize - 1)
}

// maxExecImage bounds argv+env as the kernel's ARG_MAX-like limit does.
const maxExecImage = 32 << 20

func (p *Platform) seccompStop(t *Task) {
	var regs unix.PtraceRegs
	if err := unix.PtraceGetRegs(t.TID, &regs); err != nil {
		return
	}
	if t.stub.Load() {
		// The stub's own exec of the program (Spec.Path or Spec.File).
		t.stubExec = true
		p.resume(t, 0)
		return
	}
	if ex := t.ex; ex != nil {
		if ex.phase == exArmed && regs.Orig_rax == unix.SYS_EXECVEAT && regs.Rdi == uint64(ex.fd) &&
			regs.Rsi == ex.scratch && regs.Rdx == ex.scratch+uint64(ex.argvOff) &&
			regs.R10 == ex.scratch+uint64(ex.envpOff) && regs.R8 == unix.AT_EMPTY_PATH {
			ex.phase = exRunning
			p.resume(t, 0)
			return
		}
		p.kill(t, fmt.Sprintf("unexpected seccomp stop in exec phase %d", ex.phase))
		return
	}
	nr := int(regs.Orig_rax)
	if nr != unix.SYS_EXECVE && nr != unix.SYS_EXECVEAT {
		p.skip(t, &regs, unix.ENOSYS)
		return
	}
	call := &ExecCall{Nr: nr, Args: [6]uint64{regs.Rdi, regs.Rsi, regs.Rdx, regs.R10, regs.R8, regs.R9}}
	plan, errno := p.h.Exec(t, call)
	if errno != 0 || plan == nil || plan.File == nil {
		if errno == 0 {
			errno = unix.EACCES
		}
		if plan != nil && plan.File != nil {
			plan.File.Close()
		}
		p.skip(t, &regs, errno)
		return
	}
	ex := &execState{regs: regs, plan: plan, hostFD: int(plan.File.Fd()), fd: -1}
	ex.layout()
	if ex.size > maxExecImage {
		ex.close()
		p.skip(t, &regs, unix.E2BIG)
		return
	}
	mask, err := blockSignals(t.TID)
	if err != nil {
		ex.close()
		return
	}
	ex.mask = mask
	r := regs
	r.Orig_rax = unix.SYS_MMAP
	r.Rdi, r.Rsi, r.Rdx = 0, ex.size, unix.PROT_READ|unix.PROT_WRITE
	r.R10, r.R8, r.R9 = unix.MAP_PRIVATE|unix.MAP_ANONYMOUS, ^uint64(0), 0
	if err := unix.PtraceSetRegs(t.TID, &r); err != nil {
		_ = setSigmask(t.TID, mask)
		ex.close()
		return
	}
	ex.phase = exMmap
	t.ex = ex
	t.syscallRun = true
	p.resume(t, 0)
}

// skip fails the stopped call with e without running it.
func (p *Platform) skip(t *Task, regs *unix.PtraceRegs, e unix.Errno) {
	r := *regs
	r.Orig_rax = ^uint64(0)
	r.Rax = uint64(-int64(e))
	_ = unix.PtraceSetRegs(t.TID, &r)
	p.resume(t, 0)
}

// inject makes the task run syscall nr(args) next, from the program's own
// syscall instruction (x86-64 `syscall` is 2 bytes; int 0x80 is killed by
// the filter's arch check, so every trapped call came from `syscall`).
func (p *Platform) inject(t *Task, nr uint64, args [6]uint64) {
	r := syscallRegs(t.ex.regs, nr, args)
	if err := unix.PtraceSetRegs(t.TID, &r); err != nil {
		return
	}
	p.resume(t, 0)
}

// syscallRegs are base rewound onto its syscall instruction as call nr.
func syscallRegs(base unix.PtraceRegs, nr uint64, args [6]uint64) unix.PtraceRegs {
	r := base
	r.Rip -= 2
	r.Rax, r.Orig_rax = nr, nr
	r.Rdi, r.Rsi, r.Rdx, r.R10, r.R8, r.R9 = args[0], args[1], args[2], args[3], args[4], args[5]
	return r
}

// blockSignals blocks every signal of the stopped task, so no handler runs
// in the middle of an injection, and returns the mask to restore.
func blockSignals(tid int) (uint64, error) {
	mask, err := getSigmask(tid)
	if err != nil {
		return 0, err
	}
	return mask, setSigmask(tid, ^uint64(0))
}

func (p *Platform) syscallStop(t *Task) {
	ex := t.ex
	si, err := getSyscallInfo(t.TID)
	if t.rel != nil && ex == nil && err == nil {
		p.releaseStop(t, si.Op == unix.PTRACE_SYSCALL_INFO_EXIT)
		return
	}
	if ex == nil || err != nil || si.Op != unix.PTRACE_SYSCALL_INFO_EXIT {
		p.resume(t, 0)
		return
	}
	rval := int64(si.Data[0])
	failed := rval < 0 && rval > -4096
	switch ex.phase {
	case exMmap:
		if failed {
			ex.err = unix.Errno(-rval)
			p.finishExec(t)
			return
		}
		ex.scratch = uint64(rval)
		img := append([]byte(nil), ex.image...)
		for _, off := range ex.ptrOffs {
			v := binary.LittleEndian.Uint64(img[off:])
			binary.LittleEndian.PutUint64(img[off:], v+ex.scratch)
		}
		if _, err := t.WriteMemory(ex.scratch, img); err != nil {
			ex.err = unix.EFAULT
			p.finishExec(t)
			return
		}
		t.carrier.Store(int64(ex.hostFD) + 1)
		ex.phase = exCarrier
		p.inject(t, unix.SYS_EXECVEAT, [6]uint64{5: p.cookie})
	case exCarrier:
		t.carrier.Store(0)
		if failed {
			ex.err = unix.Errno(-rval)
			p.finishExec(t)
			return
		}
		ex.fd = int(rval)
		ex.phase = exArmed
		if pt := t.vforkParent; pt != nil {
			// From here the exec may succeed and leave the scratch in
			// the parent's memory.
			pt.scratch = [2]uint64{ex.scratch, ex.size}
		}
		p.inject(t, unix.SYS_EXECVEAT, [6]uint64{uint64(ex.fd), ex.scratch,
			ex.scratch + uint64(ex.argvOff), ex.scratch + uint64(ex.envpOff), unix.AT_EMPTY_PATH, 0})
	case exRunning:
		ex.err = unix.Errno(-rval)
		if !failed {
			ex.err = unix.ENOEXEC
		}
		p.finishExec(t)
	case exCloseFD, exUnmap:
		p.finishExec(t)
	default:
		p.resume(t, 0)
	}
}

// finishExec undoes a failed exec one injected call at a time, then returns
// ex.err from the program's original call.
func (p *Platform) finishExec(t *Task) {
	ex := t.ex
	if ex.fd >= 0 {
		fd := ex.fd
		ex.fd = -1
		ex.phase = exCloseFD
		p.inject(t, unix.SYS_CLOSE, [6]uint64{uint64(fd), 5: p.cookie})
		return
	}
	if ex.scratch != 0 {
		s := ex.scratch
		ex.scratch = 0
		ex.phase = exUnmap
		if pt := t.vforkParent; pt != nil && pt.scratch[0] == s {
			pt.scratch = [2]uint64{}
		}
		p.inject(t, unix.SYS_MUNMAP, [6]uint64{s, ex.size})
		return
	}
	r := ex.regs
	r.Rax = uint64(-int64(ex.err))
	_ = unix.PtraceSetRegs(t.TID, &r)
	_ = setSigmask(t.TID, ex.mask)
	ex.close()
	t.ex = nil
	t.syscallRun = false
	p.resume(t, 0)
}

// execEvent is PTRACE_EVENT_EXEC: the new image is loaded, not yet run.
func (p *Platform) execEvent(t *Task) {
	if former, err := unix.PtraceGetEventMsg(t.TID); err == nil && int(former) != t.TID {
		// A non-leader thread exec'd and took the leader's TID; the old
		// leader vanishes without a wait status.
		leader := t
		if t = p.tasks[int(former)]; t == nil {
			p.kill(leader, "exec by an unknown thread")
			return
		}
		p.removeTask(int(former))
		if !leader.stub.Load() {
			p.h.Exited(leader, unix.WaitStatus(unix.SIGKILL))
		}
		t.TID = leader.TID
		p.addTask(t)
	}
	t.syscallRun = false
	switch ex := t.ex; {
	case t.stub.Load() && !t.stubExec:
		// The stub binary's own exec, seen when the seize raced with it.
	case t.stub.Load():
		t.stub.Store(false)
		p.h.NewTask(t, nil)
		if t.proc != nil {
			for _, sig := range t.proc.held {
				_ = unix.Tgkill(t.TGID, t.TID, sig)
			}
			t.proc.held = nil
		}
	case ex != nil && ex.phase == exRunning:
		t.ex = nil
		var got, want unix.Stat_t
		err1 := unix.Stat(fmt.Sprintf("/proc/%d/exe", t.TID), &got)
		err2 := unix.Fstat(ex.hostFD, &want)
		ex.close()
		if err1 != nil || err2 != nil || got.Dev != want.Dev || got.Ino != want.Ino {
			p.kill(t, "exec'd a file other than the planned one")
			return
		}
		_ = setSigmask(t.TID, ex.mask)
		t.vforkParent = nil // its memory is its own now
		p.h.Execed(t)
	default:
		p.kill(t, "exec without a plan")
		return
	}
	p.resume(t, 0)
}

// release is the unmapping of a vfork child's exec scratch in its parent,
// injected at the return of the parent's vfork: the saved registers and
// signal mask.
type release struct {
	regs unix.PtraceRegs
	mask uint64
	sent bool // the munmap is injected
}

// vforkDone is PTRACE_EVENT_VFORK_DONE: the child exec'd or exited, and
// this task is about to return from its vfork. A scratch mapping the
// child's exec left in the shared memory is unmapped at the syscall's
// exit stop, where the registers hold its result.
func (p *Platform) vforkDone(t *Task) {
	if t.scratch[1] != 0 && t.ex == nil && t.rel == nil {
		t.rel = &release{}
		t.syscallRun = true
	}
	p.resume(t, 0)
}

// releaseStop handles the syscall stops of a release: at the vfork's exit
// it injects munmap with every signal blocked; at the munmap's exit it
// restores the vfork's result, registers and mask.
func (p *Platform) releaseStop(t *Task, exit bool) {
	r := t.rel
	if !exit {
		p.resume(t, 0) // the entry of the injected munmap
		return
	}
	done := func() {
		t.rel, t.scratch, t.syscallRun = nil, [2]uint64{}, false
	}
	if !r.sent {
		if unix.PtraceGetRegs(t.TID, &r.regs) != nil {
			done()
			p.resume(t, 0)
			return
		}
		mask, err := blockSignals(t.TID)
		if err != nil {
			done()
			p.resume(t, 0)
			return
		}
		r.mask, r.sent = mask, true
		regs := syscallRegs(r.regs, unix.SYS_MUNMAP, [6]uint64{t.scratch[0], t.scratch[1]})
		if unix.PtraceSetRegs(t.TID, &regs) != nil {
			_ = setSigmask(t.TID, mask)
			done()
		}
		p.resume(t, 0)
		return
	}
	_ = unix.PtraceSetRegs(t.TID, &r.regs)
	_ = setSigmask(t.TID, r.mask)
	done()
	p.resume(t, 0)
}
