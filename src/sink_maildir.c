/* SPDX-License-Identifier: ISC */
/* The Maildir sink: each message is written to tmp/, and its writeback
 * started when it ends; commit fsyncs the batch's tmp/ files (by then
 * mostly on their way to disk, so each fsync waits less), moves them into
 * new/ (or, with flags, cur/) without ever replacing a file and fsyncs
 * new/ and cur/, which makes the whole batch durable at once.  The names
 * are fixed before commit, so the caller's journal can say where each
 * message is going. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "crash.h"
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

/* A message ended since the last commit: in tmp/, going to PLACED. */
struct staged {
	char *tmp;   /* "tmp/NAME" */
	int fd;      /* open until commit has fsync'd it, then -1 */
	bool moved;  /* commit moved it to placed.location */
};

struct maildir {
	struct sink base;
	char *path;
	char host[256];
	char tag[SINK_TAG_LEN + 1]; /* the account's, in every name */
	int dirfd;
	bool in_msg;		 /* between begin and end */
	int fd;			 /* the tmp/ file, or -1 */
	char name[NAME_MAX + 1]; /* the message's name under tmp/ */
	uint64_t size;
	time_t date;	      /* mtime to give the message, 0 = now */
	char flags[INFO_MAX]; /* info letters; "" = new/ */
	/* ended since the last commit, and where each goes */
	struct staged *staged;
	struct sink_placed *placed;
	size_t n_staged, cap_staged;
	bool staged_new, staged_cur; /* which of the two commit must fsync */
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
	char hex[2 * sizeof(rnd) + 2 + SINK_TAG_LEN];
	struct timespec ts;

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		int e = errno;
		if (RAND_bytes(rnd, (int)sizeof(rnd)) != 1) {
			errno = e;
			return -1;
		}
	}
	util_hex(rnd, sizeof(rnd), hex);
	if (m->tag[0] != '\0') /* "R<random>A<tag>": see maildir_ours */
		snprintf(hex + 2 * sizeof(rnd), sizeof(hex) - 2 * sizeof(rnd),
			 "A%s", m->tag);
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

/* Takes the ended message (M->name, in tmp/) into the batch. */
static void maildir_stage(struct maildir *m)
{
	if (m->n_staged == m->cap_staged) {
		m->cap_staged = m->cap_staged ? m->cap_staged * 2 : 16;
		m->staged =
		    xrealloc(m->staged, m->cap_staged * sizeof(*m->staged));
		m->placed =
		    xrealloc(m->placed, m->cap_staged * sizeof(*m->placed));
	}
	char *final = maildir_final(m, m->name);
	m->staged[m->n_staged] =
	    (struct staged){.tmp = xasprintf("tmp/%s", m->name), .fd = m->fd};
	m->fd = -1;
	m->placed[m->n_staged] =
	    (struct sink_placed){.location = final, .disk_size = m->size};
	m->n_staged++;
	if (final[0] == 'c')
		m->staged_cur = true;
	else
		m->staged_new = true;
}

static void maildir_forget(struct maildir *m)
{
	for (size_t i = 0; i < m->n_staged; i++) {
		if (m->staged[i].fd >= 0)
			close(m->staged[i].fd);
		free(m->staged[i].tmp);
		free(m->placed[i].location);
	}
	m->n_staged = 0;
	m->staged_new = m->staged_cur = false;
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

/* Starts writing the file's data out without waiting for it, so that
 * the disk works while the next messages arrive and the fsync at commit
 * finds less to wait for (measured: a 2000-message download took twice
 * as long without it).  Only a hint; commit's fsync is what makes the
 * data durable. */
static void maildir_start_writeback(int fd)
{
#ifdef SYNC_FILE_RANGE_WRITE
	(void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
#else
	(void)fd;
#endif
}

/* A failed end drops the message as abort does: a half-ended message
 * must never be taken for a whole one. */
static int maildir_end(struct sink *s, char **err_r)
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
	crash_point("tmp-write");
	if (maildir_set_date(m) < 0) {
		tmp_error(m, "set the date of", errno, err_r);
		goto fail;
	}
	maildir_start_writeback(m->fd);
	m->in_msg = false;
	maildir_stage(m);
	return 0;
fail:
	maildir_abort(s);
	return -1;
}

static int maildir_fsync_sub(int dirfd, const char *sub)
{
	int fd = openat(dirfd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int r = fsync(fd);
	int e = errno;
	close(fd);
	errno = e;
	return r;
}

/* fsyncs new/ and cur/ under DIRFD, each where NEW_ / CUR says.  Returns NULL, or
 * the name of the one that failed (errno set). */
static const char *maildir_fsync_dirs(int dirfd, bool new_, bool cur)
{
	if (new_ && maildir_fsync_sub(dirfd, "new") < 0)
		return "new";
	if (cur && maildir_fsync_sub(dirfd, "cur") < 0)
		return "cur";
	return NULL;
}

/* The names were fixed at end: nothing waits for a lock. */
static int maildir_prepare_batch(struct sink *s,
				 const struct sink_placed **placed_r,
				 size_t *n_r, char **err_r)
{
	struct maildir *m = (struct maildir *)s;

	(void)err_r;
	*placed_r = m->placed;
	*n_r = m->n_staged;
	return 0;
}

/* Makes every staged tmp/ file durable before any is moved into place: a
 * name in new/ must never outlive a crash with its bytes missing. */
static int maildir_sync_staged(struct maildir *m, char **err_r)
{
	for (size_t i = 0; i < m->n_staged; i++) {
		struct staged *st = &m->staged[i];
		if (st->fd < 0)
			continue;
		int r = fsync(st->fd);
		int e = errno;
		if (close(st->fd) < 0 && r == 0) {
			r = -1;
			e = errno;
		}
		st->fd = -1;
		if (r < 0) {
			*err_r = xasprintf("maildir %s: fsync %s: %s", m->path,
					   st->tmp, strerror(e));
			return -1;
		}
		crash_point("tmp-fsync");
	}
	return 0;
}

/* Moves each staged message to its place; a name that exists already
 * (it cannot, short of a clock set back, a reused pid and the same 64
 * random bits) is an error rather than another name: the journal says
 * where the message goes. */
static int maildir_commit(struct sink *s, char **err_r)
{
	struct maildir *m = (struct maildir *)s;

	if (maildir_sync_staged(m, err_r) < 0)
		return -1;
	for (size_t i = 0; i < m->n_staged; i++) {
		struct staged *st = &m->staged[i];
		if (st->moved)
			continue;
		if (sink_maildir_move_noreplace(m->dirfd, st->tmp,
						m->placed[i].location) < 0) {
			*err_r = xasprintf("maildir %s: move %s to %s: %s",
					   m->path, st->tmp,
					   m->placed[i].location,
					   strerror(errno));
			return -1;
		}
		st->moved = true;
		crash_point("rename");
	}
	const char *failed =
	    maildir_fsync_dirs(m->dirfd, m->staged_new, m->staged_cur);
	if (failed != NULL) {
		*err_r = xasprintf("maildir %s: fsync %s/: %s", m->path, failed,
				   strerror(errno));
		return -1;
	}
	crash_point("dir-fsync");
	maildir_forget(m);
	return 0;
}

static void maildir_rollback(struct sink *s)
{
	struct maildir *m = (struct maildir *)s;

	maildir_abort(s);
	for (size_t i = 0; i < m->n_staged; i++)
		unlinkat(m->dirfd,
			 m->staged[i].moved ? m->placed[i].location
					    : m->staged[i].tmp,
			 0);
	/* Best effort: should the removals not survive a crash, the
	 * journal's recovery finds and settles those files. */
	maildir_fsync_dirs(m->dirfd, m->staged_new, m->staged_cur);
	maildir_forget(m);
}

static void maildir_close(struct sink **sp)
{
	if (*sp == NULL)
		return;
	struct maildir *m = (struct maildir *)*sp;
	maildir_rollback(*sp);
	close(m->dirfd);
	free(m->staged);
	free(m->placed);
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

/* Is NAME, a file name under tmp/, one of ours: "SEC.UNIQUE.HOST" with
 * UNIQUE ending in "A<TAG>"? */
static bool maildir_ours(const char *name, const char *tag)
{
	size_t tl = strlen(tag);
	const char *u = strchr(name, '.');
	const char *e = u != NULL ? strchr(u + 1, '.') : NULL;

	if (tl == 0 || e == NULL || (size_t)(e - u - 1) < tl + 1)
		return false;
	return e[-(ptrdiff_t)tl - 1] == 'A' && memcmp(e - tl, tag, tl) == 0;
}

/* Opens SUB of the Maildir DIRFD for reading its entries, or NULL. */
static DIR *maildir_opendir(int dirfd, const char *sub)
{
	int fd = openat(dirfd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

	if (d == NULL && fd >= 0)
		close(fd);
	return d;
}

/* Removes the account's files from tmp/: under the account's lock, any
 * there are left by a crash (or a failed removal).  Best effort. */
static void maildir_sweep(int md, const char *tag)
{
	DIR *d = maildir_opendir(md, "tmp");
	struct dirent *e;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL)
		if (maildir_ours(e->d_name, tag))
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
}

static int maildir_open(const struct conf_account *acct, const char *path,
			unsigned flags, struct sink **sink_r, char **err_r)
{
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
	sink_account_tag(acct, m->tag);
	maildir_sweep(dirfd, m->tag);
	*sink_r = &m->base;
	return 0;
}

/* Finds the file a reader may have moved LOCATION ("new/BASE" or
 * "cur/BASE:2,FLAGS") to: BASE, or BASE:2,ANYTHING, in cur/ or new/.
 * Returns the malloc'd path relative to the Maildir, or NULL. */
static char *maildir_find_moved(int dirfd, const char *location)
{
	const char *base = strchr(location, '/');
	size_t bl;
	char *found = NULL;

	if (base == NULL)
		return NULL;
	base++;
	const char *info = strstr(base, ":2,");
	bl = info != NULL ? (size_t)(info - base) : strlen(base);
	for (int k = 0; k < 2 && found == NULL; k++) {
		const char *sub = k == 0 ? "cur" : "new";
		DIR *d = maildir_opendir(dirfd, sub);
		struct dirent *e;
		if (d == NULL)
			continue;
		while (found == NULL && (e = readdir(d)) != NULL)
			if (strncmp(e->d_name, base, bl) == 0 &&
			    (e->d_name[bl] == '\0' ||
			     strncmp(e->d_name + bl, ":2,", 3) == 0))
				found = xasprintf("%s/%s", sub, e->d_name);
		closedir(d);
	}
	return found;
}

/* Settles one journalled message: is it at its place (or where a reader
 * moved it), whole?  Returns 0, or -1 with *err_r for an I/O error. */
static int maildir_recover_one(int dirfd, const char *path,
			       struct sink_intent *in, char **err_r)
{
	const char *where = in->location;
	struct stat st;
	char hash[65];

	int fd = openat(dirfd, where, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		in->moved_to = maildir_find_moved(dirfd, where);
		if (in->moved_to == NULL) {
			in->found = SINK_ABSENT;
			return 0;
		}
		where = in->moved_to;
		fd = openat(dirfd, where, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0 || fstat(fd, &st) < 0) {
		*err_r = xasprintf("maildir %s: %s: %s", path, where,
				   strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	in->found = SINK_FOUND;
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != in->disk_size ||
	    sink_hash_range(fd, 0, in->disk_size, hash) < 0 ||
	    strcmp(hash, in->disk_hash) != 0) {
		in->found = SINK_FOREIGN;
		in->note = xasprintf("maildir %s: %s is not the message "
				     "mailhaul wrote there (%llu bytes)",
				     path, where,
				     (unsigned long long)in->disk_size);
	}
	close(fd);
	return 0;
}

static int maildir_recover(const struct conf_account *acct, const char *path,
			   struct sink_intent *in, size_t n, char **err_r)
{
	char tag[SINK_TAG_LEN + 1];
	int ret = 0;

	int dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0 && errno == ENOENT) {
		for (size_t i = 0; i < n; i++)
			in[i].found = SINK_ABSENT;
		return 0;
	}
	if (dirfd < 0) {
		*err_r =
		    xasprintf("maildir %s: open: %s", path, strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < n && ret == 0; i++)
		ret = maildir_recover_one(dirfd, path, &in[i], err_r);
	/* A move the crash may have left in the page cache only. */
	const char *failed =
	    ret == 0 ? maildir_fsync_dirs(dirfd, true, true) : NULL;
	if (failed != NULL) {
		*err_r = xasprintf("maildir %s: fsync %s/: %s", path, failed,
				   strerror(errno));
		ret = -1;
	}
	if (ret == 0) {
		sink_account_tag(acct, tag);
		maildir_sweep(dirfd, tag);
	}
	close(dirfd);
	return ret;
}

/* ---- scan and verify ---------------------------------------------- */

#define READ_CHUNK (64 * 1024)

static int maildir_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void maildir_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* Lists the entries of SUB that may be messages (no dot files), sorted
 * by name into *NAMES_R (caller frees with maildir_names_free).  A
 * missing SUB has none.  Returns 0, or -1 with errno. */
static int maildir_list(int dirfd, const char *sub, char ***names_r,
			size_t *n_r)
{
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;

	*names_r = NULL;
	*n_r = 0;
	DIR *d = maildir_opendir(dirfd, sub);
	if (d == NULL)
		return errno == ENOENT ? 0 : -1;
	errno = 0;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			names = xrealloc(names, cap * sizeof(*names));
		}
		names[n++] = xstrdup(e->d_name);
		errno = 0;
	}
	int e_read = errno;
	closedir(d);
	if (e_read != 0) {
		maildir_names_free(names, n);
		errno = e_read;
		return -1;
	}
	if (n > 0)
		qsort(names, n, sizeof(*names), maildir_name_cmp);
	*names_r = names;
	*n_r = n;
	return 0;
}

/* Opens the message file WHERE (relative to DIRFD) for reading.  Returns
 * the fd; -2 when it is no message (gone meanwhile, a symlink, not a
 * regular file); -1 with errno when it cannot be read. */
static int maildir_open_msg(int dirfd, const char *where, struct stat *st)
{
	int fd = openat(dirfd, where, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT || errno == ELOOP ? -2 : -1;
	if (fstat(fd, st) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		return -2;
	}
	return fd;
}

/* Streams the message file FD through CB as the message at LOC, reading
 * with BUF (READ_CHUNK bytes).  Returns 0, a callback's non-zero value,
 * or -1 with *err_r when a read failed. */
static int maildir_stream(int fd, const char *path, const char *loc,
			  unsigned char *buf, const struct sink_scan_cb *cb,
			  void *ctx, char **err_r)
{
	int r = cb->begin(ctx, loc);

	while (r == 0) {
		ssize_t n = read(fd, buf, READ_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*err_r = xasprintf("maildir %s: %s: %s", path, loc,
					   strerror(errno));
			return -1;
		}
		if (n == 0)
			return cb->end(ctx);
		r = cb->data(ctx, buf, (size_t)n);
	}
	return r;
}

/* Streams the messages of SUB, by name.  Returns 0, a callback's value,
 * or -1 with *err_r. */
static int maildir_scan_sub(int dirfd, const char *path, const char *sub,
			    unsigned char *buf, const struct sink_scan_cb *cb,
			    void *ctx, char **err_r)
{
	char **names;
	size_t n;
	int r = 0;
	struct stat st;

	if (maildir_list(dirfd, sub, &names, &n) < 0) {
		*err_r = xasprintf("maildir %s: %s/: %s", path, sub,
				   strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		char *loc = xasprintf("%s/%s", sub, names[i]);
		/* A file a reader moved meanwhile (new/ to cur/) shows up
		 * under its new name, or was deleted: skipped here. */
		int fd = maildir_open_msg(dirfd, loc, &st);
		if (fd >= 0) {
			r = maildir_stream(fd, path, loc, buf, cb, ctx, err_r);
			close(fd);
		} else if (fd == -1) {
			*err_r = xasprintf("maildir %s: %s: %s", path, loc,
					   strerror(errno));
			r = -1;
		}
		free(loc);
	}
	maildir_names_free(names, n);
	return r;
}

static int maildir_scan(const struct conf_account *acct, const char *path,
			const struct sink_scan_cb *cb, void *ctx, char **err_r)
{
	static const char *const subs[] = {"new", "cur"};
	int r = 0;

	(void)acct;
	int dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0 && errno == ENOENT)
		return 0;
	if (dirfd < 0) {
		*err_r =
		    xasprintf("maildir %s: open: %s", path, strerror(errno));
		return -1;
	}
	unsigned char *buf = xmalloc(READ_CHUNK);
	for (size_t i = 0; i < 2 && r == 0; i++)
		r = maildir_scan_sub(dirfd, path, subs[i], buf, cb, ctx, err_r);
	free(buf);
	close(dirfd);
	return r;
}

/* Is LOCATION one a record can hold: "new/NAME" or "cur/NAME", NAME no
 * dot file and holding no '/'? */
static bool maildir_location_ok(const char *location)
{
	return (strncmp(location, "new/", 4) == 0 ||
		strncmp(location, "cur/", 4) == 0) &&
	       location[4] != '\0' && location[4] != '.' &&
	       strchr(location + 4, '/') == NULL;
}

/* Compares the open message file FD (at WHERE, ST its stat) with SIZE and
 * HASH.  Returns 0 with *why_r NULL when it is the message, or with
 * *why_r (caller frees) saying how it differs; -1 with errno when it
 * cannot be read. */
static int maildir_compare(int fd, const struct stat *st, const char *where,
			   uint64_t size, const char *hash, char **why_r)
{
	char got[65];

	*why_r = NULL;
	if ((uint64_t)st->st_size != size) {
		*why_r = xasprintf("%s: %llu bytes, %llu recorded", where,
				   (unsigned long long)st->st_size,
				   (unsigned long long)size);
		return 0;
	}
	if (sink_hash_range(fd, 0, size, got) < 0) {
		if (errno != ENODATA)
			return -1;
		/* cut short while we read */
		*why_r = xasprintf("%s: shorter than %llu bytes", where,
				   (unsigned long long)size);
		return 0;
	}
	if (strcasecmp(got, hash) != 0)
		*why_r = xasprintf("%s: content differs", where);
	return 0;
}

/* Opens the message recorded at LOCATION, or the file a reader renamed it
 * to (*moved_r, caller frees).  Returns the fd; -2 when neither is
 * there; -3 when *where_r is no regular file; -1 with errno (*where_r:
 * the file that failed). */
static int maildir_open_recorded(int dirfd, const char *location,
				 struct stat *st, char **moved_r,
				 const char **where_r)
{
	*moved_r = NULL;
	*where_r = location;
	int fd = maildir_open_msg(dirfd, location, st);
	if (fd != -2)
		return fd;
	if (faccessat(dirfd, location, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return -3;
	*moved_r = maildir_find_moved(dirfd, location);
	if (*moved_r == NULL)
		return -2;
	*where_r = *moved_r;
	fd = maildir_open_msg(dirfd, *moved_r, st);
	return fd == -2 ? -3 : fd;
}

static int maildir_verify(const struct conf_account *acct, const char *path,
			  const char *location, uint64_t size, const char *hash,
			  enum sink_found *found_r, char **moved_to_r,
			  char **why_r, char **err_r)
{
	struct stat st;
	char *moved = NULL, *why = NULL;
	const char *where;
	int fd = -2, ret = 0;

	(void)acct;
	*found_r = SINK_ABSENT;
	*moved_to_r = NULL;
	if (!maildir_location_ok(location)) {
		*why_r = xasprintf("%s: not a Maildir location", location);
		return 0;
	}
	int dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0 && errno != ENOENT) {
		*err_r =
		    xasprintf("maildir %s: open: %s", path, strerror(errno));
		return -1;
	}
	if (dirfd >= 0)
		fd =
		    maildir_open_recorded(dirfd, location, &st, &moved, &where);
	if (fd == -2)
		why = xstrdup("missing");
	else if (fd == -3)
		why = xasprintf("%s: not a regular file", where);
	else if (fd < 0 ||
		 maildir_compare(fd, &st, where, size, hash, &why) < 0) {
		*err_r = xasprintf("maildir %s: %s: %s", path, where,
				   strerror(errno));
		ret = -1;
	} else if (why == NULL) {
		*found_r = SINK_FOUND;
		*moved_to_r = moved;
		moved = NULL;
	}
	if (why != NULL)
		*why_r = why;
	free(moved);
	if (fd >= 0)
		close(fd);
	if (dirfd >= 0)
		close(dirfd);
	return ret;
}

const struct sink_ops sink_maildir_ops = {
    .name = "maildir",
    .open = maildir_open,
    .begin = maildir_begin,
    .write = maildir_write,
    .end = maildir_end,
    .abort = maildir_abort,
    .prepare = maildir_prepare_batch,
    .commit = maildir_commit,
    .rollback = maildir_rollback,
    .close = maildir_close,
    .recover = maildir_recover,
    .verify = maildir_verify,
    .scan = maildir_scan,
};
