module runsc.dev/runsc

go 1.26.0

require github.com/google/subcommands v1.2.0
