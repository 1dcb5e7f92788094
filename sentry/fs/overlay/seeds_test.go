package overlay

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
	"runsc.dev/runsc/sentry/fs/ramfs"
	"runsc.dev/runsc/sentry/fs/tmpfs"
)

// rootfs makes a lower shaped like a small Alpine root file system.
func rootfs(t testing.TB) *ramfs.FS {
	return layer(t, func(n *ns) {
		for _, d := range []string{"/dev", "/home", "/media", "/mnt", "/opt", "/proc", "/root", "/run", "/srv", "/sys", "/tmp", "/var/empty"} {
			n.mkdirAll(d)
		}
		n.write("/bin/busybox", "\x7fELF busybox")
		n.write("/etc/passwd", "root:x:0:0:root:/root:/bin/ash\n")
		n.write("/etc/hostname", "alpine\n")
		n.write("/lib/ld-musl-x86_64.so.1", "\x7fELF musl")
		n.write("/usr/lib/libz.so.1", "\x7fELF zlib")
		n.write("/sbin/init", "\x7fELF init")
		for _, l := range []string{"ls", "sh", "rm"} {
			must(t, n.v.Symlink(n.ctx, "/bin/busybox", n.v.Root(), "/bin/"+l))
		}
	})
}

// rmAll is `rm -rf path`: entries first, then the directory.
func (n *ns) rmAll(path string) error {
	st, err := n.v.Stat(n.ctx, n.v.Root(), path, unix.AT_SYMLINK_NOFOLLOW)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return n.v.Unlink(n.ctx, n.v.Root(), path)
	}
	for _, c := range n.ls(path) {
		if err := n.rmAll(strings.TrimSuffix(path, "/") + "/" + c); err != nil {
			return err
		}
	}
	if path == "/" {
		return nil
	}
	return n.v.Rmdir(n.ctx, n.v.Root(), path)
}

// TestSeed002RmRfRoot: `rm -rf /*` in a sandbox over a lower root file
// system empties the view, leaves the lower untouched, and a fresh overlay
// over the same lower sees everything again.
func TestSeed002RmRfRoot(t *testing.T) {
	lower := rootfs(t)
	before := (vfsExec{n: newNS(t, lower)}).dump(false)
	_, o, up := mount(t, lower)
	want := (vfsExec{n: o}).dump(false)
	must(t, o.rmAll("/"))
	eq(t, o.ls("/"), nil)
	if o.exists("/bin/sh") || o.exists("/etc") {
		t.Fatal("names survive rm -rf")
	}
	// The upper holds exactly one whiteout per top-level name.
	for _, n := range up.ls("/") {
		if st := up.stat("/" + n); st.Type() != unix.S_IFCHR || st.Rdev != 0 {
			t.Fatalf("upper /%s is not a whiteout: %+v", n, st)
		}
	}
	if after := (vfsExec{n: newNS(t, lower)}).dump(false); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Fatalf("lower changed:\n%s", diffLines(before, after))
	}
	_, fresh, _ := mount(t, lower)
	if got := (vfsExec{n: fresh}).dump(false); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("fresh overlay differs:\n%s", diffLines(want, got))
	}
	// The sandbox can build a new world on the ruins.
	o.write("/etc/hostname", "new\n")
	eq(t, o.ls("/"), []string{"etc"})
	eq(t, o.ls("/etc"), []string{"hostname"})
}

// TestSeed000RmdirEmptyMerged: a directory whose entries live in the lower
// is emptied and removed with `rm -rf` (Linux on some upper file systems
// fails the rmdir with EINVAL), including when the upper copy of the
// directory exists and holds only whiteouts.
func TestSeed000RmdirEmptyMerged(t *testing.T) {
	lower := layer(t, func(n *ns) {
		n.write("/home/zxcdn/ottcache/tomcat/bin/catalina.sh", "#!/bin/sh")
		n.write("/home/zxcdn/ottcache/tomcat/bin/startup.sh", "#!/bin/sh")
		n.mkdirAll("/home/zxcdn/ottcache/tomcat/bin/empty")
	})
	_, o, up := mount(t, lower)
	const bin = "/home/zxcdn/ottcache/tomcat/bin"
	must(t, o.v.Chmod(o.ctx, o.v.Root(), bin, 0o750, 0)) // the upper copy exists
	must(t, o.rmAll(bin+"/catalina.sh"))
	must(t, o.rmAll(bin+"/startup.sh"))
	must(t, o.rmAll(bin+"/empty"))
	eq(t, o.ls(bin), nil)
	eq(t, up.ls(bin), []string{"catalina.sh", "empty", "startup.sh"})
	must(t, o.v.Rmdir(o.ctx, o.v.Root(), bin))
	if o.exists(bin) {
		t.Fatal("bin still there")
	}
	eq(t, o.ls("/home/zxcdn/ottcache/tomcat"), nil)
	if st := up.stat(bin); st.Type() != unix.S_IFCHR {
		t.Fatal("no whiteout for bin")
	}
	// A second `rm -rf` finds nothing, as it should have the first time.
	wantErr(t, o.rmAll(bin), unix.ENOENT)
}

// TestSeed004Layers is the "write your own Docker" walkthrough: three image
// layers and a container layer; writes copy up, deletes leave char 0/0
// whiteouts, a directory recreated after deletion is opaque.
func TestSeed004Layers(t *testing.T) {
	var lowers []fs.Filesystem
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("image-layer%d.txt", i)
		lowers = append(lowers, layer(t, func(n *ns) {
			n.write("/"+name, "i'm image-layer"+name[11:12]+"\n")
			n.write("/shared/from-"+name, name)
		}))
	}
	_, o, up := mount(t, lowers...)
	o.write("/container-layer.txt", "i'm container-layer\n")
	eq(t, o.ls("/"), []string{"container-layer.txt", "image-layer1.txt", "image-layer2.txt", "image-layer3.txt", "shared"})
	eq(t, o.ls("/shared"), []string{"from-image-layer1.txt", "from-image-layer2.txt", "from-image-layer3.txt"})

	fd, err := o.v.Open(o.ctx, o.v.Root(), "/image-layer1.txt", fs.OpenHow{Flags: unix.O_WRONLY | unix.O_APPEND})
	must(t, err)
	_, err = fd.Write([]byte("i'm image-layer1 test: hello\n"))
	must(t, err)
	must(t, fd.Close())
	if got := o.mustRead("/image-layer1.txt"); got != "i'm image-layer1\ni'm image-layer1 test: hello\n" {
		t.Fatalf("merged = %q", got)
	}
	if got := newNS(t, lowers[0]).mustRead("/image-layer1.txt"); got != "i'm image-layer1\n" {
		t.Fatalf("image layer changed: %q", got)
	}
	eq(t, up.ls("/"), []string{"container-layer.txt", "image-layer1.txt"})

	must(t, o.v.Unlink(o.ctx, o.v.Root(), "/image-layer1.txt"))
	eq(t, o.ls("/"), []string{"container-layer.txt", "image-layer2.txt", "image-layer3.txt", "shared"})
	if st := up.stat("/image-layer1.txt"); st.Type() != unix.S_IFCHR || st.Rdev != 0 {
		t.Fatalf("no char 0/0 whiteout: %+v", st)
	}

	must(t, o.rmAll("/shared"))
	must(t, o.v.Mkdir(o.ctx, o.v.Root(), "/shared", 0o755))
	eq(t, o.ls("/shared"), nil)
	v, err := up.v.Getxattr(up.ctx, up.v.Root(), "/shared", 0, opaqueXattr)
	must(t, err)
	if string(v) != "y" {
		t.Fatalf("opaque = %q", v)
	}
	eq(t, up.ls("/shared"), nil)
}

// TestOCILower reads a lower in the OCI/AUFS encoding: .wh.<name> hides a
// name below, .wh..wh..opq makes a directory opaque, and neither shows.
func TestOCILower(t *testing.T) {
	bottom := layer(t, func(n *ns) {
		n.write("/etc/gone", "x")
		n.write("/etc/kept", "k")
		n.write("/opt/old/file", "o")
	})
	top := layer(t, func(n *ns) {
		n.write("/etc/.wh.gone", "")
		n.write("/opt/old/.wh..wh..opq", "")
		n.write("/opt/old/new", "n")
	})
	o, err := New(Options{Upper: tmpfs.New(tmpfs.Options{}), Lowers: []Layer{{FS: top, Format: FormatOCI}, {FS: bottom}}})
	must(t, err)
	v := newNS(t, o)
	eq(t, v.ls("/etc"), []string{"kept"})
	eq(t, v.ls("/opt/old"), []string{"new"})
	if v.exists("/etc/gone") || v.exists("/etc/.wh.gone") || v.exists("/opt/old/.wh..wh..opq") {
		t.Fatal("whiteout or its target visible")
	}
	// Creating the hidden name works and needs no whiteout of its own.
	v.write("/etc/gone", "back")
	if v.mustRead("/etc/gone") != "back" {
		t.Fatal("recreated file")
	}
}

// TestStatFS reports the upper's usage with the overlay's magic.
func TestStatFS(t *testing.T) {
	up := tmpfs.New(tmpfs.Options{SizeBytes: 1 << 20})
	o, err := New(Options{Upper: up, Lowers: []Layer{{FS: layer(t, nil)}}})
	must(t, err)
	v := newNS(t, o)
	v.write("/f", strings.Repeat("x", 8192))
	s, err := v.v.StatFS(v.ctx, v.v.Root(), "/")
	must(t, err)
	us, err := up.StatFS()
	must(t, err)
	if s.Type != overlayMagic || s.Blocks != us.Blocks || s.Bfree != us.Bfree || s.Blocks != 256 {
		t.Fatalf("statfs %+v, upper %+v", s, us)
	}
}

// TestCopyUpPreserves checks mode, owner, nanosecond times, xattrs and
// holes across copy-up.
func TestCopyUpPreserves(t *testing.T) {
	const size = 8 << 20
	l := layer(t, func(n *ns) {
		fd, err := n.v.Open(n.ctx, n.v.Root(), "/sparse", fs.OpenHow{Flags: unix.O_CREAT | unix.O_WRONLY, Mode: 0o640})
		must(t, err)
		_, err = fd.Pwrite([]byte("head"), 0)
		must(t, err)
		_, err = fd.Pwrite([]byte("tail"), size-4)
		must(t, err)
		must(t, fd.Close())
		must(t, n.v.Chown(n.ctx, n.v.Root(), "/sparse", 1000, 100, 0))
		must(t, n.v.Chmod(n.ctx, n.v.Root(), "/sparse", 0o4750, 0))
		must(t, n.v.Setxattr(n.ctx, n.v.Root(), "/sparse", 0, "user.tag", []byte("v"), 0))
		must(t, n.v.Utimens(n.ctx, n.v.Root(), "/sparse", &[2]unix.Timespec{{Sec: 1000, Nsec: 123456789}, {Sec: 2000, Nsec: 987654321}}, 0))
	})
	_, o, up := mount(t, l)
	before := o.stat("/sparse")
	must(t, o.v.Setxattr(o.ctx, o.v.Root(), "/sparse", 0, "user.other", []byte("w"), 0))
	after, ust := o.stat("/sparse"), up.stat("/sparse")
	if after.Mode != before.Mode || after.UID != 1000 || after.GID != 100 || after.Size != size ||
		after.Mtime != before.Mtime || after.Atime != before.Atime || after.Ino != before.Ino {
		t.Fatalf("before %+v\nafter %+v", before, after)
	}
	if ust.Blocks*512 > 1<<20 {
		t.Fatalf("copy-up filled the holes: %d blocks", ust.Blocks)
	}
	v, err := o.v.Getxattr(o.ctx, o.v.Root(), "/sparse", 0, "user.tag")
	must(t, err)
	if string(v) != "v" {
		t.Fatalf("xattr %q", v)
	}
	got := o.mustRead("/sparse")
	if got[:4] != "head" || got[size-4:] != "tail" || strings.Trim(got[4:size-4], "\x00") != "" {
		t.Fatal("data differs")
	}
}

// TestConcurrentReadersAndCopyUp runs lookups, readdirs and reads while
// other goroutines copy files up (run with -race).
func TestConcurrentReadersAndCopyUp(t *testing.T) {
	l := layer(t, func(n *ns) {
		for i := range 50 {
			n.write(fmt.Sprintf("/d/f%d", i), fmt.Sprint(i))
		}
	})
	_, o, _ := mount(t, l)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 4 {
		wg.Go(func() {
			for i := range 50 {
				p := fmt.Sprintf("/d/f%d", i)
				if g%2 == 0 {
					fd, err := o.v.Open(o.ctx, o.v.Root(), p, fs.OpenHow{Flags: unix.O_WRONLY | unix.O_APPEND})
					if err != nil {
						errs <- err
						return
					}
					fd.Write([]byte("+"))
					fd.Close()
				} else if s, err := o.read(p); err != nil || !strings.HasPrefix(s, fmt.Sprint(i)) {
					errs <- fmt.Errorf("%s: %q %v", p, s, err)
					return
				}
				if len(o.ls("/d")) != 50 {
					errs <- errors.New("readdir lost entries")
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestReaddirOffsetsStable lists a merged directory in small steps while
// entries come and go: every entry present throughout is seen once.
func TestReaddirOffsetsStable(t *testing.T) {
	l := layer(t, func(n *ns) {
		for i := range 40 {
			n.write(fmt.Sprintf("/d/low%d", i), "")
		}
	})
	_, o, _ := mount(t, l)
	for i := range 40 {
		o.write(fmt.Sprintf("/d/up%d", i), "")
	}
	fd, err := o.v.Open(o.ctx, o.v.Root(), "/d", fs.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY})
	must(t, err)
	defer fd.Close()
	seen := map[string]int{}
	for step := 0; ; step++ {
		k := 0
		must(t, fd.Getdents(func(e fs.DirEntry) bool {
			if k == 5 {
				return false
			}
			k++
			seen[e.Name]++
			return true
		}))
		if k == 0 {
			break
		}
		// Churn: remove an entry from each layer, add new ones.
		must(t, o.v.Unlink(o.ctx, o.v.Root(), fmt.Sprintf("/d/low%d", 39-step)))
		must(t, o.v.Unlink(o.ctx, o.v.Root(), fmt.Sprintf("/d/up%d", 39-step)))
		o.write(fmt.Sprintf("/d/new%d", step), "")
	}
	for i := range 40 {
		for _, n := range []string{fmt.Sprintf("low%d", i), fmt.Sprintf("up%d", i)} {
			if seen[n] > 1 {
				t.Fatalf("%s seen %d times", n, seen[n])
			}
		}
	}
	for i := range 10 {
		for _, n := range []string{fmt.Sprintf("low%d", i), fmt.Sprintf("up%d", i)} {
			if seen[n] != 1 {
				t.Fatalf("%s (present throughout) seen %d times", n, seen[n])
			}
		}
	}
}
