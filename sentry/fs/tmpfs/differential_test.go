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

// mountData is the tmpfs mount options of a seed: the root directory's
// mode cycles, and every fourth seed has small size and inode limits.
func mountData(seed uint64) string {
	data := fmt.Sprintf("mode=%o", []uint32{0o777, 0o1777, 0o755}[seed%3])
	if seed%4 == 0 {
		data += ",size=24k,nr_inodes=16"
	}
	return data
}

// sides are a host tmpfs and ours, both mounted with data.
func sides(t testing.TB, data string) (fstest.Side, fstest.Side) {
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
	opts, err := tmpfs.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	sentry := fstest.Side{Name: "sentry", New: func() (fstest.Executor, error) {
		v := fs.New(tmpfs.New(opts), 0, "tmpfs")
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
	first, seeds, ops := int64(1), int64(100), 1000
	if testing.Short() {
		seeds = 8
	}
	// FSTEST_SEEDS=first:count explores other seeds.
	if s := os.Getenv("FSTEST_SEEDS"); s != "" {
		if _, err := fmt.Sscanf(s, "%d:%d", &first, &seeds); err != nil {
			t.Fatalf("FSTEST_SEEDS=%q: want first:count", s)
		}
	}
	for seed := first; seed < first+seeds; seed++ {
		host, sentry := sides(t, mountData(uint64(seed)))
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
		host, sentry := sides(t, mountData(seed))
		if err := fstest.Check(int64(seed), 300, host, sentry); err != nil {
			t.Fatal(err)
		}
	})
}

// dataDirSide is our tmpfs with its file data in a host tmpfs of the same
// size (tmpfs.Options.DataDir), as boot sets up a size-limited tmpfs.
func dataDirSide(t testing.TB, data string) fstest.Side {
	prot, err := fstest.HostProtected()
	if err != nil {
		t.Fatal(err)
	}
	opts, err := tmpfs.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return fstest.Side{Name: "sentry-datadir", New: func() (fstest.Executor, error) {
		dir, unmount, err := fstest.MountTmpfs(t.TempDir(), fmt.Sprintf("size=%d,mode=0700", opts.SizeBytes))
		if err != nil {
			return nil, err
		}
		f, err := os.Open(dir)
		unmount()
		if err != nil {
			return nil, err
		}
		o := opts
		o.DataDir = f
		v := fs.New(tmpfs.New(o), 0, "tmpfs")
		v.SetProtected(prot)
		return closer{fstest.NewVFS(v), func() { f.Close() }}, nil
	}}
}

// TestDifferentialDataDir runs the size-limited seeds with file data in a
// host tmpfs.
func TestDifferentialDataDir(t *testing.T) {
	needRoot(t)
	for seed := uint64(4); seed <= 100; seed += 4 {
		data := mountData(seed)
		host, _ := sides(t, data)
		if err := fstest.Check(int64(seed), 1000, host, dataDirSide(t, data)); err != nil {
			t.Error(err)
		}
	}
}
