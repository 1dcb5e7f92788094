package overlay

import (
	"sync/atomic"
	"testing"

	"runsc.dev/runsc/sentry/fs"
)

// countFS wraps a layer and counts the lookups and xattr reads the overlay
// makes into it, which on a gofer lower are round trips (stats are served
// from the gofer client's attribute cache).
type countFS struct {
	fs.Filesystem
	calls atomic.Int64
}

func (c *countFS) Root() fs.Dentry { return &countDentry{c.Filesystem.Root(), c} }

type countDentry struct {
	fs.Dentry
	c *countFS
}

func (d *countDentry) Lookup(name string) (fs.Dentry, error) {
	d.c.calls.Add(1)
	x, err := d.Dentry.Lookup(name)
	if err != nil {
		return nil, err
	}
	return &countDentry{x, d.c}, nil
}

func (d *countDentry) Getxattr(name string) ([]byte, error) {
	d.c.calls.Add(1)
	return d.Dentry.Getxattr(name)
}

// TestLayerCallsPerLookup: a path through an image lower over the
// mount-point stubs costs one lookup per component in the image layer;
// opacity is asked only where the stubs have the name too.
func TestLayerCallsPerLookup(t *testing.T) {
	img := &countFS{Filesystem: layer(t, func(n *ns) {
		n.write("/usr/lib/x86_64-linux-gnu/libc.so.6", "elf")
		n.mkdirAll("/proc")
	})}
	stubs := &countFS{Filesystem: layer(t, func(n *ns) { n.mkdirAll("/proc") })}
	o, err := New(Options{Lowers: []Layer{{FS: img}, {FS: stubs}}})
	must(t, err)
	v := newNS(t, o)
	img.calls.Store(0)
	stubs.calls.Store(0)
	v.stat("/usr/lib/x86_64-linux-gnu/libc.so.6")
	if got := img.calls.Load(); got != 4 {
		t.Errorf("image layer calls for a 4-component path: %d, want 4", got)
	}
	if got := stubs.calls.Load(); got != 1 {
		t.Errorf("stub layer calls: %d, want 1 (a failed lookup of usr)", got)
	}
	img.calls.Store(0)
	v.stat("/proc")
	if got := img.calls.Load(); got != 2 {
		t.Errorf("image layer calls for a mount point: %d, want 2 (lookup, opacity)", got)
	}
	img.calls.Store(0)
	v.stat("/usr/lib/x86_64-linux-gnu/libc.so.6")
	if got := img.calls.Load(); got != 0 {
		t.Errorf("cached path: %d image layer calls", got)
	}
}
