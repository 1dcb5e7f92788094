package proc

import (
	"os"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
	"runsc.dev/runsc/sentry/kernel"
)

// fdDir is /proc/<pid>/fd (kind "fd") or fdinfo. The program's fds are the
// sandbox's files (in the fd table, shown by VFS path) and host objects it
// made or inherited (pipes, sockets: in the host's fd table only).
func (p *pidDir) fdDir(parent fs.Dentry, kind string) fs.Dentry {
	return p.f.NewDir(parent, kind, p.owned(0o500), DirOps{
		List: func() ([]Entry, error) {
			t, err := p.checkPtrace()
			if err != nil {
				return nil, err
			}
			var out []Entry
			for _, fd := range fdsOf(t) {
				out = append(out, Entry{Name: strconv.Itoa(fd), Cookie: int64(fd)})
			}
			return out, nil
		},
		Make: func(d *Dir, name string) (fs.Dentry, error) {
			t, err := p.checkPtrace()
			if err != nil {
				return nil, err
			}
			fd, err := strconv.Atoi(name)
			if err != nil || fd < 0 || strconv.Itoa(fd) != name || !hasFD(t, fd) {
				return nil, unix.ENOENT
			}
			if kind == "fd" {
				return p.fdLink(d, name, fd), nil
			}
			return p.f.NewFile(d, name, p.owned(0o444), func() ([]byte, error) { return p.fdinfo(fd) }), nil
		},
		Valid: func(name string) bool {
			t, err := p.task()
			if err != nil {
				return false
			}
			fd, _ := strconv.Atoi(name)
			return hasFD(t, fd)
		},
	})
}

// fdsOf lists the program's open fds: the host's table, which holds every
// fd the program has (the sentry installed its files there).
func fdsOf(t *kernel.Task) []int {
	seen := map[int]bool{}
	for _, f := range t.FDFiles() {
		seen[f.FD] = true
	}
	if ents, err := os.ReadDir("/proc/" + strconv.Itoa(t.Tid()) + "/fd"); err == nil {
		for _, e := range ents {
			if fd, err := strconv.Atoi(e.Name()); err == nil {
				seen[fd] = true
			}
		}
	}
	out := make([]int, 0, len(seen))
	for fd := range seen {
		out = append(out, fd)
	}
	sort.Ints(out)
	return out
}

func hasFD(t *kernel.Task, fd int) bool {
	return t.Files().Get(fd) != nil || t.HasHostFD(fd)
}

// fdLink is /proc/<pid>/fd/N.
func (p *pidDir) fdLink(d *Dir, name string, fd int) fs.Dentry {
	// The mode shows the access mode, as the program's host fd carries it
	// (FileDescription.Flags would take a lock getdents holds).
	mode := func() (uint32, uint32, uint32) {
		uid, gid, _ := p.owned(0)()
		m := uint32(0o700)
		if t, err := p.task(); err == nil {
			var st unix.Stat_t
			if unix.Lstat("/proc/"+strconv.Itoa(t.Tid())+"/fd/"+name, &st) == nil {
				m = st.Mode & 0o700
			}
		}
		return uid, gid, m
	}
	return p.f.NewMagicLink(d, name, mode, func() (string, error) {
		t, err := p.checkPtrace()
		if err != nil {
			return "", err
		}
		if f := t.Files().Get(fd); f != nil {
			c, err := caller()
			if err != nil {
				return "", err
			}
			return p.f.pathOf(p.k.VFS, callerRoot(c), f.Desc.Loc()), nil
		}
		link, err := os.Readlink("/proc/" + strconv.Itoa(t.Tid()) + "/fd/" + name)
		if err != nil {
			return "", unix.ENOENT
		}
		return hostObjectName(t.Tid(), fd, link), nil
	}, func() (fs.Loc, error) {
		t, err := p.checkPtrace()
		if err != nil {
			return fs.Loc{}, err
		}
		if f := t.Files().Get(fd); f != nil {
			return f.Desc.Loc(), nil
		}
		if !t.HasHostFD(fd) {
			return fs.Loc{}, unix.ENOENT
		}
		return p.hostObjectLoc(d, name, t.Tid(), fd)
	})
}

// hostObject is where /proc/<pid>/fd/N of a host object (a pipe, a
// socket) leads: not in the VFS, so a node here that opens the object
// itself, as Linux reopens it (a pipe end; a socket gives ENXIO).
type hostObject struct {
	node
	tid, fd int
}

func (p *pidDir) hostObjectLoc(parent fs.Dentry, name string, tid, fd int) (fs.Loc, error) {
	for _, m := range p.k.VFS.Mounts() {
		if m.Mount.Filesystem() == fs.Filesystem(p.f) {
			h := &hostObject{node: p.f.node(parent, name, 0, p.owned(0)), tid: tid, fd: fd}
			return fs.Loc{Mount: m.Mount, Dentry: h}, nil
		}
	}
	return fs.Loc{}, unix.ENXIO
}

func (h *hostObject) path() string {
	return "/proc/" + strconv.Itoa(h.tid) + "/fd/" + strconv.Itoa(h.fd)
}

// Stat shows the object's type and permissions as the host has them.
func (h *hostObject) Stat() (fs.Stat, error) {
	var st unix.Stat_t
	if err := unix.Stat(h.path(), &st); err != nil {
		return fs.Stat{}, unix.ENOENT
	}
	return fs.Stat{
		Mode: st.Mode, Nlink: uint32(st.Nlink), UID: st.Uid, GID: st.Gid, Ino: st.Ino, Dev: h.tree.dev,
		Blksize: uint32(st.Blksize), Atime: st.Atim, Mtime: st.Mtim, Ctime: st.Ctim,
	}, nil
}

// OpenHost opens the object for the program. It opens without blocking
// (a FIFO end with no peer would hold the sentry) and then takes the
// program's O_NONBLOCK.
func (h *hostObject) OpenHost(flags int) (*os.File, error) {
	fd, err := unix.Open(h.path(), flags|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if flags&unix.O_NONBLOCK == 0 {
		if err := unix.SetNonblock(fd, false); err != nil {
			unix.Close(fd)
			return nil, err
		}
	}
	return os.NewFile(uintptr(fd), "host object"), nil
}

// stdDevices are host device paths that name the same device in the
// sandbox's /dev.
var stdDevices = map[string]bool{
	"/dev/null": true, "/dev/zero": true, "/dev/full": true, "/dev/random": true,
	"/dev/urandom": true, "/dev/tty": true,
}

// hostObjectName is how /proc shows an fd that is a host object. Kernel
// objects (pipe:[ino], socket:[ino], anon_inode:[eventfd]) and the
// program's own memfds name nothing of the host; a host file or device the
// program inherited (stdio of "runsc do") would show a host path, so it
// shows as host:[ino] instead, except the standard devices and ptys.
func hostObjectName(tid, fd int, link string) string {
	switch {
	case !strings.HasPrefix(link, "/"), strings.HasPrefix(link, "/memfd:"), stdDevices[link]:
		return link
	case strings.HasPrefix(link, "/dev/pts/") && isDigits(strings.TrimPrefix(link, "/dev/pts/")):
		return link
	}
	var st unix.Stat_t
	if unix.Stat("/proc/"+strconv.Itoa(tid)+"/fd/"+strconv.Itoa(fd), &st) != nil {
		return "host:[0]"
	}
	return "host:[" + strconv.FormatUint(st.Ino, 10) + "]"
}

// fdinfo is the host's fdinfo of the program's fd (position and flags are
// the host fd's) with the VFS's mount id and inode for the sandbox's files.
func (p *pidDir) fdinfo(fd int) ([]byte, error) {
	t, err := p.checkPtrace()
	if err != nil {
		return nil, err
	}
	b, err := hostRead(t.Tid(), "fdinfo/"+strconv.Itoa(fd))
	if err != nil {
		return nil, unix.ENOENT
	}
	mntID, ino := "0", ""
	if f := t.Files().Get(fd); f != nil {
		loc := f.Desc.Loc()
		for _, m := range p.k.VFS.Mounts() {
			if m.Mount == loc.Mount {
				mntID = strconv.Itoa(m.ID)
			}
		}
		if st, err := f.Desc.Stat(); err == nil {
			ino = strconv.FormatUint(st.Ino, 10)
		}
	}
	var out strings.Builder
	for _, l := range lines(b) {
		switch {
		case strings.HasPrefix(l, "mnt_id:"):
			l = "mnt_id:\t" + mntID
		case strings.HasPrefix(l, "ino:") && ino != "":
			l = "ino:\t" + ino
		}
		out.WriteString(l)
		out.WriteByte('\n')
	}
	return []byte(out.String()), nil
}
