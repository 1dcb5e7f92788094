//go:build ignore
// (So that go build and go vet of the harness beside it skip this file.)

// microbench: per-syscall costs inside a sandbox. Built with gcc -static by
// the harness so it needs nothing from the image it runs in.
//
//   microbench [-n ITERS] [-s MIB] [-r READFILE] DIR:LABEL...
//       prints "metric<TAB>label<TAB>value<TAB>unit" lines, one set per DIR
//       (READFILE, a file of the image, is read for the first label).
//   microbench time NAME CMD ARG...
//       runs CMD and prints "time<TAB>NAME<TAB>NS" to stderr, so workloads
//       are timed inside the container, without the runtime's start-up.
//   microbench nop
//       exits at once (the program fork+exec runs).
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long iters = 2000;
static long mib = 64;
static const char *self;

static int64_t now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what, const char *path) {
	fprintf(stderr, "microbench: %s %s: %s\n", what, path ? path : "", strerror(errno));
	exit(1);
}

static void report(const char *metric, const char *label, double v, const char *unit) {
	printf("%s\t%s\t%.1f\t%s\n", metric, label, v, unit);
	fflush(stdout);
}

static void per_op(const char *metric, const char *label, int64_t t0, long n) {
	report(metric, label, (double)(now() - t0) / n, "ns");
}

static void rmtree(const char *dir) {
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	char p[4096];
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
		// unlink of a directory fails with EISDIR on Linux (EPERM per POSIX).
		if (unlink(p) && (errno == EISDIR || errno == EPERM))
			rmtree(p);
	}
	closedir(d);
	rmdir(dir);
}

// seq_write writes mib MiB in chunks of bs to a new file; seq_read reads a
// file through in chunks of bs. Both report MB/s (10^6 bytes per second).
static void seq_write(const char *path, size_t bs, const char *metric, const char *label, char *buf) {
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die("create", path);
	int64_t total = (int64_t)mib << 20, t0 = now();
	for (int64_t done = 0; done < total; done += bs)
		if (write(fd, buf, bs) != (ssize_t)bs)
			die("write", path);
	double dt = now() - t0;
	close(fd);
	report(metric, label, total / dt * 1e3, "MB/s");
}

static void seq_read(const char *path, size_t bs, const char *metric, const char *label, char *buf) {
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		die("open", path);
	int64_t total = 0, t0 = now();
	ssize_t r;
	while ((r = read(fd, buf, bs)) > 0)
		total += r;
	double dt = now() - t0;
	if (r < 0)
		die("read", path);
	close(fd);
	report(metric, label, total / dt * 1e3, "MB/s");
}

static void bench_dir(const char *dir, const char *label, const char *readfile) {
	char work[4096], a[4200], b[4200], p[4400];
	snprintf(work, sizeof work, "%s/microbench.%d", dir, getpid());
	rmtree(work);
	if (mkdir(work, 0755))
		die("mkdir", work);
	snprintf(a, sizeof a, "%s/a", work);
	snprintf(b, sizeof b, "%s/b", work);
	int fd = open(a, O_WRONLY | O_CREAT, 0644);
	if (fd < 0)
		die("create", a);
	close(fd);

	struct stat st;
	stat(a, &st); // warm the caches: the first lookup of a name is no steady state
	int64_t t0 = now();
	for (long i = 0; i < iters; i++)
		if (stat(a, &st))
			die("stat", a);
	per_op("stat", label, t0, iters);

	t0 = now();
	for (long i = 0; i < iters; i++) {
		int f = open(a, O_RDONLY);
		if (f < 0)
			die("open", a);
		close(f);
	}
	per_op("open_close", label, t0, iters);

	t0 = now();
	for (long i = 0; i < iters; i++) {
		int f = open(b, O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (f < 0)
			die("create", b);
		close(f);
		if (unlink(b))
			die("unlink", b);
	}
	per_op("create_unlink", label, t0, iters);

	t0 = now();
	for (long i = 0; i < iters; i++) {
		if (mkdir(b, 0755))
			die("mkdir", b);
		if (rmdir(b))
			die("rmdir", b);
	}
	per_op("mkdir_rmdir", label, t0, iters);

	t0 = now();
	for (long i = 0; i < iters; i++)
		if (rename(i % 2 ? b : a, i % 2 ? a : b))
			die("rename", a);
	per_op("rename", label, t0, iters);
	if (iters % 2)
		rename(b, a);

	// A listing of 1,000 entries, read whole with a 32 KiB buffer.
	snprintf(p, sizeof p, "%s/d", work);
	if (mkdir(p, 0755))
		die("mkdir", p);
	for (int i = 0; i < 1000; i++) {
		char f[4500];
		snprintf(f, sizeof f, "%s/file-%04d", p, i);
		int g = open(f, O_WRONLY | O_CREAT, 0644);
		if (g < 0)
			die("create", f);
		close(g);
	}
	static char dbuf[32768];
	long lists = iters / 20 + 1;
	t0 = now();
	for (long i = 0; i < lists; i++) {
		int d = open(p, O_RDONLY | O_DIRECTORY);
		if (d < 0)
			die("open", p);
		long n, entries = 0;
		while ((n = syscall(SYS_getdents64, d, dbuf, sizeof dbuf)) > 0)
			for (long off = 0; off < n; off += ((struct dirent64 *)(dbuf + off))->d_reclen)
				entries++;
		if (n < 0)
			die("getdents64", p);
		if (entries != 1002) {
			fprintf(stderr, "microbench: %s lists %ld entries, want 1002\n", p, entries);
			exit(1);
		}
		close(d);
	}
	per_op("getdents_1000", label, t0, lists);

	char *buf = malloc(1 << 20);
	if (!buf)
		die("malloc", NULL);
	memset(buf, 'x', 1 << 20);
	snprintf(p, sizeof p, "%s/seq", work);
	seq_write(p, 4096, "write_4k", label, buf);
	seq_write(p, 1 << 20, "write_1m", label, buf);
	// The file just written, or READFILE (a file of the image: on the root
	// fs that is the lower layer the gofer serves).
	const char *rf = readfile ? readfile : p;
	// One pass untimed: runtimes run in turn, and the first must not be the
	// one to pay for bringing the image's file into the page cache.
	int wfd = open(rf, O_RDONLY);
	if (wfd < 0)
		die("open", rf);
	while (read(wfd, buf, 1 << 20) > 0)
		;
	close(wfd);
	seq_read(rf, 4096, "read_4k", label, buf);
	seq_read(rf, 1 << 20, "read_1m", label, buf);
	free(buf);
	rmtree(work);
}

int main(int argc, char **argv) {
	self = argv[0];
	if (argc >= 2 && !strcmp(argv[1], "nop"))
		return 0;
	if (argc >= 4 && !strcmp(argv[1], "time")) {
		int64_t t0 = now();
		pid_t pid = fork();
		if (pid == 0) {
			execvp(argv[3], argv + 3);
			die("exec", argv[3]);
		}
		int ws;
		if (pid < 0 || waitpid(pid, &ws, 0) < 0)
			die("fork/wait", argv[3]);
		fprintf(stderr, "time\t%s\t%lld\n", argv[2], (long long)(now() - t0));
		if (WIFEXITED(ws))
			return WEXITSTATUS(ws);
		return 128 + WTERMSIG(ws);
	}
	const char *readfile = NULL;
	int opt;
	while ((opt = getopt(argc, argv, "n:s:r:")) != -1) {
		switch (opt) {
		case 'n':
			iters = atol(optarg);
			break;
		case 's':
			mib = atol(optarg);
			break;
		case 'r':
			readfile = optarg;
			break;
		default:
			fprintf(stderr, "usage: microbench [-n ITERS] [-s MIB] [-r READFILE] DIR:LABEL...\n");
			return 2;
		}
	}
	if (iters < 1 || mib < 1)
		return 2;

	getppid();
	int64_t t0 = now();
	for (long i = 0; i < iters * 10; i++)
		syscall(SYS_getppid);
	per_op("getppid", "-", t0, iters * 10);

	long forks = iters / 20 + 1;
	t0 = now();
	for (long i = 0; i < forks; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			execl(self, self, "nop", (char *)NULL);
			_exit(127);
		}
		int ws;
		if (pid < 0 || waitpid(pid, &ws, 0) < 0 || !WIFEXITED(ws) || WEXITSTATUS(ws)) {
			fprintf(stderr, "microbench: fork+exec of %s failed\n", self);
			return 1;
		}
	}
	per_op("fork_exec_wait", "-", t0, forks);

	for (int i = optind; i < argc; i++) {
		char *colon = strrchr(argv[i], ':');
		if (!colon) {
			fprintf(stderr, "microbench: %s: want DIR:LABEL\n", argv[i]);
			return 2;
		}
		*colon = 0;
		bench_dir(argv[i], colon + 1, i == optind ? readfile : NULL);
	}
	return 0;
}
