package kernel

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"

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
// call may have changed them since they were read.
type credsState struct {
	host  atomic.Pointer[HostCreds]
	stale atomic.Bool
}

// CredsChanging records that the thread is about to change its
// credentials natively; they are read again before the next check.
func (t *Task) CredsChanging() { t.cs.stale.Store(true) }

func (t *Task) hostCreds() *HostCreds {
	if t.cs.stale.Load() {
		if c, err := ReadHostCreds(t.tid); err == nil {
			t.cs.host.Store(c)
			t.cs.stale.Store(false)
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
