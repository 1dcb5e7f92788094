// Command runsc is an OCI runtime whose containers run on a user-space kernel
// (the sentry) for every file system operation. The CLI only parses flags and
// prints; the work is done by runsc/container, boot/ and sentry/.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	"github.com/google/subcommands"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"runsc.dev/runsc/runsc/container"
	"runsc.dev/runsc/sentry/platform"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// globals are the runtime-wide flags, given before the command.
type globals struct {
	root              string
	log               string
	logFormat         string
	debug             bool
	debugLog          string
	systemdCgroup     bool
	platform          string
	cpuPlacement      string
	overlay           bool
	network           string
	ignoreUnsupported bool

	logw   io.Writer
	debugw io.Writer // nil unless --debug or --debug-log
}

var g globals

func main() {
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.StringVar(&g.root, "root", "/run/runsc", "directory holding the containers' state")
	flag.StringVar(&g.log, "log", "", "file errors and warnings are appended to (default stderr)")
	flag.StringVar(&g.logFormat, "log-format", "text", "format of --log: text or json")
	flag.BoolVar(&g.debug, "debug", false, "log debugging messages")
	flag.StringVar(&g.debugLog, "debug-log", "", "file debugging messages are appended to")
	flag.BoolVar(&g.systemdCgroup, "systemd-cgroup", false, "use systemd to manage cgroups (not available: refused)")
	flag.StringVar(&g.platform, "platform", "seccomp", "how file system calls are intercepted: seccomp (user notification + ptrace)")
	flag.StringVar(&g.cpuPlacement, "cpu-placement", "same", "CPUs of the sentry's receivers and of tasks that trap: same (one CPU, the faster traps) or free (left to the scheduler)")
	flag.BoolVar(&g.overlay, "overlay", true, "keep the root file system's changes in a tmpfs upper inside the sandbox")
	flag.StringVar(&g.network, "network", "sandbox", "network: sandbox (own namespace, as the spec says) or host")
	flag.BoolVar(&g.ignoreUnsupported, "ignore-unsupported-mounts", false, "warn about unsupported mounts instead of failing")

	for _, c := range []subcommands.Command{
		new(create), new(start), new(run), new(state), new(kill), new(deleteCmd), new(list), new(ps),
		new(specCmd), new(do), new(features), new(install), new(pause), new(resume), new(execCmd), new(wait), new(events),
	} {
		subcommands.Register(c, "")
	}
	subcommands.Register(subcommands.HelpCommand(), "")
	subcommands.Register(subcommands.FlagsCommand(), "")
	for _, c := range []subcommands.Command{new(bootCmd), new(goferCmd), new(devRun)} {
		subcommands.Register(c, "internal")
	}
	flag.Parse()
	if *showVersion {
		fmt.Printf("runsc version %s\nspec: %s\ngo: %s\n", version, specs.Version, runtime.Version())
		os.Exit(0)
	}
	g.logw = os.Stderr
	if g.log != "" {
		f, err := os.OpenFile(g.log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			fmt.Fprintf(os.Stderr, "runsc: --log: %v\n", err)
			os.Exit(1)
		}
		g.logw = f
	}
	if g.debugLog != "" {
		f, err := os.OpenFile(g.debugLog, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			fatalf("--debug-log: %v", err)
		}
		g.debugw, g.debug = f, true
	} else if g.debug {
		g.debugw = g.logw
	}
	debugf("runsc %s (pid %d): %q", version, os.Getpid(), os.Args[1:])
	if g.logFormat != "text" && g.logFormat != "json" {
		fatalf("--log-format: %q is not text or json", g.logFormat)
	}
	if g.systemdCgroup {
		fatalf("--systemd-cgroup: systemd cgroup management is not available; use the cgroupfs driver")
	}
	if g.platform != "seccomp" {
		fatalf("--platform: unknown platform %q (available: seccomp)", g.platform)
	}
	if _, ok := placements[g.cpuPlacement]; !ok {
		fatalf("--cpu-placement: unknown placement %q (available: same, free)", g.cpuPlacement)
	}
	os.Exit(int(subcommands.Execute(context.Background())))
}

func root() container.Root { return container.Root(g.root) }

// logf writes a message to --log (and to stderr when --log is a file), as
// a JSON line with --log-format json so containerd can show it.
func logf(level, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if g.logFormat == "json" {
		b, _ := json.Marshal(map[string]string{"level": level, "msg": msg, "time": time.Now().UTC().Format(time.RFC3339Nano)})
		fmt.Fprintf(g.logw, "%s\n", b)
	} else {
		fmt.Fprintf(g.logw, "runsc: %s\n", msg)
	}
	if g.logw != io.Writer(os.Stderr) {
		fmt.Fprintf(os.Stderr, "runsc: %s\n", msg)
	}
}

// debugf writes a debugging message with --debug or --debug-log.
func debugf(format string, args ...any) {
	if g.debugw != nil {
		fmt.Fprintf(g.debugw, "%s runsc[%d]: %s\n", time.Now().UTC().Format(time.RFC3339Nano), os.Getpid(), fmt.Sprintf(format, args...))
	}
}

func fatalf(format string, args ...any) {
	logf("error", format, args...)
	os.Exit(1)
}

// failure reports err and returns the failure status.
func failure(err error) subcommands.ExitStatus {
	debugf("failed: %v", err)
	logf("error", "%v", err)
	return subcommands.ExitFailure
}

// bootArgs are the global flags "runsc boot" needs.
func bootArgs() []string {
	args := []string{fmt.Sprintf("--overlay=%t", g.overlay), "--network", g.network, "--cpu-placement", g.cpuPlacement,
		fmt.Sprintf("--ignore-unsupported-mounts=%t", g.ignoreUnsupported), "--log-format", g.logFormat}
	if g.log != "" {
		args = append(args, "--log", g.log)
	}
	if g.debugLog != "" {
		args = append(args, "--debug-log", g.debugLog)
	} else if g.debug {
		args = append(args, "--debug")
	}
	return args
}

var placements = map[string]platform.Placement{"same": platform.SameCPU, "free": platform.Free}

func self() string {
	p, err := os.Executable()
	if err != nil {
		fatalf("cannot find own executable: %v", err)
	}
	return p
}
