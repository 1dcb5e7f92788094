package ramfs

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
)

// NewStubs makes a ramfs holding an empty directory (0755, root-owned) for
// every absolute path in paths and its parents. Boot lays it under the root
// file system so that every mount point exists even where the container's
// root file system lacks it (seed 003's submount overlay).
func NewStubs(paths []string) (*FS, error) {
	f := New(Options{Mode: 0o755})
	for _, p := range paths {
		if !strings.HasPrefix(p, "/") {
			return nil, fmt.Errorf("mount point stub %q: %w", p, unix.EINVAL)
		}
		d := f.root
		for _, name := range strings.Split(p, "/") {
			if name == "" || name == "." {
				continue
			}
			if name == ".." || len(name) > fs.NameMax {
				return nil, fmt.Errorf("mount point stub %q: %w", p, unix.EINVAL)
			}
			c, err := d.Lookup(name)
			if err == unix.ENOENT {
				c, err = d.Create(name, &fs.CreateAttrs{Mode: unix.S_IFDIR | 0o755})
			}
			if err != nil {
				return nil, fmt.Errorf("mount point stub %q: %w", p, err)
			}
			d = c.(*dentry)
			if d.inode.dir == nil {
				return nil, fmt.Errorf("mount point stub %q: %w", p, unix.ENOTDIR)
			}
		}
	}
	return f, nil
}
