package gofer_test

import (
	"fmt"
	"os"
	"regexp"
	"testing"

	"golang.org/x/sys/unix"

	hostgofer "runsc.dev/runsc/gofer"
	"runsc.dev/runsc/p9"
	"runsc.dev/runsc/sentry/fs"
	"runsc.dev/runsc/sentry/fs/fstest"
	"runsc.dev/runsc/sentry/fs/gofer"
	"runsc.dev/runsc/sentry/fs/tmpfs"
)

// fstestSides are Linux's tmpfs and our VFS over a gofer serving another
// host tmpfs, both with root directory mode rootMode.
func fstestSides(t testing.TB, mode gofer.CacheMode, rootMode uint32) (fstest.Side, fstest.Side) {
	data := fmt.Sprintf("mode=%o", rootMode)
	host := fstest.Side{Name: "linux", New: func() (fstest.Executor, error) {
		dir, unmount, err := fstest.MountTmpfs(t.TempDir(), data)
		if err != nil {
			return nil, err
		}
		h, err := fstest.NewHost(dir)
		if err != nil {
			unmount()
			return nil, err
		}
		return closer{h, unmount}, nil
	}}
	prot, err := fstest.HostProtected()
	if err != nil {
		t.Fatal(err)
	}
	sentry := fstest.Side{Name: "gofer-" + mode.String(), New: func() (fstest.Executor, error) {
		dir, unmount, err := fstest.MountTmpfs(t.TempDir(), data)
		if err != nil {
			return nil, err
		}
		e, err := hostgofer.OpenExport(dir, false)
		if err != nil {
			unmount()
			return nil, err
		}
		cs, ss, err := p9.Socketpair()
		if err != nil {
			e.Close()
			unmount()
			return nil, err
		}
		done := make(chan error, 1)
		go func() { done <- e.Serve(ss) }()
		g, err := gofer.Dial(cs, gofer.Options{Cache: mode})
		stop := func() {
			if g != nil {
				g.Close()
			}
			<-done
			e.Close()
			unmount()
		}
		if err != nil {
			cs.Close()
			stop()
			return nil, err
		}
		v := fs.New(g, 0, "9p")
		v.SetProtected(prot)
		return closer{fstest.NewVFS(v), stop}, nil
	}}
	return host, sentry
}

type closer struct {
	fstest.Executor
	done func()
}

func (c closer) Close() error {
	err := c.Executor.Close()
	c.done()
	return err
}

// applicable drops the operations a gofer refuses by design: device nodes
// (the sentry provides devices itself; the gofer gives EPERM even to
// root), renameat2 flags other than RENAME_NOREPLACE (Trenameat has no
// flags field), and lsetxattr/lremovexattr, whose only difference from the
// following variants is on symlinks, where the gofer refuses xattrs (EPERM)
// and Linux lets root set trusted.* and security.* ones, and O_TMPFILE
// (9P cannot make an unnamed file; Linux's 9p gives EOPNOTSUPP too).
func applicable(ops []fstest.Op) []fstest.Op {
	out := ops[:0]
	opener := map[int]string{}
	for _, o := range ops {
		switch {
		case o.Kind == fstest.OpMknod && (o.Mode&unix.S_IFMT == unix.S_IFCHR || o.Mode&unix.S_IFMT == unix.S_IFBLK):
			continue
		case o.Kind == fstest.OpRename && o.Flags&^unix.RENAME_NOREPLACE != 0:
			continue
		case (o.Kind == fstest.OpSetxattr || o.Kind == fstest.OpRemovexattr) && o.XFlags&unix.AT_SYMLINK_NOFOLLOW != 0:
			continue
		case o.Flags&unix.O_TMPFILE == unix.O_TMPFILE && (o.Kind == fstest.OpOpen || o.Kind == fstest.OpFdOpen):
			continue
		case (o.Kind == fstest.OpFdTruncate || o.Kind == fstest.OpFdWrite) && opener[o.Slot] != o.Cred.String():
			// The VFS clears set-id bits on ftruncate and write with the
			// opener's credentials; Linux uses the caller's. Not a gofer
			// matter (the sentry's tmpfs differs the same way).
			continue
		}
		if o.Kind == fstest.OpFdOpen {
			opener[o.Slot] = o.Cred.String()
		}
		out = append(out, o)
	}
	return out
}

// TestFstestDifferential runs the fstest generator's operations on Linux's
// tmpfs and on our VFS over a gofer serving a host tmpfs, in both caching
// modes. A difference that the sentry's own tmpfs shows at the same
// operation is the VFS's, not the gofer's: it is logged, not failed.
// FSTEST_SEEDS=first:count explores other seeds.
func TestFstestDifferential(t *testing.T) {
	needRoot(t, "the differential test mounts host tmpfs instances and switches credentials")
	first, seeds, n := int64(1), int64(25), 1000
	if testing.Short() {
		seeds = 6
	}
	if s := os.Getenv("FSTEST_SEEDS"); s != "" {
		if _, err := fmt.Sscanf(s, "%d:%d", &first, &seeds); err != nil {
			t.Fatalf("FSTEST_SEEDS=%q: want first:count", s)
		}
	}
	prot, err := fstest.HostProtected()
	must(t, err)
	rootModes := []uint32{0o777, 0o1777, 0o755}
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			for seed := first; seed < first+seeds; seed++ {
				rootMode := rootModes[seed%int64(len(rootModes))]
				host, sentry := fstestSides(t, mode, rootMode)
				ops := applicable(fstest.NewGenerator(seed).Ops(n))
				label := fmt.Sprintf("seed %d", seed)
				err := fstest.CheckOps(label, ops, host, sentry)
				if err == nil {
					continue
				}
				tmpfsSide := fstest.Side{Name: "sentry-tmpfs", New: func() (fstest.Executor, error) {
					v := fs.New(tmpfs.New(tmpfs.Options{Mode: rootMode}), 0, "tmpfs")
					v.SetProtected(prot)
					return fstest.NewVFS(v), nil
				}}
				if terr := fstest.CheckOps(label, ops, host, tmpfsSide); terr != nil && where(terr) == where(err) {
					t.Logf("a VFS difference, not the gofer's (the sentry's tmpfs shows it too):\n%v", err)
					continue
				}
				t.Error(err)
			}
		})
	}
}

var diffAt = regexp.MustCompile(`operation #\d+ differs|the final trees differ`)

// where is the first line of a CheckOps error that says where it differs.
func where(err error) string { return diffAt.FindString(err.Error()) }
