package overlay

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	hostgofer "runsc.dev/runsc/gofer"
	"runsc.dev/runsc/p9"
	"runsc.dev/runsc/sentry/fs"
	"runsc.dev/runsc/sentry/fs/gofer"
	"runsc.dev/runsc/sentry/fs/tmpfs"
)

// requireRoot skips a test that needs root and mounts, except in CI
// (which runs as root), where it must not be skipped silently.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 && os.Getenv("CI") != "true" {
		t.Skip("needs root to mount tmpfs and overlayfs on the host")
	}
}

// kernelOpts make Linux's overlayfs comparable with ours: no redirects,
// no index, no metacopy, no xino.
const kernelOpts = "redirect_dir=off,index=off,metacopy=off,xino=off"

var trace = os.Getenv("OVERLAY_TRACE") != ""

const (
	diffSeeds = 100
	diffOps   = 520 // 100 × 520 = 52,000 operations
)

// TestKernelDifferential runs random operation sequences on Linux's
// overlayfs (tmpfs layers) and on ours, comparing every result, the merged
// trees and the raw uppers (whiteouts, opaque marks). Where ours is
// deliberately better (a directory rename Linux refuses with EXDEV), the
// test asserts that ours succeeded and moves the tree on the kernel side
// entry by entry, which is what Linux users must do.
func TestKernelDifferential(t *testing.T) {
	requireRoot(t)
	base := t.TempDir()
	must(t, unix.Mount("tmpfs", base, "tmpfs", 0, "mode=755"))
	t.Cleanup(func() { unix.Unmount(base, unix.MNT_DETACH) })
	old := unix.Umask(0o022)
	defer unix.Umask(old)
	seeds := uint64(diffSeeds)
	if testing.Short() {
		seeds = 4
	}
	start := time.Now()
	first := uint64(1)
	if s := os.Getenv("OVERLAY_SEED"); s != "" {
		fmt.Sscan(s, &first)
		seeds = first
	}
	for seed := first; seed <= seeds; seed++ {
		runDiffSeed(t, base, seed, diffOps)
	}
	t.Logf("%d seeds × %d ops in %v", seeds, diffOps, time.Since(start))
}

func runDiffSeed(t *testing.T, base string, seed uint64, nops int) {
	dir := filepath.Join(base, fmt.Sprint(seed))
	for _, d := range []string{"l0", "l1", "l2", "u", "w", "m"} {
		must(t, os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	r := rand.New(rand.NewPCG(seed, 0x0e1a))
	var lowers []Layer
	var lowerDirs []string
	for i := range 3 {
		ld := filepath.Join(dir, fmt.Sprintf("l%d", i))
		lf := layer(t, nil)
		h, x := hostExec{root: ld}, vfsExec{n: newNS(t, lf)}
		for _, o := range genLayer(r, i < 2) {
			if o.kind == opCreate && h.isSpecial(o.path) {
				continue // opening a fifo would block
			}
			if hr, xr := h.run(o), x.run(o); hr != xr {
				t.Fatalf("seed %d: building lower %d: %v: host %v, ramfs %v", seed, i, o, hr, xr)
			}
		}
		if seed%4 == 3 {
			// A quarter of the seeds read the very directories Linux
			// reads, through the gofer (9P), as boot does.
			lowers = append(lowers, Layer{FS: goferLayer(t, ld)})
			lowerDirs = append(lowerDirs, ld)
			continue
		}
		format := FormatOverlay
		if seed%2 == 0 {
			// Half the seeds give ours the same lowers in the OCI
			// encoding, checking it against Linux's reading of the
			// overlay one.
			format = FormatOCI
			must(t, toOCI(lf.Root()))
		}
		lowers = append(lowers, Layer{FS: lf, Format: format})
		lowerDirs = append(lowerDirs, ld)
	}
	if trace {
		out, _ := exec.Command("sh", "-c", "cd "+dir+" && find l0 l1 l2 -exec stat -c '%n %F %t:%T' {} + && getfattr -R -d -m - l0 l1 l2 2>/dev/null").CombinedOutput()
		t.Logf("lowers:\n%s", out)
	}
	mnt := filepath.Join(dir, "m")
	data := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s,%s", strings.Join(lowerDirs, ":"),
		filepath.Join(dir, "u"), filepath.Join(dir, "w"), kernelOpts)
	if err := unix.Mount("overlay", mnt, "overlay", 0, data); err != nil {
		if os.Getenv("CI") != "true" {
			t.Skipf("mount overlay: %v", err)
		}
		t.Fatalf("mount overlay: %v", err)
	}
	defer unix.Unmount(mnt, 0)
	up := tmpfs.New(tmpfs.Options{Mode: 0o755})
	ofs, err := New(Options{Upper: up, Lowers: lowers})
	must(t, err)
	host, ours := hostExec{root: mnt, held: map[int64]int{}}, vfsExec{n: newNS(t, ofs), held: map[int64]*fs.FileDescription{}}
	defer host.close()
	defer ours.close()
	var log []string
	fail := func(format string, args ...any) {
		t.Helper()
		tail := log[max(0, len(log)-25):]
		t.Fatalf("seed %d, op %d: %s\nlast ops:\n  %s", seed, len(log)-1, fmt.Sprintf(format, args...), strings.Join(tail, "\n  "))
	}
	if s := os.Getenv("OVERLAY_STOP"); s != "" {
		fmt.Sscan(s, &nops)
	}
	for range nops {
		o := genOp(r, host)
		log = append(log, o.String())
		var before fs.Stat
		keepsIno := o.kind == opChmod || o.kind == opChown || o.kind == opSetxattr || o.kind == opTruncate ||
			o.kind == opAppend || o.kind == opUtimens
		if keepsIno || o.kind == opRename {
			before, _ = ours.n.v.Stat(ours.n.ctx, ours.n.v.Root(), o.path, unix.AT_SYMLINK_NOFOLLOW)
			if o.kind == opRename && (before.Type() == unix.S_IFLNK || o.flags&unix.RENAME_EXCHANGE != 0) {
				before.Ino = 0 // the new path may resolve through the moved link
			}
		}
		hr, xr := host.run(o), ours.run(o)
		if trace {
			t.Logf("%d %v: kernel %v ours %v", len(log)-1, o, hr, xr)
		}
		if o.kind == opRename && hr.err == unix.EXDEV {
			// Linux refuses before checking the target; ours checks it.
			if want := host.moveErr(o.path2); xr.err != want {
				fail("%v: kernel EXDEV, ours %v, want %v", o, xr, want)
			}
			if xr.err != 0 {
				continue
			}
			if err := host.moveTree(o.path, o.path2); err != nil {
				fail("%v: moving the tree on the kernel side: %v", o, err)
			}
			if after, err := ours.n.v.Stat(ours.n.ctx, ours.n.v.Root(), o.path2, unix.AT_SYMLINK_NOFOLLOW); before.Ino != 0 && (err != nil || after.Ino != before.Ino) {
				fail("%v: moved directory's inode %d became %d (%v)", o, before.Ino, after.Ino, err)
			}
			continue
		}
		if hr != xr {
			fail("%v: kernel %v, ours %v", o, hr, xr)
		}
		if (keepsIno || o.kind == opRename) && xr.err == 0 && before.Ino != 0 {
			p := o.path
			if o.kind == opRename {
				p = o.path2 // the file keeps its number at its new name
			}
			after, err := ours.n.v.Stat(ours.n.ctx, ours.n.v.Root(), p, unix.AT_SYMLINK_NOFOLLOW)
			if err != nil || after.Ino != before.Ino || after.Dev != before.Dev {
				fail("%v: inode %d/%d became %d/%d (%v)", o, before.Dev, before.Ino, after.Dev, after.Ino, err)
			}
		}
	}
	if s := os.Getenv("OVERLAY_INSPECT"); s != "" {
		for _, p := range strings.Split(s, ",") {
			t.Logf("%s: kernel %v ours %v", p, host.run(op{kind: opStat, path: p}), ours.run(op{kind: opStat, path: p}))
		}
	}
	if h, x := host.dump(false), ours.dump(false); strings.Join(h, "\n") != strings.Join(x, "\n") {
		fail("merged trees differ:\n%s", diffLines(h, x))
	}
	upDir := filepath.Join(dir, "u")
	h, x := (hostExec{root: upDir}).dump(true), (vfsExec{n: newNS(t, up)}).dump(true)
	h, x = dropIdleOpaque(t, h, upDir, lowers), dropIdleOpaque(t, x, upDir, lowers)
	if strings.Join(h, "\n") != strings.Join(x, "\n") {
		fail("uppers differ:\n%s", diffLines(h, x))
	}
}

// dropIdleOpaque removes opaque marks that change nothing: on a directory
// the lowers (merged by themselves) do not have, or under an opaque
// directory. Linux leaves such marks behind when a rename it then refuses
// (ENOTEMPTY) has already marked the source; ours checks first.
func dropIdleOpaque(t *testing.T, lines []string, upper string, lowers []Layer) []string {
	lo, err := New(Options{Lowers: lowers})
	must(t, err)
	merged := newNS(t, lo)
	mark := " " + opaqueXattr + `="y"`
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = l
		p, _, _ := strings.Cut(l, " ")
		if !strings.Contains(l, mark) || opaqueMatters(merged, p, upper) {
			continue
		}
		out[i] = strings.Replace(l, mark, "", 1)
	}
	return out
}

func opaqueMatters(lowers *ns, p, upper string) bool {
	for a := filepath.Dir(p); a != "/"; a = filepath.Dir(a) {
		if v, err := xattrOf(upper+a, opaqueXattr); err == nil && v == "y" {
			return false
		}
	}
	st, err := lowers.v.Stat(lowers.ctx, lowers.v.Root(), p, unix.AT_SYMLINK_NOFOLLOW)
	return err == nil && st.IsDir()
}

func xattrOf(p, name string) (string, error) {
	buf := make([]byte, 256)
	k, err := unix.Lgetxattr(p, name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:k]), nil
}

// goferLayer serves dir read-only through a gofer and returns the sentry's
// 9P file system over it.
func goferLayer(t *testing.T, dir string) fs.Filesystem {
	e, err := hostgofer.OpenExport(dir, true)
	must(t, err)
	cs, ss, err := p9.Socketpair()
	must(t, err)
	done := make(chan error, 1)
	go func() { done <- e.Serve(ss) }()
	g, err := gofer.Dial(cs, gofer.Options{})
	must(t, err)
	t.Cleanup(func() {
		g.Close()
		if err := <-done; err != nil {
			t.Errorf("gofer Serve: %v", err)
		}
		e.Close()
	})
	return g
}

// toOCI rewrites a layer from the overlay encoding to the OCI one: char
// 0/0 whiteouts become ".wh.<name>" files, opaque marks ".wh..wh..opq".
func toOCI(d fs.Dentry) error {
	var names []string
	if err := d.Readdir(2, func(e fs.DirEntry) bool { names = append(names, e.Name); return true }); err != nil {
		return err
	}
	for _, n := range names {
		c, err := d.Lookup(n)
		if err != nil {
			return err
		}
		st, err := c.Stat()
		if err != nil {
			return err
		}
		switch {
		case st.Type() == unix.S_IFCHR && st.Rdev == 0:
			if err := d.Unlink(n); err != nil {
				return err
			}
			if _, err := d.Create(ociWhPrefix+n, &fs.CreateAttrs{Mode: unix.S_IFREG | 0o600}); err != nil {
				return err
			}
		case st.IsDir():
			if err := toOCI(c); err != nil {
				return err
			}
		}
	}
	if v, err := d.Getxattr(opaqueXattr); err == nil && string(v) == "y" {
		if err := d.Removexattr(opaqueXattr); err != nil {
			return err
		}
		_, err := d.Create(ociOpaque, &fs.CreateAttrs{Mode: unix.S_IFREG | 0o600})
		return err
	}
	return nil
}

// diffLines shows the lines only one side has.
func diffLines(kernel, ours []string) string {
	in := func(s []string) map[string]bool {
		m := map[string]bool{}
		for _, l := range s {
			m[l] = true
		}
		return m
	}
	k, o := in(kernel), in(ours)
	var b strings.Builder
	for _, l := range kernel {
		if !o[l] {
			b.WriteString("  kernel: " + l + "\n")
		}
	}
	for _, l := range ours {
		if !k[l] {
			b.WriteString("  ours:   " + l + "\n")
		}
	}
	return b.String()
}

// moveErr is the errno a directory rename onto dst fails with when Linux
// says EXDEV first.
func (h hostExec) moveErr(dst string) unix.Errno {
	var st unix.Stat_t
	if err := unix.Lstat(h.p(dst), &st); err != nil {
		return 0
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return unix.ENOTDIR
	}
	if ents, _ := os.ReadDir(h.p(dst)); len(ents) > 0 {
		return unix.ENOTEMPTY
	}
	return 0
}

// moveTree moves a directory the kernel refused to rename: a new directory
// with the same attributes, each entry renamed into it (non-directories
// rename fine on overlayfs), the old one removed.
func (h hostExec) moveTree(src, dst string) error {
	var st unix.Stat_t
	if err := unix.Lstat(h.p(src), &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return unix.Rename(h.p(src), h.p(dst))
	}
	if err := unix.Rmdir(h.p(dst)); err != nil && err != unix.ENOENT {
		return err
	}
	if err := unix.Mkdir(h.p(dst), 0o700); err != nil {
		return err
	}
	if err := unix.Lchown(h.p(dst), int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	if err := unix.Chmod(h.p(dst), st.Mode&0o7777); err != nil {
		return err
	}
	buf := make([]byte, 4096)
	if k, err := unix.Llistxattr(h.p(src), buf); err == nil {
		for _, n := range strings.Split(string(buf[:k]), "\x00") {
			if strings.HasPrefix(n, "user.") || strings.HasPrefix(n, privatePfx) {
				v := make([]byte, 256)
				vk, err := unix.Lgetxattr(h.p(src), n, v)
				if err != nil {
					return err
				}
				if err := unix.Lsetxattr(h.p(dst), n, v[:vk], 0); err != nil {
					return err
				}
			}
		}
	}
	ents, err := os.ReadDir(h.p(src))
	if err != nil {
		return err
	}
	for _, e := range ents {
		if h.ghost(src + "/" + e.Name()) {
			continue
		}
		if err := h.moveTree(src+"/"+e.Name(), dst+"/"+e.Name()); err != nil {
			return err
		}
	}
	return unix.Rmdir(h.p(src))
}

var names = []string{"a", "b", "c"}

func randPath(r *rand.Rand) string {
	var b strings.Builder
	for range 1 + r.IntN(3) {
		b.WriteString("/" + names[r.IntN(len(names))])
	}
	return b.String()
}

var modes = []uint32{0o755, 0o700, 0o644, 0o600, 0o4755, 0o2750, 0o1777, 0o444}

func randData(r *rand.Rand) string {
	const letters = "abcdefghijklmnopqrstuvwxyz"
	n := r.IntN(12)
	b := make([]byte, n)
	for i := range b {
		b[i] = letters[r.IntN(len(letters))]
	}
	return string(b)
}

// genLayer makes the operations that fill a lower: directories, files with
// modes, owners and xattrs, symlinks, fifos, and (for upper-middle layers)
// whiteouts and opaque directories.
func genLayer(r *rand.Rand, marks bool) []op {
	var ops []op
	for range 14 {
		p := randPath(r)
		parts := strings.Split(p, "/")[1:]
		cur := ""
		for _, c := range parts[:len(parts)-1] {
			cur += "/" + c
			ops = append(ops, op{kind: opMkdir, path: cur, mode: 0o755})
		}
		k := r.IntN(10)
		switch {
		case k < 3:
			ops = append(ops, op{kind: opMkdir, path: p, mode: modes[r.IntN(2)]})
		case k < 6:
			ops = append(ops, op{kind: opCreate, path: p, flags: unix.O_CREAT | unix.O_WRONLY | unix.O_TRUNC, mode: 0o644, data: randData(r)},
				op{kind: opChmod, path: p, mode: modes[r.IntN(len(modes))]})
		case k == 6:
			ops = append(ops, op{kind: opSymlink, path: p, path2: names[r.IntN(len(names))]})
		case k == 7:
			ops = append(ops, op{kind: opMkfifo, path: p, mode: 0o644})
		case k == 8 && marks:
			ops = append(ops, op{kind: opWhiteout, path: p})
		case k == 9 && marks:
			ops = append(ops, op{kind: opMkdir, path: p, mode: 0o755},
				op{kind: opSetxattr, path: p, name: opaqueXattr, data: "y"})
		}
		if r.IntN(4) == 0 && k != 6 {
			ops = append(ops, op{kind: opChown, path: p, uid: 1000})
		}
		if r.IntN(4) == 0 {
			ops = append(ops, op{kind: opSetxattr, path: p, name: "user.k", data: randData(r)})
		}
	}
	return ops
}

// oracle answers questions about the current tree for genOp.
type oracle interface {
	isDir(p string) bool
	isSymlink(p string) bool
	isSpecial(p string) bool
}

// genOp makes a random operation on the overlay; host answers questions
// about the current tree (an exchange involving a directory with lower
// parts cannot be replayed on Linux, so exchanges are of non-directories).
func genOp(r *rand.Rand, host oracle) op {
	o := op{path: randPath(r)}
	switch n := r.IntN(100); {
	case n < 10:
		o.kind, o.flags, o.mode, o.data = opCreate, unix.O_CREAT|unix.O_WRONLY|unix.O_TRUNC, 0o644, randData(r)
		if r.IntN(3) == 0 {
			o.flags |= unix.O_EXCL
		}
	case n < 17:
		o.kind, o.data = opAppend, randData(r)
	case n < 24:
		o.kind = opRead
	case n < 28:
		o.kind, o.size = opTruncate, int64(r.IntN(6))
	case n < 36:
		o.kind, o.mode = opMkdir, modes[r.IntN(2)]
	case n < 43:
		o.kind = opRmdir
	case n < 50:
		o.kind = opUnlink
	case n < 60:
		o.kind, o.path2 = opRename, randPath(r)
		switch r.IntN(6) {
		case 0:
			o.flags = unix.RENAME_NOREPLACE
		case 1:
			if !host.isDir(o.path) && !host.isDir(o.path2) {
				o.flags = unix.RENAME_EXCHANGE
			}
		}
	case n < 64:
		o.kind, o.path2 = opLink, randPath(r)
	case n < 67:
		o.kind, o.path2 = opSymlink, names[r.IntN(len(names))]
	case n < 71:
		o.kind, o.mode = opChmod, modes[r.IntN(len(modes))]
	case n < 73:
		o.kind, o.uid = opChown, uint32(r.IntN(2)*1000)
	case n < 77:
		o.kind, o.name, o.data = opSetxattr, []string{"user.k", "user.j", opaqueXattr}[r.IntN(3)], randData(r)
	case n < 79:
		o.kind, o.name = opRemovexattr, []string{"user.k", "user.j"}[r.IntN(2)]
	case n < 81:
		o.kind, o.name = opGetxattr, []string{"user.k", opaqueXattr}[r.IntN(2)]
	case n < 83:
		o.kind = opUtimens
		o.ts = [2]unix.Timespec{{Sec: 1e9, Nsec: 5}, {Sec: 1e9 + int64(r.IntN(100)), Nsec: 7}}
	case n < 84:
		o.kind, o.mode = opMkfifo, 0o644
	case n < 85:
		o.kind = opWhiteout
	case n < 88:
		o.kind = opStat
	case n < 90:
		// Descriptions held open across copy-ups must read the copy.
		o.kind, o.size = opHold, int64(r.IntN(3))
	case n < 91:
		o.kind, o.size = opReadHeld, int64(r.IntN(3))
	case n < 97:
		o.kind = opReaddir
		if r.IntN(4) == 0 {
			o.path = "/"
		}
	default:
		o.kind = opReadlink
	}
	if (o.kind == opCreate || o.kind == opAppend || o.kind == opRead || o.kind == opHold) && host.isSpecial(o.path) {
		o.kind = opStat // opening a fifo would block
	}
	if o.kind == opChown && host.isSymlink(o.path) {
		// Symlinks stay root's: whether following another's link in a
		// sticky directory is refused is the host's sysctl
		// (fs.protected_symlinks), not the overlay's business.
		o.kind = opStat
	}
	return o
}

func (h hostExec) isSymlink(p string) bool {
	var st unix.Stat_t
	return unix.Lstat(h.p(p), &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK
}

// isSpecial reports whether p is, or is a symlink to, a fifo or device
// (opening a fifo blocks; what opening a device does is not the file
// system's business).
func (h hostExec) isSpecial(p string) bool {
	var st unix.Stat_t
	if unix.Stat(h.p(p), &st) != nil {
		return false
	}
	t := st.Mode & unix.S_IFMT
	return t == unix.S_IFIFO || t == unix.S_IFCHR || t == unix.S_IFBLK
}

func (h hostExec) isDir(p string) bool {
	var st unix.Stat_t
	return unix.Lstat(h.p(p), &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR
}
