package proc

import (
	"os"
	"strconv"
	"strings"

	"runsc.dev/runsc/sentry/fs"
	"runsc.dev/runsc/sentry/kernel"
)

// netFiles are the files of /proc/<pid>/net.
var netFiles = []string{"dev", "if_inet6", "route", "tcp", "tcp6", "udp", "udp6", "unix"}

// netDir is /proc/<pid>/net: the host's view of the network namespace the
// task is in. When that is the sentry's own (the sandbox has no network
// namespace of its own), only the loopback device and the sandbox's own
// sockets show.
func (p *pidDir) netDir(parent fs.Dentry) fs.Dentry {
	children := make([]Child, 0, len(netFiles))
	for _, name := range netFiles {
		children = append(children, Child{name, func(d *Dir) fs.Dentry {
			return p.f.NewFile(d, name, Static(0o444), func() ([]byte, error) { return p.netFile(name) })
		}})
	}
	return p.f.NewDir(parent, "net", Static(0o555), StaticDir(children...))
}

func (p *pidDir) netFile(name string) ([]byte, error) {
	t, err := p.task()
	if err != nil {
		return nil, err
	}
	b, err := hostRead(t.Tid(), "net/"+name)
	if err != nil {
		return nil, err
	}
	own, err1 := os.Readlink("/proc/" + strconv.Itoa(t.Tid()) + "/ns/net")
	sentry, err2 := os.Readlink("/proc/self/ns/net")
	if err1 == nil && err2 == nil && own != sentry {
		return b, nil
	}
	ls := lines(b)
	var keep func(f []string) bool
	header := 1
	switch name {
	case "dev":
		header = 2
		keep = func(f []string) bool { return len(f) > 0 && f[0] == "lo:" }
	case "if_inet6":
		header = 0
		keep = func(f []string) bool { return len(f) > 5 && f[5] == "lo" }
	case "route":
		keep = func(f []string) bool { return len(f) > 0 && f[0] == "lo" }
	case "unix":
		socks := sandboxSockets(p.k)
		keep = func(f []string) bool { return len(f) > 6 && socks[f[6]] }
	default: // tcp, udp and their v6 forms
		socks := sandboxSockets(p.k)
		keep = func(f []string) bool { return len(f) > 9 && socks[f[9]] }
	}
	var out strings.Builder
	for i, l := range ls {
		if i < header || keep(strings.Fields(l)) {
			out.WriteString(l)
			out.WriteByte('\n')
		}
	}
	return []byte(out.String()), nil
}

// sandboxSockets returns the inode numbers of the sockets the sandbox's
// processes hold.
func sandboxSockets(k *kernel.Kernel) map[string]bool {
	socks := map[string]bool{}
	for _, pid := range k.Processes() {
		dir := "/proc/" + strconv.Itoa(pid) + "/fd/"
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			link, err := os.Readlink(dir + e.Name())
			if err == nil && strings.HasPrefix(link, "socket:[") {
				socks[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
			}
		}
	}
	return socks
}
