package gofer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	"golang.org/x/sys/unix"
	"runsc.dev/runsc/p9"
)

var ctx = context.Background()

// needRoot skips a test that needs root, except in CI (CI=true), where the
// test must run and its absence is a failure.
func needRoot(t *testing.T, why string) {
	t.Helper()
	if os.Getuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but not root: %s", why)
	}
	t.Skipf("not root and CI is not \"true\" (isCI false): %s", why)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// serveDir serves dir on a fresh socketpair and returns an attached root.
func serveDir(t testing.TB, dir string, readOnly bool) (*p9.Client, *p9.Fid) {
	t.Helper()
	e, err := OpenExport(dir, readOnly)
	must(t, err)
	cs, ss, err := p9.Socketpair()
	must(t, err)
	done := make(chan error, 1)
	go func() { done <- e.Serve(ss) }()
	c, err := p9.NewClient(ctx, cs, p9.ClientOptions{})
	must(t, err)
	t.Cleanup(func() {
		c.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		e.Close()
	})
	root, _, err := c.Attach(ctx, "", p9.UID(os.Getuid()), "")
	must(t, err)
	return c, root
}

func writeFile(t testing.TB, path, data string) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Dir(path), 0o755))
	must(t, os.WriteFile(path, []byte(data), 0o644))
}

func walk(t testing.TB, f *p9.Fid, names ...string) *p9.Fid {
	t.Helper()
	_, nf, err := f.Walk(ctx, names)
	if err != nil {
		t.Fatalf("walk %v: %v", names, err)
	}
	return nf
}

func TestServeTree(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/a/b/c.txt", "hello gofer")
	must(t, os.Symlink("b/c.txt", dir+"/a/link"))
	_, root := serveDir(t, dir, false)
	gid := p9.GID(os.Getgid())

	qids, f, _, attr, err := root.WalkGetAttr(ctx, []string{"a", "b", "c.txt"})
	must(t, err)
	if len(qids) != 3 || qids[0].Type != p9.QTDir || attr.Size != 11 || attr.Mode != unix.S_IFREG|0o644 {
		t.Fatalf("walkgetattr: %v %+v", qids, attr)
	}
	_, _, donated, err := f.Open(ctx, p9.ReadOnly)
	must(t, err)
	if donated == nil {
		t.Fatal("no fd donated for a regular file")
	}
	fl, _ := unix.FcntlInt(donated.Fd(), unix.F_GETFL, 0)
	if fl&unix.O_ACCMODE != unix.O_RDONLY {
		t.Fatalf("read-only open donated flags %#o", fl)
	}
	got, _ := io.ReadAll(donated)
	donated.Close()
	if string(got) != "hello gofer" {
		t.Fatalf("donated fd read %q", got)
	}
	buf := make([]byte, 100)
	n, err := f.ReadAt(ctx, buf, 6)
	if string(buf[:n]) != "gofer" || !errors.Is(err, io.EOF) {
		t.Fatalf("9P read %q %v", buf[:n], err)
	}

	link := walk(t, root, "a", "link")
	if target, err := link.Readlink(ctx); err != nil || target != "b/c.txt" {
		t.Fatalf("readlink %q %v", target, err)
	}

	a := walk(t, root, "a")
	nf := walk(t, a)
	_, _, wd, err := nf.Create(ctx, "new", p9.ReadWrite, 0o600, gid)
	must(t, err)
	fl, _ = unix.FcntlInt(wd.Fd(), unix.F_GETFL, 0)
	if fl&unix.O_ACCMODE != unix.O_RDWR {
		t.Fatalf("read-write create donated flags %#o", fl)
	}
	wd.Close()
	_, err = nf.WriteAt(ctx, []byte("written via 9P"), 0)
	must(t, err)
	must(t, nf.FSync(ctx, false))
	if b, _ := os.ReadFile(dir + "/a/new"); string(b) != "written via 9P" {
		t.Fatalf("host sees %q", b)
	}
	if _, _, _, err := walk(t, a).Create(ctx, "new", p9.ReadWrite, 0o600, gid); !errors.Is(err, unix.EEXIST) {
		t.Fatalf("create existing: %v", err)
	}
	_, err = a.Mkdir(ctx, "sub", 0o750, gid)
	must(t, err)
	_, err = a.Symlink(ctx, "sl", "/nowhere", gid)
	must(t, err)
	_, err = a.Mknod(ctx, "fifo", unix.S_IFIFO|0o600, 0, 0, gid)
	must(t, err)
	must(t, a.Link(ctx, nf, "hard"))
	must(t, a.RenameAt(ctx, "hard", root, "moved"))
	if st, err := os.Stat(dir + "/moved"); err != nil || st.Size() != 14 {
		t.Fatalf("renamed link: %v", err)
	}

	must(t, nf.SetAttr(ctx, p9.SetAttrMode|p9.SetAttrSize|p9.SetAttrMTime|p9.SetAttrMTimeSet,
		p9.SetAttr{Mode: 0o640, Size: 7, MTimeSec: 1_000_000}))
	st, err := os.Stat(dir + "/a/new")
	must(t, err)
	if st.Mode().Perm() != 0o640 || st.Size() != 7 || st.ModTime().Unix() != 1_000_000 {
		t.Fatalf("after setattr: %v %d %v", st.Mode(), st.Size(), st.ModTime())
	}

	must(t, nf.SetXattr(ctx, "user.k", []byte("v"), 0))
	if v, err := nf.GetXattr(ctx, "user.k"); err != nil || string(v) != "v" {
		t.Fatalf("getxattr %q %v", v, err)
	}
	if names, err := nf.ListXattr(ctx); err != nil || !reflect.DeepEqual(names, []string{"user.k"}) {
		t.Fatalf("listxattr %v %v", names, err)
	}
	must(t, nf.RemoveXattr(ctx, "user.k"))
	if _, err := nf.GetXattr(ctx, "user.k"); !errors.Is(err, unix.ENODATA) {
		t.Fatalf("removed xattr: %v", err)
	}

	if s, err := nf.Lock(ctx, p9.Lock{Type: p9.LockWrite}); err != nil || s != p9.LockSuccess {
		t.Fatalf("lock %v %v", s, err)
	}
	other := walk(t, a, "new")
	_, _, od, err := other.Open(ctx, p9.ReadWrite)
	must(t, err)
	od.Close()
	if s, err := other.Lock(ctx, p9.Lock{Type: p9.LockWrite}); err != nil || s != p9.LockBlocked {
		t.Fatalf("conflicting lock %v %v", s, err)
	}
	if l, err := other.GetLock(ctx, p9.Lock{Type: p9.LockRead}); err != nil || l.Type != p9.LockWrite {
		t.Fatalf("getlock %+v %v", l, err)
	}

	_, _, _, err = a.Open(ctx, p9.ReadOnly)
	must(t, err)
	var names []string
	for off := uint64(0); ; {
		ents, err := a.Readdir(ctx, off, 64)
		must(t, err)
		if len(ents) == 0 {
			break
		}
		for _, e := range ents {
			names = append(names, e.Name)
		}
		off = ents[len(ents)-1].Offset
	}
	sort.Strings(names)
	if want := []string{"b", "fifo", "link", "new", "sl", "sub"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("readdir %v, want %v", names, want)
	}
	must(t, root.UnlinkAt(ctx, "moved", 0))
	must(t, a.UnlinkAt(ctx, "sub", p9.RemoveDir))
	if err := root.UnlinkAt(ctx, "a", p9.RemoveDir); !errors.Is(err, unix.ENOTEMPTY) {
		t.Fatalf("rmdir non-empty: %v", err)
	}
	if err := nf.Remove(ctx); !errors.Is(err, unix.EOPNOTSUPP) {
		t.Fatalf("Tremove: %v", err)
	}
	if _, err := root.StatFS(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestReadOnlyExport(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/f", "data")
	must(t, os.Mkdir(dir+"/d", 0o755))
	before := snapshot(t, dir)
	_, root := serveDir(t, dir, true)
	gid := p9.GID(os.Getgid())
	f := walk(t, root, "f")
	d := walk(t, root, "d")
	for name, err := range map[string]error{
		"setattr":  f.SetAttr(ctx, p9.SetAttrMode, p9.SetAttr{Mode: 0o777}),
		"mkdir":    second(d.Mkdir(ctx, "x", 0o755, gid)),
		"mknod":    second(d.Mknod(ctx, "x", unix.S_IFIFO|0o644, 0, 0, gid)),
		"symlink":  second(d.Symlink(ctx, "x", "y", gid)),
		"link":     d.Link(ctx, f, "x"),
		"renameat": root.RenameAt(ctx, "f", d, "x"),
		"unlinkat": root.UnlinkAt(ctx, "f", 0),
		"setxattr": f.SetXattr(ctx, "user.x", []byte("1"), 0),
		"rmxattr":  f.RemoveXattr(ctx, "user.x"),
		"create":   fourth(walk(t, d).Create(ctx, "x", p9.ReadWrite, 0o644, gid)),
		"open-w":   fourth(walk(t, root, "f").Open(ctx, p9.WriteOnly)),
		"open-rw":  fourth(walk(t, root, "f").Open(ctx, p9.ReadWrite)),
		"trunc":    fourth(walk(t, root, "f").Open(ctx, p9.ReadOnly|p9.OpenTrunc)),
	} {
		if !errors.Is(err, unix.EROFS) {
			t.Errorf("%s on a read-only export: %v, want EROFS", name, err)
		}
	}
	_, _, donated, err := f.Open(ctx, p9.ReadOnly)
	must(t, err)
	if _, err := donated.Write([]byte("x")); err == nil {
		t.Fatal("donated fd of a read-only export is writable")
	}
	donated.Close()
	if after := snapshot(t, dir); !reflect.DeepEqual(before, after) {
		t.Fatalf("read-only export changed:\n%v\n%v", before, after)
	}
}

func second[T any](_ T, err error) error { return err }

func fourth[A, B, C any](_ A, _ B, _ C, err error) error { return err }

// snapshot records everything observable about a tree (by lstat, never
// following symlinks), including file contents.
func snapshot(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		desc := fmt.Sprintf("mode=%o uid=%d size=%d mtime=%d.%d ino=%d nlink=%d",
			st.Mode, st.Uid, st.Size, st.Mtim.Sec, st.Mtim.Nsec, st.Ino, st.Nlink)
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += " data=" + string(b)
		case unix.S_IFLNK:
			target, _ := os.Readlink(p)
			desc += " -> " + target
		}
		out[p[len(dir):]] = desc
		return nil
	})
	must(t, err)
	return out
}

// TestEscape plays a hostile client against a writable export that contains
// every kind of pointer to the outside, and checks that nothing outside is
// read, written, created or stat'ed.
func TestEscape(t *testing.T) {
	base := t.TempDir()
	outside := base + "/outside"
	dir := base + "/export"
	writeFile(t, outside+"/secret", "SECRET")
	writeFile(t, dir+"/d/inner", "inner")
	must(t, os.Symlink(outside+"/secret", dir+"/abs"))
	must(t, os.Symlink("../outside/secret", dir+"/rel"))
	must(t, os.Symlink("../outside", dir+"/reldir"))
	must(t, os.Symlink(outside, dir+"/absdir"))
	must(t, os.Symlink("../outside/new", dir+"/dangling"))
	outBefore := snapshot(t, outside)
	var secretSt unix.Stat_t
	must(t, unix.Stat(outside+"/secret", &secretSt))

	_, root := serveDir(t, dir, false)
	gid := p9.GID(os.Getgid())
	noSecret := func(what string, b []byte) {
		t.Helper()
		if bytes.Contains(b, []byte("SECRET")) {
			t.Fatalf("%s leaked the outside file", what)
		}
	}

	// Names that are not single components.
	for _, names := range [][]string{{".."}, {"d", ".."}, {"."}, {"/"}, {"../outside"}, {outside}, {"d/../.."}, {""}, {"a\x00b"}} {
		if _, _, err := root.Walk(ctx, names); !errors.Is(err, unix.EINVAL) {
			t.Errorf("walk %q: %v, want EINVAL", names, err)
		}
	}
	for _, name := range []string{"..", ".", "../x", "/abs", outside + "/x", ""} {
		if _, err := root.Mkdir(ctx, name, 0o777, gid); !errors.Is(err, unix.EINVAL) {
			t.Errorf("mkdir %q: %v", name, err)
		}
		if _, _, _, err := walk(t, root).Create(ctx, name, p9.ReadWrite, 0o666, gid); !errors.Is(err, unix.EINVAL) {
			t.Errorf("create %q: %v", name, err)
		}
		if err := root.RenameAt(ctx, "d", root, name); !errors.Is(err, unix.EINVAL) {
			t.Errorf("rename to %q: %v", name, err)
		}
		if err := root.UnlinkAt(ctx, name, 0); !errors.Is(err, unix.EINVAL) {
			t.Errorf("unlink %q: %v", name, err)
		}
	}

	// Symlinks are returned as symlinks and never followed.
	for _, name := range []string{"abs", "rel", "reldir", "absdir", "dangling"} {
		qids, l, _, attr, err := root.WalkGetAttr(ctx, []string{name})
		if err != nil || qids[0].Type != p9.QTSymlink || attr.Mode&unix.S_IFMT != unix.S_IFLNK {
			t.Fatalf("walk %s: %v %v %o", name, qids, err, attr.Mode)
		}
		if attr.Size == uint64(secretSt.Size) || qids[0].Path == secretSt.Ino {
			t.Fatalf("%s: stat'ed the target", name)
		}
		if _, _, _, err := l.Open(ctx, p9.ReadOnly); !errors.Is(err, unix.ELOOP) {
			t.Fatalf("open %s: %v", name, err)
		}
		noSecret("readlink", []byte(must1(l.Readlink(ctx))))
		if _, err := l.ReadAt(ctx, make([]byte, 10), 0); !errors.Is(err, unix.EBADF) {
			t.Fatalf("read unopened %s: %v", name, err)
		}
		if err := l.SetAttr(ctx, p9.SetAttrSize, p9.SetAttr{Size: 0}); !errors.Is(err, unix.EINVAL) {
			t.Fatalf("truncate via %s: %v", name, err)
		}
		if err := l.SetAttr(ctx, p9.SetAttrMode, p9.SetAttr{Mode: 0o777}); !errors.Is(err, unix.EOPNOTSUPP) {
			t.Fatalf("chmod via %s: %v", name, err)
		}
		must(t, l.SetAttr(ctx, p9.SetAttrMTime|p9.SetAttrMTimeSet, p9.SetAttr{MTimeSec: 12345}))
		if err := l.SetXattr(ctx, "user.x", []byte("1"), 0); !errors.Is(err, unix.EPERM) {
			t.Fatalf("setxattr via %s: %v", name, err)
		}
		if _, err := l.GetXattr(ctx, "user.x"); !errors.Is(err, unix.ENODATA) {
			t.Fatalf("getxattr via %s: %v", name, err)
		}
		// Walking through a symlink does not follow it: the walk stops
		// at the symlink (a partial walk).
		if qids, _, err := root.Walk(ctx, []string{name, "secret"}); !errors.Is(err, unix.ENOENT) || len(qids) != 1 || qids[0].Type != p9.QTSymlink {
			t.Fatalf("walk through %s: %v %v", name, qids, err)
		}
		if _, _, err := l.Walk(ctx, []string{"secret"}); !errors.Is(err, unix.ENOTDIR) {
			t.Fatalf("walk from symlink fid %s: %v", name, err)
		}
		// A hard link to the symlink links the symlink, not its target.
		must(t, root.Link(ctx, l, name+".hard"))
		var st unix.Stat_t
		must(t, unix.Lstat(dir+"/"+name+".hard", &st))
		if st.Mode&unix.S_IFMT != unix.S_IFLNK {
			t.Fatalf("hard link to %s is mode %o", name, st.Mode)
		}
		// Creating over a (dangling) symlink never writes through it.
		if _, _, _, err := walk(t, root).Create(ctx, name, p9.ReadWrite|p9.OpenTrunc, 0o666, gid); !errors.Is(err, unix.EEXIST) {
			t.Fatalf("create over %s: %v", name, err)
		}
		if _, err := root.Mkdir(ctx, name, 0o777, gid); !errors.Is(err, unix.EEXIST) {
			t.Fatalf("mkdir over %s: %v", name, err)
		}
	}

	// A directory swapped for a symlink between walks.
	d := walk(t, root, "d")
	must(t, os.Rename(dir+"/d", dir+"/d.old"))
	must(t, os.Symlink("../outside", dir+"/d"))
	if qids, _, err := root.Walk(ctx, []string{"d", "secret"}); !errors.Is(err, unix.ENOENT) || len(qids) != 1 || qids[0].Type != p9.QTSymlink {
		t.Fatalf("walk through swapped dir: %v %v", qids, err)
	}
	if _, _, err := d.Walk(ctx, []string{"secret"}); !errors.Is(err, unix.ENOENT) {
		t.Fatalf("held fid followed the swap: %v", err)
	}
	nf := walk(t, d)
	_, _, df, err := nf.Create(ctx, "created", p9.ReadWrite, 0o644, gid)
	must(t, err)
	df.Close()
	if _, err := os.Stat(dir + "/d.old/created"); err != nil {
		t.Fatalf("create through held fid went elsewhere: %v", err)
	}
	_, err = d.Mkdir(ctx, "sub", 0o755, gid)
	must(t, err)
	must(t, d.RenameAt(ctx, "inner", d, "inner2"))

	// A fid of another export (another connection) cannot be linked in:
	// fids are per connection, so the client refuses to send it.
	other := t.TempDir()
	writeFile(t, other+"/o", "other export")
	_, oroot := serveDir(t, other, false)
	if err := root.Link(ctx, walk(t, oroot, "o"), "x"); !errors.Is(err, unix.EXDEV) {
		t.Fatalf("link across connections: %v", err)
	}

	// Device nodes: refused to create, and refused to open if present.
	if _, err := root.Mknod(ctx, "zero", unix.S_IFCHR|0o666, 1, 5, gid); !errors.Is(err, unix.EPERM) {
		t.Fatalf("mknod char device: %v", err)
	}
	if _, err := root.Mknod(ctx, "blk", unix.S_IFBLK|0o666, 8, 0, gid); !errors.Is(err, unix.EPERM) {
		t.Fatalf("mknod block device: %v", err)
	}
	if after := snapshot(t, outside); !reflect.DeepEqual(outBefore, after) {
		t.Fatalf("outside changed:\n%v\n%v", outBefore, after)
	}
	if _, err := os.Lstat(outside + "/new"); err == nil {
		t.Fatal("file created outside")
	}
}

func must1[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestEscapeDeviceNode runs as root (in CI): a device node inside the export
// must not give access to the device.
func TestEscapeDeviceNode(t *testing.T) {
	needRoot(t, "mknod of a character device")
	dir := t.TempDir()
	must(t, unix.Mknod(dir+"/null", unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	must(t, unix.Mknod(dir+"/blk", unix.S_IFBLK|0o666, int(unix.Mkdev(7, 0))))
	_, root := serveDir(t, dir, false)
	for _, name := range []string{"null", "blk"} {
		f := walk(t, root, name)
		for _, fl := range []p9.OpenFlags{p9.ReadOnly, p9.WriteOnly, p9.ReadWrite} {
			if _, _, _, err := f.Open(ctx, fl); !errors.Is(err, unix.EPERM) {
				t.Errorf("open %s %v: %v", name, fl, err)
			}
		}
		if _, err := f.WriteAt(ctx, []byte("x"), 0); !errors.Is(err, unix.EBADF) {
			t.Errorf("write %s: %v", name, err)
		}
		if err := f.SetAttr(ctx, p9.SetAttrSize, p9.SetAttr{}); !errors.Is(err, unix.EINVAL) {
			t.Errorf("truncate %s: %v", name, err)
		}
	}
}
