package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// withHooks sets the bundle's hooks.
func withHooks(t *testing.T, b string, hooks map[string]any) {
	t.Helper()
	editSpec(t, b, func(spec map[string]any) { spec["hooks"] = hooks })
}

// recordHook is a hook that appends its name and the state it got on stdin
// to log, one line each.
func recordHook(name, log string) map[string]any {
	return map[string]any{
		"path": "/bin/sh",
		"args": []string{"sh", "-c", `printf '%s ' "$NAME" >> "$LOG"; cat >> "$LOG"; echo >> "$LOG"`},
		"env":  []string{"NAME=" + name, "LOG=" + log},
	}
}

type hookLine struct {
	name  string
	state struct {
		OCIVersion string `json:"ociVersion"`
		ID, Status string
		Pid        int
		Bundle     string
	}
}

func readHookLog(t *testing.T, log string) []hookLine {
	t.Helper()
	raw, err := os.ReadFile(log)
	must(t, err)
	var out []hookLine
	for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		name, js, _ := strings.Cut(l, " ")
		h := hookLine{name: name}
		if err := json.Unmarshal([]byte(js), &h.state); err != nil {
			t.Fatalf("hook %s got %q: %v", name, js, err)
		}
		out = append(out, h)
	}
	return out
}

// TestHooks runs a container with every host hook and checks their order
// and the state each got, as runc gives them (Docker's network setup is a
// prestart hook).
func TestHooks(t *testing.T) {
	r := newRunsc(t)
	log := filepath.Join(t.TempDir(), "hooks.log")
	b := bundle(t, "/bin/sh", "-c", "sleep 30")
	withHooks(t, b, map[string]any{
		"prestart":        []any{recordHook("prestart", log)},
		"createRuntime":   []any{recordHook("createRuntime", log)},
		"createContainer": []any{recordHook("createContainer", log)},
		"poststart":       []any{recordHook("poststart", log)},
		"poststop":        []any{recordHook("poststop", log)},
	})
	out, code := r.run("create", "--bundle", b, "h")
	if code != 0 || !strings.Contains(out, "createContainer hook(s) skipped") {
		t.Fatalf("create: %q %d", out, code)
	}
	if out, code := r.run("start", "h"); code != 0 {
		t.Fatalf("start: %s", out)
	}
	var st struct{ Pid int }
	stOut, _ := r.run("state", "h")
	must(t, json.Unmarshal([]byte(stOut), &st))
	if out, code := r.run("delete", "--force", "h"); code != 0 {
		t.Fatalf("delete: %s", out)
	}
	got := readHookLog(t, log)
	want := []struct {
		name, status string
		pid          bool
	}{{"prestart", "creating", true}, {"createRuntime", "creating", true}, {"poststart", "running", true}, {"poststop", "stopped", false}}
	if len(got) != len(want) {
		t.Fatalf("hooks ran: %+v", got)
	}
	for i, w := range want {
		g := got[i]
		if g.name != w.name || g.state.Status != w.status || g.state.ID != "h" || g.state.Bundle != b || g.state.OCIVersion == "" || (g.state.Pid == st.Pid) != w.pid {
			t.Errorf("hook %d: %s got %+v, want %s with status %s (pid %d: %v)", i, g.name, g.state, w.name, w.status, st.Pid, w.pid)
		}
	}
}

// TestFailingHooks checks that a failing prestart hook fails create and
// leaves nothing behind but runs poststop, that a hook past its timeout is
// killed, and that a failing poststart hook is only a warning.
func TestFailingHooks(t *testing.T) {
	r := newRunsc(t)
	log := filepath.Join(t.TempDir(), "hooks.log")
	b := bundle(t, "/bin/sh", "-c", "sleep 30")
	withHooks(t, b, map[string]any{
		"prestart": []any{map[string]any{"path": "/bin/sh", "args": []string{"sh", "-c", "echo no network >&2; exit 3"}}},
		"poststop": []any{recordHook("poststop", log)},
	})
	out, code := r.run("create", "--bundle", b, "f")
	if code == 0 || !strings.Contains(out, "prestart hook #0") || !strings.Contains(out, "no network") {
		t.Errorf("create with a failing prestart hook: %q %d", out, code)
	}
	if got := readHookLog(t, log); len(got) != 1 || got[0].name != "poststop" {
		t.Errorf("poststop after the failed create: %+v", got)
	}
	if ents, _ := os.ReadDir(r.root); len(ents) != 0 {
		t.Errorf("state left behind: %v", ents)
	}
	timeout := 1
	withHooks(t, b, map[string]any{
		"createRuntime": []any{map[string]any{"path": "/bin/sleep", "args": []string{"sleep", "30"}, "timeout": timeout}},
	})
	out, code = r.run("create", "--bundle", b, "f")
	if code == 0 || !strings.Contains(out, "timed out after 1s") {
		t.Errorf("create with a hanging hook: %q %d", out, code)
	}
	withHooks(t, b, map[string]any{
		"poststart": []any{map[string]any{"path": "/bin/false"}},
	})
	out, code = r.run("run", "--detach", "--bundle", b, "f")
	if code != 0 || !strings.Contains(out, "poststart hook #0") {
		t.Errorf("run with a failing poststart hook: %q %d", out, code)
	}
	if got := r.status("f"); got != "running" {
		t.Errorf("after a failing poststart hook: %s", got)
	}
	withHooks(t, b, map[string]any{"prestart": []any{map[string]any{"path": "relative/hook"}}})
	if out, code := r.run("create", "--bundle", b, "g"); code == 0 || !strings.Contains(out, "hooks.prestart[0].path") {
		t.Errorf("relative hook path: %q %d", out, code)
	}
}
