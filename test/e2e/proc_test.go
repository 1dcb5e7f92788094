package e2e

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"runsc.dev/runsc/boot"
	"runsc.dev/runsc/sentry/fs"
	"runsc.dev/runsc/sentry/fs/tmpfs"
	"runsc.dev/runsc/sentry/platform"
)

// runNS runs "sh -c script" in a sandbox whose namespace boot builds as for
// a container (so it has the sentry's /proc, /sys and /dev, and mounts)
// over a copy of rootfs, with stdin from /dev/null.
func runNS(t *testing.T, rootfs, script string, mounts ...specs.Mount) (string, string, unix.WaitStatus) {
	t.Helper()
	lower := tmpfs.New(tmpfs.Options{Mode: 0o755})
	fill := fs.New(lower, 0, "tmpfs")
	if err := boot.CopyIn(fill, fill.Root(), rootfs); err != nil {
		t.Fatal(err)
	}
	v, err := (&boot.Namespace{Root: lower, Overlay: true, Mounts: mounts}).Build()
	if err != nil {
		t.Fatal(err)
	}
	s, err := boot.NewSandbox(v, platform.SameCPU)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var stdout, stderr bytes.Buffer
	pipe := func(b *bytes.Buffer) (*os.File, chan struct{}) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { b.ReadFrom(r); r.Close(); close(done) }()
		return w, done
	}
	in, err := os.Open("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	outw, outDone := pipe(&stdout)
	errw, errDone := pipe(&stderr)
	p, err := s.Start(boot.Process{
		Argv:  []string{"/bin/sh", "-c", script},
		Env:   []string{"PATH=/bin:/usr/bin:/sbin:/usr/sbin", "HOME=/root"},
		Umask: 0o022,
		Files: []*os.File{in, outw, errw},
	})
	outw.Close()
	errw.Close()
	if err != nil {
		t.Fatal(err)
	}
	ws := p.Wait()
	<-outDone
	<-errDone
	return stdout.String(), stderr.String(), ws
}

// sections splits output that a script marked with "== name" lines.
func sections(out string) map[string]string {
	m := map[string]string{}
	name := ""
	for _, l := range strings.SplitAfter(out, "\n") {
		if n, ok := strings.CutPrefix(l, "== "); ok {
			name = strings.TrimSpace(n)
			continue
		}
		m[name] += l
	}
	return m
}

func TestProcBusyboxTools(t *testing.T) {
	requireRoot(t)
	root := busyboxRoot(t)
	script := `
echo "== ps"; ps aux
echo "== top"; top -b -n1
echo "== free"; free
echo "== df"; df -h
echo "== mount"; mount
echo "== uptime"; uptime
echo "== nproc"; nproc
echo "== fd"; ls -l /proc/self/fd/ 2>/dev/null
echo "== exe"; cp /bin/busybox /tmp/readlink && /tmp/readlink /proc/self/exe
echo "== status"; cat /proc/self/status
echo "== dev"; ls -l /dev
echo "== stdin"; echo piped | cat /dev/stdin
echo "== cmdline"; cp /bin/busybox /tmp/cat && /tmp/cat /proc/self/cmdline | tr '\0' ' '; echo
echo "== self"; echo $$; cat /proc/self/stat
echo "== sys"; cat /sys/devices/system/cpu/online /sys/kernel/mm/transparent_hugepage/enabled; ls /sys/class/net /sys/fs/cgroup
echo "== end"
`
	out, errOut, ws := runNS(t, root, script)
	if ws.ExitStatus() != 0 || errOut != "" {
		t.Errorf("status %v, stderr:\n%s", ws, errOut)
	}
	s := sections(out)
	check := func(name string, wants ...string) {
		t.Helper()
		for _, w := range wants {
			if !strings.Contains(s[name], w) {
				t.Errorf("%s: missing %q in:\n%s", name, w, s[name])
			}
		}
	}
	check("ps", "PID", "/bin/sh -c")
	check("top", "Mem:", "Load average:", "PID", "top -b -n1")
	check("free", "Mem:", "total")
	check("df", "Filesystem", "/tmp", "/dev")
	check("mount", "proc on /proc type proc", "sysfs on /sys type sysfs (ro", "on / type overlay")
	check("uptime", "load average")
	if n, err := strconv.Atoi(strings.TrimSpace(s["nproc"])); err != nil || n < 1 {
		t.Errorf("nproc: %q", s["nproc"])
	}
	// busybox ls reads the directory and closes it before it reads the
	// links, so its own fd 3 is gone by then, as on Linux.
	check("fd", "0 -> /dev/null", "1 -> pipe:[", "2 -> /dev/null")
	if got := strings.TrimSpace(s["exe"]); got != "/tmp/readlink" {
		t.Errorf("readlink /proc/self/exe = %q, want /tmp/readlink", got)
	}
	check("status", "Name:\tcat\n", "Umask:\t0022\n", "TracerPid:\t0\n", "State:")
	check("dev", "null", "zero", "urandom")
	check("stdin", "piped")
	if got := strings.TrimSpace(s["cmdline"]); got != "/tmp/cat /proc/self/cmdline" {
		t.Errorf("cmdline %q", got)
	}
	// cat's /proc/self is cat (a child of the shell).
	if self := strings.Fields(s["self"]); len(self) < 5 || self[1] == self[0] || self[2] != "(cat)" || self[4] != self[0] {
		t.Errorf("self: %q", self)
	}
	check("sys", "0", "madvise", "lo")
}

func TestProcNoHostLeaks(t *testing.T) {
	requireRoot(t)
	root := busyboxRoot(t)
	// What the sandbox must not show, in a file the script greps with (so
	// the words are in no command line).
	var words []string
	host, _ := os.Hostname()
	if len(host) >= 3 && host != "localhost" { // the sandbox's own name
		words = append(words, host)
	}
	sandboxMounts := map[string]bool{"/": true, "/dev": true, "/proc": true, "/sys": true, "/tmp": true}
	if f, err := os.Open("/proc/self/mounts"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if fl := strings.Fields(sc.Text()); len(fl) > 1 && !sandboxMounts[fl[1]] && len(fl[1]) > 8 && !strings.HasPrefix(fl[1], "/sys/fs/cgroup") {
				words = append(words, fl[1])
			}
		}
		f.Close()
	}
	// The sentry's own files: its placeholder directory and memfds.
	words = append(words, "runsc-dir-", "memfd:ramfs", "memfd:proc")
	if err := os.WriteFile(filepath.Join(root, "words"), []byte(strings.Join(words, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	script := `
echo "== grep"; find /proc /sys -type f | xargs grep -IF -f /words 2>/dev/null
echo "== files"; find /proc /sys -type f | wc -l
echo "== pids"; ls -d /proc/[0-9]*
echo "== stats"; cat /proc/[0-9]*/stat
echo "== links"; ls -l /proc/[0-9]*/fd/ /proc/[0-9]*/cwd /proc/[0-9]*/root /proc/[0-9]*/exe
echo "== sentry"; ls /proc/` + strconv.Itoa(os.Getpid()) + ` 2>&1
echo "== end"
`
	out, _, _ := runNS(t, root, script)
	s := sections(out)
	// Every file was read: the process directories, /proc/sys, /sys.
	if n, _ := strconv.Atoi(strings.TrimSpace(s["files"])); n < 50 {
		t.Errorf("only %d files in /proc and /sys", n)
	}
	if g := strings.TrimSpace(s["grep"]); g != "" {
		t.Errorf("host information in /proc or /sys (looked for %q):\n%s", words, g)
	}
	pids := map[string]bool{}
	for _, p := range strings.Fields(s["pids"]) {
		pids[strings.TrimPrefix(p, "/proc/")] = true
	}
	if len(pids) == 0 {
		t.Fatalf("no processes in /proc:\n%s", out)
	}
	if pids[strconv.Itoa(os.Getpid())] || !pids["1"] {
		t.Errorf("/proc shows processes outside the sandbox, or not the program as pid 1: %v", pids)
	}
	for _, l := range strings.Split(strings.TrimSpace(s["stats"]), "\n") {
		f := strings.Fields(l[strings.LastIndexByte(l, ')')+1:])
		// ppid, pgrp, session: a sandbox process or 0.
		for _, id := range f[1:4] {
			if id != "0" && !pids[id] {
				t.Errorf("stat names pid %s outside the sandbox: %s", id, l)
			}
		}
	}
	for _, l := range strings.Split(s["links"], "\n") {
		_, target, ok := strings.Cut(l, " -> ")
		if !ok {
			continue
		}
		if !strings.HasPrefix(target, "/") && !strings.HasPrefix(target, "pipe:[") && !strings.HasPrefix(target, "socket:[") && !strings.HasPrefix(target, "anon_inode:") {
			t.Errorf("fd link to %q", target)
		}
	}
	if !strings.Contains(s["sentry"], "No such file") {
		t.Errorf("the sentry's /proc entry is visible: %s", s["sentry"])
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}

// TestProcTTY runs programs on a pty of the sandbox's devpts, as "docker
// run -t" and script(1) do: tty names it, job control works natively.
func TestProcTTY(t *testing.T) {
	requireRoot(t)
	root := busyboxRoot(t)
	build := exec.Command("go", "build", "-o", filepath.Join(root, "bin", "ptyrun"), "./ptyrun")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build ptyrun: %v\n%s", err, out)
	}
	script := `
echo "== tty"; ptyrun /bin/sh -c 'tty; readlink /proc/self/fd/0; stty -g >/dev/null && echo termios; ps -o pid,tty,comm'
echo "== notty"; tty
echo "== dev"; ls -l /dev /dev/pts
echo "== end"
`
	out, errOut, _ := runNS(t, root, script, specs.Mount{Destination: "/dev/pts", Type: "devpts", Source: "devpts",
		Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}})
	s := sections(out)
	tty := strings.Fields(s["tty"])
	if len(tty) < 3 || !strings.HasPrefix(tty[0], "/dev/pts/") || tty[1] != tty[0] || tty[2] != "termios" {
		t.Errorf("tty on a pty: %q\nstderr:\n%s", s["tty"], errOut)
	}
	if !strings.Contains(s["notty"], "not a tty") {
		t.Errorf("tty without a terminal: %q", s["notty"])
	}
	for _, w := range []string{"ptmx -> pts/ptmx", "null", "crw-rw-rw-    1 0        0           5,   2 "} {
		if !strings.Contains(s["dev"], w) {
			t.Errorf("ls -l /dev lacks %q:\n%s", w, s["dev"])
		}
	}
}
