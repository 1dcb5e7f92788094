package fs

import (
	"strings"

	"golang.org/x/sys/unix"
)

// Limits of extended attributes (linux/limits.h).
const (
	XattrNameMax = 255
	XattrSizeMax = 65536
)

// xattrPermission is Linux's xattr_permission: the namespace rules, then
// the file's own permission bits.
func xattrPermission(c *Creds, st *Stat, name string, want uint32) error {
	switch {
	case strings.HasPrefix(name, "security."), strings.HasPrefix(name, "system."):
		return nil
	case strings.HasPrefix(name, "trusted."):
		if !c.HasCap(CapSysAdmin) {
			if want&mayWrite != 0 {
				return unix.EPERM
			}
			return unix.ENODATA
		}
		return nil
	case strings.HasPrefix(name, "user."):
		if st.Type() != unix.S_IFREG && !st.IsDir() {
			if want&mayWrite != 0 {
				return unix.EPERM
			}
			return unix.ENODATA
		}
		if st.IsDir() && st.Mode&unix.S_ISVTX != 0 && want&mayWrite != 0 && !ownerOrCapable(c, st) {
			return unix.EPERM
		}
	}
	return permission(c, st, want)
}

// securityXattrWrite is the capability module's inode_setxattr and
// inode_removexattr hooks: changing security.* takes CAP_SYS_ADMIN.
func securityXattrWrite(c *Creds, name string) error {
	if strings.HasPrefix(name, "security.") && !c.HasCap(CapSysAdmin) {
		return unix.EPERM
	}
	return nil
}

func checkXattrName(name string) error {
	if name == "" || len(name) > XattrNameMax {
		return unix.ERANGE
	}
	return nil
}

func (v *VFS) xattrLoc(ctx *Context, at Loc, path string, flags int) (Loc, error) {
	return v.resolve(ctx, at, path, resolveOpts{follow: flags&atSymlinkNofollow == 0, emptyPath: flags&atEmptyPath != 0})
}

// Getxattr is getxattr(2)/lgetxattr(2) (flags AT_SYMLINK_NOFOLLOW).
func (v *VFS) Getxattr(ctx *Context, at Loc, path string, flags int, name string) ([]byte, error) {
	if err := checkXattrName(name); err != nil {
		return nil, err
	}
	loc, err := v.xattrLoc(ctx, at, path, flags)
	if err != nil {
		return nil, err
	}
	loc.rlock()
	defer loc.runlock()
	st, err := loc.Dentry.Stat()
	if err != nil {
		return nil, err
	}
	if err := xattrPermission(ctx.Creds, &st, name, mayRead); err != nil {
		return nil, err
	}
	return loc.Dentry.Getxattr(name)
}

// Setxattr is setxattr(2) with XATTR_CREATE/XATTR_REPLACE flags in xflags.
func (v *VFS) Setxattr(ctx *Context, at Loc, path string, flags int, name string, value []byte, xflags int) error {
	if xflags&^(unix.XATTR_CREATE|unix.XATTR_REPLACE) != 0 {
		return unix.EINVAL
	}
	if err := checkXattrName(name); err != nil {
		return err
	}
	if len(value) > XattrSizeMax {
		return unix.E2BIG
	}
	return v.changeXattr(ctx, at, path, flags, name, func(d Dentry) error { return d.Setxattr(name, value, xflags) })
}

// Listxattr is listxattr(2): the names the caller may see.
func (v *VFS) Listxattr(ctx *Context, at Loc, path string, flags int) ([]string, error) {
	loc, err := v.xattrLoc(ctx, at, path, flags)
	if err != nil {
		return nil, err
	}
	loc.rlock()
	names, err := loc.Dentry.Listxattr()
	loc.runlock()
	if err != nil {
		return nil, err
	}
	if ctx.Creds.HasCap(CapSysAdmin) {
		return names, nil
	}
	out := names[:0]
	for _, n := range names {
		if !strings.HasPrefix(n, "trusted.") {
			out = append(out, n)
		}
	}
	return out, nil
}

// Removexattr is removexattr(2).
func (v *VFS) Removexattr(ctx *Context, at Loc, path string, flags int, name string) error {
	if err := checkXattrName(name); err != nil {
		return err
	}
	return v.changeXattr(ctx, at, path, flags, name, func(d Dentry) error { return d.Removexattr(name) })
}

// changeXattr resolves the file, checks that the caller may write the
// attribute name, applies change with the tree locked and updates ctime.
func (v *VFS) changeXattr(ctx *Context, at Loc, path string, flags int, name string, change func(Dentry) error) error {
	loc, err := v.xattrLoc(ctx, at, path, flags)
	if err != nil {
		return err
	}
	if loc.Mount.readOnly() {
		return unix.EROFS
	}
	loc.lock()
	defer loc.unlock()
	st, err := loc.Dentry.Stat()
	if err != nil {
		return err
	}
	if err := xattrPermission(ctx.Creds, &st, name, mayWrite); err != nil {
		return err
	}
	if err := securityXattrWrite(ctx.Creds, name); err != nil {
		return err
	}
	if err := change(loc.Dentry); err != nil {
		return err
	}
	return loc.Dentry.SetStat(&SetStat{Mask: SetCtime, Ctime: Now()})
}
