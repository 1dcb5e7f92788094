// Command bench runs the same workloads under runc, our runsc and gVisor's
// runsc (systrap and ptrace), interleaved, and writes the medians to
// docs/PERFORMANCE.md and docs/bench-results.tsv. `make bench` runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

type config struct {
	reps        int
	microIters  int
	microMiB    int
	trueRuns    int
	dockerRuns  int
	loadMax     float64
	loadTimeout time.Duration
	runTimeout  time.Duration
	only        map[string]bool
	macros      string
}

func main() {
	var (
		c           config
		ours        = flag.String("runsc", "bin/runsc", "our runsc binary")
		gvisor      = flag.String("gvisor", "runsc-gvisor", "gVisor's runsc binary (static build)")
		cache       = flag.String("cache", cacheDefault(), "directory of test/e2e's cached Debian root (made by debootstrap if missing)")
		scratch     = flag.String("scratch", "/var/tmp", "directory for bundles and image copies")
		doc         = flag.String("doc", "docs/PERFORMANCE.md", "Markdown file whose \"Runtimes side by side\" section is rewritten")
		tsv         = flag.String("tsv", "docs/bench-results.tsv", "machine-readable results")
		only        = flag.String("only", "micro,macro,start,memory,docker,traps", "groups to run")
		srcDir      = flag.String("src", "test/bench", "directory of microbench.c")
		macroList   = flag.String("macros", "", "comma-separated subset of the macro workloads (default all)")
		keep        = flag.Bool("keep", false, "keep the scratch directory (bundles, outputs, roots) for a look afterwards")
		runtimeList = flag.String("runtimes", "", "comma-separated subset of runc,runsc,gvisor-systrap,gvisor-ptrace (default all)")
	)
	flag.IntVar(&c.reps, "reps", 5, "repetitions of every workload per runtime")
	flag.IntVar(&c.microIters, "micro-iters", 2000, "iterations of each micro operation")
	flag.IntVar(&c.microMiB, "micro-mib", 64, "MiB per sequential read and write")
	flag.IntVar(&c.trueRuns, "true-runs", 20, "runs of /bin/true per runtime")
	flag.IntVar(&c.dockerRuns, "docker-runs", 10, "docker runs of /bin/true per runtime")
	flag.Float64Var(&c.loadMax, "load-max", 0.5, "wait for the 1-minute load average to drop below this")
	flag.DurationVar(&c.loadTimeout, "load-timeout", 5*time.Minute, "give up waiting for the load after this")
	flag.DurationVar(&c.runTimeout, "run-timeout", 10*time.Minute, "kill a container run after this")
	flag.Parse()
	c.macros = *macroList
	c.only = map[string]bool{}
	for _, g := range strings.Split(*only, ",") {
		c.only[g] = true
	}
	if os.Geteuid() != 0 {
		log.Fatal("bench: needs root (the runtimes do)")
	}

	rts := runtimes(*ours, *gvisor)
	if *runtimeList != "" {
		var keep []*peer
		for _, rt := range rts {
			if strings.Contains(","+*runtimeList+",", ","+rt.name+",") {
				keep = append(keep, rt)
			}
		}
		rts = keep
	}
	for _, rt := range rts {
		if rt.missing != "" {
			log.Printf("runtime %s is MISSING: %s", rt.name, rt.missing)
		}
	}

	dir, err := os.MkdirTemp(*scratch, "runsc-bench-")
	if err != nil {
		log.Fatal(err)
	}
	if *keep {
		log.Printf("keeping %s", dir)
	} else {
		defer cleanup(dir)
	}
	// A copy: others may rebuild bin/runsc while the benchmark runs.
	if rt := find(rts, "runsc"); rt != nil && rt.missing == "" {
		cp := filepath.Join(dir, "runsc")
		if err := copyFile(rt.bin, cp, 0o755); err != nil {
			log.Fatal(err)
		}
		rt.copyOf, rt.bin = rt.bin, cp
	}
	micro := filepath.Join(dir, "microbench")
	if err := buildMicro(*srcDir, micro); err != nil {
		log.Fatal(err)
	}
	bbRoot := filepath.Join(dir, "busybox")
	if err := busyboxRoot(bbRoot, micro, c.microMiB); err != nil {
		log.Fatal(err)
	}
	var debRoot string
	if c.only["macro"] || c.only["traps"] {
		debRoot = filepath.Join(dir, "debian")
		log.Printf("preparing the Debian root from %s", *cache)
		if err := debianRoot(*cache, debRoot, micro); err != nil {
			log.Fatal(err)
		}
	}

	res := newResults()
	res.loadBefore = waitLoad(c.loadMax, c.loadTimeout)
	s := &sandbox{dir: dir}
	ctx := context.Background()
	start := time.Now()
	runBench(ctx, c, s, rts, bbRoot, debRoot, res)
	if c.only["docker"] {
		dockerRuns(ctx, c, dir, installed(rts), bbRoot, res)
	}
	if c.only["traps"] && debRoot != "" {
		if err := trapCounts(ctx, c, s, find(rts, "runsc"), debRoot, *doc); err != nil {
			log.Printf("trapped calls: %v", err)
		}
	}
	res.loadAfter = loadAvg()
	res.duration = time.Since(start)
	res.reps = c.reps
	res.runtimes = rts

	if len(res.s) == 0 {
		return // only the trapped calls, in their own section
	}
	if err := res.writeTSV(*tsv); err != nil {
		log.Fatal(err)
	}
	if err := res.writeDoc(*doc); err != nil {
		log.Fatal(err)
	}
	fmt.Print(res.markdown())
}

// cleanup removes the scratch directory, after the mounts runtimes leave
// in their state directories (gVisor's null-netns), and the parent cgroup
// of the containers.
func cleanup(dir string) {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	var mounts []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			mounts = append(mounts, f[4])
		}
	}
	for i := len(mounts) - 1; i >= 0; i-- {
		unix.Unmount(mounts[i], unix.MNT_DETACH)
	}
	if err := os.RemoveAll(dir); err != nil {
		log.Print(err)
	}
	cgroups, _ := filepath.Glob("/sys/fs/cgroup/*/runsc-bench")
	cgroups = append(cgroups, "/sys/fs/cgroup/runsc-bench")
	for _, c := range cgroups {
		os.Remove(c)
	}
}

func find(rts []*peer, name string) *peer {
	for _, rt := range rts {
		if rt.name == name {
			return rt
		}
	}
	return nil
}

func cacheDefault() string {
	if d := os.Getenv("RUNSC_TEST_CACHE"); d != "" {
		return d
	}
	return "test/cache"
}

// waitLoad waits for a quiet machine, up to timeout, and returns the load
// it started with (and the one it ended the wait at, if it differs).
func waitLoad(max float64, timeout time.Duration) string {
	first := loadAvg()
	deadline := time.Now().Add(timeout)
	for {
		l, _ := strconv.ParseFloat(loadAvg(), 64)
		if l < max {
			return fmt.Sprintf("%s (waited for < %.2g: %.2f)", first, max, l)
		}
		if time.Now().After(deadline) {
			log.Printf("load average still %.2f after %v; running anyway", l, timeout)
			return fmt.Sprintf("%s (waited %v for < %.2g, gave up at %.2f)", first, timeout, max, l)
		}
		time.Sleep(5 * time.Second)
	}
}

// macro workloads, each timed inside the container by microbench time; a
// script prints "ok NAME" for each timing whose command succeeded.
var macros = []struct {
	names  string // the timings it reports
	script string
}{
	{"untar_20k find_stat_20k", `rm -rf /root/x; mkdir /root/x; cd /root/x
/bench/microbench time untar_20k tar -xf /bench/files.tar && [ "$(find . -type f | wc -l)" = 20000 ] && echo ok untar_20k
/bench/microbench time find_stat_20k sh -c 'find . | xargs stat > /dev/null' && echo ok find_stat_20k
cd /; rm -rf /root/x`},
	{"python_import", `/bench/microbench time python_import sh -c 'i=0; while [ $i -lt 20 ]; do python3 -c "` + pyImports + `" || exit 1; i=$((i+1)); done' && echo ok python_import`},
	{"sqlite_insert", `rm -f /root/t.db
/bench/microbench time sqlite_insert sh -c 'sqlite3 /root/t.db < /bench/insert.sql' &&
  [ "$(sqlite3 /root/t.db 'SELECT count(*) FROM t')" = 100000 ] && echo ok sqlite_insert
rm -f /root/t.db`},
	// Through a pipe: GNU tar reads no file data when its archive is
	// /dev/null. tar's status goes through a file (dash has no pipefail).
	{"tar_usr", `/bench/microbench time tar_usr sh -c '{ tar -cf - /usr 2>/tmp/tar.err; echo $? > /tmp/tar.st; } | cat > /dev/null' &&
  [ "$(cat /tmp/tar.st)" = 0 ] && echo ok tar_usr || tail -2 /tmp/tar.err`},
	{"shell_pipes", `/bench/microbench time shell_pipes sh -c 'i=0; while [ $i -lt 1000 ]; do cat /etc/passwd | grep root | wc -l > /dev/null; i=$((i+1)); done' && echo ok shell_pipes`},
}

const pyImports = "import os, sys, re, json, collections, itertools, functools, datetime, subprocess, threading, " +
	"socket, logging, argparse, pathlib, typing, dataclasses, enum, random, math, hashlib, " +
	"base64, csv, sqlite3, urllib.request, http.client, email.message, xml.etree.ElementTree, tempfile, shutil, unittest"

// installed are the peers that are not missing.
func installed(rts []*peer) []*peer {
	var live []*peer
	for _, rt := range rts {
		if rt.missing == "" {
			live = append(live, rt)
		}
	}
	return live
}

func runBench(ctx context.Context, c config, s *sandbox, rts []*peer, bbRoot, debRoot string, res *results) {
	live := installed(rts)
	for rep := 1; rep <= c.reps; rep++ {
		res.repLoads = append(res.repLoads, loadAvg())
		if c.only["micro"] {
			for _, rt := range live {
				log.Printf("rep %d micro %s", rep, rt.name)
				r := s.run(ctx, rt, bbRoot, c.runTimeout, "/bench/microbench",
					"-n", strconv.Itoa(c.microIters), "-s", strconv.Itoa(c.microMiB), "-r", "/bench/data",
					"/bench:root", "/mnt/tmpfs:tmpfs")
				m := microMetrics(r.out)
				for _, mn := range microNames {
					for _, label := range microLabels(mn.metric) {
						k := key{"micro", mn.metric, label, rt.name}
						if v, ok := m[[2]string{mn.metric, label}]; ok {
							res.add(k, mn.unit, v)
						} else {
							res.fail(k, mn.unit, failure(r))
						}
					}
				}
			}
		}
		if c.only["macro"] {
			for _, w := range macros {
				if !c.wantMacro(w.names) {
					continue
				}
				for _, rt := range live {
					log.Printf("rep %d macro %s %s", rep, w.names, rt.name)
					r := s.run(ctx, rt, debRoot, c.runTimeout, "/bin/sh", "-c", w.script)
					t := timings(r.out)
					for _, name := range strings.Fields(w.names) {
						k := key{"macro", name, "root", rt.name}
						ok := r.err == nil && strings.Contains("\n"+r.out, "\nok "+name+"\n")
						if v, found := t[name]; ok && found {
							res.add(k, "ms", v/1e6)
						} else {
							res.fail(k, "ms", failure(r))
						}
					}
				}
			}
		}
		if c.only["memory"] {
			for _, rt := range live {
				memoryRun(ctx, c, s, rt, bbRoot, res)
			}
		}
	}
	if c.only["start"] {
		for i := 0; i < c.trueRuns; i++ {
			for _, rt := range live {
				r := s.run(ctx, rt, bbRoot, c.runTimeout, "/bin/true")
				k := key{"start", "run_true", "-", rt.name}
				if r.err == nil && r.code == 0 {
					res.add(k, "ms", float64(r.wall.Microseconds())/1e3)
				} else {
					res.fail(k, "ms", failure(r))
				}
			}
		}
	}
}

// memoryRun measures the sentry and gofer of a sandbox whose shell sits
// idle, and of one whose shell made 10,000 files in the overlay upper
// first; the difference is the cost of those files. It reports only for
// runtimes whose sentry it can find (a "boot" process whose last argument
// is the container id: ours and gVisor's), and gofers only where they are
// the sentry's children (ours).
func memoryRun(ctx context.Context, c config, s *sandbox, rt *peer, root string, res *results) {
	var idle [2]float64
	for _, stage := range []struct{ name, script string }{
		{"idle", `echo ready; while :; do sleep 1000; done`},
		{"10k_files", `mkdir /up; cd /up; i=0; while [ $i -lt 10000 ]; do : > f$i; i=$((i+1)); done
echo ready; while :; do sleep 1000; done`},
	} {
		r := s.start(ctx, rt, root, c.runTimeout, true, "/bin/sh", "-c", stage.script)
		if r.err != nil || r.code != 0 || !waitOutput(r.dir, "ready", c.runTimeout) {
			s.remove(rt, r.id)
			res.fail(key{"memory", "sentry_rss", stage.name, rt.name}, "MiB", failure(r))
			return
		}
		sentry, gofers := sandboxProcs(r.id)
		if sentry == 0 {
			s.remove(rt, r.id)
			return
		}
		var rss, hwm [2]int
		rss[0], hwm[0], _ = memory(sentry)
		for _, g := range gofers {
			r, h, _ := memory(g)
			rss[1] += r
			hwm[1] += h
		}
		s.remove(rt, r.id)
		for i, who := range []string{"sentry", "gofer"} {
			if i == 1 && len(gofers) == 0 {
				continue
			}
			mib := float64(rss[i]) / 1024
			res.add(key{"memory", who + "_rss", stage.name, rt.name}, "MiB", mib)
			res.add(key{"memory", who + "_peak", stage.name, rt.name}, "MiB", float64(hwm[i])/1024)
			if stage.name == "idle" {
				idle[i] = mib
			} else {
				res.add(key{"memory", who + "_rss", "per_10k_files", rt.name}, "MiB", mib-idle[i])
			}
		}
	}
}

func waitOutput(bundle, want string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if strings.Contains(output(bundle), want) {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// failure summarizes a failed run for the report: the error or exit code
// and the last lines of output that are not timings.
func failure(r result) string {
	msg := fmt.Sprintf("exit %d", r.code)
	if r.err != nil {
		msg = r.err.Error()
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(r.out), "\n") {
		if l != "" && !strings.HasPrefix(l, "time\t") {
			lines = append(lines, l)
		}
	}
	if len(lines) > 2 {
		lines = lines[len(lines)-2:]
	}
	if out := strings.Join(lines, " / "); out != "" {
		if len(out) > 200 {
			out = out[:200] + "…"
		}
		msg += ": " + out
	}
	return msg
}
