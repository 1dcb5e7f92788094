package fs

import "golang.org/x/sys/unix"

// Access modes for permission checks (MAY_*).
const (
	mayExec  = 1
	mayWrite = 2
	mayRead  = 4
)

// permission is Linux's generic_permission: the owner, group or other bits
// that apply to the caller, then the capabilities that override them.
func permission(c *Creds, st *Stat, want uint32) error {
	mode := st.Mode
	switch {
	case c.UID == st.UID:
		mode >>= 6
	case c.InGroup(st.GID):
		mode >>= 3
	}
	if want&^mode&7 == 0 {
		return nil
	}
	isDir := st.IsDir()
	if c.HasCap(CapDacOverride) {
		// Execute is granted only if some execute bit is set, except for
		// directories.
		if want&mayExec == 0 || isDir || st.Mode&0o111 != 0 {
			return nil
		}
	}
	if c.HasCap(CapDacReadSearch) {
		if want == mayRead || (isDir && want&mayWrite == 0) {
			return nil
		}
	}
	return unix.EACCES
}

// ownerOrCapable is inode_owner_or_capable: the caller owns the inode or
// has CAP_FOWNER.
func ownerOrCapable(c *Creds, st *Stat) bool {
	return c.UID == st.UID || c.HasCap(CapFowner)
}

// inGroupOrCapable is in_group_or_capable.
func inGroupOrCapable(c *Creds, gid uint32) bool {
	return c.InGroup(gid) || c.HasCap(CapFsetid)
}

// checkSticky reports whether the sticky bit of dir forbids the caller to
// remove or rename an entry for the inode st.
func checkSticky(c *Creds, dir, st *Stat) bool {
	if dir.Mode&unix.S_ISVTX == 0 || c.UID == st.UID || c.UID == dir.UID {
		return false
	}
	return !c.HasCap(CapFowner)
}

// mayDelete is may_delete: may the caller remove victim from dir? isDir
// says whether a directory is expected.
func mayDelete(c *Creds, dir, victim *Stat, isDir bool) error {
	if err := permission(c, dir, mayWrite|mayExec); err != nil {
		return err
	}
	if checkSticky(c, dir, victim) {
		return unix.EPERM
	}
	if isDir && !victim.IsDir() {
		return unix.ENOTDIR
	}
	if !isDir && victim.IsDir() {
		return unix.EISDIR
	}
	return nil
}

// killPrivs is should_remove_suid: the set-id bits a write, truncate or
// chown removes from a regular file when the caller lacks CAP_FSETID.
func killPrivs(c *Creds, st *Stat) uint32 {
	if st.Type() != unix.S_IFREG || c.HasCap(CapFsetid) {
		return 0
	}
	var kill uint32
	if st.Mode&unix.S_ISUID != 0 {
		kill |= unix.S_ISUID
	}
	kill |= dropSgid(c, st)
	return kill
}

// dropSgid is setattr_should_drop_sgid: S_ISGID with group execute is a
// set-group-ID program and goes; without group execute it marks mandatory
// locking and stays unless the caller is outside the group.
func dropSgid(c *Creds, st *Stat) uint32 {
	if st.Mode&unix.S_ISGID == 0 {
		return 0
	}
	if st.Mode&unix.S_IXGRP != 0 || !inGroupOrCapable(c, st.GID) {
		return unix.S_ISGID
	}
	return 0
}
