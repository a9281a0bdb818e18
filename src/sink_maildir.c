/* SPDX-License-Identifier: ISC */
/* The Maildir sink: each message is written to tmp/, fsync'd, and moved
 * into new/ (or, with flags, cur/) without ever replacing a file; commit
 * fsyncs new/ and cur/, which makes the whole batch durable at once. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "sink_maildir.h"
#include "util.h"

/* Room kept after a unique name for ",S=<size>" and ":2,<flags>": one
 * of each ASCII letter at most. */
#define SIZE_SUFFIX_MAX 24
#define INFO_MAX (3 + 52)
#define NAME_ROOM(buf) (sizeof(buf) - SIZE_SUFFIX_MAX - INFO_MAX)
/* Names are unique by construction; retrying covers a clock set back
 * together with a reused pid. */
#define NAME_TRIES 3

struct maildir {
	struct sink base;
	char *path;
	char host[256];
	int dirfd;
	bool in_msg;		 /* between begin and end */
	int fd;			 /* the tmp/ file, or -1 */
	char name[NAME_MAX + 1]; /* the message's name under tmp/ */
	uint64_t size;
	time_t date;	      /* mtime to give the message, 0 = now */
	char flags[INFO_MAX]; /* info letters; "" = new/ */
	/* "new/NAME" and "cur/NAME:2,FLAGS" ended since the last commit */
	char **ended;
	size_t n_ended, cap_ended;
	bool ended_new, ended_cur; /* which of the two commit must fsync */
	struct util_wbuf out;
};

/* The Q part of names: unique per process, shared by every sink and
 * thread in it. */
static atomic_ulong maildir_counter;

int sink_maildir_host(char *buf, size_t len, const char *host)
{
	size_t n = 0;

	if (len == 0)
		return -1;
	for (const char *p = host; *p != '\0'; p++) {
		const char *esc = *p == '/'   ? "\\057"
				  : *p == ':' ? "\\072"
					      : NULL;
		size_t k = esc != NULL ? 4 : 1;
		if (n + k >= len)
			return -1;
		if (esc != NULL)
			memcpy(buf + n, esc, k);
		else
			buf[n] = *p;
		n += k;
	}
	buf[n] = '\0';
	return 0;
}

int sink_maildir_name(char *buf, size_t len, time_t sec, long usec, pid_t pid,
		      unsigned long q, const char *rand_hex, const char *host)
{
	int n = snprintf(buf, len, "%lld.M%ldP%ldQ%luR%s.", (long long)sec,
			 usec, (long)pid, q, rand_hex);

	if (n < 0 || (size_t)n >= len)
		return -1;
	return sink_maildir_host(buf + n, len - (size_t)n, host);
}

int sink_maildir_move_noreplace(int dirfd, const char *from, const char *to)
{
	if (linkat(dirfd, from, dirfd, to, 0) == 0) {
		/* The message is safe under new/; a stray link left in tmp/
		 * is what Maildir readers clean up, so this may fail. */
		unlinkat(dirfd, from, 0);
		return 0;
	}
	if (errno != EPERM && errno != ENOSYS && errno != EOPNOTSUPP)
		return -1;
#ifdef HAVE_RENAMEAT2
	return renameat2(dirfd, from, dirfd, to, RENAME_NOREPLACE);
#else
	return -1;
#endif
}

/* Makes a fresh unique name into BUF.  Returns 0, or -1 with errno. */
static int maildir_gen_name(struct maildir *m, char *buf, size_t len)
{
	unsigned char rnd[8];
	char hex[2 * sizeof(rnd) + 1];
	struct timespec ts;

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		int e = errno;
		if (RAND_bytes(rnd, (int)sizeof(rnd)) != 1) {
			errno = e;
			return -1;
		}
	}
	util_hex(rnd, sizeof(rnd), hex);
	clock_gettime(CLOCK_REALTIME, &ts);
	if (sink_maildir_name(buf, len, ts.tv_sec, ts.tv_nsec / 1000, getpid(),
			      atomic_fetch_add(&maildir_counter, 1), hex,
			      m->host) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* Takes the date and flags of META.  Flags must be letters in strictly
 * ascending ASCII order: anything else would make a name other readers
 * misparse (or, with '/', a path out of cur/). */
static int maildir_set_meta(struct maildir *m, const struct sink_meta *meta,
			    char **err_r)
{
	const char *f = meta != NULL && meta->flags != NULL ? meta->flags : "";
	size_t n = 0;

	for (; f[n] != '\0'; n++) {
		unsigned char c = (unsigned char)f[n];
		bool letter = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
		if (!letter || (n > 0 && c <= (unsigned char)f[n - 1]) ||
		    n + 1 >= sizeof(m->flags)) {
			*err_r = xasprintf("maildir %s: begin: bad flags "
					   "\"%s\" (letters in ASCII order)",
					   m->path, f);
			return -1;
		}
		m->flags[n] = (char)c;
	}
	m->flags[n] = '\0';
	m->date = meta != NULL ? meta->date : 0;
	return 0;
}

static int maildir_begin(struct sink *s, const struct sink_meta *meta,
			 char **err_r)
{
	struct maildir *m = (struct maildir *)s;
	int flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC;

	if (m->in_msg) {
		*err_r = xasprintf("maildir %s: begin: a message is in "
				   "progress",
				   m->path);
		return -1;
	}
	if (maildir_set_meta(m, meta, err_r) < 0)
		return -1;
	m->name[0] = '\0';
	for (int i = 0; i < NAME_TRIES; i++) {
		if (maildir_gen_name(m, m->name, NAME_ROOM(m->name)) < 0)
			break;
		char *tmp = xasprintf("tmp/%s", m->name);
		m->fd = openat(m->dirfd, tmp, flags, 0600);
		int e = errno;
		free(tmp);
		errno = e;
		if (m->fd >= 0 || errno != EEXIST)
			break;
	}
	if (m->fd < 0) {
		*err_r = xasprintf("maildir %s: create tmp/%s: %s", m->path,
				   m->name, strerror(errno));
		return -1;
	}
	m->in_msg = true;
	m->size = 0;
	util_wbuf_reset(&m->out, m->fd);
	return 0;
}

static int tmp_error(struct maildir *m, const char *what, int e, char **err_r)
{
	*err_r = xasprintf("maildir %s: %s tmp/%s: %s", m->path, what, m->name,
			   strerror(e));
	return -1;
}

static int maildir_write(struct sink *s, const void *buf, size_t len,
			 char **err_r)
{
	struct maildir *m = (struct maildir *)s;

	if (!m->in_msg) {
		*err_r = xasprintf("maildir %s: write: no message in progress",
				   m->path);
		return -1;
	}
	m->size += len;
	if (util_wbuf_put(&m->out, buf, len) < 0)
		return tmp_error(m, "write", m->out.werrno, err_r);
	return 0;
}

static void maildir_abort(struct sink *s)
{
	struct maildir *m = (struct maildir *)s;

	if (!m->in_msg)
		return;
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
	char *tmp = xasprintf("tmp/%s", m->name);
	unlinkat(m->dirfd, tmp, 0);
	free(tmp);
	m->in_msg = false;
}

/* Returns the malloc'd path, relative to the Maildir, the message takes
 * under the unique name BASE: new/BASE,S=SIZE or cur/BASE,S=SIZE:2,FLAGS. */
static char *maildir_final(const struct maildir *m, const char *base)
{
	unsigned long long size = (unsigned long long)m->size;

	if (m->flags[0] == '\0')
		return xasprintf("new/%s,S=%llu", base, size);
	return xasprintf("cur/%s,S=%llu:2,%s", base, size, m->flags);
}

/* Moves the message into new/ or cur/; should its name exist (it cannot,
 * short of a clock set back and a reused pid) another fresh name is taken
 * rather than replace a file.  Returns the malloc'd path relative to the
 * Maildir, or NULL with *err_r. */
static char *maildir_deliver(struct maildir *m, char **err_r)
{
	char *from = xasprintf("tmp/%s", m->name);
	char base[sizeof(m->name)];
	char *final = NULL;
	int e = 0;

	memcpy(base, m->name, sizeof(base));
	for (int i = 0; i < NAME_TRIES; i++) {
		if (i > 0 && maildir_gen_name(m, base, NAME_ROOM(base)) < 0) {
			e = errno;
			break;
		}
		final = maildir_final(m, base);
		int r = sink_maildir_move_noreplace(m->dirfd, from, final);
		e = errno;
		if (r == 0)
			break;
		free(final);
		final = NULL;
		if (e != EEXIST)
			break;
	}
	if (final == NULL)
		*err_r =
		    xasprintf("maildir %s: move %s into %s/: %s", m->path, from,
			      m->flags[0] ? "cur" : "new", strerror(e));
	free(from);
	return final;
}

/* Takes ownership of PATH ("new/..." or "cur/..."), a message not yet
 * committed. */
static void maildir_remember(struct maildir *m, char *path)
{
	if (m->n_ended == m->cap_ended) {
		m->cap_ended = m->cap_ended ? m->cap_ended * 2 : 16;
		m->ended = xrealloc(m->ended, m->cap_ended * sizeof(*m->ended));
	}
	m->ended[m->n_ended++] = path;
	if (path[0] == 'c')
		m->ended_cur = true;
	else
		m->ended_new = true;
}

static void maildir_forget(struct maildir *m)
{
	for (size_t i = 0; i < m->n_ended; i++)
		free(m->ended[i]);
	m->n_ended = 0;
	m->ended_new = m->ended_cur = false;
}

/* Gives the tmp/ file its date before it is moved into place, so that no
 * crash ever leaves a delivered message with the wrong time. */
static int maildir_set_date(struct maildir *m)
{
	if (m->date == 0)
		return 0;
	struct timespec ts[2] = {{.tv_sec = m->date}, {.tv_sec = m->date}};
	return futimens(m->fd, ts);
}

/* A failed end drops the message as abort does: a half-ended message
 * must never be taken for a whole one. */
static int maildir_end(struct sink *s, char **location_r, char **err_r)
{
	struct maildir *m = (struct maildir *)s;

	if (!m->in_msg) {
		*err_r = xasprintf("maildir %s: end: no message in progress",
				   m->path);
		return -1;
	}
	if (util_wbuf_flush(&m->out) < 0) {
		tmp_error(m, "write", m->out.werrno, err_r);
		goto fail;
	}
	if (maildir_set_date(m) < 0) {
		tmp_error(m, "set the date of", errno, err_r);
		goto fail;
	}
	if (fsync(m->fd) < 0) {
		tmp_error(m, "fsync", errno, err_r);
		goto fail;
	}
	int r = close(m->fd);
	m->fd = -1;
	if (r < 0) {
		tmp_error(m, "close", errno, err_r);
		goto fail;
	}
	char *final = maildir_deliver(m, err_r);
	if (final == NULL)
		goto fail;
	m->in_msg = false;
	maildir_remember(m, final);
	*location_r = xstrdup(final);
	return 0;
fail:
	maildir_abort(s);
	return -1;
}

static int maildir_fsync_sub(struct maildir *m, const char *sub)
{
	int fd = openat(m->dirfd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int r = fsync(fd);
	int e = errno;
	close(fd);
	errno = e;
	return r;
}

/* fsyncs new/ and cur/, each only if a message ended there.  Returns
 * NULL, or the name of the one that failed (errno set). */
static const char *maildir_fsync_ended(struct maildir *m)
{
	if (m->ended_new && maildir_fsync_sub(m, "new") < 0)
		return "new";
	if (m->ended_cur && maildir_fsync_sub(m, "cur") < 0)
		return "cur";
	return NULL;
}

static int maildir_commit(struct sink *s, char **err_r)
{
	struct maildir *m = (struct maildir *)s;

	if (m->n_ended == 0)
		return 0;
	const char *failed = maildir_fsync_ended(m);
	if (failed != NULL) {
		*err_r = xasprintf("maildir %s: fsync %s/: %s", m->path, failed,
				   strerror(errno));
		return -1;
	}
	maildir_forget(m);
	return 0;
}

static void maildir_rollback(struct sink *s)
{
	struct maildir *m = (struct maildir *)s;

	maildir_abort(s);
	for (size_t i = 0; i < m->n_ended; i++)
		unlinkat(m->dirfd, m->ended[i], 0);
	/* Best effort: should the removals not survive a crash, the
	 * delivery journal's recovery finds and settles those files. */
	maildir_fsync_ended(m);
	maildir_forget(m);
}

static void maildir_close(struct sink **sp)
{
	if (*sp == NULL)
		return;
	struct maildir *m = (struct maildir *)*sp;
	maildir_rollback(*sp);
	close(m->dirfd);
	free(m->ended);
	free(m->path);
	free(m);
	*sp = NULL;
}

/* Creates SUB under DIRFD unless it is there; it must be a directory. */
static int maildir_subdir(int dirfd, const char *sub)
{
	struct stat st;

	if (mkdirat(dirfd, sub, 0700) < 0 && errno != EEXIST)
		return -1;
	if (fstatat(dirfd, sub, &st, 0) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

/* Creates the empty Maildir++ "maildirfolder" marker unless it is there;
 * the caller's fsync of the Maildir makes its name durable. */
static int maildir_marker(int dirfd)
{
	int fd = openat(dirfd, "maildirfolder",
			O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	int r = fsync(fd);
	int e = errno;
	if (close(fd) < 0 && r == 0)
		return -1;
	errno = e;
	return r;
}

/* Makes sure cur/ new/ tmp/ (and with MARKER the maildirfolder file)
 * exist, and that their names are durable before anything is delivered
 * into them. */
static int maildir_prepare(const char *path, int dirfd, bool marker,
			   char **err_r)
{
	static const char *const subs[] = {"cur", "new", "tmp"};

	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		if (maildir_subdir(dirfd, subs[i]) < 0) {
			*err_r = xasprintf("maildir %s: %s/: %s", path, subs[i],
					   strerror(errno));
			return -1;
		}
	}
	if (marker && maildir_marker(dirfd) < 0) {
		*err_r = xasprintf("maildir %s: maildirfolder: %s", path,
				   strerror(errno));
		return -1;
	}
	if (fsync(dirfd) < 0) {
		*err_r =
		    xasprintf("maildir %s: fsync: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int maildir_open(const struct conf_account *acct, const char *path,
			unsigned flags, struct sink **sink_r, char **err_r)
{
	(void)acct;
	char *failed = NULL;

	if (util_mkdir_p_durable(path, &failed) < 0) {
		if (strcmp(failed, path) == 0)
			*err_r = xasprintf("maildir %s: create: %s", path,
					   strerror(errno));
		else
			*err_r = xasprintf("maildir %s: fsync %s: %s", path,
					   failed, strerror(errno));
		free(failed);
		return -1;
	}
	int dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		*err_r =
		    xasprintf("maildir %s: open: %s", path, strerror(errno));
		return -1;
	}
	bool marker = (flags & SINK_OPEN_MAILDIRFOLDER) != 0;
	if (maildir_prepare(path, dirfd, marker, err_r) < 0) {
		close(dirfd);
		return -1;
	}
	struct maildir *m = xcalloc(1, sizeof(*m));
	m->base.ops = &sink_maildir_ops;
	m->path = xstrdup(path);
	m->dirfd = dirfd;
	m->fd = -1;
	if (gethostname(m->host, sizeof(m->host) - 1) < 0 || !m->host[0])
		snprintf(m->host, sizeof(m->host), "%s", "localhost");
	*sink_r = &m->base;
	return 0;
}

const struct sink_ops sink_maildir_ops = {
    .name = "maildir",
    .open = maildir_open,
    .begin = maildir_begin,
    .write = maildir_write,
    .end = maildir_end,
    .abort = maildir_abort,
    .commit = maildir_commit,
    .rollback = maildir_rollback,
    .close = maildir_close,
};
