package e2e

import (
	"testing"
)

func TestBusyboxScripts(t *testing.T) {
	requireRoot(t)
	root := busyboxRoot(t)
	for _, tc := range []struct {
		name, script, want string
		code               int
	}{
		{"echo", `echo hello`, "hello\n", 0},
		{"exit code", `exit 3`, "", 3},
		{"redirect and cat", `echo abc > /tmp/f; echo def >> /tmp/f; cat /tmp/f`, "abc\ndef\n", 0},
		{"mkdir -p and ls", `mkdir -p /a/b/c && ls /a/b`, "c\n", 0},
		{"cp mv rm", `echo x > /tmp/1; cp /tmp/1 /tmp/2; mv /tmp/2 /tmp/3; rm /tmp/1; ls /tmp; cat /tmp/3`, "3\nx\n", 0},
		{"rm -rf", `mkdir -p /d/e/f; touch /d/e/f/g /d/h; rm -rf /d; ls /d 2>&1; echo $?`, "ls: /d: No such file or directory\n1\n", 0},
		{"ln -s and readlink", `ln -s /tmp/target /tmp/l; echo data > /tmp/target; cat /tmp/l; readlink /tmp/l`, "data\n/tmp/target\n", 0},
		{"find", `mkdir -p /s/a /s/b; touch /s/a/1 /s/b/2; find /s | sort`, "/s\n/s/a\n/s/a/1\n/s/b\n/s/b/2\n", 0},
		{"grep sed wc sort", `printf 'b\na\nc\nab\n' > /tmp/in; grep a /tmp/in | sort | wc -l; sed 's/a/X/' /tmp/in | sort | tr '\n' ' '`, "2\nX Xb b c ", 0},
		{"pipes and subshells", `(cd /tmp && echo $(pwd)) | cat; echo after`, "/tmp\nafter\n", 0},
		{"exec", `exec echo replaced; echo not reached`, "replaced\n", 0},
		{"tar round trip", `mkdir -p /t/src/d; echo one > /t/src/d/f; ln -s d/f /t/src/l; cd /t/src && tar -cf /t/a.tar . && mkdir /t/dst && cd /t/dst && tar -xf /t/a.tar && cat d/f && readlink l`, "one\nd/f\n", 0},
		{"stat and chmod", `touch /tmp/m; chmod 4751 /tmp/m; stat -c '%a %s %F' /tmp/m`, "4751 0 regular empty file\n", 0},
		{"false", `false`, "", 1},
		{"missing command", `nosuchcommand 2>/dev/null`, "", 127},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, ws := run(t, root, "/bin/sh", "-c", tc.script)
			if out != tc.want || ws.ExitStatus() != tc.code {
				t.Errorf("script %q:\nstdout %q\nstderr %q\nstatus %d\nwant %q status %d", tc.script, out, errOut, ws.ExitStatus(), tc.want, tc.code)
			}
		})
	}
}

func TestBusyboxKilledBySignal(t *testing.T) {
	requireRoot(t)
	root := busyboxRoot(t)
	out, _, _ := run(t, root, "/bin/sh", "-c", `sh -c 'kill -TERM $$'; echo $?; sh -c 'kill -KILL $$'; echo $?`)
	if out != "143\n137\n" {
		t.Fatalf("children killed by SIGTERM and SIGKILL: shell saw %q, want 143 and 137", out)
	}
}

// TestBusyboxPIDNamespace checks that the program is pid 1 of its own pid
// namespace, as runc makes it: /proc and ps show the namespace's ids, and
// pid 1 ignores the signals it has no handler for, even SIGKILL from
// inside, as Linux's init of a namespace does.
func TestBusyboxPIDNamespace(t *testing.T) {
	requireRoot(t)
	root := busyboxRoot(t)
	script := `echo pid $$ ppid $PPID
sh -c 'echo $PPID; read pid comm state ppid rest < /proc/self/stat; [ $pid = $$ ] && [ $pid -gt 1 ] && echo same $ppid'; true
cut -d" " -f1,2,4 /proc/1/stat
while read k v; do case $k in Pid:|PPid:|NSpid:) echo $k $v;; esac; done < /proc/self/status
kill -TERM $$; kill -KILL $$; echo survived`
	out, errOut, ws := runNS(t, root, script)
	want := "pid 1 ppid 0\n1\nsame 1\n1 (sh) 0\nPid: 1\nPPid: 0\nNSpid: 1\nsurvived\n"
	if out != want || ws != 0 {
		t.Fatalf("got %q (status %v, stderr %q), want %q", out, ws, errOut, want)
	}
}
