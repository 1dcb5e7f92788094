package gofer_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
	"runsc.dev/runsc/sentry/fs/gofer"
)

func writeFile(t testing.TB, path, data string) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Dir(path), 0o755))
	must(t, os.WriteFile(path, []byte(data), 0o644))
}

func hostStat(t testing.TB, path string) *syscall.Stat_t {
	t.Helper()
	fi, err := os.Lstat(path)
	must(t, err)
	return fi.Sys().(*syscall.Stat_t)
}

var modes = []gofer.CacheMode{gofer.Exclusive, gofer.Shared}

func TestReadOnlyTree(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir+"/a/b/c/file", "hello gofer")
			must(t, os.Symlink("b/c/file", dir+"/a/link"))
			must(t, os.Symlink("/a/b", dir+"/abs"))
			v, ctx, g := mount(t, dir, mode)
			root := v.Root()

			st, err := v.Stat(ctx, root, "a/b/c/file", 0)
			must(t, err)
			hs := hostStat(t, dir+"/a/b/c/file")
			if st.Size != 11 || st.Mode != hs.Mode || st.Nlink != 1 || st.UID != hs.Uid {
				t.Fatalf("stat = %+v, host %+v", st, hs)
			}
			if st.Mtime.Sec != hs.Mtim.Sec || st.Mtime.Nsec != hs.Mtim.Nsec {
				t.Fatalf("mtime %v, host %v", st.Mtime, hs.Mtim)
			}
			if got := readAll(t, v, ctx, "a/link"); got != "hello gofer" {
				t.Fatalf("read through link = %q", got)
			}
			if got := readAll(t, v, ctx, "abs/c/file"); got != "hello gofer" {
				t.Fatalf("read through absolute link = %q", got)
			}
			target, err := v.Readlink(ctx, root, "a/link")
			must(t, err)
			if target != "b/c/file" {
				t.Fatalf("readlink = %q", target)
			}
			if got := names(t, v, ctx, "a"); !reflect.DeepEqual(got, []string{"b", "link"}) {
				t.Fatalf("readdir a = %v", got)
			}
			if got := names(t, v, ctx, "/"); !reflect.DeepEqual(got, []string{"a", "abs"}) {
				t.Fatalf("readdir / = %v", got)
			}
			fd, err := v.Open(ctx, root, "a/b/c/file", fs.OpenHow{Flags: unix.O_RDONLY})
			must(t, err)
			if fd.HostFD() < 0 {
				t.Fatal("no donated host fd")
			}
			var hst unix.Stat_t
			must(t, unix.Fstat(fd.HostFD(), &hst))
			if hst.Ino != hs.Ino {
				t.Fatalf("host fd is inode %d, want %d", hst.Ino, hs.Ino)
			}
			buf := make([]byte, 5)
			n, err := fd.Pread(buf, 6)
			must(t, err)
			if string(buf[:n]) != "gofer" {
				t.Fatalf("pread = %q", buf[:n])
			}
			must(t, fd.Close())

			_, err = v.Stat(ctx, root, "a/missing", 0)
			wantErr(t, err, unix.ENOENT)
			_, err = v.Stat(ctx, root, "a/b/c/file/x", 0)
			wantErr(t, err, unix.ENOTDIR)
			_, err = v.Readlink(ctx, root, "a/b")
			wantErr(t, err, unix.EINVAL)

			sfs, err := v.StatFS(ctx, root, "a")
			must(t, err)
			var hsfs unix.Statfs_t
			must(t, unix.Statfs(dir, &hsfs))
			if sfs.Type != hsfs.Type || sfs.Bsize != hsfs.Bsize || sfs.Blocks != hsfs.Blocks {
				t.Fatalf("statfs = %+v, host %+v", sfs, hsfs)
			}
			if g.Type() != "9p" {
				t.Fatalf("type %q", g.Type())
			}
		})
	}
}

func TestMutations(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			v, ctx, _ := mount(t, dir, mode)
			root := v.Root()

			must(t, v.Mkdir(ctx, root, "d", 0o750))
			if st := hostStat(t, dir+"/d"); st.Mode != unix.S_IFDIR|0o750 {
				t.Fatalf("host mode %o", st.Mode)
			}
			fd, err := v.Open(ctx, root, "d/f", fs.OpenHow{Flags: unix.O_CREAT | unix.O_RDWR | unix.O_EXCL, Mode: 0o640})
			must(t, err)
			if _, err := fd.Write([]byte("0123456789")); err != nil {
				t.Fatal(err)
			}
			st, err := fd.Stat()
			must(t, err)
			if st.Size != 10 || st.Mode != unix.S_IFREG|0o640 {
				t.Fatalf("fstat after write = %+v", st)
			}
			must(t, fd.Close())
			if b, _ := os.ReadFile(dir + "/d/f"); string(b) != "0123456789" {
				t.Fatalf("host content %q", b)
			}
			_, err = v.Open(ctx, root, "d/f", fs.OpenHow{Flags: unix.O_CREAT | unix.O_EXCL | unix.O_RDWR, Mode: 0o600})
			wantErr(t, err, unix.EEXIST)

			// O_TRUNC and O_APPEND.
			fd, err = v.Open(ctx, root, "d/f", fs.OpenHow{Flags: unix.O_WRONLY | unix.O_TRUNC | unix.O_APPEND})
			must(t, err)
			fd.Write([]byte("ab"))
			fd.Write([]byte("cd"))
			must(t, fd.Close())
			if b, _ := os.ReadFile(dir + "/d/f"); string(b) != "abcd" {
				t.Fatalf("host content after trunc+append %q", b)
			}
			st, err = v.Stat(ctx, root, "d/f", 0)
			must(t, err)
			if st.Size != 4 {
				t.Fatalf("size %d after trunc+append", st.Size)
			}

			must(t, v.Symlink(ctx, "f", root, "d/l"))
			if tg, _ := os.Readlink(dir + "/d/l"); tg != "f" {
				t.Fatalf("host symlink %q", tg)
			}
			must(t, v.Link(ctx, root, "d/f", root, "h", 0))
			st, err = v.Stat(ctx, root, "h", 0)
			must(t, err)
			if st.Nlink != 2 || st.Ino != hostStat(t, dir+"/d/f").Ino {
				t.Fatalf("link: %+v", st)
			}
			st, err = v.Stat(ctx, root, "d/f", 0)
			must(t, err)
			if st.Nlink != 2 {
				t.Fatalf("nlink of first name %d", st.Nlink)
			}
			must(t, v.Mknod(ctx, root, "fifo", unix.S_IFIFO|0o600, 0))
			if st := hostStat(t, dir+"/fifo"); st.Mode != unix.S_IFIFO|0o600 {
				t.Fatalf("fifo mode %o", st.Mode)
			}

			// setattr.
			must(t, v.Chmod(ctx, root, "h", 0o604, 0))
			st, err = v.Stat(ctx, root, "d/f", 0)
			must(t, err)
			if st.Mode != unix.S_IFREG|0o604 || hostStat(t, dir+"/d/f").Mode != unix.S_IFREG|0o604 {
				t.Fatalf("chmod through the other link: %o", st.Mode)
			}
			must(t, v.Chown(ctx, root, "h", 1234, 5678, 0))
			if hs := hostStat(t, dir+"/h"); hs.Uid != 1234 || hs.Gid != 5678 {
				t.Fatalf("host owner %d:%d", hs.Uid, hs.Gid)
			}
			times := [2]unix.Timespec{{Sec: 1000, Nsec: 5}, {Sec: 2000, Nsec: 7}}
			must(t, v.Utimens(ctx, root, "h", &times, 0))
			st, err = v.Stat(ctx, root, "d/f", 0)
			must(t, err)
			if st.Atime != times[0] || st.Mtime != times[1] || st.UID != 1234 {
				t.Fatalf("after utimens %+v", st)
			}
			if hs := hostStat(t, dir+"/h"); hs.Mtim.Sec != times[1].Sec || hs.Mtim.Nsec != times[1].Nsec {
				t.Fatalf("host mtime %v", hs.Mtim)
			}
			must(t, v.Truncate(ctx, root, "h", 1))
			if b, _ := os.ReadFile(dir + "/h"); string(b) != "a" {
				t.Fatalf("host after truncate %q", b)
			}

			// xattrs.
			must(t, v.Setxattr(ctx, root, "h", 0, "user.k", []byte("v1"), 0))
			val, err := v.Getxattr(ctx, root, "d/f", 0, "user.k")
			must(t, err)
			if string(val) != "v1" {
				t.Fatalf("getxattr %q", val)
			}
			hv := make([]byte, 16)
			if n, err := unix.Getxattr(dir+"/h", "user.k", hv); err != nil || string(hv[:n]) != "v1" {
				t.Fatalf("host getxattr %q %v", hv[:n], err)
			}
			xs, err := v.Listxattr(ctx, root, "h", 0)
			must(t, err)
			if !reflect.DeepEqual(xs, []string{"user.k"}) {
				t.Fatalf("listxattr %v", xs)
			}
			err = v.Setxattr(ctx, root, "h", 0, "user.k", []byte("v2"), unix.XATTR_CREATE)
			wantErr(t, err, unix.EEXIST)
			must(t, v.Removexattr(ctx, root, "h", 0, "user.k"))
			_, err = v.Getxattr(ctx, root, "h", 0, "user.k")
			wantErr(t, err, unix.ENODATA)

			// rename: file within a directory, over an existing file,
			// a directory to a new parent.
			must(t, v.Rename(ctx, root, "h", root, "d/g", 0))
			if _, err := os.Lstat(dir + "/h"); !os.IsNotExist(err) {
				t.Fatalf("old name still on host: %v", err)
			}
			_, err = v.Stat(ctx, root, "h", 0)
			wantErr(t, err, unix.ENOENT)
			writeFile(t, dir+"/other", "x")
			must(t, v.Rename(ctx, root, "other", root, "d/g", 0))
			st, err = v.Stat(ctx, root, "d/f", 0)
			must(t, err)
			if st.Nlink != 1 {
				t.Fatalf("nlink of d/f after its link was renamed over: %d", st.Nlink)
			}
			if got := readAll(t, v, ctx, "d/g"); got != "x" {
				t.Fatalf("renamed-over content %q", got)
			}
			must(t, v.Mkdir(ctx, root, "e", 0o755))
			must(t, v.Rename(ctx, root, "d", root, "e/d2", 0))
			if got := names(t, v, ctx, "e/d2"); !reflect.DeepEqual(got, []string{"f", "g", "l"}) {
				t.Fatalf("moved dir lists %v", got)
			}
			if got := names(t, v, ctx, "/"); !reflect.DeepEqual(got, []string{"e", "fifo"}) {
				t.Fatalf("root lists %v", got)
			}
			loc, err := v.Lookup(ctx, root, "e/d2/f", 0)
			must(t, err)
			if p := v.PathOf(root, loc); p != "/e/d2/f" {
				t.Fatalf("PathOf moved file = %q", p)
			}
			err = v.Rename(ctx, root, "e", root, "e/d2/x", 0)
			wantErr(t, err, unix.EINVAL)

			// unlink and rmdir.
			err = v.Rmdir(ctx, root, "e/d2")
			wantErr(t, err, unix.ENOTEMPTY)
			for _, n := range []string{"f", "g", "l"} {
				must(t, v.Unlink(ctx, root, "e/d2/"+n))
			}
			wantErr(t, v.Unlink(ctx, root, "e/d2"), unix.EISDIR)
			must(t, v.Rmdir(ctx, root, "e/d2"))
			if _, err := os.Lstat(dir + "/e/d2"); !os.IsNotExist(err) {
				t.Fatalf("rmdir left %v", err)
			}
			if got := names(t, v, ctx, "e"); len(got) != 0 {
				t.Fatalf("e lists %v", got)
			}
			// A removed file stays usable through a held location.
			must(t, v.Mknod(ctx, root, "e/held", unix.S_IFREG|0o644, 0))
			loc, err = v.Lookup(ctx, root, "e/held", 0)
			must(t, err)
			must(t, v.Unlink(ctx, root, "e/held"))
			st, err = v.Stat(ctx, loc, "", unix.AT_EMPTY_PATH)
			must(t, err)
			if st.Nlink != 0 {
				t.Fatalf("nlink of unlinked file %d", st.Nlink)
			}
			if p := v.PathOf(root, loc); p != "/e/held (deleted)" {
				t.Fatalf("PathOf unlinked = %q", p)
			}
		})
	}
}

// TestDentryIdentity checks that a name resolves to the same dentry every
// time, in both modes, while the file does not change.
func TestDentryIdentity(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir+"/a/b/f", "")
			v, ctx, _ := mount(t, dir, mode)
			l1, err := v.Lookup(ctx, v.Root(), "a/b/f", 0)
			must(t, err)
			l2, err := v.Lookup(ctx, v.Root(), "a/b/f", 0)
			must(t, err)
			if l1 != l2 {
				t.Fatal("two lookups gave different dentries")
			}
			if n := l1.Dentry.(fs.Namer).Name(); n != "f" {
				t.Fatalf("Name = %q", n)
			}
			if p := v.PathOf(v.Root(), l1); p != "/a/b/f" {
				t.Fatalf("PathOf = %q", p)
			}
		})
	}
}

func TestSharedSeesHost(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/d/f", "one")
	v, ctx, _ := mount(t, dir, gofer.Shared)
	root := v.Root()
	_, err := v.Stat(ctx, root, "d/new", 0)
	wantErr(t, err, unix.ENOENT)
	old, err := v.Lookup(ctx, root, "d/f", 0)
	must(t, err)
	names(t, v, ctx, "d")

	writeFile(t, dir+"/d/new", "new")
	must(t, os.WriteFile(dir+"/d/f", []byte("longer"), 0o644))
	st, err := v.Stat(ctx, root, "d/new", 0)
	must(t, err)
	if st.Size != 3 {
		t.Fatalf("new file size %d", st.Size)
	}
	st, err = v.Stat(ctx, root, "d/f", 0)
	must(t, err)
	if st.Size != 6 {
		t.Fatalf("changed file size %d", st.Size)
	}
	if got := names(t, v, ctx, "d"); !reflect.DeepEqual(got, []string{"f", "new"}) {
		t.Fatalf("readdir after host create = %v", got)
	}

	// Replace f on the host: the old dentry is dropped for the name.
	must(t, os.Remove(dir+"/d/f"))
	must(t, os.Mkdir(dir+"/d/f", 0o700))
	st, err = v.Stat(ctx, root, "d/f", 0)
	must(t, err)
	if !st.IsDir() {
		t.Fatalf("replaced name is %o", st.Mode)
	}
	cur, err := v.Lookup(ctx, root, "d/f", 0)
	must(t, err)
	if cur == old {
		t.Fatal("stale dentry kept for a replaced file")
	}
	must(t, os.Remove(dir+"/d/new"))
	_, err = v.Stat(ctx, root, "d/new", 0)
	wantErr(t, err, unix.ENOENT)
	if got := names(t, v, ctx, "d"); !reflect.DeepEqual(got, []string{"f"}) {
		t.Fatalf("readdir after host remove = %v", got)
	}
	// Attributes changed on the host are seen on the next stat.
	must(t, os.Chmod(dir+"/d/f", 0o711))
	st, err = v.Stat(ctx, root, "d/f", 0)
	must(t, err)
	if st.Mode != unix.S_IFDIR|0o711 {
		t.Fatalf("mode after host chmod %o", st.Mode)
	}
}

func TestExclusiveCaches(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/a/b/c/f", "data")
	var c counter
	v, ctx, _ := mountSock(t, c.proxy(t, serve(t, dir, false)), gofer.Exclusive)
	root := v.Root()
	stat := func(p string) {
		if _, err := v.Stat(ctx, root, p, 0); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	if n := c.count(func() { stat("a/b/c/f") }); n != 5 {
		t.Errorf("cold stat of a 4-deep path: %d requests, want 5 (one walk+getattr each, the file's clunk)", n)
	}
	if n := c.count(func() { stat("a/b/c/f") }); n != 0 {
		t.Errorf("cached stat: %d requests, want 0", n)
	}
	stat("a/b/missing")
	if n := c.count(func() { stat("a/b/missing") }); n != 0 {
		t.Errorf("cached negative lookup: %d requests, want 0", n)
	}
	names(t, v, ctx, "a/b")
	if n := c.count(func() { names(t, v, ctx, "a/b") }); n != 0 {
		t.Errorf("cached readdir: %d requests, want 0", n)
	}
	// The host changing is not seen: that is what exclusive means.
	writeFile(t, dir+"/a/b/late", "")
	stat("a/b/late")
	if _, err := v.Stat(ctx, root, "a/b/late", 0); err != unix.ENOENT {
		t.Errorf("exclusive mode saw a host-side create: %v", err)
	}
	// Own mutations keep the cache right.
	must(t, v.Mkdir(ctx, root, "a/b/m", 0o755))
	if got := names(t, v, ctx, "a/b"); !reflect.DeepEqual(got, []string{"c", "m"}) {
		t.Errorf("readdir after mkdir = %v", got)
	}
	if n := c.count(func() { stat("a/b/m/none") }); n != 0 {
		t.Errorf("lookup in a new directory: %d requests, want 0", n)
	}

	// Read-only opens after the first reopen a cached handle: no round
	// trips, and each open is its own open file description.
	open := func() *fs.FileDescription {
		fd, err := v.Open(ctx, root, "a/b/c/f", fs.OpenHow{Flags: unix.O_RDONLY})
		must(t, err)
		return fd
	}
	open().Close()
	var f1, f2 *fs.FileDescription
	if n := c.count(func() { f1, f2 = open(), open() }); n != 0 {
		t.Errorf("cached read-only opens: %d requests, want 0", n)
	}
	if f1.HostFD() < 0 || f2.HostFD() < 0 || f1.HostFD() == f2.HostFD() {
		t.Fatalf("host fds %d and %d", f1.HostFD(), f2.HostFD())
	}
	if _, err := unix.Seek(f1.HostFD(), 3, 0); err != nil {
		t.Fatal(err)
	}
	if off, _ := unix.Seek(f2.HostFD(), 0, 1); off != 0 {
		t.Errorf("reopened fds share an offset: %d", off)
	}
	f1.Close()
	f2.Close()

	// xattrs: values and ENODATA are cached, and forgotten on a change.
	getx := func(name string) string {
		b, err := v.Getxattr(ctx, root, "a/b/c/f", 0, name)
		if err != nil {
			return err.Error()
		}
		return string(b)
	}
	must(t, v.Setxattr(ctx, root, "a/b/c/f", 0, "user.k", []byte("v1"), 0))
	getx("user.k")
	getx("user.none")
	if n := c.count(func() { getx("user.k"); getx("user.none") }); n != 0 {
		t.Errorf("cached getxattr: %d requests, want 0", n)
	}
	must(t, v.Setxattr(ctx, root, "a/b/c/f", 0, "user.k", []byte("v2"), 0))
	if got := getx("user.k"); got != "v2" {
		t.Errorf("getxattr after setxattr = %q", got)
	}
	wfd, err := v.Open(ctx, root, "a/b/c/f", fs.OpenHow{Flags: unix.O_WRONLY})
	must(t, err)
	if n := c.count(func() { getx("user.k") }); n == 0 {
		t.Error("getxattr served from the cache while the file is open for writing")
	}
	wfd.Close()

	var sc counter
	sv, sctx, _ := mountSock(t, sc.proxy(t, serve(t, dir, false)), gofer.Shared)
	if _, err := sv.Stat(sctx, sv.Root(), "a/b/c/f", 0); err != nil {
		t.Fatal(err)
	}
	n := sc.count(func() {
		if _, err := sv.Stat(sctx, sv.Root(), "a/b/c/f", 0); err != nil {
			t.Fatal(err)
		}
	})
	if n == 0 {
		t.Error("shared stat sent no requests")
	}
	t.Logf("shared stat of a 4-deep path: %d requests", n)
}

// TestReaddirStable lists a big directory in small pieces while it
// changes: every entry present throughout must come back exactly once.
func TestReaddirStable(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			const n = 300
			for i := range n {
				writeFile(t, fmt.Sprintf("%s/d/f%03d", dir, i), "")
			}
			v, ctx, _ := mount(t, dir, mode)
			fd, err := v.Open(ctx, v.Root(), "d", fs.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY})
			must(t, err)
			defer fd.Close()
			seen := map[string]int{}
			round := 0
			for {
				got := 0
				must(t, fd.Getdents(func(e fs.DirEntry) bool {
					if got == 7 {
						return false
					}
					got++
					seen[e.Name]++
					return true
				}))
				if got == 0 {
					break
				}
				// Churn for a while: remove a not-yet-listed file,
				// rename another, create a new one (which a reader that
				// has not reached the end sees: it sorts last).
				round++
				if round < 60 && round%3 == 0 {
					must(t, v.Unlink(ctx, v.Root(), fmt.Sprintf("d/f%03d", n-1-round)))
				}
				if round < 60 && round%5 == 0 {
					name := fmt.Sprintf("d/f%03d", n/2+round)
					must(t, v.Rename(ctx, v.Root(), name, v.Root(), name+"r", 0))
				}
				if round < 60 {
					must(t, v.Mknod(ctx, v.Root(), fmt.Sprintf("d/new%d", round), unix.S_IFREG|0o644, 0))
				}
			}
			for i := range n / 2 {
				name := fmt.Sprintf("f%03d", i)
				if seen[name] != 1 {
					t.Errorf("%s seen %d times", name, seen[name])
				}
			}
			for name, c := range seen {
				if c != 1 {
					t.Errorf("%s seen %d times", name, c)
				}
			}
		})
	}
}

// TestNoDonation runs I/O over 9P reads and writes when no fd is donated:
// a stream socket cannot carry fds.
func TestNoDonation(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/f", "over 9p")
	e, err := newStreamServer(t, dir)
	must(t, err)
	v, ctx, _ := mountSock(t, e, gofer.Exclusive)
	fd, err := v.Open(ctx, v.Root(), "f", fs.OpenHow{Flags: unix.O_RDWR})
	must(t, err)
	defer fd.Close()
	if fd.HostFD() != -1 {
		t.Fatalf("HostFD %d over a stream socket", fd.HostFD())
	}
	buf := make([]byte, 64)
	n, err := fd.Read(buf)
	must(t, err)
	if string(buf[:n]) != "over 9p" {
		t.Fatalf("read %q", buf[:n])
	}
	if _, err := fd.Pwrite([]byte("OVER"), 0); err != nil {
		t.Fatal(err)
	}
	st, err := fd.Stat()
	must(t, err)
	if st.Size != 7 {
		t.Fatalf("size %d", st.Size)
	}
	if _, err := fd.Pwrite([]byte("!!"), 7); err != nil {
		t.Fatal(err)
	}
	st, err = fd.Stat()
	must(t, err)
	if st.Size != 9 {
		t.Fatalf("size after extending write %d", st.Size)
	}
	if b, _ := os.ReadFile(dir + "/f"); !bytes.Equal(b, []byte("OVER 9p!!")) {
		t.Fatalf("host content %q", b)
	}
}

// TestHandleLimit reads many files: the cached read-only handles stay
// bounded, and the gofer holds no fid (no O_PATH fd) per file looked up,
// so neither fd table grows with every file read.
func TestHandleLimit(t *testing.T) {
	dir := t.TempDir()
	const n = 1200
	for i := range n {
		writeFile(t, fmt.Sprintf("%s/f%d", dir, i), "x")
	}
	v, ctx, _ := mount(t, dir, gofer.Exclusive)
	// fds of files in dir, the gofer's (in this process too) included:
	// two opened ones per cached handle.
	count := func() (opened, paths int) {
		ents, err := os.ReadDir("/proc/self/fd")
		must(t, err)
		for _, e := range ents {
			target, err := os.Readlink("/proc/self/fd/" + e.Name())
			if err != nil || !strings.HasPrefix(target, dir+"/") {
				continue
			}
			var pos, flags int
			info, err := os.ReadFile("/proc/self/fdinfo/" + e.Name())
			if err != nil {
				continue
			}
			fmt.Sscanf(string(info), "pos:\t%d\nflags:\t%o", &pos, &flags)
			if flags&unix.O_PATH != 0 {
				paths++
			} else {
				opened++
			}
		}
		return opened, paths
	}
	for i := range n {
		if got := readAll(t, v, ctx, fmt.Sprintf("f%d", i)); got != "x" {
			t.Fatalf("f%d: %q", i, got)
		}
	}
	time.Sleep(50 * time.Millisecond) // clunks are asynchronous
	opened, paths := count()
	if opened > 2*1024+16 {
		t.Errorf("%d opened fds after reading %d files", opened, n)
	}
	// Each cached handle's fid still holds its O_PATH fd in the gofer.
	if paths > 1024+16 {
		t.Errorf("%d O_PATH fds after reading %d files", paths, n)
	}
	t.Logf("after reading %d files: %d opened fds, %d O_PATH fds", n, opened, paths)
}

// TestRoundTrips logs how many 9P requests common operations cost in each
// mode (go test -v -run RoundTrips); the numbers are in docs/PERFORMANCE.md.
func TestRoundTrips(t *testing.T) {
	for _, mode := range modes {
		dir := t.TempDir()
		writeFile(t, dir+"/a/b/c/f", "data")
		var c counter
		v, ctx, _ := mountSock(t, c.proxy(t, serve(t, dir, false)), mode)
		root := v.Root()
		step := func(what string, run func() error) {
			var err error
			// Clunks are sent asynchronously: let them land so each
			// operation is charged with its own.
			n := c.count(func() {
				err = run()
				time.Sleep(20 * time.Millisecond)
			})
			must(t, err)
			t.Logf("%-9s %-28s %d", mode, what, n)
		}
		stat := func() error { _, err := v.Stat(ctx, root, "a/b/c/f", 0); return err }
		open := func(flags int) func() error {
			return func() error {
				fd, err := v.Open(ctx, root, "a/b/c/f", fs.OpenHow{Flags: flags})
				if err == nil {
					fd.Close()
				}
				return err
			}
		}
		step("stat a/b/c/f (cold)", stat)
		step("stat a/b/c/f (again)", stat)
		step("open O_RDONLY (first)", open(unix.O_RDONLY))
		step("open O_RDONLY (again)", open(unix.O_RDONLY))
		step("open O_RDWR", open(unix.O_RDWR))
		step("getdents a/b/c", func() error { names(t, v, ctx, "a/b/c"); return nil })
		step("getdents a/b/c (again)", func() error { names(t, v, ctx, "a/b/c"); return nil })
		step("mkdir a/b/c/d", func() error { return v.Mkdir(ctx, root, "a/b/c/d", 0o755) })
		step("creat a/b/c/g", func() error {
			fd, err := v.Open(ctx, root, "a/b/c/g", fs.OpenHow{Flags: unix.O_CREAT | unix.O_WRONLY, Mode: 0o644})
			if err == nil {
				fd.Close()
			}
			return err
		})
		step("chmod a/b/c/g", func() error { return v.Chmod(ctx, root, "a/b/c/g", 0o600, 0) })
		step("rename g -> h", func() error { return v.Rename(ctx, root, "a/b/c/g", root, "a/b/c/h", 0) })
		step("unlink a/b/c/h", func() error { return v.Unlink(ctx, root, "a/b/c/h") })
	}
}

// TestConcurrent runs lookups, stats, listings, opens and reads from many
// goroutines (queries share the VFS's read lock) while another goroutine
// changes the tree; run with -race.
func TestConcurrent(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			for i := range 20 {
				writeFile(t, fmt.Sprintf("%s/d%d/f", dir, i%4), "content")
			}
			v, ctx, _ := mount(t, dir, mode)
			root := v.Root()
			stop := make(chan struct{})
			errs := make(chan error, 16)
			for g := range 6 {
				go func() {
					for i := 0; ; i++ {
						select {
						case <-stop:
							errs <- nil
							return
						default:
						}
						p := fmt.Sprintf("d%d/f", (g+i)%4)
						if _, err := v.Stat(ctx, root, p, 0); err != nil {
							errs <- err
							return
						}
						fd, err := v.Open(ctx, root, p, fs.OpenHow{Flags: unix.O_RDONLY})
						if err != nil {
							errs <- err
							return
						}
						buf := make([]byte, 16)
						if n, err := fd.Read(buf); err != nil || string(buf[:n]) != "content" {
							errs <- fmt.Errorf("read %q %v", buf[:n], err)
							return
						}
						fd.Close()
						dfd, err := v.Open(ctx, root, fmt.Sprintf("d%d", i%4), fs.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY})
						if err != nil {
							errs <- err
							return
						}
						if err := dfd.Getdents(func(fs.DirEntry) bool { return true }); err != nil {
							errs <- err
							return
						}
						dfd.Close()
					}
				}()
			}
			for i := range 60 {
				p := fmt.Sprintf("d%d/x%d", i%4, i)
				must(t, v.Mknod(ctx, root, p, unix.S_IFREG|0o644, 0))
				must(t, v.Rename(ctx, root, p, root, p+"y", 0))
				must(t, v.Chmod(ctx, root, p+"y", 0o600, 0))
				must(t, v.Unlink(ctx, root, p+"y"))
			}
			close(stop)
			for range 6 {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestSharedReaddirHostChurn lists a directory in pieces while the host
// changes it: entries present throughout come back exactly once, and the
// next listing shows the host's changes.
func TestSharedReaddirHostChurn(t *testing.T) {
	dir := t.TempDir()
	const n = 100
	for i := range n {
		writeFile(t, fmt.Sprintf("%s/d/f%03d", dir, i), "")
	}
	v, ctx, _ := mount(t, dir, gofer.Shared)
	fd, err := v.Open(ctx, v.Root(), "d", fs.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY})
	must(t, err)
	defer fd.Close()
	seen := map[string]int{}
	for round := 0; ; round++ {
		got := 0
		must(t, fd.Getdents(func(e fs.DirEntry) bool {
			if got == 10 {
				return false
			}
			got++
			seen[e.Name]++
			return true
		}))
		if got == 0 {
			break
		}
		if round < 5 {
			must(t, os.Remove(fmt.Sprintf("%s/d/f%03d", dir, n-1-round)))
			writeFile(t, fmt.Sprintf("%s/d/host%d", dir, round), "")
		}
	}
	for i := range n - 5 {
		if name := fmt.Sprintf("f%03d", i); seen[name] != 1 {
			t.Errorf("%s seen %d times", name, seen[name])
		}
	}
	got := names(t, v, ctx, "d")
	if len(got) != n || got[len(got)-1] != "host4" || got[0] != "f000" {
		t.Errorf("next listing has %d entries: %v ... %v", len(got), got[:2], got[len(got)-2:])
	}
}

// TestUnlinkedOpenFile changes and reads an open file after its last name
// is gone, through a read-write and an O_PATH description.
func TestUnlinkedOpenFile(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir+"/f", "data")
			v, ctx, _ := mount(t, dir, mode)
			root := v.Root()
			fd, err := v.Open(ctx, root, "f", fs.OpenHow{Flags: unix.O_RDWR})
			must(t, err)
			defer fd.Close()
			pfd, err := v.Open(ctx, root, "f", fs.OpenHow{Flags: unix.O_PATH})
			must(t, err)
			defer pfd.Close()
			must(t, v.Unlink(ctx, root, "f"))
			if _, err := os.Lstat(dir + "/f"); !os.IsNotExist(err) {
				t.Fatalf("host still has f: %v", err)
			}
			must(t, v.ChmodLoc(ctx, fd.Loc(), 0o600))
			must(t, v.ChmodLoc(ctx, pfd.Loc(), 0o640))
			st, err := pfd.Stat()
			must(t, err)
			if st.Nlink != 0 || st.Mode != unix.S_IFREG|0o640 || st.Size != 4 {
				t.Fatalf("fstat of unlinked file: %+v", st)
			}
			if _, err := fd.Pwrite([]byte("DATA!"), 0); err != nil {
				t.Fatal(err)
			}
			if st, err = fd.Stat(); err != nil || st.Size != 5 {
				t.Fatalf("size after write %d %v", st.Size, err)
			}
		})
	}
}
