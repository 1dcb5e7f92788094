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
// interpreter (PT_INTERP), "" for a static one. Like Linux it reads the
// file header and the whole program header table, and nothing else (the
// section headers elf.NewFile parses cost an exec tens of microseconds).
func elfInterp(r io.ReaderAt) (string, error) {
	var h elf.Header64
	hb := make([]byte, binary.Size(h))
	if _, err := r.ReadAt(hb, 0); err != nil {
		return "", unix.ENOEXEC
	}
	if _, err := binary.Decode(hb, binary.LittleEndian, &h); err != nil {
		return "", unix.ENOEXEC
	}
	if string(h.Ident[:4]) != elf.ELFMAG || elf.Class(h.Ident[elf.EI_CLASS]) != elf.ELFCLASS64 ||
		elf.Data(h.Ident[elf.EI_DATA]) != elf.ELFDATA2LSB || elf.Machine(h.Machine) != elf.EM_X86_64 ||
		(elf.Type(h.Type) != elf.ET_EXEC && elf.Type(h.Type) != elf.ET_DYN) {
		return "", unix.ENOEXEC
	}
	var p elf.Prog64
	size := binary.Size(p)
	if int(h.Phentsize) != size || h.Phnum < 1 || int(h.Phnum) > 65536/size {
		return "", unix.ENOEXEC
	}
	table := make([]byte, int(h.Phnum)*size)
	if _, err := r.ReadAt(table, int64(h.Phoff)); err != nil {
		return "", unix.ENOEXEC
	}
	for off := 0; off < len(table); off += size {
		if _, err := binary.Decode(table[off:], binary.LittleEndian, &p); err != nil {
			return "", unix.ENOEXEC
		}
		if elf.ProgType(p.Type) != elf.PT_INTERP {
			continue
		}
		if p.Filesz == 0 || p.Filesz > fs.PathMax {
			return "", unix.ENOEXEC
		}
		b := make([]byte, p.Filesz)
		if _, err := r.ReadAt(b, int64(p.Off)); err != nil {
			return "", unix.EIO
		}
		interp := string(bytes.TrimRight(b, "\x00"))
		if interp == "" || strings.IndexByte(interp, 0) >= 0 {
			return "", unix.ENOEXEC
		}
		return interp, nil
	}
	return "", nil
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
