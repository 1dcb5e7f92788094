// Fd-table operations whose results must match Linux's; the test compares
// this program's output in the sandbox with its output on the host. Run it
// in an empty directory it may write to.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void show(const char *what, long r)
{
	printf("%s = %ld", what, r);
	if (r < 0)
		printf(" (%s)", strerrorname_np(errno));
	printf("\n");
	fflush(stdout);
}

static const char *kind(int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return strerrorname_np(errno);
	switch (st.st_mode & S_IFMT) {
	case S_IFREG: return "reg";
	case S_IFDIR: return "dir";
	case S_IFIFO: return "fifo";
	case S_IFCHR: return "chr";
	}
	return "other";
}

int main(int argc, char **argv)
{
	if (argc > 1) {
		// After exec: which of fds 3..9 survived, and what they are.
		for (int fd = 3; fd < 10; fd++)
			printf("after exec fd %d: %s\n", fd, kind(fd));
		return 0;
	}
	int f = open("file", O_CREAT | O_RDWR, 0644);
	show("open", f);
	show("write", write(f, "abcdef", 6));
	show("dup2 same", dup2(f, f));
	show("dup2 same closed", dup2(42, 42));
	show("dup3 same", dup3(f, f, 0));
	show("dup3 bad flags", dup3(f, 9, 1));
	show("dup2 negative", dup2(f, -1));
	show("fcntl dupfd 20", fcntl(f, F_DUPFD, 20));
	show("fcntl dupfd 20 again", fcntl(f, F_DUPFD, 20));
	show("fcntl dupfd_cloexec 5", fcntl(f, F_DUPFD_CLOEXEC, 5));
	show("getfd 5", fcntl(5, F_GETFD));
	show("getfd 20", fcntl(20, F_GETFD));
	// Shared offset between dups, separate one for a new open.
	show("lseek dup", lseek(20, 2, SEEK_SET));
	show("offset of original", lseek(f, 0, SEEK_CUR));
	int g = open("file", O_RDONLY);
	show("offset of new open", lseek(g, 0, SEEK_CUR));
	int p[2];
	show("pipe", pipe(p));
	show("dup2 pipe over file", dup2(p[0], g));
	printf("kind of %d: %s\n", g, kind(g));
	show("dup2 file over pipe", dup2(f, p[1]));
	printf("kind of %d: %s\n", p[1], kind(p[1]));
	show("close", close(g));
	show("close again", close(g));
	show("fstat closed", fstat(g, &(struct stat){0}));
	show("close_range cloexec 20..30", syscall(SYS_close_range, 20, 30, CLOSE_RANGE_CLOEXEC));
	show("getfd 20", fcntl(20, F_GETFD));
	int d = open(".", O_RDONLY | O_DIRECTORY);
	show("open dir", d);
	show("dup dir", dup(d));
	pid_t pid = fork();
	if (pid == 0) {
		close(f);
		printf("child kind of f: %s\n", kind(f));
		fflush(stdout);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	printf("parent kind of f after child close: %s\n", kind(f));
	show("setfd cloexec", fcntl(f, F_SETFD, FD_CLOEXEC));
	show("close_range 21..100", syscall(SYS_close_range, 21, 100, 0));
	show("close_range bad", syscall(SYS_close_range, 10, 5, 0));
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		execl("/proc/self/exe", argv[0], "after", (char *)NULL);
		_exit(127);
	}
	int ws;
	waitpid(pid, &ws, 0);
	show("exec child status", ws);
	for (int fd = 3; fd < 10; fd++)
		printf("fd %d: %s\n", fd, kind(fd));
	return 0;
}
