// Package docker runs the real Docker engine with runsc as a runtime: a
// private dockerd (its own data root and socket) for the whole package.
package docker

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/test/debroot"
)

var (
	// sock is the private dockerd's socket; empty if it could not start.
	sock    string
	skipWhy string
)

const image = "runsc-test-busybox"

func TestMain(m *testing.M) {
	code, err := setup(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "docker tests:", err)
		if os.Getenv("CI") == "true" {
			os.Exit(1)
		}
		skipWhy = err.Error()
		code = m.Run()
	}
	os.Exit(code)
}

func setup(m *testing.M) (int, error) {
	if os.Geteuid() != 0 {
		return 0, fmt.Errorf("needs root to run dockerd")
	}
	for _, bin := range []string{"dockerd", "docker", "busybox"} {
		if _, err := exec.LookPath(bin); err != nil {
			return 0, fmt.Errorf("%s not installed (apt-get install docker.io busybox-static)", bin)
		}
	}
	dir, err := os.MkdirTemp("", "runsc-docker-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	runsc := filepath.Join(dir, "runsc")
	build := exec.Command("go", "build", "-o", runsc, "runsc.dev/runsc/runsc")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("build runsc: %v\n%s", err, out)
	}
	conf := filepath.Join(dir, "daemon.json")
	if out, err := exec.Command(runsc, "install", "--config-file", conf).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("runsc install: %v\n%s", err, out)
	}
	sock = filepath.Join(dir, "docker.sock")
	logf, err := os.Create(filepath.Join(dir, "dockerd.log"))
	if err != nil {
		return 0, err
	}
	d := exec.Command("dockerd", "--config-file", conf, "--iptables=false", "--ip6tables=false", "--bridge=none",
		"--data-root", filepath.Join(dir, "data"), "--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "docker.pid"), "--host", "unix://"+sock)
	d.Stdout, d.Stderr = logf, logf
	d.SysProcAttr = &unix.SysProcAttr{Pdeathsig: unix.SIGTERM}
	if err := d.Start(); err != nil {
		return 0, err
	}
	defer func() {
		d.Process.Signal(unix.SIGTERM)
		d.Wait()
		// Whatever dockerd left mounted under its data root.
		exec.Command("umount", "-R", "-l", filepath.Join(dir, "data")).Run()
	}()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if exec.Command("docker", "-H", "unix://"+sock, "version").Run() == nil {
			break
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logf.Name())
			return 0, fmt.Errorf("dockerd did not start:\n%s", b)
		}
	}
	if err := importBusybox(dir); err != nil {
		return 0, err
	}
	if err := importDebian(); err != nil {
		return 0, err
	}
	return m.Run(), nil
}

// debianImage is the cached debootstrap root (test/debroot) as an image.
const debianImage = "runsc-test-debian"

func importDebian() error {
	cache, err := debroot.CacheDir()
	if err != nil {
		return err
	}
	root, err := debroot.Dir(cache)
	if err != nil {
		return err
	}
	return dockerImport(root, debianImage)
}

// dockerImport makes the image name of the directory root.
func dockerImport(root, name string) error {
	tar := exec.Command("tar", "-C", root, "-c", ".")
	imp := exec.Command("docker", "-H", "unix://"+sock, "import", "-", name)
	imp.Stdin, _ = tar.StdoutPipe()
	if err := tar.Start(); err != nil {
		return err
	}
	if out, err := imp.CombinedOutput(); err != nil {
		tar.Process.Kill()
		tar.Wait()
		return fmt.Errorf("docker import of %s: %v\n%s", root, err, out)
	}
	return tar.Wait()
}

// importBusybox makes the test image: busybox-static and its applets.
func importBusybox(dir string) error {
	root := filepath.Join(dir, "bbroot")
	for _, d := range []string{"bin", "tmp", "etc", "root", "home/user"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return err
		}
	}
	os.Chmod(filepath.Join(root, "tmp"), 0o1777)
	os.Chmod(filepath.Join(root, "root"), 0o700)
	os.Chown(filepath.Join(root, "home/user"), 1000, 1000)
	bb, _ := exec.LookPath("busybox")
	data, err := os.ReadFile(bb)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(root, "bin/busybox"), data, 0o755); err != nil {
		return err
	}
	out, err := exec.Command(bb, "--list").Output()
	if err != nil {
		return err
	}
	for _, a := range strings.Fields(string(out)) {
		if a != "busybox" {
			os.Symlink("busybox", filepath.Join(root, "bin", a))
		}
	}
	return dockerImport(root, image)
}

// docker runs the docker CLI against the private daemon.
func docker(t *testing.T, args ...string) (string, int) {
	t.Helper()
	if sock == "" {
		t.Skip(skipWhy)
	}
	cmd := exec.Command("docker", append([]string{"-H", "unix://" + sock}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), code
}

func run(t *testing.T, args ...string) (string, int) {
	t.Helper()
	return docker(t, append([]string{"run", "--rm", "--runtime=runsc"}, args...)...)
}

func TestRunOutputAndExitCodes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
		code int
	}{
		{[]string{image, "echo", "hello"}, "hello\n", 0},
		{[]string{image, "sh", "-c", "exit 1"}, "", 1},
		// pid 1 of the container survives SIGKILL from inside, as with runc.
		{[]string{image, "sh", "-c", "kill -KILL $$; echo survived; sh -c 'kill -KILL $$' 2>/dev/null; exit $?"}, "survived\n", 137},
		{[]string{"-w", "/tmp", "-e", "FOO=bar", image, "sh", "-c", "pwd; echo $FOO"}, "/tmp\nbar\n", 0},
		{[]string{"--network", "none", image, "sh", "-c", "cat /etc/hostname >/dev/null && echo ok"}, "ok\n", 0},
	} {
		out, code := run(t, tc.args...)
		if out != tc.want || code != tc.code {
			t.Errorf("docker run %q: %q exit %d, want %q exit %d", tc.args, out, code, tc.want, tc.code)
		}
	}
}

func TestVolumes(t *testing.T) {
	host := t.TempDir()
	os.WriteFile(filepath.Join(host, "in"), []byte("from host\n"), 0o644)
	out, code := run(t, "-v", host+":/data", image, "sh", "-c", "cat /data/in; echo from sandbox > /data/out")
	if out != "from host\n" || code != 0 {
		t.Fatalf("rw volume: %q %d", out, code)
	}
	if b, err := os.ReadFile(filepath.Join(host, "out")); err != nil || string(b) != "from sandbox\n" {
		t.Fatalf("host sees %q %v", b, err)
	}
	out, code = run(t, "-v", host+":/data:ro", image, "sh", "-c", "echo x > /data/new")
	if code == 0 || !strings.Contains(out, "Read-only file system") {
		t.Errorf("ro volume: %q %d", out, code)
	}
	if _, err := os.Stat(filepath.Join(host, "new")); err == nil {
		t.Error("write through a read-only volume reached the host")
	}
}

func TestReadOnlyAndTmpfs(t *testing.T) {
	out, code := run(t, "--read-only", image, "touch", "/x")
	if code == 0 || !strings.Contains(out, "Read-only file system") {
		t.Errorf("--read-only: %q %d", out, code)
	}
	out, code = run(t, "--tmpfs", "/run:size=1m", image, "sh", "-c", "dd if=/dev/zero of=/run/f bs=4k count=1000 2>&1; ls -l /run/f")
	if !strings.Contains(out, "No space left on device") || !strings.Contains(out, " 1048576 ") {
		t.Errorf("--tmpfs size=1m: %q %d", out, code)
	}
}

func TestMemoryLimit(t *testing.T) {
	out, code := run(t, "-m", "64m", image, "dd", "if=/dev/zero", "of=/dev/null", "bs=256M", "count=1")
	if code != 137 {
		t.Errorf("256 MiB under -m 64m: exit %d (%q), want 137 (OOM-killed)", code, out)
	}
	out, code = run(t, "-m", "64m", image, "dd", "if=/dev/zero", "of=/dev/null", "bs=8M", "count=1")
	if code != 0 {
		t.Errorf("8 MiB under -m 64m: exit %d (%q)", code, out)
	}
}

func TestUser(t *testing.T) {
	out, code := run(t, "--user", "1000:1000", image, "sh", "-c", "exec 2>&1; id -u; touch /root/x; touch /home/user/x && echo ok")
	if code != 0 || !strings.HasPrefix(out, "1000\n") || !strings.Contains(out, "Permission denied") || !strings.HasSuffix(out, "ok\n") {
		t.Errorf("--user 1000:1000: %q %d", out, code)
	}
}

func TestDetachedLogsStop(t *testing.T) {
	out, code := docker(t, "run", "-d", "--runtime=runsc", image, "sh", "-c", `trap "echo bye; exit 0" TERM; echo up; while true; do sleep 0.1; done`)
	if code != 0 {
		t.Fatalf("run -d: %q", out)
	}
	id := strings.TrimSpace(out)
	defer docker(t, "rm", "-f", id)
	waitLog(t, id, "up\n")
	if out, code := docker(t, "exec", "-e", "X=1", "-w", "/tmp", id, "sh", "-c", "echo $X $(pwd); exit 5"); out != "1 /tmp\n" || code != 5 {
		t.Errorf("exec: %q exit %d, want %q exit 5", out, code, "1 /tmp\n")
	}
	if out, code := docker(t, "exec", "--user", "1000", id, "id", "-u"); out != "1000\n" || code != 0 {
		t.Errorf("exec --user: %q %d", out, code)
	}
	if out, code := docker(t, "stop", id); code != 0 {
		t.Fatalf("stop: %q", out)
	}
	waitLog(t, id, "up\nbye\n")
	if out, _ := docker(t, "inspect", "-f", "{{.State.ExitCode}}", id); strings.TrimSpace(out) != "0" {
		t.Errorf("exit code after stop: %q", out)
	}
	// A program that ignores SIGTERM is killed after the timeout.
	out, _ = docker(t, "run", "-d", "--runtime=runsc", image, "sh", "-c", `trap "" TERM; echo ignoring; while true; do sleep 0.1; done`)
	id2 := strings.TrimSpace(out)
	defer docker(t, "rm", "-f", id2)
	waitLog(t, id2, "ignoring\n")
	docker(t, "stop", "-t", "1", id2)
	if out, _ := docker(t, "inspect", "-f", "{{.State.ExitCode}}", id2); strings.TrimSpace(out) != "137" {
		t.Errorf("exit code after SIGKILL: %q", out)
	}
}

func waitLog(t *testing.T, id, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, _ := docker(t, "logs", id)
		if out == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("logs of %s: %q, want %q", id, out, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestRemoveRunning(t *testing.T) {
	out, code := docker(t, "run", "-d", "--runtime=runsc", image, "sleep", "60")
	if code != 0 {
		t.Fatalf("run -d: %q", out)
	}
	id := strings.TrimSpace(out)
	if out, code := docker(t, "rm", "-f", id); code != 0 {
		t.Fatalf("rm -f: %q", out)
	}
	if out, _ := docker(t, "ps", "-a", "-q", "--filter", "id="+id); strings.TrimSpace(out) != "" {
		t.Errorf("container still listed: %q", out)
	}
}

// TestZZNoLeftovers runs last: the suite leaves no containers behind.
func TestZZNoLeftovers(t *testing.T) {
	if out, _ := docker(t, "ps", "-a", "-q"); strings.TrimSpace(out) != "" {
		t.Errorf("docker ps -a after the suite: %q", out)
	}
}

func TestPauseAndStats(t *testing.T) {
	out, code := docker(t, "run", "-d", "--runtime=runsc", "-m", "100m", image, "sh", "-c", "i=0; while true; do i=$((i+1)); echo $i > /tmp/tick; sleep 0.05; done")
	if code != 0 {
		t.Fatalf("run -d: %q", out)
	}
	id := strings.TrimSpace(out)
	defer docker(t, "rm", "-f", id)
	if out, code := docker(t, "stats", "--no-stream", "--format", "{{.MemUsage}}", id); code != 0 || !strings.Contains(out, "100MiB") {
		t.Errorf("stats: %q %d", out, code)
	}
	if out, code := docker(t, "pause", id); code != 0 {
		t.Fatalf("pause: %q", out)
	}
	tick := func() string { out, _ := docker(t, "exec", id, "cat", "/tmp/tick"); return out }
	if out, _ := docker(t, "inspect", "-f", "{{.State.Status}}", id); strings.TrimSpace(out) != "paused" {
		t.Errorf("status after pause: %q", out)
	}
	if out, code := docker(t, "unpause", id); code != 0 {
		t.Fatalf("unpause: %q", out)
	}
	a := tick()
	time.Sleep(300 * time.Millisecond)
	if b := tick(); a == b {
		t.Errorf("clock did not move after unpause: %q", a)
	}
}

func TestTerminal(t *testing.T) {
	out, code := run(t, "-t", image, "sh", "-c", "tty; readlink /dev/console; echo hi > /dev/console; echo done")
	if code != 0 || out != "/dev/pts/0\r\npts/0\r\nhi\r\ndone\r\n" {
		t.Errorf("run -t: %q exit %d", out, code)
	}
	out, code = docker(t, "run", "-d", "--runtime=runsc", image, "sleep", "30")
	if code != 0 {
		t.Fatalf("run -d: %q", out)
	}
	id := strings.TrimSpace(out)
	defer docker(t, "rm", "-f", id)
	if out, code := docker(t, "exec", "-t", id, "tty"); code != 0 || !strings.HasPrefix(out, "/dev/pts/") {
		t.Errorf("exec -t: %q exit %d", out, code)
	}
}

// TestBridgeNetwork runs a container on a user-defined bridge network:
// Docker configures the sandbox's network namespace from its prestart hook
// (the sandbox's pid in the state), so the container gets its address and
// talks TCP to the host over the bridge, and to another container.
func TestBridgeNetwork(t *testing.T) {
	if out, code := docker(t, "network", "create", "--driver", "bridge", "-o", "com.docker.network.bridge.name=runsctest0",
		"--subnet", "10.77.0.0/24", "runsctest"); code != 0 {
		t.Fatalf("network create: %s", out)
	}
	defer docker(t, "network", "rm", "runsctest")
	l, err := net.Listen("tcp", "10.77.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		b := make([]byte, 64)
		n, _ := c.Read(b)
		fmt.Fprintf(c, "host got %s", b[:n])
	}()
	port := l.Addr().(*net.TCPAddr).Port
	out, code := run(t, "--network", "runsctest", "--ip", "10.77.0.5", image, "sh", "-c",
		fmt.Sprintf("ip -4 -o addr show eth0 | awk '{print $4}'; echo hello | nc 10.77.0.1 %d", port))
	if want := "10.77.0.5/24\nhost got hello\n"; out != want || code != 0 {
		t.Errorf("container on the bridge: %q exit %d, want %q", out, code, want)
	}
	if out, code := docker(t, "run", "-d", "--runtime=runsc", "--name", "runsctest-srv", "--network", "runsctest", "--ip", "10.77.0.6",
		image, "sh", "-c", "echo from server | nc -l -p 7000"); code != 0 {
		t.Fatalf("server container: %s", out)
	}
	defer docker(t, "rm", "-f", "runsctest-srv")
	out, code = run(t, "--network", "runsctest", image, "sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do nc 10.77.0.6 7000 && exit; sleep 0.2; done")
	if out != "from server\n" || code != 0 {
		t.Errorf("container to container: %q exit %d", out, code)
	}
}

// TestDevices passes a host device with --device and checks Docker's
// device cgroup: the passed and the standard devices open, mknod works,
// and a device Docker does not allow (kmsg) cannot be opened.
func TestDevices(t *testing.T) {
	out, code := run(t, "--device", "/dev/zero:/dev/myzero", image, "sh", "-c",
		`head -c 2 /dev/myzero | od -An -tx1; echo > /dev/null && echo null ok; mknod /tmp/k c 1 11 && head -c 1 /tmp/k 2>&1`)
	want := " 00 00\nnull ok\nhead: /tmp/k: Operation not permitted\n"
	if out != want || code != 1 {
		t.Errorf("devices: %q exit %d, want %q exit 1", out, code, want)
	}
	if out, code := run(t, "--device-cgroup-rule", "c 1:11 r", image, "sh", "-c", "mknod /tmp/k c 1 11 && timeout 1 head -c 1 /tmp/k >/dev/null; echo $?"); out != "0\n" && out != "143\n" || code != 0 {
		t.Errorf("kmsg allowed by a rule: %q exit %d", out, code)
	}
}

// TestDebianImage runs programs of the debootstrap image: bash, Python and
// apt's tools, as root and as another user, with a writable root.
func TestDebianImage(t *testing.T) {
	out, code := run(t, debianImage, "bash", "-c", `cut -d. -f1 /etc/debian_version; python3 -c 'import sqlite3, json; print(json.dumps(sqlite3.connect(":memory:").execute("select 6*7").fetchone()))'; dpkg -s python3 | grep -c '^Status: install ok installed'; echo hi > /etc/motd && cat /etc/motd`)
	if want := "12\n[42]\n1\nhi\n"; out != want || code != 0 {
		t.Errorf("debian image: %q exit %d, want %q", out, code, want)
	}
	out, code = run(t, "--user", "1000:1000", debianImage, "bash", "-c", `id -u; touch /etc/x 2>&1 | sed 's/.*: //'; echo ok > /tmp/x && cat /tmp/x`)
	if want := "1000\nPermission denied\nok\n"; out != want || code != 0 {
		t.Errorf("debian image as 1000: %q exit %d, want %q", out, code, want)
	}
}

// TestSysctl passes a namespaced sysctl with --sysctl.
func TestSysctl(t *testing.T) {
	if out, code := run(t, "--sysctl", "net.core.somaxconn=1024", image, "cat", "/proc/sys/net/core/somaxconn"); out != "1024\n" || code != 0 {
		t.Errorf("--sysctl: %q exit %d", out, code)
	}
}
