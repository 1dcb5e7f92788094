package container

import (
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// consoleTTY makes the container's terminal: a new pty whose master goes
// to the caller over the console socket (SCM_RIGHTS, as runc does) and
// whose slave becomes the program's stdio.
func consoleTTY(socket string) (*os.File, error) {
	if socket == "" {
		return nil, fmt.Errorf("process.terminal is set but no --console-socket was given")
	}
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer master.Close()
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		return nil, fmt.Errorf("unlock pty: %w", err)
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		return nil, fmt.Errorf("pty number: %w", err)
	}
	name := fmt.Sprintf("/dev/pts/%d", n)
	slave, err := os.OpenFile(name, os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	conn, err := net.Dial("unix", socket)
	if err != nil {
		slave.Close()
		return nil, fmt.Errorf("console socket: %w", err)
	}
	defer conn.Close()
	uc := conn.(*net.UnixConn)
	oob := unix.UnixRights(int(master.Fd()))
	if _, _, err := uc.WriteMsgUnix([]byte(name), oob, nil); err != nil {
		slave.Close()
		return nil, fmt.Errorf("console socket: %w", err)
	}
	return slave, nil
}
