package tmpfs_test

import (
	"strings"
	"sync"
	"testing"

	"runsc.dev/runsc/sentry/fs"
	"runsc.dev/runsc/sentry/fs/fstest"
	"runsc.dev/runsc/sentry/fs/tmpfs"
)

// TestConcurrentOps runs random operations from several goroutines on one
// tmpfs (run it with -race): nothing may panic or race, and the tree must
// stay walkable.
func TestConcurrentOps(t *testing.T) {
	data := mountData(4)
	opts, err := tmpfs.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	v := fs.New(tmpfs.New(opts), 0, "tmpfs")
	n := 3000
	if testing.Short() {
		n = 300
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x := fstest.NewVFS(v)
			defer x.Close()
			for _, op := range fstest.NewGenerator(int64(1000 + g)).Ops(n) {
				x.Run(&op)
			}
		}()
	}
	wg.Wait()
	for _, line := range fstest.Dump(fstest.NewVFS(v)) {
		if strings.Contains(line, ": lstat ") {
			t.Errorf("listed but not there: %s", line)
		}
	}
}
