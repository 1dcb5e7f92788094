package overlay

import (
	"testing"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
	"runsc.dev/runsc/sentry/fs/ramfs"
	"runsc.dev/runsc/sentry/fs/tmpfs"
)

func TestMergeAndCopyUp(t *testing.T) {
	l1 := layer(t, func(n *ns) {
		n.write("/a/x", "x1")
		n.write("/a/y", "y1")
		n.write("/top", "t")
	})
	l2 := layer(t, func(n *ns) {
		n.write("/a/y", "y2")
		n.write("/a/z", "z2")
		n.write("/b/c", "c2")
		n.write("/top/inner", "hidden")
	})
	_, o, up := mount(t, l1, l2)
	eq(t, o.ls("/"), []string{"a", "b", "top"})
	eq(t, o.ls("/a"), []string{"x", "y", "z"})
	if got := o.mustRead("/a/y"); got != "y1" {
		t.Fatalf("a/y = %q", got)
	}
	if st := o.stat("/top"); st.Type() != unix.S_IFREG {
		t.Fatal("top is not the upper layer's file")
	}
	before := o.stat("/a/z")
	ro, err := o.v.Open(o.ctx, o.v.Root(), "/a/z", fs.OpenHow{Flags: unix.O_RDONLY})
	must(t, err)
	defer ro.Close()
	fd, err := o.v.Open(o.ctx, o.v.Root(), "/a/z", fs.OpenHow{Flags: unix.O_WRONLY | unix.O_APPEND})
	must(t, err)
	_, err = fd.Write([]byte("+more"))
	must(t, err)
	must(t, fd.Close())
	after := o.stat("/a/z")
	if before.Ino != after.Ino || before.Dev != after.Dev {
		t.Fatalf("ino/dev changed across copy-up: %d/%d -> %d/%d", before.Dev, before.Ino, after.Dev, after.Ino)
	}
	buf := make([]byte, 32)
	k, err := ro.Pread(buf, 0)
	must(t, err)
	if string(buf[:k]) != "z2+more" {
		t.Fatalf("description opened before copy-up reads %q", buf[:k])
	}
	if got := newNS(t, l2).mustRead("/a/z"); got != "z2" {
		t.Fatalf("lower changed: %q", got)
	}
	if got := up.mustRead("/a/z"); got != "z2+more" {
		t.Fatalf("upper a/z = %q", got)
	}
	eq(t, up.ls("/a"), []string{"z"})
}

func TestWhiteoutAndOpaque(t *testing.T) {
	l := layer(t, func(n *ns) {
		n.write("/d/f", "f")
		n.write("/d/g", "g")
		n.write("/e/h", "h")
	})
	_, o, up := mount(t, l)
	must(t, o.v.Unlink(o.ctx, o.v.Root(), "/d/f"))
	eq(t, o.ls("/d"), []string{"g"})
	if st := up.stat("/d/f"); st.Type() != unix.S_IFCHR || st.Rdev != 0 {
		t.Fatalf("no whiteout in upper: %+v", st)
	}
	wantErr(t, o.v.Rmdir(o.ctx, o.v.Root(), "/d"), unix.ENOTEMPTY)
	must(t, o.v.Unlink(o.ctx, o.v.Root(), "/d/g"))
	// Seed 000: the merged directory holds only whiteouts over a lower
	// whose entries are all whited out; rmdir must succeed.
	must(t, o.v.Rmdir(o.ctx, o.v.Root(), "/d"))
	if o.exists("/d") {
		t.Fatal("d still there")
	}
	must(t, o.v.Mkdir(o.ctx, o.v.Root(), "/d", 0o700))
	eq(t, o.ls("/d"), nil)
	v, err := up.v.Getxattr(up.ctx, up.v.Root(), "/d", 0, opaqueXattr)
	must(t, err)
	if string(v) != "y" {
		t.Fatalf("opaque = %q", v)
	}
	_, err = o.v.Getxattr(o.ctx, o.v.Root(), "/d", 0, opaqueXattr)
	wantErr(t, err, unix.ENODATA)
	names, err := o.v.Listxattr(o.ctx, o.v.Root(), "/d", 0)
	must(t, err)
	if len(names) != 0 {
		t.Fatalf("xattrs visible: %v", names)
	}
}

func TestDirRename(t *testing.T) {
	l := layer(t, func(n *ns) {
		n.write("/src/a/b", "b")
		n.write("/src/c", "c")
		n.write("/dst/old", "old")
	})
	_, o, up := mount(t, l)
	ino := o.stat("/src/a/b").Ino
	must(t, o.v.Unlink(o.ctx, o.v.Root(), "/src/c"))
	must(t, o.v.Rename(o.ctx, o.v.Root(), "/src", o.v.Root(), "/dst/moved", 0))
	eq(t, o.ls("/"), []string{"dst"})
	eq(t, o.ls("/dst"), []string{"moved", "old"})
	eq(t, o.ls("/dst/moved"), []string{"a"})
	if o.mustRead("/dst/moved/a/b") != "b" || o.stat("/dst/moved/a/b").Ino != ino {
		t.Fatal("moved file lost data or inode number")
	}
	eq(t, up.ls("/dst/moved"), []string{"a"})
	if st := up.stat("/src"); st.Type() != unix.S_IFCHR {
		t.Fatal("no whiteout at the old name")
	}
}

func TestHardLinksSurviveCopyUp(t *testing.T) {
	l := layer(t, func(n *ns) {
		n.write("/a", "data")
		must(t, n.v.Link(n.ctx, n.v.Root(), "/a", n.v.Root(), "/b", 0))
	})
	_, o, _ := mount(t, l)
	if o.stat("/a").Ino != o.stat("/b").Ino || o.stat("/a").Nlink != 2 {
		t.Fatal("lower hard links not one inode")
	}
	fd, err := o.v.Open(o.ctx, o.v.Root(), "/a", fs.OpenHow{Flags: unix.O_WRONLY | unix.O_TRUNC})
	must(t, err)
	_, err = fd.Write([]byte("new"))
	must(t, err)
	must(t, fd.Close())
	if got := o.mustRead("/b"); got != "new" {
		t.Fatalf("b = %q after writing a", got)
	}
	if o.stat("/b").Nlink != 2 || o.stat("/a").Ino != o.stat("/b").Ino {
		t.Fatal("links broken by copy-up")
	}
	must(t, o.v.Unlink(o.ctx, o.v.Root(), "/a"))
	if got := o.mustRead("/b"); got != "new" || o.stat("/b").Nlink != 1 {
		t.Fatalf("b = %q nlink %d after unlinking a", got, o.stat("/b").Nlink)
	}
	must(t, o.v.Chmod(o.ctx, o.v.Root(), "/b", 0o600, 0))
	if got := o.mustRead("/b"); got != "new" {
		t.Fatalf("b = %q after its own copy-up", got)
	}
}

// TestRootAdoptsLowerRoot: an empty upper's root (tmpfs makes it 01777)
// takes the image root's mode and owner.
func TestRootAdoptsLowerRoot(t *testing.T) {
	l := ramfs.New(ramfs.Options{Mode: 0o750, UID: 5, GID: 6})
	o, err := New(Options{Upper: tmpfs.New(tmpfs.Options{}), Lowers: []Layer{{FS: l}}})
	must(t, err)
	if st := newNS(t, o).stat("/"); st.Mode != unix.S_IFDIR|0o750 || st.UID != 5 || st.GID != 6 {
		t.Fatalf("root %o %d:%d", st.Mode, st.UID, st.GID)
	}
}
