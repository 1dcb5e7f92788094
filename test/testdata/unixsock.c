// Unix sockets named by paths: bind, listen, connect, accept, sendto,
// sendmsg, getsockname and getpeername, and their errors. The test compares
// this program's output in the sandbox with its output on the host. Run it
// in an empty directory it may write to.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define T(call) do { errno = 0; long r_ = (long)(call); printf("%-60s %ld %s\n", #call, r_ < 0 ? -1L : r_, r_ < 0 ? strerrorname_np(errno) : ""); } while (0)

static struct sockaddr_un un(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
	return a;
}

static int bindTo(int s, const char *path)
{
	struct sockaddr_un a = un(path);
	return bind(s, (struct sockaddr *)&a, offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
}

static int connectTo(int s, const char *path)
{
	struct sockaddr_un a = un(path);
	return connect(s, (struct sockaddr *)&a, sizeof a);
}

static void showName(const char *what, int s, int peer)
{
	struct sockaddr_un a;
	socklen_t len = sizeof a;
	memset(&a, 0, sizeof a);
	int r = peer ? getpeername(s, (struct sockaddr *)&a, &len) : getsockname(s, (struct sockaddr *)&a, &len);
	if (r < 0) {
		printf("%s: %s\n", what, strerrorname_np(errno));
		return;
	}
	printf("%s: len %d path \"%s\"\n", what, (int)len, len > 2 ? a.sun_path : "");
}

static void showStat(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0) {
		printf("stat %s: %s\n", path, strerrorname_np(errno));
		return;
	}
	printf("stat %s: socket %d mode %o\n", path, S_ISSOCK(st.st_mode), st.st_mode & 07777);
}

int main(void)
{
	umask(022);
	mkdir("sub", 0755);
	close(open("plain", O_CREAT | O_WRONLY, 0644));

	int srv = socket(AF_UNIX, SOCK_STREAM, 0);
	T(bindTo(srv, "srv.sock"));
	T(bindTo(srv, "other.sock"));
	showStat("srv.sock");
	showName("server name", srv, 0);
	T(listen(srv, 8));

	int dup = socket(AF_UNIX, SOCK_STREAM, 0);
	T(bindTo(dup, "srv.sock"));
	T(bindTo(dup, "plain"));
	T(bindTo(dup, "missing/x.sock"));
	T(connectTo(dup, "missing.sock"));
	T(connectTo(dup, "plain"));
	T(connectTo(dup, "sub"));
	close(dup);

	// A client in a child process, through a symlink and a relative path
	// from another directory.
	symlink("srv.sock", "link.sock");
	pid_t pid = fork();
	if (pid == 0) {
		int c = socket(AF_UNIX, SOCK_STREAM, 0);
		chdir("sub");
		if (connectTo(c, "../link.sock") < 0) {
			printf("child connect: %s\n", strerrorname_np(errno));
			_exit(1);
		}
		showName("client peer", c, 1);
		showName("client name", c, 0);
		write(c, "ping", 4);
		char b[16] = {0};
		read(c, b, sizeof b - 1);
		printf("client got %s\n", b);
		_exit(0);
	}
	int a = accept(srv, NULL, NULL);
	char b[16] = {0};
	read(a, b, sizeof b - 1);
	printf("server got %s\n", b);
	showName("accepted name", a, 0);
	write(a, "pong", 4);
	int ws;
	waitpid(pid, &ws, 0);
	fflush(stdout);
	printf("child exit %d\n", WEXITSTATUS(ws));
	close(a);

	// Datagrams by sendto and sendmsg to a bound path.
	int d = socket(AF_UNIX, SOCK_DGRAM, 0);
	T(bindTo(d, "sub/dgram.sock"));
	int c = socket(AF_UNIX, SOCK_DGRAM, 0);
	struct sockaddr_un da = un("sub/dgram.sock");
	T(sendto(c, "one", 3, 0, (struct sockaddr *)&da, sizeof da));
	struct iovec iov[2] = {{"tw", 2}, {"o", 1}};
	struct msghdr m = {.msg_name = &da, .msg_namelen = sizeof da, .msg_iov = iov, .msg_iovlen = 2};
	T(sendmsg(c, &m, 0));
	for (int i = 0; i < 2; i++) {
		memset(b, 0, sizeof b);
		T(recv(d, b, sizeof b, MSG_DONTWAIT));
		printf("datagram %s\n", b);
	}
	T(connectTo(c, "sub/dgram.sock"));
	T(send(c, "three", 5, 0));
	memset(b, 0, sizeof b);
	T(recv(d, b, sizeof b, MSG_DONTWAIT));
	printf("datagram %s\n", b);
	struct sockaddr_un sa = un("srv.sock");
	T(sendto(socket(AF_UNIX, SOCK_DGRAM, 0), "x", 1, 0, (struct sockaddr *)&sa, sizeof sa));

	// A closed server leaves its file: connecting is refused; unlinked,
	// the name is free again.
	close(srv);
	int late = socket(AF_UNIX, SOCK_STREAM, 0);
	T(connectTo(late, "srv.sock"));
	T(unlink("srv.sock"));
	T(connectTo(late, "srv.sock"));
	T(bindTo(late, "srv.sock"));
	T(listen(late, 1));
	int again = socket(AF_UNIX, SOCK_STREAM, 0);
	T(connectTo(again, "srv.sock"));
	showStat("srv.sock");

	// Abstract names stay the host's (the sandbox's network namespace).
	int ab = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un aa = {.sun_family = AF_UNIX};
	memcpy(aa.sun_path, "\0runsc-test", 11);
	T(bind(ab, (struct sockaddr *)&aa, offsetof(struct sockaddr_un, sun_path) + 11));
	T(listen(ab, 1));
	int ac = socket(AF_UNIX, SOCK_STREAM, 0);
	T(connect(ac, (struct sockaddr *)&aa, offsetof(struct sockaddr_un, sun_path) + 11));
	return 0;
}
