/* A thread other than the leader execs bash: Linux gives it the leader's
 * pid (de_thread). The new program's /proc/self and /proc/thread-self
 * must name it, its own fds must be found (a dup of stdout), and its calls
 * must be checked with its credentials. */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static void *run(void *arg)
{
	(void)arg;
	char *argv[] = {"bash", "-c",
		"cd -P /proc/self && [ \"$PWD\" = \"/proc/$$\" ] && echo self ok || echo \"self $PWD, pid $$\"; "
		"cd -P /proc/thread-self && [ \"$PWD\" = \"/proc/$$/task/$$\" ] && echo thread-self ok || echo \"thread-self $PWD, pid $$\"; "
		"exec 3>&1 && echo dup of a host fd ok; "
		"touch /tmp/thread-exec && [ \"$(stat -c %U /tmp/thread-exec)\" = root ] && echo creds ok",
		NULL};
	execv("/bin/bash", argv);
	perror("execv");
	_exit(1);
}

int main(void)
{
	pthread_t th;
	if (pthread_create(&th, NULL, run, NULL) != 0)
		return 2;
	for (;;)
		pause();
}
