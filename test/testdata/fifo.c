// FIFOs: non-blocking and blocking opens of either end, data through them,
// and opens interrupted by signals with and without SA_RESTART. The test
// compares this program's output in the sandbox with its output on the
// host. Run it in an empty directory it may write to.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define T(call) do { errno = 0; long r_ = (long)(call); printf("%-50s %ld %s\n", #call, r_ < 0 ? -1L : r_ > 2 ? 3L : r_, r_ < 0 ? strerrorname_np(errno) : ""); } while (0)

static volatile int alarms;
static void onAlarm(int sig) { (void)sig; alarms++; }

// writeLater forks a child that opens the FIFO for writing after ms
// milliseconds and writes msg.
static pid_t writeLater(int ms, const char *msg)
{
	pid_t pid = fork();
	if (pid == 0) {
		usleep(ms * 1000);
		int w = open("f", O_WRONLY);
		if (w < 0 || write(w, msg, strlen(msg)) < 0)
			_exit(1);
		_exit(0);
	}
	return pid;
}

static void readAll(int r)
{
	char b[32] = {0};
	int n = 0, m;
	while ((m = read(r, b + n, sizeof b - 1 - n)) > 0)
		n += m;
	printf("read \"%s\"\n", b);
	close(r);
}

int main(void)
{
	T(mkfifo("f", 0640));
	struct stat st;
	T(stat("f", &st));
	printf("fifo %d mode %o size %ld\n", S_ISFIFO(st.st_mode), st.st_mode & 0777, (long)st.st_size);

	T(open("f", O_WRONLY | O_NONBLOCK));
	int r = open("f", O_RDONLY | O_NONBLOCK);
	printf("nonblocking reader %d\n", r >= 0);
	int w = open("f", O_WRONLY | O_NONBLOCK);
	printf("nonblocking writer %d\n", w >= 0);
	T(write(w, "abc", 3));
	close(w);
	int fl = fcntl(r, F_GETFL);
	fcntl(r, F_SETFL, fl & ~O_NONBLOCK);
	readAll(r);

	// A blocking reader waits for the writer.
	pid_t pid = writeLater(200, "from child");
	r = open("f", O_RDONLY);
	printf("blocking reader %d\n", r >= 0);
	readAll(r);
	waitpid(pid, NULL, 0);

	// A blocking writer waits for the reader.
	pid = fork();
	if (pid == 0) {
		usleep(200000);
		readAll(open("f", O_RDONLY));
		_exit(0);
	}
	w = open("f", O_WRONLY);
	printf("blocking writer %d\n", w >= 0);
	T(write(w, "to child", 8));
	close(w);
	waitpid(pid, NULL, 0);
	fflush(stdout);

	T(close(open("f", O_RDWR)));

	// A signal with a handler ends a waiting open with EINTR...
	struct sigaction sa = {.sa_handler = onAlarm};
	sigaction(SIGALRM, &sa, NULL);
	ualarm(100000, 0);
	T(open("f", O_RDONLY));
	printf("alarms %d\n", alarms);

	// ... or, with SA_RESTART, restarts it after the handler.
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	pid = writeLater(400, "late");
	ualarm(100000, 0);
	r = open("f", O_RDONLY);
	printf("restarted reader %d, alarms %d\n", r >= 0, alarms);
	readAll(r);
	waitpid(pid, NULL, 0);

	// A blocked signal does not interrupt.
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGALRM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	pid = writeLater(300, "blocked");
	ualarm(100000, 0);
	r = open("f", O_RDONLY);
	printf("reader with alarm blocked %d, alarms %d\n", r >= 0, alarms);
	readAll(r);
	waitpid(pid, NULL, 0);
	T(unlink("f"));
	return 0;
}
