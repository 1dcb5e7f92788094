// Package container is the library behind the runsc CLI: the life cycle of
// OCI containers (create, start, state, kill, delete) on top of boot's
// sandboxes, with their state kept under a root directory like runc's.
//
// A container is one sandbox process ("runsc boot", started by create and
// reparented to the caller's subreaper, e.g. containerd's shim), which
// starts its gofer and waits on the start FIFO before running the program.
// Its pid is the container's pid: it exits with the program's status and
// forwards the signals it gets to the program.
package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Status values of the OCI state.
const (
	Creating = "creating"
	Created  = "created"
	Running  = "running"
	Stopped  = "stopped"
	Paused   = "paused"
)

// State is what runsc keeps about a container in <root>/<id>/state.json.
type State struct {
	ID         string            `json:"id"`
	Pid        int               `json:"pid"`
	Bundle     string            `json:"bundle"`
	Rootfs     string            `json:"rootfs"`
	Created    time.Time         `json:"created"`
	Owner      string            `json:"owner"`
	Annotation map[string]string `json:"annotations,omitempty"`
	// StartTime is the sandbox process's start time (field 22 of
	// /proc/<pid>/stat), so a reused pid is not mistaken for it.
	StartTime uint64 `json:"startTime"`
	Paused    bool   `json:"paused,omitempty"`
	// Cgroup is the container's cgroup path (linux.cgroupsPath).
	Cgroup string `json:"cgroup,omitempty"`
	// Hooks are the spec's, for start and delete (the bundle may be gone).
	Hooks *specs.Hooks `json:"hooks,omitempty"`
}

// OCIState is the state printed by "runsc state" (runtime-spec's State).
type OCIState struct {
	specs.State
	Rootfs  string    `json:"rootfs,omitempty"`
	Created time.Time `json:"created"`
	Owner   string    `json:"owner"`
}

var validID = regexp.MustCompile(`^[\w+\-.]+$`)

// Root is a state directory holding one subdirectory per container.
type Root string

func (r Root) dir(id string) (string, error) {
	if !validID.MatchString(id) || id == "." || id == ".." {
		return "", fmt.Errorf("invalid container id %q", id)
	}
	return filepath.Join(string(r), id), nil
}

// ErrNotExist is returned for a container that is not there.
var ErrNotExist = errors.New("container does not exist")

// Load reads a container's state.
func (r Root) Load(id string) (*State, error) {
	dir, err := r.dir(id)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("container %q: %w", id, ErrNotExist)
	}
	if err != nil {
		return nil, err
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("container %q: corrupt state: %w", id, err)
	}
	return &s, nil
}

// save writes the state atomically.
func (r Root) save(s *State) error {
	dir, err := r.dir(s.ID)
	if err != nil {
		return err
	}
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, "state.json.tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, "state.json"))
}

// List returns the ids of all containers.
func (r Root) List() ([]string, error) {
	ents, err := os.ReadDir(string(r))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range ents {
		if e.IsDir() {
			if _, err := os.Stat(filepath.Join(string(r), e.Name(), "state.json")); err == nil {
				ids = append(ids, e.Name())
			}
		}
	}
	return ids, nil
}

// lock takes the container's lock (flock on <dir>/lock) for one command.
func (r Root) lock(id string) (*os.File, error) {
	dir, err := r.dir(id)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("container %q: %w", id, ErrNotExist)
	}
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// Status works out the container's status from its process and start FIFO.
func (r Root) Status(s *State) string {
	if !alive(s.Pid, s.StartTime) {
		return Stopped
	}
	if s.Paused {
		return Paused
	}
	dir, _ := r.dir(s.ID)
	if _, err := os.Stat(filepath.Join(dir, fifoName)); err == nil {
		return Created
	}
	return Running
}

// OCI returns the state as runtime-spec defines it.
func (r Root) OCI(s *State) OCIState {
	st := OCIState{Rootfs: s.Rootfs, Created: s.Created, Owner: s.Owner}
	st.Version = specs.Version
	st.ID = s.ID
	st.Status = specs.ContainerState(r.Status(s))
	if st.Status != specs.StateStopped {
		st.Pid = s.Pid
	}
	st.Bundle = s.Bundle
	st.Annotations = s.Annotation
	return st
}

// alive reports whether pid is still the process that started at start.
func alive(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	got, err := processStart(pid)
	if err != nil {
		return false
	}
	if start != 0 && got != start {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// A zombie (state Z) has exited.
	return !zombie(b)
}
