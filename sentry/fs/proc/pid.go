package proc

import (
	"fmt"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
	"runsc.dev/runsc/sentry/kernel"
)

// pidDir is /proc/<pid> (group) or /proc/<pid>/task/<tid>.
type pidDir struct {
	f     *FS
	k     *kernel.Kernel
	tgid  int
	tid   int
	group bool
}

func (f *FS) newPidDir(parent fs.Dentry, name string, k *kernel.Kernel, tgid, tid int, group bool) *Dir {
	p := &pidDir{f: f, k: k, tgid: tgid, tid: tid, group: group}
	ro := p.owned(0o444)
	file := func(name string, c Content) Child {
		return Child{name, func(d *Dir) fs.Dentry { return f.NewFile(d, name, ro, c) }}
	}
	children := []Child{
		file("cmdline", p.cmdline),
		{"comm", func(d *Dir) fs.Dentry { return f.NewWritable(d, "comm", p.owned(0o644), p.commFile, p.commWriter) }},
		{"cwd", func(d *Dir) fs.Dentry { return p.locLink(d, "cwd", func(t *kernel.Task) fs.Loc { return t.Cwd() }) }},
		{"environ", func(d *Dir) fs.Dentry { return f.NewFile(d, "environ", p.owned(0o400), p.environ) }},
		{"exe", func(d *Dir) fs.Dentry { return p.exeLink(d) }},
		{"fd", func(d *Dir) fs.Dentry { return p.fdDir(d, "fd") }},
		{"fdinfo", func(d *Dir) fs.Dentry { return p.fdDir(d, "fdinfo") }},
		file("cgroup", func() ([]byte, error) { return []byte("0::/\n"), p.alive() }),
		file("limits", p.host("limits")),
		file("loginuid", func() ([]byte, error) { return []byte("4294967295"), p.alive() }),
		file("maps", p.maps(false)),
		file("mountinfo", p.mountinfo),
		file("mounts", p.mounts),
		{"net", func(d *Dir) fs.Dentry { return p.netDir(d) }},
		file("oom_score", p.host("oom_score")),
		{"oom_score_adj", func(d *Dir) fs.Dentry {
			return f.NewWritable(d, "oom_score_adj", p.owned(0o644), p.host("oom_score_adj"), p.oomWriter)
		}},
		{"root", func(d *Dir) fs.Dentry {
			return p.locLink(d, "root", func(t *kernel.Task) fs.Loc { return t.FS().Root() })
		}},
		file("smaps", p.maps(true)),
		file("stat", p.stat),
		file("statm", p.host("statm")),
		file("status", p.status),
		file("uid_map", p.host("uid_map")),
		file("gid_map", p.host("gid_map")),
	}
	if group {
		children = append(children, Child{"task", func(d *Dir) fs.Dentry { return p.taskDir(d) }})
	}
	return f.NewDir(parent, name, p.owned(0o555), StaticDir(children...))
}

// task returns the thread the directory shows; for a process whose leader
// has exited, another of its threads.
func (p *pidDir) task() (*kernel.Task, error) {
	if t := p.k.Task(p.tid); t != nil && t.Tgid() == p.tgid {
		return t, nil
	}
	if p.group {
		if g := p.k.ThreadGroup(p.tgid); len(g) > 0 {
			return g[0], nil
		}
	}
	return nil, unix.ESRCH
}

func (p *pidDir) alive() error {
	_, err := p.task()
	return err
}

// owned gives the entry the owner Linux gives it: the task's effective ids.
func (p *pidDir) owned(mode uint32) Attrs {
	return func() (uint32, uint32, uint32) {
		t, err := p.task()
		if err != nil {
			return 0, 0, mode
		}
		c := t.HostCreds()
		if c == nil {
			return 0, 0, mode
		}
		return c.EUID, c.EGID, mode
	}
}

// checkPtrace fails with EACCES unless the caller may inspect the task.
func (p *pidDir) checkPtrace() (*kernel.Task, error) {
	t, err := p.task()
	if err != nil {
		return nil, err
	}
	c, err := caller()
	if err != nil {
		return nil, err
	}
	if !mayPtrace(c, t) {
		return nil, unix.EACCES
	}
	return t, nil
}

// host passes the host's file through: numbers about the sandbox's own
// thread that name nothing outside it.
func (p *pidDir) host(name string) Content {
	return func() ([]byte, error) {
		t, err := p.task()
		if err != nil {
			return nil, err
		}
		return hostRead(t.Tid(), name)
	}
}

// vpid shows a pid as the sandbox sees it: 0 for one outside the sandbox
// (the sentry, the host's processes), as Linux shows pids of another pid
// namespace.
func (p *pidDir) vpid(s string) string {
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return s
	}
	return strconv.Itoa(p.k.VPid(n))
}

// cmdline undoes the exec rewrite of dynamic programs: the host runs
// "ld.so --argv0 ARGV0 PROGRAM ARGS..." where the program ran ARGV0 ARGS.
func (p *pidDir) cmdline() ([]byte, error) {
	t, err := p.task()
	if err != nil {
		return nil, err
	}
	b, err := hostRead(t.Tid(), "cmdline")
	if err != nil {
		return nil, err
	}
	args := strings.Split(string(b), "\x00")
	// The program is args[3]; a task whose program the kernel has not
	// recorded yet (the first process, just started) is trusted to be
	// such an exec too.
	if exe := exeOf(t); len(args) >= 4 && args[1] == "--argv0" && (args[3] == exe || exe == "") {
		b = []byte(strings.Join(append([]string{args[2]}, args[4:]...), "\x00"))
	}
	return b, nil
}

// exeOf is the program t runs. The kernel records it at exec; a thread
// or a child forked without exec runs its leader's or parent's.
func exeOf(t *kernel.Task) string {
	k := t.Kernel()
	if e := t.Exe(); e != "" {
		return e
	}
	for i := 0; t != nil && i < 64; i++ {
		if l := k.Task(t.Tgid()); l != nil && l.Exe() != "" {
			return l.Exe()
		}
		t = k.Task(t.PPid())
	}
	return ""
}

// comm is the thread's name. An exec names it after the file the host
// ran (ld.so, or an fd); Linux names it after the path the program gave
// exec, which argv[0] stands for. A name the program set (prctl) shows as
// it is.
func (p *pidDir) comm(t *kernel.Task) (string, error) {
	b, err := hostRead(t.Tid(), "comm")
	if err != nil {
		return "", err
	}
	c := strings.TrimSuffix(string(b), "\n")
	if name, ok := p.f.commOverride(t.Tid(), c); ok {
		return name, nil
	}
	link, err := os.Readlink("/proc/" + strconv.Itoa(t.Tid()) + "/exe")
	if err != nil || c != commOf(strings.TrimSuffix(link, " (deleted)")) && !isDigits(c) {
		return c, nil
	}
	if cmd, err := p.cmdline(); err == nil {
		if argv0, _, _ := strings.Cut(string(cmd), "\x00"); argv0 != "" {
			return commOf(argv0), nil
		}
	}
	if exe := exeOf(t); exe != "" {
		return commOf(exe), nil
	}
	return c, nil
}

// commOf is the name an exec of file gives (TASK_COMM_LEN).
func commOf(file string) string {
	c := path.Base(file)
	if len(c) > 15 {
		c = c[:15]
	}
	return c
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

func (p *pidDir) commFile() ([]byte, error) {
	t, err := p.task()
	if err != nil {
		return nil, err
	}
	c, err := p.comm(t)
	if err != nil {
		return nil, err
	}
	return []byte(c + "\n"), nil
}

func (p *pidDir) environ() ([]byte, error) {
	t, err := p.checkPtrace()
	if err != nil {
		return nil, err
	}
	return hostRead(t.Tid(), "environ")
}

// stat rewrites the host's stat: the program's name, pids outside the
// sandbox as 0, and the start time counted from the sandbox's boot.
func (p *pidDir) stat() ([]byte, error) {
	t, err := p.task()
	if err != nil {
		return nil, err
	}
	b, err := hostRead(t.Tid(), "stat")
	if err != nil {
		return nil, err
	}
	pid, _, rest, ok := fieldsAfterComm(string(b))
	if !ok || len(rest) < 20 {
		return nil, unix.EIO
	}
	comm, err := p.comm(t)
	if err != nil {
		return nil, err
	}
	// rest[i] is field i+3 of proc(5): ppid, pgrp, session, tpgid.
	for _, i := range []int{1, 2, 3, 5} {
		rest[i] = p.vpid(rest[i])
	}
	if start, err := strconv.ParseUint(rest[19], 10, 64); err == nil {
		boot := p.f.host.jiffies()
		if start > boot {
			start -= boot
		} else {
			start = 0
		}
		rest[19] = strconv.FormatUint(start, 10)
	}
	return []byte(fmt.Sprintf("%s (%s) %s\n", p.vpid(pid), comm, strings.Join(rest, " "))), nil
}

// status rewrites the host's status as stat, plus the umask, which the
// sentry keeps (umask(2) is answered by the sentry), no tracer (the
// sentry's exec tracer is not the program's business) and the affinity
// of a task the platform placed on its CPU as sched_getaffinity shows it.
func (p *pidDir) status() ([]byte, error) {
	t, err := p.task()
	if err != nil {
		return nil, err
	}
	b, err := hostRead(t.Tid(), "status")
	if err != nil {
		return nil, err
	}
	comm, err := p.comm(t)
	if err != nil {
		return nil, err
	}
	cpus, placed := t.Kernel().Affinity(t.Tid())
	var out strings.Builder
	for _, l := range lines(b) {
		key, val, _ := strings.Cut(l, ":")
		switch key {
		case "Cpus_allowed":
			if placed {
				l = key + ":\t" + cpuMask(cpus, strings.TrimSpace(val))
			}
		case "Cpus_allowed_list":
			if placed {
				l = key + ":\t" + cpuList(cpus)
			}
		case "Name":
			l = "Name:\t" + comm
		case "Umask":
			l = fmt.Sprintf("Umask:\t%04o", t.Umask())
		case "TracerPid":
			l = "TracerPid:\t0"
		case "Tgid", "Pid", "PPid", "NSpgid", "NSsid":
			l = key + ":\t" + p.vpid(strings.TrimSpace(val))
		case "NStgid", "NSpid":
			// The sandbox's namespace only, as the program's own /proc
			// would show them (the first value is the sentry's id).
			if f := strings.Fields(val); len(f) > 0 {
				l = key + ":\t" + p.vpid(f[0])
			}
		}
		out.WriteString(l)
		out.WriteByte('\n')
	}
	return []byte(out.String()), nil
}

// oomWriter checks at open what Linux checks at write: lowering the score
// below what it is needs CAP_SYS_RESOURCE.
func (p *pidDir) oomWriter() (func([]byte) error, error) {
	c, err := caller()
	if err != nil {
		return nil, err
	}
	capable := c.HostCreds() != nil && c.HostCreds().CapEff&(1<<unix.CAP_SYS_RESOURCE) != 0
	return func(b []byte) error {
		v, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || v < -1000 || v > 1000 {
			return unix.EINVAL
		}
		t, err := p.task()
		if err != nil {
			return err
		}
		cur, err := hostRead(t.Tid(), "oom_score_adj")
		if err != nil {
			return err
		}
		if old, err := strconv.Atoi(strings.TrimSpace(string(cur))); err == nil && v < old && !capable {
			return unix.EACCES
		}
		return os.WriteFile("/proc/"+strconv.Itoa(t.Tid())+"/oom_score_adj", []byte(strconv.Itoa(v)), 0)
	}, nil
}

// locLink is cwd or root: a magic link to a directory of the task.
func (p *pidDir) locLink(d *Dir, name string, loc func(t *kernel.Task) fs.Loc) fs.Dentry {
	get := func() (*kernel.Task, fs.Loc, error) {
		t, err := p.checkPtrace()
		if err != nil {
			return nil, fs.Loc{}, err
		}
		return t, loc(t), nil
	}
	return p.f.NewMagicLink(d, name, p.owned(0o777), func() (string, error) {
		_, l, err := get()
		if err != nil {
			return "", err
		}
		c, err := caller()
		if err != nil {
			return "", err
		}
		return p.f.pathOf(p.k.VFS, callerRoot(c), l), nil
	}, func() (fs.Loc, error) {
		_, l, err := get()
		return l, err
	})
}

// exeLink is the program the process runs, as the sentry resolved it in
// the VFS (the host runs ld.so or an fd).
func (p *pidDir) exeLink(d *Dir) fs.Dentry {
	return p.f.NewMagicLink(d, "exe", p.owned(0o777), func() (string, error) {
		t, err := p.checkPtrace()
		if err != nil {
			return "", err
		}
		if exe := exeOf(t); exe != "" {
			return exe, nil
		}
		// Not recorded yet (the first process, just started): a dynamic
		// program is the one ld.so was told to run. Shown, never followed:
		// the program can rewrite its command line.
		if b, err := hostRead(t.Tid(), "cmdline"); err == nil {
			if args := strings.Split(string(b), "\x00"); len(args) >= 4 && args[1] == "--argv0" && strings.HasPrefix(args[3], "/") {
				return args[3], nil
			}
		}
		// A static program: the VFS file the host ran, if it can be found.
		exe := "/proc/" + strconv.Itoa(t.Tid()) + "/exe"
		var st unix.Stat_t
		link, err := os.Readlink(exe)
		if err == nil && unix.Stat(exe, &st) == nil {
			key := devIno{fmt.Sprintf("%02x:%02x", unix.Major(st.Dev), unix.Minor(st.Dev)), fmt.Sprint(st.Ino)}
			if name := p.f.findFile(p.k, t, link, key); name != "" {
				return name, nil
			}
		}
		return "", unix.ENOENT
	}, func() (fs.Loc, error) {
		t, err := p.checkPtrace()
		if err != nil {
			return fs.Loc{}, err
		}
		exe := exeOf(t)
		if exe == "" {
			return fs.Loc{}, unix.ENOENT
		}
		ctx := &fs.Context{Creds: fs.Root(), Root: t.FS().Root()}
		return p.k.VFS.Lookup(ctx, ctx.Root, exe, 0)
	})
}

// taskDir is /proc/<pid>/task: a directory per thread.
func (p *pidDir) taskDir(parent fs.Dentry) fs.Dentry {
	return p.f.NewDir(parent, "task", p.owned(0o555), DirOps{
		List: func() ([]Entry, error) {
			var out []Entry
			for _, t := range p.k.ThreadGroup(p.tgid) {
				v := p.k.VPid(t.Tid())
				out = append(out, Entry{Name: strconv.Itoa(v), Cookie: int64(v)})
			}
			sort.Slice(out, func(i, j int) bool { return out[i].Cookie < out[j].Cookie })
			return out, nil
		},
		Make: func(d *Dir, name string) (fs.Dentry, error) {
			v, ok := pidName(name)
			tid := p.k.HostPid(v)
			if !ok || !p.inGroup(tid) {
				return nil, unix.ENOENT
			}
			return p.f.newPidDir(d, name, p.k, p.tgid, tid, false), nil
		},
		Valid: func(name string) bool {
			v, _ := pidName(name)
			return p.inGroup(p.k.HostPid(v))
		},
	})
}

func (p *pidDir) inGroup(tid int) bool {
	t := p.k.Task(tid)
	return t != nil && t.Tgid() == p.tgid
}

// commSet is a name another thread of the process gave a thread through
// /proc/<pid>/task/<tid>/comm (pthread_setname_np), which the sentry cannot
// give it on the host (Linux lets only the thread group write it). It
// holds until the thread renames itself (prctl), which changes the host's.
type commSet struct {
	name, host string
}

func (f *FS) commOverride(tid int, host string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.comms[tid]
	if !ok {
		return "", false
	}
	if c.host != host {
		delete(f.comms, tid)
		return "", false
	}
	return c.name, true
}

// commWriter is Linux's comm_write: only a thread of the same process may
// rename a thread; names are cut to 15 bytes.
func (p *pidDir) commWriter() (func([]byte) error, error) {
	c, err := caller()
	if err != nil {
		return nil, err
	}
	if c.Tgid() != p.tgid {
		return nil, unix.EINVAL
	}
	return func(b []byte) error {
		name := strings.TrimSuffix(string(b), "\n")
		if i := strings.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		if len(name) > 15 {
			name = name[:15]
		}
		t, err := p.task()
		if err != nil {
			return err
		}
		host, err := hostRead(t.Tid(), "comm")
		if err != nil {
			return err
		}
		p.f.mu.Lock()
		if len(p.f.comms) >= maxCachedFiles {
			p.f.comms = map[int]commSet{}
		}
		p.f.comms[t.Tid()] = commSet{name: name, host: strings.TrimSuffix(string(host), "\n")}
		p.f.mu.Unlock()
		return nil
	}, nil
}

// cpuMask formats set as the kernel's "%*pb" in the layout of host (as
// many hex digits, a comma between groups of eight).
func cpuMask(set unix.CPUSet, host string) string {
	out := []byte(host)
	bit := 0
	for i := len(out) - 1; i >= 0; i-- {
		if out[i] == ',' {
			continue
		}
		var d byte
		for b := 0; b < 4; b++ {
			if bit+b < len(set)*64 && set.IsSet(bit+b) {
				d |= 1 << b
			}
		}
		out[i] = "0123456789abcdef"[d]
		bit += 4
	}
	return string(out)
}

// cpuList formats set as the kernel's "%*pbl" (e.g. "0-1,3").
func cpuList(set unix.CPUSet) string {
	var parts []string
	n := len(set) * 64
	for c := 0; c < n; c++ {
		if !set.IsSet(c) {
			continue
		}
		end := c
		for end+1 < n && set.IsSet(end+1) {
			end++
		}
		if end == c {
			parts = append(parts, strconv.Itoa(c))
		} else {
			parts = append(parts, strconv.Itoa(c)+"-"+strconv.Itoa(end))
		}
		c = end
	}
	return strings.Join(parts, ",")
}
