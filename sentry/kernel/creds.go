package kernel

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
)

// HostCreds are a thread's ids and capabilities as the host kernel holds
// them. The program's setuid-family calls run natively (the kernel enforces
// their rules); the sentry then reads the result back from /proc.
type HostCreds struct {
	RUID, EUID, SUID, FSUID uint32
	RGID, EGID, SGID, FSGID uint32
	Groups                  []uint32
	CapEff, CapPrm          uint64
}

// ReadHostCreds reads /proc/<tid>/status.
func ReadHostCreds(tid int) (*HostCreds, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(tid) + "/status")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var c HostCreds
	s := bufio.NewScanner(f)
	for s.Scan() {
		key, val, ok := strings.Cut(s.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(val)
		switch key {
		case "Uid", "Gid":
			if len(fields) != 4 {
				return nil, fmt.Errorf("/proc/%d/status: bad %s line", tid, key)
			}
			ids := make([]uint32, 4)
			for i, fld := range fields {
				v, err := strconv.ParseUint(fld, 10, 32)
				if err != nil {
					return nil, err
				}
				ids[i] = uint32(v)
			}
			if key == "Uid" {
				c.RUID, c.EUID, c.SUID, c.FSUID = ids[0], ids[1], ids[2], ids[3]
			} else {
				c.RGID, c.EGID, c.SGID, c.FSGID = ids[0], ids[1], ids[2], ids[3]
			}
		case "Groups":
			for _, fld := range fields {
				v, err := strconv.ParseUint(fld, 10, 32)
				if err != nil {
					return nil, err
				}
				c.Groups = append(c.Groups, uint32(v))
			}
		case "CapEff", "CapPrm":
			if len(fields) != 1 {
				return nil, fmt.Errorf("/proc/%d/status: bad %s line", tid, key)
			}
			v, err := strconv.ParseUint(fields[0], 16, 64)
			if err != nil {
				return nil, err
			}
			if key == "CapEff" {
				c.CapEff = v
			} else {
				c.CapPrm = v
			}
		}
	}
	return &c, s.Err()
}

// FS returns the credentials file system checks use.
func (c *HostCreds) FS() *fs.Creds {
	return &fs.Creds{UID: c.FSUID, GID: c.FSGID, Groups: c.Groups, Caps: c.CapEff}
}

// Real returns the credentials access(2) checks with: the real ids, and
// capabilities only for root (Linux's access_override_creds).
func (c *HostCreds) Real() *fs.Creds {
	r := &fs.Creds{UID: c.RUID, GID: c.RGID, Groups: c.Groups}
	if c.RUID == 0 {
		r.Caps = c.CapPrm
	}
	return r
}

// credsState is a task's cached credentials and whether a set*id or capset
// call may have changed them (stale), or an exec its capabilities
// (capsStale), since they were read.
type credsState struct {
	host      atomic.Pointer[HostCreds]
	fs        atomic.Pointer[fs.Creds] // host's FS(), made once per change
	stale     atomic.Bool
	capsStale atomic.Bool
}

// set caches c, which is never changed afterwards.
func (cs *credsState) set(c *HostCreds) {
	cs.fs.Store(c.FS())
	cs.host.Store(c)
}

// CredsChanging records that the thread is about to change its
// credentials natively; they are read again before the next check.
func (t *Task) CredsChanging() { t.cs.stale.Store(true) }

// credsExeced follows an exec: the kernel set the saved and file-system
// ids to the effective ones and recomputed the capabilities (a non-root
// program loses those it kept with PR_SET_KEEPCAPS). Set-user-ID bits
// never apply (the platform sets no_new_privs), so the ids are known; the
// capabilities are read again (capget, far cheaper than /proc's status).
func (t *Task) credsExeced() {
	c := t.cs.host.Load()
	if c == nil || t.cs.stale.Load() {
		t.cs.stale.Store(true)
		return
	}
	n := *c
	n.SUID, n.FSUID = n.EUID, n.EUID
	n.SGID, n.FSGID = n.EGID, n.EGID
	t.cs.set(&n)
	t.cs.capsStale.Store(true)
}

func (t *Task) hostCreds() *HostCreds {
	switch {
	case t.cs.stale.Load():
		if c, err := ReadHostCreds(t.Tid()); err == nil {
			t.cs.set(c)
			t.cs.stale.Store(false)
			t.cs.capsStale.Store(false)
		}
	case t.cs.capsStale.CompareAndSwap(true, false):
		// Cleared first: an exec meanwhile sets it again.
		old := t.cs.host.Load()
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3, Pid: int32(t.Tid())}
		var data [2]unix.CapUserData
		if unix.Capget(&hdr, &data[0]) != nil {
			t.cs.capsStale.Store(true)
			break
		}
		n := *old
		n.CapEff = uint64(data[1].Effective)<<32 | uint64(data[0].Effective)
		n.CapPrm = uint64(data[1].Permitted)<<32 | uint64(data[0].Permitted)
		if t.cs.host.CompareAndSwap(old, &n) {
			t.cs.fs.Store(n.FS())
		} else {
			t.cs.capsStale.Store(true)
		}
	}
	return t.cs.host.Load()
}

// RealCreds returns the real-id credentials (for access(2)).
func (t *Task) RealCreds() *fs.Creds {
	if c := t.hostCreds(); c != nil {
		return c.Real()
	}
	return t.Creds()
}
