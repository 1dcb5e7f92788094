package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/subcommands"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"runsc.dev/runsc/runsc/container"
)

// oneID checks that a command got exactly one container id.
func oneID(f *flag.FlagSet, usage string) (string, bool) {
	if f.NArg() != 1 {
		fmt.Fprintf(os.Stderr, "usage: runsc %s", usage)
		return "", false
	}
	return f.Arg(0), true
}

type create struct {
	bundle, pidFile, consoleSocket string
}

func (*create) Name() string     { return "create" }
func (*create) Synopsis() string { return "create a container from an OCI bundle (it waits for start)" }
func (*create) Usage() string {
	return "create [--bundle DIR] [--pid-file FILE] [--console-socket SOCK] ID\n"
}
func (c *create) SetFlags(f *flag.FlagSet) {
	f.StringVar(&c.bundle, "bundle", ".", "bundle directory holding config.json")
	f.StringVar(&c.bundle, "b", ".", "short for --bundle")
	f.StringVar(&c.pidFile, "pid-file", "", "file to write the container's pid to")
	f.StringVar(&c.consoleSocket, "console-socket", "", "unix socket that receives the pty master when process.terminal is set")
}

func (c *create) options(foreground bool) container.CreateOptions {
	return container.CreateOptions{
		Bundle: c.bundle, PidFile: c.pidFile, ConsoleSocket: c.consoleSocket, Self: self(),
		BootArgs: bootArgs(), Foreground: foreground, HostNetwork: g.network == "host",
		Stdio: [3]*os.File{os.Stdin, os.Stdout, os.Stderr},
	}
}

func (c *create) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	id, ok := oneID(f, c.Usage())
	if !ok {
		return subcommands.ExitUsageError
	}
	if _, err := root().Create(id, c.options(false)); nonFatal(err) != nil {
		return failure(err)
	}
	return subcommands.ExitSuccess
}

type start struct{}

func (*start) Name() string           { return "start" }
func (*start) Synopsis() string       { return "run the program of a created container" }
func (*start) Usage() string          { return "start ID\n" }
func (*start) SetFlags(*flag.FlagSet) {}
func (s *start) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	id, ok := oneID(f, s.Usage())
	if !ok {
		return subcommands.ExitUsageError
	}
	if err := root().Start(id); nonFatal(err) != nil {
		return failure(err)
	}
	return subcommands.ExitSuccess
}

type run struct {
	create
	detach bool
}

func (*run) Name() string     { return "run" }
func (*run) Synopsis() string { return "create and start a container, and wait for it unless --detach" }
func (*run) Usage() string {
	return "run [--bundle DIR] [--pid-file FILE] [--console-socket SOCK] [--detach] ID\n"
}
func (r *run) SetFlags(f *flag.FlagSet) {
	r.create.SetFlags(f)
	f.BoolVar(&r.detach, "detach", false, "return once the container runs")
	f.BoolVar(&r.detach, "d", false, "short for --detach")
}

func (r *run) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	id, ok := oneID(f, r.Usage())
	if !ok {
		return subcommands.ExitUsageError
	}
	rt := root()
	cmd, err := rt.Create(id, r.options(!r.detach))
	if nonFatal(err) != nil {
		return failure(err)
	}
	if err := rt.Start(id); nonFatal(err) != nil {
		rt.Delete(id, true)
		return failure(err)
	}
	if r.detach {
		return subcommands.ExitSuccess
	}
	err = cmd.Wait()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
		if ws, ok := ee.Sys().(unix.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
	} else if err != nil {
		return failure(err)
	}
	if err := rt.Delete(id, true); nonFatal(err) != nil {
		logf("warning", "%v", err)
	}
	return subcommands.ExitStatus(code)
}

type state struct{}

func (*state) Name() string           { return "state" }
func (*state) Synopsis() string       { return "print a container's state as OCI JSON" }
func (*state) Usage() string          { return "state ID\n" }
func (*state) SetFlags(*flag.FlagSet) {}
func (s *state) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	id, ok := oneID(f, s.Usage())
	if !ok {
		return subcommands.ExitUsageError
	}
	rt := root()
	st, err := rt.Load(id)
	if err != nil {
		return failure(err)
	}
	b, err := json.MarshalIndent(rt.OCI(st), "", "  ")
	if err != nil {
		return failure(err)
	}
	fmt.Println(string(b))
	return subcommands.ExitSuccess
}

type kill struct{ all bool }

func (*kill) Name() string     { return "kill" }
func (*kill) Synopsis() string { return "send a signal to a container (default SIGTERM)" }
func (*kill) Usage() string    { return "kill [--all] ID [SIGNAL]\n" }
func (k *kill) SetFlags(f *flag.FlagSet) {
	f.BoolVar(&k.all, "all", false, "signal every process of the container")
	f.BoolVar(&k.all, "a", false, "short for --all")
}

func (k *kill) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	if f.NArg() < 1 || f.NArg() > 2 {
		fmt.Fprint(os.Stderr, "usage: runsc "+k.Usage())
		return subcommands.ExitUsageError
	}
	sig := unix.SIGTERM
	if f.NArg() == 2 {
		s, err := parseSignal(f.Arg(1))
		if err != nil {
			return failure(err)
		}
		sig = s
	}
	if err := root().Kill(f.Arg(0), sig, k.all); err != nil {
		return failure(err)
	}
	return subcommands.ExitSuccess
}

// parseSignal reads "9", "KILL" or "SIGKILL".
func parseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("invalid signal %q", s)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("invalid signal %q", s)
}

type deleteCmd struct{ force bool }

func (*deleteCmd) Name() string { return "delete" }
func (*deleteCmd) Synopsis() string {
	return "delete a stopped container (--force: also a running one)"
}
func (*deleteCmd) Usage() string { return "delete [--force] ID\n" }
func (d *deleteCmd) SetFlags(f *flag.FlagSet) {
	f.BoolVar(&d.force, "force", false, "kill the container first if it still runs")
	f.BoolVar(&d.force, "f", false, "short for --force")
}

func (d *deleteCmd) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	id, ok := oneID(f, d.Usage())
	if !ok {
		return subcommands.ExitUsageError
	}
	if err := root().Delete(id, d.force); nonFatal(err) != nil {
		return failure(err)
	}
	return subcommands.ExitSuccess
}

type list struct {
	format string
	quiet  bool
}

func (*list) Name() string     { return "list" }
func (*list) Synopsis() string { return "list the containers" }
func (*list) Usage() string    { return "list [--format table|json] [--quiet]\n" }
func (l *list) SetFlags(f *flag.FlagSet) {
	f.StringVar(&l.format, "format", "table", "table or json")
	f.BoolVar(&l.quiet, "quiet", false, "print only the ids")
	f.BoolVar(&l.quiet, "q", false, "short for --quiet")
}

func (l *list) Execute(context.Context, *flag.FlagSet, ...any) subcommands.ExitStatus {
	rt := root()
	ids, err := rt.List()
	if err != nil {
		return failure(err)
	}
	var states []container.OCIState
	for _, id := range ids {
		if s, err := rt.Load(id); err == nil {
			states = append(states, rt.OCI(s))
		}
	}
	switch {
	case l.quiet:
		for _, s := range states {
			fmt.Println(s.ID)
		}
	case l.format == "json":
		if states == nil {
			states = []container.OCIState{}
		}
		b, _ := json.Marshal(states)
		fmt.Println(string(b))
	default:
		w := tabwriter.NewWriter(os.Stdout, 12, 1, 3, ' ', 0)
		fmt.Fprint(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
		for _, s := range states {
			fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", s.ID, s.Pid, s.Status, s.Bundle, s.Created.Format(time.RFC3339Nano), s.Owner)
		}
		w.Flush()
	}
	return subcommands.ExitSuccess
}

type ps struct{ format string }

func (*ps) Name() string     { return "ps" }
func (*ps) Synopsis() string { return "list a container's processes" }
func (*ps) Usage() string    { return "ps [--format table|json] ID\n" }
func (p *ps) SetFlags(f *flag.FlagSet) {
	f.StringVar(&p.format, "format", "table", "table or json")
	f.StringVar(&p.format, "f", "table", "short for --format")
}

func (p *ps) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	id, ok := oneID(f, p.Usage())
	if !ok {
		return subcommands.ExitUsageError
	}
	pids, err := root().Processes(id)
	if err != nil {
		return failure(err)
	}
	if p.format == "json" {
		if pids == nil {
			pids = []int{}
		}
		b, _ := json.Marshal(pids)
		fmt.Println(string(b))
		return subcommands.ExitSuccess
	}
	out, err := exec.Command("ps", "-f", "-p", joinPids(pids)).Output()
	if err != nil && len(pids) > 0 {
		return failure(fmt.Errorf("ps: %w", err))
	}
	os.Stdout.Write(out)
	return subcommands.ExitSuccess
}

func joinPids(pids []int) string {
	s := make([]string, len(pids))
	for i, p := range pids {
		s[i] = strconv.Itoa(p)
	}
	if len(s) == 0 {
		return "0"
	}
	return strings.Join(s, ",")
}

type bootCmd struct {
	bundle        string
	consoleSocket string
}

func (*bootCmd) Name() string     { return "boot" }
func (*bootCmd) Synopsis() string { return "run a sandbox (started by create)" }
func (*bootCmd) Usage() string    { return "boot --bundle DIR ID\n" }
func (b *bootCmd) SetFlags(f *flag.FlagSet) {
	f.StringVar(&b.bundle, "bundle", "", "bundle directory")
	f.StringVar(&b.consoleSocket, "console-socket", "", "unix socket that receives the console's pty master")
}

func (b *bootCmd) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	id, ok := oneID(f, b.Usage())
	if !ok {
		return subcommands.ExitUsageError
	}
	opts := container.BootOptions{
		Self: self(), Overlay: g.overlay, IgnoreUnsupported: g.ignoreUnsupported, ConsoleSocket: b.consoleSocket,
		HostNetwork: g.network == "host", Placement: placements[g.cpuPlacement],
		Warn: func(format string, args ...any) { logf("warning", format, args...) },
	}
	if g.debugw != nil {
		opts.Debug = debugf
	}
	code, err := root().Boot(id, b.bundle, opts)
	if err != nil {
		logf("error", "%v", err)
	}
	return subcommands.ExitStatus(code)
}

type pause struct{}

func (*pause) Name() string           { return "pause" }
func (*pause) Synopsis() string       { return "freeze every process of a running container" }
func (*pause) Usage() string          { return "pause ID\n" }
func (*pause) SetFlags(*flag.FlagSet) {}
func (p *pause) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	id, ok := oneID(f, p.Usage())
	if !ok {
		return subcommands.ExitUsageError
	}
	if err := root().Pause(id); err != nil {
		return failure(err)
	}
	return subcommands.ExitSuccess
}

type resume struct{}

func (*resume) Name() string           { return "resume" }
func (*resume) Synopsis() string       { return "thaw a paused container" }
func (*resume) Usage() string          { return "resume ID\n" }
func (*resume) SetFlags(*flag.FlagSet) {}
func (r *resume) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	id, ok := oneID(f, r.Usage())
	if !ok {
		return subcommands.ExitUsageError
	}
	if err := root().Resume(id); err != nil {
		return failure(err)
	}
	return subcommands.ExitSuccess
}

type execCmd struct {
	process, pidFile, consoleSocket, cwd, user string
	env                                        stringList
	tty, detach                                bool
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func (*execCmd) Name() string     { return "exec" }
func (*execCmd) Synopsis() string { return "run a new process inside a running container" }
func (*execCmd) Usage() string {
	return "exec [--process FILE | [--cwd DIR] [--env K=V]... [--user UID[:GID]] [--tty]] [--detach] [--pid-file FILE] [--console-socket SOCK] ID [COMMAND ARG...]\n"
}
func (e *execCmd) SetFlags(f *flag.FlagSet) {
	f.StringVar(&e.process, "process", "", "JSON file with the process (runtime-spec's process)")
	f.StringVar(&e.process, "p", "", "short for --process")
	f.StringVar(&e.pidFile, "pid-file", "", "file to write the pid that tracks the process to")
	f.StringVar(&e.consoleSocket, "console-socket", "", "unix socket that receives the pty master with --tty")
	f.StringVar(&e.cwd, "cwd", "", "working directory (default: the container's)")
	f.StringVar(&e.user, "user", "", "UID[:GID] to run as")
	f.StringVar(&e.user, "u", "", "short for --user")
	f.Var(&e.env, "env", "environment variable K=V (repeatable)")
	f.Var(&e.env, "e", "short for --env")
	f.BoolVar(&e.tty, "tty", false, "give the process a terminal")
	f.BoolVar(&e.tty, "t", false, "short for --tty")
	f.BoolVar(&e.detach, "detach", false, "return once the process runs")
	f.BoolVar(&e.detach, "d", false, "short for --detach")
}

func (e *execCmd) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	if f.NArg() < 1 {
		fmt.Fprint(os.Stderr, "usage: runsc "+e.Usage())
		return subcommands.ExitUsageError
	}
	id := f.Arg(0)
	rt := root()
	p, err := e.processSpec(rt, id, f.Args()[1:])
	if err != nil {
		return failure(err)
	}
	var selfArgs []string
	if e.detach {
		// The background copy: the same command line without --detach.
		for _, a := range os.Args[1:] {
			if a != "--detach" && a != "-d" && a != "--detach=true" {
				selfArgs = append(selfArgs, a)
			}
		}
	}
	code, err := rt.Exec(id, container.ExecOptions{
		Process: *p, PidFile: e.pidFile, ConsoleSocket: e.consoleSocket, Detach: e.detach,
		Self: self(), SelfArgs: selfArgs, Stdio: [3]*os.File{os.Stdin, os.Stdout, os.Stderr},
	})
	if err != nil {
		return failure(err)
	}
	return subcommands.ExitStatus(code)
}

// processSpec is --process's file, or a process made from the flags and
// the container's own process.
func (e *execCmd) processSpec(rt container.Root, id string, args []string) (*specs.Process, error) {
	if e.process != "" {
		b, err := os.ReadFile(e.process)
		if err != nil {
			return nil, err
		}
		var p specs.Process
		if err := json.Unmarshal(b, &p); err != nil {
			return nil, fmt.Errorf("%s: %w", e.process, err)
		}
		return &p, nil
	}
	if len(args) == 0 {
		return nil, fmt.Errorf("exec: no command given")
	}
	s, err := rt.Load(id)
	if err != nil {
		return nil, err
	}
	spec, err := container.LoadSpec(s.Bundle)
	if err != nil {
		return nil, err
	}
	p := *spec.Process
	p.Args, p.Terminal = args, e.tty
	p.Env = append(append([]string{}, p.Env...), e.env...)
	if e.cwd != "" {
		p.Cwd = e.cwd
	}
	if e.user != "" {
		uid, gid, _ := strings.Cut(e.user, ":")
		u, err := strconv.ParseUint(uid, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("--user %q: %w", e.user, err)
		}
		p.User.UID, p.User.GID = uint32(u), uint32(u)
		if gid != "" {
			g, err := strconv.ParseUint(gid, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("--user %q: %w", e.user, err)
			}
			p.User.GID = uint32(g)
		}
	}
	return &p, nil
}

type wait struct{}

func (*wait) Name() string           { return "wait" }
func (*wait) Synopsis() string       { return "wait for a container to stop and print its exit status" }
func (*wait) Usage() string          { return "wait ID\n" }
func (*wait) SetFlags(*flag.FlagSet) {}
func (w *wait) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	id, ok := oneID(f, w.Usage())
	if !ok {
		return subcommands.ExitUsageError
	}
	code, err := root().Wait(id)
	if err != nil {
		return failure(err)
	}
	b, _ := json.Marshal(map[string]any{"id": id, "exitStatus": code})
	fmt.Println(string(b))
	return subcommands.ExitSuccess
}

type events struct {
	stats    bool
	interval time.Duration
}

func (*events) Name() string     { return "events" }
func (*events) Synopsis() string { return "print a container's resource usage as JSON events" }
func (*events) Usage() string    { return "events [--stats] [--interval D] ID\n" }
func (e *events) SetFlags(f *flag.FlagSet) {
	f.BoolVar(&e.stats, "stats", false, "print one stats event and exit")
	f.DurationVar(&e.interval, "interval", 5*time.Second, "time between stats events")
}

func (e *events) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	id, ok := oneID(f, e.Usage())
	if !ok {
		return subcommands.ExitUsageError
	}
	rt := root()
	for {
		st, err := rt.Stats(id)
		if err != nil {
			if e.stats {
				return failure(err)
			}
			return subcommands.ExitSuccess
		}
		b, _ := json.Marshal(container.Event{Type: "stats", ID: id, Data: st})
		fmt.Println(string(b))
		if e.stats {
			return subcommands.ExitSuccess
		}
		time.Sleep(e.interval)
	}
}

// nonFatal logs the messages of a *container.Warning and drops it; other
// errors pass.
func nonFatal(err error) error {
	var w *container.Warning
	if errors.As(err, &w) {
		for _, m := range w.Msgs {
			logf("warning", "%s", m)
		}
		return nil
	}
	return err
}
