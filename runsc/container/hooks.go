package container

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Hooks (runtime-spec config.md, "POSIX-platform Hooks", and runtime.md,
// "Lifecycle"). prestart and createRuntime run at create once the sandbox
// and its namespaces exist, poststart after start, poststop after delete:
// all in the runtime's namespaces, as runc runs them (Docker's network
// setup is a prestart hook that configures the sandbox's network
// namespace through its pid). createContainer and startContainer would run
// in the container's mount namespace, which here is the sentry's VFS where
// no host program runs: like gVisor, runsc skips them with a warning.

// Warning is a failure the lifecycle goes on after (a poststart or
// poststop hook, a skipped hook); the CLI reports it and succeeds.
type Warning struct{ Msgs []string }

func (w *Warning) Error() string { return strings.Join(w.Msgs, "; ") }

// warnings collects non-fatal failures into a *Warning, or nil.
type warnings []string

func (w *warnings) add(err error) {
	if err != nil {
		*w = append(*w, err.Error())
	}
}

func (w warnings) err() error {
	if len(w) == 0 {
		return nil
	}
	return &Warning{Msgs: w}
}

// checkHooks validates the hooks of a spec: absolute paths, positive
// timeouts.
func checkHooks(h *specs.Hooks) error {
	if h == nil {
		return nil
	}
	for name, hooks := range hookLists(h) {
		for i, hook := range hooks {
			if !filepath.IsAbs(hook.Path) {
				return fmt.Errorf("hooks.%s[%d].path: %q is not an absolute path", name, i, hook.Path)
			}
			if hook.Timeout != nil && *hook.Timeout <= 0 {
				return fmt.Errorf("hooks.%s[%d].timeout: %d is not positive", name, i, *hook.Timeout)
			}
		}
	}
	return nil
}

func hookLists(h *specs.Hooks) map[string][]specs.Hook {
	return map[string][]specs.Hook{
		//lint:ignore SA1019 deprecated, but Docker's network setup is a prestart hook
		"prestart": h.Prestart, "createRuntime": h.CreateRuntime, "createContainer": h.CreateContainer,
		"startContainer": h.StartContainer, "poststart": h.Poststart, "poststop": h.Poststop,
	}
}

// skippedHooks reports the hooks that runsc does not run.
func skippedHooks(h *specs.Hooks) error {
	if h == nil {
		return nil
	}
	var w warnings
	for name, hooks := range map[string][]specs.Hook{"createContainer": h.CreateContainer, "startContainer": h.StartContainer} {
		if len(hooks) > 0 {
			w.add(fmt.Errorf("%d %s hook(s) skipped: they would run in the container's mount namespace, which is the sandbox's own", len(hooks), name))
		}
	}
	return w.err()
}

// runHooks runs hooks in order, each with the state on its stdin, and
// stops at the first failure.
func runHooks(name string, hooks []specs.Hook, st specs.State) error {
	if len(hooks) == 0 {
		return nil
	}
	state, err := json.Marshal(st)
	if err != nil {
		return err
	}
	for i, h := range hooks {
		if err := runHook(h, state); err != nil {
			return fmt.Errorf("%s hook #%d (%s): %w", name, i, h.Path, err)
		}
	}
	return nil
}

// runHook runs one hook with exactly its args and env, killing it after its
// timeout.
func runHook(h specs.Hook, state []byte) error {
	cmd := exec.Command(h.Path)
	if len(h.Args) > 0 {
		cmd.Args = h.Args
	}
	cmd.Env = append([]string{}, h.Env...)
	cmd.Stdin = bytes.NewReader(state)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// A hook that leaves a child holding its output must not hang us.
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var timeout <-chan time.Time
	if h.Timeout != nil {
		t := time.NewTimer(time.Duration(*h.Timeout) * time.Second)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case err := <-done:
		if err != nil {
			if msg := strings.TrimSpace(out.String()); msg != "" {
				return fmt.Errorf("%w: %s", err, msg)
			}
		}
		return err
	case <-timeout:
		cmd.Process.Kill()
		<-done
		return errors.New("timed out after " + fmt.Sprint(*h.Timeout) + "s")
	}
}
