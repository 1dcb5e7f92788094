package syscalls

import (
	"strings"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
)

func init() {
	register(func(x *ctx) Result { return x.setxattr(xPath) }, unix.SYS_SETXATTR)
	register(func(x *ctx) Result { return x.setxattr(xLink) }, unix.SYS_LSETXATTR)
	register(hostOrVFS(func(x *ctx) Result { return x.setxattr(xFD) }), unix.SYS_FSETXATTR)
	register(func(x *ctx) Result { return x.getxattr(xPath) }, unix.SYS_GETXATTR)
	register(func(x *ctx) Result { return x.getxattr(xLink) }, unix.SYS_LGETXATTR)
	register(hostOrVFS(func(x *ctx) Result { return x.getxattr(xFD) }), unix.SYS_FGETXATTR)
	register(func(x *ctx) Result { return x.listxattr(xPath) }, unix.SYS_LISTXATTR)
	register(func(x *ctx) Result { return x.listxattr(xLink) }, unix.SYS_LLISTXATTR)
	register(hostOrVFS(func(x *ctx) Result { return x.listxattr(xFD) }), unix.SYS_FLISTXATTR)
	register(func(x *ctx) Result { return x.removexattr(xPath) }, unix.SYS_REMOVEXATTR)
	register(func(x *ctx) Result { return x.removexattr(xLink) }, unix.SYS_LREMOVEXATTR)
	register(hostOrVFS(func(x *ctx) Result { return x.removexattr(xFD) }), unix.SYS_FREMOVEXATTR)
}

// hostOrVFS runs an f*xattr call on a host object (pipe, socket) natively:
// it names no path, and the kernel answers for the object as Linux does.
func hostOrVFS(h handlerFunc) handlerFunc {
	return func(x *ctx) Result {
		if f, err := x.file(x.int(0)); err == nil && f == nil {
			return native()
		}
		return h(x)
	}
}

// xattrTarget is how an xattr call names its file.
type xattrTarget int

const (
	xPath xattrTarget = iota // follows symlinks
	xLink                    // l*xattr: does not
	xFD                      // f*xattr
)

// xattrLoc returns the file named by the first argument and the flags that
// select it.
func (x *ctx) xattrLoc(how xattrTarget) (fs.Loc, string, int, error) {
	if how == xFD {
		f, err := x.file(x.int(0))
		if err != nil {
			return fs.Loc{}, "", 0, err
		}
		if f == nil {
			return fs.Loc{}, "", 0, unix.EOPNOTSUPP
		}
		if f.Desc.Flags()&unix.O_PATH != 0 {
			return fs.Loc{}, "", 0, unix.EBADF
		}
		return f.Desc.Loc(), "", unix.AT_EMPTY_PATH, nil
	}
	path, err := x.path(0)
	if err != nil {
		return fs.Loc{}, "", 0, err
	}
	flags := 0
	if how == xLink {
		flags = unix.AT_SYMLINK_NOFOLLOW
	}
	return x.t.Cwd(), path, flags, nil
}

// xattrName reads the name argument: ERANGE if it is empty or too long.
func (x *ctx) xattrName(i int) (string, error) {
	name, err := x.c.ReadString(x.arg(i), fs.XattrNameMax+1)
	if err == unix.ENAMETOOLONG || (err == nil && (name == "" || len(name) > fs.XattrNameMax)) {
		return "", unix.ERANGE
	}
	return name, err
}

func (x *ctx) setxattr(how xattrTarget) Result {
	name, err := x.xattrName(1)
	if err != nil {
		return fail(err)
	}
	size := x.arg(3)
	if size > fs.XattrSizeMax {
		return fail(unix.E2BIG)
	}
	value := make([]byte, size)
	if size > 0 {
		if err := x.read(x.arg(2), value); err != nil {
			return fail(err)
		}
	}
	at, path, flags, err := x.xattrLoc(how)
	if err != nil {
		return fail(err)
	}
	return done(x.v.Setxattr(x.fsctx(), at, path, flags, name, value, x.int(4)))
}

func (x *ctx) getxattr(how xattrTarget) Result {
	name, err := x.xattrName(1)
	if err != nil {
		return fail(err)
	}
	at, path, flags, err := x.xattrLoc(how)
	if err != nil {
		return fail(err)
	}
	value, err := x.v.Getxattr(x.fsctx(), at, path, flags, name)
	if err != nil {
		return fail(err)
	}
	return x.copyOut(x.arg(2), x.arg(3), value)
}

// copyOut answers a size-probing call: with size 0 the length, otherwise
// the bytes or ERANGE.
func (x *ctx) copyOut(addr, size uint64, b []byte) Result {
	if size == 0 {
		return ok(int64(len(b)))
	}
	if uint64(len(b)) > size {
		return fail(unix.ERANGE)
	}
	if len(b) > 0 {
		if err := x.write(addr, b); err != nil {
			return fail(err)
		}
	}
	return ok(int64(len(b)))
}

func (x *ctx) listxattr(how xattrTarget) Result {
	at, path, flags, err := x.xattrLoc(how)
	if err != nil {
		return fail(err)
	}
	names, err := x.v.Listxattr(x.fsctx(), at, path, flags)
	if err != nil {
		return fail(err)
	}
	var b []byte
	if len(names) > 0 {
		b = []byte(strings.Join(names, "\x00") + "\x00")
	}
	return x.copyOut(x.arg(1), x.arg(2), b)
}

func (x *ctx) removexattr(how xattrTarget) Result {
	name, err := x.xattrName(1)
	if err != nil {
		return fail(err)
	}
	at, path, flags, err := x.xattrLoc(how)
	if err != nil {
		return fail(err)
	}
	return done(x.v.Removexattr(x.fsctx(), at, path, flags, name))
}
