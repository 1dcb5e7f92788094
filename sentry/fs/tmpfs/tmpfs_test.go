package tmpfs_test

import (
	"errors"
	"sort"
	"testing"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
	"runsc.dev/runsc/sentry/fs/tmpfs"
)

func newNS(t testing.TB, o tmpfs.Options) (*fs.VFS, *fs.Context) {
	t.Helper()
	v := fs.New(tmpfs.New(o), 0, "tmpfs")
	return v, &fs.Context{Creds: fs.Root(), Root: v.Root(), Umask: 0o022}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t testing.TB, err error, want unix.Errno) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("got %v, want %v", err, want)
	}
}

func names(t testing.TB, v *fs.VFS, ctx *fs.Context, path string) []string {
	t.Helper()
	fd, err := v.Open(ctx, v.Root(), path, fs.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY})
	must(t, err)
	defer fd.Close()
	var out []string
	must(t, fd.Getdents(func(e fs.DirEntry) bool { out = append(out, e.Name); return true }))
	sort.Strings(out)
	return out
}

func TestBasicTree(t *testing.T) {
	v, ctx := newNS(t, tmpfs.Options{})
	root := v.Root()
	must(t, v.Mkdir(ctx, root, "a", 0o755))
	must(t, v.Mkdir(ctx, root, "a/b", 0o700))
	fd, err := v.Open(ctx, root, "a/b/f", fs.OpenHow{Flags: unix.O_CREAT | unix.O_RDWR, Mode: 0o666})
	must(t, err)
	if _, err := fd.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	must(t, fd.Close())
	must(t, v.Symlink(ctx, "a/b", root, "l"))
	st, err := v.Stat(ctx, root, "l/f", 0)
	must(t, err)
	if st.Size != 5 || st.Mode != unix.S_IFREG|0o644 || st.Nlink != 1 {
		t.Fatalf("stat l/f = %+v", st)
	}
	// ".." after a symlink is the parent of its target: l/.. is a.
	fd, err = v.Open(ctx, root, "l/../b/f", fs.OpenHow{})
	must(t, err)
	buf := make([]byte, 16)
	n, err := fd.Read(buf)
	must(t, err)
	if string(buf[:n]) != "hello" {
		t.Fatalf("read %q", buf[:n])
	}
	fd.Close()
	must(t, v.Rename(ctx, root, "a/b/f", root, "g", 0))
	if got := names(t, v, ctx, "/"); len(got) != 5 || got[0] != "." || got[2] != "a" || got[3] != "g" || got[4] != "l" {
		t.Fatalf("readdir / = %v", got)
	}
	wantErr(t, v.Rmdir(ctx, root, "a"), unix.ENOTEMPTY)
	wantErr(t, v.Rename(ctx, root, "a", root, "a/b/c", 0), unix.EINVAL)
	must(t, v.Unlink(ctx, root, "l"))
	wantErr(t, v.Unlink(ctx, root, "a"), unix.EISDIR)
	must(t, v.Rmdir(ctx, root, "a/b"))
	st, err = v.Stat(ctx, root, "a", 0)
	must(t, err)
	if st.Nlink != 2 {
		t.Fatalf("nlink of a = %d", st.Nlink)
	}
}
