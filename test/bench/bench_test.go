package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestMicroSmoke runs the micro program once under our runtime with tiny
// counts and checks that it reports every metric, so `make bench` does not
// find a broken harness only after an hour.
func TestMicroSmoke(t *testing.T) {
	dir, rt, root := smokeSetup(t)
	s := &sandbox{dir: dir}
	r := s.run(context.Background(), rt, root, 2*time.Minute, "/bench/microbench", "-n", "20", "-s", "1",
		"-r", "/bench/data", "/bench:root", "/mnt/tmpfs:tmpfs")
	if r.err != nil || r.code != 0 {
		t.Fatalf("microbench under runsc: %v, exit %d:\n%s", r.err, r.code, r.out)
	}
	m := microMetrics(r.out)
	for _, mn := range microNames {
		for _, label := range microLabels(mn.metric) {
			if v, ok := m[[2]string{mn.metric, label}]; !ok || v <= 0 {
				t.Errorf("no %s %s in the output:\n%s", mn.metric, label, r.out)
			}
		}
	}
}

// TestDockerSmoke times two docker runs under runc and our runsc through
// the harness's private dockerd.
func TestDockerSmoke(t *testing.T) {
	dir, rt, root := smokeSetup(t)
	rts := installed(runtimes(rt.bin, ""))
	if len(rts) != 2 {
		t.Fatalf("runtimes %v: want runc and runsc", rts)
	}
	res := newResults()
	dockerRuns(context.Background(), config{dockerRuns: 2}, dir, rts, root, res)
	for _, rt := range rts {
		s := res.s[key{"start", "docker_run_true", "-", rt.name}]
		if s == nil || len(s.vals) != 2 || len(s.failures) != 0 {
			t.Errorf("%s: %+v", rt.name, s)
		}
	}
}

// smokeSetup builds our runsc and a busybox root with the micro program.
func smokeSetup(t *testing.T) (dir string, rt *peer, root string) {
	if os.Geteuid() != 0 && os.Getenv("CI") != "true" {
		t.Skip("needs root (the runtime does)")
	}
	dir = t.TempDir()
	ours := filepath.Join(dir, "runsc")
	build := exec.Command("go", "build", "-o", ours, "runsc.dev/runsc/runsc")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	micro := filepath.Join(dir, "microbench")
	if err := buildMicro(".", micro); err != nil {
		t.Fatal(err)
	}
	root = filepath.Join(dir, "root")
	if err := busyboxRoot(root, micro, 1); err != nil {
		t.Fatal(err)
	}
	for _, p := range runtimes(ours, "") {
		if p.name == "runsc" {
			rt = p
		}
	}
	if rt.missing != "" {
		t.Fatal(rt.missing)
	}
	return dir, rt, root
}

// TestTimings checks the parser of microbench time's lines, which the macro
// workloads depend on.
func TestTimings(t *testing.T) {
	got := timings("noise\ntime\tuntar_20k\t1500000\ntime\tfind_stat_20k\t2e6\nfiles=20000\n")
	if got["untar_20k"] != 1.5e6 || got["find_stat_20k"] != 2e6 || len(got) != 2 {
		t.Fatalf("timings = %v", got)
	}
}
