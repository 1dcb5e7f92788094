package syscalls

import (
	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
	"runsc.dev/runsc/sentry/kernel"
)

// Caller is a trapped syscall as the platform presents it: the stopped
// thread's arguments, memory and fd table.
type Caller interface {
	Arg(i int) uint64
	ReadMemory(addr uint64, b []byte) (int, error)
	WriteMemory(addr uint64, b []byte) (int, error)
	ReadString(addr uint64, max int) (string, error)
	// PeekString is ReadString for a query: a call that changes nothing
	// before it writes its result with WriteMemory or answers, so the
	// validity check that follows (or the answer to a call gone) covers
	// the read too.
	PeekString(addr uint64, max int) (string, error)
	// InstallFD puts a duplicate of the sentry's host fd into the caller's
	// fd table, at the lowest free number if target < 0.
	InstallFD(host int, cloexec bool, target int) (int, error)
	// Valid reports whether the caller still waits for the answer.
	Valid() bool
}

// Result answers a trapped syscall: a value, an errno, or "run it on the
// host" (only for calls whose arguments are all in registers).
type Result struct {
	Val      int64
	Errno    unix.Errno
	Continue bool
	// Later answers from a goroutine of its own (platform.Response.Later).
	Later func() Result
}

func ok(v int64) Result     { return Result{Val: v} }
func fail(err error) Result { return Result{Errno: errnoOf(err)} }
func native() Result        { return Result{Continue: true} }
func done(err error) Result { return result(0, err) }
func result(v int64, err error) Result {
	if err != nil {
		return fail(err)
	}
	return ok(v)
}

// errnoOf finds the errno in err; anything else is EIO.
func errnoOf(err error) unix.Errno {
	for err != nil {
		if e, ok := err.(unix.Errno); ok {
			return e
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			break
		}
		err = u.Unwrap()
	}
	return unix.EIO
}

// ctx is one syscall being answered.
type ctx struct {
	t *kernel.Task
	c Caller
	v *fs.VFS
	// held are the files the call uses (file), released when it is
	// answered.
	held []*kernel.File
}

type handlerFunc func(x *ctx) Result

var handlers = map[int]handlerFunc{}

func register(h handlerFunc, nrs ...int) {
	for _, nr := range nrs {
		handlers[nr] = h
	}
}

// Handle answers syscall nr of task t.
func Handle(t *kernel.Task, nr int, c Caller) Result {
	h := handlers[nr]
	if h == nil {
		return fail(unix.ENOSYS)
	}
	x := &ctx{t: t, c: c, v: t.Kernel().VFS}
	r := h(x)
	if later := r.Later; later != nil {
		r.Later = func() Result {
			defer x.release()
			return later()
		}
		return r
	}
	x.release()
	return r
}

func (x *ctx) release() {
	for _, f := range x.held {
		f.DecRef()
	}
	x.held = nil
}

// Handled reports whether the syscall layer answers nr itself.
func Handled(nr int) bool { return handlers[nr] != nil }

func (x *ctx) arg(i int) uint64 { return x.c.Arg(i) }
func (x *ctx) int(i int) int    { return int(int32(x.c.Arg(i))) }

// path reads a path argument: EFAULT for a bad pointer, ENAMETOOLONG past
// PATH_MAX.
func (x *ctx) path(i int) (string, error) { return x.readPath(i, x.c.ReadString) }

// queryPath is path for a query (Caller.PeekString): stat and its kin
// read the path, walk and write the result, one validity check in all.
func (x *ctx) queryPath(i int) (string, error) { return x.readPath(i, x.c.PeekString) }

func (x *ctx) readPath(i int, read func(addr uint64, max int) (string, error)) (string, error) {
	addr := x.arg(i)
	if addr == 0 {
		return "", unix.EFAULT
	}
	return read(addr, fs.PathMax)
}

// dir returns the location a dirfd names for a relative path.
func (x *ctx) dir(dirfd int, path string) (fs.Loc, error) { return x.t.DirLoc(dirfd, path) }

// hostFD reports whether the program has fd open natively.
func (x *ctx) hostFD(fd int) bool { return x.t.HasHostFD(fd) }

// file returns the sandbox file at fd, or nil for a host fd (errno EBADF if
// fd is not open at all).
func (x *ctx) file(fd int) (*kernel.File, error) {
	if f := x.t.Files().Acquire(fd); f != nil {
		x.held = append(x.held, f)
		return f, nil
	}
	if fd < 0 || !x.hostFD(fd) {
		return nil, unix.EBADF
	}
	return nil, nil
}

func (x *ctx) fsctx() *fs.Context { return x.t.Context() }

func (x *ctx) write(addr uint64, b []byte) error {
	if addr == 0 {
		return unix.EFAULT
	}
	if _, err := x.c.WriteMemory(addr, b); err != nil {
		return unix.EFAULT
	}
	return nil
}

func (x *ctx) read(addr uint64, b []byte) error {
	if addr == 0 {
		return unix.EFAULT
	}
	if _, err := x.c.ReadMemory(addr, b); err != nil {
		return unix.EFAULT
	}
	return nil
}
