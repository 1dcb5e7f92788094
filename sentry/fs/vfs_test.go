package fs_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
	"runsc.dev/runsc/sentry/fs/ramfs"
	"runsc.dev/runsc/sentry/fs/tmpfs"
)

// ns is a namespace with a tmpfs root for one test.
type ns struct {
	t   *testing.T
	v   *fs.VFS
	ctx *fs.Context
}

func newNS(t *testing.T) *ns {
	v := fs.New(tmpfs.New(tmpfs.Options{Mode: 0o755}), 0, "tmpfs")
	return &ns{t: t, v: v, ctx: &fs.Context{Creds: fs.Root(), Root: v.Root(), Umask: 0o022}}
}

func (n *ns) root() fs.Loc { return n.v.Root() }

func (n *ns) must(err error) {
	n.t.Helper()
	if err != nil {
		n.t.Fatal(err)
	}
}

func wantErr(t *testing.T, what string, err error, want unix.Errno) {
	t.Helper()
	if want == 0 {
		if err != nil {
			t.Errorf("%s: %v, want success", what, err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Errorf("%s: %v, want %v", what, err, want)
	}
}

func (n *ns) file(path string, data string) {
	n.t.Helper()
	fd, err := n.v.Open(n.ctx, n.root(), path, fs.OpenHow{Flags: unix.O_CREAT | unix.O_WRONLY | unix.O_TRUNC, Mode: 0o644})
	n.must(err)
	if _, err := fd.Write([]byte(data)); err != nil {
		n.t.Fatal(err)
	}
	n.must(fd.Close())
}

func (n *ns) lookup(path string) fs.Loc {
	n.t.Helper()
	loc, err := n.v.Lookup(n.ctx, n.root(), path, 0)
	n.must(err)
	return loc
}

func (n *ns) tmpfs(path string, flags uint32) *fs.Mount {
	n.t.Helper()
	m, err := n.v.Mount(n.ctx, n.root(), path, tmpfs.New(tmpfs.Options{Mode: 0o755}), flags, "tmpfs")
	n.must(err)
	return m
}

func TestSymlinkLimit(t *testing.T) {
	n := newNS(t)
	n.file("f", "x")
	n.must(n.v.Symlink(n.ctx, "f", n.root(), "l0"))
	for i := 1; i <= 40; i++ {
		n.must(n.v.Symlink(n.ctx, fmt.Sprintf("l%d", i-1), n.root(), fmt.Sprintf("l%d", i)))
	}
	_, err := n.v.Stat(n.ctx, n.root(), "l39", 0)
	wantErr(t, "40 links", err, 0)
	_, err = n.v.Stat(n.ctx, n.root(), "l40", 0)
	wantErr(t, "41 links", err, unix.ELOOP)
	_, err = n.v.Open(n.ctx, n.root(), "l40", fs.OpenHow{Flags: unix.O_CREAT | unix.O_WRONLY})
	wantErr(t, "O_CREAT through 41 links", err, unix.ELOOP)
	_, err = n.v.Stat(n.ctx, n.root(), "l40", unix.AT_SYMLINK_NOFOLLOW)
	wantErr(t, "lstat", err, 0)
}

func TestNameTooLong(t *testing.T) {
	n := newNS(t)
	wantErr(t, "255", n.v.Mkdir(n.ctx, n.root(), strings.Repeat("a", 255), 0o755), 0)
	wantErr(t, "256", n.v.Mkdir(n.ctx, n.root(), strings.Repeat("a", 256), 0o755), unix.ENAMETOOLONG)
	_, err := n.v.Stat(n.ctx, n.root(), strings.Repeat("a", 256)+"/x", 0)
	wantErr(t, "256 inside", err, unix.ENAMETOOLONG)
	n.file("f", "")
	p := strings.Repeat("./", 2047) + "f"
	_, err = n.v.Stat(n.ctx, n.root(), p, 0)
	wantErr(t, "4095", err, 0)
	_, err = n.v.Stat(n.ctx, n.root(), "/"+p, 0)
	wantErr(t, "4096", err, unix.ENAMETOOLONG)
	wantErr(t, "symlink 4096", n.v.Symlink(n.ctx, strings.Repeat("x", 4096), n.root(), "l"), unix.ENAMETOOLONG)
	wantErr(t, "symlink 4095", n.v.Symlink(n.ctx, strings.Repeat("x", 4095), n.root(), "l"), 0)
}

func TestTrailingSlash(t *testing.T) {
	n := newNS(t)
	n.file("f", "")
	n.must(n.v.Mkdir(n.ctx, n.root(), "d", 0o755))
	n.must(n.v.Symlink(n.ctx, "d", n.root(), "ld"))
	n.must(n.v.Symlink(n.ctx, "f", n.root(), "lf"))
	st, err := n.v.Stat(n.ctx, n.root(), "ld/", unix.AT_SYMLINK_NOFOLLOW)
	wantErr(t, "lstat ld/", err, 0)
	if !st.IsDir() {
		t.Errorf("lstat ld/ is not the directory")
	}
	_, err = n.v.Stat(n.ctx, n.root(), "lf/", 0)
	wantErr(t, "stat lf/", err, unix.ENOTDIR)
	_, err = n.v.Open(n.ctx, n.root(), "f/", fs.OpenHow{})
	wantErr(t, "open f/", err, unix.ENOTDIR)
	_, err = n.v.Open(n.ctx, n.root(), "g/", fs.OpenHow{Flags: unix.O_CREAT | unix.O_WRONLY})
	wantErr(t, "creat g/", err, unix.EISDIR)
	wantErr(t, "mknod g/", n.v.Mknod(n.ctx, n.root(), "g/", unix.S_IFIFO|0o644, 0), unix.ENOENT)
	wantErr(t, "mkdir e/", n.v.Mkdir(n.ctx, n.root(), "e/", 0o755), 0)
	wantErr(t, "unlink f/", n.v.Unlink(n.ctx, n.root(), "f/"), unix.ENOTDIR)
	wantErr(t, "unlink ld/", n.v.Unlink(n.ctx, n.root(), "ld/"), unix.ENOTDIR)
	wantErr(t, "rmdir ld/", n.v.Rmdir(n.ctx, n.root(), "ld/"), unix.ENOTDIR)
	wantErr(t, "rename f/", n.v.Rename(n.ctx, n.root(), "f/", n.root(), "g", 0), unix.ENOTDIR)
	wantErr(t, "rename to g/", n.v.Rename(n.ctx, n.root(), "f", n.root(), "g/", 0), unix.ENOTDIR)
	wantErr(t, "rename d/ e/", n.v.Rename(n.ctx, n.root(), "d/", n.root(), "e/", 0), 0)
	wantErr(t, "rmdir e/", n.v.Rmdir(n.ctx, n.root(), "e/"), 0)
}

func TestOpenPathAndEmptyPath(t *testing.T) {
	n := newNS(t)
	n.file("f", "data")
	n.must(n.v.Chmod(n.ctx, n.root(), "f", 0o000, 0))
	n.must(n.v.Symlink(n.ctx, "f", n.root(), "l"))
	user := &fs.Context{Creds: fs.User(1000, 1000), Root: n.root(), Umask: 0o022}
	_, err := n.v.Open(user, n.root(), "f", fs.OpenHow{})
	wantErr(t, "open 000 file", err, unix.EACCES)
	fd, err := n.v.Open(user, n.root(), "f", fs.OpenHow{Flags: unix.O_PATH})
	wantErr(t, "O_PATH needs no permission", err, 0)
	if fd == nil {
		return
	}
	_, err = fd.Read(make([]byte, 4))
	wantErr(t, "read O_PATH", err, unix.EBADF)
	st, err := n.v.Stat(user, fd.Loc(), "", unix.AT_EMPTY_PATH)
	wantErr(t, "AT_EMPTY_PATH", err, 0)
	if st.Size != 4 {
		t.Errorf("size %d", st.Size)
	}
	_, err = n.v.Stat(user, fd.Loc(), "", 0)
	wantErr(t, "empty path without AT_EMPTY_PATH", err, unix.ENOENT)
	wantErr(t, "link AT_EMPTY_PATH without CAP_DAC_READ_SEARCH", n.v.Link(user, fd.Loc(), "", n.root(), "g", unix.AT_EMPTY_PATH), unix.ENOENT)
	wantErr(t, "link AT_EMPTY_PATH", n.v.Link(n.ctx, fd.Loc(), "", n.root(), "g", unix.AT_EMPTY_PATH), 0)
	fd.Close()

	_, err = n.v.Open(n.ctx, n.root(), "l", fs.OpenHow{Flags: unix.O_NOFOLLOW})
	wantErr(t, "O_NOFOLLOW", err, unix.ELOOP)
	lfd, err := n.v.Open(n.ctx, n.root(), "l", fs.OpenHow{Flags: unix.O_PATH | unix.O_NOFOLLOW})
	wantErr(t, "O_PATH|O_NOFOLLOW", err, 0)
	if lfd != nil {
		target, err := n.v.Readlink(n.ctx, lfd.Loc(), "")
		if err != nil || target != "f" {
			t.Errorf("readlinkat(fd, \"\") = %q, %v", target, err)
		}
		lfd.Close()
	}
}

// magicFS wraps a ramfs so that its entry "self" is a magic link to a
// fixed location, like /proc/self/fd/N.
type magicFS struct {
	*ramfs.FS
	target *fs.Loc
}

type magicDir struct {
	fs.Dentry
	m *magicFS
}

type magicLink struct {
	fs.Dentry
	m *magicFS
}

func (f *magicFS) Root() fs.Dentry { return magicDir{f.FS.Root(), f} }

func (d magicDir) Lookup(name string) (fs.Dentry, error) {
	c, err := d.Dentry.Lookup(name)
	if err == nil && name == "self" {
		return magicLink{c, d.m}, nil
	}
	return c, err
}

func (l magicLink) Parent() fs.Dentry         { return magicDir{l.Dentry.Parent(), l.m} }
func (l magicLink) Resolve() (fs.Loc, error)  { return *l.m.target, nil }
func (l magicLink) Readlink() (string, error) { return "/nowhere", nil }
func (l magicLink) Stat() (fs.Stat, error)    { return l.Dentry.Stat() }
func (d magicDir) Parent() fs.Dentry          { return nil }
func (d magicDir) Create(name string, a *fs.CreateAttrs) (fs.Dentry, error) {
	return d.Dentry.Create(name, a)
}

func TestOpenat2Resolve(t *testing.T) {
	n := newNS(t)
	n.must(n.v.Mkdir(n.ctx, n.root(), "a", 0o755))
	n.must(n.v.Mkdir(n.ctx, n.root(), "a/b", 0o755))
	n.file("a/b/c", "")
	n.must(n.v.Symlink(n.ctx, "/a/b", n.root(), "a/abs"))
	n.must(n.v.Symlink(n.ctx, "../a/b", n.root(), "a/up"))
	n.must(n.v.Symlink(n.ctx, "b", n.root(), "a/rel"))
	n.must(n.v.Mkdir(n.ctx, n.root(), "a/m", 0o755))
	n.tmpfs("a/m", 0)
	n.file("a/m/x", "")
	a := n.lookup("a")
	open := func(path string, resolve uint64) error {
		fd, err := n.v.Open(n.ctx, a, path, fs.OpenHow{Flags: unix.O_RDONLY, Resolve: resolve})
		if fd != nil {
			fd.Close()
		}
		return err
	}
	for _, c := range []struct {
		path    string
		resolve uint64
		want    unix.Errno
	}{
		{"b/c", unix.RESOLVE_BENEATH, 0},
		{"rel/c", unix.RESOLVE_BENEATH, 0},
		{"b/../b/c", unix.RESOLVE_BENEATH, 0},
		{"../a/b/c", unix.RESOLVE_BENEATH, unix.EXDEV},
		{"/a/b/c", unix.RESOLVE_BENEATH, unix.EXDEV},
		{"abs/c", unix.RESOLVE_BENEATH, unix.EXDEV},
		{"up/c", unix.RESOLVE_BENEATH, unix.EXDEV},
		{"/b/c", unix.RESOLVE_IN_ROOT, 0},
		{"../../b/c", unix.RESOLVE_IN_ROOT, 0},
		{"abs/c", unix.RESOLVE_IN_ROOT, unix.ENOENT},
		{"up/c", unix.RESOLVE_IN_ROOT, unix.ENOENT},
		{"rel/c", unix.RESOLVE_NO_SYMLINKS, unix.ELOOP},
		{"b/c", unix.RESOLVE_NO_SYMLINKS, 0},
		{"m/x", unix.RESOLVE_NO_XDEV, unix.EXDEV},
		{"m/x", 0, 0},
		{"b/c", unix.RESOLVE_BENEATH | unix.RESOLVE_IN_ROOT, unix.EINVAL},
		{"b/c", 1 << 20, unix.EINVAL},
	} {
		wantErr(t, fmt.Sprintf("%q resolve %#x", c.path, c.resolve), open(c.path, c.resolve), c.want)
	}
	// A final symlink that is not followed is not refused.
	fd, err := n.v.Open(n.ctx, a, "rel", fs.OpenHow{Flags: unix.O_PATH | unix.O_NOFOLLOW, Resolve: unix.RESOLVE_NO_SYMLINKS})
	wantErr(t, "O_NOFOLLOW with RESOLVE_NO_SYMLINKS", err, 0)
	if fd != nil {
		fd.Close()
	}
	// ".." out of a mount with RESOLVE_NO_XDEV.
	m := n.lookup("a/m")
	_, err = n.v.Open(n.ctx, m, "../b", fs.OpenHow{Flags: unix.O_PATH, Resolve: unix.RESOLVE_NO_XDEV})
	wantErr(t, "NO_XDEV ..", err, unix.EXDEV)

	// Magic links.
	target := n.lookup("a/b")
	mfs := &magicFS{FS: ramfs.New(ramfs.Options{Mode: 0o755}), target: &target}
	n.must(n.v.Mkdir(n.ctx, n.root(), "proc", 0o755))
	_, err = n.v.Mount(n.ctx, n.root(), "proc", mfs, 0, "proc")
	n.must(err)
	n.must(n.v.Symlink(n.ctx, "x", n.root(), "proc/self"))
	fd, err = n.v.Open(n.ctx, n.root(), "proc/self/c", fs.OpenHow{})
	wantErr(t, "through a magic link", err, 0)
	if fd != nil {
		fd.Close()
	}
	_, err = n.v.Open(n.ctx, n.root(), "proc/self/c", fs.OpenHow{Resolve: unix.RESOLVE_NO_MAGICLINKS})
	wantErr(t, "RESOLVE_NO_MAGICLINKS", err, unix.ELOOP)
}

func TestDotDot(t *testing.T) {
	n := newNS(t)
	n.must(n.v.Mkdir(n.ctx, n.root(), "a", 0o755))
	n.must(n.v.Mkdir(n.ctx, n.root(), "a/b", 0o755))
	n.must(n.v.Mkdir(n.ctx, n.root(), "m", 0o755))
	n.file("top", "")
	n.file("a/b/inb", "")
	// A chroot to a: ".." and "/" stop there.
	jail := &fs.Context{Creds: fs.Root(), Root: n.lookup("a"), Umask: 0o022}
	for _, p := range []string{"/..", "../../..", "/../b/..", "/"} {
		loc, err := n.v.Lookup(jail, n.lookup("a/b"), p, 0)
		if err != nil || loc != jail.Root {
			t.Errorf("%q in a chroot: %v, %v", p, loc, err)
		}
	}
	// Across mount points, down and up.
	m := n.tmpfs("m", 0)
	n.must(n.v.Mkdir(n.ctx, n.root(), "m/x", 0o755))
	if loc := n.lookup("m/x/../.."); loc != n.root() {
		t.Errorf("m/x/../.. = %v, want the root", loc)
	}
	if loc := n.lookup("m"); loc != m.Root() {
		t.Errorf("m is not the mount's root")
	}
	if loc := n.lookup("m/.."); loc != n.root() {
		t.Errorf("m/.. is not the root")
	}
	// Stacked mounts: the walk lands on the top one; ".." from it goes to
	// the parent of the mount point.
	top := n.tmpfs("m", 0)
	if loc := n.lookup("m"); loc != top.Root() {
		t.Errorf("m is not the top mount")
	}
	if loc := n.lookup("m/../top"); loc.Mount != n.root().Mount {
		t.Errorf("m/../top is not on the root mount")
	}
	// A bind mount of a/b at m: ".." from it is the root, not a.
	n.must(n.v.Mkdir(n.ctx, n.root(), "bind", 0o755))
	_, err := n.v.BindMount(n.ctx, n.lookup("a/b"), n.root(), "bind", 0)
	n.must(err)
	if _, err := n.v.Stat(n.ctx, n.root(), "bind/inb", 0); err != nil {
		t.Errorf("bind/inb: %v", err)
	}
	if _, err := n.v.Stat(n.ctx, n.root(), "bind/../top", 0); err != nil {
		t.Errorf("bind/../top: %v", err)
	}
}

func TestMountBusy(t *testing.T) {
	n := newNS(t)
	for _, d := range []string{"m", "m2", "d"} {
		n.must(n.v.Mkdir(n.ctx, n.root(), d, 0o755))
	}
	n.file("f", "")
	user := &fs.Context{Creds: fs.User(1000, 1000), Root: n.root()}
	_, err := n.v.Mount(user, n.root(), "m", tmpfs.New(tmpfs.Options{}), 0, "tmpfs")
	wantErr(t, "mount as a user", err, unix.EPERM)
	n.tmpfs("m", 0)
	n.must(n.v.Mkdir(n.ctx, n.root(), "m/sub", 0o755))
	n.tmpfs("m/sub", 0)
	wantErr(t, "umount a plain directory", n.v.Umount(n.ctx, n.root(), "d", 0), unix.EINVAL)
	wantErr(t, "umount the root", n.v.Umount(n.ctx, n.root(), "/", 0), unix.EINVAL)
	wantErr(t, "umount as a user", n.v.Umount(user, n.root(), "m", 0), unix.EPERM)
	wantErr(t, "umount with a submount", n.v.Umount(n.ctx, n.root(), "m", 0), unix.EBUSY)
	wantErr(t, "rmdir a mount point", n.v.Rmdir(n.ctx, n.root(), "m"), unix.EBUSY)
	wantErr(t, "rename a mount point", n.v.Rename(n.ctx, n.root(), "m", n.root(), "x", 0), unix.EBUSY)
	wantErr(t, "rename over a mount point", n.v.Rename(n.ctx, n.root(), "m2", n.root(), "m", 0), unix.EBUSY)
	wantErr(t, "rmdir a mount point inside", n.v.Rmdir(n.ctx, n.root(), "m/sub"), unix.EBUSY)
	wantErr(t, "rename across mounts", n.v.Rename(n.ctx, n.root(), "f", n.root(), "m/f", 0), unix.EXDEV)
	wantErr(t, "link across mounts", n.v.Link(n.ctx, n.root(), "f", n.root(), "m/f", 0), unix.EXDEV)

	// A file mount point.
	n.file("m2/target", "")
	n.file("src", "hello")
	_, err = n.v.BindMount(n.ctx, n.lookup("src"), n.root(), "m2/target", 0)
	n.must(err)
	wantErr(t, "unlink a file mount point", n.v.Unlink(n.ctx, n.root(), "m2/target"), unix.EBUSY)
	wantErr(t, "umount a file mount", n.v.Umount(n.ctx, n.root(), "m2/target", 0), 0)

	// An open file keeps a mount busy; a lazy umount still works and the
	// file stays usable.
	n.file("m/sub/file", "data")
	fd, err := n.v.Open(n.ctx, n.root(), "m/sub/file", fs.OpenHow{})
	n.must(err)
	wantErr(t, "umount with an open file", n.v.Umount(n.ctx, n.root(), "m/sub", 0), unix.EBUSY)
	wantErr(t, "lazy umount", n.v.Umount(n.ctx, n.root(), "m", unix.MNT_DETACH), 0)
	buf := make([]byte, 8)
	if k, err := fd.Read(buf); err != nil || string(buf[:k]) != "data" {
		t.Errorf("read after lazy umount: %q, %v", buf[:k], err)
	}
	fd.Close()
	if _, err := n.v.Stat(n.ctx, n.root(), "m/sub", 0); !errors.Is(err, unix.ENOENT) {
		t.Errorf("m/sub after the lazy umount: %v, want ENOENT", err)
	}
	for _, mi := range n.v.Mounts() {
		if mi.ID != 1 && mi.Type == "tmpfs" && mi.ParentID != 1 {
			t.Errorf("submount %d still listed", mi.ID)
		}
	}
	// Closing the file made the mount idle again.
	n.tmpfs("m", 0)
	fd, err = n.v.Open(n.ctx, n.root(), "m", fs.OpenHow{Flags: unix.O_PATH})
	n.must(err)
	fd.Close()
	wantErr(t, "umount after close", n.v.Umount(n.ctx, n.root(), "m", 0), 0)
}

func TestReadOnlyMount(t *testing.T) {
	n := newNS(t)
	n.must(n.v.Mkdir(n.ctx, n.root(), "ro", 0o755))
	m := n.tmpfs("ro", 0)
	n.file("ro/f", "x")
	n.must(n.v.Mkdir(n.ctx, n.root(), "ro/d", 0o755))
	n.must(n.v.Mknod(n.ctx, n.root(), "ro/null", unix.S_IFCHR|0o666, unix.Mkdev(1, 3)))
	n.must(n.v.SetMountFlags(n.ctx, m.Root(), fs.MountReadOnly))
	r := n.root()
	c := n.ctx
	open := func(path string, flags int) error {
		fd, err := n.v.Open(c, r, path, fs.OpenHow{Flags: flags, Mode: 0o644})
		if fd != nil {
			fd.Close()
		}
		return err
	}
	for _, x := range []struct {
		what string
		err  error
		want unix.Errno
	}{
		{"mkdir", n.v.Mkdir(c, r, "ro/new", 0o755), unix.EROFS},
		{"mkdir existing", n.v.Mkdir(c, r, "ro/d", 0o755), unix.EEXIST},
		{"mknod", n.v.Mknod(c, r, "ro/p", unix.S_IFIFO|0o644, 0), unix.EROFS},
		{"symlink", n.v.Symlink(c, "x", r, "ro/l"), unix.EROFS},
		{"link", n.v.Link(c, r, "ro/f", r, "ro/g", 0), unix.EROFS},
		{"unlink", n.v.Unlink(c, r, "ro/f"), unix.EROFS},
		{"rmdir", n.v.Rmdir(c, r, "ro/d"), unix.EROFS},
		{"rename", n.v.Rename(c, r, "ro/f", r, "ro/g", 0), unix.EROFS},
		{"chmod", n.v.Chmod(c, r, "ro/f", 0o600, 0), unix.EROFS},
		{"chown", n.v.Chown(c, r, "ro/f", 1, 1, 0), unix.EROFS},
		{"utimens", n.v.Utimens(c, r, "ro/f", nil, 0), unix.EROFS},
		{"truncate", n.v.Truncate(c, r, "ro/f", 0), unix.EROFS},
		{"setxattr", n.v.Setxattr(c, r, "ro/f", 0, "user.a", nil, 0), unix.EROFS},
		{"removexattr", n.v.Removexattr(c, r, "ro/f", 0, "user.a"), unix.EROFS},
		{"access W_OK", n.v.Access(c, r, "ro/f", unix.W_OK, 0), unix.EROFS},
		{"access W_OK device", n.v.Access(c, r, "ro/null", unix.W_OK, 0), 0},
		{"open O_RDONLY", open("ro/f", unix.O_RDONLY), 0},
		{"open O_WRONLY", open("ro/f", unix.O_WRONLY), unix.EROFS},
		{"open O_RDONLY|O_TRUNC", open("ro/f", unix.O_RDONLY|unix.O_TRUNC), unix.EROFS},
		{"open O_CREAT existing", open("ro/f", unix.O_CREAT|unix.O_RDONLY), 0},
		{"open O_CREAT new", open("ro/new", unix.O_CREAT|unix.O_RDONLY), unix.EROFS},
		{"open device for writing", open("ro/null", unix.O_WRONLY), 0},
	} {
		wantErr(t, x.what, x.err, x.want)
	}
	s, err := n.v.StatFS(c, r, "ro")
	n.must(err)
	if s.Flags&unix.ST_RDONLY == 0 {
		t.Errorf("statfs flags %#x lack ST_RDONLY", s.Flags)
	}
}

func TestMountFlags(t *testing.T) {
	n := newNS(t)
	n.must(n.v.Mkdir(n.ctx, n.root(), "m", 0o755))
	m := n.tmpfs("m", fs.MountNoSuid|fs.MountNoDev|fs.MountNoExec|fs.MountNoAtime)
	n.file("m/prog", "#!")
	n.must(n.v.Chmod(n.ctx, n.root(), "m/prog", 0o4755, 0))
	n.must(n.v.Mknod(n.ctx, n.root(), "m/null", unix.S_IFCHR|0o666, unix.Mkdev(1, 3)))
	n.must(n.v.Mknod(n.ctx, n.root(), "m/fifo", unix.S_IFIFO|0o666, 0))
	s, err := n.v.StatFS(n.ctx, n.root(), "m")
	n.must(err)
	for _, f := range []int64{unix.ST_NOSUID, unix.ST_NODEV, unix.ST_NOEXEC, unix.ST_NOATIME} {
		if s.Flags&f == 0 {
			t.Errorf("statfs flags %#x lack %#x", s.Flags, f)
		}
	}
	if m.Flags()&fs.MountNoSuid == 0 {
		t.Errorf("mount flags %#x lack nosuid", m.Flags())
	}
	_, err = n.v.Open(n.ctx, n.root(), "m/null", fs.OpenHow{Flags: unix.O_RDWR})
	wantErr(t, "nodev", err, unix.EACCES)
	fd, err := n.v.Open(n.ctx, n.root(), "m/fifo", fs.OpenHow{Flags: unix.O_RDWR})
	wantErr(t, "nodev does not cover fifos", err, 0)
	if fd != nil {
		fd.Close()
	}
	wantErr(t, "noexec access", n.v.Access(n.ctx, n.root(), "m/prog", unix.X_OK, 0), unix.EACCES)
	wantErr(t, "noexec does not cover directories", n.v.Access(n.ctx, n.root(), "m", unix.X_OK, 0), 0)
	_, err = n.v.OpenExec(n.ctx, n.root(), "m/prog", 0)
	wantErr(t, "noexec exec", err, unix.EACCES)
}

func TestSticky(t *testing.T) {
	n := newNS(t)
	n.ctx.Umask = 0
	n.must(n.v.Mkdir(n.ctx, n.root(), "t", 0o1777))
	alice := &fs.Context{Creds: fs.User(1000, 1000), Root: n.root()}
	bob := &fs.Context{Creds: fs.User(1001, 1001), Root: n.root()}
	fd, err := n.v.Open(alice, n.root(), "t/a", fs.OpenHow{Flags: unix.O_CREAT | unix.O_WRONLY, Mode: 0o666})
	n.must(err)
	fd.Close()
	wantErr(t, "unlink another's file", n.v.Unlink(bob, n.root(), "t/a"), unix.EPERM)
	wantErr(t, "rename another's file", n.v.Rename(bob, n.root(), "t/a", n.root(), "t/b", 0), unix.EPERM)
	n.must(n.v.Chown(n.ctx, n.root(), "t", 1001, -1, 0))
	wantErr(t, "the directory's owner may", n.v.Rename(bob, n.root(), "t/a", n.root(), "t/b", 0), 0)
	n.must(n.v.Chown(n.ctx, n.root(), "t", 0, -1, 0))
	fowner := &fs.Context{Creds: &fs.Creds{UID: 1002, GID: 1002, Caps: 1 << fs.CapFowner}, Root: n.root()}
	wantErr(t, "CAP_FOWNER may", n.v.Unlink(fowner, n.root(), "t/b"), 0)
}

func TestSetgidDirectory(t *testing.T) {
	n := newNS(t)
	n.ctx.Umask = 0
	n.must(n.v.Mkdir(n.ctx, n.root(), "s", 0o777))
	n.must(n.v.Chown(n.ctx, n.root(), "s", -1, 2000, 0))
	n.must(n.v.Chmod(n.ctx, n.root(), "s", 0o2777, 0))
	member := &fs.Context{Creds: fs.User(1000, 1000, 2000), Root: n.root()}
	outsider := &fs.Context{Creds: fs.User(1001, 1001), Root: n.root()}
	n.must(n.v.Mkdir(member, n.root(), "s/d", 0o755))
	st, _ := n.v.Stat(n.ctx, n.root(), "s/d", 0)
	if st.GID != 2000 || st.Mode&unix.S_ISGID == 0 {
		t.Errorf("subdirectory %o gid %d, want setgid and gid 2000", st.Mode, st.GID)
	}
	for _, c := range []struct {
		ctx  *fs.Context
		name string
		want uint32
	}{{member, "s/f", 0o2755}, {outsider, "s/g", 0o755}} {
		fd, err := n.v.Open(c.ctx, n.root(), c.name, fs.OpenHow{Flags: unix.O_CREAT | unix.O_WRONLY, Mode: 0o2755})
		n.must(err)
		fd.Close()
		st, _ := n.v.Stat(n.ctx, n.root(), c.name, 0)
		if st.Mode&0o7777 != c.want || st.GID != 2000 {
			t.Errorf("%s: mode %o gid %d, want %o and 2000", c.name, st.Mode&0o7777, st.GID, c.want)
		}
	}
}

func TestChownClearsSetID(t *testing.T) {
	n := newNS(t)
	n.ctx.Umask = 0
	for _, c := range []struct {
		mode, want uint32
		dir        bool
	}{
		{0o6755, 0o0755, false}, // set-group-ID with group execute: goes
		{0o6745, 0o2745, false}, // without group execute: mandatory locking, stays for root
		{0o6755, 0o6755, true},  // directories keep both
	} {
		var err error
		if c.dir {
			err = n.v.Mkdir(n.ctx, n.root(), "x", 0o755)
		} else {
			n.file("x", "")
		}
		n.must(err)
		n.must(n.v.Chmod(n.ctx, n.root(), "x", c.mode, 0))
		n.must(n.v.Chown(n.ctx, n.root(), "x", 1000, 1000, 0))
		st, _ := n.v.Stat(n.ctx, n.root(), "x", 0)
		if st.Mode&0o7777 != c.want {
			t.Errorf("chown of %o (dir %v) left %o, want %o", c.mode, c.dir, st.Mode&0o7777, c.want)
		}
		if c.dir {
			n.must(n.v.Rmdir(n.ctx, n.root(), "x"))
		} else {
			n.must(n.v.Unlink(n.ctx, n.root(), "x"))
		}
	}
}

func TestTmpfsLimits(t *testing.T) {
	v := fs.New(tmpfs.New(tmpfs.Options{Mode: 0o755, SizeBytes: 3 * 4096, NrInodes: 4}), 0, "tmpfs")
	ctx := &fs.Context{Creds: fs.Root(), Root: v.Root()}
	fd, err := v.Open(ctx, v.Root(), "big", fs.OpenHow{Flags: unix.O_CREAT | unix.O_WRONLY, Mode: 0o644})
	if err != nil {
		t.Fatal(err)
	}
	k, err := fd.Write(make([]byte, 20000))
	if k != 3*4096 || err != nil {
		t.Errorf("write past the size limit = %d, %v; want a short write of 12288", k, err)
	}
	_, err = fd.Write([]byte("x"))
	wantErr(t, "write when full", err, unix.ENOSPC)
	// Rewriting allocated pages still works.
	_, err = fd.Pwrite([]byte("y"), 5)
	wantErr(t, "rewrite", err, 0)
	fd.Close()
	s, _ := v.StatFS(ctx, v.Root(), "/")
	if s.Blocks != 3 || s.Bfree != 0 || s.Files != 4 || s.Ffree != 2 {
		t.Errorf("statfs %+v", s)
	}
	// nr_inodes=4: the root and big, then two more; a hard link counts.
	for i, want := range []unix.Errno{0, 0, unix.ENOSPC} {
		wantErr(t, fmt.Sprint("mknod ", i), v.Mknod(ctx, v.Root(), fmt.Sprint("f", i), unix.S_IFREG|0o644, 0), want)
	}
	wantErr(t, "link when full", v.Link(ctx, v.Root(), "f0", v.Root(), "l", 0), unix.ENOSPC)
	if err := v.Unlink(ctx, v.Root(), "big"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "link after unlink", v.Link(ctx, v.Root(), "f0", v.Root(), "l", 0), 0)
	s, _ = v.StatFS(ctx, v.Root(), "/")
	if s.Bfree != 3 || s.Ffree != 0 {
		t.Errorf("statfs after unlink %+v", s)
	}
}

// TestGetdentsStable checks that a listing interrupted by creations and
// removals, and resumed at a saved offset (on the same or another open
// directory), returns every entry present throughout exactly once.
func TestGetdentsStable(t *testing.T) {
	for _, reopen := range []bool{false, true} {
		n := newNS(t)
		n.must(n.v.Mkdir(n.ctx, n.root(), "d", 0o755))
		const old = 300
		for i := 0; i < old; i++ {
			n.must(n.v.Mknod(n.ctx, n.root(), fmt.Sprintf("d/old%d", i), unix.S_IFREG|0o644, 0))
		}
		open := func() *fs.FileDescription {
			fd, err := n.v.Open(n.ctx, n.root(), "d", fs.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY})
			n.must(err)
			return fd
		}
		seen := map[string]int{}
		read := func(fd *fs.FileDescription, max int) {
			k := 0
			n.must(fd.Getdents(func(e fs.DirEntry) bool {
				if k == max {
					return false
				}
				k++
				seen[e.Name]++
				return true
			}))
		}
		fd := open()
		read(fd, 100)
		saved, err := fd.Seek(0, 1)
		n.must(err)
		// Remove every third old entry (read or not) and churn enough new
		// ones that the directory compacts its holes.
		for i := 0; i < old; i += 3 {
			n.must(n.v.Unlink(n.ctx, n.root(), fmt.Sprintf("d/old%d", i)))
		}
		for i := 0; i < 1000; i++ {
			n.must(n.v.Mknod(n.ctx, n.root(), fmt.Sprintf("d/new%d", i), unix.S_IFREG|0o644, 0))
			if i%10 != 0 {
				n.must(n.v.Unlink(n.ctx, n.root(), fmt.Sprintf("d/new%d", i)))
			}
		}
		if reopen {
			fd.Close()
			fd = open()
			_, err := fd.Seek(saved, 0)
			n.must(err)
		}
		read(fd, 1<<30)
		fd.Close()
		for i := 0; i < old; i++ {
			name := fmt.Sprintf("old%d", i)
			if i%3 != 0 && seen[name] != 1 {
				t.Errorf("reopen %v: %s, present throughout, returned %d times", reopen, name, seen[name])
			}
		}
		for name, c := range seen {
			if c != 1 {
				t.Errorf("reopen %v: %s returned %d times", reopen, name, c)
			}
		}
	}
}

func TestStubs(t *testing.T) {
	f, err := ramfs.NewStubs([]string{"/proc", "/dev/pts", "/a/b/c", "/a/b", "//x//y/"})
	if err != nil {
		t.Fatal(err)
	}
	v := fs.New(f, fs.MountReadOnly, "stubs")
	ctx := &fs.Context{Creds: fs.Root(), Root: v.Root()}
	for _, p := range []string{"proc", "dev", "dev/pts", "a/b/c", "x/y"} {
		st, err := v.Stat(ctx, v.Root(), p, 0)
		if err != nil || st.Mode != unix.S_IFDIR|0o755 || st.UID != 0 {
			t.Errorf("%s: %+v, %v", p, st, err)
		}
	}
	for _, bad := range [][]string{{"rel"}, {"/a/../b"}, {"/" + strings.Repeat("n", 256)}} {
		if _, err := ramfs.NewStubs(bad); !errors.Is(err, unix.EINVAL) {
			t.Errorf("NewStubs(%q) = %v, want EINVAL", bad, err)
		}
	}
}

func TestTmpfile(t *testing.T) {
	n := newNS(t)
	n.must(n.v.Mkdir(n.ctx, n.root(), "d", 0o755))
	n.file("f", "")
	for _, c := range []struct {
		path  string
		flags int
		want  unix.Errno
	}{
		{"d", unix.O_TMPFILE | unix.O_RDONLY, unix.EINVAL},
		{"d", unix.O_TMPFILE | unix.O_RDWR | unix.O_CREAT, unix.EINVAL},
		{"d", unix.O_TMPFILE&^unix.O_DIRECTORY | unix.O_RDWR, unix.EINVAL},
		{"f", unix.O_TMPFILE | unix.O_RDWR, unix.ENOTDIR},
		{"nowhere", unix.O_TMPFILE | unix.O_RDWR, unix.ENOENT},
	} {
		_, err := n.v.Open(n.ctx, n.root(), c.path, fs.OpenHow{Flags: c.flags, Mode: 0o600})
		wantErr(t, fmt.Sprintf("open(%q, %#x)", c.path, c.flags), err, c.want)
	}
	fd, err := n.v.Open(n.ctx, n.root(), "d", fs.OpenHow{Flags: unix.O_TMPFILE | unix.O_RDWR, Mode: 0o640})
	n.must(err)
	if _, err := fd.Write([]byte("tmp")); err != nil {
		t.Fatal(err)
	}
	st, _ := fd.Stat()
	if st.Nlink != 0 || st.Mode != unix.S_IFREG|0o640 || st.Size != 3 {
		t.Errorf("tmpfile stat %+v", st)
	}
	wantErr(t, "link", n.v.Link(n.ctx, fd.Loc(), "", n.root(), "d/named", unix.AT_EMPTY_PATH), 0)
	n.must(n.v.Unlink(n.ctx, n.root(), "d/named"))
	wantErr(t, "link after the name is gone", n.v.Link(n.ctx, fd.Loc(), "", n.root(), "d/again", unix.AT_EMPTY_PATH), unix.ENOENT)
	fd.Close()
	fd, err = n.v.Open(n.ctx, n.root(), "d", fs.OpenHow{Flags: unix.O_TMPFILE | unix.O_WRONLY | unix.O_EXCL, Mode: 0o600})
	n.must(err)
	wantErr(t, "link of an O_EXCL tmpfile", n.v.Link(n.ctx, fd.Loc(), "", n.root(), "d/x", unix.AT_EMPTY_PATH), unix.ENOENT)
	fd.Close()
}

// TestUnlinkedOpenPath checks that an O_PATH description keeps an unlinked
// file's data and inode space.
func TestUnlinkedOpenPath(t *testing.T) {
	v := fs.New(tmpfs.New(tmpfs.Options{Mode: 0o755, NrInodes: 2}), 0, "tmpfs")
	ctx := &fs.Context{Creds: fs.Root(), Root: v.Root()}
	fd, err := v.Open(ctx, v.Root(), "f", fs.OpenHow{Flags: unix.O_CREAT | unix.O_WRONLY, Mode: 0o644})
	if err != nil {
		t.Fatal(err)
	}
	fd.Write([]byte("data"))
	fd.Close()
	p, err := v.Open(ctx, v.Root(), "f", fs.OpenHow{Flags: unix.O_PATH})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Unlink(ctx, v.Root(), "f"); err != nil {
		t.Fatal(err)
	}
	st, err := p.Stat()
	if err != nil || st.Size != 4 || st.Nlink != 0 {
		t.Errorf("fstat of the unlinked file: %+v, %v", st, err)
	}
	wantErr(t, "no inode space while it is open", v.Mknod(ctx, v.Root(), "g", unix.S_IFREG|0o644, 0), unix.ENOSPC)
	p.Close()
	wantErr(t, "space back after close", v.Mknod(ctx, v.Root(), "g", unix.S_IFREG|0o644, 0), 0)
}

func TestProtected(t *testing.T) {
	n := newNS(t)
	n.ctx.Umask = 0
	n.must(n.v.Mkdir(n.ctx, n.root(), "tmp", 0o1777))
	alice := &fs.Context{Creds: fs.User(1000, 1000), Root: n.root()}
	bob := &fs.Context{Creds: fs.User(1001, 1001), Root: n.root()}
	fd, err := n.v.Open(alice, n.root(), "tmp/f", fs.OpenHow{Flags: unix.O_CREAT | unix.O_WRONLY, Mode: 0o666})
	n.must(err)
	fd.Close()
	n.must(n.v.Mknod(alice, n.root(), "tmp/p", unix.S_IFIFO|0o666, 0))
	n.must(n.v.Symlink(alice, "f", n.root(), "tmp/l"))
	n.file("secret", "")
	n.must(n.v.Chmod(n.ctx, n.root(), "secret", 0o600, 0))
	open := func(c *fs.Context, path string, flags int) error {
		fd, err := n.v.Open(c, n.root(), path, fs.OpenHow{Flags: flags, Mode: 0o666})
		if fd != nil {
			fd.Close()
		}
		return err
	}
	check := func(p fs.Protected, what string, do func() error, want unix.Errno) {
		t.Helper()
		n.v.SetProtected(p)
		wantErr(t, what, do(), want)
	}
	check(fs.Protected{Symlinks: true}, "follow another's link in a sticky world-writable dir", func() error { return open(bob, "tmp/l", unix.O_RDONLY) }, unix.EACCES)
	check(fs.Protected{Symlinks: true}, "the link's owner may", func() error { return open(alice, "tmp/l", unix.O_RDONLY) }, 0)
	check(fs.Protected{}, "unprotected symlink", func() error { return open(bob, "tmp/l", unix.O_RDONLY) }, 0)
	check(fs.Protected{Regular: 1}, "O_CREAT of another's file", func() error { return open(bob, "tmp/f", unix.O_CREAT|unix.O_WRONLY) }, unix.EACCES)
	check(fs.Protected{Regular: 1}, "without O_CREAT", func() error { return open(bob, "tmp/f", unix.O_WRONLY) }, 0)
	check(fs.Protected{FIFOs: 1}, "O_CREAT of another's fifo", func() error { return open(bob, "tmp/p", unix.O_CREAT|unix.O_RDWR) }, unix.EACCES)
	check(fs.Protected{Hardlinks: true}, "link to a file one cannot read and write", func() error { return n.v.Link(bob, n.root(), "secret", n.root(), "tmp/s", 0) }, unix.EPERM)
	check(fs.Protected{}, "unprotected link", func() error { return n.v.Link(bob, n.root(), "secret", n.root(), "tmp/s", 0) }, 0)
}

func TestTimesKept(t *testing.T) {
	n := newNS(t)
	n.must(n.v.Mknod(n.ctx, n.root(), "f", unix.S_IFREG|0o644, 0))
	n.must(n.v.Mkdir(n.ctx, n.root(), "d", 0o755))
	n.file("g", "data")
	want := [2]unix.Timespec{{Sec: 1 << 40, Nsec: 999999999}, {Sec: -5, Nsec: 1}}
	for _, p := range []string{"f", "d", "g"} {
		n.must(n.v.Utimens(n.ctx, n.root(), p, &want, 0))
		st, err := n.v.Stat(n.ctx, n.root(), p, 0)
		n.must(err)
		if st.Atime != want[0] || st.Mtime != want[1] {
			t.Errorf("%s: atime %v mtime %v, want %v", p, st.Atime, st.Mtime, want)
		}
	}
}
