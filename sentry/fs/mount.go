package fs

import (
	"fmt"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Mount flags the VFS honours (a subset of MS_*).
const (
	MountReadOnly = unix.MS_RDONLY
	MountNoSuid   = unix.MS_NOSUID
	MountNoDev    = unix.MS_NODEV
	MountNoExec   = unix.MS_NOEXEC
	MountNoAtime  = unix.MS_NOATIME
	mountFlagMask = MountReadOnly | MountNoSuid | MountNoDev | MountNoExec | MountNoAtime
)

// fsState is the VFS's per-file-system bookkeeping, shared by every mount of
// one Filesystem.
type fsState struct {
	// mu serialises changes to the file system's tree (see the package doc).
	mu sync.RWMutex
	// renameMu makes a rename's loop check and the move one atomic step
	// with respect to other renames (Linux's s_vfs_rename_mutex).
	renameMu sync.Mutex
	mounts   int
}

// Mount is a file system attached to the namespace at a mount point.
type Mount struct {
	vfs    *VFS
	fs     Filesystem
	root   Dentry
	st     *fsState
	id     int
	source string
	// refs counts what keeps the mount busy: open file descriptions and
	// the kernel's holders (cwd, root); a plain umount then fails.
	refs atomic.Int64

	// Protected by VFS.mountMu.
	parent   *Mount
	point    Dentry // in parent
	flags    uint32
	children int
	detached bool
}

// IncRef marks the mount busy for as long as something (a task's cwd or
// root) stands in it; DecRef undoes it.
func (m *Mount) IncRef() { m.refs.Add(1) }

// DecRef undoes IncRef.
func (m *Mount) DecRef() { m.refs.Add(-1) }

// Filesystem returns the mounted file system.
func (m *Mount) Filesystem() Filesystem { return m.fs }

// Root returns the location of the mount's root.
func (m *Mount) Root() Loc { return Loc{m, m.root} }

// Flags returns the mount's MS_* flags.
func (m *Mount) Flags() uint32 {
	m.vfs.mountMu.RLock()
	defer m.vfs.mountMu.RUnlock()
	return m.flags
}

func (m *Mount) readOnly() bool { return m.Flags()&MountReadOnly != 0 }

type mountKey struct {
	m *Mount
	d Dentry
}

// VFS is one mount namespace.
type VFS struct {
	mountMu sync.RWMutex
	// mounts maps a mount point to the mount on top of it.
	mounts map[mountKey]*Mount
	states map[Filesystem]*fsState
	all    []*Mount // in mount order, for /proc/mounts
	root   *Mount
	nextID int

	protected atomic.Pointer[Protected]
}

// New makes a namespace whose root is fs mounted with flags.
func New(root Filesystem, flags uint32, source string) *VFS {
	v := &VFS{mounts: map[mountKey]*Mount{}, states: map[Filesystem]*fsState{}}
	v.mountMu.Lock()
	v.root = v.newMountLocked(root, root.Root(), flags, source)
	v.mountMu.Unlock()
	return v
}

// Root returns the namespace's root directory.
func (v *VFS) Root() Loc { return v.root.Root() }

func (v *VFS) newMountLocked(f Filesystem, root Dentry, flags uint32, source string) *Mount {
	st := v.states[f]
	if st == nil {
		st = &fsState{}
		v.states[f] = st
	}
	st.mounts++
	v.nextID++
	m := &Mount{vfs: v, fs: f, root: root, st: st, id: v.nextID, flags: flags & mountFlagMask, source: source}
	v.all = append(v.all, m)
	return m
}

// mountedAt returns the mount on top of (m, d), or nil.
func (v *VFS) mountedAt(m *Mount, d Dentry) *Mount {
	v.mountMu.RLock()
	top := v.mounts[mountKey{m, d}]
	v.mountMu.RUnlock()
	return top
}

// Mount attaches f at path. flags are MS_* mount flags. The caller needs
// CAP_SYS_ADMIN.
func (v *VFS) Mount(ctx *Context, at Loc, path string, f Filesystem, flags uint32, source string) (*Mount, error) {
	return v.mount(ctx, at, path, f, f.Root(), flags, source)
}

// BindMount attaches the tree at src (a mount's view of a directory or file)
// at path, like mount --bind.
func (v *VFS) BindMount(ctx *Context, src Loc, at Loc, path string, flags uint32) (*Mount, error) {
	return v.mount(ctx, at, path, src.Mount.fs, src.Dentry, flags, src.Mount.source)
}

func (v *VFS) mount(ctx *Context, at Loc, path string, f Filesystem, root Dentry, flags uint32, source string) (*Mount, error) {
	if !ctx.Creds.HasCap(CapSysAdmin) {
		return nil, unix.EPERM
	}
	target, err := v.resolve(ctx, at, path, resolveOpts{follow: true})
	if err != nil {
		return nil, fmt.Errorf("mount %q: %w", path, err)
	}
	tst, err := v.stat(target)
	if err != nil {
		return nil, err
	}
	rst, err := root.Stat()
	if err != nil {
		return nil, err
	}
	if tst.IsDir() != rst.IsDir() {
		return nil, fmt.Errorf("mount %q: %w", path, unix.ENOTDIR)
	}
	v.mountMu.Lock()
	defer v.mountMu.Unlock()
	if target.Mount.detached {
		return nil, unix.ENOENT
	}
	m := v.newMountLocked(f, root, flags, source)
	m.parent, m.point = target.Mount, target.Dentry
	target.Mount.children++
	v.mounts[mountKey{target.Mount, target.Dentry}] = m
	return m, nil
}

// Umount detaches the mount whose root is at path. flags may hold
// MNT_DETACH (lazy: the mount and everything under it go at once) and
// UMOUNT_NOFOLLOW.
func (v *VFS) Umount(ctx *Context, at Loc, path string, flags int) error {
	if !ctx.Creds.HasCap(CapSysAdmin) {
		return unix.EPERM
	}
	if flags&^(unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW|unix.MNT_FORCE) != 0 {
		return unix.EINVAL
	}
	loc, err := v.resolve(ctx, at, path, resolveOpts{follow: flags&unix.UMOUNT_NOFOLLOW == 0})
	if err != nil {
		return err
	}
	m := loc.Mount
	if loc.Dentry != m.root {
		return unix.EINVAL
	}
	v.mountMu.Lock()
	defer v.mountMu.Unlock()
	if m.parent == nil {
		return unix.EINVAL
	}
	if m == ctx.Root.Mount {
		return unix.EBUSY
	}
	if flags&unix.MNT_DETACH == 0 && (m.children > 0 || m.refs.Load() > 0) {
		return unix.EBUSY
	}
	v.detachLocked(m)
	return nil
}

// detachLocked removes m and every mount under it from the namespace. Walks
// already inside them keep working, as after a lazy umount in Linux.
func (v *VFS) detachLocked(m *Mount) {
	for _, c := range v.all {
		if c.parent == m && !c.detached {
			v.detachLocked(c)
		}
	}
	delete(v.mounts, mountKey{m.parent, m.point})
	m.parent.children--
	m.detached = true
	m.st.mounts--
	if m.st.mounts == 0 {
		delete(v.states, m.fs)
	}
	for i, c := range v.all {
		if c == m {
			v.all = append(v.all[:i], v.all[i+1:]...)
			break
		}
	}
}

// SetMountFlags changes the flags of the mount whose root is at loc
// (mount -o remount,bind).
func (v *VFS) SetMountFlags(ctx *Context, loc Loc, flags uint32) error {
	if !ctx.Creds.HasCap(CapSysAdmin) {
		return unix.EPERM
	}
	if loc.Dentry != loc.Mount.root {
		return unix.EINVAL
	}
	v.mountMu.Lock()
	loc.Mount.flags = flags & mountFlagMask
	v.mountMu.Unlock()
	return nil
}

// MountInfo describes one mount for /proc/self/mounts and mountinfo.
type MountInfo struct {
	ID, ParentID int
	Source       string
	Type         string
	Flags        uint32
	Mount        *Mount
}

// Mounts lists the namespace's mounts in mount order.
func (v *VFS) Mounts() []MountInfo {
	v.mountMu.RLock()
	defer v.mountMu.RUnlock()
	out := make([]MountInfo, 0, len(v.all))
	for _, m := range v.all {
		pid := m.id
		if m.parent != nil {
			pid = m.parent.id
		}
		out = append(out, MountInfo{ID: m.id, ParentID: pid, Source: m.source, Type: m.fs.Type(), Flags: m.flags, Mount: m})
	}
	return out
}
