package kernel

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
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
	interp, err := elfInterp(descReader{d})
	if err != nil {
		return nil, err
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

// elfInterp checks that r is an x86-64 program and returns its ELF
// interpreter (PT_INTERP), "" for a static one. Like Linux's
// load_elf_binary it reads the file header and the whole program header
// table, and nothing else (the section headers elf.NewFile parses cost an
// exec tens of microseconds).
func elfInterp(r io.ReaderAt) (string, error) {
	const ehdrSize, phdrSize = 64, 56 // Elf64_Ehdr, Elf64_Phdr
	le := binary.LittleEndian
	h := make([]byte, ehdrSize)
	if _, err := r.ReadAt(h, 0); err != nil {
		return "", unix.ENOEXEC
	}
	typ, machine := elf.Type(le.Uint16(h[16:])), elf.Machine(le.Uint16(h[18:]))
	if string(h[:4]) != elf.ELFMAG || elf.Class(h[elf.EI_CLASS]) != elf.ELFCLASS64 ||
		elf.Data(h[elf.EI_DATA]) != elf.ELFDATA2LSB || machine != elf.EM_X86_64 ||
		(typ != elf.ET_EXEC && typ != elf.ET_DYN) {
		return "", unix.ENOEXEC
	}
	phoff, phentsize, phnum := le.Uint64(h[32:]), le.Uint16(h[54:]), le.Uint16(h[56:])
	if phentsize != phdrSize || phnum < 1 || int(phnum) > 65536/phdrSize {
		return "", unix.ENOEXEC
	}
	table := make([]byte, int(phnum)*phdrSize)
	if _, err := r.ReadAt(table, int64(phoff)); err != nil {
		return "", unix.ENOEXEC
	}
	for p := table; len(p) > 0; p = p[phdrSize:] {
		if elf.ProgType(le.Uint32(p)) != elf.PT_INTERP {
			continue
		}
		off, size := le.Uint64(p[8:]), le.Uint64(p[32:])
		// The path must end in a NUL; what follows its first NUL is
		// ignored.
		if size < 2 || size > fs.PathMax {
			return "", unix.ENOEXEC
		}
		b := make([]byte, size)
		if _, err := r.ReadAt(b, int64(off)); err != nil {
			return "", unix.EIO
		}
		if b[size-1] != 0 {
			return "", unix.ENOEXEC
		}
		if b[0] == 0 {
			return "", unix.ENOENT // Linux opens "" for it
		}
		return string(b[:bytes.IndexByte(b, 0)]), nil
	}
	return "", nil
}

// reopen makes a read-only host file of d's data for execveat.
func reopen(d *fs.FileDescription) (*os.File, error) {
	if d.HostFD() < 0 {
		return nil, unix.EACCES
	}
	fd, err := d.Reopen(unix.O_RDONLY)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), "exec"), nil
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
