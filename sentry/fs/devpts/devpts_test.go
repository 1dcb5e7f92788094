package devpts_test

import (
	"os"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
	"runsc.dev/runsc/sentry/fs/devpts"
	"runsc.dev/runsc/sentry/fs/tmpfs"
)

type hostOpener interface {
	OpenHost(flags int) (*os.File, error)
}

func TestPty(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI must run as root")
		}
		t.Skip("a devpts instance needs CAP_SYS_ADMIN")
	}
	p, err := devpts.New(5)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	v := fs.New(tmpfs.New(tmpfs.Options{Mode: 0o755}), 0, "rootfs")
	ctx := &fs.Context{Creds: fs.Root(), Root: v.Root()}
	if err := v.Mkdir(ctx, v.Root(), "/pts", 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Mount(ctx, v.Root(), "/pts", p, fs.MountNoSuid, "devpts"); err != nil {
		t.Fatal(err)
	}
	st, err := v.Stat(ctx, v.Root(), "/pts/ptmx", 0)
	if err != nil || st.Type() != unix.S_IFCHR || st.Rdev != unix.Mkdev(5, 2) || st.Mode&0o777 != 0o666 {
		t.Fatalf("ptmx: %+v, %v", st, err)
	}
	loc, err := v.Lookup(ctx, v.Root(), "/pts/ptmx", 0)
	if err != nil {
		t.Fatal(err)
	}
	master, err := loc.Dentry.(hostOpener).OpenHost(unix.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	name := "/pts/" + strconv.Itoa(n)
	st, err = v.Stat(ctx, v.Root(), name, 0)
	if err != nil || st.Type() != unix.S_IFCHR || unix.Major(st.Rdev) != 136 || int(unix.Minor(st.Rdev)) != n {
		t.Fatalf("%s: %+v, %v", name, st, err)
	}
	sloc, err := v.Lookup(ctx, v.Root(), name, 0)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := v.Lookup(ctx, v.Root(), name, 0); again != sloc {
		t.Error("a pty's name has two dentries")
	}
	if got := v.PathOf(v.Root(), sloc); got != name {
		t.Errorf("PathOf = %q", got)
	}
	slave, err := sloc.Dentry.(hostOpener).OpenHost(unix.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS); err != nil {
		t.Errorf("slave is no tty: %v", err)
	}
	if _, err := slave.Write([]byte("hi\n")); err != nil {
		t.Fatal(err)
	}
	// The line discipline may hand the line over in pieces.
	var got []byte
	buf := make([]byte, 16)
	for len(got) < 4 {
		k, err := master.Read(buf)
		if err != nil {
			t.Fatalf("master read: %v", err)
		}
		got = append(got, buf[:k]...)
	}
	if string(got) != "hi\r\n" {
		t.Errorf("master read %q", got)
	}
	slave.Close()
	master.Close()
	if _, err := v.Stat(ctx, v.Root(), name, 0); err != unix.ENOENT {
		t.Errorf("closed pty: %v, want ENOENT", err)
	}
	if err := v.Mknod(ctx, v.Root(), "/pts/x", unix.S_IFCHR|0o600, 0); err != unix.EPERM {
		t.Errorf("mknod in devpts: %v, want EPERM", err)
	}
}

func TestConsole(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI must run as root")
		}
		t.Skip("a devpts instance needs CAP_SYS_ADMIN")
	}
	p, err := devpts.New(5)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	master, slave, n, err := p.NewPty()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	defer slave.Close()
	d, err := p.Root().Lookup(strconv.Itoa(n))
	if err != nil {
		t.Fatalf("the console's pty is not in /dev/pts: %v", err)
	}
	st, err := d.Stat()
	var host unix.Stat_t
	if err != nil || unix.Fstat(int(slave.Fd()), &host) != nil || st.Rdev != host.Rdev || st.Ino != host.Ino {
		t.Errorf("/dev/pts/%d is not the console's slave: %+v %v", n, st, err)
	}
	master.Write([]byte("in\n"))
	buf := make([]byte, 8)
	if k, err := slave.Read(buf); err != nil || string(buf[:k]) != "in\n" {
		t.Errorf("slave read %q, %v", buf[:k], err)
	}
}
