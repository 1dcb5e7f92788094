package overlay

import (
	"archive/tar"
	"bytes"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
	"runsc.dev/runsc/sentry/fs/ramfs"
	"runsc.dev/runsc/sentry/fs/tmpfs"
)

// TestLayerRoundTrip exports the upper of an overlay changed by random
// operations, imports the tar as a lower (in both encodings) under a fresh
// upper, and checks that the merged view is the same.
func TestLayerRoundTrip(t *testing.T) {
	for seed := uint64(1); seed <= 30; seed++ {
		r := rand.New(rand.NewPCG(seed, 7))
		var lowers []fs.Filesystem
		for i := range 2 {
			lf := layer(t, nil)
			x := vfsExec{n: newNS(t, lf)}
			for _, o := range genLayer(r, i == 0) {
				if o.kind == opCreate && x.isSpecial(o.path) {
					continue
				}
				x.run(o)
			}
			lowers = append(lowers, lf)
		}
		o, view, _ := mount(t, lowers...)
		x := vfsExec{n: view, held: map[int64]*fs.FileDescription{}}
		for range 300 {
			x.run(genOp(r, x))
		}
		x.close()
		want := x.dump(false)
		var buf bytes.Buffer
		must(t, o.Export(&buf))
		for _, format := range []Format{FormatOverlay, FormatOCI} {
			imported := ramfs.New(ramfs.Options{Mode: 0o755})
			must(t, Import(bytes.NewReader(buf.Bytes()), imported.Root(), format))
			ls := []Layer{{FS: imported, Format: format}}
			for _, l := range lowers {
				ls = append(ls, Layer{FS: l})
			}
			o2, err := New(Options{Upper: tmpfs.New(tmpfs.Options{Mode: 0o755}), Lowers: ls})
			must(t, err)
			if got := (vfsExec{n: newNS(t, o2)}).dump(false); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("seed %d, format %d: merged view differs after the round trip:\n%s", seed, format, diffLines(want, got))
			}
		}
	}
}

// TestExportFormat checks the tar entries Docker expects of a layer.
func TestExportFormat(t *testing.T) {
	l := layer(t, func(n *ns) {
		n.write("/etc/passwd", "root")
		n.write("/etc/old", "x")
		n.write("/var/cache/a", "a")
	})
	o, v, _ := mount(t, l)
	root := v.v.Root()
	must(t, v.v.Unlink(v.ctx, root, "/etc/old"))
	must(t, v.v.Unlink(v.ctx, root, "/var/cache/a"))
	must(t, v.v.Rmdir(v.ctx, root, "/var/cache"))
	must(t, v.v.Mkdir(v.ctx, root, "/var/cache", 0o700))
	v.write("/etc/passwd", "root:x:0:0")
	must(t, v.v.Link(v.ctx, root, "/etc/passwd", root, "/etc/pw", 0))
	must(t, v.v.Symlink(v.ctx, "passwd", root, "/etc/sl"))
	var buf bytes.Buffer
	must(t, o.Export(&buf))
	var got []string
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		must(t, err)
		data, _ := io.ReadAll(tr)
		got = append(got, string(h.Typeflag)+" "+h.Name+" "+h.Linkname+" "+string(data))
	}
	eq(t, got, []string{
		"5 etc/  ",
		"0 etc/.wh.old  ",
		"0 etc/passwd  root:x:0:0",
		"1 etc/pw etc/passwd ",
		"2 etc/sl passwd ",
		"5 var/  ",
		"5 var/cache/  ",
		"0 var/cache/.wh..wh..opq  ",
	})
	_, err := New(Options{Lowers: []Layer{{FS: ramfs.New(ramfs.Options{})}}})
	must(t, err)
	ro, _ := New(Options{Lowers: []Layer{{FS: l}}})
	wantErr(t, ro.Export(&buf), unix.EROFS)
}
