package fstest

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// Side is one of the two executors under comparison: a name for reports and
// a constructor that makes a fresh, empty file system each time (the
// reproducer minimisation replays operations many times).
type Side struct {
	Name string
	New  func() (Executor, error)
}

func same(a, b Result) bool {
	return a.String() == b.String() && bytes.Equal(a.Data, b.Data)
}

// Dump lists a tree as lines, walking it as root through e: per file its
// path, type, mode, owner, size, link count, symlink target, content
// digest, extended attributes (trusted.* included) and, for a second name
// of an inode, the first name found.
func Dump(e Executor) []string {
	var lines []string
	inodes := map[uint64]string{}
	var walk func(p string)
	walk = func(p string) {
		r := e.Run(&Op{Kind: OpLstat, Cred: RootCred, Path: p})
		if r.Err != 0 {
			lines = append(lines, fmt.Sprintf("%s: lstat %v", p, r))
			return
		}
		st := r.Stat
		line := p + " " + st.String()
		if first, ok := inodes[st.Ino]; ok && !(st.Mode&unix.S_IFMT == unix.S_IFDIR) {
			line += " =" + first
		} else {
			inodes[st.Ino] = p
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			line += fmt.Sprintf(" -> %v", e.Run(&Op{Kind: OpReadlink, Cred: RootCred, Path: p}))
		case unix.S_IFREG:
			r := e.Run(&Op{Kind: OpReadFile, Cred: RootCred, Path: p})
			if r.Err != 0 {
				line += " data=" + r.String()
			} else {
				line += fmt.Sprintf(" data=%x", sha256.Sum256(r.Data))[:22]
			}
		}
		xs := e.Run(&Op{Kind: OpListxattr, Cred: RootCred, Path: p, XFlags: unix.AT_SYMLINK_NOFOLLOW})
		if xs.Err != 0 {
			line += fmt.Sprintf(" listxattr=%v", xs)
		}
		for _, n := range xs.Names {
			x := e.Run(&Op{Kind: OpGetxattr, Cred: RootCred, Path: p, Name: n, XFlags: unix.AT_SYMLINK_NOFOLLOW})
			line += fmt.Sprintf(" %s=%q", n, x.Data)
			if x.Err != 0 {
				line += x.String()
			}
		}
		lines = append(lines, line)
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			d := e.Run(&Op{Kind: OpGetdents, Cred: RootCred, Path: p})
			for _, n := range d.Names {
				walk(path.Join(p, n))
			}
		}
	}
	walk("/")
	return lines
}

// difference is where two runs first disagree.
type difference struct {
	index      int // of the operation; len(ops) for the final trees
	a, b       string
	resA, resB []Result
}

// replay runs ops on fresh executors of both sides and returns the first
// difference, or nil.
func replay(ops []Op, a, b Side) (*difference, error) {
	ea, err := a.New()
	if err != nil {
		return nil, err
	}
	defer ea.Close()
	eb, err := b.New()
	if err != nil {
		return nil, err
	}
	defer eb.Close()
	d := &difference{}
	for i := range ops {
		ra, rb := ea.Run(&ops[i]), eb.Run(&ops[i])
		d.resA, d.resB = append(d.resA, ra), append(d.resB, rb)
		if !same(ra, rb) {
			d.index, d.a, d.b = i, ra.String(), rb.String()
			return d, nil
		}
	}
	ta, tb := Dump(ea), Dump(eb)
	if strings.Join(ta, "\n") != strings.Join(tb, "\n") {
		d.index = len(ops)
		d.a, d.b = treeDiff(ta, tb)
		return d, nil
	}
	return nil, nil
}

// treeDiff returns the lines only one of two dumps has.
func treeDiff(a, b []string) (string, string) {
	inA, inB := map[string]bool{}, map[string]bool{}
	for _, l := range a {
		inA[l] = true
	}
	for _, l := range b {
		inB[l] = true
	}
	var onlyA, onlyB []string
	for _, l := range a {
		if !inB[l] {
			onlyA = append(onlyA, "\t"+l)
		}
	}
	for _, l := range b {
		if !inA[l] {
			onlyB = append(onlyB, "\t"+l)
		}
	}
	return "\n" + strings.Join(onlyA, "\n"), "\n" + strings.Join(onlyB, "\n")
}

// Check generates n operations from seed, runs them on both sides and
// compares every result and the final trees. On a difference the error
// names the seed and the operation and lists a minimised sequence of
// operations that still shows a difference.
func Check(seed int64, n int, a, b Side) error {
	return CheckOps(fmt.Sprintf("seed %d", seed), NewGenerator(seed).Ops(n), a, b)
}

// CheckOps is Check for a given sequence of operations.
func CheckOps(label string, ops []Op, a, b Side) error {
	d, err := replay(ops, a, b)
	if err != nil || d == nil {
		return err
	}
	var sb strings.Builder
	if d.index < len(ops) {
		fmt.Fprintf(&sb, "%s: operation #%d differs\n\t%v\n\t%s: %s\n\t%s: %s\n", label, d.index, &ops[d.index], a.Name, d.a, b.Name, d.b)
	} else {
		fmt.Fprintf(&sb, "%s: the final trees differ\n\t%s:%s\n\t%s:%s\n", label, a.Name, d.a, b.Name, d.b)
	}
	min, md, err := minimise(ops[:min(d.index+1, len(ops))], a, b)
	if err != nil {
		return err
	}
	fmt.Fprintf(&sb, "minimal reproduction (%d operations):\n", len(min))
	for i := range min {
		ra, rb := "", ""
		if i < len(md.resA) {
			ra, rb = md.resA[i].String(), md.resB[i].String()
		}
		mark := " "
		if i == md.index {
			mark = "*"
		}
		if ra == rb {
			fmt.Fprintf(&sb, "%s%3d %v = %s\n", mark, i, &min[i], ra)
		} else {
			fmt.Fprintf(&sb, "%s%3d %v = %s: %s, %s: %s\n", mark, i, &min[i], a.Name, ra, b.Name, rb)
		}
	}
	if md.index == len(min) {
		fmt.Fprintf(&sb, "final trees:\n\t%s:%s\n\t%s:%s\n", a.Name, md.a, b.Name, md.b)
	}
	return fmt.Errorf("%s", sb.String())
}

// minimise drops chunks of operations as long as the same difference
// remains: the same operation giving the same two results, or a difference
// of the final trees.
func minimise(ops []Op, a, b Side) ([]Op, *difference, error) {
	cur := append([]Op(nil), ops...)
	orig := make([]int, len(cur))
	for i := range orig {
		orig[i] = i
	}
	best, err := replay(cur, a, b)
	if err != nil || best == nil {
		return cur, best, err
	}
	tree := best.index == len(cur)
	want := -1
	if !tree {
		want = best.index
		cur, orig = cur[:want+1], orig[:want+1]
	}
	budget := 3000
	for chunk := max(len(cur)/2, 1); chunk >= 1 && budget > 0; chunk /= 2 {
		for i := 0; i < len(cur) && budget > 0; {
			j := min(i+chunk, len(cur))
			try := append(append([]Op(nil), cur[:i]...), cur[j:]...)
			tryOrig := append(append([]int(nil), orig[:i]...), orig[j:]...)
			budget--
			d, err := replay(try, a, b)
			if err != nil {
				return nil, nil, err
			}
			if d != nil && ((tree && d.index == len(try)) ||
				(!tree && d.index < len(try) && tryOrig[d.index] == want && d.a == best.a && d.b == best.b)) {
				cur, orig, best = try, tryOrig, d
				continue
			}
			i += chunk
		}
	}
	return cur, best, nil
}
