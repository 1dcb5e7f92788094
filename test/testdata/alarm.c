// A SIGALRM every 500 µs while the program makes file syscalls whose effects
// show whether one was lost (not done) or done twice; prints "ok" when
// every result was right and alarms arrived.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static volatile long alarms;
static void on_alarm(int sig) { (void)sig; alarms++; }

#define CHECK(cond, ...) do { if (!(cond)) { fprintf(stderr, "iteration %ld: ", i); fprintf(stderr, __VA_ARGS__); fprintf(stderr, " (%s)\n", strerror(errno)); return 1; } } while (0)

int main(int argc, char **argv)
{
	long iterations = argc > 1 ? atol(argv[1]) : 20000;
	struct sigaction sa = {0};
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = {{0, 500}, {0, 500}};
	setitimer(ITIMER_REAL, &it, NULL);
	char buf[32];
	struct stat st;
	for (long i = 0; i < iterations; i++) {
		// Done twice: EEXIST or a leaked fd (the next one would not be 3).
		int fd = open("/tmp/f", O_CREAT | O_EXCL | O_RDWR, 0600);
		CHECK(fd == 3, "create gave fd %d", fd);
		int n = snprintf(buf, sizeof buf, "%ld", i);
		CHECK(write(fd, buf, n) == n, "write");
		CHECK(fstat(fd, &st) == 0 && st.st_size == n, "fstat size %ld want %d", (long)st.st_size, n);
		int fd2 = dup(fd);
		CHECK(fd2 == 4, "dup gave %d", fd2);
		CHECK(close(fd) == 0 && close(fd2) == 0, "close");
		CHECK(mkdir("/tmp/d", 0700) == 0, "mkdir");
		CHECK(rename("/tmp/f", "/tmp/d/g") == 0, "rename");
		// Lost: the file is not where it should be.
		CHECK(stat("/tmp/d/g", &st) == 0 && st.st_size == n, "stat after rename");
		CHECK(stat("/tmp/f", &st) == -1 && errno == ENOENT, "old name still there");
		fd = open("/tmp/d/g", O_RDONLY);
		CHECK(fd == 3, "open gave fd %d", fd);
		memset(buf + 16, 0, 16);
		CHECK(read(fd, buf + 16, 16) == n && memcmp(buf, buf + 16, n) == 0, "read back");
		CHECK(close(fd) == 0, "close");
		CHECK(unlink("/tmp/d/g") == 0, "unlink");
		CHECK(rmdir("/tmp/d") == 0, "rmdir");
		CHECK(access("/tmp/d", F_OK) == -1 && errno == ENOENT, "rmdir lost");
	}
	struct itimerval off = {0};
	setitimer(ITIMER_REAL, &off, NULL);
	if (alarms < 10) {
		fprintf(stderr, "only %ld alarms\n", alarms);
		return 1;
	}
	fprintf(stderr, "%ld alarms\n", alarms);
	printf("ok\n");
	return 0;
}
