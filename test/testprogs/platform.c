/*
 * Test program for sentry/platform: run under the platform with the test
 * handler of sentry/platform/platform_test.go. Files under /virt/ exist only
 * in that handler (it opens host files and installs their fds); fstat is
 * emulated and reports st_size + 1000000; close continues natively.
 *
 * Usage: platform MODE [ARGS]. Prints "ok ..." lines; exits non-zero with a
 * "FAIL ..." line on the first wrong result.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FAIL(...)                                                              \
	do {                                                                   \
		printf("FAIL " __VA_ARGS__);                                   \
		printf(" (errno %d)\n", errno);                                \
		fflush(stdout);                                                \
		_exit(90);                                                     \
	} while (0)

static const long emulatedBias = 1000000;

/* check_file opens /virt/NAME, checks the emulated fstat and the content
 * read natively from the installed fd, closes it. */
static void check_file(const char *name, const char *want)
{
	char path[256], buf[256];
	snprintf(path, sizeof path, "/virt/%s", name);
	int fd = openat(AT_FDCWD, path, O_RDONLY);
	if (fd < 0)
		FAIL("open %s", path);
	struct stat st;
	if (fstat(fd, &st) != 0)
		FAIL("fstat %s", path);
	long n = pread(fd, buf, sizeof buf - 1, 0);
	if (n < 0)
		FAIL("pread %s", path);
	buf[n] = 0;
	if (strcmp(buf, want) != 0)
		FAIL("content of %s: got %s want %s", path, buf, want);
	if (st.st_size != (long)strlen(want) + emulatedBias)
		FAIL("size of %s: got %ld want %ld", path, (long)st.st_size,
		     (long)strlen(want) + emulatedBias);
	if (close(fd) != 0)
		FAIL("close %s", path);
}

static int basic(void)
{
	check_file("hello", "hello world\n");
	printf("ok hello\n");
	errno = 0;
	if (open("/virt/missing", O_RDONLY) != -1 || errno != ENOENT)
		FAIL("open missing");
	printf("ok enoent\n");
	errno = 0;
	if (mount("none", "/mnt", "tmpfs", 0, NULL) != -1 || errno != EPERM)
		FAIL("mount");
	errno = 0;
	if (syscall(SYS_ptrace, 0, 0, 0, 0) != -1 || errno != EPERM)
		FAIL("ptrace");
	errno = 0;
	if (syscall(425 /* io_uring_setup */, 1, NULL) != -1 || errno != ENOSYS)
		FAIL("io_uring_setup");
	errno = 0;
	if (syscall(400) != -1 || errno != ENOSYS)
		FAIL("unassigned 400");
	errno = 0;
	if (syscall(-1) != -1 || errno != ENOSYS)
		FAIL("syscall -1");
	printf("ok denied\n");
	printf("ok ppid %d\n", (int)getppid());
	fflush(stdout);
	return 7;
}

static volatile long alarms;
static void on_alarm(int sig) { (void)sig; alarms++; }

/* A SIGALRM every usec microseconds (no SA_RESTART) while trapped calls
 * run: none may fail with EINTR or return another file. */
static int alarm_storm(int iterations, int usec)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = {{0, usec}, {0, usec}};
	setitimer(ITIMER_REAL, &it, NULL);
	for (int i = 0; i < iterations; i++)
		check_file(i % 2 ? "hello" : "other", i % 2 ? "hello world\n" : "another file\n");
	struct itimerval off = {{0, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &off, NULL);
	printf("ok alarms %ld iterations %d\n", alarms, iterations);
	return 0;
}

static double seconds;
static void *thread_main(void *arg)
{
	long k = (long)arg;
	char name[32], want[64];
	snprintf(name, sizeof name, "t%ld", k);
	snprintf(want, sizeof want, "thread file %ld %.*s\n", k, (int)k * 3, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	long n = 0;
	do {
		check_file(name, want);
		n++;
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 < seconds);
	return (void *)n;
}

static int threads(int nthreads, double secs)
{
	seconds = secs;
	pthread_t th[64];
	for (long i = 0; i < nthreads; i++)
		if (pthread_create(&th[i], NULL, thread_main, (void *)i) != 0)
			FAIL("pthread_create");
	long total = 0;
	for (int i = 0; i < nthreads; i++) {
		void *r;
		pthread_join(th[i], &r);
		total += (long)r;
	}
	printf("ok threads %d opens %ld\n", nthreads, total);
	return 0;
}

static void *thread_stat(void *arg)
{
	(void)arg;
	check_file("hello", "hello world\n");
	printf("ok thread tid %ld\n", (long)syscall(SYS_gettid));
	fflush(stdout);
	return NULL;
}

/* fork and pthread (clone) children make trapped calls; the parent reaps the
 * child natively and sees its exit status and killing signal. */
static int forks(void)
{
	fflush(stdout);
	pid_t c = fork();
	if (c < 0)
		FAIL("fork");
	if (c == 0) {
		check_file("other", "another file\n");
		printf("ok child pid %d\n", (int)getpid());
		fflush(stdout);
		_exit(3);
	}
	int st;
	if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 3)
		FAIL("child status %#x", st);
	printf("ok child exit 3\n");
	fflush(stdout);
	c = fork();
	if (c == 0) {
		raise(SIGUSR1);
		_exit(0);
	}
	if (waitpid(c, &st, 0) != c || !WIFSIGNALED(st) || WTERMSIG(st) != SIGUSR1)
		FAIL("child signal status %#x", st);
	printf("ok child signal\n");
	c = vfork();
	if (c == 0)
		_exit(4);
	if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 4)
		FAIL("vfork child status %#x", st);
	printf("ok vfork\n");
	pthread_t th;
	pthread_create(&th, NULL, thread_stat, NULL);
	pthread_join(th, NULL);
	return 0;
}

/* exec of a /virt/ path: the handler plans the host file, with argv[0]
 * rewritten; ENOENT must come back to the program unchanged. */
static int do_exec(char *self)
{
	(void)self;
	errno = 0;
	char *bad[] = {"missing", NULL};
	if (execve("/virt/missing-prog", bad, environ) != -1 || errno != ENOENT)
		FAIL("exec missing");
	printf("ok exec enoent\n");
	/* The kernel refuses this file after the platform installed it: the
	 * error comes back and the installed fd is closed again. */
	errno = 0;
	if (execve("/virt/notexec", bad, environ) != -1 || errno != ENOEXEC)
		FAIL("exec notexec");
	int fd = open("/virt/hello", O_RDONLY);
	if (fd != 3)
		FAIL("fd after failed exec: %d, want 3", fd);
	close(fd);
	printf("ok exec enoexec\n");
	fflush(stdout);
	char *args[] = {"prog", "exit", "42", NULL};
	char *env[] = {"FROM_EXEC=1", NULL};
	execve("/virt/prog", args, env);
	FAIL("execve");
}

/* mode used after exec: checks that argv/env came through */
static int do_exit(int code)
{
	const char *e = getenv("FROM_EXEC");
	printf("ok exit %d from_exec=%s\n", code, e ? e : "no");
	fflush(stdout);
	return code;
}

static int bench(const char *what, long n)
{
	struct timespec t0, t1;
	struct stat st;
	/* BENCH_PATH: a host file for native runs. */
	const char *path = getenv("BENCH_PATH") ? getenv("BENCH_PATH") : "/virt/hello";
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		FAIL("open");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < n; i++) {
		if (!strcmp(what, "fstat")) {
			if (fstat(fd, &st) != 0)
				FAIL("fstat");
		} else if (!strcmp(what, "open")) {
			int f = open(path, O_RDONLY);
			if (f < 0)
				FAIL("open");
			close(f);
		} else if (!strcmp(what, "getppid")) {
			getppid();
		} else {
			FAIL("bench %s", what);
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ns = ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / n;
	printf("ns %.0f\n", ns);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		return 2;
	const char *m = argv[1];
	if (!strcmp(m, "basic"))
		return basic();
	if (!strcmp(m, "sleep")) {
		printf("ready\n");
		fflush(stdout);
		for (;;)
			pause();
	}
	if (!strcmp(m, "trap-wait")) {
		/* Trapped calls until a byte arrives on stdin, then a native
		 * wait for a second byte, then a fork whose child waits for a
		 * third without trapping. */
		int fd = open("/virt/hello", O_RDONLY);
		struct stat st;
		struct pollfd in = {.fd = 0, .events = POLLIN};
		printf("trapping\n");
		fflush(stdout);
		do
			if (fd < 0 || fstat(fd, &st) != 0)
				FAIL("fstat");
		while (poll(&in, 1, 0) == 0);
		char c;
		if (read(0, &c, 1) != 1)
			return 91;
		printf("idle\n");
		fflush(stdout);
		if (read(0, &c, 1) != 1)
			return 92;
		pid_t child = fork();
		if (child == 0)
			_exit(read(0, &c, 1) == 1 ? 0 : 1);
		printf("child %d\n", (int)child);
		fflush(stdout);
		int status;
		if (child < 0 || waitpid(child, &status, 0) != child)
			return 93;
		return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 94;
	}
	if (!strcmp(m, "fork-sleep")) {
		pid_t c = fork();
		printf("pid %d\n", (int)getpid());
		fflush(stdout);
		(void)c;
		for (;;)
			pause();
	}
	if (!strcmp(m, "alarm"))
		return alarm_storm(argc > 2 ? atoi(argv[2]) : 20000, argc > 3 ? atoi(argv[3]) : 50);
	if (!strcmp(m, "threads"))
		return threads(argc > 2 ? atoi(argv[2]) : 8, argc > 3 ? atof(argv[3]) : 2);
	if (!strcmp(m, "fork"))
		return forks();
	if (!strcmp(m, "exec"))
		return do_exec(argv[0]);
	if (!strcmp(m, "exit"))
		return do_exit(argc > 2 ? atoi(argv[2]) : 0);
	if (!strcmp(m, "kill")) {
		fflush(stdout);
		kill(getpid(), argc > 2 ? atoi(argv[2]) : SIGKILL);
		pause();
	}
	if (!strcmp(m, "bench")) {
		if (argc > 4) {
			cpu_set_t set;
			CPU_ZERO(&set);
			CPU_SET(atoi(argv[4]), &set);
			sched_setaffinity(0, sizeof set, &set);
		}
		return bench(argv[2], atol(argv[3]));
	}
	return 2;
}
