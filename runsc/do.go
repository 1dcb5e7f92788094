package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/google/subcommands"

	"runsc.dev/runsc/boot"
)

// do runs a command over the host's root file system, read-only, with a
// tmpfs upper: the zero-setup way to try the sandbox.
type do struct {
	cwd string
}

func (*do) Name() string { return "do" }
func (*do) Synopsis() string {
	return "run a command in a sandbox over the host root (read-only, writes stay in the sandbox)"
}
func (*do) Usage() string {
	return "do [--cwd DIR] COMMAND [ARG...]\n\nThe host's files are visible read-only through a gofer; everything the\ncommand writes goes to a tmpfs upper that disappears when it exits.\n"
}

func (d *do) SetFlags(f *flag.FlagSet) {
	f.StringVar(&d.cwd, "cwd", "", "working directory inside the sandbox (default: the current one)")
}

func (d *do) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	if f.NArg() == 0 {
		fmt.Fprint(os.Stderr, d.Usage())
		return subcommands.ExitUsageError
	}
	cwd := d.cwd
	if cwd == "" {
		cwd, _ = os.Getwd()
	}
	status, err := boot.Do(self(), placements[g.cpuPlacement], boot.Process{
		Argv:  f.Args(),
		Env:   os.Environ(),
		Cwd:   cwd,
		Umask: 0o022,
		Files: []*os.File{os.Stdin, os.Stdout, os.Stderr},
	})
	if err != nil {
		return failure(err)
	}
	return subcommands.ExitStatus(exitCode(status))
}

// goferCmd is the hidden "runsc gofer" started by runsc itself.
type goferCmd struct {
	exports string
}

func (*goferCmd) Name() string     { return "gofer" }
func (*goferCmd) Synopsis() string { return "serve host trees to a sandbox over 9P (started by runsc)" }
func (*goferCmd) Usage() string    { return "gofer --exports JSON\n" }

func (g *goferCmd) SetFlags(f *flag.FlagSet) {
	f.StringVar(&g.exports, "exports", "", "JSON list of {path, ro}; export i is served on fd 3+i")
}

func (g *goferCmd) Execute(context.Context, *flag.FlagSet, ...any) subcommands.ExitStatus {
	if err := boot.ServeGofer(g.exports); err != nil {
		fmt.Fprintf(os.Stderr, "runsc gofer: %v\n", err)
		return subcommands.ExitFailure
	}
	return subcommands.ExitSuccess
}
