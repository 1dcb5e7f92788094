package tmpfs_test

import (
	"fmt"
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
	"runsc.dev/runsc/sentry/fs/ramfs"
	"runsc.dev/runsc/sentry/fs/tmpfs"
)

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	must(t, err)
	return len(ents)
}

func dirLen(t *testing.T, d *os.File) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd/" + fmt.Sprint(d.Fd()))
	must(t, err)
	return len(ents)
}

// With a DataDir, a file nobody has open holds no fd, but for the
// ramfs.MaxIdle closed last: the sentry's fd limit would otherwise cap the
// number of files (20,000 on the CI VM). Its data, size and times stay
// right through parking and reopening.
func TestDataDirParksClosedFiles(t *testing.T) {
	dir, err := os.Open(t.TempDir())
	must(t, err)
	defer dir.Close()
	v, ctx := newNS(t, tmpfs.Options{DataDir: dir})
	root := v.Root()
	const n = 3000
	before := openFDs(t)
	for i := range n {
		fd, err := v.Open(ctx, root, fmt.Sprintf("f%d", i), fs.OpenHow{Flags: unix.O_CREAT | unix.O_WRONLY, Mode: 0o644})
		must(t, err)
		_, err = fd.Write(fmt.Appendf(nil, "file %d", i))
		must(t, err)
		must(t, fd.Close())
	}
	if grown := openFDs(t) - before; grown > ramfs.MaxIdle+2 {
		t.Fatalf("%d closed files hold %d fds", n, grown)
	}
	if got := dirLen(t, dir); got != n {
		t.Fatalf("DataDir holds %d files, want %d", got, n)
	}
	for _, i := range []int{0, 1234, n - 1} {
		name := fmt.Sprintf("f%d", i)
		want := fmt.Sprintf("file %d", i)
		st, err := v.Stat(ctx, root, name, 0)
		must(t, err)
		if st.Size != int64(len(want)) || st.Blocks == 0 {
			t.Fatalf("stat %s: size %d blocks %d", name, st.Size, st.Blocks)
		}
		fd, err := v.Open(ctx, root, name, fs.OpenHow{Flags: unix.O_RDONLY})
		must(t, err)
		buf := make([]byte, 32)
		m, err := fd.Read(buf)
		must(t, err)
		must(t, fd.Close())
		if string(buf[:m]) != want {
			t.Fatalf("%s holds %q, want %q", name, buf[:m], want)
		}
	}
	// Metadata changes of a parked file reach its data file.
	must(t, v.Truncate(ctx, root, "f1", 2))
	times := [2]unix.Timespec{{Sec: 1000, Nsec: 5}, {Sec: 2000, Nsec: 7}}
	must(t, v.Utimens(ctx, root, "f2", &times, 0))
	st, err := v.Stat(ctx, root, "f1", 0)
	must(t, err)
	st2, err := v.Stat(ctx, root, "f2", 0)
	must(t, err)
	if st.Size != 2 || st2.Atime != times[0] || st2.Mtime != times[1] {
		t.Fatalf("after truncate and utimens: size %d, times %v %v", st.Size, st2.Atime, st2.Mtime)
	}
	// A file unlinked while open keeps its data until the last close.
	fd, err := v.Open(ctx, root, "f3", fs.OpenHow{Flags: unix.O_RDONLY})
	must(t, err)
	for i := range n {
		must(t, v.Unlink(ctx, root, fmt.Sprintf("f%d", i)))
	}
	if got := dirLen(t, dir); got != 1 {
		t.Fatalf("after unlinking all but an open one, DataDir holds %d files", got)
	}
	buf := make([]byte, 32)
	m, err := fd.Read(buf)
	must(t, err)
	must(t, fd.Close())
	if string(buf[:m]) != "file 3" {
		t.Fatalf("unlinked open file holds %q", buf[:m])
	}
	if got := dirLen(t, dir); got != 0 {
		t.Fatalf("after the last close DataDir holds %d files", got)
	}
	if grown := openFDs(t) - before; grown > 0 {
		t.Fatalf("%d fds left open", grown)
	}
}
