package proc

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
)

// mountOpts are the per-mount options /proc/mounts shows.
func mountOpts(flags uint32) string {
	o := "rw"
	if flags&fs.MountReadOnly != 0 {
		o = "ro"
	}
	for _, f := range []struct {
		bit  uint32
		name string
	}{{fs.MountNoSuid, "nosuid"}, {fs.MountNoDev, "nodev"}, {fs.MountNoExec, "noexec"}, {fs.MountNoAtime, "noatime"}} {
		if flags&f.bit != 0 {
			o += "," + f.name
		}
	}
	if flags&fs.MountNoAtime == 0 {
		o += ",relatime"
	}
	return o
}

// mountSource is the source column: a bind mount's source is a host path,
// which the sandbox must not see.
func mountSource(src string) string {
	if src == "" || strings.HasPrefix(src, "/") {
		return "none"
	}
	return escapeMount(src)
}

// escapeMount escapes as Linux's mangle(): space, tab, newline, backslash.
func escapeMount(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ', '\t', '\n', '\\':
			fmt.Fprintf(&b, "\\%03o", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// mountTable writes the task's mount table: every mount of the namespace
// visible from the task's root, with its mount point from there.
func (p *pidDir) mountTable(info bool) ([]byte, error) {
	t, err := p.task()
	if err != nil {
		return nil, err
	}
	v := p.k.VFS
	root := t.FS().Root()
	ctx := &fs.Context{Creds: fs.Root(), Root: root}
	var out strings.Builder
	for _, m := range v.Mounts() {
		mp := v.PathOf(root, m.Mount.Root())
		if strings.HasPrefix(mp, "(unreachable)") {
			continue
		}
		mp = escapeMount(mp)
		src := mountSource(m.Source)
		opts := mountOpts(m.Flags)
		if !info {
			fmt.Fprintf(&out, "%s %s %s %s 0 0\n", src, mp, m.Type, opts)
			continue
		}
		// This /proc's own device is known without a stat, which would
		// take its tree lock a second time (see pathOf).
		dev := p.f.dev
		if m.Mount.Filesystem() != fs.Filesystem(p.f) {
			if st, err := v.Stat(ctx, m.Mount.Root(), "", unix.AT_EMPTY_PATH); err == nil {
				dev = st.Dev
			}
		}
		super := "rw"
		if m.Flags&fs.MountReadOnly != 0 {
			super = "ro"
		}
		fmt.Fprintf(&out, "%d %d %d:%d / %s %s - %s %s %s\n", m.ID, m.ParentID, unix.Major(dev), unix.Minor(dev), mp, opts, m.Type, src, super)
	}
	return []byte(out.String()), nil
}

func (p *pidDir) mounts() ([]byte, error)    { return p.mountTable(false) }
func (p *pidDir) mountinfo() ([]byte, error) { return p.mountTable(true) }
