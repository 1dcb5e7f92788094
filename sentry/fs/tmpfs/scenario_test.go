package tmpfs_test

import (
	"fmt"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs/fstest"
)

// Hand-written operation sequences for rules random sequences rarely reach,
// checked against Linux like the random ones.

var (
	root  = fstest.RootCred
	u1000 = fstest.Cred{UID: 1000, GID: 1000}
	u1001 = fstest.Cred{UID: 1001, GID: 1001}
)

func mk(k fstest.Kind, c fstest.Cred, path string, f ...func(*fstest.Op)) fstest.Op {
	op := fstest.Op{Kind: k, Cred: c, Umask: 0o022, Path: path}
	for _, fn := range f {
		fn(&op)
	}
	return op
}

func mode(m uint32) func(*fstest.Op)    { return func(o *fstest.Op) { o.Mode = m } }
func flags(f int) func(*fstest.Op)      { return func(o *fstest.Op) { o.Flags = f } }
func to(p string) func(*fstest.Op)      { return func(o *fstest.Op) { o.Path2 = p } }
func umask(m uint32) func(*fstest.Op)   { return func(o *fstest.Op) { o.Umask = m } }
func owner(u, g int64) func(*fstest.Op) { return func(o *fstest.Op) { o.UID, o.GID = u, g } }
func size(n int64) func(*fstest.Op)     { return func(o *fstest.Op) { o.Size = n } }
func writes(data ...string) func(*fstest.Op) {
	return func(o *fstest.Op) {
		for _, d := range data {
			o.Writes = append(o.Writes, fstest.Write{Off: -1, Data: []byte(d)})
		}
	}
}

func create(c fstest.Cred, path string, m uint32) fstest.Op {
	return mk(fstest.OpOpen, c, path, flags(unix.O_CREAT|unix.O_WRONLY), mode(m), umask(0))
}

func runScenario(t *testing.T, data string, ops []fstest.Op) {
	t.Helper()
	needRoot(t)
	host, sentry := sides(t, data)
	if err := fstest.CheckOps(t.Name(), ops, host, sentry); err != nil {
		t.Error(err)
	}
}

func TestScenarioSymlinkLimit(t *testing.T) {
	ops := []fstest.Op{create(root, "f", 0o644), mk(fstest.OpSymlink, root, "l0", to("f"))}
	for i := 1; i <= 41; i++ {
		ops = append(ops, mk(fstest.OpSymlink, root, fmt.Sprintf("l%d", i), to(fmt.Sprintf("l%d", i-1))))
	}
	ops = append(ops,
		mk(fstest.OpStat, root, "l39"), mk(fstest.OpStat, root, "l40"), mk(fstest.OpStat, root, "l41"),
		mk(fstest.OpLstat, root, "l41"), mk(fstest.OpOpen, root, "l40"), mk(fstest.OpOpen, root, "l39"),
		mk(fstest.OpOpen, root, "l40", flags(unix.O_CREAT|unix.O_WRONLY)),
		mk(fstest.OpSymlink, root, "self", to("self")), mk(fstest.OpStat, root, "self"),
		mk(fstest.OpOpen, root, "self", flags(unix.O_CREAT|unix.O_WRONLY)),
		mk(fstest.OpSymlink, root, "dot", to(".")),
		mk(fstest.OpStat, root, strings.Repeat("dot/", 40)+"f"),
		mk(fstest.OpStat, root, strings.Repeat("dot/", 41)+"f"),
		mk(fstest.OpSymlink, root, "dang", to("nowhere/x")),
		mk(fstest.OpOpen, root, "dang", flags(unix.O_CREAT|unix.O_WRONLY)),
		mk(fstest.OpSymlink, root, "dang2", to("nowhere")),
		mk(fstest.OpOpen, root, "dang2", flags(unix.O_CREAT|unix.O_WRONLY)),
		mk(fstest.OpOpen, root, "l1", flags(unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY)),
		mk(fstest.OpOpen, root, "l1", flags(unix.O_NOFOLLOW)),
	)
	runScenario(t, "mode=755", ops)
}

func TestScenarioNames(t *testing.T) {
	n255, n256 := strings.Repeat("n", 255), strings.Repeat("n", 256)
	p4095 := strings.Repeat("./", 2047) + "f"
	ops := []fstest.Op{
		mk(fstest.OpMkdir, root, n255, mode(0o755)), mk(fstest.OpMkdir, root, n256, mode(0o755)),
		mk(fstest.OpStat, root, n256), mk(fstest.OpUnlink, root, n256), mk(fstest.OpStat, root, n256+"/x"),
		mk(fstest.OpSymlink, root, "l", to(strings.Repeat("x", 4095))),
		mk(fstest.OpSymlink, root, "l2", to(strings.Repeat("x", 4096))),
		mk(fstest.OpSymlink, root, "l3", to("")),
		mk(fstest.OpReadlink, root, "l"),
		create(root, "f", 0o644),
		mk(fstest.OpStat, root, p4095), mk(fstest.OpStat, root, p4095+"/"), mk(fstest.OpStat, root, "/"+p4095),
		mk(fstest.OpStat, root, ""), mk(fstest.OpLstat, root, ""),
		mk(fstest.OpSetxattr, root, "f", func(o *fstest.Op) { o.Name = "user." + strings.Repeat("x", 250) }),
		mk(fstest.OpSetxattr, root, "f", func(o *fstest.Op) { o.Name = "user." + strings.Repeat("x", 251) }),
		mk(fstest.OpSetxattr, root, "f", func(o *fstest.Op) { o.Name = "" }),
	}
	runScenario(t, "mode=755", ops)
}

func TestScenarioTrailingSlash(t *testing.T) {
	ops := []fstest.Op{
		create(root, "f", 0o644), mk(fstest.OpMkdir, root, "d", mode(0o755)),
		mk(fstest.OpSymlink, root, "lf", to("f")), mk(fstest.OpSymlink, root, "ld", to("d")),
		mk(fstest.OpSymlink, root, "ln", to("zz")), mk(fstest.OpSymlink, root, "lds", to("d/")),
	}
	for _, p := range []string{"f/", "d/", "lf/", "ld/", "ln/", "lds", "f/.", "d/.", "d//", "f//"} {
		ops = append(ops, mk(fstest.OpStat, root, p), mk(fstest.OpLstat, root, p), mk(fstest.OpOpen, root, p),
			mk(fstest.OpReadlink, root, p), mk(fstest.OpTruncate, root, p), mk(fstest.OpChmod, root, p, mode(0o700)),
			mk(fstest.OpSetxattr, root, p, func(o *fstest.Op) { o.Name = "user.a" }))
	}
	ops = append(ops,
		mk(fstest.OpOpen, root, "new/", flags(unix.O_CREAT|unix.O_WRONLY)),
		mk(fstest.OpOpen, root, "ln/", flags(unix.O_CREAT|unix.O_WRONLY)),
		mk(fstest.OpOpen, root, "d/", flags(unix.O_CREAT|unix.O_RDONLY)),
		mk(fstest.OpOpen, root, "d/", flags(unix.O_CREAT|unix.O_EXCL|unix.O_RDONLY)),
		mk(fstest.OpMkdir, root, "new2/", mode(0o755)), mk(fstest.OpMkdir, root, "new3//", mode(0o755)),
		mk(fstest.OpMknod, root, "new4/", mode(unix.S_IFIFO|0o644)),
		mk(fstest.OpMknod, root, "f/", mode(unix.S_IFIFO|0o644)),
		mk(fstest.OpSymlink, root, "new5/", to("f")), mk(fstest.OpSymlink, root, "f/", to("f")),
		mk(fstest.OpLink, root, "f", to("new6/")), mk(fstest.OpLink, root, "f/", to("new7")),
		mk(fstest.OpLink, root, "lf/", to("new7")), mk(fstest.OpLink, root, "ld/", to("new7")),
		mk(fstest.OpUnlink, root, "f/"), mk(fstest.OpUnlink, root, "d/"), mk(fstest.OpUnlink, root, "ld/"),
		mk(fstest.OpUnlink, root, "lf/"), mk(fstest.OpUnlink, root, "ln/"), mk(fstest.OpUnlink, root, "zz/"),
		mk(fstest.OpRmdir, root, "ld/"), mk(fstest.OpRmdir, root, "f/"),
		mk(fstest.OpRename, root, "f/", to("g")), mk(fstest.OpRename, root, "f", to("g/")),
		mk(fstest.OpRename, root, "lf", to("g/")), mk(fstest.OpRename, root, "ld/", to("g")),
		mk(fstest.OpRename, root, "f", to("lf/"), flags(unix.RENAME_EXCHANGE)),
		mk(fstest.OpRename, root, "f", to("d/"), flags(unix.RENAME_EXCHANGE)),
		mk(fstest.OpRename, root, "d/", to("e/")), mk(fstest.OpRename, root, "e//", to("d")),
		mk(fstest.OpRmdir, root, "d/"), mk(fstest.OpRmdir, root, "new3/"), mk(fstest.OpRmdir, root, "new2/."),
		mk(fstest.OpRmdir, root, "new2/.."), mk(fstest.OpRmdir, root, "/"), mk(fstest.OpRmdir, root, "."),
		mk(fstest.OpUnlink, root, "."), mk(fstest.OpUnlink, root, "/"), mk(fstest.OpMkdir, root, "/", mode(0o755)),
		mk(fstest.OpMkdir, root, "..", mode(0o755)), mk(fstest.OpRename, root, ".", to("x")),
		mk(fstest.OpRename, root, "new2", to(".")), mk(fstest.OpRename, root, "new2", to(".."), flags(unix.RENAME_NOREPLACE)),
	)
	runScenario(t, "mode=755", ops)
}

func TestScenarioSticky(t *testing.T) {
	ops := []fstest.Op{
		mk(fstest.OpMkdir, root, "t", mode(0o1777), umask(0)),
		create(u1000, "t/a", 0o666), create(u1000, "t/b", 0o666), mk(fstest.OpMkdir, u1000, "t/d", mode(0o777), umask(0)),
		mk(fstest.OpUnlink, u1001, "t/a"), mk(fstest.OpRename, u1001, "t/a", to("t/c")),
		mk(fstest.OpRename, u1001, "t/d", to("t/e")), mk(fstest.OpRmdir, u1001, "t/d"),
		create(u1001, "t/m", 0o666), mk(fstest.OpRename, u1001, "t/m", to("t/a")),
		mk(fstest.OpRename, u1001, "t/m", to("t/a"), flags(unix.RENAME_EXCHANGE)),
		mk(fstest.OpSetxattr, u1001, "t", func(o *fstest.Op) { o.Name = "user.x" }),
		mk(fstest.OpSetxattr, u1000, "t/d", func(o *fstest.Op) { o.Name = "user.x" }),
		mk(fstest.OpUnlink, fstest.Cred{UID: 1001, GID: 1001, Caps: 1 << unix.CAP_FOWNER}, "t/a"),
		mk(fstest.OpChown, root, "t", owner(1001, -1)),
		mk(fstest.OpUnlink, u1001, "t/b"),
		create(u1000, "t/r", 0o666), mk(fstest.OpMknod, u1000, "t/p", mode(unix.S_IFIFO|0o666), umask(0)),
		mk(fstest.OpSymlink, u1000, "t/s", to("r")),
		mk(fstest.OpOpen, u1001, "t/r", flags(unix.O_CREAT|unix.O_WRONLY)),
		mk(fstest.OpOpen, u1001, "t/s", flags(unix.O_CREAT|unix.O_WRONLY)),
		mk(fstest.OpOpen, u1001, "t/s", flags(unix.O_CREAT|unix.O_WRONLY|unix.O_NOFOLLOW)),
		mk(fstest.OpChown, root, "t", owner(0, -1)),
		mk(fstest.OpOpen, u1001, "t/s", flags(unix.O_CREAT|unix.O_WRONLY|unix.O_NOFOLLOW)),
		mk(fstest.OpOpen, u1001, "t/s", flags(unix.O_WRONLY)),
		mk(fstest.OpChmod, root, "t", mode(0o1770)),
		mk(fstest.OpChown, root, "t", owner(-1, 1001)),
		mk(fstest.OpOpen, u1001, "t/s", flags(unix.O_CREAT|unix.O_WRONLY|unix.O_NOFOLLOW)),
	}
	runScenario(t, "mode=755", ops)
}

func TestScenarioSetgid(t *testing.T) {
	member := fstest.Cred{UID: 1000, GID: 1000, Groups: []uint32{2000}}
	ops := []fstest.Op{
		mk(fstest.OpMkdir, root, "s", mode(0o2777), umask(0)), mk(fstest.OpChown, root, "s", owner(-1, 2000)),
		mk(fstest.OpMkdir, member, "s/d", mode(0o755)), mk(fstest.OpStat, root, "s/d"),
		mk(fstest.OpMkdir, u1001, "s/d2", mode(0o755)), mk(fstest.OpStat, root, "s/d2"),
		create(member, "s/f", 0o2755), create(u1001, "s/g", 0o2755), create(u1001, "s/h", 0o2745),
		create(fstest.Cred{UID: 1001, GID: 1001, Caps: 1 << unix.CAP_FSETID}, "s/i", 0o2755),
		mk(fstest.OpMknod, u1001, "s/p", mode(unix.S_IFIFO|0o2777)),
		mk(fstest.OpOpen, u1001, "s/j", flags(unix.O_CREAT|unix.O_WRONLY), mode(0o2777), umask(0o777)),
		mk(fstest.OpSymlink, u1001, "s/l", to("f")), mk(fstest.OpLstat, root, "s/l"),
		mk(fstest.OpMkdir, u1001, "s/d/sub", mode(0o777)), mk(fstest.OpStat, root, "s/d/sub"),
		mk(fstest.OpChmod, u1001, "s/g", mode(0o2755)), mk(fstest.OpStat, root, "s/g"),
		mk(fstest.OpChmod, member, "s/f", mode(0o2711)), mk(fstest.OpStat, root, "s/f"),
		mk(fstest.OpRename, root, "s/f", to("f"), flags(unix.RENAME_WHITEOUT)), mk(fstest.OpLstat, root, "s/f"),
	}
	runScenario(t, "mode=777", ops)
}

func TestScenarioKillPrivs(t *testing.T) {
	ops := []fstest.Op{
		create(root, "a", 0o6755), mk(fstest.OpChown, root, "a", owner(1000, -1)), mk(fstest.OpStat, root, "a"),
		create(root, "b", 0o2644), mk(fstest.OpChown, root, "b", owner(1000, -1)), mk(fstest.OpStat, root, "b"),
		create(root, "c", 0o6777), mk(fstest.OpChown, root, "c", owner(-1, -1)), mk(fstest.OpStat, root, "c"),
		create(root, "d", 0o6777),
		mk(fstest.OpOpen, u1000, "d", flags(unix.O_WRONLY), writes("x")), mk(fstest.OpStat, root, "d"),
		create(root, "e", 0o6777), mk(fstest.OpTruncate, u1000, "e", size(10)), mk(fstest.OpStat, root, "e"),
		create(root, "f", 0o2767), mk(fstest.OpOpen, u1000, "f", flags(unix.O_WRONLY), writes("x")), mk(fstest.OpStat, root, "f"),
		create(root, "g", 0o6777), mk(fstest.OpOpen, u1000, "g", flags(unix.O_WRONLY|unix.O_TRUNC)), mk(fstest.OpStat, root, "g"),
		create(root, "h", 0o6777), mk(fstest.OpOpen, u1000, "h", flags(unix.O_WRONLY), writes("")), mk(fstest.OpStat, root, "h"),
		create(root, "i", 0o6777), mk(fstest.OpOpen, root, "i", flags(unix.O_WRONLY), writes("x")), mk(fstest.OpStat, root, "i"),
		mk(fstest.OpMkdir, root, "dir", mode(0o6777), umask(0)), mk(fstest.OpChmod, root, "dir", mode(0o6777)),
		mk(fstest.OpChown, root, "dir", owner(1000, 1000)), mk(fstest.OpStat, root, "dir"),
		create(u1000, "dir/j", 0o2777), mk(fstest.OpChown, u1000, "dir/j", owner(-1, 1000)), mk(fstest.OpStat, root, "dir/j"),
		mk(fstest.OpChmod, u1000, "dir/j", mode(0o2777)), mk(fstest.OpChown, u1001, "dir/j", owner(-1, -1)),
		mk(fstest.OpChown, fstest.Cred{UID: 1001, GID: 1001, Caps: 1 << unix.CAP_CHOWN}, "dir/j", owner(-1, 2000)),
		mk(fstest.OpStat, root, "dir/j"),
	}
	runScenario(t, "mode=777", ops)
}

func TestScenarioLimits(t *testing.T) {
	ops := []fstest.Op{
		mk(fstest.OpOpen, root, "big", flags(unix.O_CREAT|unix.O_WRONLY), mode(0o644),
			func(o *fstest.Op) {
				o.Writes = []fstest.Write{{Off: -1, Data: make([]byte, 20000)}, {Off: -1, Data: []byte("x")}, {Off: 100, Data: []byte("y")}}
			}),
		mk(fstest.OpTruncate, root, "big", size(100000)), mk(fstest.OpStat, root, "big"),
		create(root, "a", 0o644), mk(fstest.OpLink, root, "a", to("a2")), mk(fstest.OpMkdir, root, "d", mode(0o755)),
		mk(fstest.OpSymlink, root, "l", to(strings.Repeat("t", 200))),
		mk(fstest.OpLink, root, "a", to("a3")), mk(fstest.OpUnlink, root, "a2"), mk(fstest.OpLink, root, "a", to("a3")),
		mk(fstest.OpSetxattr, root, "a", func(o *fstest.Op) { o.Name = "user.x"; o.Value = make([]byte, 900) }),
		mk(fstest.OpSetxattr, root, "a", func(o *fstest.Op) { o.Name = "user.y"; o.Value = make([]byte, 100) }),
		mk(fstest.OpSetxattr, root, "a", func(o *fstest.Op) {
			o.Name = "user.x"
			o.Value = make([]byte, 100)
			o.Flags = unix.XATTR_CREATE
		}),
		mk(fstest.OpRemovexattr, root, "a", func(o *fstest.Op) { o.Name = "user.x" }),
		mk(fstest.OpSetxattr, root, "a", func(o *fstest.Op) { o.Name = "trusted.y"; o.Value = make([]byte, 100) }),
		mk(fstest.OpRename, root, "a", to("b"), flags(unix.RENAME_WHITEOUT)),
		mk(fstest.OpUnlink, root, "big"),
		mk(fstest.OpRename, root, "a3", to("b"), flags(unix.RENAME_WHITEOUT)),
	}
	runScenario(t, "size=12k,nr_inodes=6", ops)
}

// TestScenarioDeadDir works relative to a directory that has been removed.
func TestScenarioDeadDir(t *testing.T) {
	long := strings.Repeat("x", 256)
	at := func(o *fstest.Op) { o.At = 1 }
	ops := []fstest.Op{
		mk(fstest.OpMkdir, root, "d", mode(0o777)),
		mk(fstest.OpFdOpen, root, "d", flags(unix.O_RDONLY|unix.O_DIRECTORY)),
		mk(fstest.OpRmdir, root, "d"),
		mk(fstest.OpMkdir, root, "x", at, mode(0o755)), mk(fstest.OpMkdir, root, long, at, mode(0o755)),
		mk(fstest.OpMknod, root, "x", at, mode(unix.S_IFIFO|0o644)), mk(fstest.OpSymlink, root, "x", at, to("y")),
		mk(fstest.OpOpen, root, "x", at, flags(unix.O_CREAT|unix.O_WRONLY), mode(0o644)),
		mk(fstest.OpOpen, root, long, at, flags(unix.O_CREAT|unix.O_WRONLY), mode(0o644)),
		mk(fstest.OpUnlink, root, long, at), mk(fstest.OpUnlink, root, "x", at), mk(fstest.OpRmdir, root, "x", at),
		mk(fstest.OpStat, root, long, at), mk(fstest.OpStat, root, "x", at), mk(fstest.OpStat, root, ".", at),
		mk(fstest.OpStat, root, "..", at), mk(fstest.OpStat, root, "x/..", at), mk(fstest.OpGetdents, root, ".", at),
		mk(fstest.OpFdGetdents, root, ""), mk(fstest.OpFdStat, root, ""),
		mk(fstest.OpFdOpen, root, "..", at, flags(unix.O_RDONLY)),
		mk(fstest.OpMkdir, root, "x", at, mode(0o755)),
	}
	runScenario(t, "mode=755", ops)
}

// TestScenarioPinnedDir removes directories while files in them are open:
// their inode space stays taken until the files are closed.
func TestScenarioPinnedDir(t *testing.T) {
	slot := func(k int) func(*fstest.Op) { return func(o *fstest.Op) { o.Slot = k } }
	ops := []fstest.Op{
		mk(fstest.OpMkdir, root, "d", mode(0o777)), mk(fstest.OpMkdir, root, "d/s", mode(0o777)),
		mk(fstest.OpFdOpen, root, "d/s/f", flags(unix.O_CREAT|unix.O_RDWR), mode(0o644)),
		mk(fstest.OpUnlink, root, "d/s/f"), mk(fstest.OpRmdir, root, "d/s"), mk(fstest.OpRmdir, root, "d"),
		mk(fstest.OpMkdir, root, "e", mode(0o777)),
		mk(fstest.OpFdOpen, root, "e", slot(1), flags(unix.O_TMPFILE|unix.O_RDWR), mode(0o644)),
		mk(fstest.OpFdOpen, root, "e", slot(2), flags(unix.O_RDONLY)),
		mk(fstest.OpRmdir, root, "e"),
		mk(fstest.OpMkdir, root, "a", mode(0o777)), mk(fstest.OpMkdir, root, "b", mode(0o777)),
		mk(fstest.OpFdClose, root, "", slot(2)), mk(fstest.OpMkdir, root, "b", mode(0o777)),
		mk(fstest.OpFdClose, root, "", slot(1)), mk(fstest.OpMkdir, root, "b", mode(0o777)),
		mk(fstest.OpFdClose, root, ""), mk(fstest.OpMkdir, root, "b", mode(0o777)),
		mk(fstest.OpMkdir, root, "c", mode(0o777)), mk(fstest.OpMkdir, root, "g", mode(0o777)),
	}
	runScenario(t, "mode=755,nr_inodes=6", ops)
}
