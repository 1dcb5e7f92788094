package sys_test

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
	"runsc.dev/runsc/sentry/fs/sys"
	"runsc.dev/runsc/sentry/fs/tmpfs"
)

func TestTree(t *testing.T) {
	v := fs.New(tmpfs.New(tmpfs.Options{Mode: 0o755}), 0, "rootfs")
	ctx := &fs.Context{Creds: fs.Root(), Root: v.Root()}
	if err := v.Mkdir(ctx, v.Root(), "/sys", 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Mount(ctx, v.Root(), "/sys", sys.New([]string{"/fs/cgroup", "/firmware"}), fs.MountReadOnly, "sysfs"); err != nil {
		t.Fatal(err)
	}
	d, err := v.Open(ctx, v.Root(), "/sys", fs.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	d.Getdents(func(e fs.DirEntry) bool { names = append(names, e.Name); return true })
	d.Close()
	if got := strings.Join(names, " "); got != ". .. class devices fs kernel firmware" {
		t.Errorf("/sys: %s", got)
	}
	for path, want := range map[string]string{
		"/sys/devices/system/cpu/online":                              "0",
		"/sys/kernel/mm/transparent_hugepage/enabled":                 "[",
		"/sys/devices/system/cpu/possible":                            "0",
		"/sys/class/net/lo/operstate":                                 "unknown",
		"/sys/fs/cgroup/../../kernel/mm/transparent_hugepage/enabled": "never",
	} {
		f, err := v.Open(ctx, v.Root(), path, fs.OpenHow{Flags: unix.O_RDONLY})
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		b := make([]byte, 256)
		n, _ := f.Read(b)
		f.Close()
		if !strings.Contains(string(b[:n]), want) {
			t.Errorf("%s = %q, want %q in it", path, b[:n], want)
		}
	}
	if err := v.Mkdir(ctx, v.Root(), "/sys/x", 0o755); err != unix.EROFS {
		t.Errorf("mkdir in /sys: %v, want EROFS", err)
	}
	if _, err := v.Open(ctx, v.Root(), "/sys/devices/system/cpu/online", fs.OpenHow{Flags: unix.O_WRONLY}); err != unix.EROFS {
		t.Errorf("open for writing: %v, want EROFS", err)
	}
}
