package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A peer is one OCI runtime under test. A peer that is not installed
// stays in the list with missing set, so the report names it.
type peer struct {
	name    string
	bin     string
	flags   []string // global flags, before the subcommand
	missing string
	copyOf  string // the binary bin is a copy of
}

// runtimes resolves the peers: runc, our runsc, and gVisor's runsc on both
// of its platforms that work without KVM.
func runtimes(ours, gvisor string) []*peer {
	rts := []*peer{
		{name: "runc", bin: "runc"},
		{name: "runsc", bin: ours},
		{name: "gvisor-systrap", bin: gvisor, flags: []string{"--platform=systrap", "--network=none"}},
		{name: "gvisor-ptrace", bin: gvisor, flags: []string{"--platform=ptrace", "--network=none"}},
	}
	for _, rt := range rts {
		p, err := exec.LookPath(rt.bin)
		if err != nil {
			rt.missing = fmt.Sprintf("%s not found", rt.bin)
			continue
		}
		rt.bin, _ = filepath.Abs(p)
	}
	return rts
}

// spec is the OCI configuration shared by every runtime: same mounts, same
// namespaces, Docker's default capabilities.
func spec(rootfs, cgroup string, args ...string) map[string]any {
	caps := []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
		"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
		"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"}
	return map[string]any{
		"ociVersion": "1.0.2",
		"process": map[string]any{
			"terminal": false, "args": args, "cwd": "/",
			"env":  []string{"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME=/root"},
			"user": map[string]any{"uid": 0, "gid": 0},
			"capabilities": map[string]any{
				"bounding": caps, "effective": caps, "permitted": caps,
			},
		},
		"root":     map[string]any{"path": rootfs},
		"hostname": "bench",
		"mounts": []map[string]any{
			{"destination": "/proc", "type": "proc", "source": "proc"},
			{"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": []string{"nosuid", "mode=755"}},
			{"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"},
			{"destination": "/mnt/tmpfs", "type": "tmpfs", "source": "tmpfs"},
		},
		"linux": map[string]any{
			// A cgroup of its own, as Docker gives each container.
			"cgroupsPath": cgroup,
			"namespaces": []map[string]any{
				{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}}},
	}
}

// sandbox holds the state directory and scratch space of one harness run.
type sandbox struct {
	dir string
	seq int
}

// result is one container run.
type result struct {
	id   string
	dir  string // the bundle
	out  string // stdout, then stderr
	code int
	wall time.Duration
	err  error
}

// bundle writes a bundle directory for container id running args over
// rootfs.
func (s *sandbox) bundle(id, rootfs string, args ...string) (string, error) {
	dir := filepath.Join(s.dir, "bundles", id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	b, err := json.Marshal(spec(rootfs, "/runsc-bench/"+id, args...))
	if err != nil {
		return "", err
	}
	return dir, os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644)
}

func (s *sandbox) stateRoot(rt *peer) string {
	return filepath.Join(s.dir, "state", rt.name)
}

// run runs args in a container over rootfs and waits for it.
func (s *sandbox) run(ctx context.Context, rt *peer, rootfs string, timeout time.Duration, args ...string) result {
	return s.start(ctx, rt, rootfs, timeout, false, args...)
}

// start runs args in a container; detached, it returns once the container
// runs and leaves it for the caller to remove.
func (s *sandbox) start(ctx context.Context, rt *peer, rootfs string, timeout time.Duration, detach bool, args ...string) result {
	s.seq++
	id := fmt.Sprintf("bench-%s-%d", rt.name, s.seq)
	b, err := s.bundle(id, rootfs, args...)
	if err != nil {
		return result{err: err}
	}
	cargs := append(append([]string{"--root", s.stateRoot(rt)}, rt.flags...), "run", "--bundle", b)
	if detach {
		cargs = append(cargs, "--detach")
	}
	// Files, not pipes: a detached sandbox keeps its stdio open. Two
	// files: gVisor writes each through its own offset, so a shared file
	// gets one stream written over the other.
	var files [2]*os.File
	for i, name := range []string{"stdout", "stderr"} {
		if files[i], err = os.Create(filepath.Join(b, name)); err != nil {
			return result{err: err}
		}
		defer files[i].Close()
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, rt.bin, append(cargs, id)...)
	cmd.Stdout, cmd.Stderr = files[0], files[1]
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	t0 := time.Now()
	err = cmd.Run()
	r := result{id: id, dir: b, wall: time.Since(t0), code: cmd.ProcessState.ExitCode()}
	var ee *exec.ExitError
	if ctx.Err() != nil {
		r.err = fmt.Errorf("timed out after %v", timeout)
	} else if err != nil && !errors.As(err, &ee) {
		r.err = err
	}
	if !detach {
		s.remove(rt, id)
	}
	r.out = output(b)
	return r
}

// output is what a container wrote so far: its stdout, then its stderr.
func output(bundle string) string {
	stdout, _ := os.ReadFile(filepath.Join(bundle, "stdout"))
	stderr, _ := os.ReadFile(filepath.Join(bundle, "stderr"))
	return string(stdout) + string(stderr)
}

// remove deletes a container that a failed or killed run left behind.
func (s *sandbox) remove(rt *peer, id string) {
	exec.Command(rt.bin, append(append([]string{"--root", s.stateRoot(rt)}, rt.flags...), "delete", "--force", id)...).Run()
}

// timings parses the "time NAME NS" lines that microbench time prints.
func timings(out string) map[string]float64 {
	m := map[string]float64{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(line, "\t")
		if len(f) == 3 && f[0] == "time" {
			if v, err := strconv.ParseFloat(f[2], 64); err == nil {
				m[f[1]] = v
			}
		}
	}
	return m
}

// microMetrics parses microbench's "metric label value unit" lines.
func microMetrics(out string) map[[2]string]float64 {
	m := map[[2]string]float64{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			continue
		}
		if v, err := strconv.ParseFloat(f[2], 64); err == nil {
			m[[2]string{f[0], f[1]}] = v
		}
	}
	return m
}

// microNames are the metrics microbench reports, and for which label.
var microNames = []struct{ metric, unit string }{
	{"getppid", "ns"}, {"fork_exec_wait", "ns"},
	{"stat", "ns"}, {"open_close", "ns"}, {"create_unlink", "ns"}, {"mkdir_rmdir", "ns"},
	{"rename", "ns"}, {"getdents_1000", "ns"},
	{"write_4k", "MB/s"}, {"write_1m", "MB/s"}, {"read_4k", "MB/s"}, {"read_1m", "MB/s"},
}

func microLabels(metric string) []string {
	if metric == "getppid" || metric == "fork_exec_wait" {
		return []string{"-"}
	}
	return []string{"root", "tmpfs"}
}
