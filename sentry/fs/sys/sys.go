// Package sys is the sandbox's /sys: a small read-only tree of what
// programs commonly read (CPU lists, transparent huge pages, network
// interfaces), built with proc's synthetic-inode kit. Nothing of the
// host's device tree shows.
//
// Lock order: the VFS holds the tree lock around every Dentry method; the
// kit's directory caches (proc.Dir.mu) are below it.
package sys

import (
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
	"runsc.dev/runsc/sentry/fs/proc"
	"runsc.dev/runsc/sentry/kernel"
)

// Magic is SYSFS_MAGIC, statfs's f_type.
const Magic = 0x62656572

// New makes a /sys; nested are mount points ("/name/...") of mounts to be
// made on top of it.
func New(nested []string) *proc.Tree {
	t := proc.NewTree("sysfs", Magic)
	ro := proc.Static(0o444)
	dir := func(name string, children ...proc.Child) proc.Child {
		return proc.Child{Name: name, Make: func(d *proc.Dir) fs.Dentry {
			return t.NewDir(d, name, proc.Static(0o755), proc.StaticDir(children...))
		}}
	}
	file := func(name string, c proc.Content) proc.Child {
		return proc.Child{Name: name, Make: func(d *proc.Dir) fs.Dentry { return t.NewFile(d, name, ro, c) }}
	}
	cpuList := func() ([]byte, error) { return []byte(proc.CPURange() + "\n"), nil }
	root := t.NewDir(nil, "", proc.Static(0o555), t.WithMountPoints(proc.StaticDir(
		dir("class", proc.Child{Name: "net", Make: func(d *proc.Dir) fs.Dentry { return netClass(t, d) }}),
		dir("devices", dir("system", dir("cpu",
			file("online", cpuList), file("possible", cpuList), file("present", cpuList)))),
		dir("fs", dir("cgroup")),
		dir("kernel", dir("mm", dir("transparent_hugepage",
			file("enabled", hostFile("/sys/kernel/mm/transparent_hugepage/enabled", "always [madvise] never\n"))))),
	), nested))
	t.SetRoot(root)
	return t
}

// hostFile reads a host sysfs file that describes the kernel the sandbox
// runs on, or gives def where the host has none.
func hostFile(path, def string) proc.Content {
	return func() ([]byte, error) {
		if b, err := os.ReadFile(path); err == nil {
			return b, nil
		}
		return []byte(def), nil
	}
}

// interfaces returns the network interfaces the caller's network namespace
// has; only "lo" when that is the sentry's (see proc's net files).
func interfaces() []string {
	t := kernel.Current()
	if t == nil {
		// No caller: the sentry's own namespace, shown as the host's is.
		return []string{"lo"}
	}
	tid := strconv.Itoa(t.Tid())
	own, err1 := os.Readlink("/proc/" + tid + "/ns/net")
	sentry, err2 := os.Readlink("/proc/self/ns/net")
	if err1 != nil || err2 != nil || own == sentry {
		return []string{"lo"}
	}
	b, err := os.ReadFile("/proc/" + tid + "/net/dev")
	if err != nil {
		return nil
	}
	var out []string
	for i, l := range strings.Split(string(b), "\n") {
		if name, _, ok := strings.Cut(l, ":"); ok && i >= 2 {
			out = append(out, strings.TrimSpace(name))
		}
	}
	return out
}

// netClass is /sys/class/net: a directory per interface.
func netClass(t *proc.Tree, parent fs.Dentry) fs.Dentry {
	has := func(name string) bool {
		for _, n := range interfaces() {
			if n == name {
				return true
			}
		}
		return false
	}
	return t.NewDir(parent, "net", proc.Static(0o755), proc.DirOps{
		List: func() ([]proc.Entry, error) {
			var out []proc.Entry
			for i, n := range interfaces() {
				out = append(out, proc.Entry{Name: n, Cookie: int64(i)})
			}
			return out, nil
		},
		Make: func(d *proc.Dir, name string) (fs.Dentry, error) {
			if !has(name) {
				return nil, unix.ENOENT
			}
			return netDevice(t, d, name), nil
		},
		Valid: has,
	})
}

// netDevice shows an interface's common attributes; the loopback device's
// are fixed by Linux.
func netDevice(t *proc.Tree, parent fs.Dentry, name string) fs.Dentry {
	attr := func(file, lo, other string) proc.Child {
		return proc.Child{Name: file, Make: func(d *proc.Dir) fs.Dentry {
			return t.NewFile(d, file, proc.Static(0o444), func() ([]byte, error) {
				if name == "lo" {
					return []byte(lo + "\n"), nil
				}
				return []byte(other + "\n"), nil
			})
		}}
	}
	return t.NewDir(parent, name, proc.Static(0o755), proc.StaticDir(
		attr("address", "00:00:00:00:00:00", "00:00:00:00:00:00"),
		attr("mtu", "65536", "1500"),
		attr("operstate", "unknown", "up"),
		attr("type", "772", "1"),
	))
}
