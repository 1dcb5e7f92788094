//go:build race

package gofer

// The race detector links cgo, and syscall.AllThreadsSyscall refuses to run
// in a binary with cgo, so Confine cannot work under -race.
const raceEnabled = true
