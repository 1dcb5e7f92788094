package boot

import (
	"errors"
	"sort"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
	"runsc.dev/runsc/sentry/fs/ramfs"
	"runsc.dev/runsc/sentry/fs/tmpfs"
)

// rootWith makes a read-only-looking container root holding dirs.
func rootWith(t *testing.T, dirs ...string) fs.Filesystem {
	t.Helper()
	r, err := ramfs.NewStubs(dirs)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func build(t *testing.T, n *Namespace) (*fs.VFS, *fs.Context) {
	t.Helper()
	v, err := n.Build()
	if err != nil {
		t.Fatal(err)
	}
	return v, &fs.Context{Creds: fs.Root(), Root: v.Root()}
}

func ls(t *testing.T, v *fs.VFS, ctx *fs.Context, path string) string {
	t.Helper()
	d, err := v.Open(ctx, v.Root(), path, fs.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer d.Close()
	var names []string
	d.Getdents(func(e fs.DirEntry) bool {
		if e.Name != "." && e.Name != ".." {
			names = append(names, e.Name)
		}
		return true
	})
	sort.Strings(names)
	return strings.Join(names, " ")
}

func mountTypes(v *fs.VFS) map[string]string {
	out := map[string]string{}
	for _, m := range v.Mounts() {
		out[v.PathOf(v.Root(), m.Mount.Root())] = m.Type
	}
	return out
}

func TestNamespaceMandatoryMounts(t *testing.T) {
	v, ctx := build(t, &Namespace{Root: rootWith(t, "/bin", "/etc"), Overlay: true})
	if got := ls(t, v, ctx, "/"); got != "bin dev etc proc sys tmp" {
		t.Errorf("/ = %q", got)
	}
	types := mountTypes(v)
	for p, want := range map[string]string{"/": "overlay", "/dev": "tmpfs", "/proc": "proc", "/sys": "sysfs", "/tmp": "tmpfs"} {
		if types[p] != want {
			t.Errorf("mount at %s: %q, want %q (all: %v)", p, types[p], want, types)
		}
	}
	if got := ls(t, v, ctx, "/dev"); got != "fd full mqueue null ptmx pts random shm stderr stdin stdout tty urandom zero" {
		t.Errorf("/dev = %q", got)
	}
	st, err := v.Stat(ctx, v.Root(), "/dev/null", 0)
	if err != nil || st.Rdev != unix.Mkdev(1, 3) || st.Type() != unix.S_IFCHR {
		t.Errorf("/dev/null: %+v %v", st, err)
	}
	// The overlay's upper takes writes; the stubs stay invisible.
	if err := v.Mkdir(ctx, v.Root(), "/new", 0o755); err != nil {
		t.Errorf("mkdir in the root: %v", err)
	}
}

func TestNamespaceReadOnlyRoot(t *testing.T) {
	v, ctx := build(t, &Namespace{Root: rootWith(t, "/etc"), RootReadOnly: true, Overlay: true})
	if err := v.Mkdir(ctx, v.Root(), "/new", 0o755); !errors.Is(err, unix.EROFS) {
		t.Errorf("mkdir in a read-only root: %v, want EROFS", err)
	}
	// Mounts on a read-only root still work: their points are stubs.
	if err := v.Mkdir(ctx, v.Root(), "/tmp/x", 0o755); err != nil {
		t.Errorf("mkdir in /tmp: %v", err)
	}
}

func TestNamespaceSpecMounts(t *testing.T) {
	binds := 0
	data := tmpfs.New(tmpfs.Options{})
	n := &Namespace{
		Root: rootWith(t, "/etc"), Overlay: true,
		Mounts: []specs.Mount{
			{Destination: "/data", Type: "bind", Source: "/host", Options: []string{"rbind", "ro"}},
			{Destination: "/data/cache/deep", Type: "tmpfs", Options: []string{"size=1m", "mode=700", "nosuid"}},
			{Destination: "/run", Type: "tmpfs", Options: []string{"noexec", "uid=1000", "gid=1000"}},
			{Destination: "/sys/fs/cgroup", Type: "cgroup", Options: []string{"ro"}},
		},
		Bind: func(m specs.Mount) (fs.Filesystem, fs.Dentry, error) {
			binds++
			return data, nil, nil
		},
	}
	v, ctx := build(t, n)
	if binds != 1 {
		t.Errorf("bind sources asked %d times, want 1", binds)
	}
	if err := v.Mkdir(ctx, v.Root(), "/data/x", 0o755); !errors.Is(err, unix.EROFS) {
		t.Errorf("write to a ro bind: %v, want EROFS", err)
	}
	st, err := v.Stat(ctx, v.Root(), "/data/cache/deep", 0)
	if err != nil || st.Mode&0o7777 != 0o700 {
		t.Errorf("nested tmpfs: %o %v", st.Mode, err)
	}
	st, err = v.Stat(ctx, v.Root(), "/run", 0)
	if err != nil || st.UID != 1000 || st.GID != 1000 {
		t.Errorf("/run owner: %d:%d %v", st.UID, st.GID, err)
	}
	s, err := v.StatFS(ctx, v.Root(), "/run")
	if err != nil || s.Flags&unix.ST_NOEXEC == 0 {
		t.Errorf("/run flags %#x %v", s.Flags, err)
	}
	if _, err := v.Stat(ctx, v.Root(), "/sys/fs/cgroup", 0); err != nil {
		t.Errorf("/sys/fs/cgroup: %v", err)
	}
}

func TestNamespaceUnsupported(t *testing.T) {
	m := []specs.Mount{{Destination: "/x", Type: "nfs", Source: "server:/"}}
	if _, err := (&Namespace{Root: rootWith(t), Overlay: true, Mounts: m}).Build(); err == nil || !strings.Contains(err.Error(), `unsupported type "nfs"`) {
		t.Errorf("nfs mount: %v", err)
	}
	var warned []string
	n := &Namespace{Root: rootWith(t), Overlay: true, Mounts: m, IgnoreUnsupported: true,
		Warn: func(f string, a ...any) { warned = append(warned, f) }}
	if _, err := n.Build(); err != nil || len(warned) != 1 {
		t.Errorf("with IgnoreUnsupported: %v, warnings %q", err, warned)
	}
	bad := []specs.Mount{{Destination: "/t", Type: "tmpfs", Options: []string{"size=lots"}}}
	if _, err := (&Namespace{Root: rootWith(t), Overlay: true, Mounts: bad}).Build(); err == nil || !strings.Contains(err.Error(), "size=lots") {
		t.Errorf("bad tmpfs option: %v", err)
	}
}
