package overlay

import (
	"bytes"
	"fmt"
	"testing"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
	"runsc.dev/runsc/sentry/fs/ramfs"
	"runsc.dev/runsc/sentry/fs/tmpfs"
)

const benchFiles = 1000

// BenchmarkLookup stats /usr/lib/pkg/fN, whose directories exist in every
// layer and whose file is only in the bottom one, through n lowers. Cold
// lookups resolve the name through every layer; warm ones hit the cache.
func BenchmarkLookup(b *testing.B) {
	for _, n := range []int{1, 4, 16} {
		var lowers []fs.Filesystem
		for i := range n {
			lowers = append(lowers, layer(b, func(x *ns) {
				x.mkdirAll("/usr/lib/pkg")
				x.write(fmt.Sprintf("/usr/lib/pkg/only-in-%d", i), "")
				if i == n-1 {
					for f := range benchFiles {
						x.write(fmt.Sprintf("/usr/lib/pkg/f%d", f), "")
					}
				}
			}))
		}
		paths := make([]string, benchFiles)
		for f := range paths {
			paths[f] = fmt.Sprintf("/usr/lib/pkg/f%d", f)
		}
		b.Run(fmt.Sprintf("lowers=%d/cold", n), func(b *testing.B) {
			var v *ns
			for i := 0; b.Loop(); i++ {
				if i%benchFiles == 0 {
					b.StopTimer()
					_, v, _ = mount(b, lowers...)
					b.StartTimer()
				}
				if _, err := v.v.Stat(v.ctx, v.v.Root(), paths[i%benchFiles], 0); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("lowers=%d/dentry", n), func(b *testing.B) {
			// Dentry.Lookup alone, without the VFS's walk: the merge.
			var dir fs.Dentry
			for i := 0; b.Loop(); i++ {
				if i%benchFiles == 0 {
					b.StopTimer()
					_, v, _ := mount(b, lowers...)
					loc, err := v.v.Lookup(v.ctx, v.v.Root(), "/usr/lib/pkg", 0)
					must(b, err)
					dir = loc.Dentry
					b.StartTimer()
				}
				if _, err := dir.Lookup(paths[i%benchFiles][len("/usr/lib/pkg/"):]); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("lowers=%d/warm", n), func(b *testing.B) {
			_, v, _ := mount(b, lowers...)
			for i := 0; b.Loop(); i++ {
				if _, err := v.v.Stat(v.ctx, v.v.Root(), paths[i%benchFiles], 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCopyUp64MiB opens a 64 MiB lower file for writing, which copies
// it to a fresh tmpfs upper.
func BenchmarkCopyUp64MiB(b *testing.B) {
	const size = 64 << 20
	for _, sparse := range []bool{false, true} {
		name := "dense"
		if sparse {
			name = "sparse"
		}
		l := layer(b, func(x *ns) {
			fd, err := x.v.Open(x.ctx, x.v.Root(), "/big", fs.OpenHow{Flags: unix.O_CREAT | unix.O_WRONLY, Mode: 0o644})
			must(b, err)
			chunk := bytes.Repeat([]byte{0xa5}, 1<<20)
			for off := int64(0); off < size; off += 1 << 20 {
				if !sparse || off%(8<<20) == 0 {
					_, err = fd.Pwrite(chunk, off)
					must(b, err)
				}
			}
			must(b, fd.Truncate(size))
			must(b, fd.Close())
		})
		b.Run(name, func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				b.StopTimer()
				o, err := New(Options{Upper: tmpfs.New(tmpfs.Options{UnlimitedSize: true}), Lowers: []Layer{{FS: l}}})
				must(b, err)
				v := newNS(b, o)
				b.StartTimer()
				fd, err := v.v.Open(v.ctx, v.v.Root(), "/big", fs.OpenHow{Flags: unix.O_WRONLY})
				if err != nil {
					b.Fatal(err)
				}
				fd.Close()
				b.StopTimer()
				// Free the copy (the upper's data goes with its last name).
				must(b, v.v.Unlink(v.ctx, v.v.Root(), "/big"))
				b.StartTimer()
			}
		})
	}
}

// BenchmarkReaddirMerged lists a directory of 10,000 entries split over
// the upper and three lowers (with some names in several layers and some
// whited out). Cold is the first listing of a new overlay, warm a listing
// of an unchanged directory.
func BenchmarkReaddirMerged(b *testing.B) {
	const entries = 10000
	var lowers []fs.Filesystem
	for l := range 3 {
		lowers = append(lowers, layer(b, func(x *ns) {
			for i := l; i < entries; i += 4 {
				x.write(fmt.Sprintf("/d/e%d", i), "")
			}
			// Names also in the layer above, hidden by it.
			for i := l + 1; i < entries; i += 40 {
				x.write(fmt.Sprintf("/d/e%d", i), "")
			}
		}))
	}
	setup := func() (*FS, *ns) {
		up := ramfs.New(ramfs.Options{Mode: 0o755})
		ux := newNS(b, up)
		for i := 3; i < entries; i += 4 {
			ux.write(fmt.Sprintf("/d/e%d", i), "")
		}
		var ls []Layer
		for _, l := range lowers {
			ls = append(ls, Layer{FS: l})
		}
		o, err := New(Options{Upper: up, Lowers: ls})
		must(b, err)
		return o, newNS(b, o)
	}
	list := func(v *ns) {
		fd, err := v.v.Open(v.ctx, v.v.Root(), "/d", fs.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY})
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		// getdents64 with a 32 KiB buffer returns about 1000 entries a call.
		for {
			k := 0
			must(b, fd.Getdents(func(fs.DirEntry) bool { k++; return k <= 1000 }))
			if k == 0 {
				break
			}
			n += min(k, 1000)
		}
		fd.Close()
		if n != entries+2 {
			b.Fatalf("listed %d entries", n)
		}
	}
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			_, v := setup()
			b.StartTimer()
			list(v)
		}
	})
	b.Run("warm", func(b *testing.B) {
		_, v := setup()
		list(v)
		for b.Loop() {
			list(v)
		}
	})
}
