/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lock.h"
#include "util.h"

/* How often a waiting process tries again. */
#define LOCK_RETRY_MS 100

struct lock {
	int fd;
	char *path;
};

/* Tries the lock once: 1 taken, 0 busy, -1 error (errno). */
static int try_lock(int fd)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};

	if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
		return 1;
	return errno == EAGAIN || errno == EACCES ? 0 : -1;
}

/* The pid the holder wrote, or 0 when it has not written it yet. */
static long holder_pid(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

static int write_pid(int fd)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());

	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n)
		return -1;
	return 0;
}

static int open_lock_file(const char *state_file, const char *account,
			  char **path_r, char **err_r)
{
	char *dir = util_parent_dir(state_file);
	char *locks = xasprintf("%s/locks", dir);
	char *failed = NULL;
	int fd = -1;

	*path_r = xasprintf("%s/%s.lock", locks, account);
	if (util_mkdir_p_durable(locks, &failed) < 0) {
		*err_r = xasprintf("lock %s: cannot create %s: %s", *path_r,
				   failed, strerror(errno));
		free(failed);
	} else {
		fd = open(*path_r, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
			  0600);
		if (fd < 0)
			*err_r = xasprintf("lock %s: %s", *path_r,
					   strerror(errno));
	}
	free(dir);
	free(locks);
	return fd;
}

enum lock_status lock_account(const char *state_file, const char *account,
			      int timeout, struct lock **lock_r, char **err_r)
{
	char *path = NULL;
	int fd = open_lock_file(state_file, account, &path, err_r);
	int64_t deadline = util_now_ms() + (int64_t)timeout * 1000;
	int r;

	if (fd < 0) {
		free(path);
		return LOCK_ERROR;
	}
	while ((r = try_lock(fd)) == 0 && util_now_ms() < deadline) {
		struct timespec ts = {0, LOCK_RETRY_MS * 1000000L};
		nanosleep(&ts, NULL);
	}
	if (r == 1 && write_pid(fd) == 0) {
		*lock_r = xmalloc(sizeof(**lock_r));
		**lock_r = (struct lock){.fd = fd, .path = path};
		return LOCK_TAKEN;
	}
	enum lock_status st = r == 0 ? LOCK_BUSY : LOCK_ERROR;
	long pid = r == 0 ? holder_pid(fd) : 0;
	if (r == 0 && pid > 0)
		*err_r = xasprintf("skipped: another mailhaul (pid %ld) is "
				   "polling this account (lock %s)",
				   pid, path);
	else if (r == 0)
		*err_r = xasprintf("skipped: another mailhaul is polling this "
				   "account (lock %s)",
				   path);
	else
		*err_r = xasprintf("lock %s: %s", path, strerror(errno));
	close(fd);
	free(path);
	return st;
}

void lock_release(struct lock **lockp)
{
	struct lock *l = *lockp;

	if (l == NULL)
		return;
	/* Closing the only descriptor of the open file drops the lock. */
	close(l->fd);
	free(l->path);
	free(l);
	*lockp = NULL;
}
