package container

import (
	"fmt"
	"net"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"runsc.dev/runsc/boot"
	"runsc.dev/runsc/sentry/fs"
	fsgofer "runsc.dev/runsc/sentry/fs/gofer"
	"runsc.dev/runsc/sentry/platform"
)

// BootOptions are the runtime settings "runsc boot" runs a sandbox with.
type BootOptions struct {
	Self              string
	ConsoleSocket     string
	Overlay           bool
	IgnoreUnsupported bool
	// HostNetwork: the sandbox runs in the host's network namespace.
	HostNetwork bool
	// Placement of the sentry's receivers and trapping tasks on CPUs.
	Placement platform.Placement
	// Debug, if set, receives the sentry's trapped-call counts at exit.
	Debug func(format string, args ...any)
	Warn  func(format string, args ...any)
}

// Boot is the body of the sandbox process ("runsc boot", started by
// Create): it builds the sandbox, tells Create on fd 3 that it is ready,
// waits on the start FIFO, runs the program and returns its exit code. An
// error before ready goes to Create; one after (the program cannot start)
// is returned.
func (r Root) Boot(id, bundle string, o BootOptions) (int, error) {
	ready := os.NewFile(3, "ready")
	sigs := make(chan os.Signal, 16)
	defer signal.Stop(sigs)
	proc, sb, err := r.boot(id, bundle, o, ready, sigs)
	code, err := r.run(proc, sb, err, ready, sigs)
	if sb != nil && o.Debug != nil {
		o.Debug("%s", sb.s.TrapCounts())
	}
	if dir, derr := r.dir(id); derr == nil {
		os.WriteFile(filepath.Join(dir, exitName), []byte(strconv.Itoa(code)), 0o600)
	}
	return code, err
}

// run waits for the program that boot started, forwarding the signals that
// came since start.
func (r Root) run(proc procWaiter, sb *sandbox, err error, ready *os.File, sigs chan os.Signal) (int, error) {
	if err != nil {
		if _, werr := fmt.Fprintf(ready, "error: %v\n", err); werr == nil {
			ready.Close()
			return 1, nil
		}
		// Create has gone: the program failed to start. 127 is what a
		// shell reports for a program it cannot run.
		return 127, err
	}
	defer sb.Close()
	for {
		select {
		case s := <-sigs:
			sig := s.(syscall.Signal)
			if sig == unix.SIGCHLD || sig == unix.SIGURG || sig == unix.SIGPIPE {
				continue
			}
			proc.Signal(sig)
		case <-proc.Done():
			ws := proc.Wait()
			if ws.Signaled() {
				return 128 + int(ws.Signal()), nil
			}
			return ws.ExitStatus(), nil
		}
	}
}

// sandbox is what boot keeps running.
type sandbox struct {
	s       *boot.Sandbox
	g       *boot.Gofer
	control *net.UnixListener
}

func (s *sandbox) Close() {
	s.control.Close()
	s.s.Close()
	s.g.Close()
}

func (r Root) boot(id, bundle string, o BootOptions, ready *os.File, sigs chan os.Signal) (procWaiter, *sandbox, error) {
	spec, err := LoadSpec(bundle)
	if err != nil {
		return nil, nil, err
	}
	if err := setupHost(spec, o.HostNetwork); err != nil {
		return nil, nil, err
	}
	rootfs := RootfsPath(spec, bundle)
	readOnlyRoot := spec.Root.Readonly
	exports := []boot.GoferExport{{Path: rootfs, ReadOnly: readOnlyRoot || o.Overlay}}
	// Each bind mount gets its own connection, in mount order; a bind of
	// one file serves its directory and mounts the file from it.
	type bindRef struct {
		conn int
		file string
	}
	binds := map[int]bindRef{}
	for i, m := range spec.Mounts {
		if !isBindMount(m) {
			continue
		}
		src := m.Source
		if !filepath.IsAbs(src) {
			src = filepath.Join(bundle, src)
		}
		st, err := os.Stat(src)
		if err != nil {
			return nil, nil, fmt.Errorf("mounts[%d]: source %q: %w", i, m.Source, err)
		}
		ref := bindRef{conn: len(exports)}
		if !st.IsDir() {
			ref.file = filepath.Base(src)
			src = filepath.Dir(src)
		}
		binds[i] = ref
		exports = append(exports, boot.GoferExport{Path: src, ReadOnly: hasOption(m, "ro")})
	}
	g, err := boot.StartGofer(o.Self, exports)
	if err != nil {
		return nil, nil, err
	}
	ok := false
	defer func() {
		if !ok {
			g.Close()
		}
	}()
	rootFS, err := g.Mount(0, fsgofer.Exclusive)
	if err != nil {
		return nil, nil, err
	}
	next := 0
	linux := spec.Linux
	if linux == nil {
		linux = &specs.Linux{}
	}
	ns := &boot.Namespace{
		Root: rootFS, RootReadOnly: readOnlyRoot, Overlay: o.Overlay, Mounts: spec.Mounts,
		IgnoreUnsupported: o.IgnoreUnsupported, Warn: o.Warn,
		MaskedPaths: linux.MaskedPaths, ReadonlyPaths: linux.ReadonlyPaths, OwnUTS: true,
		Bind: func(m specs.Mount) (fs.Filesystem, fs.Dentry, error) {
			for next < len(spec.Mounts) && !isBindMount(spec.Mounts[next]) {
				next++
			}
			ref := binds[next]
			next++
			f, err := g.Mount(ref.conn, fsgofer.Shared)
			if err != nil {
				return nil, nil, err
			}
			if ref.file == "" {
				return f, nil, nil
			}
			d, err := f.Root().Lookup(ref.file)
			return f, d, err
		},
	}
	v, err := ns.Build()
	if err != nil {
		return nil, nil, err
	}
	sb, err := boot.NewSandbox(v, o.Placement)
	if err != nil {
		return nil, nil, err
	}
	if err := sb.Pin(g); err != nil {
		sb.Close()
		return nil, nil, err
	}
	if spec.Linux != nil {
		var rules []specs.LinuxDeviceCgroup
		if spec.Linux.Resources != nil {
			rules = spec.Linux.Resources.Devices
		}
		if err := sb.SetDevices(spec.Linux.Devices, rules); err != nil {
			sb.Close()
			return nil, nil, err
		}
	}
	// Open the start FIFO before saying ready, so start finds a reader.
	// O_RDWR never blocks and keeps the FIFO from reading EOF until start
	// writes.
	dir, _ := r.dir(id)
	fifo := filepath.Join(dir, fifoName)
	f, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		sb.Close()
		return nil, nil, err
	}
	// The console's master goes to the caller during create, as runc
	// does: containerd waits for it before it calls start.
	stdio := []*os.File{os.Stdin, os.Stdout, os.Stderr}
	if spec.Process.Terminal {
		tty, name, err := newConsole(ns.Pts, o.ConsoleSocket)
		if err != nil {
			sb.Close()
			return nil, nil, err
		}
		defer tty.Close()
		if name != "" {
			// runc bind-mounts the console's pty at /dev/console.
			ctx := &fs.Context{Creds: fs.Root(), Root: v.Root()}
			if err := v.Symlink(ctx, name, v.Root(), "/dev/console"); err != nil && err != unix.EEXIST {
				ns.Warn("/dev/console: %v", err)
			}
		}
		stdio = []*os.File{tty, tty, tty}
	}
	// Listen before ready: an exec may come as soon as start returns.
	l, err := listenControl(dir)
	if err != nil {
		sb.Close()
		return nil, nil, err
	}
	fmt.Fprintln(ready, "ready")
	ready.Close()
	var b [1]byte
	_, err = f.Read(b[:])
	f.Close()
	// From start on, signals are the program's: caught here, they are
	// forwarded once it runs (until start they kill the sandbox, as they
	// kill runc's waiting init).
	signal.Notify(sigs)
	// The FIFO goes once the program runs (or cannot): start waits for
	// that, so that state and ps see the program when start returns.
	defer os.Remove(fifo)
	if err != nil {
		l.Close()
		sb.Close()
		return nil, nil, fmt.Errorf("start: %w", err)
	}
	if spec.Linux != nil {
		if err := writeSysctls(spec.Linux.Sysctl); err != nil {
			l.Close()
			sb.Close()
			return nil, nil, err
		}
	}
	p := spec.Process
	umask := uint32(0o022)
	if p.User.Umask != nil {
		umask = *p.User.Umask
	}
	creds, err := processCreds(p)
	if err != nil {
		l.Close()
		sb.Close()
		return nil, nil, err
	}
	rlimits, err := processRlimits(p)
	if err != nil {
		l.Close()
		sb.Close()
		return nil, nil, err
	}
	proc, err := sb.Start(boot.Process{
		Argv: p.Args, Env: p.Env, Cwd: path.Clean(p.Cwd), Umask: umask, OOMScoreAdj: p.OOMScoreAdj,
		Files: stdio, Creds: creds, Rlimits: rlimits, Terminal: p.Terminal,
	})
	if err != nil {
		l.Close()
		sb.Close()
		return nil, nil, err
	}
	go serveControl(l, sb, ns.Pts)
	ok = true
	return proc, &sandbox{s: sb, g: g, control: l}, nil
}

// procWaiter is the running program as Boot sees it.
type procWaiter interface {
	Signal(unix.Signal) error
	Done() <-chan struct{}
	Wait() unix.WaitStatus
}

func isBindMount(m specs.Mount) bool {
	return m.Type == "bind" || hasOption(m, "bind") || hasOption(m, "rbind")
}

func hasOption(m specs.Mount, o string) bool {
	for _, x := range m.Options {
		if x == o {
			return true
		}
	}
	return false
}

// setupHost prepares the sandbox's own namespaces: hostname, sysctls, and
// the loopback interface of a new network namespace.
func setupHost(spec *specs.Spec, hostNetwork bool) error {
	if spec.Hostname != "" {
		if err := unix.Sethostname([]byte(spec.Hostname)); err != nil {
			return fmt.Errorf("hostname: %w", err)
		}
	}
	if spec.Linux != nil {
		if err := checkSysctls(spec.Linux.Sysctl, hasNamespace(spec, specs.NetworkNamespace) && !hostNetwork); err != nil {
			return err
		}
	}
	return loopbackUp()
}

// ipcSysctls are the IPC namespace's sysctls besides fs.mqueue.*.
var ipcSysctls = map[string]bool{
	"kernel.msgmax": true, "kernel.msgmnb": true, "kernel.msgmni": true, "kernel.sem": true,
	"kernel.shmall": true, "kernel.shmmax": true, "kernel.shmmni": true, "kernel.shm_rmid_forced": true,
}

// checkSysctls accepts the sysctls of linux.sysctl that the sandbox's own
// namespaces hold (its IPC and UTS ones always; net.* only with a network
// namespace of its own): runc refuses the others, and so does runsc, so
// that nothing of the host's kernel changes. writeSysctls writes them,
// once the prestart hooks have made the network's interfaces.
func checkSysctls(sysctls map[string]string, ownNet bool) error {
	for key := range sysctls {
		name := strings.ReplaceAll(key, "/", ".")
		switch {
		case ipcSysctls[name], strings.HasPrefix(name, "fs.mqueue."):
		case name == "kernel.hostname", name == "kernel.domainname":
		case strings.HasPrefix(name, "net."):
			if !ownNet {
				return fmt.Errorf("linux.sysctl %q: the sandbox shares the host's network namespace", key)
			}
		default:
			return fmt.Errorf("linux.sysctl %q: not in a namespace of the sandbox's own", key)
		}
		if strings.Contains(name, "..") {
			return fmt.Errorf("linux.sysctl %q: bad name", key)
		}
	}
	return nil
}

func writeSysctls(sysctls map[string]string) error {
	keys := make([]string, 0, len(sysctls))
	for k := range sysctls {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		p := "/proc/sys/" + strings.ReplaceAll(strings.ReplaceAll(key, "/", "."), ".", "/")
		if err := os.WriteFile(p, []byte(sysctls[key]), 0); err != nil {
			return fmt.Errorf("linux.sysctl %q: %w", key, err)
		}
	}
	return nil
}

// hasNamespace reports whether the spec gives the container a namespace of
// the type (new or joined).
func hasNamespace(spec *specs.Spec, typ specs.LinuxNamespaceType) bool {
	if spec.Linux == nil {
		return false
	}
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == typ {
			return true
		}
	}
	return false
}

// loopbackUp brings lo up (a new network namespace starts with it down).
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("lo: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("lo up: %w", err)
	}
	return nil
}

// processCreds turns process.user and process.capabilities into the
// program's credentials.
func processCreds(p *specs.Process) (*platform.Creds, error) {
	c := &platform.Creds{UID: p.User.UID, GID: p.User.GID, Groups: p.User.AdditionalGids}
	if c.Groups == nil {
		c.Groups = []uint32{}
	}
	if p.Capabilities == nil {
		// No capabilities section: root keeps all, others none.
		if c.UID == 0 {
			c.Effective, c.Permitted, c.Bounding = allCaps, allCaps, allCaps
		}
		return c, nil
	}
	var err error
	for _, set := range []struct {
		names []string
		dst   *uint64
		field string
	}{
		{p.Capabilities.Bounding, &c.Bounding, "bounding"}, {p.Capabilities.Effective, &c.Effective, "effective"},
		{p.Capabilities.Permitted, &c.Permitted, "permitted"}, {p.Capabilities.Inheritable, &c.Inheritable, "inheritable"},
		{p.Capabilities.Ambient, &c.Ambient, "ambient"},
	} {
		if *set.dst, err = capMask(set.names); err != nil {
			return nil, fmt.Errorf("process.capabilities.%s: %w", set.field, err)
		}
	}
	return c, nil
}

const allCaps = 1<<(unix.CAP_LAST_CAP+1) - 1

// capMask converts capability names ("CAP_CHOWN") to a bit mask.
func capMask(names []string) (uint64, error) {
	var m uint64
	for _, n := range names {
		nr, ok := capNumbers[n]
		if !ok {
			return 0, fmt.Errorf("unknown capability %q", n)
		}
		m |= 1 << nr
	}
	return m, nil
}

var capNumbers = map[string]uint{
	"CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_FOWNER": 3, "CAP_FSETID": 4,
	"CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8, "CAP_LINUX_IMMUTABLE": 9,
	"CAP_NET_BIND_SERVICE": 10, "CAP_NET_BROADCAST": 11, "CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13,
	"CAP_IPC_LOCK": 14, "CAP_IPC_OWNER": 15, "CAP_SYS_MODULE": 16, "CAP_SYS_RAWIO": 17, "CAP_SYS_CHROOT": 18,
	"CAP_SYS_PTRACE": 19, "CAP_SYS_PACCT": 20, "CAP_SYS_ADMIN": 21, "CAP_SYS_BOOT": 22, "CAP_SYS_NICE": 23,
	"CAP_SYS_RESOURCE": 24, "CAP_SYS_TIME": 25, "CAP_SYS_TTY_CONFIG": 26, "CAP_MKNOD": 27, "CAP_LEASE": 28,
	"CAP_AUDIT_WRITE": 29, "CAP_AUDIT_CONTROL": 30, "CAP_SETFCAP": 31, "CAP_MAC_OVERRIDE": 32,
	"CAP_MAC_ADMIN": 33, "CAP_SYSLOG": 34, "CAP_WAKE_ALARM": 35, "CAP_BLOCK_SUSPEND": 36,
	"CAP_AUDIT_READ": 37, "CAP_PERFMON": 38, "CAP_BPF": 39, "CAP_CHECKPOINT_RESTORE": 40,
}

var rlimitNumbers = map[string]int{
	"RLIMIT_CPU": unix.RLIMIT_CPU, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_DATA": unix.RLIMIT_DATA,
	"RLIMIT_STACK": unix.RLIMIT_STACK, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK,
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS, "RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE, "RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO,
	"RLIMIT_RTTIME": unix.RLIMIT_RTTIME,
}

// processRlimits converts process.rlimits.
func processRlimits(p *specs.Process) ([]platform.Rlimit, error) {
	var out []platform.Rlimit
	for i, r := range p.Rlimits {
		nr, ok := rlimitNumbers[r.Type]
		if !ok {
			return nil, fmt.Errorf("process.rlimits[%d].type: unknown limit %q", i, r.Type)
		}
		if r.Soft > r.Hard {
			return nil, fmt.Errorf("process.rlimits[%d]: soft limit above hard limit", i)
		}
		out = append(out, platform.Rlimit{Resource: nr, Soft: r.Soft, Hard: r.Hard})
	}
	return out, nil
}
