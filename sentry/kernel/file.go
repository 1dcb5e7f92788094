package kernel

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
	"runsc.dev/runsc/sentry/fs/tmpfs"
)

// File is an open file description of the sandbox: the VFS's description
// and the host fd the sentry installs into the program for it. Every
// program fd made from one File (dup, fork) shares the host open file
// description, so offsets and status flags are shared as Linux shares them.
type File struct {
	Desc *fs.FileDescription
	host int // the sentry's fd of the host open file description
	refs atomic.Int32
}

// IncRef takes a reference.
func (f *File) IncRef() { f.refs.Add(1) }

// DecRef drops a reference, closing the file with the last.
func (f *File) DecRef() {
	if f.refs.Add(-1) == 0 {
		unix.Close(f.host)
		f.Desc.Close()
	}
}

// NewFile makes the host side of an open VFS file: a new open of the
// regular file's data (its own offset and access mode), of the placeholder
// directory, or of the host device a device node stands for.
func (k *Kernel) NewFile(d *fs.FileDescription) (*File, error) {
	flags := d.Flags()
	st, err := d.Attrs()
	if err != nil {
		return nil, err
	}
	// Raw fds, not os.Files: one costs an open and close about 1 µs more.
	host := -1
	opener, hasHost := d.Loc().Dentry.(interface{ OpenHost(int) (*os.File, error) })
	switch {
	case flags&unix.O_PATH != 0:
		// SECCOMP_IOCTL_NOTIF_ADDFD cannot install an O_PATH file (EBADF).
		// /dev/null opened with neither read nor write access (O_ACCMODE
		// 3) stands in: read, write and mmap on it fail as on O_PATH.
		host, err = k.devices.open(unix.S_IFCHR, unix.Mkdev(1, 3), unix.O_ACCMODE)
	case st.IsDir():
		// The flags fcntl(F_GETFL) shows natively are the program's.
		host, err = unix.Open(k.placeholder, unix.O_RDONLY|unix.O_CLOEXEC|flags&(unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_NONBLOCK), 0)
	case hasHost && st.Type() != unix.S_IFREG:
		// Nodes of host objects: ptys of devpts, pipes reached through
		// /proc/<pid>/fd/N.
		host, err = rawFD(opener.OpenHost(hostFlags(flags)))
	case st.Type() == unix.S_IFREG:
		if d.HostFD() < 0 {
			return nil, fmt.Errorf("regular file without host data: %w", unix.EIO)
		}
		host, err = d.Reopen(hostFlags(flags))
	case st.Type() == unix.S_IFIFO:
		// Blocks until the other end is open (see OpensBlocking).
		host, err = openFIFO(d, hostFlags(flags))
	case st.Type() == unix.S_IFCHR || st.Type() == unix.S_IFBLK:
		host, err = k.devices.open(st.Type(), st.Rdev, hostFlags(flags))
	case st.Type() == unix.S_IFSOCK:
		err = unix.ENXIO
	default:
		err = unix.ENXIO
	}
	if err != nil {
		return nil, err
	}
	return &File{Desc: d, host: host}, nil
}

// rawFD takes the fd out of an os.File (for the host objects of devpts and
// /proc, whose openers return one): a duplicate the caller owns.
func rawFD(f *os.File, err error) (int, error) {
	if err != nil {
		return -1, err
	}
	defer f.Close()
	return unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
}

// fifoOpener is a dentry whose FIFO opens as a host FIFO (tmpfs, overlay).
type fifoOpener interface {
	OpenFIFO(flags int) (int, error)
}

func openFIFO(d *fs.FileDescription, flags int) (int, error) {
	o, ok := d.Loc().Dentry.(fifoOpener)
	if !ok {
		return -1, unix.ENXIO
	}
	return o.OpenFIFO(flags)
}

// OpensBlocking reports whether NewFile(d) may wait for another process:
// an open of one end of a FIFO without O_NONBLOCK waits for the other.
func OpensBlocking(d *fs.FileDescription) bool {
	flags := d.Flags()
	if flags&unix.O_NONBLOCK != 0 || flags&unix.O_ACCMODE == unix.O_RDWR || flags&unix.O_PATH != 0 {
		return false
	}
	st, err := d.Attrs()
	return err == nil && st.Type() == unix.S_IFIFO
}

// Unblock ends a NewFile(d) that waits for the other end of a FIFO, by
// opening that end for a moment; the waiting NewFile then returns a file
// the caller discards.
func Unblock(d *fs.FileDescription) {
	peer := unix.O_WRONLY
	if d.Flags()&unix.O_ACCMODE == unix.O_WRONLY {
		peer = unix.O_RDONLY
	}
	if fd, err := openFIFO(d, peer|unix.O_NONBLOCK); err == nil {
		unix.Close(fd)
	}
}

// hostFlags are the open flags the host fd carries so that native calls on
// it behave as the program asked.
func hostFlags(flags int) int {
	return flags & (unix.O_ACCMODE | unix.O_APPEND | unix.O_NONBLOCK | unix.O_DSYNC | unix.O_SYNC | unix.O_DIRECT | unix.O_NOATIME)
}

func openHost(path string, flags int) (*os.File, error) {
	fd, err := unix.Open(path, flags|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), path), nil
}

// Devices are the host devices the sandbox may open and its device
// cgroup. The standard harmless ones (/dev/null, zero, full, random,
// urandom) are opened at boot, before the sentry is confined; others
// (linux.devices, or allowed by the cgroup's rules) get a node in a
// private detached tmpfs, made at boot or at first open.
type Devices struct {
	mu    sync.Mutex
	fds   map[devKey]*os.File // O_PATH or open handles, reopened per open
	dir   *os.File            // the private tmpfs of device nodes
	rules []DeviceRule        // nil: no cgroup rules
}

type devKey struct {
	typ  uint32 // S_IFCHR or S_IFBLK
	rdev uint64
}

// DeviceRule is one rule of the device cgroup (linux.resources.devices),
// applied in order, the last match winning, over a default of deny (runc's
// emulator is an allow-list; a rule for all devices sets the default).
type DeviceRule struct {
	Allow        bool
	Type         byte  // 'a', 'c' or 'b'
	Major, Minor int64 // -1: any
	Access       string
}

// StandardDevices opens the host's harmless character devices.
func StandardDevices() (*Devices, error) {
	d := &Devices{fds: map[devKey]*os.File{}}
	for _, dev := range []struct {
		path         string
		major, minor uint32
	}{
		{"/dev/null", 1, 3}, {"/dev/zero", 1, 5}, {"/dev/full", 1, 7},
		{"/dev/random", 1, 8}, {"/dev/urandom", 1, 9},
	} {
		f, err := openHost(dev.path, unix.O_RDWR)
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("open %s: %w", dev.path, err)
		}
		d.fds[devKey{unix.S_IFCHR, unix.Mkdev(dev.major, dev.minor)}] = f
	}
	return d, nil
}

// SetRules installs the device cgroup's rules.
func (d *Devices) SetRules(rules []DeviceRule) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.rules = rules
}

// Allowed implements fs.DeviceCgroup.
func (d *Devices) Allowed(typ uint32, rdev uint64, access byte) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	allowed := d.rules == nil
	major, minor := int64(unix.Major(rdev)), int64(unix.Minor(rdev))
	for _, r := range d.rules {
		switch {
		case r.Type == 'c' && typ != unix.S_IFCHR, r.Type == 'b' && typ != unix.S_IFBLK:
			continue
		case r.Major >= 0 && r.Major != major, r.Minor >= 0 && r.Minor != minor:
			continue
		case strings.IndexByte(r.Access, access) < 0:
			continue
		}
		allowed = r.Allow
	}
	return allowed
}

// Add makes the host device typ/rdev openable (a linux.devices entry).
func (d *Devices) Add(typ uint32, rdev uint64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, err := d.nodeLocked(devKey{typ, rdev})
	return err
}

// nodeLocked returns the handle of a device, making its node if needed.
func (d *Devices) nodeLocked(k devKey) (*os.File, error) {
	if f, ok := d.fds[k]; ok {
		return f, nil
	}
	if d.fds == nil {
		d.fds = map[devKey]*os.File{}
	}
	if d.dir == nil {
		dir, err := tmpfs.HostDir(nil, true)
		if err != nil {
			return nil, fmt.Errorf("device directory: %w", err)
		}
		d.dir = dir
	}
	name := fmt.Sprintf("%d-%d-%d", k.typ>>12, unix.Major(k.rdev), unix.Minor(k.rdev))
	if err := unix.Mknodat(int(d.dir.Fd()), name, k.typ|0o600, int(k.rdev)); err != nil && err != unix.EEXIST {
		return nil, err
	}
	fd, err := unix.Openat(int(d.dir.Fd()), name, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), name)
	d.fds[k] = f
	return f, nil
}

// Close releases the devices.
func (d *Devices) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, f := range d.fds {
		f.Close()
	}
	if d.dir != nil {
		d.dir.Close()
	}
}

// open opens device typ/rdev for the program: a standard or added one, or
// any other the cgroup's rules allow (they allow nothing beyond those
// without rules). The cgroup's check of the access is the VFS's.
func (d *Devices) open(typ uint32, rdev uint64, flags int) (int, error) {
	k := devKey{typ, rdev}
	d.mu.Lock()
	f, ok := d.fds[k]
	var err error
	if !ok && d.rules != nil {
		f, err = d.nodeLocked(k)
	}
	d.mu.Unlock()
	if err != nil {
		return -1, err
	}
	if f == nil {
		return -1, unix.ENXIO
	}
	// Never the sentry's controlling terminal (an allowed tty device).
	return fs.ReopenFD(int(f.Fd()), flags|unix.O_NOCTTY)
}
