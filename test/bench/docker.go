package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

const dockerImage = "runsc-bench-busybox"

// dockerd is a private Docker engine: its own data root, exec root and
// socket, no bridge and no iptables, so it leaves the host's Docker alone.
type dockerd struct {
	dir, sock string
	cmd       *exec.Cmd
}

// dockerRuns times `docker run --rm --network=none IMAGE /bin/true` under
// every runtime (wall time of the docker command), interleaved, after one
// warm-up run each. The image is the micro benchmarks' busybox root.
func dockerRuns(ctx context.Context, c config, dir string, rts []*peer, bbRoot string, res *results) {
	k := func(rt *peer) key { return key{"start", "docker_run_true", "-", rt.name} }
	failAll := func(why string) {
		log.Printf("docker: %s", why)
		for _, rt := range rts {
			res.fail(k(rt), "ms", why)
		}
	}
	for _, bin := range []string{"dockerd", "docker"} {
		if _, err := exec.LookPath(bin); err != nil {
			failAll(bin + " not installed (apt-get install docker.io)")
			return
		}
	}
	d, err := startDockerd(ctx, filepath.Join(dir, "docker"), rts)
	if err != nil {
		failAll(err.Error())
		return
	}
	defer d.stop()
	imp := exec.CommandContext(ctx, "sh", "-c", `tar -C "$1" -c . | docker -H "unix://$2" import - "$3"`, "sh", bbRoot, d.sock, dockerImage)
	if out, err := imp.CombinedOutput(); err != nil {
		failAll(fmt.Sprintf("docker import: %v: %s", err, out))
		return
	}
	run := func(rt *peer) (time.Duration, error) {
		start := time.Now()
		out, err := d.command(ctx, "run", "--rm", "--network=none", "--runtime="+dockerRuntime(rt), dockerImage, "/bin/true").CombinedOutput()
		if err != nil {
			return 0, fmt.Errorf("%v: %s", err, strings.TrimSpace(string(out)))
		}
		return time.Since(start), nil
	}
	for _, rt := range rts {
		if _, err := run(rt); err != nil {
			log.Printf("docker warm-up %s: %v", rt.name, err)
		}
	}
	for i := 0; i < c.dockerRuns; i++ {
		for _, rt := range rts {
			if wall, err := run(rt); err != nil {
				res.fail(k(rt), "ms", err.Error())
			} else {
				res.add(k(rt), "ms", float64(wall.Microseconds())/1e3)
			}
		}
	}
}

// dockerRuntime is rt's name in the private dockerd: runc is Docker's own.
func dockerRuntime(rt *peer) string {
	if rt.name == "runc" {
		return "runc"
	}
	return "bench-" + rt.name
}

func startDockerd(ctx context.Context, dir string, rts []*peer) (*dockerd, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	runtimes := map[string]any{}
	for _, rt := range rts {
		if rt.name != "runc" {
			runtimes[dockerRuntime(rt)] = map[string]any{"path": rt.bin, "runtimeArgs": rt.flags}
		}
	}
	conf, err := json.Marshal(map[string]any{"runtimes": runtimes})
	if err != nil {
		return nil, err
	}
	confPath := filepath.Join(dir, "daemon.json")
	if err := os.WriteFile(confPath, conf, 0o600); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "dockerd.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	d := &dockerd{dir: dir, sock: filepath.Join(dir, "docker.sock")}
	d.cmd = exec.Command("dockerd", "--config-file", confPath, "--iptables=false", "--ip6tables=false", "--bridge=none",
		"--data-root", filepath.Join(dir, "data"), "--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "docker.pid"), "--host", "unix://"+d.sock)
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := d.cmd.Start(); err != nil {
		return nil, err
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if d.command(ctx, "version").Run() == nil {
			return d, nil
		}
		if time.Now().After(deadline) {
			d.stop()
			b, _ := os.ReadFile(logf.Name())
			return nil, fmt.Errorf("dockerd did not start:\n%s", b)
		}
	}
}

func (d *dockerd) command(ctx context.Context, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "docker", append([]string{"-H", "unix://" + d.sock}, args...)...)
}

// stop ends dockerd and unmounts what it left under its data root.
func (d *dockerd) stop() {
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { d.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = d.cmd.Process.Kill()
		<-done
	}
	_ = exec.Command("umount", "-R", "-l", filepath.Join(d.dir, "data")).Run()
}
