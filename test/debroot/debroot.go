// Package debroot builds the Debian bookworm root file system that the
// tests and benchmarks run programs in: made by debootstrap once and
// cached, never written by them.
package debroot

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Packages are what the tests run besides debootstrap's minimal base.
const Packages = "python3,perl,sqlite3,procps"

// CacheDir is where the root is kept: $RUNSC_TEST_CACHE, else test/cache of
// the repository whose directory (or a package directory below test/) the
// caller runs in.
func CacheDir() (string, error) {
	if d := os.Getenv("RUNSC_TEST_CACHE"); d != "" {
		return d, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; d != filepath.Dir(d); d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(d, "test", "cache"), nil
		}
	}
	return "", fmt.Errorf("no go.mod above %s to find test/cache in", wd)
}

// Dir returns the root in cache, making it first if it is missing. A lock
// file makes parallel test binaries wait for one build, and the tree
// appears under its final name only once complete.
func Dir(cache string) (string, error) {
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", err
	}
	dir := filepath.Join(cache, "debian-bookworm")
	lock, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return "", fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	if _, err := os.Stat(dir); err == nil {
		return dir, nil
	}
	bin, err := exec.LookPath("debootstrap")
	if err != nil {
		return "", fmt.Errorf("debootstrap is not installed (apt-get install debootstrap): %w", err)
	}
	tmp := dir + ".tmp"
	// An interrupted debootstrap leaves its mounts in the target.
	for _, m := range []string{"dev/pts", "proc", "sys"} {
		unix.Unmount(filepath.Join(tmp, m), unix.MNT_DETACH)
	}
	if err := os.RemoveAll(tmp); err != nil {
		return "", err
	}
	start := time.Now()
	cmd := exec.Command(bin, "--variant=minbase", "--include="+Packages, "bookworm", tmp, Mirror())
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("debootstrap: %v\n%s", err, Tail(out, 4000))
	}
	fmt.Fprintf(os.Stderr, "debootstrap of %s took %v\n", dir, time.Since(start).Round(time.Second))
	if err := os.Rename(tmp, dir); err != nil {
		return "", err
	}
	return dir, nil
}

// Mirror is the host's configured Debian mirror (deb822 or one-line
// sources), else deb.debian.org.
func Mirror() string {
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*.sources")
	files = append([]string{"/etc/apt/sources.list"}, files...)
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			continue
		}
		s := bufio.NewScanner(f)
		for s.Scan() {
			fields := strings.Fields(s.Text())
			var uri string
			switch {
			case len(fields) >= 3 && fields[0] == "deb" && fields[2] == "bookworm":
				uri = fields[1]
			case len(fields) >= 2 && fields[0] == "URIs:":
				uri = fields[1]
			}
			if strings.HasPrefix(uri, "http") && !strings.Contains(uri, "security") {
				f.Close()
				return uri
			}
		}
		f.Close()
	}
	return "http://deb.debian.org/debian"
}

// Tail is the last n bytes of b (of a command's output, for an error).
func Tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
