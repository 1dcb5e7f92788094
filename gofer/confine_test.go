package gofer

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
	"runsc.dev/runsc/p9"
)

// The confinement test re-executes the test binary as a gofer: TestMain
// sees confineHelperEnv, confines the process, probes what it can still do,
// and serves the export on fd 3.
const confineHelperEnv = "RUNSC_GOFER_CONFINE_HELPER"

func TestMain(m *testing.M) {
	if dir := os.Getenv(confineHelperEnv); dir != "" {
		os.Exit(confineHelper(dir))
	}
	os.Exit(m.Run())
}

func confineHelper(dir string) int {
	e, err := OpenExport(dir, false)
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL", err)
		return 1
	}
	sock := os.NewFile(3, "sock")
	if err := Confine(); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL", err)
		return 1
	}
	// Probes: each prints "PROBE name errno".
	probe := func(name string, err error) {
		var e unix.Errno
		if !errors.As(err, &e) {
			e = 0
		}
		fmt.Fprintf(os.Stderr, "PROBE %s %d\n", name, int(e))
	}
	probe("open-etc-passwd", second(unix.Open("/etc/passwd", unix.O_RDONLY, 0)))
	probe("open-proc-status", second(unix.Open("/proc/self/status", unix.O_RDONLY, 0)))
	probe("open-outside-dir", second(unix.Open(dir, unix.O_RDONLY, 0)))
	probe("mkdir-root", unix.Mkdir("/x", 0o755))
	probe("mount", unix.Mount("none", "/", "tmpfs", 0, ""))
	probe("socket", second(unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)))
	probe("ptrace", second(unix.PtraceGetEventMsg(1)))
	probe("execve", unix.Exec("/bin/sh", []string{"sh"}, nil))
	probe("unshare", unix.Unshare(unix.CLONE_NEWNS))
	probe("setuid", unix.Setuid(1234))
	probe("chroot", unix.Chroot("/"))
	fmt.Fprintln(os.Stderr, "SERVING")
	if err := e.Serve(sock); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL serve:", err)
		return 1
	}
	return 0
}

func TestConfine(t *testing.T) {
	needRoot(t, "mount namespace, pivot_root and capability dropping")
	if raceEnabled && os.Getenv("CI") != "true" {
		t.Skip("-race links cgo, which AllThreadsSyscall refuses (isCI false)")
	}
	dir := t.TempDir()
	writeFile(t, dir+"/f", "confined but serving")
	cs, ss, err := p9.Socketpair()
	must(t, err)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), confineHelperEnv+"="+dir)
	cmd.ExtraFiles = []*os.File{ss}
	cmd.SysProcAttr = SysProcAttr()
	stderr, err := cmd.StderrPipe()
	must(t, err)
	must(t, cmd.Start())
	ss.Close()
	defer cmd.Process.Kill()

	probes := map[string]unix.Errno{}
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		line := sc.Text()
		if line == "SERVING" {
			break
		}
		var name string
		var e int
		if _, err := fmt.Sscanf(line, "PROBE %s %d", &name, &e); err != nil {
			t.Fatalf("helper: %s", line)
		}
		probes[name] = unix.Errno(e)
	}
	want := map[string]unix.Errno{
		"open-etc-passwd":  unix.ENOENT, // the new root is empty
		"open-proc-status": unix.ENOENT, // only /proc/self/fd is there
		"open-outside-dir": unix.ENOENT,
		"mkdir-root":       unix.EROFS,
		"mount":            unix.EPERM,
		"socket":           unix.EPERM,
		"ptrace":           unix.EPERM,
		"execve":           unix.EPERM,
		"unshare":          unix.EPERM,
		"setuid":           unix.EPERM,
		"chroot":           unix.EPERM,
	}
	if !reflect.DeepEqual(probes, want) {
		t.Errorf("probes in the confined gofer:\n got %v\nwant %v", probes, want)
	}

	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	must(t, err)
	for _, w := range []string{"CapEff:\t000000000000001f", "CapBnd:\t000000000000001f", "CapPrm:\t000000000000001f",
		"CapInh:\t0000000000000000", "CapAmb:\t0000000000000000", "NoNewPrivs:\t1", "Seccomp:\t2"} {
		if !bytes.Contains(status, []byte(w)) {
			t.Errorf("gofer status lacks %q", w)
		}
	}
	// Every thread (Go starts several) must be confined, not just one.
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", cmd.Process.Pid))
	must(t, err)
	for _, task := range tasks {
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", cmd.Process.Pid, task.Name()))
		must(t, err)
		if !bytes.Contains(st, []byte("CapEff:\t000000000000001f")) || !bytes.Contains(st, []byte("Seccomp:\t2")) {
			t.Errorf("thread %s is not confined", task.Name())
		}
	}
	root, err := os.ReadDir(fmt.Sprintf("/proc/%d/root", cmd.Process.Pid))
	must(t, err)
	if len(root) != 1 || root[0].Name() != "proc" {
		t.Errorf("gofer root holds %v", root)
	}

	// Serving works under the allowlist: read, donate, create, write,
	// readdir, xattrs, rename, unlink.
	c, err := p9.NewClient(ctx, cs, p9.ClientOptions{})
	must(t, err)
	r, _, err := c.Attach(ctx, "", 0, "")
	must(t, err)
	f := walk(t, r, "f")
	_, _, donated, err := f.Open(ctx, p9.ReadOnly)
	must(t, err)
	if b, _ := io.ReadAll(donated); string(b) != "confined but serving" {
		t.Fatalf("donated fd reads %q", b)
	}
	donated.Close()
	nf := walk(t, r)
	_, _, wd, err := nf.Create(ctx, "new", p9.ReadWrite, 0o644, 0)
	must(t, err)
	wd.Close()
	_, err = nf.WriteAt(ctx, []byte("written by a confined gofer"), 0)
	must(t, err)
	must(t, nf.SetXattr(ctx, "user.k", []byte("v"), 0))
	must(t, nf.SetAttr(ctx, p9.SetAttrUID|p9.SetAttrMode, p9.SetAttr{UID: 1234, Mode: 0o600}))
	_, err = r.Mkdir(ctx, "d", 0o755, 0)
	must(t, err)
	must(t, r.RenameAt(ctx, "new", walk(t, r, "d"), "moved"))
	_, _, _, err = r.Open(ctx, p9.ReadOnly)
	must(t, err)
	ents, err := r.Readdir(ctx, 0, 0)
	must(t, err)
	if len(ents) != 2 {
		t.Errorf("readdir: %v", ents)
	}
	if b, _ := os.ReadFile(dir + "/d/moved"); string(b) != "written by a confined gofer" {
		t.Errorf("host sees %q", b)
	}
	var st unix.Stat_t
	must(t, unix.Stat(dir+"/d/moved", &st))
	if st.Uid != 1234 || st.Mode&0o777 != 0o600 {
		t.Errorf("chown/chmod under confinement: uid %d mode %o", st.Uid, st.Mode)
	}
	if _, err := r.Mknod(ctx, "fifo", unix.S_IFIFO|0o600, 0, 0, 0); err != nil {
		t.Errorf("mknod fifo: %v", err)
	}
	must(t, r.UnlinkAt(ctx, "fifo", 0))
	c.Close()
	rest, _ := io.ReadAll(stderr)
	if err := cmd.Wait(); err != nil || strings.Contains(string(rest), "FAIL") {
		t.Fatalf("confined gofer: %v\n%s", err, rest)
	}
}

func TestSeccompProgramShape(t *testing.T) {
	p := seccompProgram()
	if len(p) > 255 {
		t.Fatalf("%d instructions: jumps would overflow", len(p))
	}
	seen := map[uint32]bool{}
	for _, nr := range allowedSyscalls {
		if seen[nr] {
			t.Errorf("syscall %d listed twice", nr)
		}
		seen[nr] = true
	}
	for _, bad := range []uint32{unix.SYS_MOUNT, unix.SYS_PTRACE, unix.SYS_EXECVE, unix.SYS_SOCKET,
		unix.SYS_CONNECT, unix.SYS_OPEN_BY_HANDLE_AT, unix.SYS_CHROOT, unix.SYS_PIVOT_ROOT, unix.SYS_BPF} {
		if seen[bad] {
			t.Errorf("syscall %d must not be allowed", bad)
		}
	}
}
