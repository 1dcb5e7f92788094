package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/subcommands"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

type specCmd struct{ bundle string }

func (*specCmd) Name() string     { return "spec" }
func (*specCmd) Synopsis() string { return "write a default config.json to the bundle" }
func (*specCmd) Usage() string    { return "spec [--bundle DIR]\n" }
func (s *specCmd) SetFlags(f *flag.FlagSet) {
	f.StringVar(&s.bundle, "bundle", ".", "directory to write config.json to")
	f.StringVar(&s.bundle, "b", ".", "short for --bundle")
}

func (s *specCmd) Execute(context.Context, *flag.FlagSet, ...any) subcommands.ExitStatus {
	path := filepath.Join(s.bundle, "config.json")
	if _, err := os.Stat(path); err == nil {
		return failure(fmt.Errorf("%s already exists", path))
	}
	b, err := json.MarshalIndent(defaultSpec(), "", "\t")
	if err != nil {
		return failure(err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return failure(err)
	}
	return subcommands.ExitSuccess
}

// defaultSpec is runc's default: sh on a terminal, rootfs/ read-only.
func defaultSpec() *specs.Spec {
	return &specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{
			Terminal:        true,
			Args:            []string{"sh"},
			Env:             []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"},
			Cwd:             "/",
			NoNewPrivileges: true,
		},
		Root:     &specs.Root{Path: "rootfs", Readonly: true},
		Hostname: "runsc",
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace}, {Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace}, {Type: specs.MountNamespace},
			},
		},
	}
}

type features struct{}

func (*features) Name() string { return "features" }
func (*features) Synopsis() string {
	return "print what this runtime supports, as JSON (like runc features)"
}
func (*features) Usage() string          { return "features\n" }
func (*features) SetFlags(*flag.FlagSet) {}
func (*features) Execute(context.Context, *flag.FlagSet, ...any) subcommands.ExitStatus {
	b, _ := json.MarshalIndent(map[string]any{
		"ociVersionMin": "1.0.0",
		"ociVersionMax": specs.Version,
		"hooks":         []string{},
		"mountOptions":  []string{"ro", "rw", "nosuid", "suid", "nodev", "dev", "noexec", "exec", "noatime", "bind", "rbind"},
		"linux": map[string]any{
			"namespaces": []string{"cgroup", "ipc", "mount", "network", "pid", "uts"},
		},
	}, "", "    ")
	fmt.Println(string(b))
	return subcommands.ExitSuccess
}

type install struct {
	config  string
	runtime string
}

func (*install) Name() string     { return "install" }
func (*install) Synopsis() string { return "register runsc as a Docker runtime in daemon.json" }
func (*install) Usage() string {
	return "install [--config-file FILE] [--runtime NAME] [-- RUNTIME-ARGS...]\n\nAdds (or updates) the runtime in Docker's daemon.json and keeps every other\nsetting. Restart dockerd afterwards.\n"
}
func (i *install) SetFlags(f *flag.FlagSet) {
	f.StringVar(&i.config, "config-file", "/etc/docker/daemon.json", "Docker daemon configuration file")
	f.StringVar(&i.runtime, "runtime", "runsc", "runtime name Docker will know")
}

func (i *install) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	conf := map[string]any{}
	b, err := os.ReadFile(i.config)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return failure(err)
	case len(b) > 0:
		if err := json.Unmarshal(b, &conf); err != nil {
			return failure(fmt.Errorf("%s: %w", i.config, err))
		}
	}
	runtimes, _ := conf["runtimes"].(map[string]any)
	if runtimes == nil {
		runtimes = map[string]any{}
	}
	entry := map[string]any{"path": self()}
	if f.NArg() > 0 {
		entry["runtimeArgs"] = f.Args()
	}
	runtimes[i.runtime] = entry
	conf["runtimes"] = runtimes
	out, err := json.MarshalIndent(conf, "", "    ")
	if err != nil {
		return failure(err)
	}
	if err := os.MkdirAll(filepath.Dir(i.config), 0o755); err != nil {
		return failure(err)
	}
	tmp := i.config + ".tmp"
	if err := os.WriteFile(tmp, append(out, '\n'), 0o644); err != nil {
		return failure(err)
	}
	if err := os.Rename(tmp, i.config); err != nil {
		return failure(err)
	}
	fmt.Printf("runtime %q registered in %s; restart dockerd to use it\n", i.runtime, i.config)
	return subcommands.ExitSuccess
}
