package fs

import (
	"strings"

	"golang.org/x/sys/unix"
)

// Namer is implemented by dentries that know their own name; for others
// PathOf finds the name by listing the parent.
type Namer interface {
	Name() string
}

// PathOf returns the absolute path of loc as seen from root (getcwd,
// /proc/self/fd). A location outside root gets Linux's "(unreachable)"
// prefix; one that was removed gets " (deleted)" appended.
func (v *VFS) PathOf(root, loc Loc) string {
	var parts []string
	deleted := false
	for loc != root {
		if loc.Dentry == loc.Mount.root {
			v.mountMu.RLock()
			parent, point := loc.Mount.parent, loc.Mount.point
			v.mountMu.RUnlock()
			if parent == nil {
				return "(unreachable)/" + strings.Join(reverse(parts), "/")
			}
			loc = Loc{parent, point}
			continue
		}
		loc.rlock()
		p := loc.Dentry.Parent()
		name, err := nameIn(p, loc.Dentry)
		loc.runlock()
		if p == nil {
			return "(unreachable)/" + strings.Join(reverse(parts), "/")
		}
		if err != nil {
			deleted = true
		}
		parts = append(parts, name)
		loc = Loc{loc.Mount, p}
	}
	path := "/" + strings.Join(reverse(parts), "/")
	if deleted {
		path += " (deleted)"
	}
	return path
}

// nameIn returns the name of child in dir, or ENOENT if it is no longer
// there.
func nameIn(dir, child Dentry) (string, error) {
	if n, ok := child.(Namer); ok {
		name := n.Name()
		if dir != nil {
			if c, err := dir.Lookup(name); err != nil || c != child {
				return name, unix.ENOENT
			}
		}
		return name, nil
	}
	if dir == nil {
		return "", unix.ENOENT
	}
	// Collect the names first: a file system may hold its own locks while
	// it lists.
	var names []string
	if err := dir.Readdir(2, func(e DirEntry) bool {
		names = append(names, e.Name)
		return true
	}); err != nil {
		return "", err
	}
	for _, name := range names {
		if c, err := dir.Lookup(name); err == nil && c == child {
			return name, nil
		}
	}
	return "", unix.ENOENT
}

func reverse(s []string) []string {
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
	return s
}
