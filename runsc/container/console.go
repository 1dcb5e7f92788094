package container

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs/devpts"
)

// newConsole makes a container's terminal: a pty of the sandbox's own
// /dev/pts (so the program sees /dev/pts/N) or, without one, of the
// host's; the master goes to the caller over the console socket
// (SCM_RIGHTS, as runc does) and the slave is returned for the program,
// with its /dev/pts name ("" for a host pty).
func newConsole(pts *devpts.FS, socket string) (*os.File, string, error) {
	if socket == "" {
		return nil, "", fmt.Errorf("process.terminal is set but no --console-socket was given")
	}
	var master, slave *os.File
	var err error
	name := ""
	if pts != nil {
		var n int
		master, slave, n, err = pts.NewPty()
		name = "pts/" + strconv.Itoa(n)
	} else {
		master, slave, err = hostPty()
	}
	if err != nil {
		return nil, "", fmt.Errorf("console: %w", err)
	}
	defer master.Close()
	if err := sendConsole(socket, master); err != nil {
		slave.Close()
		return nil, "", err
	}
	return slave, name, nil
}

// hostPty opens a new pty pair of the host's devpts.
func hostPty() (*os.File, *os.File, error) {
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		return nil, nil, err
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		master.Close()
		return nil, nil, err
	}
	slave, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		master.Close()
		return nil, nil, err
	}
	return master, slave, nil
}

// sendConsole passes the pty master to the console socket. The socket is
// reached through its directory's fd: containerd's paths can be longer
// than a socket address holds.
func sendConsole(socket string, master *os.File) error {
	dir, err := unix.Open(filepath.Dir(socket), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("console socket: %w", err)
	}
	defer unix.Close(dir)
	addr := &net.UnixAddr{Name: fmt.Sprintf("/proc/self/fd/%d/%s", dir, filepath.Base(socket)), Net: "unix"}
	c, err := net.DialUnix("unix", nil, addr)
	if err != nil {
		return fmt.Errorf("console socket: %w", err)
	}
	defer c.Close()
	if _, _, err := c.WriteMsgUnix([]byte("/dev/ptmx"), unix.UnixRights(int(master.Fd())), nil); err != nil {
		return fmt.Errorf("console socket: %w", err)
	}
	return nil
}
