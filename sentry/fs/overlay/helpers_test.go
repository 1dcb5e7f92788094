package overlay

import (
	"errors"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
	"runsc.dev/runsc/sentry/fs/ramfs"
	"runsc.dev/runsc/sentry/fs/tmpfs"
)

// ns is a namespace whose root is one file system, for building layers and
// for driving an overlay through the VFS.
type ns struct {
	t   testing.TB
	v   *fs.VFS
	ctx *fs.Context
}

func newNS(t testing.TB, f fs.Filesystem) *ns {
	v := fs.New(f, 0, f.Type())
	return &ns{t: t, v: v, ctx: &fs.Context{Creds: fs.Root(), Root: v.Root(), Umask: 0o022}}
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

// write creates path (and its parents) holding data.
func (n *ns) write(path, data string) {
	n.t.Helper()
	n.mkdirAll(path[:strings.LastIndex(path, "/")+1])
	fd, err := n.v.Open(n.ctx, n.v.Root(), path, fs.OpenHow{Flags: unix.O_CREAT | unix.O_WRONLY | unix.O_TRUNC, Mode: 0o644})
	must(n.t, err)
	if data != "" {
		_, err = fd.Write([]byte(data))
		must(n.t, err)
	}
	must(n.t, fd.Close())
}

func (n *ns) mkdirAll(path string) {
	n.t.Helper()
	cur := ""
	for _, c := range strings.Split(path, "/") {
		if c == "" {
			continue
		}
		cur += "/" + c
		if err := n.v.Mkdir(n.ctx, n.v.Root(), cur, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
			n.t.Fatal(err)
		}
	}
}

func (n *ns) read(path string) (string, error) {
	fd, err := n.v.Open(n.ctx, n.v.Root(), path, fs.OpenHow{Flags: unix.O_RDONLY})
	if err != nil {
		return "", err
	}
	defer fd.Close()
	var out []byte
	buf := make([]byte, 64<<10)
	for {
		k, err := fd.Read(buf)
		if err != nil {
			return "", err
		}
		if k == 0 {
			return string(out), nil
		}
		out = append(out, buf[:k]...)
	}
}

func (n *ns) mustRead(path string) string {
	n.t.Helper()
	s, err := n.read(path)
	must(n.t, err)
	return s
}

func (n *ns) ls(path string) []string {
	n.t.Helper()
	fd, err := n.v.Open(n.ctx, n.v.Root(), path, fs.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY})
	must(n.t, err)
	defer fd.Close()
	var out []string
	must(n.t, fd.Getdents(func(e fs.DirEntry) bool {
		if e.Name != "." && e.Name != ".." {
			out = append(out, e.Name)
		}
		return true
	}))
	sort.Strings(out)
	return out
}

func (n *ns) stat(path string) fs.Stat {
	n.t.Helper()
	st, err := n.v.Stat(n.ctx, n.v.Root(), path, unix.AT_SYMLINK_NOFOLLOW)
	must(n.t, err)
	return st
}

func (n *ns) exists(path string) bool {
	_, err := n.v.Stat(n.ctx, n.v.Root(), path, unix.AT_SYMLINK_NOFOLLOW)
	return err == nil
}

// layer makes a ramfs filled by fill.
func layer(t testing.TB, fill func(n *ns)) *ramfs.FS {
	f := ramfs.New(ramfs.Options{Mode: 0o755})
	if fill != nil {
		fill(newNS(t, f))
	}
	return f
}

// mount makes an overlay of a fresh tmpfs upper over lowers.
func mount(t testing.TB, lowers ...fs.Filesystem) (*FS, *ns, *ns) {
	t.Helper()
	up := tmpfs.New(tmpfs.Options{Mode: 0o755})
	var ls []Layer
	for _, l := range lowers {
		ls = append(ls, Layer{FS: l})
	}
	o, err := New(Options{Upper: up, Lowers: ls})
	must(t, err)
	// The upper's own namespace is only for inspecting it; nothing else
	// uses it while the test runs single-threaded.
	return o, newNS(t, o), newNS(t, up)
}

func eq(t testing.TB, got, want []string) {
	t.Helper()
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("got %q, want %q", got, want)
	}
}
