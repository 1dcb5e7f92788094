// Package oci runs the runtime validation suite of
// github.com/opencontainers/runtime-tools v0.9.0 against runsc. Each
// validation is a program that drives the runtime's command line and prints
// TAP; the ones that pass today must keep passing. docs/RUNTIME-TOOLS.md
// has the whole suite's results and the reasons for its failures.
package oci

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

const runtimeTools = "github.com/opencontainers/runtime-tools"

// passing lists the validations whose TAP cases all pass with runsc.
// runtime-tools v0.9.0 reads cgroup v1 hierarchies only, so the cgroup
// validations run where the host has the controller they check in v1.
// pidfile passes too but is left out: it races `kill` against the exit of
// its container's `true`, and the kill of a stopped container fails.
var passing = []struct {
	name     string
	cgroupV1 string
}{
	{name: "config_updates_without_affect"},
	{name: "create"},
	{name: "delete"},
	{name: "delete_only_create_resources"},
	{name: "delete_resources"},
	{name: "kill"},
	{name: "kill_no_effect"},
	{name: "linux_cgroups_pids", cgroupV1: "pids"},
	{name: "linux_cgroups_relative_pids", cgroupV1: "pids"},
	{name: "state"},
}

func TestRuntimeTools(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI must run as root")
		}
		// The validations run runsc as themselves.
		t.Skip("needs root: runsc's sandbox uses ptrace, a seccomp listener and mounts")
	}
	work := t.TempDir()
	bin := filepath.Join(work, "bin")
	runDir := filepath.Join(work, "run")
	for _, d := range []string{bin, runDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	runsc := buildRunsc(t, bin)
	buildValidations(t, work, bin, runDir)

	for _, v := range passing {
		t.Run(v.name, func(t *testing.T) {
			if v.cgroupV1 != "" && !hasCgroupV1(t, v.cgroupV1) {
				t.Skipf("no cgroup v1 %s hierarchy, and runtime-tools v0.9.0 reads no other", v.cgroupV1)
			}
			runValidation(t, runsc, filepath.Join(bin, v.name), runDir)
		})
	}
}

// buildRunsc builds runsc as the Makefile does (static: the gofer's
// confinement needs that).
func buildRunsc(t *testing.T, bin string) string {
	out := filepath.Join(bin, "runsc")
	goCmd(t, "", nil, "build", "-o", out, "runsc.dev/runsc/runsc")
	return out
}

// buildValidations builds runtimetest and the passing validations in a
// scratch module (testdata/runtime-tools.mod and .sum; its dependencies come
// from the module proxy) into bin, and prepares runDir as the validations
// expect their working directory: runtimetest, which they copy into each
// bundle, and the suite's rootfs tarball.
func buildValidations(t *testing.T, work, bin, runDir string) {
	mod := filepath.Join(work, "mod")
	if err := os.Mkdir(mod, 0o755); err != nil {
		t.Fatal(err)
	}
	for src, dst := range map[string]string{"runtime-tools.mod": "go.mod", "runtime-tools.sum": "go.sum"} {
		copyFile(t, filepath.Join("testdata", src), filepath.Join(mod, dst), 0o644)
	}
	pkgs := []string{runtimeTools + "/cmd/runtimetest"}
	for _, v := range passing {
		pkgs = append(pkgs, runtimeTools+"/validation/"+v.name)
	}
	// -mod=mod: fetch what the scratch module needs (never our go.mod's).
	env := []string{"GOFLAGS=-mod=mod", "GOWORK=off"}
	goCmd(t, mod, env, append([]string{"build", "-o", bin + "/"}, pkgs...)...)
	dir := strings.TrimSpace(goCmd(t, mod, env, "list", "-m", "-f", "{{.Dir}}", runtimeTools))
	rootfs := "rootfs-" + runtime.GOARCH + ".tar.gz"
	copyFile(t, filepath.Join(dir, rootfs), filepath.Join(runDir, rootfs), 0o644)
	copyFile(t, filepath.Join(bin, "runtimetest"), filepath.Join(runDir, "runtimetest"), 0o755)
}

// goCmd runs the go command in dir with cgo off (static binaries) and env
// added, and returns its standard output.
func goCmd(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "CGO_ENABLED=0"), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return string(out)
}

func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, mode); err != nil {
		t.Fatal(err)
	}
}

// hasCgroupV1 reports whether a cgroup v1 hierarchy holds controller.
func hasCgroupV1(t *testing.T, controller string) bool {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		_, post, ok := strings.Cut(line, " - ")
		f := strings.Fields(post)
		if ok && len(f) == 3 && f[0] == "cgroup" && strings.Contains(","+f[2]+",", ","+controller+",") {
			return true
		}
	}
	return false
}

// runValidation runs one validation program with RUNTIME set to runsc over
// a state directory of its own, and fails on any failed TAP case and on
// containers it leaves behind.
func runValidation(t *testing.T, runsc, prog, runDir string) {
	tmp := t.TempDir()
	root := filepath.Join(tmp, "root")
	debugLog := filepath.Join(tmp, "runsc.log")
	wrapper := filepath.Join(tmp, "runsc")
	script := fmt.Sprintf("#!/bin/sh\nexec '%s' --root '%s' --debug-log '%s' \"$@\"\n", runsc, root, debugLog)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog)
	cmd.Dir = runDir
	// Bundles go to TMPDIR, which the test removes.
	cmd.Env = append(os.Environ(), "RUNTIME="+wrapper, "TMPDIR="+tmp)
	// Files, not pipes: a sandbox the program leaves running keeps them
	// open.
	stdout, stderr := tempFile(t, tmp), tempFile(t, tmp)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	runErr := cmd.Run()
	out, _ := os.ReadFile(stdout.Name())
	errOut, _ := os.ReadFile(stderr.Name())

	res := parseTAP(string(out))
	t.Logf("%d passed, %d skipped, %d todo", res.pass, res.skip, res.todo)
	if runErr != nil {
		t.Errorf("%s: %v", filepath.Base(prog), runErr)
	}
	for _, p := range res.problems {
		t.Errorf("TAP: %s", p)
	}
	if res.pass == 0 {
		t.Error("no TAP case passed")
	}
	for _, f := range res.failed {
		t.Errorf("failed: %s", f)
	}
	if left := leftContainers(t, runsc, root); len(left) > 0 {
		t.Errorf("containers left behind: %q", left)
	}
	if t.Failed() {
		log, _ := os.ReadFile(debugLog)
		t.Logf("TAP output:\n%s\nstderr:\n%s\nrunsc debug log:\n%s", out, errOut, log)
	}
}

func tempFile(t *testing.T, dir string) *os.File {
	f, err := os.CreateTemp(dir, "out")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// leftContainers lists the containers in root and force-deletes them.
func leftContainers(t *testing.T, runsc, root string) []string {
	out, err := exec.Command(runsc, "--root", root, "list", "--quiet").Output()
	if err != nil {
		t.Fatalf("runsc list: %v", err)
	}
	ids := strings.Fields(string(out))
	for _, id := range ids {
		exec.Command(runsc, "--root", root, "delete", "--force", id).Run()
	}
	return ids
}

type tapResult struct {
	pass, skip, todo int
	failed           []string // the "not ok" lines
	problems         []string // streams without a plan or with a wrong count
}

// parseTAP reads TAP version 13 output, possibly several streams one after
// another (some validations print one per case). Indented lines (YAML
// blocks) and diagnostics are not test points.
func parseTAP(out string) tapResult {
	var r tapResult
	streams, planned, seen := 0, -1, 0
	end := func() {
		switch {
		case planned < 0:
			r.problems = append(r.problems, fmt.Sprintf("stream %d has no plan", streams))
		case planned != seen:
			r.problems = append(r.problems, fmt.Sprintf("stream %d planned %d cases and ran %d", streams, planned, seen))
		}
	}
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "TAP version"):
			if streams > 0 {
				end()
			}
			streams, planned, seen = streams+1, -1, 0
		case strings.HasPrefix(line, "1.."):
			f := strings.Fields(line[len("1.."):])
			if len(f) > 0 {
				if n, err := strconv.Atoi(f[0]); err == nil {
					planned = n
				}
			}
		case line == "ok" || strings.HasPrefix(line, "ok "), line == "not ok" || strings.HasPrefix(line, "not ok "):
			seen++
			directive := ""
			if _, d, ok := strings.Cut(line, " # "); ok {
				directive = strings.ToUpper(d)
			}
			switch {
			case strings.HasPrefix(directive, "SKIP"):
				r.skip++
			case strings.HasPrefix(directive, "TODO"):
				r.todo++
			case strings.HasPrefix(line, "ok"):
				r.pass++
			default:
				r.failed = append(r.failed, line)
			}
		}
	}
	if streams == 0 {
		r.problems = append(r.problems, "no TAP output")
	} else {
		end()
	}
	return r
}

func TestParseTAP(t *testing.T) {
	out := `TAP version 13
ok 1 - a
  ---
  {"stdout": "not ok 1 - inner"}
  ...
ok 2 # SKIP b
not ok 3 # TODO c
1..3
TAP version 13
not ok 1 - d
# diagnostic
1..2
`
	r := parseTAP(out)
	if r.pass != 1 || r.skip != 1 || r.todo != 1 || len(r.failed) != 1 || r.failed[0] != "not ok 1 - d" {
		t.Errorf("parseTAP: %+v", r)
	}
	if len(r.problems) != 1 || !strings.Contains(r.problems[0], "planned 2 cases and ran 1") {
		t.Errorf("problems: %q", r.problems)
	}
	if r := parseTAP("no tap here\n"); len(r.problems) != 1 {
		t.Errorf("no TAP output: %+v", r)
	}
}
