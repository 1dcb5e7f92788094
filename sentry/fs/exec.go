package fs

import "golang.org/x/sys/unix"

// OpenExec opens the program an execve(2) names, with exec's checks
// instead of open's: a regular file on a mount without noexec, that the
// caller may execute. Read permission is not needed (Linux's open_exec).
// flags are execveat's AT_SYMLINK_NOFOLLOW and AT_EMPTY_PATH.
func (v *VFS) OpenExec(ctx *Context, at Loc, path string, flags int) (*FileDescription, error) {
	if flags&^(atSymlinkNofollow|atEmptyPath) != 0 {
		return nil, unix.EINVAL
	}
	loc, err := v.resolve(ctx, at, path, resolveOpts{follow: flags&atSymlinkNofollow == 0, emptyPath: flags&atEmptyPath != 0})
	if err != nil {
		return nil, err
	}
	st, err := v.stat(loc)
	if err != nil {
		return nil, err
	}
	if st.Type() == unix.S_IFLNK {
		return nil, unix.ELOOP
	}
	if st.Type() != unix.S_IFREG || loc.Mount.Flags()&MountNoExec != 0 {
		return nil, unix.EACCES
	}
	if err := permission(ctx.Creds, &st, mayExec); err != nil {
		return nil, err
	}
	fd := &FileDescription{vfs: v, loc: loc, flags: unix.O_RDONLY, creds: ctx.Creds}
	loc.rlock()
	fd.impl, err = loc.Dentry.Open(unix.O_RDONLY)
	loc.runlock()
	if err != nil {
		return nil, err
	}
	return fd, nil
}
