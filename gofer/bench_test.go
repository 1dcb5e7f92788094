package gofer

// Benchmarks of the gofer over a SOCK_SEQPACKET socketpair, client and
// server in one process. Results are in docs/PERFORMANCE-9P.md.

import (
	"fmt"
	"io"
	"os"
	"testing"

	"runsc.dev/runsc/p9"
)

func BenchmarkGetAttrRoundTrip(b *testing.B) {
	_, root := serveDir(b, b.TempDir(), false)
	for b.Loop() {
		if _, _, _, err := root.GetAttr(ctx, p9.AttrAll); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWalkGetAttrOpen4Deep walks a/b/c/d (with attributes), opens the
// file read-only (receiving the donated fd) and clunks it.
func BenchmarkWalkGetAttrOpen4Deep(b *testing.B) {
	dir := b.TempDir()
	writeFile(b, dir+"/a/b/c/d", "x")
	_, root := serveDir(b, dir, false)
	names := []string{"a", "b", "c", "d"}
	for b.Loop() {
		_, f, _, _, err := root.WalkGetAttr(ctx, names)
		if err != nil {
			b.Fatal(err)
		}
		_, _, donated, err := f.Open(ctx, p9.ReadOnly)
		if err != nil {
			b.Fatal(err)
		}
		donated.Close()
		if err := f.Clunk(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReaddir10000(b *testing.B) {
	dir := b.TempDir()
	for i := range 10000 {
		f, err := os.Create(fmt.Sprintf("%s/entry-%05d", dir, i))
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	_, root := serveDir(b, dir, false)
	for b.Loop() {
		_, d, err := root.Walk(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, _, err := d.Open(ctx, p9.ReadOnly); err != nil {
			b.Fatal(err)
		}
		n := 0
		for off := uint64(0); ; {
			ents, err := d.Readdir(ctx, off, 0)
			if err != nil {
				b.Fatal(err)
			}
			if len(ents) == 0 {
				break
			}
			n += len(ents)
			off = ents[len(ents)-1].Offset
		}
		if n != 10000 {
			b.Fatalf("read %d entries", n)
		}
		d.Clunk(ctx)
	}
}

const bigFile = 64 << 20

func openBig(b *testing.B) (*p9.Fid, *os.File) {
	dir := b.TempDir()
	f, err := os.Create(dir + "/big")
	if err != nil {
		b.Fatal(err)
	}
	if err := f.Truncate(bigFile); err != nil {
		b.Fatal(err)
	}
	f.Close()
	_, root := serveDir(b, dir, false)
	fid := walk(b, root, "big")
	_, _, donated, err := fid.Open(ctx, p9.ReadOnly)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { donated.Close() })
	return fid, donated
}

func BenchmarkRead64MiBVia9P(b *testing.B) {
	fid, _ := openBig(b)
	buf := make([]byte, bigFile)
	b.SetBytes(bigFile)
	for b.Loop() {
		if n, err := fid.ReadAt(ctx, buf, 0); n != bigFile || (err != nil && err != io.EOF) {
			b.Fatal(n, err)
		}
	}
}

func BenchmarkRead64MiBViaDonatedFD(b *testing.B) {
	_, donated := openBig(b)
	buf := make([]byte, bigFile)
	b.SetBytes(bigFile)
	for b.Loop() {
		if n, err := donated.ReadAt(buf, 0); n != bigFile || err != nil {
			b.Fatal(n, err)
		}
	}
}
