package container

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// fifoName is the start FIFO in a container's directory: the sandbox waits
// on it until "start", and removes it when the program runs.
const fifoName = "start.fifo"

// CreateOptions are create's flags and the runtime's global settings.
type CreateOptions struct {
	Bundle        string
	PidFile       string
	ConsoleSocket string
	// Self is the runsc binary; BootArgs are global flags passed on to
	// "runsc boot" (--overlay, --debug, ...).
	Self     string
	BootArgs []string
	// Foreground keeps the sandbox a child of the caller ("runsc run").
	Foreground bool
	// HostNetwork runs the sandbox in the host's network namespace.
	HostNetwork bool
	Stdio       [3]*os.File
}

// Create makes a container: a sandbox process that has built the mount
// namespace and waits for Start, after its prestart and createRuntime
// hooks ran. On any failure nothing is left behind (and the poststop hooks
// run). A *Warning error reports hooks skipped; the container exists.
func (r Root) Create(id string, o CreateOptions) (cmd *exec.Cmd, err error) {
	dir, err := r.dir(id)
	if err != nil {
		return nil, err
	}
	bundle, err := filepath.Abs(o.Bundle)
	if err != nil {
		return nil, err
	}
	spec, err := LoadSpec(bundle)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(string(r), 0o700); err != nil {
		return nil, err
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("container %q already exists", id)
		}
		return nil, err
	}
	var hooksRan bool
	defer func() {
		var w *Warning
		if err != nil && !errors.As(err, &w) {
			if cmd != nil && cmd.Process != nil {
				cmd.Process.Kill()
				cmd.Wait()
			}
			os.RemoveAll(dir)
			if hooksRan {
				st := specs.State{Version: specs.Version, ID: id, Status: specs.StateStopped, Bundle: bundle, Annotations: spec.Annotations}
				if perr := runHooks("poststop", spec.Hooks.Poststop, st); perr != nil {
					err = fmt.Errorf("%w (and %v)", err, perr)
				}
			}
		}
	}()
	if err := unix.Mkfifo(filepath.Join(dir, fifoName), 0o600); err != nil {
		return nil, err
	}
	cmd, err = r.startSandbox(id, bundle, spec, o)
	if err != nil {
		return cmd, err
	}
	start, err := processStart(cmd.Process.Pid)
	if err != nil {
		return cmd, err
	}
	if err := joinCgroup(spec, cmd.Process.Pid); err != nil {
		return cmd, err
	}
	owner := ""
	if u, err := user.Current(); err == nil {
		owner = u.Username
	}
	s := &State{
		ID: id, Pid: cmd.Process.Pid, Bundle: bundle, Rootfs: RootfsPath(spec, bundle), Cgroup: cgroupsPath(spec),
		Created: time.Now().UTC(), Owner: owner, Annotation: spec.Annotations, StartTime: start, Hooks: spec.Hooks,
	}
	if err := r.save(s); err != nil {
		return cmd, err
	}
	if spec.Hooks != nil {
		hooksRan = true
		st := r.OCI(s).State
		st.Status = specs.StateCreating
		//lint:ignore SA1019 deprecated, but Docker's network setup is a prestart hook
		if err := runHooks("prestart", spec.Hooks.Prestart, st); err != nil {
			return cmd, err
		}
		if err := runHooks("createRuntime", spec.Hooks.CreateRuntime, st); err != nil {
			return cmd, err
		}
	}
	if o.PidFile != "" {
		if err := writePidFile(o.PidFile, s.Pid); err != nil {
			return cmd, err
		}
	}
	if !o.Foreground {
		// The sandbox outlives us; our caller's subreaper (containerd's
		// shim) adopts it.
		cmd.Process.Release()
	}
	return cmd, skippedHooks(spec.Hooks)
}

func writePidFile(path string, pid int) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// startSandbox starts "runsc boot" in new namespaces and waits until it
// reports that the sandbox is ready (or why it is not).
func (r Root) startSandbox(id, bundle string, spec *specs.Spec, o CreateOptions) (*exec.Cmd, error) {
	rd, wr, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	args := append(append([]string{"--root", string(r)}, o.BootArgs...), "boot", "--bundle", bundle, id)
	cmd := exec.Command(o.Self, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = o.Stdio[0], o.Stdio[1], o.Stdio[2]
	cmd.ExtraFiles = []*os.File{wr}
	attr := &syscall.SysProcAttr{Setsid: true}
	var joins []nsJoin
	if spec.Linux != nil {
		for _, ns := range spec.Linux.Namespaces {
			flag, ok := nsFlags[ns.Type]
			if !ok {
				wr.Close()
				return nil, fmt.Errorf("linux.namespaces: unsupported type %q", ns.Type)
			}
			if ns.Path != "" {
				joins = append(joins, nsJoin{ns.Path, flag})
			} else {
				attr.Cloneflags |= uintptr(flag)
			}
		}
	}
	if o.HostNetwork {
		attr.Cloneflags &^= unix.CLONE_NEWNET
		kept := joins[:0]
		for _, j := range joins {
			if j.flag != unix.CLONE_NEWNET {
				kept = append(kept, j)
			}
		}
		joins = kept
	}
	// The sandbox always has its own mount, UTS and IPC namespaces.
	attr.Cloneflags |= unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC
	attr.Cloneflags &^= unix.CLONE_NEWPID | unix.CLONE_NEWUSER | unix.CLONE_NEWCGROUP
	if spec.Process.Terminal {
		// The sandbox makes the console from its own /dev/pts.
		if o.ConsoleSocket == "" {
			wr.Close()
			return nil, fmt.Errorf("process.terminal is set but no --console-socket was given")
		}
		abs, err := filepath.Abs(o.ConsoleSocket)
		if err != nil {
			wr.Close()
			return nil, err
		}
		cmd.Args = append(cmd.Args[:len(cmd.Args)-1], "--console-socket", abs, id)
		// The program's stdio is the console: the sandbox must not keep
		// ours open (our caller reads them to their end).
		cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, nil, nil
	}
	cmd.SysProcAttr = attr
	err = startIn(cmd, joins)
	wr.Close()
	if err != nil {
		return nil, fmt.Errorf("starting sandbox: %w", err)
	}
	line, rerr := bufio.NewReader(rd).ReadString('\n')
	if strings.TrimSpace(line) == "ready" {
		return cmd, nil
	}
	cmd.Process.Kill()
	cmd.Wait()
	msg := strings.TrimSpace(strings.TrimPrefix(line, "error:"))
	if msg == "" {
		msg = fmt.Sprintf("sandbox exited before it was ready (%v)", rerr)
	}
	return nil, errors.New(msg)
}

var nsFlags = map[specs.LinuxNamespaceType]int{
	specs.PIDNamespace: unix.CLONE_NEWPID, specs.NetworkNamespace: unix.CLONE_NEWNET,
	specs.MountNamespace: unix.CLONE_NEWNS, specs.IPCNamespace: unix.CLONE_NEWIPC,
	specs.UTSNamespace: unix.CLONE_NEWUTS, specs.UserNamespace: unix.CLONE_NEWUSER,
	specs.CgroupNamespace: unix.CLONE_NEWCGROUP, specs.TimeNamespace: unix.CLONE_NEWTIME,
}

type nsJoin struct {
	path string
	flag int
}

// startIn starts cmd from a thread that has joined the namespaces named in
// joins, so the child is born in them. The thread is thrown away after.
func startIn(cmd *exec.Cmd, joins []nsJoin) error {
	if len(joins) == 0 {
		return cmd.Start()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Not unlocked: the thread has left our namespaces and must die.
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			errc <- err
			return
		}
		for _, j := range joins {
			if j.flag == unix.CLONE_NEWNS {
				continue
			}
			fd, err := unix.Open(j.path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				errc <- fmt.Errorf("linux.namespaces: %w", err)
				return
			}
			err = unix.Setns(fd, j.flag)
			unix.Close(fd)
			if err != nil {
				errc <- fmt.Errorf("linux.namespaces: join %s: %w", j.path, err)
				return
			}
		}
		errc <- cmd.Start()
	}()
	return <-errc
}

// Start lets a created container run its program, then runs the poststart
// hooks (whose failure is a *Warning).
func (r Root) Start(id string) error {
	l, s, err := r.lockLoad(id)
	if err != nil {
		return err
	}
	defer l.Close()
	if st := r.Status(s); st != Created {
		return fmt.Errorf("container %q is %s, not created", id, st)
	}
	dir, _ := r.dir(id)
	f, err := os.OpenFile(filepath.Join(dir, fifoName), os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return fmt.Errorf("container %q: sandbox is not waiting: %w", id, err)
	}
	defer f.Close()
	if _, err := f.Write([]byte{1}); err != nil {
		return fmt.Errorf("container %q: %w", id, err)
	}
	// Return once the sandbox has taken the start (it removes the FIFO),
	// so that state says running from now on.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if _, err := os.Stat(filepath.Join(dir, fifoName)); errors.Is(err, os.ErrNotExist) || !alive(s.Pid, s.StartTime) {
			if s.Hooks == nil {
				return nil
			}
			st := r.OCI(s).State
			st.Status = specs.StateRunning
			var w warnings
			w.add(runHooks("poststart", s.Hooks.Poststart, st))
			return w.err()
		}
	}
	return fmt.Errorf("container %q: sandbox did not start the program", id)
}

// Kill sends sig to the container (the sandbox forwards it to the program;
// all: to every process of the program).
func (r Root) Kill(id string, sig unix.Signal, all bool) error {
	s, err := r.Load(id)
	if err != nil {
		return err
	}
	st := r.Status(s)
	if st == Stopped {
		if all {
			return nil
		}
		return fmt.Errorf("container %q is not running", id)
	}
	if all {
		// Every process of the program: the sandbox's descendants but
		// its gofer and helpers.
		for _, pid := range descendants(s.Pid) {
			if !isRunsc(pid, s.Pid) {
				unix.Kill(pid, sig)
			}
		}
	}
	return unix.Kill(s.Pid, sig)
}

// Delete removes a stopped container; force kills a running one first.
func (r Root) Delete(id string, force bool) error {
	dir, err := r.dir(id)
	if err != nil {
		return err
	}
	s, err := r.Load(id)
	if err != nil {
		if errors.Is(err, ErrNotExist) && force {
			os.RemoveAll(dir)
			return nil
		}
		if !errors.Is(err, ErrNotExist) && force {
			// A half-created container: nothing to kill, just its state.
			return os.RemoveAll(dir)
		}
		return err
	}
	if st := r.Status(s); st != Stopped {
		if !force {
			return fmt.Errorf("cannot delete container %q that is %s: stop it or use --force", id, st)
		}
		unix.Kill(s.Pid, unix.SIGKILL)
		for i := 0; i < 500 && alive(s.Pid, s.StartTime); i++ {
			time.Sleep(10 * time.Millisecond)
		}
		if alive(s.Pid, s.StartTime) {
			return fmt.Errorf("container %q: sandbox %d did not die", id, s.Pid)
		}
	}
	if err := removeCgroup(s.Cgroup); err != nil {
		return fmt.Errorf("container %q: %w", id, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if s.Hooks == nil {
		return nil
	}
	var w warnings
	w.add(runHooks("poststop", s.Hooks.Poststop, r.OCI(s).State))
	return w.err()
}

// Pause freezes every process of the container (its cgroup's freezer).
func (r Root) Pause(id string) error { return r.setPaused(id, true) }

// Resume thaws a paused container.
func (r Root) Resume(id string) error { return r.setPaused(id, false) }

func (r Root) setPaused(id string, paused bool) error {
	l, s, err := r.lockLoad(id)
	if err != nil {
		return err
	}
	defer l.Close()
	st := r.Status(s)
	if paused && st != Running || !paused && st != Paused {
		return fmt.Errorf("container %q is %s", id, st)
	}
	if err := freeze(s.Cgroup, paused); err != nil {
		return fmt.Errorf("container %q: %w", id, err)
	}
	s.Paused = paused
	return r.save(s)
}

// lockLoad takes the container's lock and reads its state.
func (r Root) lockLoad(id string) (*os.File, *State, error) {
	l, err := r.lock(id)
	if err != nil {
		return nil, nil, err
	}
	s, err := r.Load(id)
	if err != nil {
		l.Close()
		return nil, nil, err
	}
	return l, s, nil
}
