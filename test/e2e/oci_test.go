package e2e

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

var (
	runscOnce sync.Once
	runscPath string
	runscErr  error
)

// runscBin builds bin/runsc the way the Makefile does (static, no cgo:
// the gofer's confinement needs that) into a temporary directory.
func runscBin(t *testing.T) string {
	t.Helper()
	runscOnce.Do(func() {
		dir, err := os.MkdirTemp("", "runsc-e2e-")
		if err != nil {
			runscErr = err
			return
		}
		runscPath = filepath.Join(dir, "runsc")
		cmd := exec.Command("go", "build", "-o", runscPath, "runsc.dev/runsc/runsc")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			runscErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if runscErr != nil {
		t.Fatal(runscErr)
	}
	return runscPath
}

// bundle makes an OCI bundle over a busybox root running args.
func bundle(t *testing.T, args ...string) string {
	t.Helper()
	dir := t.TempDir()
	rootfs := busyboxRoot(t)
	spec := map[string]any{
		"ociVersion": "1.0.2",
		"process": map[string]any{
			"terminal": false, "args": args, "cwd": "/",
			"env":  []string{"PATH=/bin"},
			"user": map[string]any{"uid": 0, "gid": 0},
		},
		"root":     map[string]any{"path": rootfs},
		"hostname": "sandbox",
		"mounts": []map[string]any{
			{"destination": "/proc", "type": "proc", "source": "proc"},
			{"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": []string{"nosuid", "mode=755"}},
			{"destination": "/run", "type": "tmpfs", "source": "tmpfs", "options": []string{"size=1m"}},
		},
		"linux": map[string]any{"namespaces": []map[string]any{{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}}},
	}
	b, _ := json.Marshal(spec)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

type runscCmd struct {
	t    *testing.T
	bin  string
	root string
}

func newRunsc(t *testing.T) *runscCmd {
	requireRoot(t)
	r := &runscCmd{t: t, bin: runscBin(t), root: t.TempDir()}
	t.Cleanup(func() {
		out, _ := r.run("list", "--quiet")
		for _, id := range strings.Fields(out) {
			r.run("delete", "--force", id)
		}
	})
	return r
}

// run runs runsc with args and returns stdout+stderr and the exit code.
func (r *runscCmd) run(args ...string) (string, int) {
	cmd := exec.Command(r.bin, append([]string{"--root", r.root}, args...)...)
	// A file, not a pipe: a detached sandbox keeps its stdio open, and
	// waiting for a pipe's end would wait for the container.
	out, err := os.CreateTemp(r.t.TempDir(), "out")
	if err != nil {
		r.t.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	err = cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		r.t.Fatal(err)
	}
	b, _ := os.ReadFile(out.Name())
	return string(b), code
}

func (r *runscCmd) status(id string) string {
	out, code := r.run("state", id)
	if code != 0 {
		return "error: " + out
	}
	var st struct{ Status string }
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		r.t.Fatalf("state %s: %v: %q", id, err, out)
	}
	return st.Status
}

func TestRunExitStatus(t *testing.T) {
	r := newRunsc(t)
	for _, tc := range []struct {
		script string
		want   string
		code   int
	}{
		{`echo hi from $(hostname)`, "hi from sandbox\n", 0},
		{`exit 1`, "", 1},
		// The program is pid 1 of its namespace, which SIGKILL from
		// inside does not kill (runc's too); a child dies of it.
		{`kill -KILL $$; echo survived; sh -c 'kill -KILL $$' 2>/dev/null; exit $?`, "survived\n", 137},
		{`echo full > /run/f && dd if=/dev/zero of=/run/big bs=4096 count=1000 2>/dev/null; echo $?`, "1\n", 0},
	} {
		out, code := r.run("run", "--bundle", bundle(t, "/bin/sh", "-c", tc.script), "c")
		if out != tc.want || code != tc.code {
			t.Errorf("run %q: output %q code %d, want %q %d", tc.script, out, code, tc.want, tc.code)
		}
	}
	if out, _ := r.run("list", "--quiet"); out != "" {
		t.Errorf("containers left after run: %q", out)
	}
}

func TestLifecycle(t *testing.T) {
	r := newRunsc(t)
	b := bundle(t, "/bin/sh", "-c", `trap "exit 3" TERM; while true; do sleep 0.05; done`)
	pidFile := filepath.Join(t.TempDir(), "pid")
	if out, code := r.run("create", "--bundle", b, "--pid-file", pidFile, "c1"); code != 0 {
		t.Fatalf("create: %s", out)
	}
	if got := r.status("c1"); got != "created" {
		t.Fatalf("after create: %s", got)
	}
	if pid, err := os.ReadFile(pidFile); err != nil || len(pid) == 0 {
		t.Fatalf("pid file: %q %v", pid, err)
	}
	if out, code := r.run("create", "--bundle", b, "c1"); code == 0 || !strings.Contains(out, "already exists") {
		t.Errorf("second create of c1: %q %d", out, code)
	}
	if out, code := r.run("start", "c1"); code != 0 {
		t.Fatalf("start: %s", out)
	}
	if got := r.status("c1"); got != "running" {
		t.Fatalf("after start: %s", got)
	}
	if _, code := r.run("start", "c1"); code == 0 {
		t.Error("second start succeeded")
	}
	if out, code := r.run("delete", "c1"); code == 0 || !strings.Contains(out, "running") {
		t.Errorf("delete of a running container: %q %d", out, code)
	}
	if out, code := r.run("exec", "c1", "/bin/sh", "-c", "echo in c1; exit 4"); out != "in c1\n" || code != 4 {
		t.Errorf("exec: %q exit %d", out, code)
	}
	if out, code := r.run("ps", "--format", "json", "c1"); code != 0 || !strings.HasPrefix(out, "[") || out == "[]\n" {
		t.Errorf("ps: %q %d", out, code)
	}
	if out, code := r.run("kill", "c1", "TERM"); code != 0 {
		t.Fatalf("kill: %s", out)
	}
	if out, code := r.run("wait", "c1"); code != 0 || out != `{"exitStatus":3,"id":"c1"}`+"\n" {
		t.Errorf("wait: %q %d", out, code)
	}
	waitStatus(t, r, "c1", "stopped")
	if out, code := r.run("delete", "c1"); code != 0 {
		t.Fatalf("delete: %s", out)
	}
	if out, code := r.run("state", "c1"); code == 0 || !strings.Contains(out, "does not exist") {
		t.Errorf("state after delete: %q %d", out, code)
	}
}

func waitStatus(t *testing.T, r *runscCmd, id, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := r.status(id)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: status %s, want %s", id, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestTwoContainers(t *testing.T) {
	r := newRunsc(t)
	b := bundle(t, "/bin/sh", "-c", "sleep 30")
	for _, id := range []string{"a", "b"} {
		if out, code := r.run("run", "--detach", "--bundle", b, id); code != 0 {
			t.Fatalf("run %s: %s", id, out)
		}
	}
	for _, id := range []string{"a", "b"} {
		if got := r.status(id); got != "running" {
			t.Errorf("%s: %s", id, got)
		}
	}
	if out, code := r.run("delete", "--force", "a"); code != 0 {
		t.Fatal(out)
	}
	if got := r.status("b"); got != "running" {
		t.Errorf("b after deleting a: %s", got)
	}
	if out, code := r.run("delete", "--force", "b"); code != 0 {
		t.Fatal(out)
	}
}

func TestBadBundles(t *testing.T) {
	r := newRunsc(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "config.json"), []byte("{\n  \"process\": {\"args\": [\"sh\"],\n  }\n}"), 0o644)
	out, code := r.run("create", "--bundle", dir, "bad")
	if code == 0 || !strings.Contains(out, "config.json:3:") {
		t.Errorf("malformed config.json: %q %d", out, code)
	}
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"process": {"args": "sh", "cwd": "/"}, "root": {"path": "rootfs"}}`), 0o644)
	out, code = r.run("create", "--bundle", dir, "bad")
	if code == 0 || !strings.Contains(out, "process.args") {
		t.Errorf("wrong type: %q %d", out, code)
	}
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"ociVersion": "1.0.2", "process": {"args": ["sh"], "cwd": "/"}, "root": {"path": "nonexistent"}}`), 0o644)
	out, code = r.run("create", "--bundle", dir, "bad")
	if code == 0 || !strings.Contains(out, "nonexistent") {
		t.Errorf("missing rootfs: %q %d", out, code)
	}
	if out, _ := r.run("list", "--quiet"); out != "" {
		t.Errorf("state left behind: %q", out)
	}
	if ents, _ := os.ReadDir(r.root); len(ents) != 0 {
		t.Errorf("state directory not empty: %v", ents)
	}
}

// TestRmRfRoot is seed 002's demonstration: rm -rf / inside the sandbox
// removes everything it can see, and the host's tree is untouched.
func TestRmRfRoot(t *testing.T) {
	r := newRunsc(t)
	// First write everywhere (a file in every directory, appends to every
	// file), then remove everything.
	b := bundle(t, "/bin/busybox", "sh", "-c", `bb=/bin/busybox
		for d in $($bb find / -xdev -type d); do echo x > $d/written-by-sandbox; done
		for f in $($bb find / -xdev -type f); do echo x >> $f; done
		$bb rm -rf / 2>/dev/null; $bb ls / 2>&1; echo rc=$?`)
	var spec struct{ Root struct{ Path string } }
	data, _ := os.ReadFile(filepath.Join(b, "config.json"))
	json.Unmarshal(data, &spec)
	before := treeDigest(t, spec.Root.Path)
	out, _ := r.run("run", "--bundle", b, "rm")
	if !strings.Contains(out, "not found") && !strings.Contains(out, "rc=") {
		t.Logf("output: %q", out)
	}
	if after := treeDigest(t, spec.Root.Path); after != before {
		t.Fatalf("host rootfs changed by rm -rf / in the sandbox")
	}
}

// treeDigest summarises a host tree: every path, mode, size and content.
func treeDigest(t *testing.T, root string) string {
	var b strings.Builder
	filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %v %d\n", p, info.Mode(), info.Size())
		if info.Mode().IsRegular() {
			data, _ := os.ReadFile(p)
			fmt.Fprintf(&b, "%x\n", sha256.Sum256(data))
		}
		return nil
	})
	return b.String()
}

// processAlive reports whether pid runs (and is not a zombie).
func processAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && len(s) > i+2 && s[i+2] != 'Z'
}

func containerPids(t *testing.T, r *runscCmd, id string) []int {
	t.Helper()
	out, code := r.run("ps", "--format", "json", id)
	if code != 0 {
		t.Fatalf("ps: %q", out)
	}
	var pids []int
	if err := json.Unmarshal([]byte(out), &pids); err != nil || len(pids) == 0 {
		t.Fatalf("ps: %q %v", out, err)
	}
	return pids
}

// TestSandboxCrash kills the sentry mid-run: the program dies with it, the
// container is stopped and deletes cleanly.
func TestSandboxCrash(t *testing.T) {
	r := newRunsc(t)
	if out, code := r.run("run", "--detach", "--bundle", bundle(t, "/bin/sh", "-c", "sleep 60"), "crash"); code != 0 {
		t.Fatal(out)
	}
	pids := containerPids(t, r, "crash")
	out, _ := r.run("state", "crash")
	var st struct{ Pid int }
	json.Unmarshal([]byte(out), &st)
	if err := unix.Kill(st.Pid, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, r, "crash", "stopped")
	deadline := time.Now().Add(5 * time.Second)
	for _, p := range pids {
		for processAlive(p) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if processAlive(p) {
			t.Errorf("process %d of the container survived its sandbox", p)
		}
	}
	if out, code := r.run("delete", "crash"); code != 0 {
		t.Errorf("delete after crash: %q", out)
	}
}

// TestGoferCrash kills the gofer mid-run: file access fails with an error
// instead of hanging, and the container can be killed and deleted.
func TestGoferCrash(t *testing.T) {
	r := newRunsc(t)
	b := bundle(t, "/bin/sh", "-c", `while true; do /bin/cat /etc/none 2>/dev/null; ls /bin > /dev/null 2>&1 || echo failed > /tmp/failed; sleep 0.05; done`)
	if out, code := r.run("run", "--detach", "--bundle", b, "gcrash"); code != 0 {
		t.Fatal(out)
	}
	out, _ := r.run("state", "gcrash")
	var st struct{ Pid int }
	json.Unmarshal([]byte(out), &st)
	killed := false
	for _, p := range descendantsOf(st.Pid) {
		if cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p)); strings.Contains(string(cmd), "gofer") {
			unix.Kill(p, unix.SIGKILL)
			killed = true
		}
	}
	if !killed {
		t.Fatal("no gofer found")
	}
	time.Sleep(300 * time.Millisecond)
	if out, code := r.run("kill", "gcrash", "KILL"); code != 0 {
		t.Fatalf("kill: %q", out)
	}
	waitStatus(t, r, "gcrash", "stopped")
	if out, code := r.run("delete", "gcrash"); code != 0 {
		t.Errorf("delete: %q", out)
	}
}

func descendantsOf(pid int) []int {
	var out []int
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, t := range tasks {
		b, _ := os.ReadFile(t)
		for _, f := range strings.Fields(string(b)) {
			var c int
			fmt.Sscan(f, &c)
			out = append(out, c)
			out = append(out, descendantsOf(c)...)
		}
	}
	return out
}

// TestEmptyHostRoot checks the defense in depth: the program's host mount
// namespace has an empty root, so nothing the host kernel resolves for it
// without a trap can reach the host's files.
func TestEmptyHostRoot(t *testing.T) {
	r := newRunsc(t)
	if out, code := r.run("run", "--detach", "--bundle", bundle(t, "/bin/sleep", "60"), "er"); code != 0 {
		t.Fatal(out)
	}
	pid := containerPids(t, r, "er")[0]
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/root/", pid))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 0 {
		t.Errorf("the program's host root holds %d entries, want none", len(ents))
	}
}

// TestSignalRightAfterStart sends SIGTERM as soon as start returns, when
// the program may not have exec'd yet: it must reach the program, which as
// pid 1 without a handler ignores it (runc's init does too), and not kill
// the platform's stub, a Go program that would exit.
func TestSignalRightAfterStart(t *testing.T) {
	r := newRunsc(t)
	b := bundle(t, "/bin/sh", "-c", "sleep 0.5; exit 4")
	for i := 0; i < 3; i++ {
		id := fmt.Sprintf("s%d", i)
		if out, code := r.run("create", "--bundle", b, id); code != 0 {
			t.Fatalf("create: %s", out)
		}
		if out, code := r.run("start", id); code != 0 {
			t.Fatalf("start: %s", out)
		}
		if out, code := r.run("kill", id, "TERM"); code != 0 {
			t.Fatalf("kill: %s", out)
		}
		out, code := r.run("wait", id)
		if want := `{"exitStatus":4,"id":"` + id + `"}` + "\n"; out != want || code != 0 {
			t.Errorf("wait after an early TERM: %q %d, want %q", out, code, want)
		}
		r.run("delete", "--force", id)
	}
}

// TestDevices runs a container with linux.devices and a device cgroup as
// Docker writes them: the spec's nodes exist with their modes and work,
// devices outside the rules cannot be opened (mknod of them can, by
// runc's own rules, which runsc appends as runc does).
func TestDevices(t *testing.T) {
	r := newRunsc(t)
	b := bundle(t, "/bin/sh", "-c", `stat -c '%A %t:%T %u:%g %n' /dev/myzero /dev/net/tun
head -c 3 /dev/myzero | od -An -tx1
echo x > /dev/null && echo null ok
mknod /tmp/k c 1 11 && echo mknod ok && cat /tmp/k 2>&1
mknod /tmp/f c 1 7 && head -c 1 /tmp/f | od -An -tx1
mknod /tmp/b b 7 0 && echo mknod b ok && head -c 1 /tmp/b 2>&1`)
	editSpec(t, b, func(spec map[string]any) {
		linux := spec["linux"].(map[string]any)
		linux["devices"] = []map[string]any{
			{"path": "/dev/myzero", "type": "c", "major": 1, "minor": 5, "fileMode": 0o640, "uid": 0, "gid": 0},
			{"path": "/dev/net/tun", "type": "c", "major": 10, "minor": 200, "fileMode": 0o666},
		}
		allow := func(major, minor int) map[string]any {
			return map[string]any{"allow": true, "type": "c", "major": major, "minor": minor, "access": "rwm"}
		}
		linux["resources"] = map[string]any{"devices": []map[string]any{
			{"allow": false, "access": "rwm"}, allow(1, 5),
		}}
	})
	out, code := r.run("run", "--bundle", b, "dev")
	want := `crw-r----- 1:5 0:0 /dev/myzero
crw-rw-rw- a:c8 0:0 /dev/net/tun
 00 00 00
null ok
mknod ok
cat: can't open '/tmp/k': Operation not permitted
 00
mknod b ok
head: /tmp/b: Operation not permitted
`
	if out != want || code != 1 {
		t.Errorf("devices: %q exit %d, want %q exit 1", out, code, want)
	}
}

// TestMaskedAndReadonlyPaths applies linux.maskedPaths and
// linux.readonlyPaths as Docker writes them: a masked file reads empty, a
// masked directory is empty and read-only, a read-only path refuses writes
// (EROFS), and missing paths are skipped.
func TestMaskedAndReadonlyPaths(t *testing.T) {
	r := newRunsc(t)
	b := bundle(t, "/bin/sh", "-c", `echo "[$(cat /proc/uptime)]"; ls -A /proc/sys/fs | wc -l; touch /proc/sys/fs/x 2>&1
echo sandbox2 > /proc/sys/kernel/hostname 2>&1; cat /proc/sys/kernel/hostname; head -c 5 /proc/version`)
	editSpec(t, b, func(spec map[string]any) {
		linux := spec["linux"].(map[string]any)
		linux["maskedPaths"] = []string{"/proc/uptime", "/proc/sys/fs", "/proc/kcore", "/sys/firmware"}
		linux["readonlyPaths"] = []string{"/proc/sys", "/proc/sysrq-trigger"}
	})
	out, code := r.run("run", "--bundle", b, "masked")
	want := "[]\n0\ntouch: /proc/sys/fs/x: Read-only file system\n/bin/sh: can't create /proc/sys/kernel/hostname: Read-only file system\nsandbox\nLinux"
	if out != want || code != 0 {
		t.Errorf("masked and read-only paths: %q exit %d, want %q", out, code, want)
	}
}

// TestOOMScoreAdj applies process.oomScoreAdj before the program runs.
func TestOOMScoreAdj(t *testing.T) {
	r := newRunsc(t)
	b := bundle(t, "/bin/sh", "-c", "cat /proc/self/oom_score_adj /proc/1/oom_score_adj")
	editSpec(t, b, func(spec map[string]any) {
		spec["process"].(map[string]any)["oomScoreAdj"] = 500
	})
	if out, code := r.run("run", "--bundle", b, "oom"); out != "500\n500\n" || code != 0 {
		t.Errorf("oom_score_adj: %q exit %d", out, code)
	}
}

// editSpec changes the bundle's config.json.
func editSpec(t *testing.T, bundle string, edit func(spec map[string]any)) {
	t.Helper()
	p := filepath.Join(bundle, "config.json")
	raw, err := os.ReadFile(p)
	must(t, err)
	var spec map[string]any
	must(t, json.Unmarshal(raw, &spec))
	edit(spec)
	raw, err = json.Marshal(spec)
	must(t, err)
	must(t, os.WriteFile(p, raw, 0o644))
}

// TestCgroupView reads the container's limits the way runtimes (Go, the
// JVM) find them: a cgroup2 mount at /sys/fs/cgroup in mountinfo,
// "0::/" in /proc/self/cgroup, and the limits of the spec in
// memory.max, cpu.max and pids.max, read-only.
func TestCgroupView(t *testing.T) {
	r := newRunsc(t)
	b := bundle(t, "/bin/sh", "-c", `grep -c ' /sys/fs/cgroup .* - cgroup2 ' /proc/self/mountinfo; cat /proc/self/cgroup
cd /sys/fs/cgroup && cat cgroup.controllers memory.max cpu.max pids.max; echo 1 > memory.max`)
	editSpec(t, b, func(spec map[string]any) {
		linux := spec["linux"].(map[string]any)
		linux["cgroupsPath"] = fmt.Sprintf("/runsc-test-cgroup-%d", os.Getpid())
		linux["resources"] = map[string]any{
			"memory": map[string]any{"limit": 64 << 20},
			"cpu":    map[string]any{"quota": 50000, "period": 100000},
			"pids":   map[string]any{"limit": 100},
		}
	})
	out, code := r.run("run", "--bundle", b, "cg")
	want := "1\n0::/\ncpu memory pids\n67108864\n50000 100000\n100\n/bin/sh: can't create memory.max: Read-only file system\n"
	if out != want || code != 1 {
		t.Errorf("cgroup view: %q exit %d, want %q exit 1", out, code, want)
	}
}

// TestSysctl applies linux.sysctl in the sandbox's own namespaces (what
// /proc/sys shows inside changes, the host's does not) and refuses a sysctl
// of the host's kernel, as runc does.
func TestSysctl(t *testing.T) {
	r := newRunsc(t)
	before, err := os.ReadFile("/proc/sys/net/core/somaxconn")
	must(t, err)
	b := bundle(t, "/bin/sh", "-c", "cat /proc/sys/net/core/somaxconn /proc/sys/net/ipv4/ip_local_port_range")
	editSpec(t, b, func(spec map[string]any) {
		spec["linux"].(map[string]any)["sysctl"] = map[string]string{
			"net.core.somaxconn": "1234", "net.ipv4.ip_local_port_range": "2000 3000", "kernel.shmmax": "1000000",
		}
	})
	out, code := r.run("run", "--bundle", b, "sysctl")
	if want := "1234\n2000\t3000\n"; out != want || code != 0 {
		t.Errorf("sysctls inside: %q exit %d, want %q", out, code, want)
	}
	if after, _ := os.ReadFile("/proc/sys/net/core/somaxconn"); string(after) != string(before) {
		t.Errorf("the host's somaxconn changed: %q, was %q", after, before)
	}
	editSpec(t, b, func(spec map[string]any) {
		spec["linux"].(map[string]any)["sysctl"] = map[string]string{"kernel.panic": "1"}
	})
	if out, code := r.run("run", "--bundle", b, "sysctl2"); code == 0 || !strings.Contains(out, `linux.sysctl "kernel.panic": not in a namespace`) {
		t.Errorf("a host sysctl: %q exit %d", out, code)
	}
}
