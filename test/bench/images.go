package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"runsc.dev/runsc/test/debroot"
)

// buildMicro compiles microbench.c (next to this file) statically.
func buildMicro(srcDir, out string) error {
	cmd := exec.Command("gcc", "-static", "-O2", "-Wall", "-o", out, filepath.Join(srcDir, "microbench.c"))
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("gcc: %v\n%s", err, b)
	}
	return nil
}

// addBench puts what every image needs under /bench: the micro program,
// a file of dataMiB MiB for the read tests on the lower layer, and the
// mount point of the tmpfs runs.
func addBench(root, micro string, dataMiB int) error {
	for _, d := range []string{"bench", "mnt/tmpfs", "tmp", "proc", "dev", "root"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return err
		}
	}
	if err := copyFile(micro, filepath.Join(root, "bench/microbench"), 0o755); err != nil {
		return err
	}
	// Not zeros: a filesystem may keep those sparse.
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	f, err := os.Create(filepath.Join(root, "bench/data"))
	if err != nil {
		return err
	}
	for i := 0; i < dataMiB; i++ {
		if _, err := f.Write(chunk); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

func copyFile(src, dst string, mode os.FileMode) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, mode)
}

// busyboxRoot makes a root of the static busybox with its applet links.
func busyboxRoot(dir, micro string, dataMiB int) error {
	bb, err := exec.LookPath("busybox")
	if err != nil {
		return fmt.Errorf("busybox not installed (apt-get install busybox-static)")
	}
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		return err
	}
	if err := copyFile(bb, filepath.Join(dir, "bin/busybox"), 0o755); err != nil {
		return err
	}
	out, err := exec.Command(bb, "--list").Output()
	if err != nil {
		return err
	}
	for _, a := range strings.Fields(string(out)) {
		if a != "busybox" {
			if err := os.Symlink("busybox", filepath.Join(dir, "bin", a)); err != nil {
				return err
			}
		}
	}
	return addBench(dir, micro, dataMiB)
}

// debianRoot copies the cached Debian root to dir, so a runtime that
// writes through to it (runc) cannot spoil the cache, and adds the macro
// workloads' inputs.
func debianRoot(cache, dir, micro string) error {
	src, err := debroot.Dir(cache)
	if err != nil {
		return err
	}
	if b, err := exec.Command("cp", "-a", src, dir).CombinedOutput(); err != nil {
		return fmt.Errorf("cp: %v\n%s", err, b)
	}
	if err := addBench(dir, micro, 1); err != nil {
		return err
	}
	if err := smallFilesTar(filepath.Join(dir, "bench/files.tar"), 200, 100); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "bench/insert.sql"), insertSQL(100, 1000), 0o644)
}

// smallFilesTar writes a tarball of dirs directories of files files each,
// 100 to 1,100 bytes long.
func smallFilesTar(path string, dirs, files int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	body := bytes.Repeat([]byte("small file contents\n"), 60)
	for d := 0; d < dirs; d++ {
		name := fmt.Sprintf("tree/d%03d/", d)
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755}); err != nil {
			return err
		}
		for i := 0; i < files; i++ {
			n := 100 + (d*files+i)%1000
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: fmt.Sprintf("%sf%04d", name, i), Mode: 0o644, Size: int64(n)}); err != nil {
				return err
			}
			if _, err := tw.Write(body[:n]); err != nil {
				return err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return f.Close()
}

// insertSQL is txns transactions of rows INSERTs each.
func insertSQL(txns, rows int) []byte {
	var b bytes.Buffer
	b.WriteString("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, n INTEGER);\n")
	for t := 0; t < txns; t++ {
		b.WriteString("BEGIN;\n")
		for r := 0; r < rows; r++ {
			id := t*rows + r
			fmt.Fprintf(&b, "INSERT INTO t VALUES (%d, 'row-%d', %d);\n", id, id, id*7%1000)
		}
		b.WriteString("COMMIT;\n")
	}
	return b.Bytes()
}

// loadAvg is the 1-minute load average.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}

// memory reports the resident and peak resident set of a process, in KiB.
func memory(pid int) (rss, hwm int, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "VmRSS:" {
			fmt.Sscan(f[1], &rss)
		}
		if len(f) >= 2 && f[0] == "VmHWM:" {
			fmt.Sscan(f[1], &hwm)
		}
	}
	return rss, hwm, nil
}

// sandboxProcs finds the sentry of container id (a "boot" process whose
// last argument is id) and the gofers it started.
func sandboxProcs(id string) (sentry int, gofers []int) {
	ents, _ := os.ReadDir("/proc")
	type proc struct {
		pid, ppid int
		args      []string
	}
	var ps []proc
	for _, e := range ents {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil {
			continue
		}
		cl, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || len(cl) == 0 {
			continue
		}
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		var ppid int
		// The command name in parentheses may hold spaces: parse after it.
		if i := bytes.LastIndexByte(st, ')'); i > 0 {
			fmt.Sscan(string(st[i+2:]), new(string), &ppid)
		}
		ps = append(ps, proc{pid, ppid, strings.Split(strings.TrimRight(string(cl), "\x00"), "\x00")})
	}
	for _, p := range ps {
		if len(p.args) > 2 && p.args[len(p.args)-1] == id && contains(p.args, "boot") {
			sentry = p.pid
		}
	}
	for _, p := range ps {
		if sentry != 0 && p.ppid == sentry && contains(p.args, "gofer") {
			gofers = append(gofers, p.pid)
		}
	}
	return sentry, gofers
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
