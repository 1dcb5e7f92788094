// Package tmpfs is Linux's tmpfs in the sentry: a ramfs (file data in host
// memfds) with tmpfs's mount options, defaults and statfs answers.
package tmpfs

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs/ramfs"
)

// Options are tmpfs's mount options. Zero values mean Linux's defaults.
type Options struct {
	Mode      uint32 // root directory permissions; 01777 by default
	UID, GID  uint32
	SizeBytes uint64 // rounded up to pages; half of RAM by default
	NrInodes  uint64 // half of RAM's pages by default
	// DataDir, if set, is a host tmpfs mounted with this size where file
	// data lives, so that the program's native writes are limited too and
	// closed files hold no fd but for a few (see ramfs.Options.DataDir).
	DataDir *os.File
	// Unlimited lifts the size and inode limits (size=0, nr_inodes=0).
	UnlimitedSize, UnlimitedInodes bool
	modeSet                        bool
}

// Parse reads a mount(2) data string such as "size=1m,mode=755,uid=1000".
// Unknown options are an error, as in Linux.
func Parse(data string) (Options, error) {
	var o Options
	for _, opt := range strings.Split(data, ",") {
		if opt == "" {
			continue
		}
		key, val, _ := strings.Cut(opt, "=")
		var err error
		switch key {
		case "size":
			o.SizeBytes, err = parseSize(val)
			o.UnlimitedSize = o.SizeBytes == 0
		case "nr_blocks":
			var n uint64
			n, err = parseSize(val)
			o.SizeBytes = n * ramfs.PageSize
			o.UnlimitedSize = n == 0
		case "nr_inodes":
			o.NrInodes, err = parseSize(val)
			o.UnlimitedInodes = o.NrInodes == 0
		case "mode":
			var m uint64
			m, err = strconv.ParseUint(val, 8, 32)
			if m > 0o7777 {
				err = unix.EINVAL
			}
			o.Mode, o.modeSet = uint32(m), true
		case "uid", "gid":
			var id uint64
			id, err = strconv.ParseUint(val, 10, 32)
			if key == "uid" {
				o.UID = uint32(id)
			} else {
				o.GID = uint32(id)
			}
		default:
			return Options{}, fmt.Errorf("tmpfs: unknown option %q: %w", opt, unix.EINVAL)
		}
		if err != nil {
			return Options{}, fmt.Errorf("tmpfs: bad option %q: %w", opt, unix.EINVAL)
		}
	}
	return o, nil
}

// parseSize reads a number with an optional k/m/g/t/p/e suffix or a
// percentage of RAM.
func parseSize(s string) (uint64, error) {
	if strings.HasSuffix(s, "%") {
		pct, err := strconv.ParseUint(strings.TrimSuffix(s, "%"), 10, 64)
		if err != nil {
			return 0, err
		}
		return ramBytes() * pct / 100, nil
	}
	shift := 0
	if n := len(s); n > 0 {
		if i := strings.IndexByte("kmgtpe", s[n-1]|0x20); i >= 0 {
			shift = 10 * (i + 1)
			s = s[:n-1]
		}
	}
	v, err := strconv.ParseUint(s, 0, 64)
	if err != nil {
		return 0, err
	}
	if shift > 0 && v > ^uint64(0)>>shift {
		return 0, unix.EINVAL
	}
	return v << shift, nil
}

func ramBytes() uint64 {
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) != nil {
		return 0
	}
	return uint64(si.Totalram) * uint64(si.Unit)
}

// New makes a tmpfs.
func New(o Options) *ramfs.FS {
	ram := ramBytes()
	ro := ramfs.Options{Type: "tmpfs", Magic: unix.TMPFS_MAGIC, Mode: 0o1777, UID: o.UID, GID: o.GID}
	if o.modeSet || o.Mode != 0 {
		ro.Mode = o.Mode
	}
	if !o.UnlimitedSize {
		size := o.SizeBytes
		if size == 0 {
			size = ram / 2
		}
		ro.MaxPages = (size + ramfs.PageSize - 1) / ramfs.PageSize
	}
	if o.DataDir != nil {
		ro.DataDir, ro.MaxPages = o.DataDir, 0
	}
	if !o.UnlimitedInodes {
		ro.MaxInodes = o.NrInodes
		if ro.MaxInodes == 0 {
			ro.MaxInodes = ram / ramfs.PageSize / 2
		}
	}
	return ramfs.New(ro)
}

// HostDir mounts a host tmpfs with the given mount options and returns its
// root directory. The mount is made detached (fsopen and fsmount), so it
// never shows in any mount table and goes with the last fd. It is nosuid,
// and nodev unless devices is set; its root's mode is 0700 unless opts
// set one.
func HostDir(opts []string, devices bool) (*os.File, error) {
	fsfd, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("host tmpfs: fsopen: %w", err)
	}
	defer unix.Close(fsfd)
	mode := "mode=0700"
	for _, opt := range opts {
		if strings.HasPrefix(opt, "mode=") {
			mode = opt
		}
	}
	for _, opt := range append(opts, mode) {
		key, val, _ := strings.Cut(opt, "=")
		if err := unix.FsconfigSetString(fsfd, key, val); err != nil {
			return nil, fmt.Errorf("host tmpfs: option %q: %w", opt, err)
		}
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return nil, fmt.Errorf("host tmpfs: %w", err)
	}
	attrs := unix.MOUNT_ATTR_NOSUID
	if !devices {
		attrs |= unix.MOUNT_ATTR_NODEV
	}
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, attrs)
	if err != nil {
		return nil, fmt.Errorf("host tmpfs: fsmount: %w", err)
	}
	return os.NewFile(uintptr(mfd), "tmpfs:host"), nil
}
