//go:build !race

package gofer

const raceEnabled = false
