package syscalls

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
	"runsc.dev/runsc/sentry/kernel"
)

func init() {
	register(sysOpen, unix.SYS_OPEN)
	register(sysOpenat, unix.SYS_OPENAT)
	register(sysOpenat2, unix.SYS_OPENAT2)
	register(sysCreat, unix.SYS_CREAT)
	register(sysClose, unix.SYS_CLOSE)
	register(sysCloseRange, unix.SYS_CLOSE_RANGE)
	register(sysDup, unix.SYS_DUP)
	register(sysDup2, unix.SYS_DUP2)
	register(sysDup3, unix.SYS_DUP3)
	register(sysFcntl, unix.SYS_FCNTL)
}

// openFlagsKnown are the flags open(2) accepts; openat2 refuses others.
const openFlagsKnown = unix.O_ACCMODE | unix.O_CREAT | unix.O_EXCL | unix.O_NOCTTY | unix.O_TRUNC |
	unix.O_APPEND | unix.O_NONBLOCK | unix.O_DSYNC | unix.O_ASYNC | unix.O_DIRECT | unix.O_LARGEFILE |
	unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_NOATIME | unix.O_CLOEXEC | unix.O_SYNC | unix.O_PATH | unix.O_TMPFILE

func sysOpen(x *ctx) Result {
	return x.open(unix.AT_FDCWD, 0, x.int(1), uint32(x.arg(2)), 0)
}

func sysOpenat(x *ctx) Result {
	return x.open(x.int(0), 1, x.int(2), uint32(x.arg(3)), 0)
}

func sysCreat(x *ctx) Result {
	return x.open(unix.AT_FDCWD, 0, unix.O_CREAT|unix.O_WRONLY|unix.O_TRUNC, uint32(x.arg(1)), 0)
}

func sysOpenat2(x *ctx) Result {
	size := x.arg(3)
	if size < 24 || size > 4096 {
		return fail(unix.EINVAL)
	}
	buf := make([]byte, size)
	if err := x.read(x.arg(2), buf); err != nil {
		return fail(err)
	}
	for _, b := range buf[24:] {
		if b != 0 {
			return fail(unix.E2BIG)
		}
	}
	flags := binary.LittleEndian.Uint64(buf[0:])
	mode := binary.LittleEndian.Uint64(buf[8:])
	resolve := binary.LittleEndian.Uint64(buf[16:])
	if flags&^uint64(openFlagsKnown) != 0 || mode&^0o7777 != 0 {
		return fail(unix.EINVAL)
	}
	if flags&(unix.O_CREAT|unix.O_TMPFILE) == 0 && mode != 0 {
		return fail(unix.EINVAL)
	}
	return x.open(x.int(0), 1, int(flags), uint32(mode), resolve)
}

// open opens the path in argument pathArg relative to dirfd and installs
// the result in the program.
func (x *ctx) open(dirfd, pathArg, flags int, mode uint32, resolve uint64) Result {
	path, err := x.path(pathArg)
	if err != nil {
		return fail(err)
	}
	at, err := x.dir(dirfd, path)
	if err != nil {
		return fail(err)
	}
	d, err := x.v.Open(x.fsctx(), at, path, fs.OpenHow{Flags: flags, Mode: mode & 0o7777, Resolve: resolve})
	if err != nil {
		return fail(err)
	}
	if kernel.OpensBlocking(d) {
		return Result{Later: func() Result { return x.openBlocking(d, flags) }}
	}
	f, err := x.t.Kernel().NewFile(d)
	if err != nil {
		d.Close()
		return fail(err)
	}
	fd, err := x.install(f, flags&unix.O_CLOEXEC != 0, -1)
	return result(int64(fd), err)
}

// errRestartSys is Linux's ERESTARTSYS (platform.Response): an open of a
// FIFO that a signal interrupts is restarted or fails with EINTR by it.
const errRestartSys = unix.Errno(512)

// openBlocking finishes an open that waits for another process (a FIFO
// end), off the receiver. The program's thread waits killably in the
// trapped call, and, traced, not even a fatal signal other than SIGKILL
// ends that wait: so the sentry watches for a signal pending for it, and
// for it going away, and then ends the wait by opening the other end for
// a moment. (A signal of the whole process that another thread takes
// meanwhile leaves errno 512; Linux would have gone on waiting.)
func (x *ctx) openBlocking(d *fs.FileDescription, flags int) Result {
	type opened struct {
		f   *kernel.File
		err error
	}
	done := make(chan opened, 1)
	go func() {
		f, err := x.t.Kernel().NewFile(d)
		done <- opened{f, err}
	}()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	interrupted := false
	for {
		select {
		case o := <-done:
			if o.err != nil {
				d.Close()
				return fail(o.err)
			}
			if interrupted {
				o.f.IncRef()
				o.f.DecRef()
				return fail(errRestartSys)
			}
			fd, err := x.install(o.f, flags&unix.O_CLOEXEC != 0, -1)
			return result(int64(fd), err)
		case <-tick.C:
			// Until the wait ends: the opening goroutine may not have
			// reached its open at the first try.
			if interrupted || !x.c.Valid() || x.t.SignalPending() {
				interrupted = true
				kernel.Unblock(d)
			}
		}
	}
}

// install puts f into the program's fd table; a file nobody else holds is
// released if that fails.
func (x *ctx) install(f *kernel.File, cloexec bool, target int) (int, error) {
	f.IncRef()
	defer f.DecRef()
	return x.t.Files().Install(f, cloexec, target, x.c.InstallFD)
}

func sysClose(x *ctx) Result {
	x.t.Files().Remove(x.int(0))
	return native()
}

func sysCloseRange(x *ctx) Result {
	first, last, flags := uint(uint32(x.arg(0))), uint(uint32(x.arg(1))), x.arg(2)
	if flags&^(unix.CLOSE_RANGE_UNSHARE|unix.CLOSE_RANGE_CLOEXEC) != 0 || first > last {
		return fail(unix.EINVAL)
	}
	if flags&unix.CLOSE_RANGE_UNSHARE != 0 {
		// The program's table would stop being shared with the threads
		// ours still shares; refuse rather than diverge.
		return fail(unix.EINVAL)
	}
	x.t.Files().RemoveRange(first, last, flags&unix.CLOSE_RANGE_CLOEXEC != 0)
	return native()
}

func sysDup(x *ctx) Result {
	return x.dup(x.int(0), -1, false, false)
}

func sysDup2(x *ctx) Result {
	old, nfd := x.int(0), x.int(1)
	if old == nfd {
		if _, err := x.file(old); err != nil {
			return fail(err)
		}
		return ok(int64(nfd))
	}
	return x.dup(old, nfd, false, true)
}

func sysDup3(x *ctx) Result {
	old, nfd, flags := x.int(0), x.int(1), x.arg(2)
	if flags&^unix.O_CLOEXEC != 0 || old == nfd {
		return fail(unix.EINVAL)
	}
	return x.dup(old, nfd, flags&unix.O_CLOEXEC != 0, true)
}

// dup duplicates old at target (or the lowest free fd if target < 0).
func (x *ctx) dup(old, target int, cloexec, exact bool) Result {
	if exact && (target < 0 || uint64(target) >= x.nofile()) {
		return fail(unix.EBADF)
	}
	f, err := x.file(old)
	if err != nil {
		return fail(err)
	}
	if f == nil {
		// A host fd: the kernel duplicates it, and whatever sandbox file
		// was at target is gone.
		if exact {
			files := x.t.Files()
			files.Lock()
			defer files.Unlock()
			files.RemoveLocked(target)
		}
		return native()
	}
	fd, err := x.install(f, cloexec, target)
	return result(int64(fd), err)
}

// nofile returns the caller's RLIMIT_NOFILE soft limit.
func (x *ctx) nofile() uint64 {
	var rl unix.Rlimit
	if err := unix.Prlimit(x.t.Tgid(), unix.RLIMIT_NOFILE, nil, &rl); err != nil {
		return 1 << 20
	}
	return rl.Cur
}

func sysFcntl(x *ctx) Result {
	fd, cmd := x.int(0), x.int(1)
	switch cmd {
	case unix.F_DUPFD, unix.F_DUPFD_CLOEXEC:
		f, err := x.file(fd)
		if err != nil {
			return fail(err)
		}
		if f == nil {
			return native()
		}
		lowest, nofile := x.int(2), x.nofile()
		if lowest < 0 || uint64(lowest) >= nofile {
			return fail(unix.EINVAL)
		}
		limit := int(min(nofile, 1<<20))
		nfd, err := x.t.Files().InstallFrom(f, cmd == unix.F_DUPFD_CLOEXEC, lowest, limit, x.hostFD, x.c.InstallFD)
		return result(int64(nfd), err)
	case unix.F_SETFD:
		x.t.Files().SetCloexec(fd, x.arg(2)&unix.FD_CLOEXEC != 0)
		return native()
	case unix.F_SETFL:
		if f, _ := x.file(fd); f != nil {
			f.Desc.SetStatusFlags(x.int(2))
		}
		return native()
	}
	return native()
}
