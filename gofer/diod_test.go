package gofer

// Interoperability with Debian's diod, a standard 9P2000.L server and
// client suite: our client against diod's server, and diod's client tools
// against our gofer. The sockets are a socketpair and a unix socket in a
// temporary directory; nothing listens on the network.

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"runsc.dev/runsc/p9"
)

// needTool finds a diod binary; in CI (where .ci/apt-packages installs diod)
// a missing one is a failure.
func needTool(t *testing.T, name string) string {
	t.Helper()
	for _, dir := range []string{"/usr/sbin", "/usr/bin", "/sbin"} {
		if p := filepath.Join(dir, name); isExec(p) {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but %s is not installed (package diod)", name)
	}
	t.Skipf("%s not installed (apt-get install diod) and CI is not \"true\" (isCI false)", name)
	return ""
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode()&0o111 != 0
}

func TestDiodServerOurClient(t *testing.T) {
	diod := needTool(t, "diod")
	needRoot(t, "diod serves as root so the test can attach as uid 0")
	dir := t.TempDir()
	writeFile(t, dir+"/hello.txt", "hello from diod's export")
	must(t, os.Mkdir(dir+"/sub", 0o755))

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

	c, err := p9.NewClient(ctx, os.NewFile(uintptr(fds[0]), "ours"), p9.ClientOptions{MessageSize: 65536})
	must(t, err)
	defer c.Close()
	if c.Extended() {
		t.Fatal("diod accepted the runsc extension version")
	}
	root, _, err := c.Attach(ctx, "root", 0, dir)
	must(t, err)

	// List.
	_, d, err := root.Walk(ctx, nil)
	must(t, err)
	_, _, _, err = d.Open(ctx, p9.ReadOnly)
	must(t, err)
	names := readdirNames(t, d)
	if want := []string{"hello.txt", "sub"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("listing %v, want %v", names, want)
	}

	// Read (diod donates nothing, so the data comes over 9P).
	qids, f, _, attr, err := root.WalkGetAttr(ctx, []string{"hello.txt"})
	must(t, err)
	if len(qids) != 1 || attr.Size != 24 {
		t.Fatalf("walkgetattr %v %+v", qids, attr)
	}
	_, _, donated, err := f.Open(ctx, p9.ReadOnly)
	must(t, err)
	if donated != nil {
		t.Fatal("diod donated an fd?")
	}
	buf := make([]byte, 100)
	n, err := f.ReadAt(ctx, buf, 0)
	if string(buf[:n]) != "hello from diod's export" || !errors.Is(err, io.EOF) {
		t.Fatalf("read %q %v", buf[:n], err)
	}

	// Write a new file.
	sub := walk(t, root, "sub")
	nf := walk(t, sub)
	_, _, _, err = nf.Create(ctx, "new.txt", p9.WriteOnly, 0o644, 0)
	must(t, err)
	data := bytes.Repeat([]byte("diod interop "), 20000) // several messages
	if n, err := nf.WriteAt(ctx, data, 0); err != nil || n != len(data) {
		t.Fatalf("write %d %v", n, err)
	}
	must(t, nf.Clunk(ctx))
	if b, _ := os.ReadFile(dir + "/sub/new.txt"); !bytes.Equal(b, data) {
		t.Fatalf("host sees %d bytes", len(b))
	}

	// Rename, then remove.
	must(t, sub.RenameAt(ctx, "new.txt", root, "renamed.txt"))
	if _, err := os.Stat(dir + "/renamed.txt"); err != nil {
		t.Fatal(err)
	}
	must(t, root.UnlinkAt(ctx, "renamed.txt", 0))
	must(t, root.UnlinkAt(ctx, "sub", p9.RemoveDir))
	if _, _, err := root.Walk(ctx, []string{"sub"}); !errors.Is(err, unix.ENOENT) {
		t.Fatalf("walk removed dir: %v", err)
	}
	if _, err := os.Stat(dir + "/sub"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("host still has sub: %v", err)
	}
}

func readdirNames(t *testing.T, d *p9.Fid) []string {
	t.Helper()
	var names []string
	for off := uint64(0); ; {
		ents, err := d.Readdir(ctx, off, 0)
		must(t, err)
		if len(ents) == 0 {
			break
		}
		for _, e := range ents {
			if e.Name != "." && e.Name != ".." {
				names = append(names, e.Name)
			}
		}
		off = ents[len(ents)-1].Offset
	}
	sort.Strings(names)
	return names
}

// listenUnix listens on a unix stream socket at path without package net.
func listenUnix(t *testing.T, path string) int {
	t.Helper()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	must(t, err)
	must(t, unix.Bind(fd, &unix.SockaddrUnix{Name: path}))
	must(t, unix.Listen(fd, 8))
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

func TestDiodToolsOurGofer(t *testing.T) {
	diodls := needTool(t, "diodls")
	diodcat := needTool(t, "diodcat")
	dir := t.TempDir()
	writeFile(t, dir+"/a.txt", "served by the runsc gofer\n")
	writeFile(t, dir+"/sub/b.txt", strings.Repeat("0123456789abcdef", 20000))
	must(t, os.Symlink("a.txt", dir+"/link"))
	e, err := OpenExport(dir, true)
	must(t, err)
	defer e.Close()

	sock := filepath.Join(t.TempDir(), "gofer.sock")
	lfd := listenUnix(t, sock)
	go func() {
		for {
			cfd, _, err := unix.Accept4(lfd, unix.SOCK_CLOEXEC)
			if err != nil {
				return
			}
			go e.Serve(os.NewFile(uintptr(cfd), "diod-client"))
		}
	}()
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(args[0], args[1:]...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		done := make(chan struct{})
		var out []byte
		var err error
		go func() { out, err = cmd.Output(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Fatalf("%v hangs", args)
		}
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, stderr.String())
		}
		return string(out)
	}
	ls := run(diodls, "-s", sock, "-a", "/", "/")
	for _, name := range []string{"a.txt", "sub", "link"} {
		if !strings.Contains(ls, name) {
			t.Errorf("diodls output lacks %q:\n%s", name, ls)
		}
	}
	if ls := run(diodls, "-s", sock, "-a", "/", "-l", "/sub"); !strings.Contains(ls, "b.txt") || !strings.Contains(ls, "320000") {
		t.Errorf("diodls -l /sub:\n%s", ls)
	}
	if got := run(diodcat, "-s", sock, "-a", "/", "a.txt"); got != "served by the runsc gofer\n" {
		t.Errorf("diodcat a.txt = %q", got)
	}
	if got := run(diodcat, "-s", sock, "-a", "/", "-m", "8192", "sub/b.txt"); got != strings.Repeat("0123456789abcdef", 20000) {
		t.Errorf("diodcat sub/b.txt returned %d bytes", len(got))
	}
}
