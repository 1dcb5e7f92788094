package proc_test

import (
	"errors"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
	"runsc.dev/runsc/sentry/fs/proc"
	"runsc.dev/runsc/sentry/fs/sys"
	"runsc.dev/runsc/sentry/fs/tmpfs"
	"runsc.dev/runsc/sentry/kernel"
)

// sandbox is a real kernel whose one task is the test's own (locked)
// thread, with /proc and /sys mounted.
type sandbox struct {
	v    *fs.VFS
	k    *kernel.Kernel
	task *kernel.Task
	ctx  *fs.Context
}

func newSandbox(t *testing.T) *sandbox {
	t.Helper()
	runtime.LockOSThread()
	t.Cleanup(runtime.UnlockOSThread)
	v := fs.New(tmpfs.New(tmpfs.Options{Mode: 0o755}), 0, "rootfs")
	root := &fs.Context{Creds: fs.Root(), Root: v.Root()}
	for _, d := range []string{"/proc", "/sys", "/tmp"} {
		if err := v.Mkdir(root, v.Root(), d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := v.Mount(root, v.Root(), "/proc", proc.New(proc.Options{Hostname: "sandbox", MountPoints: []string{"/acpi"}}), fs.MountNoSuid, "proc"); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Mount(root, v.Root(), "/sys", sys.New(nil), fs.MountReadOnly, "sysfs"); err != nil {
		t.Fatal(err)
	}
	k, err := kernel.New(v, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	tid := unix.Gettid()
	creds, err := kernel.ReadHostCreds(tid)
	if err != nil {
		t.Fatal(err)
	}
	task := k.NewInit(tid, creds, v.Root(), v.Root(), 0o027)
	t.Cleanup(task.Serve())
	return &sandbox{v: v, k: k, task: task, ctx: task.Context()}
}

func (s *sandbox) read(t *testing.T, path string) string {
	t.Helper()
	b, err := s.readErr(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return b
}

func (s *sandbox) readErr(path string) (string, error) {
	fd, err := s.v.Open(s.ctx, s.v.Root(), path, fs.OpenHow{Flags: unix.O_RDONLY})
	if err != nil {
		return "", err
	}
	defer fd.Close()
	var out []byte
	buf := make([]byte, 4096)
	for {
		n, err := fd.Read(buf)
		out = append(out, buf[:n]...)
		if n == 0 || errors.Is(err, io.EOF) {
			return string(out), nil
		}
		if err != nil {
			return "", err
		}
	}
}

func (s *sandbox) list(t *testing.T, path string) []string {
	t.Helper()
	fd, err := s.v.Open(s.ctx, s.v.Root(), path, fs.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer fd.Close()
	var names []string
	if err := fd.Getdents(func(e fs.DirEntry) bool {
		names = append(names, e.Name)
		return true
	}); err != nil {
		t.Fatalf("getdents %s: %v", path, err)
	}
	return names
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestSelfAndPids(t *testing.T) {
	s := newSandbox(t)
	pid := strconv.Itoa(s.task.Tid())
	if got, err := s.v.Readlink(s.ctx, s.v.Root(), "/proc/self"); err != nil || got != pid {
		t.Fatalf("readlink /proc/self = %q, %v; want %q", got, err, pid)
	}
	if got, err := s.v.Readlink(s.ctx, s.v.Root(), "/proc/thread-self"); err != nil || got != pid+"/task/"+pid {
		t.Fatalf("readlink /proc/thread-self = %q, %v", got, err)
	}
	names := s.list(t, "/proc")
	for _, want := range []string{".", "..", "self", "meminfo", "sys", "acpi", pid} {
		if !has(names, want) {
			t.Errorf("/proc lacks %q: %q", want, names)
		}
	}
	// Only the sandbox's processes: not the test's other threads, not
	// pid 1.
	for _, n := range names {
		if _, err := strconv.Atoi(n); err == nil && n != pid {
			t.Errorf("/proc shows %s, not a sandbox process", n)
		}
	}
	if _, err := s.v.Stat(s.ctx, s.v.Root(), "/proc/1", 0); err != unix.ENOENT {
		t.Errorf("stat /proc/1: %v, want ENOENT", err)
	}
	if !has(s.list(t, "/proc/self/task"), pid) {
		t.Errorf("/proc/self/task lacks %s", pid)
	}
}

func TestStatus(t *testing.T) {
	s := newSandbox(t)
	st := s.read(t, "/proc/self/status")
	for _, want := range []string{"Umask:\t0027\n", "TracerPid:\t0\n", "Pid:\t" + strconv.Itoa(s.task.Tid()) + "\n"} {
		if !strings.Contains(st, want) {
			t.Errorf("status lacks %q:\n%s", want, st)
		}
	}
	// The parent is the test binary's parent: outside the sandbox.
	if !strings.Contains(st, "PPid:\t0\n") {
		t.Errorf("status shows a parent outside the sandbox:\n%s", st)
	}
	stat := s.read(t, "/proc/self/stat")
	f := strings.Fields(stat[strings.LastIndexByte(stat, ')')+1:])
	if f[1] != "0" {
		t.Errorf("stat ppid %s, want 0: %s", f[1], stat)
	}
	if s.read(t, "/proc/self/cgroup") != "0::/\n" {
		t.Error("cgroup")
	}
}

func TestLinks(t *testing.T) {
	s := newSandbox(t)
	if err := s.v.Mkdir(s.ctx, s.v.Root(), "/tmp/d", 0o755); err != nil {
		t.Fatal(err)
	}
	d, err := s.v.Lookup(s.ctx, s.v.Root(), "/tmp/d", 0)
	if err != nil {
		t.Fatal(err)
	}
	s.task.FS().SetCwd(d)
	if got, _ := s.v.Readlink(s.ctx, s.v.Root(), "/proc/self/cwd"); got != "/tmp/d" {
		t.Errorf("cwd -> %q", got)
	}
	// Following the magic link lands in the directory itself.
	if err := s.v.Mkdir(s.ctx, s.v.Root(), "/proc/self/cwd/sub", 0o755); err != nil {
		t.Errorf("mkdir through /proc/self/cwd: %v", err)
	}
	if _, err := s.v.Stat(s.ctx, s.v.Root(), "/tmp/d/sub", 0); err != nil {
		t.Error(err)
	}
	if got, _ := s.v.Readlink(s.ctx, s.v.Root(), "/proc/self/root"); got != "/" {
		t.Errorf("root -> %q", got)
	}
	if _, err := s.v.Readlink(s.ctx, s.v.Root(), "/proc/self/exe"); err != unix.ENOENT {
		t.Errorf("exe before exec: %v, want ENOENT", err)
	}
	s.task.Exec("/tmp/prog")
	if got, _ := s.v.Readlink(s.ctx, s.v.Root(), "/proc/self/exe"); got != "/tmp/prog" {
		t.Errorf("exe -> %q", got)
	}
}

func TestFD(t *testing.T) {
	s := newSandbox(t)
	desc, err := s.v.Open(s.ctx, s.v.Root(), "/tmp/file", fs.OpenHow{Flags: unix.O_CREAT | unix.O_RDWR, Mode: 0o644})
	if err != nil {
		t.Fatal(err)
	}
	f, err := s.k.NewFile(desc)
	if err != nil {
		t.Fatal(err)
	}
	// The fd number is one the test's process does not have open, so
	// only the table knows it.
	const fd = 1000
	if _, err := s.task.Files().Install(f, false, fd, func(int, bool, int) (int, error) { return fd, nil }); err != nil {
		t.Fatal(err)
	}
	if !has(s.list(t, "/proc/self/fd"), "1000") {
		t.Fatal("fd 1000 not listed")
	}
	if got, err := s.v.Readlink(s.ctx, s.v.Root(), "/proc/self/fd/1000"); err != nil || got != "/tmp/file" {
		t.Errorf("fd/1000 -> %q, %v", got, err)
	}
	loc, err := s.v.Lookup(s.ctx, s.v.Root(), "/proc/self/fd/1000", 0)
	if err != nil || loc != desc.Loc() {
		t.Errorf("following fd/1000: %v, %v", loc, err)
	}
	// The host's fds of the test process (its own stdio) show as host
	// objects or devices, never as a host path.
	for _, n := range s.list(t, "/proc/self/fd") {
		if n == "." || n == ".." || n == "1000" {
			continue
		}
		got, err := s.v.Readlink(s.ctx, s.v.Root(), "/proc/self/fd/"+n)
		if err != nil {
			continue
		}
		if strings.HasPrefix(got, "/") && !strings.HasPrefix(got, "/dev/") && !strings.HasPrefix(got, "/memfd:") {
			t.Errorf("fd %s shows host path %q", n, got)
		}
	}
	s.task.Files().Remove(fd)
	if _, err := s.v.Readlink(s.ctx, s.v.Root(), "/proc/self/fd/1000"); err != unix.ENOENT {
		t.Errorf("closed fd: %v, want ENOENT", err)
	}
}

func TestMounts(t *testing.T) {
	s := newSandbox(t)
	m := s.read(t, "/proc/self/mounts")
	for _, want := range []string{"rootfs / tmpfs rw", "proc /proc proc rw,nosuid", "sysfs /sys sysfs ro"} {
		if !strings.Contains(m, want) {
			t.Errorf("mounts lacks %q:\n%s", want, m)
		}
	}
	if mi := s.read(t, "/proc/self/mountinfo"); !strings.Contains(mi, " / /proc rw,nosuid,relatime - proc proc rw") {
		t.Errorf("mountinfo:\n%s", mi)
	}
	if got, _ := s.v.Readlink(s.ctx, s.v.Root(), "/proc/mounts"); got != "self/mounts" {
		t.Errorf("/proc/mounts -> %q", got)
	}
}

func TestGlobal(t *testing.T) {
	s := newSandbox(t)
	if mi := s.read(t, "/proc/meminfo"); !strings.HasPrefix(mi, "MemTotal:") {
		t.Errorf("meminfo:\n%s", mi)
	}
	if ci := s.read(t, "/proc/cpuinfo"); !strings.HasPrefix(ci, "processor\t: 0\n") {
		t.Errorf("cpuinfo starts %q", ci[:min(len(ci), 40)])
	}
	var up, idle float64
	if _, err := fmtSscan(s.read(t, "/proc/uptime"), &up, &idle); err != nil || up > 60 {
		t.Errorf("uptime %v (%v): the sandbox booted just now", up, err)
	}
	if st := s.read(t, "/proc/stat"); !strings.HasPrefix(st, "cpu ") || !strings.Contains(st, "\nbtime ") {
		t.Errorf("stat:\n%s", st)
	}
	if la := strings.Fields(s.read(t, "/proc/loadavg")); len(la) != 5 || la[3] != "1/1" || la[4] != strconv.Itoa(s.task.Tid()) {
		t.Errorf("loadavg %q", la)
	}
	if h := s.read(t, "/proc/sys/kernel/hostname"); h != "sandbox\n" {
		t.Errorf("hostname %q", h)
	}
	if h, _ := os.Hostname(); h != "sandbox" && strings.Contains(s.read(t, "/proc/version"), h) {
		t.Error("version shows the host's name")
	}
	u1, u2 := s.read(t, "/proc/sys/kernel/random/uuid"), s.read(t, "/proc/sys/kernel/random/uuid")
	if len(u1) != 37 || u1 == u2 {
		t.Errorf("uuids %q %q", u1, u2)
	}
	if b1, b2 := s.read(t, "/proc/sys/kernel/random/boot_id"), s.read(t, "/proc/sys/kernel/random/boot_id"); b1 != b2 {
		t.Error("boot_id changes")
	}
	for _, p := range []string{"fs/file-max", "fs/nr_open", "vm/overcommit_memory", "vm/max_map_count", "kernel/pid_max", "kernel/shmmax", "fs/inotify/max_user_watches", "net/core/somaxconn"} {
		if v := strings.TrimSpace(s.read(t, "/proc/sys/"+p)); v == "" {
			t.Errorf("/proc/sys/%s is empty", p)
		}
	}
	if on := s.read(t, "/sys/devices/system/cpu/online"); !strings.HasPrefix(on, "0") {
		t.Errorf("cpu/online %q", on)
	}
	if !has(s.list(t, "/sys/class/net"), "lo") {
		t.Error("no lo in /sys/class/net")
	}
}

func fmtSscan(s string, a ...any) (int, error) {
	f := strings.Fields(s)
	for i := range a {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return i, err
		}
		*a[i].(*float64) = v
	}
	return len(a), nil
}

func TestWritable(t *testing.T) {
	s := newSandbox(t)
	// A hostname write reaches the UTS namespace when the sandbox has its
	// own: give this thread a private one, and let the thread end with
	// the test (locked twice, unlocked once).
	runtime.LockOSThread()
	if err := unix.Unshare(unix.CLONE_NEWUTS); err != nil {
		if os.Geteuid() == 0 || os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skipf("unshare(CLONE_NEWUTS) needs root: %v", err)
	}
	write := func(path, data string) error {
		fd, err := s.v.Open(s.ctx, s.v.Root(), path, fs.OpenHow{Flags: unix.O_WRONLY | unix.O_TRUNC})
		if err != nil {
			return err
		}
		if _, err := fd.Pwrite([]byte(data), 0); err != nil {
			fd.Close()
			return err
		}
		return fd.Close()
	}
	if err := write("/proc/sys/kernel/hostname", "box\n"); err != nil {
		if s.task.HostCreds().CapEff&(1<<unix.CAP_SYS_ADMIN) == 0 && err == unix.EPERM || err == unix.EACCES {
			t.Skip("hostname needs CAP_SYS_ADMIN")
		}
		t.Fatal(err)
	}
	if h := s.read(t, "/proc/sys/kernel/hostname"); h != "box\n" {
		t.Errorf("hostname after write %q", h)
	}
	if err := write("/proc/thread-self/comm", "worker\n"); err != nil {
		t.Fatal(err)
	}
	if c := s.read(t, "/proc/self/comm"); c != "worker\n" {
		t.Errorf("comm after write %q", c)
	}
	if st := s.read(t, "/proc/self/stat"); !strings.Contains(st, " (worker) ") {
		t.Errorf("stat after a comm write: %s", st)
	}
	cur := strings.TrimSpace(s.read(t, "/proc/self/oom_score_adj"))
	if err := write("/proc/self/oom_score_adj", cur+"\n"); err != nil {
		t.Errorf("oom_score_adj: %v", err)
	}
	// Read-only files refuse writers; snapshots are sealed.
	if err := write("/proc/self/status", "x"); err != unix.EACCES {
		t.Errorf("write status: %v, want EACCES", err)
	}
	fd, err := s.v.Open(s.ctx, s.v.Root(), "/proc/self/status", fs.OpenHow{Flags: unix.O_RDONLY})
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Close()
	if _, err := unix.Pwrite(fd.HostFD(), []byte("x"), 0); err != unix.EPERM {
		t.Errorf("write to the sealed snapshot: %v, want EPERM", err)
	}
}

func TestPtraceRules(t *testing.T) {
	s := newSandbox(t)
	other := s.k.Clone(s.task, 1<<30, kernel.CloneFlags{})
	other.SetHostCreds(&kernel.HostCreds{RUID: 1000, EUID: 1000, SUID: 1000, FSUID: 1000, RGID: 1000, EGID: 1000, SGID: 1000, FSGID: 1000})
	done := other.Serve()
	defer done()
	ctx := other.Context()
	me := strconv.Itoa(s.task.Tid())
	for _, p := range []string{"environ", "maps"} {
		if _, err := s.v.Open(ctx, s.v.Root(), "/proc/"+me+"/"+p, fs.OpenHow{Flags: unix.O_RDONLY}); err != unix.EACCES {
			t.Errorf("another user's %s: %v, want EACCES", p, err)
		}
	}
	if _, err := s.v.Readlink(ctx, s.v.Root(), "/proc/"+me+"/exe"); err != unix.EACCES {
		t.Errorf("another user's exe: %v, want EACCES", err)
	}
	if _, err := s.v.Open(ctx, s.v.Root(), "/proc/"+me+"/stat", fs.OpenHow{Flags: unix.O_RDONLY}); err != nil {
		t.Errorf("another user's stat: %v", err)
	}
	if _, err := s.v.Open(ctx, s.v.Root(), "/proc/"+me+"/comm", fs.OpenHow{Flags: unix.O_WRONLY}); err != unix.EACCES && err != unix.EINVAL {
		t.Errorf("another process's comm opened for writing: %v", err)
	}
	if got, _ := s.v.Readlink(ctx, s.v.Root(), "/proc/self"); got != strconv.Itoa(1<<30) {
		t.Errorf("self of the other task: %q", got)
	}
}

func TestNoCaller(t *testing.T) {
	s := newSandbox(t)
	done := make(chan []string)
	go func() {
		// Another thread serves no task: /proc shows no processes.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		fd, err := s.v.Open(s.ctx, s.v.Root(), "/proc", fs.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY})
		if err != nil {
			done <- nil
			return
		}
		var names []string
		fd.Getdents(func(e fs.DirEntry) bool { names = append(names, e.Name); return true })
		fd.Close()
		_, err = s.v.Readlink(s.ctx, s.v.Root(), "/proc/self")
		names = append(names, "self:"+err.Error())
		done <- names
	}()
	names := <-done
	if has(names, strconv.Itoa(s.task.Tid())) || !has(names, "self:"+unix.ENOENT.Error()) {
		t.Errorf("without a caller: %q", names)
	}
}

func TestHostObjectFD(t *testing.T) {
	s := newSandbox(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	path := "/proc/self/fd/" + strconv.Itoa(int(r.Fd()))
	if got, err := s.v.Readlink(s.ctx, s.v.Root(), path); err != nil || !strings.HasPrefix(got, "pipe:[") {
		t.Fatalf("readlink %s = %q, %v", path, got, err)
	}
	loc, err := s.v.Lookup(s.ctx, s.v.Root(), path, 0)
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.v.Stat(s.ctx, loc, "", unix.AT_EMPTY_PATH)
	if err != nil || st.Type() != unix.S_IFIFO {
		t.Fatalf("stat through the link: %+v, %v", st, err)
	}
	o, ok := loc.Dentry.(interface{ OpenHost(int) (*os.File, error) })
	if !ok {
		t.Fatal("a pipe's fd link does not open on the host")
	}
	f, err := o.OpenHost(unix.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w.Write([]byte("through"))
	w.Close()
	if b, err := io.ReadAll(f); err != nil || string(b) != "through" {
		t.Errorf("read %q, %v", b, err)
	}
}

func TestFDInProc(t *testing.T) {
	s := newSandbox(t)
	desc, err := s.v.Open(s.ctx, s.v.Root(), "/proc/self/fd", fs.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY})
	if err != nil {
		t.Fatal(err)
	}
	f, err := s.k.NewFile(desc)
	if err != nil {
		t.Fatal(err)
	}
	const fd = 1001
	if _, err := s.task.Files().Install(f, false, fd, func(int, bool, int) (int, error) { return fd, nil }); err != nil {
		t.Fatal(err)
	}
	defer s.task.Files().Remove(fd)
	want := "/proc/" + strconv.Itoa(s.task.Tid()) + "/fd"
	if got, err := s.v.Readlink(s.ctx, s.v.Root(), "/proc/self/fd/1001"); err != nil || got != want {
		t.Errorf("fd/1001 -> %q, %v; want %q", got, err, want)
	}
	if mi := s.read(t, "/proc/self/mountinfo"); !strings.Contains(mi, " /proc ") {
		t.Errorf("mountinfo:\n%s", mi)
	}
}

func TestExitedProcessesForgotten(t *testing.T) {
	s := newSandbox(t)
	// Many short-lived processes, each looked up once and never again:
	// /proc does not keep them all.
	for i := 0; i < 1000; i++ {
		tid := 1<<30 + i
		s.k.Clone(s.task, tid, kernel.CloneFlags{})
		if _, err := s.v.Stat(s.ctx, s.v.Root(), "/proc/"+strconv.Itoa(tid)+"/status", 0); err != nil {
			t.Fatal(err)
		}
		s.k.Exit(tid)
	}
	root, err := s.v.Lookup(s.ctx, s.v.Root(), "/proc", 0)
	if err != nil {
		t.Fatal(err)
	}
	if n := proc.Cached(root.Dentry); n > 200 {
		t.Errorf("/proc keeps %d entries after 1000 exits", n)
	}
	if _, err := s.v.Stat(s.ctx, s.v.Root(), "/proc/"+strconv.Itoa(1<<30+999), 0); err != unix.ENOENT {
		t.Errorf("exited process: %v", err)
	}
}
