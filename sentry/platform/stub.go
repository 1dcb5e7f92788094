package platform

// Starting a program. The tracer thread forks the current binary again
// ("/proc/self/exe") with stubEnv set and PDEATHSIG=SIGKILL, and seizes it
// with every ptrace option before the filter exists (else RET_TRACE yields
// ENOSYS). The stub, in this package's init on the main thread:
//   - receives its instructions (filter, program, argv, env, maybe an exec
//     fd) over a socket,
//   - sets no_new_privs and installs the filter with NEW_LISTENER and
//     WAIT_KILLABLE_RECV,
//   - writes the listener's number back; the sentry takes it with
//     pidfd_getfd (sendmsg would itself be trapped with nobody to answer),
//   - waits for the go-ahead, then execs the program. Its execve stops in
//     the tracer, which lets the stub's own exec through.
// The socket is CLOEXEC: EOF tells the sentry the exec succeeded; an errno
// on it, that it failed.

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

const stubEnv = "RUNSC_PLATFORM_STUB"

type stubConfig struct {
	Path   string
	UseFD  bool
	Argv   []string
	Env    []string
	Filter []unix.SockFilter
	Creds  *Creds
	Rlimit []Rlimit
	// EmptyRoot: the stub was started in a new mount namespace and pivots
	// into an empty root before exec.
	EmptyRoot bool
	Terminal  bool
}

func init() {
	if _, ok := os.LookupEnv(doorbellEnv); ok {
		for {
			_ = unix.Pause()
		}
	}
	v, ok := os.LookupEnv(stubEnv)
	if !ok {
		return
	}
	// init runs on the main thread; keep it there: it is the traced one.
	runtime.LockOSThread()
	fd, err := strconv.Atoi(v)
	if err != nil {
		os.Exit(stubExitCode)
	}
	stubMain(fd)
}

const stubExitCode = 127

func stubMain(sock int) {
	// Die with the sentry. Also set by the sentry's fork, except for a
	// stub that joined a pid namespace (see spawn); a sentry that died
	// before this closed the socket, which ends the stub below.
	_ = unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0)
	fail := func(e error) {
		errno, ok := e.(unix.Errno)
		if !ok {
			errno = unix.EINVAL
		}
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], uint32(errno))
		_, _ = unix.Write(sock, b[:])
		os.Exit(stubExitCode)
	}
	buf := make([]byte, 4<<20)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(sock, buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		fail(err)
	}
	var cfg stubConfig
	if err := json.Unmarshal(buf[:n], &cfg); err != nil || len(cfg.Filter) == 0 {
		fail(unix.EINVAL)
	}
	execFD := -1
	if cfg.UseFD {
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil || len(msgs) != 1 {
			fail(unix.EBADF)
		}
		fds, err := unix.ParseUnixRights(&msgs[0])
		if err != nil || len(fds) != 1 {
			fail(unix.EBADF)
		}
		execFD = fds[0]
	}
	argv, err := syscall.SlicePtrFromStrings(cfg.Argv)
	if err != nil {
		fail(err)
	}
	envv, err := syscall.SlicePtrFromStrings(cfg.Env)
	if err != nil {
		fail(err)
	}
	path, err := syscall.BytePtrFromString(cfg.Path)
	if err != nil {
		fail(err)
	}
	// Only the program's Files (0..sock-1) survive the exec: whatever the
	// sentry inherited without close-on-exec must not reach the program.
	if err := unix.CloseRange(uint(sock), ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		fail(err)
	}
	if cfg.EmptyRoot {
		if err := pivotToEmptyRoot(); err != nil {
			fail(err)
		}
	}
	if cfg.Terminal {
		if _, err := unix.Setsid(); err != nil {
			fail(err)
		}
		if err := unix.IoctlSetInt(0, unix.TIOCSCTTY, 0); err != nil {
			fail(err)
		}
	}
	for _, rl := range cfg.Rlimit {
		if err := unix.Setrlimit(rl.Resource, &unix.Rlimit{Cur: rl.Soft, Max: rl.Hard}); err != nil {
			fail(err)
		}
	}
	if cfg.Creds != nil {
		if err := setCreds(cfg.Creds); err != nil {
			fail(err)
		}
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		fail(err)
	}
	prog := unix.SockFprog{Len: uint16(len(cfg.Filter)), Filter: &cfg.Filter[0]}
	lfd, _, e := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		unix.SECCOMP_FILTER_FLAG_NEW_LISTENER|unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
		uintptr(unsafe.Pointer(&prog)))
	if e != 0 {
		fail(e)
	}
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(lfd))
	if _, err := unix.Write(sock, b[:]); err != nil {
		os.Exit(stubExitCode)
	}
	if _, err := unix.Read(sock, b[:1]); err != nil {
		os.Exit(stubExitCode)
	}
	if execFD >= 0 {
		empty := [1]byte{}
		_, _, e = unix.Syscall6(unix.SYS_EXECVEAT, uintptr(execFD), uintptr(unsafe.Pointer(&empty[0])),
			uintptr(unsafe.Pointer(&argv[0])), uintptr(unsafe.Pointer(&envv[0])), unix.AT_EMPTY_PATH, 0)
	} else {
		_, _, e = unix.Syscall(unix.SYS_EXECVE, uintptr(unsafe.Pointer(path)),
			uintptr(unsafe.Pointer(&argv[0])), uintptr(unsafe.Pointer(&envv[0])))
	}
	fail(e)
}

// Start runs spec under the platform: its first task is reported to
// Handler.NewTask before it runs its first instruction.
func (p *Platform) Start(spec Spec) (*Process, error) {
	if (spec.Path == "") == (spec.File == nil) {
		return nil, fmt.Errorf("platform: set exactly one of Spec.Path and Spec.File")
	}
	if len(spec.Argv) == 0 {
		return nil, fmt.Errorf("platform: empty argv")
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	sock := os.NewFile(uintptr(fds[0]), "stub")
	defer sock.Close()
	childSock := os.NewFile(uintptr(fds[1]), "stub-child")

	type started struct {
		proc *Process
		err  error
	}
	r := started{err: fmt.Errorf("platform: closed")}
	p.do(func() { r.proc, r.err = p.spawn(spec, childSock) })
	childSock.Close()
	if r.err != nil {
		return nil, r.err
	}
	proc := r.proc
	fail := func(err error) (*Process, error) {
		_ = unix.Kill(proc.pid, unix.SIGKILL)
		proc.Wait()
		if proc.pidns != nil {
			proc.pidns.Close()
		}
		return nil, err
	}
	if spec.OOMScoreAdj != nil {
		// Set on the waiting stub; the exec keeps it.
		if err := os.WriteFile("/proc/"+strconv.Itoa(proc.pid)+"/oom_score_adj", []byte(strconv.Itoa(*spec.OOMScoreAdj)), 0); err != nil {
			return fail(fmt.Errorf("platform: oom_score_adj: %w", err))
		}
	}
	if spec.NewPIDNamespace {
		// Now, while the stub waits: the program may exit at once.
		if proc.pidns, err = os.Open("/proc/" + strconv.Itoa(proc.pid) + "/ns/pid"); err != nil {
			return fail(fmt.Errorf("platform: pid namespace: %w", err))
		}
	}

	cfg := stubConfig{Path: spec.Path, UseFD: spec.File != nil, Argv: spec.Argv, Env: spec.Env, Filter: p.filter, Creds: spec.Creds, Rlimit: spec.Rlimits, EmptyRoot: spec.EmptyRoot, Terminal: spec.Terminal}
	msg, err := json.Marshal(cfg)
	if err != nil {
		return fail(err)
	}
	var oob []byte
	if spec.File != nil {
		oob = unix.UnixRights(int(spec.File.Fd()))
	}
	if err := unix.Sendmsg(int(sock.Fd()), msg, oob, nil, 0); err != nil {
		return fail(err)
	}
	var b [4]byte
	if n, err := io.ReadFull(sock, b[:]); err != nil || n != 4 {
		return fail(fmt.Errorf("platform: stub did not report its listener: %v", err))
	}
	lfd, err := takeFD(proc.pid, int(binary.LittleEndian.Uint32(b[:])))
	if err != nil {
		return fail(err)
	}
	l := &listener{fd: lfd, plat: p}
	// The flag is passed by value.
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(lfd), unix.SECCOMP_IOCTL_NOTIF_SET_FLAGS,
		unix.SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP); e != 0 {
		unix.Close(lfd)
		return fail(e)
	}
	proc.l = l
	for i := 0; i < p.cfg.Receivers; i++ {
		cpu := -1
		if len(p.cfg.ReceiverCPUs) > 0 {
			cpu = p.cfg.ReceiverCPUs[i%len(p.cfg.ReceiverCPUs)]
		}
		l.wg.Add(1)
		go l.receive(cpu)
	}
	go func() {
		l.wg.Wait()
		unix.Close(l.fd)
	}()
	if _, err := sock.Write([]byte{1}); err != nil {
		return fail(err)
	}
	n, err := sock.Read(b[:])
	if n == 4 {
		return fail(fmt.Errorf("platform: exec %q: %w", spec.Argv[0], unix.Errno(binary.LittleEndian.Uint32(b[:]))))
	}
	if n != 0 && err == nil {
		return fail(fmt.Errorf("platform: stub protocol error"))
	}
	return proc, nil
}

// takeFD duplicates fd number n of process pid into the sentry.
func takeFD(pid, n int) (int, error) {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return -1, err
	}
	defer unix.Close(pidfd)
	return unix.PidfdGetfd(pidfd, n, 0)
}

// spawn runs on the tracer thread, whose children the stubs are (so that
// joining a pid namespace for one of them is the thread's setns).
func (p *Platform) spawn(spec Spec, childSock *os.File) (*Process, error) {
	sys := &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Cloneflags: cloneFlags(spec)}
	if spec.PIDNamespace != nil {
		own, err := os.Open("/proc/thread-self/ns/pid")
		if err != nil {
			return nil, err
		}
		defer own.Close()
		if err := unix.Setns(int(spec.PIDNamespace.Fd()), unix.CLONE_NEWPID); err != nil {
			return nil, fmt.Errorf("platform: join pid namespace: %w", err)
		}
		defer func() {
			if err := unix.Setns(int(own.Fd()), unix.CLONE_NEWPID); err != nil {
				panic(fmt.Sprintf("platform: tracer cannot return to its pid namespace: %v", err))
			}
		}()
		// Go's check that the parent is still alive compares getppid,
		// which is 0 across the namespace boundary, and would kill the
		// child: the stub sets its parent-death signal itself.
		sys.Pdeathsig = 0
	}
	files := append(append([]*os.File(nil), spec.Files...), childSock)
	attr := &os.ProcAttr{
		Env:   []string{stubEnv + "=" + strconv.Itoa(len(spec.Files))},
		Files: files,
		Sys:   sys,
	}
	pr, err := os.StartProcess("/proc/self/exe", []string{"runsc-platform-stub"}, attr)
	if err != nil {
		return nil, err
	}
	pid := pr.Pid
	// The tracer reaps it with wait4; os.Process must not.
	_ = pr.Release()
	if err := ptrace(unix.PTRACE_SEIZE, pid, 0, ptraceOptions); err != nil {
		_ = unix.Kill(pid, unix.SIGKILL)
		var ws unix.WaitStatus
		_, _ = unix.Wait4(pid, &ws, unix.WALL, nil)
		return nil, fmt.Errorf("platform: PTRACE_SEIZE: %w", err)
	}
	proc := &Process{plat: p, pid: pid, done: make(chan struct{})}
	t := &Task{TID: pid, TGID: pid, proc: proc}
	t.stub.Store(true)
	p.inherit(t, nil)
	p.addTask(t)
	p.procs[pid] = proc
	return proc, nil
}

// SetThreadIDs gives the calling thread the supplementary groups and the
// real, effective and saved gids and uids. Raw syscalls change only this
// thread (Go's own set*id calls change every thread of the process).
func SetThreadIDs(groups []uint32, gids, uids [3]uint32) error {
	var gp unsafe.Pointer
	if len(groups) > 0 {
		gp = unsafe.Pointer(&groups[0])
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(groups)), uintptr(gp), 0); e != 0 {
		return e
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(gids[0]), uintptr(gids[1]), uintptr(gids[2])); e != 0 {
		return e
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(uids[0]), uintptr(uids[1]), uintptr(uids[2])); e != 0 {
		return e
	}
	return nil
}

// setCreds gives the stub's thread (the one that execs the program) the
// program's ids and capabilities. Raw syscalls change only this thread,
// which is all that exec keeps.
func setCreds(c *Creds) error {
	for capNr := uintptr(0); capNr <= unix.CAP_LAST_CAP; capNr++ {
		if c.Bounding&(1<<capNr) == 0 {
			if err := unix.Prctl(unix.PR_CAPBSET_DROP, capNr, 0, 0, 0); err != nil {
				return err
			}
		}
	}
	if _, _, e := unix.RawSyscall(unix.SYS_PRCTL, unix.PR_SET_KEEPCAPS, 1, 0); e != 0 {
		return e
	}
	if err := SetThreadIDs(c.Groups, [3]uint32{c.GID, c.GID, c.GID}, [3]uint32{c.UID, c.UID, c.UID}); err != nil {
		return err
	}
	// A program gets no capability the sentry lacks.
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var cur [2]unix.CapUserData
	if _, _, e := unix.RawSyscall(unix.SYS_CAPGET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&cur[0])), 0); e != 0 {
		return e
	}
	have := uint64(cur[0].Permitted) | uint64(cur[1].Permitted)<<32
	c.Effective &= have
	c.Permitted &= have
	c.Inheritable &= have
	c.Ambient &= have
	hdr = unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := [2]unix.CapUserData{
		{Effective: uint32(c.Effective), Permitted: uint32(c.Permitted), Inheritable: uint32(c.Inheritable)},
		{Effective: uint32(c.Effective >> 32), Permitted: uint32(c.Permitted >> 32), Inheritable: uint32(c.Inheritable >> 32)},
	}
	if _, _, e := unix.RawSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); e != 0 {
		return e
	}
	for capNr := uintptr(0); capNr <= unix.CAP_LAST_CAP; capNr++ {
		if c.Ambient&(1<<capNr) != 0 {
			if _, _, e := unix.RawSyscall6(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, capNr, 0, 0, 0); e != 0 {
				return e
			}
		}
	}
	return nil
}

// cloneFlags are the namespaces a stub starts in.
func cloneFlags(spec Spec) uintptr {
	var flags uintptr
	if spec.EmptyRoot {
		flags |= unix.CLONE_NEWNS
	}
	if spec.NewPIDNamespace {
		flags |= unix.CLONE_NEWPID
	}
	return flags
}

// pivotToEmptyRoot makes the stub's root an empty read-only tmpfs, in the
// new mount namespace it was started in, without touching the host's.
func pivotToEmptyRoot() error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return err
	}
	// /mnt exists on every Debian-like host; mounting over it is private
	// to this namespace.
	const dir = "/mnt"
	if err := unix.Mount("none", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=4k,mode=0555"); err != nil {
		return err
	}
	if err := unix.Chdir(dir); err != nil {
		return err
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return err
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return err
	}
	if err := unix.Chdir("/"); err != nil {
		return err
	}
	return unix.Mount("", "/", "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
}
