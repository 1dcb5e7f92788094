package kernel

import (
	"bytes"
	"encoding/binary"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

func TestELFInterp(t *testing.T) {
	dyn, err := os.ReadFile("/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	static, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	mutate := func(b []byte, off int, v []byte) []byte {
		c := bytes.Clone(b)
		copy(c[off:], v)
		return c
	}
	le16 := func(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }
	for _, c := range []struct {
		name   string
		file   []byte
		interp string
		err    error
	}{
		{"dynamic", dyn, "/lib64/ld-linux-x86-64.so.2", nil},
		{"static", static, "", nil},
		{"script", []byte("#!/bin/sh\n"), "", unix.ENOEXEC},
		{"truncated header", dyn[:40], "", unix.ENOEXEC},
		{"truncated program headers", dyn[:100], "", unix.ENOEXEC},
		{"32-bit", mutate(dyn, 4, []byte{1}), "", unix.ENOEXEC},
		{"big-endian", mutate(dyn, 5, []byte{2}), "", unix.ENOEXEC},
		{"other machine", mutate(dyn, 18, le16(183)), "", unix.ENOEXEC},
		{"relocatable", mutate(dyn, 16, le16(1)), "", unix.ENOEXEC},
		{"wrong phentsize", mutate(dyn, 54, le16(32)), "", unix.ENOEXEC},
		{"no program headers", mutate(dyn, 56, le16(0)), "", unix.ENOEXEC},
	} {
		got, err := elfInterp(bytes.NewReader(c.file))
		if got != c.interp || err != c.err {
			t.Errorf("%s: got %q, %v; want %q, %v", c.name, got, err, c.interp, c.err)
		}
	}
}
