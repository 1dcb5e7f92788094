package platform

import (
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Kernel structs of the seccomp notification API.
type seccompNotif struct {
	ID    uint64
	Pid   uint32
	Flags uint32
	Nr    int32
	Arch  uint32
	IP    uint64
	Args  [6]uint64
}

type seccompResp struct {
	ID    uint64
	Val   int64
	Error int32
	Flags uint32
}

type seccompAddFD struct {
	ID         uint64
	Flags      uint32
	SrcFD      uint32
	NewFD      uint32
	NewFDFlags uint32
}

// Call is one trapped syscall waiting for its Response. Its methods act on
// the stopped program through the interception mechanism (backend).
type Call struct {
	Task *Task
	Nr   int
	Args [6]uint64
	IP   uint64

	id uint64
	b  callBackend
}

// callBackend is the interception mechanism behind a Call; seccomp user
// notification (listener) is the only one so far.
type callBackend interface {
	valid(id uint64) bool
	addFD(id uint64, fd, target int, cloexec bool) (int, error)
}

// Valid reports whether the program is still stopped in this call: the
// task has not died and its TID has not been reused since it was trapped.
func (c *Call) Valid() bool { return c.b.valid(c.id) }

// ReadMemory reads the program's memory, then checks that the call is still
// valid, so the bytes cannot come from another process that reused the TID.
func (c *Call) ReadMemory(addr uint64, b []byte) (int, error) {
	n, err := c.Task.ReadMemory(addr, b)
	if !c.Valid() {
		return 0, unix.ESRCH
	}
	return n, err
}

// ReadString is Task.ReadString followed by the validity check.
func (c *Call) ReadString(addr uint64, max int) (string, error) {
	s, err := c.Task.ReadString(addr, max)
	if !c.Valid() {
		return "", unix.ESRCH
	}
	return s, err
}

// PeekString is ReadString without the validity check, for a call that
// changes nothing before it writes the program's memory (WriteMemory
// checks first) or answers: if the call is valid then, the task never
// died, so the TID was never reused and the bytes were its own.
func (c *Call) PeekString(addr uint64, max int) (string, error) {
	return c.Task.ReadString(addr, max)
}

// WriteMemory writes the program's memory if the call is still valid.
func (c *Call) WriteMemory(addr uint64, b []byte) (int, error) {
	if !c.Valid() {
		return 0, unix.ESRCH
	}
	return c.Task.WriteMemory(addr, b)
}

// InstallFD puts a duplicate of the sentry's fd into the program at its
// lowest free number (SECCOMP_IOCTL_NOTIF_ADDFD) and returns that number.
// The handler then usually returns it: Return(int64(n)).
func (c *Call) InstallFD(fd int, cloexec bool) (int, error) {
	return c.b.addFD(c.id, fd, -1, cloexec)
}

// InstallFDAt puts a duplicate of fd at number target, replacing what was
// there (dup2 semantics, SECCOMP_ADDFD_FLAG_SETFD).
func (c *Call) InstallFDAt(fd, target int, cloexec bool) (int, error) {
	if target < 0 {
		return -1, unix.EBADF
	}
	return c.b.addFD(c.id, fd, target, cloexec)
}

// listener is one program's seccomp notification fd and its receivers.
type listener struct {
	fd   int
	plat *Platform
	wg   sync.WaitGroup
}

// ioctl retries EINTR: RECV, SEND, ID_VALID and an unprocessed ADDFD have no
// effect when interrupted (a processed ADDFD returns its fd instead).
func (l *listener) ioctl(req uintptr, arg unsafe.Pointer) (int, error) {
	for {
		r, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(l.fd), req, uintptr(arg))
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return -1, e
		}
		return int(r), nil
	}
}

func (l *listener) valid(id uint64) bool {
	_, err := l.ioctl(unix.SECCOMP_IOCTL_NOTIF_ID_VALID, unsafe.Pointer(&id))
	return err == nil
}

// addFD never uses SECCOMP_ADDFD_FLAG_SEND: on 6.18 a signal to this thread
// (Go's preemption) can make it hand the program fd 0 (§3).
func (l *listener) addFD(id uint64, fd, target int, cloexec bool) (int, error) {
	a := seccompAddFD{ID: id, SrcFD: uint32(fd)}
	if target >= 0 {
		a.Flags = unix.SECCOMP_ADDFD_FLAG_SETFD
		a.NewFD = uint32(target)
	}
	if cloexec {
		a.NewFDFlags = unix.O_CLOEXEC
	}
	return l.ioctl(unix.SECCOMP_IOCTL_NOTIF_ADDFD, unsafe.Pointer(&a))
}

func (l *listener) send(r *seccompResp) {
	// ENOENT: the task died or was interrupted meanwhile; nothing to do.
	_, _ = l.ioctl(unix.SECCOMP_IOCTL_NOTIF_SEND, unsafe.Pointer(r))
}

// hungUp reports whether every task using the filter is gone.
func (l *listener) hungUp() bool {
	fds := []unix.PollFd{{Fd: int32(l.fd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, 0)
	return err == nil && n > 0 && fds[0].Revents&(unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0
}

// receive is one receiver thread. Every blocked RECV wakes on each
// notification, so there is one receiver per CPU the receivers run on,
// not one per task (Config.Receivers).
func (l *listener) receive(cpu int) {
	defer l.wg.Done()
	lockThread(cpu, l.loop)
}

// loop receives and answers notifications.
func (l *listener) loop() {
	for {
		var n seccompNotif
		_, err := l.ioctl(unix.SECCOMP_IOCTL_NOTIF_RECV, unsafe.Pointer(&n))
		switch err {
		case nil:
			l.dispatch(&n)
		case unix.ENOENT:
			// Either the notification was withdrawn (its task got a
			// signal) or the last task is gone: RECV then fails at once.
			if l.hungUp() {
				return
			}
		default:
			return
		}
	}
}

func (l *listener) dispatch(n *seccompNotif) {
	r := seccompResp{ID: n.ID}
	t := l.plat.task(int(n.Pid))
	switch {
	case t == nil:
		r.Error = -int32(unix.ENOSYS)
	case n.Nr == unix.SYS_EXECVEAT && n.Args[5] == l.plat.cookie:
		l.execCarrier(t, n, &r)
	case t.stub.Load():
		// The platform's own stub before the program's exec.
		r.Flags = unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE
	default:
		if n.Nr >= 0 && int(n.Nr) < len(l.plat.calls) {
			l.plat.calls[n.Nr].Add(1)
		}
		l.plat.trapped(t)
		t.interrupted.Store(false)
		c := &Call{Task: t, Nr: int(n.Nr), Args: n.Args, IP: n.IP, id: n.ID, b: l}
		resp := l.plat.h.Syscall(c)
		if resp.Later != nil {
			go func() {
				r := seccompResp{ID: n.ID}
				answer(t, &r, resp.Later())
				l.send(&r)
			}()
			return
		}
		answer(t, &r, resp)
	}
	l.send(&r)
}

// answer fills r from the handler's response to t.
func answer(t *Task, r *seccompResp, resp Response) {
	if resp.Errno == errERESTARTSYS {
		t.interrupted.Store(true)
	}
	switch {
	case resp.Continue:
		r.Flags = unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE
	case resp.Errno != 0:
		r.Error = -int32(resp.Errno)
	default:
		r.Val = resp.Val
	}
}

// execCarrier installs the exec file the tracer prepared (exec.go) and
// returns its number in the program.
func (l *listener) execCarrier(t *Task, n *seccompNotif, r *seccompResp) {
	fd := int(t.carrier.Load()) - 1
	if fd < 0 {
		r.Error = -int32(unix.ENOSYS)
		return
	}
	got, err := l.addFD(n.ID, fd, -1, true)
	if err != nil {
		r.Error = -int32(err.(unix.Errno))
		return
	}
	r.Val = int64(got)
}
