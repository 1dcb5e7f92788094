package gofer_test

import (
	"bytes"
	"os"
	"os/exec"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/p9"
	"runsc.dev/runsc/sentry/fs"
	"runsc.dev/runsc/sentry/fs/gofer"
)

// TestDiod mounts a tree served by Debian's diod, a standard 9P2000.L
// server: no Twalkgetattr, no donated fds, no Trenameat/Tunlinkat.
func TestDiod(t *testing.T) {
	diod := "/usr/sbin/diod"
	if _, err := os.Stat(diod); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but diod is not installed (package diod)")
		}
		t.Skip("diod not installed (apt-get install diod) and CI is not \"true\"")
	}
	needRoot(t, "diod serves as root so the file system can attach as uid 0")
	dir := t.TempDir()
	writeFile(t, dir+"/sub/hello.txt", "hello from diod")

	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	must(t, err)
	theirs := os.NewFile(uintptr(fds[1]), "diod-end")
	var logs bytes.Buffer
	cmd := exec.Command(diod, "-f", "-n", "-r", "3", "-w", "3", "-e", dir, "-L", "stderr", "-c", "/dev/null")
	cmd.ExtraFiles = []*os.File{theirs}
	cmd.Stderr = &logs
	must(t, cmd.Start())
	theirs.Close()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("diod log:\n%s", logs.String())
		}
	})
	root := p9.UID(0)
	g, err := gofer.Dial(os.NewFile(uintptr(fds[0]), "ours"), gofer.Options{
		AName: dir, UName: "root", UID: &root, Client: p9.ClientOptions{MessageSize: 65536},
	})
	must(t, err)
	t.Cleanup(func() { g.Close() })
	v := fs.New(g, 0, "9p")
	ctx := &fs.Context{Creds: fs.Root(), Root: v.Root(), Umask: 0o022}

	if got := readAll(t, v, ctx, "sub/hello.txt"); got != "hello from diod" {
		t.Fatalf("read %q", got)
	}
	fd, err := v.Open(ctx, v.Root(), "sub/new", fs.OpenHow{Flags: unix.O_CREAT | unix.O_RDWR, Mode: 0o640})
	must(t, err)
	if fd.HostFD() != -1 {
		t.Fatal("diod donated an fd?")
	}
	data := bytes.Repeat([]byte("diod "), 30000) // several messages
	if n, err := fd.Write(data); err != nil || n != len(data) {
		t.Fatalf("write %d %v", n, err)
	}
	st, err := fd.Stat()
	must(t, err)
	if st.Size != int64(len(data)) || st.Mode != unix.S_IFREG|0o640 {
		t.Fatalf("fstat %+v", st)
	}
	must(t, fd.Close())
	if b, _ := os.ReadFile(dir + "/sub/new"); !bytes.Equal(b, data) {
		t.Fatalf("host sees %d bytes", len(b))
	}
	must(t, v.Mkdir(ctx, v.Root(), "d", 0o755))
	must(t, v.Symlink(ctx, "../sub/new", v.Root(), "d/l"))
	// diod names files by path: renames must not strand cached fids.
	must(t, v.Rename(ctx, v.Root(), "sub/new", v.Root(), "sub/new2", 0))
	must(t, v.Rename(ctx, v.Root(), "sub/new2", v.Root(), "d/moved", 0))
	must(t, v.Rename(ctx, v.Root(), "sub", v.Root(), "sub2", 0))
	if got := readAll(t, v, ctx, "sub2/hello.txt"); got != "hello from diod" {
		t.Fatalf("read after moving its directory: %q", got)
	}
	must(t, v.Rename(ctx, v.Root(), "sub2", v.Root(), "sub", 0))
	if got := names(t, v, ctx, "d"); !reflect.DeepEqual(got, []string{"l", "moved"}) {
		t.Fatalf("d lists %v", got)
	}
	if _, err := os.Stat(dir + "/d/moved"); err != nil {
		t.Fatal(err)
	}
	must(t, v.Chmod(ctx, v.Root(), "d/moved", 0o600, 0))
	if hs := hostStat(t, dir+"/d/moved"); hs.Mode != unix.S_IFREG|0o600 {
		t.Fatalf("host mode %o", hs.Mode)
	}
	must(t, v.Unlink(ctx, v.Root(), "d/moved"))
	must(t, v.Unlink(ctx, v.Root(), "d/l"))
	must(t, v.Rmdir(ctx, v.Root(), "d"))
	if got := names(t, v, ctx, "/"); !reflect.DeepEqual(got, []string{"sub"}) {
		t.Fatalf("root lists %v", got)
	}
}
