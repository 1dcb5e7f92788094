package tmpfs_test

import (
	"encoding/binary"
	"fmt"
	"os"
	"testing"

	"runsc.dev/runsc/sentry/fs"
	"runsc.dev/runsc/sentry/fs/fstest"
	"runsc.dev/runsc/sentry/fs/tmpfs"
)

// needRoot skips a test that mounts file systems and switches credentials
// on the host, except in CI, where it must run.
func needRoot(t testing.TB) {
	if os.Geteuid() != 0 && os.Getenv("CI") != "true" {
		t.Skip("the differential test mounts a host tmpfs and switches credentials: it needs root")
	}
}

// rootModes are the modes of the root directory the seeds cycle through.
var rootModes = []uint32{0o777, 0o1777, 0o755}

func sides(t testing.TB, rootMode uint32) (fstest.Side, fstest.Side) {
	host := fstest.Side{Name: "linux", New: func() (fstest.Executor, error) {
		dir, unmount, err := fstest.MountTmpfs(t.TempDir(), fmt.Sprintf("mode=%o", rootMode))
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
	sentry := fstest.Side{Name: "sentry", New: func() (fstest.Executor, error) {
		v := fs.New(tmpfs.New(tmpfs.Options{Mode: rootMode}), 0, "tmpfs")
		v.SetProtected(prot)
		return fstest.NewVFS(v), nil
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

// TestDifferential runs 100 seeds × 1000 operations on Linux's tmpfs and ours.
func TestDifferential(t *testing.T) {
	needRoot(t)
	seeds, ops := 100, 1000
	if testing.Short() {
		seeds = 8
	}
	for seed := int64(1); seed <= int64(seeds); seed++ {
		host, sentry := sides(t, rootModes[seed%int64(len(rootModes))])
		if err := fstest.Check(seed, ops, host, sentry); err != nil {
			t.Error(err)
		}
	}
}

func FuzzDifferential(f *testing.F) {
	needRoot(f)
	for _, s := range []uint64{1, 2, 3} {
		f.Add(binary.LittleEndian.AppendUint64(nil, s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var seed uint64
		if len(b) >= 8 {
			seed = binary.LittleEndian.Uint64(b)
		}
		host, sentry := sides(t, rootModes[seed%uint64(len(rootModes))])
		if err := fstest.Check(int64(seed), 300, host, sentry); err != nil {
			t.Fatal(err)
		}
	})
}
