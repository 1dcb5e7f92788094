// Command runsc is an OCI runtime whose containers run on a user-space kernel
// (the sentry) for every file system operation. The CLI only parses flags and
// prints; the work is done by the packages under boot/ and sentry/.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"

	"github.com/google/subcommands"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

const ociVersion = "1.3.0"

func main() {
	showVersion := flag.Bool("version", false, "print the version and exit")
	subcommands.Register(subcommands.HelpCommand(), "")
	subcommands.Register(subcommands.FlagsCommand(), "")
	flag.Parse()
	if *showVersion {
		fmt.Printf("runsc version %s\nspec: %s\ngo: %s\n", version, ociVersion, runtime.Version())
		os.Exit(0)
	}
	os.Exit(int(subcommands.Execute(context.Background())))
}
