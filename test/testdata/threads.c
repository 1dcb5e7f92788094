// 8 threads open, stat, dup, read and close their own files concurrently and
// check every result; prints "ok" or the first mismatch. Arguments: seconds
// to run, and optionally a SIGALRM interval in µs that interrupts the calls
// of whichever thread the signal lands on.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define THREADS 8
#define FILES 16

static double seconds;
static long calls[THREADS];
static volatile int failed;
static volatile long alarms;

static void on_alarm(int sig) { (void)sig; alarms++; }

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

#define FAIL(...) do { fprintf(stderr, __VA_ARGS__); failed = 1; return NULL; } while (0)

static void *worker(void *arg)
{
	int id = (int)(long)arg;
	char dir[64], path[128], want[64], got[64];
	snprintf(dir, sizeof dir, "/tmp/t%d", id);
	if (mkdir(dir, 0755))
		FAIL("mkdir %s: %s\n", dir, strerror(errno));
	for (int j = 0; j < FILES; j++) {
		snprintf(path, sizeof path, "%s/f%d", dir, j);
		int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);
		if (fd < 0)
			FAIL("create %s: %s\n", path, strerror(errno));
		int n = snprintf(want, sizeof want, "thread %d file %d\n", id, j);
		if (write(fd, want, n) != n || close(fd))
			FAIL("write %s\n", path);
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	if (dfd < 0)
		FAIL("open %s: %s\n", dir, strerror(errno));
	double end = now() + seconds;
	for (long i = 0; !failed && (i % 64 || now() < end); i++) {
		int j = i % FILES;
		snprintf(path, sizeof path, "%s/f%d", dir, j);
		int n = snprintf(want, sizeof want, "thread %d file %d\n", id, j);
		int fd = (i & 1) ? open(path, O_RDONLY) : openat(dfd, path + strlen(dir) + 1, O_RDONLY);
		if (fd < 0)
			FAIL("open %s: %s\n", path, strerror(errno));
		struct stat a, b, c;
		if (fstat(fd, &a) || stat(path, &b) || fstatat(dfd, path + strlen(dir) + 1, &c, AT_SYMLINK_NOFOLLOW))
			FAIL("stat %s: %s\n", path, strerror(errno));
		if (a.st_size != n || b.st_size != n || c.st_size != n || a.st_ino != b.st_ino || b.st_ino != c.st_ino || !S_ISREG(a.st_mode))
			FAIL("stat %s: sizes %ld %ld %ld want %d, inos %lu %lu %lu\n", path, (long)a.st_size, (long)b.st_size, (long)c.st_size, n, a.st_ino, b.st_ino, c.st_ino);
		// A duplicate (as Python's os.scandir(fd) makes) is the same file,
		// and no other thread's fd is replaced by it.
		int d = fcntl(fd, (i & 2) ? F_DUPFD_CLOEXEC : F_DUPFD, (i & 4) ? 0 : 3);
		if (d < 0 || fstat(d, &c) || c.st_ino != a.st_ino || close(d))
			FAIL("dup %s: %d %s\n", path, d, strerror(errno));
		memset(got, 0, sizeof got);
		if (pread(fd, got, sizeof got, 0) != n || memcmp(got, want, n))
			FAIL("read %s: %.*s want %s\n", path, n, got, want);
		if (close(fd))
			FAIL("close %s: %s\n", path, strerror(errno));
		calls[id] += 8;
	}
	close(dfd);
	return NULL;
}

int main(int argc, char **argv)
{
	seconds = argc > 1 ? atof(argv[1]) : 3;
	if (argc > 2) {
		struct sigaction sa = {0};
		sa.sa_handler = on_alarm;
		sa.sa_flags = SA_RESTART;
		sigaction(SIGALRM, &sa, NULL);
		struct itimerval it = {{0, atol(argv[2])}, {0, atol(argv[2])}};
		setitimer(ITIMER_REAL, &it, NULL);
	}
	pthread_t th[THREADS];
	for (long i = 0; i < THREADS; i++)
		pthread_create(&th[i], NULL, worker, (void *)i);
	long total = 0;
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		total += calls[i];
	}
	struct itimerval off = {0};
	setitimer(ITIMER_REAL, &off, NULL);
	// Every fd was closed: the next open gets 3 again.
	int fd = open("/tmp", O_RDONLY);
	if (fd != 3) {
		fprintf(stderr, "leaked fds: next fd %d\n", fd);
		failed = 1;
	}
	if (failed)
		return 1;
	fprintf(stderr, "%ld calls, %ld alarms\n", total, alarms);
	printf("ok\n");
	return 0;
}
