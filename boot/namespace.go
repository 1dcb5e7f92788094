package boot

import (
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
	"runsc.dev/runsc/sentry/fs/devpts"
	"runsc.dev/runsc/sentry/fs/overlay"
	"runsc.dev/runsc/sentry/fs/proc"
	"runsc.dev/runsc/sentry/fs/ramfs"
	"runsc.dev/runsc/sentry/fs/sys"
	"runsc.dev/runsc/sentry/fs/tmpfs"
)

// Namespace says how to build a sandbox's mount namespace (seed 003's
// design): the container's root tree from the gofer, overlaid on a ramfs
// of stubs for every mount point, with a tmpfs upper unless the root is
// read-only or the overlay is off; then /dev, /proc, /sys and /tmp; then
// the spec's mounts in order.
type Namespace struct {
	Root         fs.Filesystem
	RootReadOnly bool
	// Overlay puts a tmpfs upper over the root, so writes stay in the
	// sandbox (the default). Without it, writes reach the host tree.
	Overlay bool
	Mounts  []specs.Mount
	// Bind returns the file system of a bind mount's source, and the
	// dentry in it to mount (nil: its root).
	Bind func(m specs.Mount) (fs.Filesystem, fs.Dentry, error)
	// IgnoreUnsupported turns unsupported mounts into warnings.
	IgnoreUnsupported bool
	Warn              func(format string, args ...any)
	// MaskedPaths are hidden (an empty read-only tmpfs over a directory,
	// /dev/null over anything else) and ReadonlyPaths made read-only, as
	// runc does for linux.maskedPaths and linux.readonlyPaths; missing
	// ones are skipped.
	MaskedPaths, ReadonlyPaths []string
	// OwnUTS: the sentry runs in the sandbox's own UTS namespace, whose
	// host name /proc/sys/kernel/hostname shows.
	OwnUTS bool

	// Pts is the /dev/pts Build mounted, where a container's console is
	// made; nil without one.
	Pts *devpts.FS
}

// Mount types and the options the builder honours.
var (
	flagOptions = map[string]uint32{
		"ro": fs.MountReadOnly, "nosuid": fs.MountNoSuid, "nodev": fs.MountNoDev,
		"noexec": fs.MountNoExec, "noatime": fs.MountNoAtime,
	}
	// ignoredOptions change nothing in a sandbox: propagation (there is
	// one namespace), atime variants and the defaults.
	ignoredOptions = map[string]bool{
		"rw": true, "suid": true, "dev": true, "exec": true, "atime": true, "relatime": true,
		"norelatime": true, "strictatime": true, "nodiratime": true, "private": true, "rprivate": true,
		"shared": true, "rshared": true, "slave": true, "rslave": true, "unbindable": true,
		"runbindable": true, "bind": true, "rbind": true, "defaults": true,
	}
	// pending are mount types whose synthetic file systems do not exist yet:
	// an empty read-only directory is mounted so nothing of the host shows.
	pending = map[string]bool{"proc": true, "sysfs": true, "devpts": true, "mqueue": true}
)

// isBind reports whether m is a bind mount.
func isBind(m specs.Mount) bool {
	if m.Type == "bind" {
		return true
	}
	for _, o := range m.Options {
		if o == "bind" || o == "rbind" {
			return true
		}
	}
	return false
}

// Build makes the namespace.
func (n *Namespace) Build() (*fs.VFS, error) {
	if n.Warn == nil {
		n.Warn = func(string, ...any) {}
	}
	mounts := n.Mounts
	have := map[string]bool{}
	dirs := []string{"/dev", "/proc", "/sys", "/tmp"}
	var files []string
	// Each bind mount takes the next gofer connection: ask once, in order.
	binds := make([]boundTree, len(mounts))
	for i, m := range mounts {
		dst := path.Clean("/" + m.Destination)
		have[dst] = true
		if isBind(m) && n.Bind != nil {
			b, err := n.bind(m)
			if err != nil {
				return nil, err
			}
			binds[i] = b
			if b.isFile {
				files = append(files, dst)
				continue
			}
		}
		dirs = append(dirs, dst)
	}
	stubs, err := newStubs(dirs, files)
	if err != nil {
		return nil, err
	}
	var lowers []overlay.Layer
	if n.Root != nil {
		lowers = append(lowers, overlay.Layer{FS: n.Root})
	}
	lowers = append(lowers, overlay.Layer{FS: stubs})
	var rootFS fs.Filesystem
	var rootFlags uint32
	switch {
	case n.RootReadOnly:
		rootFS, err = overlay.New(overlay.Options{Lowers: lowers})
		rootFlags = fs.MountReadOnly
	case n.Overlay || n.Root == nil:
		var upper *ramfs.FS
		if upper, err = newTmpfs(tmpfs.Options{Mode: 0o755}); err == nil {
			rootFS, err = overlay.New(overlay.Options{Upper: upper, Lowers: lowers})
		}
	default:
		rootFS = n.Root
	}
	if err != nil {
		return nil, fmt.Errorf("root overlay: %w", err)
	}
	v := fs.New(rootFS, rootFlags, "rootfs")
	ctx := &fs.Context{Creds: fs.Root(), Root: v.Root()}
	if rootFS == n.Root {
		// Writes go to the host tree: make the mount points there, as runc
		// does.
		for _, d := range dirs {
			if err := mkdirAll(v, ctx, d); err != nil {
				return nil, fmt.Errorf("mount point %q: %w", d, err)
			}
		}
	}
	if !have["/dev"] {
		if err := mountDev(v, ctx, "/dev", nil); err != nil {
			return nil, err
		}
	}
	for _, p := range []string{"/proc", "/sys"} {
		if !have[p] {
			if err := n.mountSynthetic(v, ctx, map[string]string{"/proc": "proc", "/sys": "sysfs"}[p], p, below(p, mounts)); err != nil {
				return nil, err
			}
		}
	}
	if !have["/tmp"] {
		t, err := newTmpfs(tmpfs.Options{})
		if err != nil {
			return nil, fmt.Errorf("mount /tmp: %w", err)
		}
		if _, err := v.Mount(ctx, v.Root(), "/tmp", t, 0, "tmpfs"); err != nil {
			return nil, fmt.Errorf("mount /tmp: %w", err)
		}
		for _, d := range below("/tmp", mounts) {
			if err := mkdirAll(v, ctx, "/tmp"+d); err != nil {
				return nil, fmt.Errorf("mount point %q: %w", "/tmp"+d, err)
			}
		}
	}
	for i, m := range mounts {
		if err := n.mountOne(v, ctx, m, binds[i], below(m.Destination, mounts[i+1:])); err != nil {
			if !n.IgnoreUnsupported || !isUnsupported(err) {
				return nil, err
			}
			n.Warn("ignoring mount %q: %v", m.Destination, err)
		}
	}
	if !have["/dev/pts"] {
		// Programs that make their own ptys (script, ssh, tmux) expect
		// one, as runc's /dev has.
		if err := n.mountDevpts(v, ctx, "/dev/pts", 0, nil, nil); err != nil {
			n.Warn("no /dev/pts: %v", err)
		}
	}
	if !have["/sys/fs/cgroup"] {
		if err := mountCgroup(v, ctx, "/sys/fs/cgroup", "cgroup"); err != nil {
			n.Warn("no /sys/fs/cgroup: %v", err)
		}
	}
	if err := n.protectPaths(v, ctx); err != nil {
		return nil, err
	}
	return v, nil
}

// protectPaths applies MaskedPaths and ReadonlyPaths, read-only first as
// runc does.
func (n *Namespace) protectPaths(v *fs.VFS, ctx *fs.Context) error {
	for _, p := range n.ReadonlyPaths {
		loc, err := v.Lookup(ctx, v.Root(), p, 0)
		if err == unix.ENOENT {
			continue
		}
		if err == nil {
			_, err = v.BindMount(ctx, loc, v.Root(), p, loc.Mount.Flags()|fs.MountReadOnly)
		}
		if err != nil {
			return fmt.Errorf("linux.readonlyPaths %q: %w", p, err)
		}
	}
	for _, p := range n.MaskedPaths {
		st, err := v.Stat(ctx, v.Root(), p, 0)
		if err == unix.ENOENT {
			continue
		}
		if err == nil {
			if st.IsDir() {
				_, err = v.Mount(ctx, v.Root(), p, tmpfs.New(tmpfs.Options{Mode: 0o755}), fs.MountReadOnly, "tmpfs")
			} else {
				var null fs.Loc
				if null, err = v.Lookup(ctx, v.Root(), "/dev/null", 0); err == nil {
					_, err = v.BindMount(ctx, null, v.Root(), p, 0)
				}
			}
		}
		if err != nil {
			return fmt.Errorf("linux.maskedPaths %q: %w", p, err)
		}
	}
	return nil
}

// errUnsupported marks mounts this sandbox cannot make.
type errUnsupported struct{ msg string }

func (e *errUnsupported) Error() string { return e.msg }

func isUnsupported(err error) bool {
	_, ok := err.(*errUnsupported)
	return ok
}

// splitOptions separates mount flags from file system data.
func splitOptions(opts []string) (uint32, []string, error) {
	var flags uint32
	var data []string
	for _, o := range opts {
		if f, ok := flagOptions[o]; ok {
			flags |= f
			continue
		}
		if ignoredOptions[o] {
			continue
		}
		data = append(data, o)
	}
	return flags, data, nil
}

// below returns the destinations of mounts nested under dst, relative to it:
// they must exist in what is mounted at dst.
func below(dst string, mounts []specs.Mount) []string {
	dst = path.Clean("/" + dst)
	var out []string
	for _, m := range mounts {
		d := path.Clean("/" + m.Destination)
		if rel, ok := strings.CutPrefix(d, dst+"/"); ok && dst != "/" {
			out = append(out, "/"+rel)
		}
	}
	return out
}

func (n *Namespace) mountOne(v *fs.VFS, ctx *fs.Context, m specs.Mount, b boundTree, nested []string) error {
	if err := n.mountFS(v, ctx, m, b, nested); err != nil {
		return err
	}
	// Make the mount points of nested mounts that the new file system
	// lacks (a tmpfs, a writable bind), as runc does.
	dst := path.Clean("/" + m.Destination)
	for _, d := range nested {
		if err := mkdirAll(v, ctx, dst+d); err != nil {
			return fmt.Errorf("mount point %q: %w", dst+d, err)
		}
	}
	return nil
}

func (n *Namespace) mountFS(v *fs.VFS, ctx *fs.Context, m specs.Mount, b boundTree, nested []string) error {
	dst := path.Clean("/" + m.Destination)
	flags, data, err := splitOptions(m.Options)
	if err != nil {
		return err
	}
	switch {
	case isBind(m):
		if n.Bind == nil {
			return &errUnsupported{fmt.Sprintf("bind mount %q: no gofer for bind mounts", dst)}
		}
		if len(data) > 0 {
			return &errUnsupported{fmt.Sprintf("bind mount %q: unsupported options %q", dst, data)}
		}
		f, root := b.fs, b.root
		if flags&fs.MountReadOnly != 0 && len(nested) > 0 && !b.isFile {
			// Mount points inside a read-only tree cannot be made: lay
			// the tree over stubs for them (seed 003's submount overlay).
			stubs, err := ramfs.NewStubs(nested)
			if err != nil {
				return err
			}
			o, err := overlay.New(overlay.Options{Lowers: []overlay.Layer{{FS: b.fs}, {FS: stubs}}})
			if err != nil {
				return fmt.Errorf("bind mount %q: %w", dst, err)
			}
			f, root = o, o.Root()
		}
		if _, err := v.MountSubtree(ctx, v.Root(), dst, f, root, flags, m.Source); err != nil {
			return fmt.Errorf("bind mount %q: %w", dst, err)
		}
	case m.Type == "tmpfs":
		o, err := tmpfs.Parse(strings.Join(data, ","))
		if err != nil {
			return fmt.Errorf("tmpfs mount %q: %w", dst, err)
		}
		if dst == "/dev" {
			return mountDev(v, ctx, dst, &o)
		}
		t, err := newTmpfs(o)
		if err != nil {
			return fmt.Errorf("tmpfs mount %q: %w", dst, err)
		}
		if _, err := v.Mount(ctx, v.Root(), dst, t, flags, source(m, "tmpfs")); err != nil {
			return fmt.Errorf("tmpfs mount %q: %w", dst, err)
		}
	case m.Type == "proc" || m.Type == "sysfs":
		return n.mountSynthetic(v, ctx, m.Type, dst, nested)
	case m.Type == "devpts":
		return n.mountDevpts(v, ctx, dst, flags, data, nested)
	case m.Type == "cgroup" || m.Type == "cgroup2":
		return mountCgroup(v, ctx, dst, source(m, "cgroup"))
	case pending[m.Type]:
		return mountPending(v, ctx, dst, nested)
	default:
		return &errUnsupported{fmt.Sprintf("mount %q: unsupported type %q (supported: bind, tmpfs, proc, sysfs, devpts, mqueue, cgroup)", dst, m.Type)}
	}
	return nil
}

// mountCgroup mounts the read-only cgroup v2 view of the sandbox's own
// cgroup (sys.NewCgroup) at dst.
func mountCgroup(v *fs.VFS, ctx *fs.Context, dst, source string) error {
	flags := uint32(fs.MountReadOnly | fs.MountNoSuid | fs.MountNoDev | fs.MountNoExec)
	if _, err := v.Mount(ctx, v.Root(), dst, sys.NewCgroup(), flags, source); err != nil {
		return fmt.Errorf("mount %q: %w", dst, err)
	}
	return nil
}

// mountPending covers a mount point whose file system is not built yet
// with an empty read-only directory, so the host's tree never shows there.
func mountPending(v *fs.VFS, ctx *fs.Context, dst string, nested []string) error {
	stubs, err := ramfs.NewStubs(nested)
	if err != nil {
		return err
	}
	_, err = v.Mount(ctx, v.Root(), dst, stubs, fs.MountReadOnly|fs.MountNoSuid|fs.MountNoDev|fs.MountNoExec, "none")
	if err != nil {
		return fmt.Errorf("mount %q: %w", dst, err)
	}
	return nil
}

// mountSynthetic mounts the sentry's /proc (typ "proc") or /sys ("sysfs")
// at dst, with directories for the nested mount points.
func (n *Namespace) mountSynthetic(v *fs.VFS, ctx *fs.Context, typ, dst string, nested []string) error {
	var f fs.Filesystem
	flags := uint32(fs.MountNoSuid | fs.MountNoDev | fs.MountNoExec)
	if typ == "sysfs" {
		f, flags = sys.New(nested), flags|fs.MountReadOnly
	} else {
		f = proc.New(proc.Options{MountPoints: nested, OwnUTS: n.OwnUTS})
	}
	if _, err := v.Mount(ctx, v.Root(), dst, f, flags, typ); err != nil {
		return fmt.Errorf("mount %q: %w", dst, err)
	}
	return nil
}

// mountDevpts mounts the sentry's /dev/pts (over a private host devpts
// instance; see sentry/fs/devpts); without the privilege to make one, an
// empty directory.
func (n *Namespace) mountDevpts(v *fs.VFS, ctx *fs.Context, dst string, flags uint32, data, nested []string) error {
	gid := uint32(5) // tty
	for _, o := range data {
		if g, ok := strings.CutPrefix(o, "gid="); ok {
			if id, err := strconv.ParseUint(g, 10, 32); err == nil {
				gid = uint32(id)
			}
		}
	}
	p, err := devpts.New(gid)
	if err != nil {
		n.Warn("devpts at %q: %v; no ptys", dst, err)
		return mountPending(v, ctx, dst, nested)
	}
	if _, err := v.Mount(ctx, v.Root(), dst, p, flags|fs.MountNoSuid|fs.MountNoExec, "devpts"); err != nil {
		p.Close()
		return fmt.Errorf("mount %q: %w", dst, err)
	}
	n.Pts = p
	return nil
}

// devices are the nodes of /dev, as runc creates them.
var devices = []struct {
	name         string
	major, minor uint32
}{
	{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
}

// mountDev mounts a tmpfs at dst holding the standard devices, the
// /proc/self/fd links and the pts and shm directories.
func mountDev(v *fs.VFS, ctx *fs.Context, dst string, o *tmpfs.Options) error {
	if o == nil {
		o = &tmpfs.Options{Mode: 0o755, SizeBytes: 64 << 10}
	}
	t, err := newTmpfs(*o)
	if err != nil {
		return fmt.Errorf("mount %q: %w", dst, err)
	}
	m, err := v.Mount(ctx, v.Root(), dst, t, fs.MountNoSuid, "tmpfs")
	if err != nil {
		return fmt.Errorf("mount %q: %w", dst, err)
	}
	dev := m.Root()
	for _, d := range devices {
		if err := v.Mknod(ctx, dev, d.name, unix.S_IFCHR|0o666, unix.Mkdev(d.major, d.minor)); err != nil {
			return fmt.Errorf("mknod /dev/%s: %w", d.name, err)
		}
	}
	for name, target := range map[string]string{
		"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2",
		"ptmx": "pts/ptmx",
	} {
		if err := v.Symlink(ctx, target, dev, name); err != nil {
			return fmt.Errorf("symlink /dev/%s: %w", name, err)
		}
	}
	for _, d := range []string{"pts", "shm", "mqueue"} {
		if err := v.Mkdir(ctx, dev, d, 0o755); err != nil {
			return fmt.Errorf("mkdir /dev/%s: %w", d, err)
		}
	}
	return v.Chmod(ctx, dev, "shm", 0o1777, 0)
}

// newStubs builds the ramfs of mount-point stubs: directories, and empty
// files where a single file is bind-mounted.
func newStubs(dirs, files []string) (*ramfs.FS, error) {
	parents := append([]string(nil), dirs...)
	for _, f := range files {
		parents = append(parents, path.Dir(f))
	}
	sort.Strings(parents)
	stubs, err := ramfs.NewStubs(parents)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return stubs, nil
	}
	v := fs.New(stubs, 0, "stubs")
	ctx := &fs.Context{Creds: fs.Root(), Root: v.Root()}
	for _, f := range files {
		fd, err := v.Open(ctx, v.Root(), f, fs.OpenHow{Flags: unix.O_CREAT | unix.O_WRONLY, Mode: 0o644})
		if err != nil {
			return nil, fmt.Errorf("mount point stub %q: %w", f, err)
		}
		fd.Close()
	}
	return stubs, nil
}

// boundTree is what a bind mount attaches.
type boundTree struct {
	fs     fs.Filesystem
	root   fs.Dentry
	isFile bool
}

func (n *Namespace) bind(m specs.Mount) (boundTree, error) {
	f, root, err := n.Bind(m)
	if err != nil {
		return boundTree{}, fmt.Errorf("bind mount %q from %q: %w", m.Destination, m.Source, err)
	}
	if root == nil {
		root = f.Root()
	}
	st, err := root.Stat()
	if err != nil {
		return boundTree{}, fmt.Errorf("bind mount %q from %q: %w", m.Destination, m.Source, err)
	}
	return boundTree{fs: f, root: root, isFile: !st.IsDir()}, nil
}

func mkdirAll(v *fs.VFS, ctx *fs.Context, p string) error {
	cur := ""
	for _, c := range strings.Split(strings.Trim(p, "/"), "/") {
		if c == "" {
			continue
		}
		cur += "/" + c
		err := v.Mkdir(ctx, v.Root(), cur, 0o755)
		if err == unix.EROFS {
			// A read-only mount: fine if the directory is there.
			if st, serr := v.Stat(ctx, v.Root(), cur, 0); serr == nil && st.IsDir() {
				continue
			}
		}
		if err != nil && err != unix.EEXIST {
			return err
		}
	}
	return nil
}

// newTmpfs makes a tmpfs whose file data lives in a host tmpfs of the same
// size and inode limits (see ramfs.Options.DataDir): the program's native
// writes meet the size limit, and files nobody has open hold no fd of the
// sentry (but for ramfs.MaxIdle), whose fd limit would otherwise cap the
// number of files.
func newTmpfs(o tmpfs.Options) (*ramfs.FS, error) {
	var opts []string
	switch {
	case o.UnlimitedSize:
		opts = append(opts, "size=0")
	case o.SizeBytes > 0:
		opts = append(opts, fmt.Sprintf("size=%d", o.SizeBytes))
	}
	if o.UnlimitedInodes {
		opts = append(opts, "nr_inodes=0")
	}
	dir, err := tmpfs.HostDir(opts, false)
	if err != nil {
		return nil, err
	}
	o.DataDir = dir
	return tmpfs.New(o), nil
}

// source is what /proc/mounts shows as a mount's source: the spec's, or
// def (Linux shows "shm" for Docker's /dev/shm, for example).
func source(m specs.Mount, def string) string {
	if m.Source != "" {
		return m.Source
	}
	return def
}
