package fs

import (
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// anonMinor numbers the anonymous block devices (major 0) that in-memory
// file systems report as st_dev, as Linux's get_anon_bdev does. It is
// process-wide because device numbers are: two namespaces of one sentry
// must not show the same st_dev for different file systems.
var anonMinor atomic.Uint32

// NewAnonDev returns a fresh st_dev for a file system without a device.
func NewAnonDev() uint64 { return unix.Mkdev(0, anonMinor.Add(1)+64) }
