package platform

import (
	"bytes"
	"unsafe"

	"golang.org/x/sys/unix"
)

const pageSize = 4096

// Remote iovecs are cut at page boundaries so that a fault stops the copy at
// the exact page (process_vm_* report partial copies per iovec).
func pageIovecs(addr uint64, n int) []unix.RemoteIovec {
	var v []unix.RemoteIovec
	for n > 0 {
		chunk := pageSize - int(addr%pageSize)
		if chunk > n {
			chunk = n
		}
		v = append(v, unix.RemoteIovec{Base: uintptr(addr), Len: chunk})
		addr += uint64(chunk)
		n -= chunk
	}
	return v
}

// process_vm_* take at most IOV_MAX iovecs per call.
const iovMax = 1024

func vmCopy(tid int, addr uint64, b []byte, write bool) (int, error) {
	done := 0
	for done < len(b) {
		n := len(b) - done
		if n > iovMax*pageSize {
			n = iovMax * pageSize
		}
		local := []unix.Iovec{{Base: &b[done]}}
		local[0].SetLen(n)
		remote := pageIovecs(addr+uint64(done), n)
		var got int
		var err error
		if write {
			got, err = unix.ProcessVMWritev(tid, local, remote, 0)
		} else {
			got, err = unix.ProcessVMReadv(tid, local, remote, 0)
		}
		if err != nil {
			if err == unix.EFAULT && done > 0 {
				return done, unix.EFAULT
			}
			return done, err
		}
		done += got
		if got < n {
			return done, unix.EFAULT
		}
	}
	return done, nil
}

// ReadMemory copies the program's memory at addr into b. A short copy
// returns the bytes copied and EFAULT.
func (t *Task) ReadMemory(addr uint64, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	return vmCopy(t.TID, addr, b, false)
}

// WriteMemory copies b into the program's memory at addr.
func (t *Task) WriteMemory(addr uint64, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	return vmCopy(t.TID, addr, b, true)
}

// ReadString reads a NUL-terminated string of at most max bytes (without
// the NUL) at addr. With no NUL within max+1 bytes it returns the first max
// bytes and ENAMETOOLONG, which callers map to their own errno (for a path,
// PATH_MAX 4096 with max 4095 gives Linux's ENAMETOOLONG).
func (t *Task) ReadString(addr uint64, max int) (string, error) {
	var out []byte
	var page [pageSize]byte
	for len(out) <= max {
		chunk := pageSize - int(addr%pageSize)
		if rest := max + 1 - len(out); chunk > rest {
			chunk = rest
		}
		n, err := t.ReadMemory(addr, page[:chunk])
		if i := bytes.IndexByte(page[:n], 0); i >= 0 {
			return string(append(out, page[:i]...)), nil
		}
		if err != nil {
			return "", err
		}
		out = append(out, page[:n]...)
		addr += uint64(n)
	}
	return string(out[:max]), unix.ENAMETOOLONG
}

// ReadStringArray reads a NULL-terminated array of string pointers (argv,
// envp) with at most maxCount entries and maxBytes bytes in all; past
// either it returns E2BIG.
func (t *Task) ReadStringArray(addr uint64, maxCount, maxBytes int) ([]string, error) {
	var out []string
	total := 0
	for addr != 0 { // Linux takes a NULL array as empty.
		if total >= maxBytes {
			return nil, unix.E2BIG
		}
		var p [8]byte
		if _, err := t.ReadMemory(addr, p[:]); err != nil {
			return nil, err
		}
		ptr := *(*uint64)(unsafe.Pointer(&p[0]))
		if ptr == 0 {
			break
		}
		if len(out) == maxCount {
			return nil, unix.E2BIG
		}
		s, err := t.ReadString(ptr, maxBytes-total)
		if err == unix.ENAMETOOLONG {
			return nil, unix.E2BIG
		}
		if err != nil {
			return nil, err
		}
		total += len(s) + 1
		out = append(out, s)
		addr += 8
	}
	return out, nil
}
