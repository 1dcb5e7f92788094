package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"time"
)

// key names one series: group (micro, macro, start, memory), metric,
// filesystem or stage ("-" when none applies), runtime.
type key struct{ group, metric, fs, rt string }

type series struct {
	unit     string
	vals     []float64
	failures []string
}

type results struct {
	order      []key
	s          map[key]*series
	loadBefore string
	loadAfter  string
	repLoads   []string // at the start of each repetition
	duration   time.Duration
	reps       int
	runtimes   []*peer
}

func newResults() *results { return &results{s: map[key]*series{}} }

func (r *results) get(k key, unit string) *series {
	s, ok := r.s[k]
	if !ok {
		s = &series{unit: unit}
		r.s[k] = s
		r.order = append(r.order, k)
	}
	return s
}

func (r *results) add(k key, unit string, v float64) { s := r.get(k, unit); s.vals = append(s.vals, v) }

func (r *results) fail(k key, unit, msg string) {
	s := r.get(k, unit)
	s.failures = append(s.failures, msg)
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func minMax(v []float64) (lo, hi float64) {
	lo, hi = v[0], v[0]
	for _, x := range v {
		lo, hi = min(lo, x), max(hi, x)
	}
	return
}

// slowdown is how many times slower rt is than ref on k's metric (> 1:
// slower), whatever the unit: throughputs are inverted.
func (r *results) slowdown(k key, ref string) (float64, bool) {
	a, b := r.s[k], r.s[key{k.group, k.metric, k.fs, ref}]
	if a == nil || b == nil || len(a.vals) == 0 || len(b.vals) == 0 {
		return 0, false
	}
	ma, mb := median(a.vals), median(b.vals)
	if a.unit == "MB/s" {
		ma, mb = mb, ma
	}
	if mb == 0 {
		return 0, false
	}
	return ma / mb, true
}

// rows are the distinct (group, metric, fs) in first-seen order.
func (r *results) rows(group string) []key {
	seen := map[key]bool{}
	var out []key
	for _, k := range r.order {
		row := key{k.group, k.metric, k.fs, ""}
		if k.group == group && !seen[row] {
			seen[row] = true
			out = append(out, row)
		}
	}
	return out
}

func fmtVal(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func (r *results) cell(k key) string {
	s := r.s[k]
	if s == nil {
		return "—"
	}
	if len(s.vals) == 0 {
		return "FAIL"
	}
	lo, hi := minMax(s.vals)
	c := fmt.Sprintf("%s (%s–%s)", fmtVal(median(s.vals)), fmtVal(lo), fmtVal(hi))
	if len(s.failures) > 0 {
		c += fmt.Sprintf(" %d FAIL", len(s.failures))
	}
	return c
}

func ratio(v float64, ok bool) string {
	if !ok {
		return "—"
	}
	return fmt.Sprintf("%.2f×", v)
}

func (r *results) table(b *bytes.Buffer, group string) {
	rows := r.rows(group)
	if len(rows) == 0 {
		return
	}
	b.WriteString("| metric | fs | unit |")
	for _, rt := range r.runtimes {
		fmt.Fprintf(b, " %s |", rt.name)
	}
	b.WriteString(" runsc vs runc | runsc vs gvisor-systrap |\n|---|---|---|")
	for range r.runtimes {
		b.WriteString("---:|")
	}
	b.WriteString("---:|---:|\n")
	for _, row := range rows {
		unit := ""
		for _, rt := range r.runtimes {
			if s := r.s[key{row.group, row.metric, row.fs, rt.name}]; s != nil {
				unit = s.unit
			}
		}
		fmt.Fprintf(b, "| %s | %s | %s |", row.metric, row.fs, unit)
		for _, rt := range r.runtimes {
			fmt.Fprintf(b, " %s |", r.cell(key{row.group, row.metric, row.fs, rt.name}))
		}
		ours := key{row.group, row.metric, row.fs, "runsc"}
		fmt.Fprintf(b, " %s | %s |\n", ratio(r.slowdown(ours, "runc")), ratio(r.slowdown(ours, "gvisor-systrap")))
	}
	b.WriteString("\n")
}

// targets are the goals of issue 8: runsc's slowdown against a reference
// must stay at or under limit (strictly under when strict).
var targets = []struct {
	group, metric, fs, ref string
	limit                  float64
	strict                 bool
}{
	{"micro", "getppid", "-", "runc", 1.3, false},
	{"micro", "read_4k", "root", "runc", 1.3, false},
	{"micro", "read_4k", "tmpfs", "runc", 1.3, false},
	{"micro", "read_1m", "root", "runc", 1.3, false},
	{"micro", "read_1m", "tmpfs", "runc", 1.3, false},
	{"micro", "write_4k", "root", "runc", 1.3, false},
	{"micro", "write_4k", "tmpfs", "runc", 1.3, false},
	{"micro", "write_1m", "root", "runc", 1.3, false},
	{"micro", "write_1m", "tmpfs", "runc", 1.3, false},
	{"micro", "stat", "root", "gvisor-systrap", 1, true},
	{"micro", "open_close", "root", "gvisor-systrap", 1, true},
	{"micro", "fork_exec_wait", "-", "runc", 1.6, false},
	{"start", "run_true", "-", "runc", 2, false},
	{"macro", "untar_20k", "root", "gvisor-systrap", 1, true},
	{"macro", "find_stat_20k", "root", "gvisor-systrap", 1, true},
	{"macro", "python_import", "root", "gvisor-systrap", 1, true},
	{"macro", "sqlite_insert", "root", "gvisor-systrap", 1, true},
	{"macro", "tar_usr", "root", "gvisor-systrap", 1, true},
	{"macro", "shell_pipes", "root", "gvisor-systrap", 1, true},
}

func (r *results) targetTable(b *bytes.Buffer) {
	b.WriteString("| target | runsc vs reference | met |\n|---|---:|---|\n")
	for _, t := range targets {
		k := key{t.group, t.metric, t.fs, "runsc"}
		if s := r.s[k]; s == nil && r.s[key{t.group, t.metric, t.fs, t.ref}] == nil {
			continue
		}
		op := "≤"
		if t.strict {
			op = "<"
		}
		name := fmt.Sprintf("%s %s %s %.2g× %s", t.metric, t.fs, op, t.limit, t.ref)
		v, ok := r.slowdown(k, t.ref)
		met := "not measured"
		if ok {
			met = "yes"
			if v > t.limit || (t.strict && v >= t.limit) {
				met = fmt.Sprintf("**no**, by %.0f%%", (v/t.limit-1)*100)
			}
		}
		fmt.Fprintf(b, "| %s | %s | %s |\n", name, ratio(v, ok), met)
	}
	b.WriteString("\n")
}

func commit() string {
	out, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	if st, _ := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); len(st) > 0 {
		c += " (with uncommitted changes in the tree)"
	}
	return c
}

func machine() string {
	model := "?"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "model name") {
				model = strings.TrimSpace(line[strings.IndexByte(line, ':')+1:])
				break
			}
		}
	}
	kernel, _ := exec.Command("uname", "-r").Output()
	return fmt.Sprintf("%d CPUs (%s), kernel %s, %s", runtime.NumCPU(), model, strings.TrimSpace(string(kernel)), runtime.Version())
}

func (r *results) markdown() string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "Generated by `make bench` (test/bench) on %s, commit %s.\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), commit())
	fmt.Fprintf(&b, "Machine: %s. Load average before: %s; after: %s. %d repetitions, runtimes interleaved; %s in all.\n\n",
		machine(), r.loadBefore, r.loadAfter, r.reps, r.duration.Round(time.Second))
	if len(r.repLoads) > 0 {
		fmt.Fprintf(&b, "Load average at the start of each repetition: %s.\n\n", strings.Join(r.repLoads, ", "))
	}
	for _, rt := range r.runtimes {
		if rt.missing != "" {
			fmt.Fprintf(&b, "- **%s is missing** (%s): its columns are empty.\n", rt.name, rt.missing)
		} else {
			bin := rt.bin
			if rt.copyOf != "" {
				bin = rt.copyOf + " (copied at start)"
			}
			fmt.Fprintf(&b, "- %s: `%s %s`\n", rt.name, bin, strings.Join(rt.flags, " "))
		}
	}
	b.WriteString("\nCells: median (min–max). Ratios: runsc's median slowdown against the reference (> 1 is slower; throughputs inverted).\n\n")
	b.WriteString("### Micro (ns per operation, or MB/s)\n\n")
	r.table(&b, "micro")
	b.WriteString("### Macro (ms, Debian bookworm root, timed inside the container)\n\n")
	r.table(&b, "macro")
	b.WriteString("### Whole container (wall ms: `run` of /bin/true incl. delete; `docker run --rm --network=none` of /bin/true)\n\n")
	r.table(&b, "start")
	b.WriteString("### Memory of the sandbox (MiB; sentry, and gofers summed)\n\n")
	r.table(&b, "memory")
	b.WriteString("### Targets\n\n")
	r.targetTable(&b)
	var fails []string
	for _, k := range r.order {
		for _, f := range r.s[k].failures {
			fails = append(fails, fmt.Sprintf("- %s %s %s %s: %s", k.rt, k.group, k.metric, k.fs, f))
		}
	}
	if len(fails) > 0 {
		b.WriteString("### Failed runs\n\n")
		seen := map[string]bool{}
		for _, f := range fails {
			if !seen[f] {
				seen[f] = true
				b.WriteString(f + "\n")
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

const (
	section   = "## Runtimes side by side"
	beginMark = "<!-- bench:begin (generated by make bench; edit outside these marks) -->"
	endMark   = "<!-- bench:end -->"
)

// writeDoc replaces the generated part of our section of the Markdown file
// and leaves every other section, and our hand-written notes, alone.
func (r *results) writeDoc(path string) error {
	return writeSection(path, section, beginMark, endMark, r.markdown())
}

// writeSection replaces what lies between the marks of section heading in
// the Markdown file at path with body, adding the section if it is not
// there.
func writeSection(path, heading, begin, end, body string) error {
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	doc := string(b)
	if !strings.Contains(doc, heading) {
		doc = strings.TrimRight(doc, "\n") + "\n\n" + heading + "\n\n" + begin + "\n" + end + "\n"
	}
	sec := strings.Index(doc, heading)
	i := strings.Index(doc[sec:], begin)
	j := strings.Index(doc[sec:], end)
	if i < 0 || j < i {
		return fmt.Errorf("%s: section %q lacks the generated-part marks", path, heading)
	}
	i, j = sec+i+len(begin), sec+j
	doc = doc[:i] + "\n" + body + doc[j:]
	return os.WriteFile(path, []byte(doc), 0o644)
}

// writeTSV writes one line per series, with a header of comment lines.
func (r *results) writeTSV(path string) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# runsc test/bench %s commit %s\n# machine %s\n# load before %s after %s\n",
		time.Now().UTC().Format(time.RFC3339), commit(), machine(), r.loadBefore, r.loadAfter)
	b.WriteString("group\tmetric\tfs\truntime\tunit\tn\tfailed\tmedian\tmin\tmax\tslowdown_vs_runc\tslowdown_vs_gvisor_systrap\n")
	for _, rt := range r.runtimes {
		if rt.missing != "" {
			fmt.Fprintf(&b, "-\t-\t-\t%s\t-\t0\t0\tmissing\t\t\t\t\n", rt.name)
		}
	}
	for _, k := range r.order {
		s := r.s[k]
		fmt.Fprintf(&b, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t", k.group, k.metric, k.fs, k.rt, s.unit, len(s.vals), len(s.failures))
		if len(s.vals) == 0 {
			b.WriteString("FAIL\t\t\t\t\n")
			continue
		}
		lo, hi := minMax(s.vals)
		fmt.Fprintf(&b, "%.1f\t%.1f\t%.1f\t", median(s.vals), lo, hi)
		for _, ref := range []string{"runc", "gvisor-systrap"} {
			if v, ok := r.slowdown(k, ref); ok {
				fmt.Fprintf(&b, "%.3f", v)
			}
			if ref == "runc" {
				b.WriteString("\t")
			}
		}
		b.WriteString("\n")
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}
