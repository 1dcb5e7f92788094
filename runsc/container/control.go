package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"runsc.dev/runsc/boot"
	"runsc.dev/runsc/sentry/fs/devpts"
)

// The control socket (<container dir>/control.sock) is how "runsc exec"
// adds a process to a running sandbox. One connection per process:
//
//	client → sandbox: execRequest, with stdin, stdout and stderr attached
//	                  (SCM_RIGHTS)
//	sandbox → client: execReply{Pid} or execReply{Error}
//	client → sandbox: execSignal ... (signals the client got, to forward)
//	sandbox → client: execReply{Exited: true, Status} when the process ends
const controlName = "control.sock"

type execRequest struct {
	Process specs.Process `json:"process"`
	// ConsoleSocket receives the pty master when Process.Terminal is set;
	// the sandbox makes the pty from its own /dev/pts.
	ConsoleSocket string `json:"consoleSocket,omitempty"`
}

type execSignal struct {
	Signal int `json:"signal"`
}

type execReply struct {
	Pid    int    `json:"pid,omitempty"`
	Error  string `json:"error,omitempty"`
	Exited bool   `json:"exited,omitempty"`
	Status int    `json:"status,omitempty"` // exit code, 128+signal if killed
}

// serveControl accepts exec requests until the listener is closed.
func serveControl(l *net.UnixListener, sb *boot.Sandbox, pts *devpts.FS) {
	for {
		c, err := l.AcceptUnix()
		if err != nil {
			return
		}
		go handleExec(c, sb, pts)
	}
}

func listenControl(dir string) (*net.UnixListener, error) {
	os.Remove(filepath.Join(dir, controlName))
	var l *net.UnixListener
	err := viaDirFD(dir, func(name string) (err error) {
		l, err = net.ListenUnix("unix", &net.UnixAddr{Name: name, Net: "unix"})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return l, os.Chmod(filepath.Join(dir, controlName), 0o600)
}

// dialControl connects to a sandbox's control socket.
func dialControl(dir string) (c *net.UnixConn, err error) {
	err = viaDirFD(dir, func(name string) (err error) {
		c, err = net.DialUnix("unix", nil, &net.UnixAddr{Name: name, Net: "unix"})
		return err
	})
	return c, err
}

// viaDirFD calls f with a short name of the control socket in dir: a
// socket path may not exceed 107 bytes, and containerd's state
// directories are longer than that.
func viaDirFD(dir string, f func(name string) error) error {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return f(fmt.Sprintf("/proc/self/fd/%d/%s", fd, controlName))
}

func handleExec(c *net.UnixConn, sb *boot.Sandbox, pts *devpts.FS) {
	defer c.Close()
	reply := func(r execReply) { json.NewEncoder(c).Encode(r) }
	buf := make([]byte, 1<<20)
	oob := make([]byte, unix.CmsgSpace(3*4))
	n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		return
	}
	files, err := receiveFiles(oob[:oobn])
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	if err != nil || len(files) != 3 {
		reply(execReply{Error: "exec: stdio not received"})
		return
	}
	var req execRequest
	if err := json.Unmarshal(buf[:n], &req); err != nil {
		reply(execReply{Error: fmt.Sprintf("exec: bad request: %v", err)})
		return
	}
	p := req.Process
	if len(p.Args) == 0 {
		reply(execReply{Error: "exec: process.args: empty"})
		return
	}
	creds, err := processCreds(&p)
	if err != nil {
		reply(execReply{Error: err.Error()})
		return
	}
	umask := uint32(0o022)
	if p.User.Umask != nil {
		umask = *p.User.Umask
	}
	cwd := p.Cwd
	if cwd == "" {
		cwd = "/"
	}
	rlimits, err := processRlimits(&p)
	if err != nil {
		reply(execReply{Error: err.Error()})
		return
	}
	if p.Terminal {
		tty, _, err := newConsole(pts, req.ConsoleSocket)
		if err != nil {
			reply(execReply{Error: err.Error()})
			return
		}
		for i := range files {
			files[i].Close()
			files[i] = tty
		}
	}
	proc, err := sb.Start(boot.Process{Argv: p.Args, Env: p.Env, Cwd: path.Clean(cwd), Umask: umask, Files: files, Creds: creds, Rlimits: rlimits, Terminal: p.Terminal})
	if err != nil {
		reply(execReply{Error: err.Error()})
		return
	}
	reply(execReply{Pid: proc.Pid()})
	go func() {
		d := json.NewDecoder(c)
		for {
			var s execSignal
			if d.Decode(&s) != nil {
				return
			}
			proc.Signal(unix.Signal(s.Signal))
		}
	}()
	ws := proc.Wait()
	status := ws.ExitStatus()
	if ws.Signaled() {
		status = 128 + int(ws.Signal())
	}
	reply(execReply{Exited: true, Status: status})
}

func receiveFiles(oob []byte) ([]*os.File, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, err
	}
	var files []*os.File
	for _, m := range msgs {
		fds, err := unix.ParseUnixRights(&m)
		if err != nil {
			return files, err
		}
		for _, fd := range fds {
			unix.CloseOnExec(fd)
			files = append(files, os.NewFile(uintptr(fd), "stdio"))
		}
	}
	if len(files) == 0 {
		return nil, errors.New("no files")
	}
	return files, nil
}
