// Failing file calls whose errnos must match Linux's; the test compares
// this program's output in the sandbox with its output on the host. Run it
// as root in an empty directory it may write to.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#define T(call) do { errno = 0; long r_ = (long)(call); printf("%-60s %ld %s\n", #call, r_ < 0 ? -1L : r_, r_ < 0 ? strerrorname_np(errno) : ""); } while (0)

static void *volatile badp = (void *)1;

int main(void)
{
	char buf[PATH_MAX];
	char longname[300];
	memset(longname, 'x', sizeof longname - 1);
	longname[sizeof longname - 1] = 0;
	struct stat st;
	void *bad = badp;

	mkdir("d", 0755);
	close(open("d/f", O_CREAT | O_WRONLY, 0644));
	symlink("loop", "loop");
	symlink("d/f", "lf");
	symlink("nowhere", "dangling");
	mkdir("full", 0755);
	close(open("full/x", O_CREAT | O_WRONLY, 0644));

	T(open("missing", O_RDONLY));
	T(open("d/f/x", O_RDONLY));
	T(open("d", O_WRONLY));
	T(open("d/f", O_RDONLY | O_DIRECTORY));
	T(open("d/f", O_CREAT | O_EXCL | O_WRONLY, 0644));
	T(open("loop", O_RDONLY));
	T(open("lf", O_RDONLY | O_NOFOLLOW));
	T(open(longname, O_RDONLY));
	T(open(bad, O_RDONLY));
	T(open("", O_RDONLY));
	T(open("dangling", O_CREAT | O_EXCL | O_WRONLY, 0644));
	T(open("d/", O_CREAT | O_WRONLY, 0644));
	T(open("d/f/", O_RDONLY));
	T(openat(99, "x", O_RDONLY));
	T(openat(1, "x", O_RDONLY));
	T(open("d", O_RDONLY | O_TRUNC | O_CREAT, 0644));
	T(mkdir("d", 0755));
	T(mkdir("missing/x", 0755));
	T(mkdir("d/f/x", 0755));
	T(mkdir("dangling", 0755));
	T(rmdir("full"));
	T(rmdir("d/f"));
	T(rmdir("."));
	T(rmdir("missing"));
	T(unlink("d"));
	T(unlink("missing"));
	T(unlinkat(AT_FDCWD, "d/f", AT_REMOVEDIR));
	T(unlinkat(AT_FDCWD, "d", 0x1234));
	T(rename("d", "d/sub"));
	T(rename("full", "d"));
	T(rename("d/f", "full"));
	T(rename("full", "d/f"));
	T(rename("missing", "x"));
	T(syscall(SYS_renameat2, AT_FDCWD, "lf", AT_FDCWD, "dangling", RENAME_NOREPLACE));
	T(syscall(SYS_renameat2, AT_FDCWD, "lf", AT_FDCWD, "nothere", RENAME_EXCHANGE));
	T(syscall(SYS_renameat2, AT_FDCWD, "lf", AT_FDCWD, "dangling", RENAME_NOREPLACE | RENAME_EXCHANGE));
	T(link("d", "dlink"));
	T(link("missing", "x"));
	T(link("d/f", "lf"));
	T(symlink("x", "d"));
	T(symlink("", "emptylink"));
	T(readlink("d", buf, sizeof buf));
	T(readlink("lf", buf, 0));
	T(readlink("lf", bad, 10));
	T(stat("missing", &st));
	T(stat("d/f/", &st));
	T(stat("loop", &st));
	T(stat("lf", bad));
	T(lstat("", &st));
	T(fstatat(AT_FDCWD, "", &st, 0));
	T(fstatat(AT_FDCWD, "d", &st, 0x4000));
	T(truncate("d", 0));
	T(truncate("missing", 0));
	T(truncate("d/f", -1));
	T(chdir("d/f"));
	T(chdir("missing"));
	T(fchdir(99));
	T(syscall(SYS_getcwd, buf, 1));
	T(syscall(SYS_getcwd, bad, 100));
	T(access("missing", F_OK));
	T(access("d/f", 0x10));
	T(faccessat(AT_FDCWD, "d/f", R_OK, 0x1000));
	T(chmod("missing", 0644));
	T(fchmodat(AT_FDCWD, "lf", 0644, AT_SYMLINK_NOFOLLOW));
	T(utimensat(AT_FDCWD, "missing", NULL, 0));
	T(utimensat(AT_FDCWD, "d/f", NULL, 0x1234));
	T(mknod("node", S_IFREG | 0644, 0));
	T(mknod("d/f", S_IFREG | 0644, 0));
	T(mknod("sock", S_IFSOCK | 0644, 0));
	T(getxattr("d/f", "user.none", buf, sizeof buf));
	T(setxattr("d/f", "bogus.ns", "v", 1, 0));
	T(setxattr("d/f", "user.k", "v", 1, XATTR_REPLACE));
	T(setxattr("d/f", "user.k", "v", 1, 0));
	T(setxattr("d/f", "user.k", "v", 1, XATTR_CREATE));
	T(getxattr("d/f", "user.k", buf, 0));
	T(getxattr("d/f", "user.k", buf, 0) == 1 ? getxattr("d/f", "user.k", buf, 0) : -1);
	T(removexattr("d/f", "user.none"));
	int fd = open("d", O_RDONLY);
	T(read(fd, buf, 1));
	T(write(fd, buf, 1));
	T(syscall(SYS_getdents64, fd, buf, 1));
	T(syscall(SYS_getdents64, 99, buf, sizeof buf));
	T(syscall(SYS_getdents64, fd, bad, sizeof buf));
	T(lseek(fd, -1, SEEK_SET));
	T(lseek(fd, 0, 42));
	T(ftruncate(fd, 0));
	int ro = open("d/f", O_RDONLY);
	T(ftruncate(ro, 0));
	T(write(ro, "x", 1));
	T(fchmod(99, 0644));
	T(fchown(99, 0, 0));
	T(fsetxattr(ro, "user.x", "v", 1, 0));
	T(fgetxattr(fd, "user.none", buf, sizeof buf));
	T(syscall(SYS_openat2, AT_FDCWD, "d/f", bad, 24));
	T(syscall(SYS_close_range, 5, 3, 0));
	// Calls the sentry traps, on host objects it passes to the kernel.
	int p[2];
	pipe(p);
	T(lseek(p[0], 0, SEEK_SET));
	T(fstatat(p[0], "", &st, AT_EMPTY_PATH));
	T(fstatat(p[0], "x", &st, 0));
	T(openat(p[0], "x", O_RDONLY));
	T(fchdir(p[0]));
	T(syscall(SYS_getdents64, p[0], buf, sizeof buf));
	T(ftruncate(p[1], 0));
	T(fgetxattr(p[0], "user.x", buf, sizeof buf));
	T(flistxattr(p[0], buf, sizeof buf));
	T(fchown(p[0], 0, 0));
	T(readlinkat(p[0], "", buf, sizeof buf));
	T(faccessat(p[0], "x", F_OK, 0));
	T(dup2(p[0], ro));
	T(fstat(ro, &st) == 0 && S_ISFIFO(st.st_mode));
	struct statx stx;
	T(statx(p[0], "", AT_EMPTY_PATH, STATX_BASIC_STATS, &stx) == 0 && S_ISFIFO(stx.stx_mode));
	T(statx(AT_FDCWD, "d/f", 0, STATX_BASIC_STATS, &stx) == 0 && stx.stx_size == 0 && S_ISREG(stx.stx_mode));
	T(statx(AT_FDCWD, "lf", AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) == 0 && S_ISLNK(stx.stx_mode) && stx.stx_size == 3);
	T(statx(AT_FDCWD, "d", 0x12345678, STATX_BASIC_STATS, &stx));
	T(statx(AT_FDCWD, "d", 0, 0x80000000U, &stx));
	T(fchmod(p[0], 0600));
	T(futimens(p[0], NULL));
	T(flock(p[0], LOCK_EX));
	struct statfs sfs;
	T(fstatfs(p[0], &sfs) == 0 && sfs.f_type == 0x50495045);
	T(fstatfs(fd, &sfs) == 0 && sfs.f_type == 0x01021994);
	T(fcntl(p[0], F_GETFL) & O_ACCMODE);
	T(fcntl(fd, F_GETFL));
	T(fcntl(open("d", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK), F_GETFL));
	T(fcntl(open("d/f", O_RDWR | O_APPEND | O_NONBLOCK | O_CLOEXEC), F_GETFL));
	T(fcntl(ro, F_SETFD, FD_CLOEXEC));
	T(fcntl(ro, F_GETFD));
	T(fcntl(99, F_GETFD));
	T(fcntl(99, F_DUPFD, 0));
	T(fcntl(p[0], F_DUPFD, -1));
	T(syscall(SYS_dup3, p[0], p[0], 0));
	return 0;
}
