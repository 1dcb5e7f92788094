// POSIX message queues: open, send, receive, attributes, unlink and their
// errors. The test compares this program's output in the sandbox with its
// output on the host.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define T(call) do { errno = 0; long r_ = (long)(call); printf("%-60s %ld %s\n", #call, r_ < 0 ? -1L : r_ > 2 ? 3L : r_, r_ < 0 ? strerrorname_np(errno) : ""); } while (0)

int main(void)
{
	char name[64];
	snprintf(name, sizeof name, "/runsc-test-%d", getpid());
	struct mq_attr attr = {.mq_maxmsg = 4, .mq_msgsize = 32};
	mqd_t q = mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0600, &attr);
	printf("open %d\n", q >= 0);
	T(mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0600, &attr));
	T(mq_open("/runsc-no-such-queue", O_RDONLY));
	T(mq_open("no-slash/x", O_RDONLY));
	T(mq_send(q, "second", 6, 1));
	T(mq_send(q, "first", 5, 9));
	struct mq_attr got;
	T(mq_getattr(q, &got));
	printf("maxmsg %ld msgsize %ld curmsgs %ld\n", got.mq_maxmsg, got.mq_msgsize, got.mq_curmsgs);
	char buf[32];
	unsigned prio;
	for (int i = 0; i < 2; i++) {
		memset(buf, 0, sizeof buf);
		long n = mq_receive(q, buf, sizeof buf, &prio);
		printf("received %ld %s prio %u\n", n, buf, prio);
	}
	T(mq_close(q));
	T(mq_unlink(name));
	T(mq_unlink(name));
	return 0;
}
