package gofer_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/p9"
	"runsc.dev/runsc/sentry/fs"
	"runsc.dev/runsc/sentry/fs/gofer"
)

const deepPath = "a/b/c/f"

func benchTree(b *testing.B) string {
	dir := b.TempDir()
	writeFile(b, dir+"/"+deepPath, "data")
	return dir
}

// benchClient connects to a gofer over dir and returns the raw client, so
// a benchmark can attach fresh (cold) file systems cheaply.
func benchClient(b *testing.B, dir string) *p9.Client {
	c, err := p9.NewClient(context.Background(), serve(b, dir, false), p9.ClientOptions{})
	must(b, err)
	b.Cleanup(func() { c.Close() })
	return c
}

func newVFS(b *testing.B, c *p9.Client, mode gofer.CacheMode) (*fs.VFS, *fs.Context, *gofer.FS) {
	g, err := gofer.New(c, gofer.Options{Cache: mode})
	must(b, err)
	v := fs.New(g, 0, "9p")
	return v, &fs.Context{Creds: fs.Root(), Root: v.Root()}, g
}

func openClose(b *testing.B, v *fs.VFS, ctx *fs.Context, path string) {
	fd, err := v.Open(ctx, v.Root(), path, fs.OpenHow{Flags: unix.O_RDONLY})
	if err != nil {
		b.Fatal(err)
	}
	fd.Close()
}

// BenchmarkOpen4Deep is walk+getattr+open (and close) of a 4-deep path:
// cold (a fresh file system each time, so every component is walked),
// cached (exclusive mode, second and later opens) and shared (revalidated).
func BenchmarkOpen4Deep(b *testing.B) {
	dir := benchTree(b)
	c := benchClient(b, dir)
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			v, ctx, g := newVFS(b, c, gofer.Exclusive)
			b.StartTimer()
			openClose(b, v, ctx, deepPath)
			b.StopTimer()
			g.Close()
			b.StartTimer()
		}
	})
	for _, mode := range modes {
		name := "cached"
		if mode == gofer.Shared {
			name = "shared"
		}
		b.Run(name, func(b *testing.B) {
			v, ctx, _ := newVFS(b, c, mode)
			openClose(b, v, ctx, deepPath)
			for b.Loop() {
				openClose(b, v, ctx, deepPath)
			}
		})
	}
	b.Run("host", func(b *testing.B) {
		for b.Loop() {
			fd, err := unix.Open(dir+"/"+deepPath, unix.O_RDONLY, 0)
			if err != nil {
				b.Fatal(err)
			}
			unix.Close(fd)
		}
	})
}

// BenchmarkStat4Deep is stat of a 4-deep path, cached (exclusive) and
// shared (every component revalidated).
func BenchmarkStat4Deep(b *testing.B) {
	dir := benchTree(b)
	c := benchClient(b, dir)
	for _, mode := range modes {
		name := "cached"
		if mode == gofer.Shared {
			name = "shared"
		}
		b.Run(name, func(b *testing.B) {
			v, ctx, _ := newVFS(b, c, mode)
			for b.Loop() {
				if _, err := v.Stat(ctx, v.Root(), deepPath, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("host", func(b *testing.B) {
		var st unix.Stat_t
		for b.Loop() {
			if err := unix.Stat(dir+"/"+deepPath, &st); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkReaddir10k lists a directory of 10,000 entries through
// getdents: cold (fresh file system), cached (exclusive) and shared (read
// again from the server at the start of every listing).
func BenchmarkReaddir10k(b *testing.B) {
	dir := b.TempDir()
	must(b, os.Mkdir(dir+"/d", 0o755))
	for i := range 10000 {
		f, err := os.Create(fmt.Sprintf("%s/d/file-%05d", dir, i))
		must(b, err)
		f.Close()
	}
	c := benchClient(b, dir)
	list := func(b *testing.B, v *fs.VFS, ctx *fs.Context) {
		fd, err := v.Open(ctx, v.Root(), "d", fs.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY})
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		if err := fd.Getdents(func(fs.DirEntry) bool { n++; return true }); err != nil {
			b.Fatal(err)
		}
		fd.Close()
		if n != 10002 {
			b.Fatalf("listed %d entries", n)
		}
	}
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			v, ctx, g := newVFS(b, c, gofer.Exclusive)
			b.StartTimer()
			list(b, v, ctx)
			b.StopTimer()
			g.Close()
			b.StartTimer()
		}
	})
	for _, mode := range modes {
		name := "cached"
		if mode == gofer.Shared {
			name = "shared"
		}
		b.Run(name, func(b *testing.B) {
			v, ctx, _ := newVFS(b, c, mode)
			list(b, v, ctx)
			for b.Loop() {
				list(b, v, ctx)
			}
		})
	}
	b.Run("host", func(b *testing.B) {
		for b.Loop() {
			ents, err := os.ReadDir(dir + "/d")
			if err != nil || len(ents) != 10000 {
				b.Fatal(len(ents), err)
			}
		}
	})
}
