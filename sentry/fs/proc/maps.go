package proc

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
	"runsc.dev/runsc/sentry/kernel"
)

// devIno names a host inode.
type devIno struct{ dev, ino string }

func keyOfFD(fd int) (devIno, bool) {
	var st unix.Stat_t
	if fd < 0 || unix.Fstat(fd, &st) != nil {
		return devIno{}, false
	}
	return devIno{fmt.Sprintf("%02x:%02x", unix.Major(st.Dev), unix.Minor(st.Dev)), fmt.Sprint(st.Ino)}, true
}

// maxCachedFiles bounds FS.files.
const maxCachedFiles = 4096

// maps is the host's maps (or smaps) of the thread with each file mapping
// named by its VFS path. The host names the files it mapped by what it
// knows: a memfd (tmpfs files), the gofer's file (a host path) or ld.so.
// A mapping whose VFS file cannot be found shows as anonymous, never as a
// host path.
func (p *pidDir) maps(smaps bool) Content {
	name := "maps"
	if smaps {
		name = "smaps"
	}
	return func() ([]byte, error) {
		t, err := p.checkPtrace()
		if err != nil {
			return nil, err
		}
		b, err := hostRead(t.Tid(), name)
		if err != nil {
			return nil, err
		}
		known := p.knownFiles(t)
		var out strings.Builder
		for _, l := range lines(b) {
			f := strings.Fields(l)
			if len(f) >= 5 && strings.Contains(f[0], "-") && len(f[1]) == 4 {
				l = p.mapLine(t, f, known)
			}
			out.WriteString(l)
			out.WriteByte('\n')
		}
		return []byte(out.String()), nil
	}
}

// mapLine rebuilds one mapping line with the VFS name of its file.
func (p *pidDir) mapLine(t *kernel.Task, f []string, known map[devIno]string) string {
	head := strings.Join(f[:5], " ")
	name := ""
	if len(f) > 5 {
		name = strings.Join(f[5:], " ")
	}
	if f[4] != "0" && strings.HasPrefix(name, "/") {
		key := devIno{f[3], f[4]}
		name = known[key]
		if name == "" {
			name = p.f.findFile(p.k, t, strings.Join(f[5:], " "), key)
		}
	}
	if name == "" {
		return head
	}
	if len(head) < 73 {
		head += strings.Repeat(" ", 73-len(head))
	} else {
		head += " "
	}
	return head + name
}

// knownFiles are the host inodes of the files the sandbox knows the task
// uses: its open files and its program.
func (p *pidDir) knownFiles(t *kernel.Task) map[devIno]string {
	known := map[devIno]string{}
	c, err := caller()
	if err != nil {
		return known
	}
	root := callerRoot(c)
	for _, f := range t.FDFiles() {
		if k, ok := keyOfFD(f.Desc.HostFD()); ok {
			known[k] = p.f.pathOf(p.k.VFS, root, f.Desc.Loc())
		}
	}
	if exe := exeOf(t); exe != "" {
		ctx := &fs.Context{Creds: fs.Root(), Root: t.FS().Root()}
		if d, err := p.k.VFS.Open(ctx, ctx.Root, exe, fs.OpenHow{Flags: unix.O_RDONLY}); err == nil {
			if k, ok := keyOfFD(d.HostFD()); ok {
				known[k] = exe
			}
			d.Close()
		}
	}
	return known
}

// findFile finds the VFS file behind a host mapping of hostPath: the host
// path, or a path it ends with (the gofer serves the container's root from
// somewhere in the host's tree), whose data is that host inode.
func (f *FS) findFile(k *kernel.Kernel, t *kernel.Task, hostPath string, key devIno) string {
	f.mu.Lock()
	name, ok := f.files[key]
	f.mu.Unlock()
	if ok {
		return name
	}
	comps := strings.Split(strings.Trim(strings.TrimSuffix(hostPath, " (deleted)"), "/"), "/")
	ctx := &fs.Context{Creds: fs.Root(), Root: t.FS().Root()}
	for i := 0; i < len(comps) && i < 8; i++ {
		cand := "/" + strings.Join(comps[i:], "/")
		if cand == "/" || strings.HasPrefix(cand, "/proc/") || strings.HasPrefix(cand, "/memfd:") {
			continue
		}
		d, err := k.VFS.Open(ctx, ctx.Root, cand, fs.OpenHow{Flags: unix.O_RDONLY | unix.O_NOFOLLOW})
		if err != nil {
			continue
		}
		got, ok := keyOfFD(d.HostFD())
		d.Close()
		if ok && got == key {
			name = cand
			break
		}
	}
	f.mu.Lock()
	if len(f.files) >= maxCachedFiles {
		f.files = map[devIno]string{}
	}
	f.files[key] = name
	f.mu.Unlock()
	return name
}
