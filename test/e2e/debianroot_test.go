package e2e

import (
	"sync"
	"testing"

	"runsc.dev/runsc/test/debroot"
)

var (
	debianOnce sync.Once
	debianDir  string
	debianErr  error
)

// debianRoot returns the cached Debian bookworm root (test/debroot), made
// once if missing. The tests never write to it.
func debianRoot(t *testing.T) string {
	t.Helper()
	requireRoot(t)
	debianOnce.Do(func() {
		cache, err := debroot.CacheDir()
		if err != nil {
			debianErr = err
			return
		}
		debianDir, debianErr = debroot.Dir(cache)
	})
	if debianErr != nil {
		t.Fatal(debianErr)
	}
	return debianDir
}
