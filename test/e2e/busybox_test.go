package e2e

import (
	"strings"
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
	_, _, ws := run(t, root, "/bin/sh", "-c", `kill -TERM $$`)
	if !ws.Signaled() || ws.Signal().String() != "terminated" {
		t.Fatalf("wait status %v, want killed by SIGTERM", ws)
	}
	out, _, _ := run(t, root, "/bin/sh", "-c", `sh -c 'kill -KILL $$'; echo $?`)
	if strings.TrimSpace(out) != "137" {
		t.Fatalf("child killed by SIGKILL: shell saw %q, want 137", out)
	}
}
