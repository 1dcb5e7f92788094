package tmpfs_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
	"runsc.dev/runsc/sentry/fs/tmpfs"
)

func benchNS(b *testing.B) (*fs.VFS, *fs.Context) {
	v := fs.New(tmpfs.New(tmpfs.Options{UnlimitedSize: true, UnlimitedInodes: true}), 0, "tmpfs")
	return v, &fs.Context{Creds: fs.Root(), Root: v.Root(), Umask: 0o022}
}

func BenchmarkWalk10(b *testing.B) {
	v, ctx := benchNS(b)
	path := ""
	for _, c := range strings.Split("abcdefghij", "") {
		path += c
		if err := v.Mkdir(ctx, v.Root(), path, 0o755); err != nil {
			b.Fatal(err)
		}
		path += "/"
	}
	path = strings.TrimSuffix(path, "/")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Lookup(ctx, v.Root(), path, 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStat(b *testing.B) {
	v, ctx := benchNS(b)
	if err := v.Mknod(ctx, v.Root(), "f", unix.S_IFREG|0o644, 0); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Stat(ctx, v.Root(), "f", 0); err != nil {
			b.Fatal(err)
		}
	}
}

func bigDir(b *testing.B, v *fs.VFS, ctx *fs.Context, n int) {
	if err := v.Mkdir(ctx, v.Root(), "d", 0o755); err != nil {
		b.Fatal(err)
	}
	for i := range n {
		if err := v.Mknod(ctx, v.Root(), fmt.Sprintf("d/file%d", i), unix.S_IFREG|0o644, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreateUnlink10k creates and removes a file in a directory of
// 10,000 entries.
func BenchmarkCreateUnlink10k(b *testing.B) {
	v, ctx := benchNS(b)
	bigDir(b, v, ctx, 10000)
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Mknod(ctx, v.Root(), "d/new", unix.S_IFREG|0o644, 0); err != nil {
			b.Fatal(err)
		}
		if err := v.Unlink(ctx, v.Root(), "d/new"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetdents10k lists a directory of 10,000 entries.
func BenchmarkGetdents10k(b *testing.B) {
	v, ctx := benchNS(b)
	bigDir(b, v, ctx, 10000)
	b.ReportAllocs()
	for b.Loop() {
		fd, err := v.Open(ctx, v.Root(), "d", fs.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY})
		if err != nil {
			b.Fatal(err)
		}
		k := 0
		if err := fd.Getdents(func(fs.DirEntry) bool { k++; return true }); err != nil || k != 10002 {
			b.Fatal(k, err)
		}
		fd.Close()
	}
}

// memPerFile returns the heap bytes per empty regular file over n mknods.
func memPerFile(n int) float64 {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("f%07d", i)
	}
	v := fs.New(tmpfs.New(tmpfs.Options{UnlimitedSize: true, UnlimitedInodes: true}), 0, "tmpfs")
	ctx := &fs.Context{Creds: fs.Root(), Root: v.Root(), Umask: 0o022}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for _, name := range names {
		if err := v.Mknod(ctx, v.Root(), name, unix.S_IFREG|0o644, 0); err != nil {
			panic(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(v)
	runtime.KeepAlive(names)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
}

// BenchmarkMemoryPerFile reports the heap bytes an empty file costs (name
// strings excluded), measured over 100,000 mknods.
func BenchmarkMemoryPerFile(b *testing.B) {
	var per float64
	for b.Loop() {
		per = memPerFile(100000)
	}
	b.ReportMetric(per, "bytes/file")
}

// TestMemoryPerFile keeps the cost of an empty file well below gVisor's
// ~1.7 KB.
func TestMemoryPerFile(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 100,000 files")
	}
	if per := memPerFile(100000); per > 400 {
		t.Errorf("an empty file costs %.0f bytes of heap, want at most 400", per)
	}
}
