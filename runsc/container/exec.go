package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ExecOptions are "runsc exec"'s settings.
type ExecOptions struct {
	Process       specs.Process
	PidFile       string
	ConsoleSocket string
	Detach        bool
	// Self and SelfArgs re-run this command in the background for
	// --detach: the background copy waits for the process, and its pid
	// is the one --pid-file names (the caller's subreaper reaps it with
	// the process's exit status).
	Self     string
	SelfArgs []string
	Stdio    [3]*os.File
}

// Exec runs a new process in a running container and returns its exit
// status (or, detached, once it has started).
func (r Root) Exec(id string, o ExecOptions) (int, error) {
	s, err := r.Load(id)
	if err != nil {
		return 0, err
	}
	if st := r.Status(s); st != Running {
		return 0, fmt.Errorf("container %q is %s, not running", id, st)
	}
	if o.Detach {
		return 0, r.execDetached(o)
	}
	stdio := o.Stdio
	console := ""
	if o.Process.Terminal {
		if o.ConsoleSocket == "" {
			return 0, fmt.Errorf("--tty needs --console-socket")
		}
		if console, err = filepath.Abs(o.ConsoleSocket); err != nil {
			return 0, err
		}
	}
	dir, _ := r.dir(id)
	c, err := dialControl(dir)
	if err != nil {
		return 0, fmt.Errorf("container %q: %w", id, err)
	}
	defer c.Close()
	req, err := json.Marshal(execRequest{Process: o.Process, ConsoleSocket: console})
	if err != nil {
		return 0, err
	}
	rights := unix.UnixRights(int(stdio[0].Fd()), int(stdio[1].Fd()), int(stdio[2].Fd()))
	if _, _, err := c.WriteMsgUnix(req, rights, nil); err != nil {
		return 0, fmt.Errorf("container %q: %w", id, err)
	}
	d := json.NewDecoder(c)
	var rep execReply
	if err := d.Decode(&rep); err != nil {
		return 0, fmt.Errorf("container %q: exec: %w", id, err)
	}
	if rep.Error != "" {
		return 0, errors.New(rep.Error)
	}
	if o.PidFile != "" {
		if err := writePidFile(o.PidFile, os.Getpid()); err != nil {
			return 0, err
		}
	}
	if ready := os.Getenv(execReadyEnv); ready != "" {
		if fd, err := strconv.Atoi(ready); err == nil {
			f := os.NewFile(uintptr(fd), "ready")
			f.Write([]byte{1})
			f.Close()
		}
	}
	// Forward the signals we get (containerd signals the pid in the pid
	// file) to the process.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs)
	defer signal.Stop(sigs)
	go func() {
		e := json.NewEncoder(c)
		for s := range sigs {
			sig := s.(syscall.Signal)
			if sig == unix.SIGCHLD || sig == unix.SIGURG || sig == unix.SIGPIPE {
				continue
			}
			e.Encode(execSignal{Signal: int(sig)})
		}
	}()
	if err := d.Decode(&rep); err != nil {
		return 0, fmt.Errorf("container %q: exec: lost the sandbox: %w", id, err)
	}
	return rep.Status, nil
}

// execReadyEnv tells a background exec which fd to close once its process
// runs.
const execReadyEnv = "RUNSC_EXEC_READY_FD"

func (r Root) execDetached(o ExecOptions) error {
	rd, wr, err := os.Pipe()
	if err != nil {
		return err
	}
	defer rd.Close()
	cmd := exec.Command(o.Self, o.SelfArgs...)
	if !o.Process.Terminal {
		// With a terminal the process's stdio is the console, and our
		// caller reads our own stdio to its end: the waiter must not
		// hold it.
		cmd.Stdin, cmd.Stdout, cmd.Stderr = o.Stdio[0], o.Stdio[1], o.Stdio[2]
	}
	cmd.ExtraFiles = []*os.File{wr}
	cmd.Env = append(os.Environ(), execReadyEnv+"=3")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	wr.Close()
	if err != nil {
		return err
	}
	// A byte once the background exec has started the process; EOF if it
	// failed (it has said why on its stderr).
	var b [1]byte
	if n, _ := rd.Read(b[:]); n != 1 {
		cmd.Wait()
		return fmt.Errorf("exec: the process did not start")
	}
	return cmd.Process.Release()
}
