package boot

import (
	"fmt"

	"golang.org/x/sys/unix"

	fsgofer "runsc.dev/runsc/sentry/fs/gofer"
	"runsc.dev/runsc/sentry/platform"
)

// Do runs p over the host's root file system, read-only through a gofer,
// with a tmpfs upper that takes every write ("runsc do"). self is the
// runsc binary, which the gofer runs as.
func Do(self string, placement platform.Placement, p Process) (unix.WaitStatus, error) {
	g, err := StartGofer(self, []GoferExport{{Path: "/", ReadOnly: true}})
	if err != nil {
		return 0, err
	}
	defer g.Close()
	root, err := g.Mount(0, fsgofer.Exclusive)
	if err != nil {
		return 0, fmt.Errorf("host root: %w", err)
	}
	v, err := (&Namespace{Root: root, Overlay: true}).Build()
	if err != nil {
		return 0, err
	}
	return run(v, placement, g, p)
}
