package proc

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// hostRead reads /proc/<tid>/name on the host: the host kernel's view of
// one of the sandbox's own threads. A thread that is gone gives ESRCH.
func hostRead(tid int, name string) ([]byte, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(tid) + "/" + name)
	if err != nil {
		return nil, hostErr(err)
	}
	return b, nil
}

// hostErr turns a host error into the errno to give the program.
func hostErr(err error) error {
	var errno unix.Errno
	if errors.As(err, &errno) {
		if errno == unix.ENOENT {
			return unix.ESRCH
		}
		return errno
	}
	if errors.Is(err, fs.ErrNotExist) {
		return unix.ESRCH
	}
	return unix.EIO
}

// userHZ is USER_HZ, the unit of times in /proc/<pid>/stat and /proc/stat.
const userHZ = 100

// hostClock is the host's uptime and idle time when the sandbox booted:
// /proc shows times since the sandbox's boot, not the host's.
type hostClock struct {
	uptime, idle float64
}

func readHostClock() hostClock {
	var c hostClock
	if b, err := os.ReadFile("/proc/uptime"); err == nil {
		fmt.Sscanf(string(b), "%f %f", &c.uptime, &c.idle)
	}
	return c
}

// jiffies is the sandbox's boot time in USER_HZ ticks since the host's.
func (c hostClock) jiffies() uint64 { return uint64(c.uptime * userHZ) }

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// fieldsAfterComm splits /proc/<pid>/stat: pid, comm (which may hold
// spaces and parentheses) and the fields after it.
func fieldsAfterComm(stat string) (pid, comm string, rest []string, ok bool) {
	open := strings.IndexByte(stat, '(')
	close := strings.LastIndexByte(stat, ')')
	if open < 0 || close < open {
		return "", "", nil, false
	}
	return strings.TrimSpace(stat[:open]), stat[open+1 : close], strings.Fields(stat[close+1:]), true
}
