module runsc.dev/runsc

go 1.26.0

require github.com/google/subcommands v1.2.0

require golang.org/x/sys v0.50.0 // indirect
