package proc

import (
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
)

// newSysDir is /proc/sys: the sysctls programs read. Limits of the host
// kernel the sandbox runs on show as they are; names (hostname) are the
// sandbox's.
func (f *FS) newSysDir(parent fs.Dentry) fs.Dentry {
	ro := Static(0o444)
	host := func(name string) Child {
		base := name[strings.LastIndexByte(name, '/')+1:]
		return Child{base, func(d *Dir) fs.Dentry {
			return f.NewFile(d, base, ro, func() ([]byte, error) {
				b, err := os.ReadFile("/proc/sys/" + name)
				if err != nil {
					return nil, unix.EIO
				}
				return b, nil
			})
		}}
	}
	fixed := func(name string, value func() string) Child {
		return Child{name, func(d *Dir) fs.Dentry {
			return f.NewFile(d, name, ro, func() ([]byte, error) { return []byte(value() + "\n"), nil })
		}}
	}
	dir := func(name string, children ...Child) Child {
		return Child{name, func(d *Dir) fs.Dentry { return f.NewDir(d, name, Static(0o555), StaticDir(children...)) }}
	}
	rel, ver := uname()
	root := StaticDir(
		dir("kernel",
			Child{"hostname", func(d *Dir) fs.Dentry {
				return f.NewWritable(d, "hostname", Static(0o644), f.readHostname, f.hostnameWriter)
			}},
			fixed("domainname", func() string { return "(none)" }),
			fixed("ostype", func() string { return "Linux" }),
			fixed("osrelease", func() string { return rel }),
			fixed("version", func() string { return ver }),
			host("kernel/pid_max"),
			host("kernel/threads-max"),
			host("kernel/ngroups_max"),
			host("kernel/cap_last_cap"),
			host("kernel/overflowuid"),
			host("kernel/overflowgid"),
			host("kernel/shmmax"),
			host("kernel/shmall"),
			host("kernel/shmmni"),
			host("kernel/sem"),
			host("kernel/msgmax"),
			host("kernel/msgmnb"),
			host("kernel/msgmni"),
			dir("random",
				fixed("uuid", newUUID),
				fixed("boot_id", func() string { return f.bootID }),
				host("kernel/random/entropy_avail"),
				host("kernel/random/poolsize"),
			),
		),
		dir("fs", host("fs/file-max"), host("fs/nr_open"),
			dir("inotify", host("fs/inotify/max_user_watches"), host("fs/inotify/max_user_instances"),
				host("fs/inotify/max_queued_events"))),
		dir("vm", host("vm/overcommit_memory"), host("vm/max_map_count"), host("vm/swappiness")),
		dir("net",
			dir("core", host("net/core/somaxconn"), host("net/core/rmem_max"), host("net/core/wmem_max")),
			dir("ipv4", host("net/ipv4/ip_local_port_range"))),
	)
	return f.NewDir(parent, "sys", Static(0o555), root)
}

// readHostname is the sandbox's name: its UTS namespace's when it has its
// own (so sethostname(2) shows too), else the one set for it, never the
// host's.
func (f *FS) readHostname() ([]byte, error) {
	f.mu.Lock()
	name := f.hostname
	f.mu.Unlock()
	var u unix.Utsname
	if f.ownUTS && unix.Uname(&u) == nil {
		name = unix.ByteSliceToString(u.Nodename[:])
	}
	if name == "" {
		name = "localhost"
	}
	return []byte(name + "\n"), nil
}

// hostnameWriter is sethostname(2)'s rule: CAP_SYS_ADMIN, at most 64 bytes.
func (f *FS) hostnameWriter() (func([]byte) error, error) {
	c, err := caller()
	if err != nil {
		return nil, err
	}
	if hc := c.HostCreds(); hc == nil || hc.CapEff&(1<<unix.CAP_SYS_ADMIN) == 0 {
		return nil, unix.EPERM
	}
	return func(b []byte) error {
		name := strings.TrimSuffix(string(b), "\n")
		if len(name) > 64 {
			return unix.EINVAL
		}
		// The sandbox's own namespace takes it, so uname(2) agrees.
		if f.ownUTS {
			if err := unix.Sethostname([]byte(name)); err != nil {
				return err
			}
		}
		f.mu.Lock()
		f.hostname = name
		f.mu.Unlock()
		return nil
	}, nil
}
