package kernel

import (
	"bytes"
	"debug/elf"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
)

// maxInterpreters is how many "#!" scripts may run one another before the
// program itself (Linux's BINPRM_MAX_RECURSION).
const maxInterpreters = 4

// shebangMax is how much of a script's first line Linux reads.
const shebangMax = 256

// ExecPlan is how the platform runs an exec: execveat of File with Argv and
// Env. Exe is the VFS path /proc/self/exe should show.
type ExecPlan struct {
	File *os.File
	Argv []string
	Env  []string
	Exe  string
}

// ResolveExec finds everything an execve(path, argv, env) runs inside the
// VFS: the program, its "#!" interpreters and its ELF interpreter
// (PT_INTERP). Nothing is resolved on the host. A dynamic program is run
// as its interpreter with "--argv0 argv[0] program args...", so the
// interpreter opens the program and its libraries through trapped calls.
// set-user-ID and set-group-ID bits are ignored.
func (t *Task) ResolveExec(at fs.Loc, path string, flags int, argv, env []string) (*ExecPlan, error) {
	return t.k.ResolveExec(t.Context(), t.Cwd(), at, path, flags, argv, env)
}

// ResolveExec is Task.ResolveExec for a caller that is not a task yet (the
// first process): ctx is its identity and root, cwd its working directory.
func (k *Kernel) ResolveExec(ctx *fs.Context, cwd, at fs.Loc, path string, flags int, argv, env []string) (*ExecPlan, error) {
	v := k.VFS
	for depth := 0; ; depth++ {
		d, err := v.OpenExec(ctx, at, path, flags)
		if err != nil {
			return nil, err
		}
		exe := v.PathOf(ctx.Root, d.Loc())
		hdr := make([]byte, shebangMax)
		n, err := d.Pread(hdr, 0)
		if err != nil {
			d.Close()
			return nil, err
		}
		hdr = hdr[:n]
		if bytes.HasPrefix(hdr, []byte("#!")) {
			d.Close()
			if depth == maxInterpreters {
				return nil, unix.ELOOP
			}
			interp, arg, err := parseShebang(hdr)
			if err != nil {
				return nil, err
			}
			script := path
			if flags&unix.AT_EMPTY_PATH != 0 && path == "" || !strings.HasPrefix(path, "/") && at != cwd {
				script = exe
			}
			next := []string{interp}
			if arg != "" {
				next = append(next, arg)
			}
			next = append(next, script)
			if len(argv) > 1 {
				next = append(next, argv[1:]...)
			}
			argv, path, at, flags = next, interp, cwd, 0
			continue
		}
		plan, err := k.planELF(ctx, cwd, d, exe, argv, env)
		d.Close()
		return plan, err
	}
}

// parseShebang splits a "#!interpreter [arg]" line.
func parseShebang(hdr []byte) (string, string, error) {
	line := hdr[2:]
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	} else if len(hdr) == shebangMax {
		return "", "", unix.ENOEXEC
	}
	s := strings.Trim(string(line), " \t")
	if s == "" {
		return "", "", unix.ENOEXEC
	}
	interp, arg, _ := strings.Cut(s, " ")
	if i := strings.IndexByte(interp, '\t'); i >= 0 {
		interp, arg = interp[:i], interp[i+1:]+" "+arg
	}
	return interp, strings.Trim(arg, " \t"), nil
}

// planELF plans the exec of the ELF program d.
func (k *Kernel) planELF(ctx *fs.Context, cwd fs.Loc, d *fs.FileDescription, exe string, argv, env []string) (*ExecPlan, error) {
	r := io.NewSectionReader(descReader{d}, 0, 1<<62)
	ef, err := elf.NewFile(r)
	if err != nil {
		return nil, unix.ENOEXEC
	}
	if ef.Class != elf.ELFCLASS64 || ef.Machine != elf.EM_X86_64 || (ef.Type != elf.ET_EXEC && ef.Type != elf.ET_DYN) {
		return nil, unix.ENOEXEC
	}
	var interp string
	for _, p := range ef.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		if p.Filesz == 0 || p.Filesz > fs.PathMax {
			return nil, unix.ENOEXEC
		}
		b := make([]byte, p.Filesz)
		if _, err := p.ReadAt(b, 0); err != nil {
			return nil, unix.EIO
		}
		interp = string(bytes.TrimRight(b, "\x00"))
		if interp == "" || strings.IndexByte(interp, 0) >= 0 {
			return nil, unix.ENOEXEC
		}
	}
	if interp == "" {
		f, err := reopen(d)
		if err != nil {
			return nil, err
		}
		return &ExecPlan{File: f, Argv: argv, Env: env, Exe: exe}, nil
	}
	id, err := k.VFS.OpenExec(ctx, cwd, interp, 0)
	if err != nil {
		return nil, err
	}
	defer id.Close()
	f, err := reopen(id)
	if err != nil {
		return nil, err
	}
	argv0 := exe
	if len(argv) > 0 {
		argv0 = argv[0]
	}
	args := []string{interp, "--argv0", argv0, exe}
	if len(argv) > 1 {
		args = append(args, argv[1:]...)
	}
	return &ExecPlan{File: f, Argv: args, Env: env, Exe: exe}, nil
}

// reopen makes a read-only host file of d's data for execveat.
func reopen(d *fs.FileDescription) (*os.File, error) {
	if d.HostFD() < 0 {
		return nil, unix.EACCES
	}
	return d.Reopen(unix.O_RDONLY)
}

// descReader adapts a FileDescription to io.ReaderAt.
type descReader struct{ d *fs.FileDescription }

func (r descReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := r.d.Pread(p, off)
	if err == nil && n < len(p) {
		err = io.EOF
	}
	return n, err
}
