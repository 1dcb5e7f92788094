package platform_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/platform"
	"runsc.dev/runsc/sentry/syscalls"
)

// benchHandler measures the mechanism, not a file system: fstat writes a
// fixed struct, open installs one pre-opened host fd, the rest continues.
type benchHandler struct {
	*testHandler
	fd int
}

func (h *benchHandler) Syscall(c *platform.Call) platform.Response {
	switch c.Nr {
	case unix.SYS_FSTAT, unix.SYS_NEWFSTATAT:
		buf := c.Args[1]
		if c.Nr == unix.SYS_NEWFSTATAT {
			buf = c.Args[2]
		}
		st := unix.Stat_t{Size: 1000012, Mode: unix.S_IFREG | 0o644}
		if _, err := c.WriteMemory(buf, unsafe.Slice((*byte)(unsafe.Pointer(&st)), unsafe.Sizeof(st))); err != nil {
			return platform.Fail(unix.EFAULT)
		}
		return platform.Return(0)
	case unix.SYS_OPEN, unix.SYS_OPENAT:
		addr := c.Args[0]
		if c.Nr == unix.SYS_OPENAT {
			addr = c.Args[1]
		}
		if _, err := c.ReadString(addr, 4095); err != nil {
			return platform.Fail(unix.EFAULT)
		}
		n, err := c.InstallFD(h.fd, false)
		if err != nil {
			return platform.Fail(err.(unix.Errno))
		}
		return platform.Return(int64(n))
	}
	return platform.Continue()
}

// placements of the program (pinned to CPU 0) and the receivers.
var placements = []struct {
	name string
	cfg  platform.Config
	pin  bool
}{
	{"free", platform.Config{Placement: platform.Free}, false},
	{"placed", platform.Config{}, false},
	{"same-cpu", platform.Config{Receivers: 1, ReceiverCPUs: []int{0}}, true},
	{"other-cpu", platform.Config{Receivers: 1, ReceiverCPUs: []int{1}}, true},
	{"per-cpu", platform.Config{Receivers: 2, ReceiverCPUs: []int{0, 1}}, true},
}

func runBench(b *testing.B, p *platform.Platform, prog, op string, n int, pin bool) float64 {
	b.Helper()
	args := []string{"platform", "bench", op, strconv.Itoa(n)}
	if pin {
		args = append(args, "0")
	}
	var out []byte
	if p == nil {
		var err error
		cmd := exec.Command(prog, args[1:]...)
		cmd.Env = []string{"BENCH_PATH=" + prog}
		if out, err = cmd.Output(); err != nil {
			b.Fatal(err)
		}
	} else {
		r, w, _ := os.Pipe()
		proc, err := p.Start(platform.Spec{Path: prog, Argv: args, Files: []*os.File{nil, w, w}})
		w.Close()
		if err != nil {
			b.Fatal(err)
		}
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(r)
		r.Close()
		if ws := proc.Wait(); !ws.Exited() || ws.ExitStatus() != 0 {
			b.Fatalf("status %#x: %s", int(ws), buf.String())
		}
		out = buf.Bytes()
	}
	var ns float64
	if _, err := fmt.Sscanf(strings.TrimSpace(string(out)), "ns %g", &ns); err != nil {
		b.Fatalf("output %q", out)
	}
	return ns
}

// BenchmarkTrap reports ns per call measured inside the program (the loop
// runs b.N calls), natively and under each receiver placement.
func BenchmarkTrap(b *testing.B) {
	if os.Getuid() != 0 {
		b.Skip("needs root")
	}
	if len(progs) == 0 {
		b.Fatal("test programs were not built")
	}
	prog := progs["glibc"]
	f, err := os.Open(filepath.Join(b.TempDir()))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	for _, op := range []string{"getppid", "fstat", "open"} {
		b.Run(op+"/native", func(b *testing.B) {
			b.ReportMetric(runBench(b, nil, prog, op, max(b.N, 1000), true), "ns/call")
		})
		for _, pl := range placements {
			b.Run(op+"/"+pl.name, func(b *testing.B) {
				h := &benchHandler{testHandler: newHandler(b), fd: int(f.Fd())}
				p, err := platform.New(h, syscalls.Policy(), syscalls.RestartNrs(), pl.cfg)
				if err != nil {
					b.Fatal(err)
				}
				defer p.Close()
				b.ReportMetric(runBench(b, p, prog, op, max(b.N, 1000), pl.pin), "ns/call")
			})
		}
	}
}
