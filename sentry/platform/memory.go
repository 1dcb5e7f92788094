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
	return (&pageReader{t: t}).string(addr, max)
}

// ReadStringArray reads a NULL-terminated array of string pointers (argv,
// envp) with at most maxCount entries and maxBytes bytes in all; past
// either it returns E2BIG.
func (t *Task) ReadStringArray(addr uint64, maxCount, maxBytes int) ([]string, error) {
	// One reader for the pointers and one for the strings, which are
	// often on other pages (an argv built with malloc).
	ptrs, strs := &pageReader{t: t}, &pageReader{t: t}
	var out []string
	total := 0
	for addr != 0 { // Linux takes a NULL array as empty.
		if total >= maxBytes {
			return nil, unix.E2BIG
		}
		var p [8]byte
		if err := ptrs.read(addr, p[:]); err != nil {
			return nil, err
		}
		ptr := *(*uint64)(unsafe.Pointer(&p[0]))
		if ptr == 0 {
			break
		}
		if len(out) == maxCount {
			return nil, unix.E2BIG
		}
		s, err := strs.string(ptr, maxBytes-total)
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

// pageReader reads the program's memory up to the end of a page at a time
// and keeps what it read: the strings of argv and envp and their pointer
// arrays share a few pages, which it then copies about once each instead
// of once per string. Memory is readable by whole pages, so reading to the
// end of one fails only where the program's own read would.
type pageReader struct {
	t     *Task
	start uint64 // address of buf[0]
	n     int    // bytes of buf read; 0 if none
	buf   [pageSize]byte
}

// page returns the memory from addr to the end of its page.
func (r *pageReader) page(addr uint64) ([]byte, error) {
	if r.n == 0 || addr < r.start || addr >= r.start+uint64(r.n) {
		n := pageSize - int(addr%pageSize)
		r.n = 0
		if _, err := r.t.ReadMemory(addr, r.buf[:n]); err != nil {
			return nil, err
		}
		r.start, r.n = addr, n
	}
	return r.buf[addr-r.start : r.n], nil
}

// read fills b from addr.
func (r *pageReader) read(addr uint64, b []byte) error {
	for len(b) > 0 {
		p, err := r.page(addr)
		if err != nil {
			return err
		}
		n := copy(b, p)
		b, addr = b[n:], addr+uint64(n)
	}
	return nil
}

// string is Task.ReadString through the page cache.
func (r *pageReader) string(addr uint64, max int) (string, error) {
	var out []byte
	for len(out) <= max {
		p, err := r.page(addr)
		if err != nil {
			return "", err
		}
		if rest := max + 1 - len(out); len(p) > rest {
			p = p[:rest]
		}
		if i := bytes.IndexByte(p, 0); i >= 0 {
			return string(append(out, p[:i]...)), nil
		}
		out = append(out, p...)
		addr += uint64(len(p))
	}
	return string(out[:max]), unix.ENAMETOOLONG
}
