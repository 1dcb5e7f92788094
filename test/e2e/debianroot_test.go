package e2e

import (
	"bufio"
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

// debianPackages are what the Debian tests run besides the minimal base.
const debianPackages = "python3,perl,sqlite3,procps"

var (
	debianOnce sync.Once
	debianDir  string
	debianErr  error
)

// debianRoot returns a Debian bookworm root file system made by
// debootstrap, cached in test/cache (or $RUNSC_TEST_CACHE) across runs: it
// is built once, under a lock so parallel test binaries wait for one build,
// and only when missing. The tests never write to it.
func debianRoot(t *testing.T) string {
	t.Helper()
	requireRoot(t)
	debianOnce.Do(func() { debianDir, debianErr = buildDebianRoot() })
	if debianErr != nil {
		t.Fatal(debianErr)
	}
	return debianDir
}

func cacheDir() (string, error) {
	if d := os.Getenv("RUNSC_TEST_CACHE"); d != "" {
		return d, nil
	}
	// Tests run in their package directory, test/e2e.
	return filepath.Abs("../cache")
}

func buildDebianRoot() (string, error) {
	cache, err := cacheDir()
	if err != nil {
		return "", err
	}
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
	// The tree appears under its final name only once complete.
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
	cmd := exec.Command(bin, "--variant=minbase", "--include="+debianPackages, "bookworm", tmp, debianMirror())
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("debootstrap: %v\n%s", err, tail(out, 4000))
	}
	fmt.Fprintf(os.Stderr, "debootstrap of %s took %v\n", dir, time.Since(start).Round(time.Second))
	if err := os.Rename(tmp, dir); err != nil {
		return "", err
	}
	return dir, nil
}

// debianMirror is the host's configured Debian mirror (deb822 or one-line
// sources), else deb.debian.org.
func debianMirror() string {
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

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
