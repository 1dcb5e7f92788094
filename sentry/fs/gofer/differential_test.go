package gofer_test

import (
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
)

// The differential test runs the same random operations directly on a host
// directory (as root) and through the VFS over a gofer serving another
// host directory, and compares every result and the final trees.

type diffOp struct {
	kind  string
	p, p2 string
	mode  uint32
	size  int64
	data  string
}

func (o diffOp) String() string {
	return fmt.Sprintf("%s(%q %q mode=%o size=%d)", o.kind, o.p, o.p2, o.mode, o.size)
}

var diffKinds = []string{"mkdir", "mkdir", "create", "create", "write", "symlink", "link", "unlink",
	"rmdir", "rename", "rename", "chmod", "truncate", "stat", "lstat", "readlink", "readdir",
	"setxattr", "getxattr", "read"}

func genOps(seed int64, n int) []diffOp {
	r := rand.New(rand.NewSource(seed))
	comp := []string{"a", "b", "c"}
	pick := func() string {
		parts := make([]string, 1+r.Intn(3))
		for i := range parts {
			parts[i] = comp[r.Intn(len(comp))]
		}
		return strings.Join(parts, "/")
	}
	ops := make([]diffOp, n)
	for i := range ops {
		o := diffOp{kind: diffKinds[r.Intn(len(diffKinds))], p: pick(), p2: pick()}
		o.mode = uint32(r.Intn(0o1000))
		o.size = int64(r.Intn(40))
		o.data = strings.Repeat(string(rune('a'+r.Intn(26))), r.Intn(30))
		ops[i] = o
	}
	return ops
}

// result is what an operation returned, as text.
func errText(err error) string {
	if err == nil {
		return "ok"
	}
	var e unix.Errno
	if errors.As(err, &e) {
		return e.Error()
	}
	return err.Error()
}

func statText(mode uint32, nlink uint64, size int64) string {
	if mode&unix.S_IFMT == unix.S_IFDIR {
		size = 0 // directory sizes are the host file system's business
	}
	return fmt.Sprintf("mode=%o nlink=%d size=%d", mode, nlink, size)
}

func runHost(root string, o diffOp) string {
	p, p2 := root+"/"+o.p, root+"/"+o.p2
	switch o.kind {
	case "mkdir":
		return errText(unix.Mkdir(p, o.mode))
	case "create":
		fd, err := unix.Open(p, unix.O_CREAT|unix.O_WRONLY|unix.O_NOFOLLOW, o.mode)
		if err == nil {
			unix.Close(fd)
		}
		return errText(err)
	case "write":
		fd, err := unix.Open(p, unix.O_WRONLY|unix.O_APPEND|unix.O_NOFOLLOW, 0)
		if err != nil {
			return errText(err)
		}
		defer unix.Close(fd)
		_, err = unix.Write(fd, []byte(o.data))
		return errText(err)
	case "read":
		b, err := os.ReadFile(p)
		return errText(err) + " " + string(b)
	case "symlink":
		return errText(unix.Symlink(o.p2, p))
	case "link":
		return errText(unix.Link(p, p2))
	case "unlink":
		return errText(unix.Unlink(p))
	case "rmdir":
		return errText(unix.Rmdir(p))
	case "rename":
		return errText(unix.Rename(p, p2))
	case "chmod":
		return errText(unix.Chmod(p, o.mode))
	case "truncate":
		return errText(unix.Truncate(p, o.size))
	case "stat", "lstat":
		var st unix.Stat_t
		var err error
		if o.kind == "stat" {
			err = unix.Stat(p, &st)
		} else {
			err = unix.Lstat(p, &st)
		}
		if err != nil {
			return errText(err)
		}
		return statText(st.Mode, st.Nlink, st.Size)
	case "readlink":
		buf := make([]byte, 256)
		n, err := unix.Readlink(p, buf)
		return errText(err) + " " + string(buf[:max(n, 0)])
	case "readdir":
		ents, err := os.ReadDir(p)
		var ns []string
		for _, e := range ents {
			ns = append(ns, e.Name())
		}
		return errText(err) + " " + strings.Join(ns, ",")
	case "setxattr":
		return errText(unix.Lsetxattr(p, "user.x", []byte(o.data), 0))
	case "getxattr":
		buf := make([]byte, 256)
		n, err := unix.Lgetxattr(p, "user.x", buf)
		return errText(err) + " " + string(buf[:max(n, 0)])
	}
	panic(o.kind)
}

func runVFS(v *fs.VFS, ctx *fs.Context, o diffOp) string {
	root := v.Root()
	switch o.kind {
	case "mkdir":
		return errText(v.Mkdir(ctx, root, o.p, o.mode))
	case "create":
		fd, err := v.Open(ctx, root, o.p, fs.OpenHow{Flags: unix.O_CREAT | unix.O_WRONLY | unix.O_NOFOLLOW, Mode: o.mode})
		if err == nil {
			fd.Close()
		}
		return errText(err)
	case "write":
		fd, err := v.Open(ctx, root, o.p, fs.OpenHow{Flags: unix.O_WRONLY | unix.O_APPEND | unix.O_NOFOLLOW})
		if err != nil {
			return errText(err)
		}
		defer fd.Close()
		_, err = fd.Write([]byte(o.data))
		return errText(err)
	case "read":
		fd, err := v.Open(ctx, root, o.p, fs.OpenHow{Flags: unix.O_RDONLY})
		if err != nil {
			return errText(err) + " "
		}
		defer fd.Close()
		buf := make([]byte, 4096)
		n, err := fd.Read(buf)
		return errText(err) + " " + string(buf[:n])
	case "symlink":
		return errText(v.Symlink(ctx, o.p2, root, o.p))
	case "link":
		return errText(v.Link(ctx, root, o.p, root, o.p2, 0))
	case "unlink":
		return errText(v.Unlink(ctx, root, o.p))
	case "rmdir":
		return errText(v.Rmdir(ctx, root, o.p))
	case "rename":
		return errText(v.Rename(ctx, root, o.p, root, o.p2, 0))
	case "chmod":
		return errText(v.Chmod(ctx, root, o.p, o.mode, 0))
	case "truncate":
		return errText(v.Truncate(ctx, root, o.p, o.size))
	case "stat", "lstat":
		flags := 0
		if o.kind == "lstat" {
			flags = unix.AT_SYMLINK_NOFOLLOW
		}
		st, err := v.Stat(ctx, root, o.p, flags)
		if err != nil {
			return errText(err)
		}
		return statText(st.Mode, uint64(st.Nlink), st.Size)
	case "readlink":
		t, err := v.Readlink(ctx, root, o.p)
		return errText(err) + " " + t
	case "readdir":
		fd, err := v.Open(ctx, root, o.p, fs.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY})
		if err != nil {
			return errText(err) + " "
		}
		defer fd.Close()
		var ns []string
		err = fd.Getdents(func(e fs.DirEntry) bool {
			if e.Name != "." && e.Name != ".." {
				ns = append(ns, e.Name)
			}
			return true
		})
		sort.Strings(ns)
		return errText(err) + " " + strings.Join(ns, ",")
	case "setxattr":
		return errText(v.Setxattr(ctx, root, o.p, unix.AT_SYMLINK_NOFOLLOW, "user.x", []byte(o.data), 0))
	case "getxattr":
		b, err := v.Getxattr(ctx, root, o.p, unix.AT_SYMLINK_NOFOLLOW, "user.x")
		return errText(err) + " " + string(b)
	}
	panic(o.kind)
}

// hostTree lists dir as lines of path, type, mode, link count, size and
// symlink target or content.
func hostTree(t testing.TB, dir string) []string {
	var lines []string
	var walk func(rel string)
	walk = func(rel string) {
		p := path.Join(dir, rel)
		var st unix.Stat_t
		must(t, unix.Lstat(p, &st))
		line := rel + " " + statText(st.Mode, st.Nlink, st.Size)
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			tg, _ := os.Readlink(p)
			line += " -> " + tg
		case unix.S_IFREG:
			b, _ := os.ReadFile(p)
			line += " " + string(b)
		}
		lines = append(lines, line)
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			ents, err := os.ReadDir(p)
			must(t, err)
			for _, e := range ents {
				walk(path.Join(rel, e.Name()))
			}
		}
	}
	walk(".")
	return lines
}

func TestDifferentialHost(t *testing.T) {
	needRoot(t, "host side runs as root so permission checks match the VFS's root credentials")
	// The host side creates with the test's umask; the VFS applies its own.
	old := unix.Umask(0)
	defer unix.Umask(old)
	seeds := 30
	if testing.Short() {
		seeds = 5
	}
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			succeeded := map[string]int{}
			defer func() { t.Logf("operations that succeeded, by kind: %v", succeeded) }()
			for seed := range int64(seeds) {
				hostDir, goferDir := t.TempDir(), t.TempDir()
				v, ctx, _ := mount(t, goferDir, mode)
				ctx.Umask = 0
				ops := genOps(seed, 150)
				for i, o := range ops {
					want, got := runHost(hostDir, o), runVFS(v, ctx, o)
					if want != got {
						t.Fatalf("seed %d op %d %v: host %q, gofer %q\nops: %v", seed, i, o, want, got, ops[:i+1])
					}
					if strings.HasPrefix(want, "ok") || strings.HasPrefix(want, "mode=") {
						succeeded[o.kind]++
					}
				}
				want, got := hostTree(t, hostDir), hostTree(t, goferDir)
				if strings.Join(want, "\n") != strings.Join(got, "\n") {
					t.Fatalf("seed %d: trees differ\nhost:\n%s\ngofer:\n%s", seed, strings.Join(want, "\n"), strings.Join(got, "\n"))
				}
				// And the VFS's view of the gofer tree matches the host's.
				for _, line := range want {
					rel := strings.Fields(line)[0]
					o := diffOp{kind: "lstat", p: rel}
					if rel == "." {
						continue
					}
					if h, g := runHost(hostDir, o), runVFS(v, ctx, o); h != g {
						t.Fatalf("seed %d: final lstat %s: host %q, gofer %q", seed, rel, h, g)
					}
				}
			}
		})
	}
}
