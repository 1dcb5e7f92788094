// Package e2e runs real programs (busybox-static, a Debian rootfs) in the
// sandbox and checks what they print.
package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/boot"
)

// requireRoot skips outside CI when the test cannot run (not root); in CI,
// where everything is installed and we are root, it fails instead.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("CI must run as root")
	}
	t.Skip("needs root (ptrace, seccomp listener, mounts)")
}

// busyboxRoot makes a root file system holding busybox-static and a
// symlink for each applet.
func busyboxRoot(t *testing.T) string {
	t.Helper()
	bb, err := exec.LookPath("busybox")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("busybox-static is not installed")
		}
		t.Skip("busybox not installed (apt-get install busybox-static)")
	}
	dir := t.TempDir()
	for _, d := range []string{"bin", "tmp", "etc", "root", "dev"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(dir, "tmp"), 0o1777)
	for name, dev := range map[string]uint64{"null": unix.Mkdev(1, 3), "zero": unix.Mkdev(1, 5), "urandom": unix.Mkdev(1, 9)} {
		if err := unix.Mknod(filepath.Join(dir, "dev", name), unix.S_IFCHR|0o666, int(dev)); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin/busybox"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bb, "--list").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range bytes.Fields(out) {
		if string(a) != "busybox" {
			if err := os.Symlink("busybox", filepath.Join(dir, "bin", string(a))); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

// run runs argv in a sandbox over a copy of rootfs and returns its output
// and wait status.
func run(t *testing.T, rootfs string, argv ...string) (string, string, unix.WaitStatus) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	ws, err := runWith(rootfs, nil, &stdout, &stderr, argv...)
	if err != nil {
		t.Fatalf("run %q: %v", argv, err)
	}
	return stdout.String(), stderr.String(), ws
}

func runWith(rootfs string, stdin []byte, stdout, stderr *bytes.Buffer, argv ...string) (unix.WaitStatus, error) {
	pipe := func(b *bytes.Buffer) (*os.File, chan struct{}, error) {
		r, w, err := os.Pipe()
		if err != nil {
			return nil, nil, err
		}
		done := make(chan struct{})
		go func() { b.ReadFrom(r); r.Close(); close(done) }()
		return w, done, nil
	}
	in, inw, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	go func() { inw.Write(stdin); inw.Close() }()
	outw, outDone, err := pipe(stdout)
	if err != nil {
		return 0, err
	}
	errw, errDone, err := pipe(stderr)
	if err != nil {
		return 0, err
	}
	ws, err := boot.RunOverCopy(rootfs, boot.Process{
		Argv:  argv,
		Env:   []string{"PATH=/bin:/usr/bin:/sbin:/usr/sbin", "HOME=/root"},
		Umask: 0o022,
		Files: []*os.File{in, outw, errw},
	})
	in.Close()
	outw.Close()
	errw.Close()
	<-outDone
	<-errDone
	return ws, err
}
