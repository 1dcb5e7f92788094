package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/google/subcommands"
	"golang.org/x/sys/unix"

	"runsc.dev/runsc/boot"
)

// devRun is a hidden developer command: run a program in a sandbox whose
// root is a tmpfs filled from a host directory, without OCI.
type devRun struct {
	rootfs string
	cwd    string
}

func (*devRun) Name() string { return "dev-run" }
func (*devRun) Synopsis() string {
	return "run a command over a tmpfs copy of a host directory (developers)"
}
func (*devRun) Usage() string {
	return "dev-run --rootfs DIR [--cwd DIR] -- COMMAND [ARG...]\n"
}

func (d *devRun) SetFlags(f *flag.FlagSet) {
	f.StringVar(&d.rootfs, "rootfs", "", "host directory copied into the sandbox's root tmpfs")
	f.StringVar(&d.cwd, "cwd", "/", "working directory inside the sandbox")
}

func (d *devRun) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	if d.rootfs == "" || f.NArg() == 0 {
		fmt.Fprint(os.Stderr, d.Usage())
		return subcommands.ExitUsageError
	}
	status, err := boot.RunOverCopy(d.rootfs, boot.Process{
		Argv:  f.Args(),
		Env:   []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "TERM=" + os.Getenv("TERM")},
		Cwd:   d.cwd,
		Umask: 0o022,
		Files: []*os.File{os.Stdin, os.Stdout, os.Stderr},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "runsc: %v\n", err)
		return subcommands.ExitFailure
	}
	return subcommands.ExitStatus(exitCode(status))
}

// exitCode is what a shell reports for a wait status.
func exitCode(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}
