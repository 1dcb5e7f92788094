package platform_test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/platform"
	"runsc.dev/runsc/sentry/syscalls"
)

// testHandler emulates a tiny file system: /virt/NAME is the host file
// dir/NAME, opened by the handler and installed into the program; fstat
// reports the real size + 1000000; everything else continues natively.
type testHandler struct {
	dir   string
	progs map[string]string // exec: /virt path -> host executable

	mu      sync.Mutex
	parent  map[int]int // tid -> parent tid (0: first task)
	trapped map[int]int // tid -> trapped calls
	opens   map[int]int // tgid -> successful opens of /virt files
	exited  map[int]unix.WaitStatus
	execed  int
}

func newHandler(t testing.TB) *testHandler {
	dir := t.TempDir()
	files := map[string]string{"hello": "hello world\n", "other": "another file\n"}
	for k := 0; k < 64; k++ {
		files[fmt.Sprintf("t%d", k)] = fmt.Sprintf("thread file %d %s\n", k, strings.Repeat("x", 3*k)[:min(3*k, 31)])
	}
	for name, s := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return &testHandler{dir: dir, progs: map[string]string{}, parent: map[int]int{},
		trapped: map[int]int{}, opens: map[int]int{}, exited: map[int]unix.WaitStatus{}}
}

func (h *testHandler) Syscall(c *platform.Call) platform.Response {
	h.mu.Lock()
	h.trapped[c.Task.TID]++
	h.mu.Unlock()
	switch c.Nr {
	case unix.SYS_OPENAT:
		return h.open(c, c.Args[1], c.Args[2])
	case unix.SYS_OPEN:
		return h.open(c, c.Args[0], c.Args[1])
	case unix.SYS_FSTAT:
		return h.fstat(c, c.Args[0], c.Args[1])
	case unix.SYS_NEWFSTATAT:
		// glibc's fstat is newfstatat(fd, "", buf, AT_EMPTY_PATH).
		if p, err := c.ReadString(c.Args[1], 4095); err == nil && p == "" && c.Args[3]&unix.AT_EMPTY_PATH != 0 {
			return h.fstat(c, c.Args[0], c.Args[2])
		}
		return platform.Fail(unix.ENOENT)
	}
	return platform.Continue()
}

func (h *testHandler) open(c *platform.Call, addr, flags uint64) platform.Response {
	p, err := c.ReadString(addr, 4095)
	if err != nil {
		return platform.Fail(err.(unix.Errno))
	}
	name, ok := strings.CutPrefix(p, "/virt/")
	if !ok || strings.Contains(name, "/") {
		return platform.Fail(unix.ENOENT)
	}
	fd, err := unix.Open(filepath.Join(h.dir, name), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return platform.Fail(err.(unix.Errno))
	}
	defer unix.Close(fd)
	n, err := c.InstallFD(fd, flags&unix.O_CLOEXEC != 0)
	if err != nil {
		return platform.Fail(err.(unix.Errno))
	}
	h.mu.Lock()
	h.opens[c.Task.TGID]++
	h.mu.Unlock()
	return platform.Return(int64(n))
}

func (h *testHandler) fstat(c *platform.Call, fdArg, buf uint64) platform.Response {
	pidfd, err := unix.PidfdOpen(c.Task.TGID, 0)
	if err != nil {
		return platform.Fail(unix.ESRCH)
	}
	defer unix.Close(pidfd)
	fd, err := unix.PidfdGetfd(pidfd, int(fdArg), 0)
	if err != nil {
		return platform.Fail(unix.EBADF)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return platform.Fail(err.(unix.Errno))
	}
	st.Size += 1000000
	b := unsafe.Slice((*byte)(unsafe.Pointer(&st)), unsafe.Sizeof(st))
	if _, err := c.WriteMemory(buf, b); err != nil {
		return platform.Fail(unix.EFAULT)
	}
	return platform.Return(0)
}

func (h *testHandler) Exec(t *platform.Task, c *platform.ExecCall) (*platform.ExecPlan, unix.Errno) {
	path, argv, env := c.Args[0], c.Args[1], c.Args[2]
	if c.Nr == unix.SYS_EXECVEAT {
		path, argv, env = c.Args[1], c.Args[2], c.Args[3]
	}
	p, err := t.ReadString(path, 4095)
	if err != nil {
		return nil, err.(unix.Errno)
	}
	host, ok := h.progs[p]
	if !ok {
		return nil, unix.ENOENT
	}
	plan := &platform.ExecPlan{}
	if plan.Argv, err = t.ReadStringArray(argv, 1024, 1<<20); err != nil {
		return nil, err.(unix.Errno)
	}
	if plan.Env, err = t.ReadStringArray(env, 1024, 1<<20); err != nil {
		return nil, err.(unix.Errno)
	}
	if plan.File, err = os.Open(host); err != nil {
		return nil, unix.EACCES
	}
	return plan, 0
}

func (h *testHandler) NewTask(t, parent *platform.Task) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.parent[t.TID] = 0
	if parent != nil {
		h.parent[t.TID] = parent.TID
	}
}

func (h *testHandler) Execed(t *platform.Task) {
	h.mu.Lock()
	h.execed++
	h.mu.Unlock()
}

func (h *testHandler) Exited(t *platform.Task, ws unix.WaitStatus) {
	h.mu.Lock()
	h.exited[t.TID] = ws
	h.mu.Unlock()
}

var progs = map[string]string{} // libc -> built test program

func TestMain(m *testing.M) {
	if os.Getenv("PLATFORM_TEST_SENTRY") != "" {
		sentryMain()
		return
	}
	dir, err := os.MkdirTemp("", "platform-test")
	if err != nil {
		panic(err)
	}
	buildErr := build(dir)
	code := 0
	if buildErr != nil && (os.Getuid() == 0 || os.Getenv("CI") == "true") {
		fmt.Fprintln(os.Stderr, "building test programs:", buildErr)
		code = 1
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

func build(dir string) error {
	_, self, _, _ := runtime.Caller(0)
	src := filepath.Join(filepath.Dir(self), "../../test/testprogs/platform.c")
	for libc, cc := range map[string]string{"glibc": "gcc", "musl": "musl-gcc"} {
		out := filepath.Join(dir, "platform-"+libc)
		cmd := exec.Command(cc, "-static", "-O2", "-pthread", "-Wall", "-o", out, src)
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v\n%s", cc, err, b)
		}
		progs[libc] = out
	}
	return nil
}

// needRoot skips only outside CI when not root (ptrace and seccomp
// listeners need it here).
func needRoot(t *testing.T) {
	if os.Getuid() != 0 && os.Getenv("CI") != "true" {
		t.Skip("needs root for ptrace, pidfd_getfd and seccomp (not root, not CI)")
	}
	if len(progs) == 0 {
		t.Fatal("test programs were not built")
	}
}

func newPlatform(t *testing.T, h platform.Handler, cfg platform.Config) *platform.Platform {
	p, err := platform.New(h, syscalls.Policy(), syscalls.RestartNrs(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

type result struct {
	out    string
	status unix.WaitStatus
	pid    int
}

// run starts the test program with args and waits for it (with a timeout).
func run(t *testing.T, p *platform.Platform, prog string, args ...string) result {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	devnull, _ := os.Open(os.DevNull)
	defer devnull.Close()
	started := make(chan struct{})
	go func() {
		select {
		case <-started:
		case <-time.After(30 * time.Second):
			fmt.Fprintf(os.Stderr, "%v: Start hangs; tracees:\n%s", args, dumpTracees())
		}
	}()
	proc, err := p.Start(platform.Spec{Path: prog, Argv: append([]string{"platform"}, args...),
		Env: []string{"A=1"}, Files: []*os.File{devnull, w, w}})
	close(started)
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	_ = r.SetReadDeadline(time.Now().Add(60 * time.Second))
	outc := make(chan string)
	go func() { b, _ := io.ReadAll(r); outc <- string(b) }()
	select {
	case <-proc.Done():
	case <-time.After(60 * time.Second):
		_ = proc.Signal(unix.SIGKILL)
		t.Fatalf("%v: timed out", args)
	}
	return result{out: <-outc, status: proc.Wait(), pid: proc.Pid()}
}

func wantExit(t *testing.T, r result, code int) {
	t.Helper()
	if !r.status.Exited() || r.status.ExitStatus() != code {
		t.Fatalf("status %#x (exited %v code %d signaled %v %v), want exit %d; output:\n%s",
			int(r.status), r.status.Exited(), r.status.ExitStatus(), r.status.Signaled(), r.status.Signal(), code, r.out)
	}
}

func forEachLibc(t *testing.T, f func(t *testing.T, prog string)) {
	needRoot(t)
	for _, libc := range []string{"glibc", "musl"} {
		t.Run(libc, func(t *testing.T) { f(t, progs[libc]) })
	}
}

func TestBasic(t *testing.T) {
	forEachLibc(t, func(t *testing.T, prog string) {
		h := newHandler(t)
		p := newPlatform(t, h, platform.Config{})
		r := run(t, p, prog, "basic")
		wantExit(t, r, 7)
		for _, s := range []string{"ok hello", "ok enoent", "ok denied", fmt.Sprintf("ok ppid %d", os.Getpid())} {
			if !strings.Contains(r.out, s) {
				t.Errorf("output lacks %q:\n%s", s, r.out)
			}
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		if par, ok := h.parent[r.pid]; !ok || par != 0 {
			t.Errorf("first task not reported: %v", h.parent)
		}
		if h.trapped[r.pid] == 0 {
			t.Errorf("no trapped calls from %d", r.pid)
		}
		if ws := h.exited[r.pid]; !ws.Exited() || ws.ExitStatus() != 7 {
			t.Errorf("Exited reported %#x", int(ws))
		}
	})
}

func TestExitStatus(t *testing.T) {
	needRoot(t)
	p := newPlatform(t, newHandler(t), platform.Config{})
	for _, code := range []int{0, 1, 255} {
		wantExit(t, run(t, p, progs["glibc"], "exit", strconv.Itoa(code)), code)
	}
	for _, sig := range []unix.Signal{unix.SIGKILL, unix.SIGSEGV, unix.SIGUSR2} {
		r := run(t, p, progs["musl"], "kill", strconv.Itoa(int(sig)))
		if !r.status.Signaled() || r.status.Signal() != sig {
			t.Errorf("kill %v: status %#x", sig, int(r.status))
		}
	}
}

func TestSIGTERM(t *testing.T) {
	needRoot(t)
	p := newPlatform(t, newHandler(t), platform.Config{})
	r, w, _ := os.Pipe()
	defer r.Close()
	proc, err := p.Start(platform.Spec{Path: progs["glibc"], Argv: []string{"platform", "sleep"},
		Files: []*os.File{nil, w, w}})
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	_ = r.SetReadDeadline(time.Now().Add(60 * time.Second))
	line, _ := bufio.NewReader(r).ReadString('\n')
	if line != "ready\n" {
		t.Fatalf("got %q", line)
	}
	if err := proc.Signal(unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	ws := proc.Wait()
	if !ws.Signaled() || ws.Signal() != unix.SIGTERM || ws.CoreDump() {
		t.Fatalf("status %#x, want killed by SIGTERM", int(ws))
	}
}

func TestAlarmStorm(t *testing.T) {
	forEachLibc(t, func(t *testing.T, prog string) {
		h := newHandler(t)
		p := newPlatform(t, h, platform.Config{})
		// A SIGALRM every 100us, several per trapped call (each one is a
		// ptrace stop, so much faster starves the program on a busy CI).
		r := run(t, p, prog, "alarm", "2000", "100")
		wantExit(t, r, 0)
		var alarms, iters int
		if _, err := fmt.Sscanf(r.out, "ok alarms %d iterations %d", &alarms, &iters); err != nil || iters != 2000 || alarms < 500 {
			t.Fatalf("output %q", r.out)
		}
		// Interrupted calls are neither lost nor handled twice.
		h.mu.Lock()
		opens := h.opens[r.pid]
		h.mu.Unlock()
		if opens != iters {
			t.Errorf("handler saw %d opens, program made %d", opens, iters)
		}
		t.Logf("%d alarms during %d open/fstat/close", alarms, iters)
	})
}

func TestThreadsNoFDSwap(t *testing.T) {
	forEachLibc(t, func(t *testing.T, prog string) {
		p := newPlatform(t, newHandler(t), platform.Config{})
		r := run(t, p, prog, "threads", "8", "2")
		wantExit(t, r, 0)
		if !strings.Contains(r.out, "ok threads 8") {
			t.Fatalf("output %q", r.out)
		}
		t.Log(strings.TrimSpace(r.out))
	})
}

func TestForkAndClone(t *testing.T) {
	forEachLibc(t, func(t *testing.T, prog string) {
		h := newHandler(t)
		p := newPlatform(t, h, platform.Config{})
		r := run(t, p, prog, "fork")
		wantExit(t, r, 0)
		var child, thread int
		for _, line := range strings.Split(r.out, "\n") {
			fmt.Sscanf(line, "ok child pid %d", &child)
			fmt.Sscanf(line, "ok thread tid %d", &thread)
		}
		if child == 0 || thread == 0 || !strings.Contains(r.out, "ok vfork") || !strings.Contains(r.out, "ok child signal") {
			t.Fatalf("output %q", r.out)
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, tid := range []int{child, thread} {
			if h.parent[tid] != r.pid {
				t.Errorf("task %d: parent %d, want %d", tid, h.parent[tid], r.pid)
			}
			if h.trapped[tid] < 3 {
				t.Errorf("task %d: %d trapped calls", tid, h.trapped[tid])
			}
		}
		if ws := h.exited[child]; !ws.Exited() || ws.ExitStatus() != 3 {
			t.Errorf("child exit reported as %#x", int(ws))
		}
	})
}

func TestExec(t *testing.T) {
	forEachLibc(t, func(t *testing.T, prog string) {
		h := newHandler(t)
		h.progs["/virt/prog"] = prog
		notexec := filepath.Join(t.TempDir(), "notexec")
		if err := os.WriteFile(notexec, []byte("neither ELF nor script\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		h.progs["/virt/notexec"] = notexec
		p := newPlatform(t, h, platform.Config{})
		r := run(t, p, prog, "exec")
		wantExit(t, r, 42)
		for _, s := range []string{"ok exec enoent", "ok exec enoexec", "ok exit 42 from_exec=1"} {
			if !strings.Contains(r.out, s) {
				t.Errorf("output lacks %q:\n%s", s, r.out)
			}
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.execed != 1 {
			t.Errorf("Execed reported %d times", h.execed)
		}
	})
}

func TestStartFromFD(t *testing.T) {
	needRoot(t)
	p := newPlatform(t, newHandler(t), platform.Config{})
	f, err := os.Open(progs["musl"])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	proc, err := p.Start(platform.Spec{File: f, Argv: []string{"platform", "exit", "5"}})
	if err != nil {
		t.Fatal(err)
	}
	if ws := proc.Wait(); !ws.Exited() || ws.ExitStatus() != 5 {
		t.Fatalf("status %#x", int(ws))
	}
	if _, err := p.Start(platform.Spec{Path: "/nonexistent", Argv: []string{"x"}}); err == nil {
		t.Fatal("start of a missing program succeeded")
	}
}

// sentryMain is a sentry in a subprocess: it starts a program that forks
// and sleeps (both processes print their pids), then waits to be killed.
func sentryMain() {
	h := &testHandler{parent: map[int]int{}, trapped: map[int]int{}, opens: map[int]int{}, exited: map[int]unix.WaitStatus{}}
	p, err := platform.New(h, syscalls.Policy(), syscalls.RestartNrs(), platform.Config{})
	if err != nil {
		panic(err)
	}
	proc, err := p.Start(platform.Spec{Path: os.Getenv("PLATFORM_TEST_SENTRY"),
		Argv: []string{"platform", "fork-sleep"}, Files: []*os.File{nil, os.Stdout, os.Stderr}})
	if err != nil {
		panic(err)
	}
	proc.Wait()
}

func TestSentryDeathKillsProgram(t *testing.T) {
	needRoot(t)
	cmd := exec.Command("/proc/self/exe")
	cmd.Env = append(os.Environ(), "PLATFORM_TEST_SENTRY="+progs["glibc"])
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	_ = out.(*os.File).SetReadDeadline(time.Now().Add(60 * time.Second))
	rd := bufio.NewReader(out)
	var pids []int
	for len(pids) < 2 {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		var pid int
		if _, err := fmt.Sscanf(line, "pid %d", &pid); err != nil || !alive(pid) {
			t.Fatalf("program said %q", line)
		}
		pids = append(pids, pid)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for _, pid := range pids {
		for alive(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("program %d survived its sentry", pid)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// dumpTracees describes this process's children and tracees, for hangs.
func dumpTracees() string {
	var b strings.Builder
	me := fmt.Sprint(os.Getpid())
	tasks, _ := filepath.Glob("/proc/[0-9]*/task/[0-9]*")
	for _, d := range tasks {
		st, _ := os.ReadFile(d + "/status")
		if !strings.Contains(string(st), "TracerPid:\t"+me+"\n") && !strings.Contains(string(st), "PPid:\t"+me+"\n") {
			continue
		}
		stat, _ := os.ReadFile(d + "/stat")
		wchan, _ := os.ReadFile(d + "/wchan")
		sc, _ := os.ReadFile(d + "/syscall")
		fmt.Fprintf(&b, "%s: %s wchan=%s syscall=%s\n", d, strings.TrimSpace(string(stat))[:60], wchan, strings.TrimSpace(string(sc)))
	}
	return b.String()
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] != 'Z' && s[i+2] != 'X'
}

// TestPlacement checks the default placement: a task that traps runs on
// the receivers' CPU only, the program is told its affinity is the
// sandbox's, and a task that stops trapping gets every CPU back. With
// Free, or on one CPU, nothing moves.
func TestPlacement(t *testing.T) {
	needRoot(t)
	var all unix.CPUSet
	must(t, unix.SchedGetaffinity(0, &all))
	placing := all.Count() > 1
	for _, mode := range []platform.Placement{platform.SameCPU, platform.Free} {
		p := newPlatform(t, newHandler(t), platform.Config{Placement: mode})
		inR, inW, err := os.Pipe()
		must(t, err)
		outR, outW, err := os.Pipe()
		must(t, err)
		proc, err := p.Start(platform.Spec{Path: progs["glibc"], Argv: []string{"platform", "trap-wait"},
			Files: []*os.File{inR, outW, outW}})
		inR.Close()
		outW.Close()
		must(t, err)
		out := bufio.NewReader(outR)
		line, err := out.ReadString('\n')
		if err != nil || line != "trapping\n" {
			t.Fatalf("mode %d: program said %q, %v", mode, line, err)
		}
		var set unix.CPUSet
		must(t, unix.SchedGetaffinity(proc.Pid(), &set))
		shown, placed := p.Affinity(proc.Pid())
		if mode == platform.SameCPU && placing {
			if set.Count() != 1 || !placed || shown != all {
				t.Errorf("placed: host affinity %v (want one CPU), shown %v %v (want %v)", set, shown, placed, all)
			}
		}
		inW.Write([]byte{1})
		if line, err := out.ReadString('\n'); err != nil || line != "idle\n" {
			t.Fatalf("mode %d: program said %q, %v", mode, line, err)
		}
		if mode == platform.SameCPU && placing {
			// Released releaseAfter (10 ms) after its last trap.
			for end := time.Now().Add(5 * time.Second); set != all && time.Now().Before(end); {
				time.Sleep(10 * time.Millisecond)
				must(t, unix.SchedGetaffinity(proc.Pid(), &set))
			}
		}
		if set != all {
			t.Errorf("mode %d: idle task's affinity %v, want %v", mode, set, all)
		}
		if (mode == platform.Free || !placing) && placed {
			t.Errorf("mode %d on %d CPUs reports a placed task", mode, all.Count())
		}
		// The released task forks: the fork is a ptrace stop, which places
		// it again, and its child starts placed though it never traps (the
		// releaser frees it 10 ms later, so only a quick look counts).
		forked := time.Now()
		inW.Write([]byte{1})
		line, err = out.ReadString('\n')
		var child int
		if _, serr := fmt.Sscanf(line, "child %d", &child); err != nil || serr != nil {
			t.Fatalf("mode %d: program said %q, %v", mode, line, err)
		}
		must(t, unix.SchedGetaffinity(child, &set))
		want := mode == platform.SameCPU && placing
		switch late := time.Since(forked) >= 10*time.Millisecond; {
		case want && set.Count() == 1, !want && set == all:
		case want && late:
			t.Logf("child's affinity %v read %v after the fork: the releaser may have freed it", set, time.Since(forked))
		default:
			t.Errorf("mode %d: child's affinity %v, want placed %v", mode, set, want)
		}
		inW.Write([]byte{1})
		inW.Close()
		if ws := proc.Wait(); !ws.Exited() || ws.ExitStatus() != 0 {
			t.Errorf("mode %d: status %#x", mode, int(ws))
		}
		outR.Close()
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
