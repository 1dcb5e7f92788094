// The credentials a unix socket's peer sees (SO_PEERCRED) when a client
// connects to a path, and those of a datagram sent to a path
// (SCM_CREDENTIALS). The test compares this program's output in the
// sandbox with its output on the host, run as another user.
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static struct sockaddr_un addr(const char *kind)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof a.sun_path, "/tmp/peercred-%s-%d", kind, (int)getpid());
	return a;
}

int main(void)
{
	struct sockaddr_un sa = addr("stream"), da = addr("dgram");
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	int d = socket(AF_UNIX, SOCK_DGRAM, 0);
	int on = 1;
	if (bind(s, (struct sockaddr *)&sa, sizeof sa) || listen(s, 1) || bind(d, (struct sockaddr *)&da, sizeof da) ||
	    setsockopt(d, SOL_SOCKET, SO_PASSCRED, &on, sizeof on)) {
		perror("server");
		return 1;
	}
	pid_t pid = fork();
	if (pid == 0) {
		int c = socket(AF_UNIX, SOCK_STREAM, 0);
		if (connect(c, (struct sockaddr *)&sa, sizeof sa) || write(c, "x", 1) != 1)
			_exit(1);
		int g = socket(AF_UNIX, SOCK_DGRAM, 0);
		if (sendto(g, "y", 1, 0, (struct sockaddr *)&da, sizeof da) != 1)
			_exit(2);
		_exit(0);
	}
	int a = accept(s, NULL, NULL);
	struct ucred cr;
	socklen_t len = sizeof cr;
	getsockopt(a, SOL_SOCKET, SO_PEERCRED, &cr, &len);
	printf("me %d:%d, stream peer %d:%d\n", (int)getuid(), (int)getgid(), (int)cr.uid, (int)cr.gid);
	char b[4], ctl[CMSG_SPACE(sizeof(struct ucred))];
	struct iovec iov = {b, sizeof b};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
	if (recvmsg(d, &m, 0) == 1) {
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		if (c && c->cmsg_type == SCM_CREDENTIALS) {
			memcpy(&cr, CMSG_DATA(c), sizeof cr);
			printf("datagram sender %d:%d\n", (int)cr.uid, (int)cr.gid);
		}
	}
	int ws;
	waitpid(pid, &ws, 0);
	printf("client exit %d\n", WEXITSTATUS(ws));
	unlink(sa.sun_path);
	unlink(da.sun_path);
	return 0;
}
