package kernel

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"
)

// elfImage builds an x86-64 executable's header, two program headers and,
// if interp is not nil, a PT_INTERP segment holding it.
func elfImage(interp []byte) []byte {
	const phoff = 64
	le := binary.LittleEndian
	var img bytes.Buffer
	h := elf.Header64{Type: uint16(elf.ET_EXEC), Machine: uint16(elf.EM_X86_64), Version: 1,
		Phoff: phoff, Ehsize: 64, Phentsize: 56, Phnum: 2}
	copy(h.Ident[:], elf.ELFMAG)
	h.Ident[elf.EI_CLASS], h.Ident[elf.EI_DATA], h.Ident[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), 1
	binary.Write(&img, le, h)
	load := elf.Prog64{Type: uint32(elf.PT_LOAD), Flags: uint32(elf.PF_R | elf.PF_X), Align: 4096}
	second := elf.Prog64{Type: uint32(elf.PT_NOTE)}
	if interp != nil {
		second = elf.Prog64{Type: uint32(elf.PT_INTERP), Flags: uint32(elf.PF_R), Off: phoff + 2*56, Filesz: uint64(len(interp)), Memsz: uint64(len(interp)), Align: 1}
	}
	binary.Write(&img, le, load)
	binary.Write(&img, le, second)
	img.Write(interp)
	return img.Bytes()
}

func TestELFInterp(t *testing.T) {
	dyn := elfImage([]byte("/lib64/ld-linux-x86-64.so.2\x00"))
	set := func(b []byte, off int, v ...byte) []byte {
		c := bytes.Clone(b)
		copy(c[off:], v)
		return c
	}
	for _, c := range []struct {
		name   string
		file   []byte
		interp string
		err    error
	}{
		{"dynamic", dyn, "/lib64/ld-linux-x86-64.so.2", nil},
		{"static", elfImage(nil), "", nil},
		{"text after the interpreter's NUL", elfImage([]byte("/a\x00b\x00")), "/a", nil},
		{"interpreter without a NUL", elfImage([]byte("/lib/ld.so")), "", unix.ENOEXEC},
		{"empty interpreter", elfImage([]byte("\x00\x00")), "", unix.ENOENT},
		{"one-byte interpreter", elfImage([]byte("\x00")), "", unix.ENOEXEC},
		{"interpreter past the end", dyn[:len(dyn)-4], "", unix.EIO},
		{"script", []byte("#!/bin/sh\n"), "", unix.ENOEXEC},
		{"truncated header", dyn[:40], "", unix.ENOEXEC},
		{"truncated program headers", dyn[:100], "", unix.ENOEXEC},
		{"32-bit", set(dyn, elf.EI_CLASS, byte(elf.ELFCLASS32)), "", unix.ENOEXEC},
		{"big-endian", set(dyn, elf.EI_DATA, byte(elf.ELFDATA2MSB)), "", unix.ENOEXEC},
		{"other machine", set(dyn, 18, byte(elf.EM_AARCH64)), "", unix.ENOEXEC},
		{"relocatable", set(dyn, 16, byte(elf.ET_REL)), "", unix.ENOEXEC},
		{"wrong phentsize", set(dyn, 54, 32), "", unix.ENOEXEC},
		{"no program headers", set(dyn, 56, 0), "", unix.ENOEXEC},
	} {
		got, err := elfInterp(bytes.NewReader(c.file))
		if got != c.interp || err != c.err {
			t.Errorf("%s: got %q, %v; want %q, %v", c.name, got, err, c.interp, c.err)
		}
	}
}
