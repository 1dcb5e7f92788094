package fs

import "golang.org/x/sys/unix"

// Capability numbers the VFS checks (linux/capability.h).
const (
	CapChown          = unix.CAP_CHOWN
	CapDacOverride    = unix.CAP_DAC_OVERRIDE
	CapDacReadSearch  = unix.CAP_DAC_READ_SEARCH
	CapFowner         = unix.CAP_FOWNER
	CapFsetid         = unix.CAP_FSETID
	CapMknod          = unix.CAP_MKNOD
	CapSysAdmin       = unix.CAP_SYS_ADMIN
	CapLinuxImmutable = unix.CAP_LINUX_IMMUTABLE
)

// Creds are the credentials a file system operation runs with: the caller's
// fsuid/fsgid, supplementary groups and effective capabilities.
type Creds struct {
	UID    uint32
	GID    uint32
	Groups []uint32
	Caps   uint64 // bit n set = capability n is effective
}

// Root returns the credentials of uid 0 with every capability.
func Root() *Creds { return &Creds{Caps: ^uint64(0)} }

// User returns credentials of an unprivileged user.
func User(uid, gid uint32, groups ...uint32) *Creds {
	return &Creds{UID: uid, GID: gid, Groups: groups}
}

// HasCap reports whether capability c is effective.
func (c *Creds) HasCap(cap int) bool { return c.Caps&(1<<uint(cap)) != 0 }

// InGroup reports whether gid is the caller's fsgid or a supplementary group.
func (c *Creds) InGroup(gid uint32) bool {
	if c.GID == gid {
		return true
	}
	for _, g := range c.Groups {
		if g == gid {
			return true
		}
	}
	return false
}
