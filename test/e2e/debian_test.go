package e2e

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/boot"
	fsgofer "runsc.dev/runsc/sentry/fs/gofer"
	"runsc.dev/runsc/sentry/platform"
)

// runTimeout bounds one program run; a hung program is killed.
var runTimeout = time.Minute

var debianEnv = []string{
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"HOME=/root", "LANG=C.UTF-8", "TERM=xterm",
}

// debRun is one program run over the Debian root: read-only through a
// gofer with a tmpfs upper, as "runsc do" runs the host root, so nothing
// is copied and the cached tree is never written.
type debRun struct {
	stdin []byte
	// started, if set, runs once the program has started, with its
	// stdout as it grows (to signal it at the right moment).
	started func(p *platform.Process, stdout *syncBuffer)
}

func (r debRun) run(t *testing.T, argv ...string) (string, string, unix.WaitStatus) {
	t.Helper()
	root := debianRoot(t)
	g, err := boot.StartGofer(runscBin(t), []boot.GoferExport{{Path: root, ReadOnly: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	rootFS, err := g.Mount(0, fsgofer.Exclusive)
	if err != nil {
		t.Fatal(err)
	}
	v, err := (&boot.Namespace{Root: rootFS, Overlay: true}).Build()
	if err != nil {
		t.Fatal(err)
	}
	s, err := boot.NewSandbox(v, platform.SameCPU)
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr syncBuffer
	files, wait := stdio(t, r.stdin, &stdout, &stderr)
	p, err := s.Start(boot.Process{Argv: argv, Env: debianEnv, Cwd: "/root", Umask: 0o022, Files: files})
	if err != nil {
		s.Close()
		wait()
		t.Fatalf("start %q: %v", argv, err)
	}
	timer := time.AfterFunc(runTimeout, func() {
		t.Errorf("%q still running after %v: killed", argv, runTimeout)
		p.Signal(unix.SIGKILL)
	})
	if r.started != nil {
		r.started(p, &stdout)
	}
	ws := p.Wait()
	timer.Stop()
	// As when a container's init dies, nothing else of the program
	// survives it (orphans would hold the output pipes open).
	s.Close()
	wait()
	return stdout.String(), stderr.String(), ws
}

// syncBuffer is a buffer one goroutine fills while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor waits up to 20 s for the buffer to contain s.
func (b *syncBuffer) waitFor(s string) bool {
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if strings.Contains(b.String(), s) {
			return true
		}
	}
	return false
}

// stdio makes the program's fds 0-2: stdin from a pipe fed with in, stdout
// and stderr into buffers. wait closes our copies and waits for the
// program's output to be read.
func stdio(t *testing.T, in []byte, stdout, stderr *syncBuffer) ([]*os.File, func()) {
	t.Helper()
	var files []*os.File
	var done []chan struct{}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	go func() { w.Write(in); w.Close() }()
	files = append(files, r)
	for _, b := range []*syncBuffer{stdout, stderr} {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		c := make(chan struct{})
		go func() { io.Copy(b, r); r.Close(); close(c) }()
		files = append(files, w)
		done = append(done, c)
	}
	return files, func() {
		for _, f := range files {
			f.Close()
		}
		for _, c := range done {
			<-c
		}
	}
}

// checkScript runs a bash script and compares its output and exit status.
func checkScript(t *testing.T, script, want string, code int) {
	t.Helper()
	out, errOut, ws := debRun{}.run(t, "/bin/bash", "-c", script)
	if out != want || !ws.Exited() || ws.ExitStatus() != code {
		t.Errorf("script %q:\nstdout %q\nstderr %q\nstatus %v\nwant %q, exit %d", script, out, errOut, describe(ws), want, code)
	}
}

func describe(ws unix.WaitStatus) string {
	if ws.Signaled() {
		return "killed by " + ws.Signal().String()
	}
	return fmt.Sprintf("exit %d", ws.ExitStatus())
}

func TestDebianSmoke(t *testing.T) {
	checkScript(t, `echo hello; cut -d. -f1 /etc/debian_version`, "hello\n12\n", 0)
}

// compile builds test/testdata/name with gcc -static on the host and
// returns the binary.
func compile(t *testing.T, name string, flags ...string) []byte {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Fatal("gcc is not installed (apt-get install gcc libc6-dev)")
	}
	dir := t.TempDir()
	args := append([]string{"-static", "-O2", "-Wall", "-Werror", "-o", filepath.Join(dir, "p"), filepath.Join("../testdata", name)}, flags...)
	if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	bin, err := os.ReadFile(filepath.Join(dir, "p"))
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// runProgram runs a binary in the sandbox: the shell copies it from stdin
// into /tmp (the Debian tree stays read-only) and execs it.
func runProgram(t *testing.T, bin []byte, args string) (string, string, unix.WaitStatus) {
	t.Helper()
	return debRun{stdin: bin}.run(t, "/bin/bash", "-c", "cat > /tmp/prog && chmod 755 /tmp/prog && exec /tmp/prog "+args)
}

func TestDebianBash(t *testing.T) {
	for _, tc := range []struct {
		name, script, want string
		code               int
	}{
		{"arith and arrays", `a=(3 1 2); echo $(( ${a[0]} * 7 )) ${#a[@]} "${a[@]:1}"`, "21 3 1 2\n", 0},
		{"functions and locals", `f() { local x=$1; echo "in $x"; return 4; }; f y; echo $?`, "in y\n4\n", 0},
		{"here-doc and read loop", "while read -r a b; do echo \"$b-$a\"; done <<X\n1 one\n2 two\nX", "one-1\ntwo-2\n", 0},
		{"diff of here-strings", `printf 'a\nc\n' > /tmp/c; diff - /tmp/c <<< $'a\nb'; echo $?`, "2c2\n< b\n---\n> c\n1\n", 0},
		{"globs", `mkdir -p /tmp/g && touch /tmp/g/{a,b,c}.txt /tmp/g/d.log && echo /tmp/g/*.txt`, "/tmp/g/a.txt /tmp/g/b.txt /tmp/g/c.txt\n", 0},
		{"script file with shebang", "printf '#!/bin/bash\\necho \"$0 $1 $#\"\\n' > /tmp/s.sh && chmod +x /tmp/s.sh && /tmp/s.sh x && cd /tmp && ./s.sh y z", "/tmp/s.sh x 1\n./s.sh y 2\n", 0},
		{"script run by env", "printf '#!/usr/bin/env bash\\necho env $1\\n' > /tmp/e && chmod +x /tmp/e && /tmp/e ok", "env ok\n", 0},
		{"script without shebang", "echo 'echo plain $1' > /tmp/p && chmod +x /tmp/p && /tmp/p sh", "plain sh\n", 0},
		{"not executable", "echo 'echo no' > /tmp/n && /tmp/n; echo $?", "126\n", 0},
		{"exec redirections", `exec 3>/tmp/fd3; echo via3 >&3; exec 3>&-; cat /tmp/fd3; exec 4</tmp/fd3; read -u 4 l; echo "$l"`, "via3\nvia3\n", 0},
		{"subshell exit status", `(exit 7); echo $?; bash -c 'exit 9'; echo $?`, "7\n9\n", 0},
		{"pipeline status", `set -o pipefail; false | true; echo $?; true | (exit 3); echo $?`, "1\n3\n", 0},
		{"cd and pwd", `cd /usr/share/../lib && pwd && cd - >/dev/null && pwd && cd && pwd`, "/usr/lib\n/root\n/root\n", 0},
		{"proc self is the caller", `a=$(bash -c 'echo $$; exec readlink /proc/self'); set -- $a; [ "$1" = "$2" ] && echo same; exec 7</etc/debian_version; readlink /proc/self/fd/7 /proc/$$/fd/7 /dev/fd/7`, "same\n/etc/debian_version\n/etc/debian_version\n/etc/debian_version\n", 0},
		{"getcwd of a removed directory", `mkdir /tmp/gone && cd /tmp/gone && rmdir /tmp/gone && python3 -c 'import os
try: os.getcwd()
except OSError as e: print(e.strerror)'`, "No such file or directory\n", 0},
		// A forked child runs its parent's program even after the parent
		// execs another.
		{"exe of a forked child", `bash -c '(p=$BASHPID; sleep 0.3; echo $(readlink /proc/$p/exe)) & exec sleep 1'`, "/usr/bin/bash\n", 0},
		// Pipes reached through /proc/<pid>/fd/N are opened again.
		{"process substitution", `diff <(printf 'a\nb\n') <(printf 'a\nc\n'); echo $?; while read l; do echo "got $l"; done < <(seq 2)`, "2c2\n< b\n---\n> c\n1\ngot 1\ngot 2\n", 0},
		{"dev stdin stdout stderr", `echo piped | cat /dev/stdin; echo out > /dev/stdout; { echo err > /dev/stderr; } 2>&1; cat /proc/self/fd/0 <<< here`, "piped\nout\nerr\nhere\n", 0},
		{"exit code", `exit 42`, "", 42},
	} {
		t.Run(tc.name, func(t *testing.T) { checkScript(t, tc.script, tc.want, tc.code) })
	}
}

func TestDebianCoreutils(t *testing.T) {
	// Dates print in UTC; sizes and modes are the file system's, not the
	// host's.
	setup := `export TZ=UTC; mkdir -p /tmp/x && cd /tmp/x && mkdir d && echo hi > f && echo plain > g && ln -s f l && ln -s nowhere b && mkfifo p && chmod 755 f && touch -h -d '2020-01-02 03:04:05' d f g l p b; `
	for _, tc := range []struct {
		name, script, want string
	}{
		{"ls -l --color=always", `ls -l --color=always --time-style=+%F f g l b p; ls --color=always -d d`,
			"lrwxrwxrwx 1 root root 7 2020-01-02 \x1b[0m\x1b[01;36mb\x1b[0m -> nowhere\n" +
				"-rwxr-xr-x 1 root root 3 2020-01-02 \x1b[01;32mf\x1b[0m\n" +
				"-rw-r--r-- 1 root root 6 2020-01-02 g\n" +
				"lrwxrwxrwx 1 root root 1 2020-01-02 \x1b[01;36ml\x1b[0m -> f\n" +
				"prw-r--r-- 1 root root 0 2020-01-02 \x1b[33mp\x1b[0m\n" +
				"\x1b[0m\x1b[01;34md\x1b[0m\n"},
		{"ls sorts and classifies", `ls -A -F; ls -1 -S f g`, "b@\nd/\nf*\ng\nl@\np|\ng\nf\n"},
		{"stat", `stat -c '%n %F %a %s %h %Y %U:%G' f g l d p; stat -L -c '%n %F %s' l`,
			"f regular file 755 3 1 1577934245 root:root\ng regular file 644 6 1 1577934245 root:root\nl symbolic link 777 1 1 1577934245 root:root\nd directory 755 " +
				"40 2 1577934245 root:root\np fifo 644 0 1 1577934245 root:root\nl regular file 3\n"},
		{"touch -d and -r", `touch -d '1999-12-31 23:59:58.5' g && stat -c %y g && touch -r g f && stat -c %y f && touch -m -d @86400 g && stat -c '%X %Y' g`,
			"1999-12-31 23:59:58.500000000 +0000\n1999-12-31 23:59:58.500000000 +0000\n946684798 86400\n"},
		{"cp -a", `echo sub > d/s && ln f d/hard && touch -d @1000 d/s d && cp -a /tmp/x /tmp/y && cd /tmp/y && stat -c '%n %a %Y %h' f d/s d/hard d && readlink l b && [ -p p ] && [ d/hard -ef f ] && echo linked`,
			"f 755 1577934245 2\nd/s 644 1000 1\nd/hard 755 1577934245 2\nd 755 1000 2\nf\nnowhere\nlinked\n"},
		{"mv across mounts and within", `mv f /root/f2 && mv d /root/d2 && ls /root && cat /root/f2 /root/d2/s 2>&1; mv /root/f2 /root/f3 && stat -c '%n %a %Y' /root/f3`,
			"d2\nf2\nhi\ncat: /root/d2/s: No such file or directory\n/root/f3 755 1577934245\n"},
		{"du", `mkdir -p /tmp/du/a && head -c 10000 /dev/zero > /tmp/du/a/z && head -c 3000 /dev/zero > /tmp/du/y && du -b --max-depth=1 /tmp/du/a /tmp/du/y && du -sb --apparent-size /tmp/du | cut -f1`,
			// tmpfs directories count 40 bytes and 20 per entry, as Linux's.
			"10060\t/tmp/du/a\n3000\t/tmp/du/y\n13140\n"},
		{"df", `df -P / /tmp /dev | awk '{print $1, $6}'; stat -f -c %T / /tmp`, "Filesystem Mounted\nrootfs /\ntmpfs /tmp\ntmpfs /dev\noverlayfs\ntmpfs\n"},
		{"rm -r", `rm -r /tmp/x && ls -A /tmp`, ""},
		{"sort uniq wc", `printf '3\n1\n2\n1\n' | sort -n | uniq -c | awk '{print $1 $2}'; wc -c < /etc/debian_version`, "21\n12\n13\n6\n"},
	} {
		t.Run(tc.name, func(t *testing.T) { checkScript(t, setup+tc.script, tc.want, 0) })
	}
}

// TestDebianFindXdev lists the whole root file system with find -xdev and
// compares names, types, modes and sizes with the host's view of the tree.
// The mount points (/dev, /proc, /sys, /tmp) show, their contents do not.
func TestDebianFindXdev(t *testing.T) {
	root := debianRoot(t)
	out, errOut, ws := debRun{}.run(t, "/usr/bin/find", "/", "-xdev", "-printf", `%p %y %m %s\n`)
	if ws != 0 {
		t.Fatalf("find: %v\n%s", describe(ws), errOut)
	}
	var want []string
	// The mount points show the mounted file systems' roots.
	mounts := map[string]string{"/dev": "/dev d 755 -1", "/proc": "/proc d 555 -1", "/sys": "/sys d 555 -1", "/tmp": "/tmp d 1777 -1"}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := "/" + strings.TrimPrefix(strings.TrimPrefix(p, root), "/")
		info, err := d.Info()
		if err != nil {
			return err
		}
		typ, size := "f", info.Size()
		switch {
		case d.IsDir():
			typ = "d"
		case d.Type()&os.ModeSymlink != 0:
			typ = "l"
		case d.Type()&os.ModeNamedPipe != 0:
			typ = "p"
		case d.Type()&os.ModeCharDevice != 0:
			typ = "c"
		}
		// Directory sizes are the file system's own.
		if d.IsDir() {
			size = -1
		}
		if m, ok := mounts[name]; ok {
			want = append(want, m)
			return filepath.SkipDir
		}
		want = append(want, fmt.Sprintf("%s %s %o %d", name, typ, uint32(info.Mode().Perm())|modeBits(info.Mode()), size))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if f := strings.Fields(l); len(f) == 4 && f[1] == "d" {
			l = strings.Join(append(f[:3], "-1"), " ")
		}
		got = append(got, l)
	}
	sort.Strings(want)
	sort.Strings(got)
	if g, w := strings.Join(got, "\n"), strings.Join(want, "\n"); g != w {
		t.Errorf("find -xdev differs from the host's tree (%d entries, want %d):\n%s", len(got), len(want), lineDiff(got, want))
	}
}

// modeBits are the set-id and sticky bits of m in Linux's encoding.
func modeBits(m os.FileMode) uint32 {
	var b uint32
	if m&os.ModeSetuid != 0 {
		b |= 0o4000
	}
	if m&os.ModeSetgid != 0 {
		b |= 0o2000
	}
	if m&os.ModeSticky != 0 {
		b |= 0o1000
	}
	return b
}

// lineDiff lists up to 20 lines only one of the sorted lists has.
func lineDiff(got, want []string) string {
	var b strings.Builder
	in := func(l []string, s string) bool {
		i := sort.SearchStrings(l, s)
		return i < len(l) && l[i] == s
	}
	n := 0
	for _, s := range got {
		if !in(want, s) && n < 20 {
			fmt.Fprintf(&b, "+ %s\n", s)
			n++
		}
	}
	for _, s := range want {
		if !in(got, s) && n < 40 {
			fmt.Fprintf(&b, "- %s\n", s)
			n++
		}
	}
	return b.String()
}

func TestDebianTar(t *testing.T) {
	// Owners, modes, times, symlinks and hard links survive a round trip,
	// through a file and through gzip in a pipe.
	checkScript(t, `mkdir -p /tmp/src/d && cd /tmp/src && echo data > d/f && ln d/f hard && ln -s d/f sym && mkfifo fifo && chmod 4710 d/f && touch -h -d @1234567890 d/f sym fifo d .
tar -cf /tmp/a.tar -C / etc usr/share/perl5 -C /tmp src
mkdir /tmp/x && tar -xpf /tmp/a.tar -C /tmp/x
diff -r --no-dereference /etc /tmp/x/etc && diff -r /usr/share/perl5 /tmp/x/usr/share/perl5 && echo same
tree() { cd "$1" && find . -printf '%p %y %m %s %T@ %l %n\n' | sort; }
[ "$(tree /tmp/src)" = "$(tree /tmp/x/src)" ] && echo metadata
tar -czf - -C /tmp src | tar -xzf - -C /root
[ "$(tree /tmp/src)" = "$(tree /root/src)" ] && echo gzip
tar -tvf /tmp/a.tar src/d/f src/hard src/sym | awk '{print $1, $3, $6, $7, $8}'
`, "same\nmetadata\ngzip\n-rws--x--- 5 src/d/f  \nhrws--x--- 0 src/hard link to\nlrwxrwxrwx 0 src/sym -> d/f\n", 0)
}

const pythonScript = `
import filecmp, hashlib, mmap, os, shutil, subprocess, sys, tempfile, threading

# os.walk: every name under /usr/share, none followed through a symlink.
names = []
for root, dirs, files in os.walk('/usr/share'):
    names += [os.path.join(root, n) for n in dirs + files]
names.sort()
print('walk', len(names), hashlib.sha256('\n'.join(names).encode()).hexdigest()[:16])

# tempfile and shutil.copytree, compared byte for byte.
d = tempfile.mkdtemp(prefix='py-')
print('tempdir', os.path.dirname(d), oct(os.stat(d).st_mode & 0o777))
shutil.copytree('/usr/lib/python3.11/json', d + '/json', symlinks=True)
c = filecmp.dircmp('/usr/lib/python3.11/json', d + '/json')
same = filecmp.cmpfiles('/usr/lib/python3.11/json', d + '/json', c.common_files, shallow=False)
print('copytree', c.left_only, c.right_only, len(same[0]), same[1], same[2])
with tempfile.NamedTemporaryFile(dir=d, delete=False) as f:
    f.write(b'.' * 10000)
shutil.move(f.name, d + '/moved')
shutil.rmtree(d + '/json')
print('listdir', sorted(os.listdir(d)))

# mmap: a shared mapping writes the file, a private one does not.
with open(d + '/moved', 'r+b') as f:
    m = mmap.mmap(f.fileno(), 0)
    m[0:5] = b'hello'
    m.flush()
    m.close()
    p = mmap.mmap(f.fileno(), 0, flags=mmap.MAP_PRIVATE)
    p[0:5] = b'xxxxx'
    p.close()
with open(d + '/moved', 'rb') as f:
    print('mmap', f.read(7), os.fstat(f.fileno()).st_size)

# subprocess: pipes, exit status, cwd and a killed child.
r = subprocess.run(['ls', '-1', d], capture_output=True, text=True)
print('subprocess', repr(r.stdout), r.returncode)
r = subprocess.run('cd /etc && pwd && exit 3', shell=True, capture_output=True, text=True)
print('shell', repr(r.stdout), r.returncode)
r = subprocess.Popen(['sleep', '10'])
r.kill()
print('killed', r.wait())
print('pwd', subprocess.check_output(['pwd'], cwd='/usr/lib').decode().strip())

# threading: 8 threads make, check and remove their own files.
errors = []
def work(i):
    try:
        base = '%s/t%d' % (d, i)
        os.mkdir(base)
        for j in range(50):
            p = '%s/%d' % (base, j)
            with open(p, 'w') as f:
                f.write('%d-%d' % (i, j))
            if os.stat(p).st_size != len('%d-%d' % (i, j)):
                errors.append(p)
            with open(p) as f:
                if f.read() != '%d-%d' % (i, j):
                    errors.append(p)
        if sorted(os.listdir(base), key=int) != [str(j) for j in range(50)]:
            errors.append(base)
        shutil.rmtree(base)
    except Exception as e:
        errors.append(repr(e))
ts = [threading.Thread(target=work, args=(i,)) for i in range(8)]
[t.start() for t in ts]
[t.join() for t in ts]
print('threads', errors, sorted(os.listdir(d)))
print('exe', os.readlink('/proc/self/exe'), sys.executable)
`

func TestDebianPython(t *testing.T) {
	root := debianRoot(t)
	var names []string
	share := filepath.Join(root, "usr/share")
	filepath.WalkDir(share, func(p string, d os.DirEntry, err error) error {
		if p != share {
			names = append(names, "/usr/share"+strings.TrimPrefix(p, share))
		}
		return nil
	})
	sort.Strings(names)
	sum := sha256.Sum256([]byte(strings.Join(names, "\n")))
	want := fmt.Sprintf("walk %d %x\n", len(names), sum[:8]) +
		"tempdir /tmp 0o700\n" +
		"copytree [] [] 5 [] []\n" +
		"listdir ['moved']\n" +
		"mmap b'hello..' 10000\n" +
		"subprocess 'moved\\n' 0\n" +
		"shell '/etc\\n' 3\n" +
		"killed -9\n" +
		"pwd /usr/lib\n" +
		"threads [] ['moved']\n" +
		"exe /usr/bin/python3.11 /usr/bin/python3\n"
	out, errOut, ws := debRun{}.run(t, "python3", "-c", pythonScript)
	if out != want || ws != 0 {
		t.Errorf("python:\n%s\nstderr %s\nstatus %s\nwant:\n%s", out, errOut, describe(ws), want)
	}
}

func TestDebianPerl(t *testing.T) {
	script := `
use strict;
mkdir "/tmp/p", 0750 or die "mkdir: $!";
open(my $f, ">", "/tmp/p/a") or die "open: $!";
print $f "abc\n";
close $f;
symlink("a", "/tmp/p/l") or die "symlink: $!";
symlink("none", "/tmp/p/dangling") or die;
link("/tmp/p/a", "/tmp/p/h") or die "link: $!";
chmod 0640, "/tmp/p/a";
utime 1000, 2000, "/tmp/p/a" or die;
my $a = "/tmp/p/a";
print join(",", map { $_ ? 1 : 0 } (-e $a, -f $a, -d $a, -l $a, -r $a, -w $a, -x $a, -z $a, -s $a)), "\n";
print join(",", map { $_ ? 1 : 0 } (-l "/tmp/p/l", -f "/tmp/p/l", -e "/tmp/p/dangling", -l "/tmp/p/dangling", -d "/tmp/p", -x "/usr/bin/perl", -e "/nope")), "\n";
my @st = stat($a);
printf "%o %d %d %d %d\n", $st[2], $st[3], $st[7], $st[8], $st[9];
my @lst = lstat("/tmp/p/l");
printf "%o %d\n", $lst[2], $lst[7];
print readlink("/tmp/p/l"), "\n";
opendir(my $d, "/tmp/p") or die;
print join(" ", sort grep { !/^\./ } readdir($d)), "\n";
closedir $d;
rename("/tmp/p/h", "/tmp/p/h2") or die;
print unlink("/tmp/p/a", "/tmp/p/h2", "/tmp/p/nope"), "\n";
print((-e "/tmp/p/a") ? "still\n" : "gone $!\n");
open($f, "<", "/nope") or print "open: $!\n";
print((rmdir "/tmp/p") ? "rmdir\n" : "rmdir: $!\n");
`
	want := "1,1,0,0,1,1,0,0,1\n" +
		"1,1,0,1,1,1,0\n" +
		"100640 2 4 1000 2000\n" +
		"120777 1\n" +
		"a\n" +
		"a dangling h l\n" +
		"2\n" +
		"gone No such file or directory\n" +
		"open: No such file or directory\n" +
		"rmdir: Directory not empty\n"
	out, errOut, ws := debRun{}.run(t, "perl", "-e", script)
	if out != want || ws != 0 {
		t.Errorf("perl:\n%s\nstderr %s\nstatus %s\nwant:\n%s", out, errOut, describe(ws), want)
	}
}

func TestDebianSqlite(t *testing.T) {
	// A rollback-journal database in /tmp and a WAL one (shared memory
	// through mmap of the -shm file) in the overlay, each reopened by a
	// second process.
	checkScript(t, `
sqlite3 /tmp/t.db "create table t(a integer primary key, b text); insert into t(b) values ('x'), ('y'); begin; insert into t(b) values ('z'); rollback;"
sqlite3 /tmp/t.db "select count(*), group_concat(b) from t; pragma integrity_check;"
sqlite3 /root/w.db "pragma journal_mode=wal; create table n(x); with recursive c(i) as (select 1 union all select i+1 from c where i < 20000) insert into n select i from c;"
sqlite3 /root/w.db "select count(*), sum(x) from n; create index nx on n(x); select x from n where x = 777; pragma integrity_check;"
ls /root | sort
`, "2|x,y\nok\nwal\n20000|200010000\n777\nok\nw.db\n", 0)
}

// TestDebianTextBusy checks the host's rule on the sandbox's files: no
// writing a running program, no running a program open for writing, but
// running one merely open for reading. (A dynamic program runs through
// ld.so, which the sentry execs instead, so only static ones are covered.)
func TestDebianTextBusy(t *testing.T) {
	bin := compile(t, "sleep.c")
	script := `cat > /tmp/st && chmod 755 /tmp/st
exec 3</tmp/st; /tmp/st && echo ran
/tmp/st 2 & sleep 0.5; (echo x >> /tmp/st) 2>&1 | sed 's/.*: //'; kill $!; wait
exec 4>>/tmp/st; /tmp/st; echo $?`
	out, errOut, ws := debRun{stdin: bin}.run(t, "/bin/bash", "-c", script)
	if want := "ran\nText file busy\n126\n"; out != want || ws != 0 {
		t.Fatalf("got %q, %s\nstderr %s\nwant %q", out, describe(ws), errOut, want)
	}
}

// TestDebianProcTools runs the tools that read /proc and /dev/pts as
// Debian ships them: procps ps and pgrep, getconf, a multiprocessing Pool
// and script(1) with its own pty.
func TestDebianProcTools(t *testing.T) {
	script := `ps -ef | awk -v me=$$ 'NR==1 {print $1, $2, $3, $NF} $2==me {print "self", $8} $3==me && $8=="ps" {print "child ps"}'
pgrep -x bash | grep -qx $$ && echo pgrep finds the shell
[ "$(getconf _NPROCESSORS_ONLN)" = "$(nproc)" ] && echo getconf agrees with nproc
python3 -c "import multiprocessing as m; print(m.Pool(4).map(abs, [-1, -2, -3]))"
script -qc 'tty; echo in script' /dev/null | tr -d '\r' | sed 's|/dev/pts/[0-9]*$|/dev/pts/N|'`
	out, errOut, ws := debRun{}.run(t, "/bin/bash", "-c", script)
	want := "UID PID PPID CMD\nself /bin/bash\nchild ps\npgrep finds the shell\ngetconf agrees with nproc\n[1, 2, 3]\n/dev/pts/N\nin script\n"
	if out != want || ws != 0 {
		t.Fatalf("got %q, %s\nstderr %s\nwant %q", out, describe(ws), errOut, want)
	}
}

// TestDebianManyFiles extracts more small files than the sentry may hold
// fds (20,000 on the CI VM), into the root's overlay upper and into /tmp,
// and reads them all back.
func TestDebianManyFiles(t *testing.T) {
	const dirs, perDir = 42, 500
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for d := range dirs {
		must(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: fmt.Sprintf("d%d/", d), Mode: 0o755}))
		for f := range perDir {
			body := fmt.Sprintf("%d/%d\n", d, f)
			must(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: fmt.Sprintf("d%d/f%d", d, f), Mode: 0o644, Size: int64(len(body))}))
			_, err := tw.Write([]byte(body))
			must(t, err)
		}
	}
	must(t, tw.Close())
	script := `set -e
mkdir /srv/many && tar -x -C /srv/many
cp -a /srv/many /tmp/many
for d in /srv/many /tmp/many; do
  echo $(find $d -type f | wc -l) $(find $d -type f -print0 | xargs -0 cat | sort -u | wc -l) $(cat $d/d41/f499)
done
rm -r /srv/many /tmp/many && [ ! -e /srv/many ] && [ ! -e /tmp/many ] && echo gone`
	out, errOut, ws := debRun{stdin: buf.Bytes()}.run(t, "/bin/bash", "-c", script)
	if want := "21000 21000 41/499\n21000 21000 41/499\ngone\n"; out != want || ws != 0 {
		t.Fatalf("got %q, %s\nstderr %s\nwant %q", out, describe(ws), errOut, want)
	}
}

// TestDebianThreadsFileCalls runs 8 threads that open, stat, dup, read and
// close their own files concurrently for 10 seconds and checks every
// result, then for 2 seconds with a SIGALRM every 100 µs landing on any of
// them.
func TestDebianThreadsFileCalls(t *testing.T) {
	bin := compile(t, "threads.c", "-pthread")
	for _, args := range []string{"10", "2 100"} {
		out, errOut, ws := runProgram(t, bin, args)
		if out != "ok\n" || ws != 0 {
			t.Fatalf("threads %s: %q %s\nstderr %s", args, out, describe(ws), errOut)
		}
		t.Logf("threads %s: %s", args, strings.TrimSpace(errOut))
	}
}

// TestDebianThreadExec has a thread other than the leader exec bash, which
// takes the leader's pid: /proc/self and /proc/thread-self, the check of
// the program's own fds and the credentials must follow.
func TestDebianThreadExec(t *testing.T) {
	bin := compile(t, "thread_exec.c", "-pthread")
	out, errOut, ws := runProgram(t, bin, "")
	if want := "self ok\nthread-self ok\ndup of a host fd ok\ncreds ok\n"; out != want || ws != 0 {
		t.Fatalf("got %q, %s\nstderr %s\nwant %q", out, describe(ws), errOut, want)
	}
}

// TestDebianSpawnMemory runs 300 subprocesses from Python, which spawns
// them with vfork: the exec scratch each child maps in the memory it
// shares with Python must not stay there (it grew 4 kB per spawn).
func TestDebianSpawnMemory(t *testing.T) {
	script := `
import re, subprocess
def vm():
    return int(re.search(r'VmSize:\s+(\d+)', open('/proc/self/status').read()).group(1))
for i in range(10): subprocess.run(['/bin/true'], check=True)
before = vm()
for i in range(300): subprocess.run(['/bin/true'], check=True)
print(vm() - before)
`
	out, errOut, ws := debRun{}.run(t, "/usr/bin/python3", "-c", script)
	grew, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil || ws != 0 {
		t.Fatalf("got %q, %s\nstderr %s", out, describe(ws), errOut)
	}
	t.Logf("grew %d kB", grew)
	if grew > 256 {
		t.Errorf("Python's VmSize grew by %d kB over 300 spawns", grew)
	}
}

// TestDebianAlarmStorm interrupts file calls with a SIGALRM every 50 µs; no
// call may be lost or done twice.
func TestDebianAlarmStorm(t *testing.T) {
	bin := compile(t, "alarm.c")
	out, errOut, ws := runProgram(t, bin, "1000")
	if out != "ok\n" || ws != 0 {
		t.Fatalf("alarm storm: %q %s\nstderr %s", out, describe(ws), errOut)
	}
	t.Logf("alarm storm: %s", strings.TrimSpace(errOut))
}

// TestDebianSignalsReachProgram sends SIGINT and SIGTERM from outside the
// sandbox to a program busy with file calls; its handlers must run.
func TestDebianSignalsReachProgram(t *testing.T) {
	script := `
import os, signal, sys
got = []
signal.signal(signal.SIGINT, lambda s, f: got.append('INT'))
signal.signal(signal.SIGTERM, lambda s, f: got.append('TERM'))
print('ready', flush=True)
n = 0
while 'TERM' not in got:
    os.stat('/etc/passwd')
    with open('/etc/hostname' if os.path.exists('/etc/hostname') else '/etc/debian_version') as f:
        f.read()
    n += 1
    if got and got[-1] == 'INT':
        print('INT', flush=True)
        got.append('seen')
print(got, n > 0)
`
	var sendErr error
	out, errOut, ws := debRun{started: func(p *platform.Process, stdout *syncBuffer) {
		for _, step := range []struct {
			after string
			sig   unix.Signal
		}{{"ready\n", unix.SIGINT}, {"INT\n", unix.SIGTERM}} {
			if !stdout.waitFor(step.after) {
				sendErr = fmt.Errorf("no %q in %q", step.after, stdout.String())
				p.Signal(unix.SIGKILL)
				return
			}
			if err := p.Signal(step.sig); err != nil {
				sendErr = err
			}
		}
	}}.run(t, "python3", "-c", script)
	if sendErr != nil {
		t.Fatal(sendErr)
	}
	if want := "ready\nINT\n['INT', 'seen', 'TERM'] True\n"; out != want || ws != 0 {
		t.Fatalf("got %q, %s\nstderr %s\nwant %q", out, describe(ws), errOut, want)
	}
}

// TestDebianKilledBySignal checks wait statuses of programs killed by
// signals, seen from outside the sandbox and by a shell inside it. The
// program is pid 1 of its namespace: like init, it ignores a signal it has
// no handler for unless SIGKILL comes from outside.
func TestDebianKilledBySignal(t *testing.T) {
	for _, tc := range []struct {
		name string
		argv []string
		send []unix.Signal // from outside, once the program is running
		want unix.Signal
	}{
		{"SIGTERM ignored, then SIGKILL", []string{"/bin/bash", "-c", "echo running; exec sleep 100"}, []unix.Signal{unix.SIGTERM, unix.SIGKILL}, unix.SIGKILL},
		{"SIGKILL during file calls", []string{"/bin/bash", "-c", "echo running; while :; do ls -R /usr/share >/dev/null; done"}, []unix.Signal{unix.SIGKILL}, unix.SIGKILL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := debRun{started: func(p *platform.Process, stdout *syncBuffer) {
				stdout.waitFor("running\n")
				for _, sig := range tc.send {
					p.Signal(sig)
					time.Sleep(300 * time.Millisecond)
				}
			}}
			_, errOut, ws := r.run(t, tc.argv...)
			if !ws.Signaled() || ws.Signal() != tc.want {
				t.Fatalf("%s, want killed by %v\nstderr %s", describe(ws), tc.want, errOut)
			}
		})
	}
	checkScript(t, `sleep 10 & kill -INT $!; wait $!; echo $?
python3 -c 'import os; os.abort()'; echo $?
bash -c 'kill -SEGV $$'; echo $?
perl -e 'kill "KILL", $$'; echo $?
(trap 'echo trapped; exit 5' TERM; kill -TERM $BASHPID; sleep 1); echo $?
`, "130\n134\n139\n137\ntrapped\n5\n", 0)
}

// TestDebianDpkg builds a package and installs and removes it with dpkg,
// whose database updates rename, fsync and link many files.
func TestDebianDpkg(t *testing.T) {
	checkScript(t, `set -e
mkdir -p /tmp/pkg/DEBIAN /tmp/pkg/usr/bin
printf 'Package: hello-runsc\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@example.com>\nDescription: test\n' > /tmp/pkg/DEBIAN/control
printf '#!/bin/sh\necho hello from package\n' > /tmp/pkg/usr/bin/hello-runsc
printf '#!/bin/sh\necho postinst "$1"\n' > /tmp/pkg/DEBIAN/postinst
chmod 755 /tmp/pkg/usr/bin/hello-runsc /tmp/pkg/DEBIAN/postinst
dpkg-deb --build /tmp/pkg /tmp/hello.deb >/dev/null
dpkg -i /tmp/hello.deb | grep postinst
hello-runsc
dpkg-query -W -f '${Status} ${Version}\n' hello-runsc
dpkg -r hello-runsc >/dev/null
[ ! -e /usr/bin/hello-runsc ] && echo removed
dpkg --audit && echo consistent
`, "postinst configure\nhello from package\ninstall ok installed 1.0\nremoved\nconsistent\n", 0)
}

// TestDebianConcurrentSpawn forks and execs from 8 threads at once: each
// child's cwd, files and output must be its own.
func TestDebianConcurrentSpawn(t *testing.T) {
	out, errOut, ws := debRun{}.run(t, "python3", "-c", `
import concurrent.futures, os, subprocess
def job(i):
    p = '/tmp/j%d' % i
    os.mkdir(p)
    r = subprocess.run(['sh', '-c', 'cd %s && echo %d > f && cat f && ls' % (p, i)], capture_output=True, text=True)
    return r.stdout == '%d\nf\n' % i and r.returncode == 0
with concurrent.futures.ThreadPoolExecutor(8) as ex:
    res = list(ex.map(job, range(64)))
print(res.count(True), len(os.listdir('/tmp')))
`)
	if out != "64 64\n" || ws != 0 {
		t.Fatalf("got %q, %s\nstderr %s", out, describe(ws), errOut)
	}
}

// TestDebianFDTable runs fd-table operations (dup2/dup3/F_DUPFD edge cases,
// shared and separate offsets, host fds over sandbox fds and back,
// close_range, fork, close-on-exec) in the sandbox and on the host and
// compares the results.
func TestDebianFDTable(t *testing.T) { compareWithHost(t, "fdtable.c") }

// TestDebianUnixSockets compares unix sockets named by paths of the VFS
// (stream and datagram; bind, connect, sendto, sendmsg, get*name, errors).
func TestDebianUnixSockets(t *testing.T) { compareWithHost(t, "unixsock.c") }

// TestDebianFIFOs compares FIFOs of the VFS: opens of either end with and
// without O_NONBLOCK, data, and opens interrupted by signals.
func TestDebianFIFOs(t *testing.T) { compareWithHost(t, "fifo.c") }

// TestDebianMessageQueues compares POSIX message queues, which live in the
// sandbox's IPC namespace.
func TestDebianMessageQueues(t *testing.T) { compareWithHost(t, "mqueue.c") }

// TestDebianUnixPeerCreds checks that a unix socket's peer sees the
// program's user, not the sentry's root, when the sentry connects or sends
// to a path for it.
func TestDebianUnixPeerCreds(t *testing.T) {
	compareWithHost(t, "peercred.c", "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
}

// TestDebianErrnos compares the errnos of about 90 failing file calls (bad
// paths, flags, pointers and fds) in the sandbox's /tmp with the host's on
// a tmpfs.
func TestDebianErrnos(t *testing.T) { compareWithHost(t, "errno.c") }

// TestDebianErrnosAsNobody runs the same calls after setpriv has switched to
// nobody, keeping its capabilities across setresuid (PR_SET_KEEPCAPS) until
// the exec drops them: every create in root's directory is EACCES.
func TestDebianErrnosAsNobody(t *testing.T) {
	compareWithHost(t, "errno.c", "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
}

// compareWithHost runs the C program test/testdata/name (under the command
// wrapper, if any) in an empty root-owned directory of a tmpfs on the host
// and in the sandbox's /tmp, and compares what it prints.
func compareWithHost(t *testing.T, name string, wrapper ...string) {
	requireRoot(t)
	bin := compile(t, name)
	dir := t.TempDir()
	prog := filepath.Join(dir, "prog")
	if err := os.WriteFile(prog, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(dir, "work")
	if err := os.Mkdir(work, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", work, "tmpfs", 0, "mode=0755"); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(work, unix.MNT_DETACH)
	argv := append(append([]string(nil), wrapper...), prog)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = work
	want, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("on the host: %v\n%s", err, want)
	}
	out, errOut, ws := debRun{stdin: bin}.run(t, "/bin/bash", "-c", "cat > /tmp/prog && chmod 755 /tmp/prog && mkdir /tmp/w && cd /tmp/w && exec "+strings.Join(append(wrapper, "/tmp/prog"), " "))
	if out != string(want) || ws != 0 {
		t.Errorf("sandbox (%s, stderr %q):\n%s\nhost:\n%s", describe(ws), errOut, out, want)
	}
}

// TestDebianCwdSharing checks that threads share the working directory and
// umask, while forked and spawned children have their own.
func TestDebianCwdSharing(t *testing.T) {
	out, errOut, ws := debRun{}.run(t, "python3", "-c", `
import os, threading, subprocess
os.chdir('/tmp')
t = threading.Thread(target=lambda: (os.chdir('/etc'), os.umask(0o077)))
t.start(); t.join()
print('main sees', os.getcwd(), oct(os.umask(0o022)))
pid = os.fork()
if pid == 0:
    os.chdir('/usr'); os._exit(0)
os.waitpid(pid, 0)
print('after child chdir', os.getcwd())
r = subprocess.run(['pwd'], cwd='/var', capture_output=True, text=True)
print('spawn cwd', r.stdout.strip(), 'parent', os.getcwd())
print(open('passwd').read().split(':')[0])
`)
	want := "main sees /etc 0o77\nafter child chdir /etc\nspawn cwd /var parent /etc\nroot\n"
	if out != want || ws != 0 {
		t.Fatalf("got %q, %s\nstderr %s\nwant %q", out, describe(ws), errOut, want)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestDebianAffinity: the platform pins a task that traps to its
// receivers' CPU, but programs see the sandbox's CPUs (nproc, Python,
// /proc/self/status), and an affinity the program sets itself is kept,
// also by its children, however much it traps; a failed
// sched_setaffinity leaves the sandbox's CPUs.
func TestDebianAffinity(t *testing.T) {
	var all unix.CPUSet
	must(t, unix.SchedGetaffinity(0, &all))
	var cpus []string
	for c := 0; c < len(all)*64; c++ {
		if all.IsSet(c) {
			cpus = append(cpus, fmt.Sprint(c))
		}
	}
	last := cpus[len(cpus)-1]
	script := `py='import os; [os.stat("/") for _ in range(3000)]; print(*sorted(os.sched_getaffinity(0)))'
python3 -c "$py"
for i in $(seq 300); do stat / >/dev/null; done; nproc
grep -h Cpus_allowed_list /proc/self/status
taskset -c 0 python3 -c "$py"
taskset -c ` + last + ` sh -c 'python3 -c "$0"; grep -h Cpus_allowed_list /proc/self/status' "$py"
python3 -c '
import os
try: os.sched_setaffinity(0, {4095})
except OSError as e: print(e.errno)
[os.stat("/") for _ in range(100)]
print(*sorted(os.sched_getaffinity(0)))'`
	out, errOut, ws := debRun{}.run(t, "/bin/bash", "-c", script)
	want := fmt.Sprintf("%s\n%d\nCpus_allowed_list:\t%s\n0\n%s\nCpus_allowed_list:\t%s\n22\n%s\n",
		strings.Join(cpus, " "), len(cpus), hostCPUList(t), last, last, strings.Join(cpus, " "))
	if out != want || ws != 0 {
		t.Fatalf("got %q, %s\nstderr %s\nwant %q", out, describe(ws), errOut, want)
	}
}

// hostCPUList is this process's Cpus_allowed_list.
func hostCPUList(t *testing.T) string {
	b, err := os.ReadFile("/proc/self/status")
	must(t, err)
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatal("no Cpus_allowed_list")
	return ""
}
