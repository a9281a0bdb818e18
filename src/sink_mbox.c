/* SPDX-License-Identifier: ISC */
/* The mbox sink: mboxrd (RFC 4155).  A batch is spooled to an unlinked
 * file beside the mbox first; prepare takes the fcntl lock and the
 * dotlock and fixes each message's offset, commit appends the spool,
 * fsyncs and unlocks.  Any failure truncates the mbox back to the length
 * measured under the lock, so a reader never sees half a message, and
 * the lock is held only for the append, never while mail downloads. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "crash.h"
#include "sink_mbox.h"
#include "util.h"

#define LOCK_TRIES 10
#define DOTLOCK_STALE_SECS (5 * 60)
#define COPY_BUF (256 * 1024)

static const char from_word[] = "From ";
#define FROM_WORD_LEN 5


/* A message of the batch, in the spool. */
struct spooled {
	uint64_t off, len; /* its From_ line to its closing blank line */
	char hash[65];	   /* SHA-256 of those bytes */
	unsigned char prefix[SINK_PREFIX_MAX]; /* the first of them */
	size_t prefix_len;
};

struct mbox {
	struct sink base;
	char *path;
	char *lock_path;
	int fd;		 /* O_APPEND: every write lands at the end */
	int spool;	 /* the batch, unlinked; -1 until the first begin */
	bool fcntl_held; /* both locks held = the batch is prepared */
	bool dot_held;
	bool ofd;    /* the fcntl lock is an OFD lock */
	bool in_msg; /* between begin and end */
	/* A truncate that failed: reported until one succeeds, so that
	 * garbage is never committed. */
	char *broken;
	/* the batch: ended messages, and their places once prepared */
	struct spooled *msgs;
	struct sink_placed *placed;
	size_t n_msgs, n_placed, cap_msgs;
	uint64_t spool_len;  /* bytes of the ended messages */
	off_t batch_start;   /* the mbox length measured under the lock */
	unsigned sep;	     /* '\n' needed before the first From_ line */
	bool appending;	     /* commit has written to the mbox */
	unsigned char *copy; /* COPY_BUF bytes, for the append */
	/* the message streaming in */
	uint64_t msg_len; /* bytes spooled so far */
	EVP_MD_CTX *hash;
	unsigned char prefix[SINK_PREFIX_MAX]; /* its first bytes */
	/* The header section, held back until Return-Path is known. */
	struct sink_mbox_header hdr;
	uint64_t msg_bytes;
	time_t date;	    /* for the From_ line, 0 = now */
	unsigned char last; /* last byte of the message so far */
	struct sink_mbox_quoter q;
	struct util_wbuf out;
};

/* ---- From_ line and sender ------------------------------------------- */

int sink_mbox_from_line(char *buf, size_t len, const char *sender, time_t t)
{
	/* Our own names: strftime's %a and %b follow the locale. */
	static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed",
					"Thu", "Fri", "Sat"};
	static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr",
					   "May", "Jun", "Jul", "Aug",
					   "Sep", "Oct", "Nov", "Dec"};
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL)
		return -1;
	int n =
	    snprintf(buf, len, "From %s %s %s %2d %02d:%02d:%02d %d\n", sender,
		     days[tm.tm_wday], months[tm.tm_mon], tm.tm_mday,
		     tm.tm_hour, tm.tm_min, tm.tm_sec, tm.tm_year + 1900);
	if (n < 0 || (size_t)n >= len)
		return -1;
	return n;
}

/* Returns the end of the field whose line starts at P: its last line's
 * '\n' (or END), continuation lines included. */
static const char *field_end(const char *p, const char *end)
{
	for (;;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			return end;
		if (nl + 1 >= end || (nl[1] != ' ' && nl[1] != '\t'))
			return nl;
		p = nl + 1;
	}
}

/* If the line at P..END starts field NAME, returns the start of its value
 * (after the colon), else NULL.  Blanks before the colon are obsolete
 * syntax (RFC 5322 4.5) but still seen. */
static const char *field_value(const char *p, const char *end, const char *name)
{
	size_t n = strlen(name);

	if ((size_t)(end - p) <= n || strncasecmp(p, name, n) != 0)
		return NULL;
	p += n;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p < end && *p == ':' ? p + 1 : NULL;
}

/* Finds the first field NAME in the header section HDR..END; returns its
 * value and sets *end_r, or returns NULL. */
static const char *header_find(const char *hdr, const char *end,
			       const char *name, const char **end_r)
{
	const char *p = hdr;

	while (p < end && *p != '\n') {
		const char *fend = field_end(p, end);
		const char *v = field_value(p, fend, name);
		if (v != NULL) {
			*end_r = fend;
			return v;
		}
		p = fend < end ? fend + 1 : end;
	}
	return NULL;
}

void sink_mbox_sender(const char *hdr, size_t len, char *out, size_t out_len)
{
	const char *end = NULL;
	const char *v = header_find(hdr, hdr + len, "Return-Path", &end);
	size_t n = 0, cap = out_len - 1;

	if (cap > SINK_MBOX_SENDER_MAX)
		cap = SINK_MBOX_SENDER_MAX;
	if (v != NULL) {
		const char *lt = memchr(v, '<', (size_t)(end - v));
		if (lt != NULL) {
			v = lt + 1;
			const char *gt = memchr(v, '>', (size_t)(end - v));
			if (gt != NULL)
				end = gt;
		}
		/* Anything else would break the From_ line or a reader. */
		for (; v < end && n < cap; v++) {
			unsigned char c = (unsigned char)*v;
			if (c > 0x20 && c < 0x7f && c != '<' && c != '>')
				out[n++] = (char)c;
		}
	}
	out[n] = '\0';
	if (n == 0)
		snprintf(out, out_len, "%s", "MAILER-DAEMON");
}

/* ---- the quoter ------------------------------------------------------- */

void sink_mbox_quoter_init(struct sink_mbox_quoter *q, bool unquote)
{
	*q = (struct sink_mbox_quoter){.unquote = unquote};
}

static int emit_gts(size_t n, sink_mbox_out_fn *out, void *ctx)
{
	char block[256];

	memset(block, '>', sizeof(block));
	while (n > 0) {
		size_t k = n < sizeof(block) ? n : sizeof(block);
		if (out(ctx, block, k) < 0)
			return -1;
		n -= k;
	}
	return 0;
}

/* Emits the held-back start of the line, with one '>' more (quoting) or
 * less (unquoting) when it turned out to be a From_ line, and passes the
 * rest of the line through. */
static int release(struct sink_mbox_quoter *q, sink_mbox_out_fn *out, void *ctx)
{
	size_t gts = q->gts;

	if (q->from == FROM_WORD_LEN) {
		if (!q->unquote)
			gts++;
		else if (gts > 0)
			gts--;
	}
	if (emit_gts(gts, out, ctx) < 0)
		return -1;
	if (q->from > 0 && out(ctx, from_word, q->from) < 0)
		return -1;
	q->gts = 0;
	q->from = 0;
	q->mid_line = true;
	return 0;
}

/* Finds the end of the run from P (mid-line) that goes out unchanged:
 * through every following line that cannot be a From_ line, quoted or
 * not (it starts with neither '>' nor 'F'), so that most of a message
 * leaves in one piece rather than a line at a time. */
static const char *quoter_run(struct sink_mbox_quoter *q, const char *p,
			      const char *end)
{
	for (;;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			return end; /* still mid-line */
		p = nl + 1;
		if (p == end || *p == '>' || *p == from_word[0]) {
			q->mid_line = false;
			return p;
		}
	}
}

int sink_mbox_quoter_feed(struct sink_mbox_quoter *q, const void *buf,
			  size_t len, sink_mbox_out_fn *out, void *ctx)
{
	const char *p = buf, *end = p + len;

	while (p < end) {
		if (q->mid_line) {
			const char *run = p;
			p = quoter_run(q, p, end);
			if (out(ctx, run, (size_t)(p - run)) < 0)
				return -1;
		} else if (q->from == 0 && *p == '>') {
			q->gts++;
			p++;
		} else if (*p == from_word[q->from]) {
			p++;
			if (++q->from == FROM_WORD_LEN &&
			    release(q, out, ctx) < 0)
				return -1;
		} else {
			/* Not a From_ line: *p goes on with the rest of it. */
			if (release(q, out, ctx) < 0)
				return -1;
		}
	}
	return 0;
}

int sink_mbox_quoter_finish(struct sink_mbox_quoter *q, sink_mbox_out_fn *out,
			    void *ctx)
{
	/* A line cut short is not a From_ line: it leaves as it came. */
	int ret = q->mid_line ? 0 : release(q, out, ctx);

	sink_mbox_quoter_init(q, q->unquote);
	return ret;
}

/* Output callback of the quoter: appends to a util_str. */
static int str_put(void *ctx, const void *buf, size_t len)
{
	util_str_add(ctx, buf, len);
	return 0;
}

char *sink_mbox_unquote(const void *buf, size_t len, size_t *len_r)
{
	struct sink_mbox_quoter q;
	struct util_str out = {0};

	util_str_add(&out, "", 0);
	sink_mbox_quoter_init(&q, true);
	sink_mbox_quoter_feed(&q, buf, len, str_put, &out);
	sink_mbox_quoter_finish(&q, str_put, &out);
	*len_r = out.len;
	return out.p;
}


/* ---- buffered output -------------------------------------------------- */

/* Output callback of the quoter: appends to the spool's write buffer. */
static int buf_put(void *ctx, const void *data, size_t len)
{
	struct mbox *m = ctx;

	if (m->msg_len < SINK_PREFIX_MAX) {
		size_t k = SINK_PREFIX_MAX - (size_t)m->msg_len;
		memcpy(m->prefix + m->msg_len, data, k < len ? k : len);
	}
	m->msg_len += len;
	EVP_DigestUpdate(m->hash, data, len);
	return util_wbuf_put(&m->out, data, len);
}

static int write_error(struct mbox *m, char **err_r)
{
	*err_r = xasprintf("mbox %s: spool: %s", m->path,
			   strerror(m->out.werrno != 0 ? m->out.werrno
						       : EIO));
	return -1;
}

/* Cuts the mbox back to LEN and makes that durable.  A failure leaves
 * the sink broken: nothing more is committed until a truncate succeeds. */
static int mbox_truncate(struct mbox *m, off_t len)
{
	if (ftruncate(m->fd, len) < 0 || fsync(m->fd) < 0) {
		free(m->broken);
		m->broken = xasprintf("mbox %s: truncate to %lld: %s", m->path,
				      (long long)len, strerror(errno));
		return -1;
	}
	free(m->broken);
	m->broken = NULL;
	return 0;
}

/* ---- locking ---------------------------------------------------------- */

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	/* Cut short by a signal: the caller just tries again sooner. */
	nanosleep(&ts, NULL);
}

/* Returns 0 when locked, 1 when another holder has it, -1 on error. */
static int lock_fcntl(struct mbox *m, char **err_r)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};

#ifdef F_OFD_SETLK
	/* OFD locks also exclude other threads of this process. */
	if (fcntl(m->fd, F_OFD_SETLK, &fl) == 0) {
		m->ofd = true;
		m->fcntl_held = true;
		return 0;
	}
	if (errno != EINVAL)
		goto failed;
#endif
	if (fcntl(m->fd, F_SETLK, &fl) == 0) {
		m->ofd = false;
		m->fcntl_held = true;
		return 0;
	}
#ifdef F_OFD_SETLK
failed:
#endif
	if (errno == EAGAIN || errno == EACCES)
		return 1;
	*err_r = xasprintf("mbox %s: lock: %s", m->path, strerror(errno));
	return -1;
}

/* Returns the pid written in the dotlock at PATH, or 0. */
static long dotlock_pid(const char *path)
{
	char text[32];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	text[n] = '\0';
	long pid = strtol(text, NULL, 10);
	return pid > 0 ? pid : 0;
}

/* A crash leaves a dotlock behind that would block the mbox forever.  One
 * naming a process that is gone is stale at once (so a mailhaul killed a
 * moment ago does not hold up the next run); one naming no process, only
 * after 5 minutes (its creator may not have written its pid yet). */
static bool dotlock_stale(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return false;
	long pid = dotlock_pid(path);
	if (pid > 0)
		return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
	return time(NULL) - st.st_mtime >= DOTLOCK_STALE_SECS;
}

/* Creates the dotlock at PATH already holding our pid: a file made with
 * O_TMPFILE, written, then linked into place, so that no crash ever
 * leaves a dotlock without a pid (which others could only take for stale
 * after minutes).  Returns 0 when created, 1 when PATH exists, -1 with
 * errno, or 2 when the file system cannot do it (no O_TMPFILE, no /proc):
 * then the caller falls back to O_EXCL. */
static int dotlock_link(const char *path, const char *pid, size_t len)
{
#ifdef O_TMPFILE
	char *dir = util_parent_dir(path);
	int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
	free(dir);
	if (fd < 0)
		return errno == EISDIR || errno == EOPNOTSUPP || errno == EINVAL
			   ? 2
			   : -1;
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	int r = util_write_all(fd, pid, len);
	if (r == 0)
		r = linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW);
	int e = errno;
	close(fd);
	errno = e;
	if (r == 0)
		return 0;
	if (e == EEXIST)
		return 1;
	return e == ENOENT && access(proc, F_OK) < 0 ? 2 : -1;
#else
	(void)path;
	(void)pid;
	(void)len;
	return 2;
#endif
}

/* The other way: O_EXCL, then the pid. */
static int dotlock_excl(const char *path, const char *pid, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno == EEXIST ? 1 : -1;
	int w = util_write_all(fd, pid, len);
	int e = errno;
	if (close(fd) < 0 && w == 0) {
		w = -1;
		e = errno;
	}
	if (w < 0) {
		unlink(path);
		errno = e;
		return -1;
	}
	return 0;
}

/* Returns 0 when locked, 1 when another holder has it, -1 on error. */
static int lock_dot(struct mbox *m, char **err_r)
{
	char pid[32];
	int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	int r = 1;

	for (int i = 0; i < 2 && r == 1; i++) {
		if (i > 0 && !dotlock_stale(m->lock_path))
			break;
		if (i > 0)
			unlink(m->lock_path);
		r = dotlock_link(m->lock_path, pid, (size_t)n);
		if (r == 2)
			r = dotlock_excl(m->lock_path, pid, (size_t)n);
	}
	if (r == 0)
		m->dot_held = true;
	if (r < 0)
		*err_r = xasprintf("mbox %s: dotlock %s: %s", m->path,
				   m->lock_path, strerror(errno));
	return r;
}

static void mbox_unlock(struct mbox *m)
{
	if (m->dot_held)
		unlink(m->lock_path);
	m->dot_held = false;
	if (m->fcntl_held) {
		struct flock fl = {.l_type = F_UNLCK, .l_whence = SEEK_SET};
#ifdef F_OFD_SETLK
		fcntl(m->fd, m->ofd ? F_OFD_SETLK : F_SETLK, &fl);
#else
		fcntl(m->fd, F_SETLK, &fl);
#endif
	}
	m->fcntl_held = false;
}

/* Takes the fcntl lock, then the dotlock, never waiting for one while
 * holding the other (a program taking them in the other order would
 * deadlock with us).  Returns 0, SINK_LOCKED when they stay held, or -1. */
static int mbox_lock(struct mbox *m, char **err_r)
{
	for (int i = 0; i < LOCK_TRIES; i++) {
		if (i > 0)
			sleep_ms(i * 50L + 50 < 500 ? i * 50L + 50 : 500);
		int r = lock_fcntl(m, err_r);
		if (r == 0)
			r = lock_dot(m, err_r);
		if (r == 0)
			return 0;
		mbox_unlock(m);
		if (r < 0)
			return -1;
	}
	*err_r = xasprintf("mbox %s: locked by another program (%s)", m->path,
			   m->lock_path);
	return SINK_LOCKED;
}

/* ---- the held-back header ------------------------------------------- */

void sink_mbox_header_reset(struct sink_mbox_header *h)
{
	h->len = 0;
	h->done = h->overflow = false;
	h->bol = true; /* an empty first line: no header at all */
}

size_t sink_mbox_header_take(struct sink_mbox_header *h, const void *p,
			     size_t len)
{
	const unsigned char *c = p;
	size_t i = 0;

	while (i < len && !h->done) {
		if (c[i] == '\n' && h->bol)
			h->done = true;
		h->bol = c[i++] == '\n';
		if (!h->done && h->len + i >= SINK_MBOX_HEADER_MAX)
			h->done = h->overflow = true;
	}
	if (h->len + i > h->cap) {
		h->cap = h->len + i < 4096 ? 4096 : (h->len + i) * 2;
		if (h->cap > SINK_MBOX_HEADER_MAX)
			h->cap = SINK_MBOX_HEADER_MAX;
		h->buf = xrealloc(h->buf, h->cap);
	}
	memcpy(h->buf + h->len, c, i);
	h->len += i;
	return i;
}

void sink_mbox_header_sender(const struct sink_mbox_header *h, char *out,
			     size_t out_len)
{
	if (h->overflow)
		snprintf(out, out_len, "%s", "MAILER-DAEMON");
	else
		sink_mbox_sender(h->buf, h->len, out, out_len);
}

void sink_mbox_header_free(struct sink_mbox_header *h)
{
	free(h->buf);
	*h = (struct sink_mbox_header){0};
}

/* ---- opening --------------------------------------------------------- */

/* Creates the missing mbox at PATH (and its missing parents, 0700) and
 * makes its name durable.  Returns the fd, or -1 with *err_r. */
static int mbox_create(const char *path, char **err_r)
{
	char *dir = util_parent_dir(path);
	char *failed = NULL;
	int fd = -1;

	if (util_mkdir_p_durable(dir, &failed) < 0) {
		if (strcmp(failed, dir) == 0)
			*err_r = xasprintf("mbox %s: create directory %s: %s",
					   path, dir, strerror(errno));
		else
			*err_r = xasprintf("mbox %s: fsync %s: %s", path,
					   failed, strerror(errno));
		free(failed);
		goto out;
	}
	fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST) /* created meanwhile: use it */
		fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC);
	else if (fd >= 0 && util_fsync_dir(dir) < 0) {
		*err_r = xasprintf("mbox %s: fsync %s: %s", path, dir,
				   strerror(errno));
		close(fd);
		fd = -1;
		goto out;
	}
	if (fd < 0)
		*err_r =
		    xasprintf("mbox %s: create: %s", path, strerror(errno));
out:
	free(dir);
	return fd;
}

/* Returns FD when it is a regular file, else closes it and returns -1
 * with *err_r ("mbox PATH: WHAT: why"). */
static int mbox_regular(int fd, const char *path, const char *what,
			char **err_r)
{
	struct stat st;
	const char *why = NULL;

	if (fstat(fd, &st) < 0)
		why = strerror(errno);
	else if (!S_ISREG(st.st_mode))
		why = "not a regular file";
	if (why == NULL)
		return fd;
	*err_r = xasprintf("mbox %s: %s: %s", path, what, why);
	close(fd);
	return -1;
}

/* Opens the mbox at PATH, creating it if missing.  Returns the fd, or -1
 * with *err_r. */
static int mbox_open_fd(const char *path, char **err_r)
{
	int fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC);

	if (fd < 0 && errno != ENOENT) {
		*err_r = xasprintf("mbox %s: open: %s", path, strerror(errno));
		return -1;
	}
	if (fd < 0 && (fd = mbox_create(path, err_r)) < 0)
		return -1;
	return mbox_regular(fd, path, "open", err_r);
}

/* ---- the sink --------------------------------------------------------- */

/* Measures the file under the lock and how many '\n' must precede our
 * first From_ line: the previous message must end with a blank line, or
 * a reader would take our From_ line as part of its body. */
static int mbox_measure(struct mbox *m, char **err_r)
{
	struct stat st;
	char tail[2] = {'\n', '\n'};

	if (fstat(m->fd, &st) < 0) {
		*err_r =
		    xasprintf("mbox %s: stat: %s", m->path, strerror(errno));
		return -1;
	}
	m->batch_start = st.st_size;
	size_t n = st.st_size >= 2 ? 2 : (size_t)st.st_size;
	ssize_t r =
	    n > 0 ? pread(m->fd, tail + 2 - n, n, st.st_size - (off_t)n) : 0;
	if (r != (ssize_t)n) {
		*err_r = xasprintf("mbox %s: read: %s", m->path,
				   r < 0 ? strerror(errno) : "short read");
		return -1;
	}
	m->sep = tail[1] != '\n' ? 2 : tail[0] != '\n' ? 1 : 0;
	return 0;
}

/* Returns 1 when our fd still is the file at PATH, 0 when that was moved
 * or deleted since we opened it (rotated, archived by its owner): mail
 * appended to the old file would be lost from view.  -1 on error. */
static int mbox_still_there(struct mbox *m, char **err_r)
{
	struct stat ours, now;

	if (fstat(m->fd, &ours) < 0)
		goto fail;
	if (stat(m->path, &now) < 0) {
		if (errno == ENOENT)
			return 0;
		goto fail;
	}
	return ours.st_dev == now.st_dev && ours.st_ino == now.st_ino;
fail:
	*err_r = xasprintf("mbox %s: stat: %s", m->path, strerror(errno));
	return -1;
}

/* Locks the mbox for a batch, first reopening it if the file at PATH is
 * no longer the one we hold.  Returns 0, SINK_LOCKED or -1. */
static int mbox_lock_batch(struct mbox *m, char **err_r)
{
	for (int i = 0; i < 3; i++) {
		int r = mbox_lock(m, err_r);
		if (r < 0)
			return r;
		r = mbox_still_there(m, err_r);
		if (r == 1)
			return 0;
		mbox_unlock(m);
		if (r < 0)
			return -1;
		int fd = mbox_open_fd(m->path, err_r);
		if (fd < 0)
			return -1;
		close(m->fd);
		m->fd = fd;
	}
	*err_r = xasprintf("mbox %s: keeps being replaced", m->path);
	return -1;
}

/* Opens the spool: an unlinked file beside the mbox (so a full disk
 * shows before the mbox is touched, and the append may be a cheap copy
 * within one file system). */
static int mbox_open_spool(struct mbox *m, char **err_r)
{
	char *dir = util_parent_dir(m->path);
	int fd = -1;

#ifdef O_TMPFILE
	fd = open(dir, O_TMPFILE | O_RDWR | O_APPEND | O_CLOEXEC, 0600);
#endif
	if (fd < 0) {
		/* A file system without O_TMPFILE: a name, unlinked at once. */
		char *name = xasprintf("%s/.mailhaul-spool-XXXXXX", dir);
		fd = mkostemp(name, O_APPEND | O_CLOEXEC);
		if (fd >= 0)
			unlink(name);
		free(name);
	}
	if (fd < 0)
		*err_r = xasprintf("mbox %s: spool in %s: %s", m->path, dir,
				   strerror(errno));
	free(dir);
	m->spool = fd;
	return fd < 0 ? -1 : 0;
}

/* Empties the batch: the spool, the list of messages, their places. */
static void mbox_batch_reset(struct mbox *m)
{
	for (size_t i = 0; i < m->n_placed; i++)
		free(m->placed[i].location);
	m->n_msgs = m->n_placed = 0;
	m->spool_len = 0;
	m->appending = false;
	if (m->spool >= 0 && ftruncate(m->spool, 0) < 0) {
		/* Offsets into it would be wrong: start a new one. */
		close(m->spool);
		m->spool = -1;
	}
}

static int mbox_begin(struct sink *s, const struct sink_meta *meta,
		      char **err_r)
{
	struct mbox *m = (struct mbox *)s;

	if (m->broken != NULL) {
		*err_r = xstrdup(m->broken);
		return -1;
	}
	if (m->in_msg) {
		*err_r = xasprintf("mbox %s: begin: a message is in progress",
				   m->path);
		return -1;
	}
	if (m->spool < 0 && mbox_open_spool(m, err_r) < 0)
		return -1;
	m->in_msg = true;
	sink_mbox_header_reset(&m->hdr);
	m->msg_bytes = 0;
	m->msg_len = 0;
	m->date = meta != NULL ? meta->date : 0;
	EVP_DigestInit_ex(m->hash, EVP_sha256(), NULL);
	util_wbuf_reset(&m->out, m->spool);
	sink_mbox_quoter_init(&m->q, false);
	return 0;
}

/* The header is known: writes the From_ line and the held-back header. */
static int mbox_start_body(struct mbox *m)
{
	char sender[SINK_MBOX_SENDER_MAX + 1];
	char line[SINK_MBOX_FROM_LINE_MAX];

	sink_mbox_header_sender(&m->hdr, sender, sizeof(sender));
	time_t date = m->date != 0 ? m->date : time(NULL);
	int n = sink_mbox_from_line(line, sizeof(line), sender, date);
	if (n < 0) {
		m->out.werrno = EOVERFLOW;
		return -1;
	}
	if (buf_put(m, line, (size_t)n) < 0)
		return -1;
	return sink_mbox_quoter_feed(&m->q, m->hdr.buf, m->hdr.len, buf_put, m);
}

static int mbox_write(struct sink *s, const void *buf, size_t len, char **err_r)
{
	struct mbox *m = (struct mbox *)s;
	const unsigned char *p = buf;

	if (!m->in_msg) {
		*err_r = xasprintf("mbox %s: write: no message in progress",
				   m->path);
		return -1;
	}
	if (m->out.werrno != 0)
		return write_error(m, err_r);
	if (len == 0)
		return 0;
	m->msg_bytes += len;
	m->last = p[len - 1];
	if (!m->hdr.done) {
		size_t n = sink_mbox_header_take(&m->hdr, p, len);
		if (!m->hdr.done)
			return 0;
		p += n;
		len -= n;
		if (mbox_start_body(m) < 0)
			return write_error(m, err_r);
	}
	if (sink_mbox_quoter_feed(&m->q, p, len, buf_put, m) < 0)
		return write_error(m, err_r);
	return 0;
}

/* Drops the message being spooled; the mbox was not touched. */
static void mbox_abort(struct sink *s)
{
	struct mbox *m = (struct mbox *)s;

	if (!m->in_msg)
		return;
	m->in_msg = false;
	util_wbuf_reset(&m->out, m->spool);
	if (ftruncate(m->spool, (off_t)m->spool_len) < 0) {
		free(m->broken);
		m->broken = xasprintf("mbox %s: spool: truncate: %s", m->path,
				      strerror(errno));
	}
}

/* A failed end drops the message as abort does: a half-ended message
 * must never be taken for a whole one. */
static int mbox_end(struct sink *s, char **err_r)
{
	struct mbox *m = (struct mbox *)s;

	if (!m->in_msg) {
		*err_r =
		    xasprintf("mbox %s: end: no message in progress", m->path);
		return -1;
	}
	if (!m->hdr.done) {
		m->hdr.done = true;
		if (mbox_start_body(m) < 0)
			goto fail;
	}
	if (sink_mbox_quoter_finish(&m->q, buf_put, m) < 0)
		goto fail;
	if (m->msg_bytes > 0 && m->last != '\n' && buf_put(m, "\n", 1) < 0)
		goto fail;
	if (buf_put(m, "\n", 1) < 0 || util_wbuf_flush(&m->out) < 0)
		goto fail;
	m->in_msg = false;
	if (m->n_msgs == m->cap_msgs) {
		m->cap_msgs = m->cap_msgs ? 2 * m->cap_msgs : 16;
		m->msgs = xrealloc(m->msgs, m->cap_msgs * sizeof(*m->msgs));
		m->placed =
		    xrealloc(m->placed, m->cap_msgs * sizeof(*m->placed));
	}
	struct spooled *sp = &m->msgs[m->n_msgs++];
	unsigned char md[32];
	EVP_DigestFinal_ex(m->hash, md, NULL);
	util_hex(md, sizeof(md), sp->hash);
	sp->off = m->spool_len;
	sp->len = m->msg_len;
	sp->prefix_len =
	    m->msg_len < SINK_PREFIX_MAX ? (size_t)m->msg_len : SINK_PREFIX_MAX;
	memcpy(sp->prefix, m->prefix, sp->prefix_len);
	m->spool_len += m->msg_len;
	crash_point("mbox-spool");
	return 0;
fail:
	write_error(m, err_r);
	mbox_abort(s);
	return -1;
}

/* Locks the mbox (if this batch has not yet) and places the messages
 * ended since: the first after the blank lines the file needs, each next
 * one right after the one before. */
static int mbox_prepare(struct sink *s, const struct sink_placed **placed_r,
			size_t *n_r, char **err_r)
{
	struct mbox *m = (struct mbox *)s;

	if (m->broken != NULL) {
		*err_r = xstrdup(m->broken);
		return -1;
	}
	if (m->n_msgs > 0 && !m->fcntl_held) {
		int r = mbox_lock_batch(m, err_r);
		if (r < 0)
			return r;
		if (mbox_measure(m, err_r) < 0) {
			mbox_unlock(m);
			return -1;
		}
		crash_point("mbox-lock");
	}
	for (; m->n_placed < m->n_msgs; m->n_placed++) {
		const struct spooled *sp = &m->msgs[m->n_placed];
		uint64_t from = (uint64_t)m->batch_start + m->sep + sp->off;
		struct sink_placed *pl = &m->placed[m->n_placed];
		*pl = (struct sink_placed){
		    .location = xasprintf("mbox:%llu", (unsigned long long)from),
		    .start = m->n_placed == 0 ? (uint64_t)m->batch_start : from,
		    .disk_size = sp->len,
		};
		memcpy(pl->disk_hash, sp->hash, sizeof(pl->disk_hash));
		memcpy(pl->prefix, sp->prefix, sp->prefix_len);
		pl->prefix_len = sp->prefix_len;
	}
	*placed_r = m->placed;
	*n_r = m->n_placed;
	return 0;
}

/* Appends LEN bytes of the spool from OFF to the mbox. */
static int mbox_copy(struct mbox *m, uint64_t off, uint64_t len)
{
	if (m->copy == NULL)
		m->copy = xmalloc(COPY_BUF);
	while (len > 0) {
		size_t want = len < COPY_BUF ? (size_t)len : COPY_BUF;
		ssize_t n = pread(m->spool, m->copy, want, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO; /* the spool lost bytes */
			return -1;
		}
		if (util_write_all(m->fd, m->copy, (size_t)n) < 0)
			return -1;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

static int mbox_commit(struct sink *s, char **err_r)
{
	struct mbox *m = (struct mbox *)s;
	const struct sink_placed *placed;
	size_t n;
	struct stat st;

	if (m->n_msgs == 0) {
		mbox_unlock(m);
		return 0;
	}
	int r = mbox_prepare(s, &placed, &n, err_r);
	if (r < 0)
		return r;
	if (fstat(m->fd, &st) < 0) {
		*err_r =
		    xasprintf("mbox %s: stat: %s", m->path, strerror(errno));
		return -1;
	}
	if (st.st_size != m->batch_start) {
		*err_r = xasprintf("mbox %s: changed under our lock (another "
				   "program does not lock it)",
				   m->path);
		return -1;
	}
	m->appending = true;
	uint64_t half = m->spool_len / 2;
	if (util_write_all(m->fd, "\n\n", m->sep) < 0 ||
	    mbox_copy(m, 0, half) < 0)
		goto fail;
	crash_point("mbox-append-half");
	if (mbox_copy(m, half, m->spool_len - half) < 0)
		goto fail;
	crash_point("mbox-append");
	if (fsync(m->fd) < 0)
		goto fail;
	crash_point("mbox-fsync");
	m->appending = false;
	mbox_unlock(m);
	mbox_batch_reset(m);
	return 0;
fail:
	*err_r = xasprintf("mbox %s: append: %s", m->path, strerror(errno));
	return -1;
}

static void mbox_rollback(struct sink *s)
{
	struct mbox *m = (struct mbox *)s;

	mbox_abort(s);
	/* Keep the lock on failure, so another rollback can retry. */
	if (m->appending && mbox_truncate(m, m->batch_start) < 0)
		return;
	mbox_unlock(m);
	mbox_batch_reset(m);
}

static void mbox_close(struct sink **sp)
{
	if (*sp == NULL)
		return;
	struct mbox *m = (struct mbox *)*sp;
	mbox_rollback(*sp);
	mbox_unlock(m);
	close(m->fd);
	if (m->spool >= 0)
		close(m->spool);
	free(m->broken);
	sink_mbox_header_free(&m->hdr);
	EVP_MD_CTX_free(m->hash);
	free(m->msgs);
	free(m->placed);
	free(m->copy);
	free(m->lock_path);
	free(m->path);
	free(m);
	*sp = NULL;
}

static struct mbox *mbox_new(const char *path, int fd)
{
	struct mbox *m = xcalloc(1, sizeof(*m));

	m->base.ops = &sink_mbox_ops;
	m->path = xstrdup(path);
	m->lock_path = xasprintf("%s.lock", path);
	m->fd = fd;
	m->spool = -1;
	m->hash = EVP_MD_CTX_new();
	if (m->hash == NULL)
		util_oom();
	return m;
}

/* FLAGS: no SINK_OPEN_* flag concerns an mbox. */
static int mbox_open(const struct conf_account *acct, const char *path,
		     unsigned flags, struct sink **sink_r, char **err_r)
{
	(void)acct;
	(void)flags;
	int fd = mbox_open_fd(path, err_r);

	if (fd < 0)
		return -1;
	*sink_r = &mbox_new(path, fd)->base;
	return 0;
}

/* ---- recovery ------------------------------------------------------------ */

/* Reads exactly N bytes at OFF: 0, or -1 with errno (EIO when the file
 * is shorter than fstat said). */
static int pread_exact(int fd, void *buf, size_t n, off_t off)
{
	ssize_t r = pread(fd, buf, n, off);

	if (r == (ssize_t)n)
		return 0;
	if (r >= 0)
		errno = EIO;
	return -1;
}

/* Is the tail of the mbox from START to SIZE the start of what mailhaul
 * was writing there: the blank lines before the From_ line at FROM, then
 * the journalled first bytes of the message?  (Bytes past those cannot
 * be checked; they follow our own From_ line and header.)  1 yes, 0 no,
 * -1 with errno. */
static int mbox_tail_ours(struct mbox *m, off_t size, uint64_t from,
			  const struct sink_intent *in)
{
	unsigned char buf[SINK_PREFIX_MAX];
	uint64_t end = (uint64_t)size;

	uint64_t sep_end = from < end ? from : end;
	for (uint64_t off = in->start; off < sep_end;) {
		size_t k = sep_end - off < sizeof(buf) ? (size_t)(sep_end - off)
						       : sizeof(buf);
		if (pread_exact(m->fd, buf, k, (off_t)off) < 0)
			return -1;
		for (size_t i = 0; i < k; i++)
			if (buf[i] != '\n')
				return 0;
		off += k;
	}
	if (end <= from)
		return 1;
	size_t n = end - from < in->prefix_len ? (size_t)(end - from)
					       : in->prefix_len;
	if (pread_exact(m->fd, buf, n, (off_t)from) < 0)
		return -1;
	return n > 0 && memcmp(buf, in->prefix, n) == 0;
}

/* Settles one journalled message of the locked mbox, SIZE bytes long.
 * Our bytes were to be START..END, the From_ line at FROM.  Returns the
 * length the file has afterwards, or -1 with *err_r. */
static off_t mbox_recover_one(struct mbox *m, off_t size,
			      struct sink_intent *in, char **err_r)
{
	unsigned long long from = 0;
	char hash[65];
	int len = 0;

	if (sscanf(in->location, "mbox:%llu%n", &from, &len) != 1 ||
	    in->location[len] != '\0' || from < in->start) {
		*err_r = xasprintf("mbox %s: journal: bad place \"%s\"",
				   m->path, in->location);
		return -1;
	}
	uint64_t end = from + in->disk_size;
	in->found = SINK_ABSENT;
	if ((uint64_t)size <= in->start)
		return size; /* nothing of it was written */
	if ((uint64_t)size < end) {
		/* The file ends inside our write: cut back what is ours. */
		int r = mbox_tail_ours(m, size, from, in);
		if (r < 0)
			goto read_error;
		if (r == 0)
			goto foreign;
		if (mbox_truncate(m, (off_t)in->start) < 0) {
			*err_r = xstrdup(m->broken);
			return -1;
		}
		return (off_t)in->start;
	}
	if (sink_hash_range(m->fd, from, in->disk_size, hash) < 0)
		goto read_error;
	if (strcmp(hash, in->disk_hash) == 0) {
		in->found = SINK_FOUND;
		return size;
	}
foreign:
	in->found = SINK_FOREIGN;
	in->note = xasprintf("mbox %s: the bytes at offset %llu are not the "
			     "message mailhaul wrote there; left alone",
			     m->path, from);
	return size;
read_error:
	*err_r = xasprintf("mbox %s: read: %s", m->path, strerror(errno));
	return -1;
}

/* Under the mbox's locks: each journalled message is there whole
 * (found), or was cut short by the crash (its tail is truncated away:
 * absent), or was never written (absent), or another program's bytes
 * are where it should be (foreign: nothing is touched). */
static int mbox_recover(const struct conf_account *acct, const char *path,
			struct sink_intent *in, size_t n, char **err_r)
{
	struct stat st;
	int ret = -1;

	(void)acct;
	int fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		for (size_t i = 0; i < n; i++)
			in[i].found = SINK_ABSENT;
		return 0;
	}
	if (fd < 0) {
		*err_r = xasprintf("mbox %s: open: %s", path, strerror(errno));
		return -1;
	}
	struct mbox *m = mbox_new(path, fd);
	int r = mbox_lock(m, err_r);
	if (r < 0) {
		ret = r;
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		*err_r = xasprintf("mbox %s: stat: %s", path, strerror(errno));
		goto out;
	}
	off_t size = st.st_size;
	for (size_t i = 0; i < n && size >= 0; i++)
		size = mbox_recover_one(m, size, &in[i], err_r);
	ret = size < 0 ? -1 : 0;
out:
	/* Nothing is staged: closing only unlocks and frees. */
	struct sink *s = &m->base;
	mbox_close(&s);
	return ret;
}

/* ---- reading: scan and verify ------------------------------------------- */

/* Reading inverts what the sink writes: a message starts at a line
 * beginning "From " at the file's start or after a blank line (which
 * also reads mboxes of other tools, mboxo or mboxrd), its From_ line is
 * dropped, the blank line before the next From_ line (or the file's end)
 * is the separator, and one '>' is taken off each ">From " line.  A
 * message that did not end in a newline reads back with the one the
 * sink added: verify accepts either. */

/* -DREAD_BUF=7 builds a reader that meets every buffer boundary. */
#ifndef READ_BUF
#define READ_BUF (64 * 1024)
#endif

struct mbox_reader {
	int fd;
	unsigned char *buf; /* READ_BUF bytes */
	size_t pos, len;    /* unread: buf[pos..len) */
	uint64_t next;	    /* file offset of buf[len] */
	bool eof;
	/* the parse */
	const struct sink_scan_cb *cb;
	void *ctx;
	int cb_ret;	 /* a callback's non-zero value */
	bool in_msg;	 /* inside a message's lines */
	bool prev_blank; /* the line before was empty (or none) */
	bool held_nl;	 /* a blank line held back: the separator if a
			  * From_ line follows */
	struct sink_mbox_quoter q;
};

/* Offset in the file of the next unread byte. */
static uint64_t reader_off(const struct mbox_reader *r)
{
	return r->next - (r->len - r->pos);
}

/* Makes at least N (at most READ_BUF) bytes readable unless the file
 * ends first.  Returns how many are, or -1 with errno. */
static ssize_t reader_fill(struct mbox_reader *r, size_t n)
{
	if (r->len - r->pos < n && !r->eof) {
		memmove(r->buf, r->buf + r->pos, r->len - r->pos);
		r->len -= r->pos;
		r->pos = 0;
	}
	while (r->len - r->pos < n && !r->eof) {
		ssize_t k = pread(r->fd, r->buf + r->len, READ_BUF - r->len,
				  (off_t)r->next);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -1;
		r->eof = k == 0;
		r->len += (size_t)k;
		r->next += (uint64_t)k;
	}
	return (ssize_t)(r->len - r->pos);
}

/* Output callback of the unquoter: hands the bytes to the scan's data
 * callback, keeping its value. */
static int reader_put(void *ctx, const void *buf, size_t len)
{
	struct mbox_reader *r = ctx;

	r->cb_ret = r->cb->data(r->ctx, buf, len);
	return r->cb_ret != 0 ? -1 : 0;
}

/* Passes the rest of the current line (its '\n' included) to the
 * message when EMIT, else skips it.  Returns 0, 1 when a callback
 * stopped the parse, or -1 with errno. */
static int reader_line(struct mbox_reader *r, bool emit)
{
	for (;;) {
		ssize_t avail = reader_fill(r, 1);
		if (avail <= 0)
			return (int)avail;
		unsigned char *p = r->buf + r->pos;
		unsigned char *nl = memchr(p, '\n', (size_t)avail);
		size_t k = nl != NULL ? (size_t)(nl - p) + 1 : (size_t)avail;
		r->pos += k;
		if (emit &&
		    sink_mbox_quoter_feed(&r->q, p, k, reader_put, r) < 0)
			return 1;
		if (nl != NULL)
			return 0;
	}
}

/* Ends the message being read; its held-back blank line is the
 * separator.  Returns 0, or 1 when a callback stopped the parse. */
static int reader_end_msg(struct mbox_reader *r)
{
	r->in_msg = false;
	r->held_nl = false;
	if (sink_mbox_quoter_finish(&r->q, reader_put, r) < 0)
		return 1;
	r->cb_ret = r->cb->end(r->ctx);
	return r->cb_ret != 0;
}

/* Starts the message whose From_ line is next, and skips that line.
 * Returns 0, 1 when a callback stopped the parse, or -1 with errno. */
static int reader_begin_msg(struct mbox_reader *r)
{
	char loc[32];

	if (r->in_msg && reader_end_msg(r) != 0)
		return 1;
	snprintf(loc, sizeof(loc), "mbox:%llu",
		 (unsigned long long)reader_off(r));
	r->cb_ret = r->cb->begin(r->ctx, loc);
	if (r->cb_ret != 0)
		return 1;
	r->in_msg = true;
	r->prev_blank = false;
	sink_mbox_quoter_init(&r->q, true);
	return reader_line(r, false);
}

/* Reads one line at the start of a line (there is one).  Returns 0, 1
 * when a callback stopped the parse, or -1 with errno. */
static int reader_step(struct mbox_reader *r)
{
	ssize_t avail = reader_fill(r, FROM_WORD_LEN);

	if (avail < 0)
		return -1;
	const unsigned char *p = r->buf + r->pos;
	if (r->prev_blank && avail >= FROM_WORD_LEN &&
	    memcmp(p, from_word, FROM_WORD_LEN) == 0)
		return reader_begin_msg(r);
	bool blank = *p == '\n';
	if (!r->in_msg) { /* before the first message: not mail */
		r->prev_blank = blank;
		return reader_line(r, false);
	}
	if (r->held_nl) { /* not a separator after all */
		r->held_nl = false;
		if (sink_mbox_quoter_feed(&r->q, "\n", 1, reader_put, r) < 0)
			return 1;
	}
	r->prev_blank = blank;
	if (blank) {
		r->held_nl = true;
		r->pos++;
		return 0;
	}
	return reader_line(r, true);
}

/* Reads the mbox FD (at PATH) from offset FROM, a line's start, to its
 * end, streaming each message through CB.  Returns 0, a callback's
 * value, or -1 with *err_r. */
static int mbox_read(int fd, const char *path, uint64_t from,
		     const struct sink_scan_cb *cb, void *ctx, char **err_r)
{
	struct mbox_reader r = {
	    .fd = fd, .next = from, .cb = cb, .ctx = ctx, .prev_blank = true};
	ssize_t avail;
	int ret = 0;

	r.buf = xmalloc(READ_BUF);
	while ((avail = reader_fill(&r, 1)) > 0 && (ret = reader_step(&r)) == 0)
		;
	if (avail < 0)
		ret = -1;
	if (ret == 0 && r.in_msg)
		ret = reader_end_msg(&r);
	if (ret < 0)
		*err_r = xasprintf("mbox %s: read: %s", path, strerror(errno));
	else if (ret > 0)
		ret = r.cb_ret;
	free(r.buf);
	return ret;
}

/* Opens the mbox at PATH for reading.  Returns the fd, -2 when it is
 * missing, or -1 with *err_r. */
static int mbox_open_read(const char *path, char **err_r)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 && errno == ENOENT)
		return -2;
	if (fd < 0) {
		*err_r = xasprintf("mbox %s: open: %s", path, strerror(errno));
		return -1;
	}
	return mbox_regular(fd, path, "read", err_r);
}

static int mbox_scan(const struct conf_account *acct, const char *path,
		     const struct sink_scan_cb *cb, void *ctx, char **err_r)
{
	(void)acct;
	int fd = mbox_open_read(path, err_r);

	if (fd < 0)
		return fd == -2 ? 0 : -1;
	int r = mbox_read(fd, path, 0, cb, ctx, err_r);
	close(fd);
	return r;
}

/* A message's SHA-256 as it is read, keeping its last byte apart: a
 * message the sink had to end with a newline matches without it. */
struct mbox_digest {
	EVP_MD_CTX *md;
	uint64_t n;	    /* bytes fed */
	unsigned char last; /* the last of them, not yet in MD */
	/* the message looked for */
	uint64_t size;
	const char *hash;
	char loc[32];  /* of the message being read */
	char *found;   /* where it was found (caller frees) */
	uint64_t skip; /* offset not to look at again, or UINT64_MAX */
	bool single;   /* stop after the first message */
};

static int digest_begin(void *ctx, const char *loc)
{
	struct mbox_digest *d = ctx;

	EVP_DigestInit_ex(d->md, EVP_sha256(), NULL);
	d->n = 0;
	snprintf(d->loc, sizeof(d->loc), "%s", loc);
	return 0;
}

static int digest_data(void *ctx, const void *buf, size_t len)
{
	struct mbox_digest *d = ctx;

	if (len == 0)
		return 0;
	if (d->n > 0)
		EVP_DigestUpdate(d->md, &d->last, 1);
	EVP_DigestUpdate(d->md, buf, len - 1);
	d->last = ((const unsigned char *)buf)[len - 1];
	d->n += len;
	return 0;
}

/* Is the message read the one looked for: as read, or without the final
 * newline the sink adds to a message that lacks one? */
static bool digest_matches(struct mbox_digest *d)
{
	unsigned char md[32];
	char hex[65];
	bool whole = d->n == d->size;

	if (!whole && !(d->n == d->size + 1 && d->last == '\n'))
		return false;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (c == NULL || EVP_MD_CTX_copy_ex(c, d->md) != 1)
		util_oom();
	if (whole && d->n > 0)
		EVP_DigestUpdate(c, &d->last, 1);
	EVP_DigestFinal_ex(c, md, NULL);
	EVP_MD_CTX_free(c);
	util_hex(md, sizeof(md), hex);
	return strcasecmp(hex, d->hash) == 0;
}

static int digest_end(void *ctx)
{
	struct mbox_digest *d = ctx;
	char want[32];

	if (d->single)
		return 1;
	snprintf(want, sizeof(want), "mbox:%llu", (unsigned long long)d->skip);
	if (strcmp(d->loc, want) == 0 || !digest_matches(d))
		return 0;
	d->found = xstrdup(d->loc);
	return 1;
}

static const struct sink_scan_cb digest_cb = {
    .begin = digest_begin,
    .data = digest_data,
    .end = digest_end,
};

/* Reads the message whose From_ line is at OFF of the mbox FD.  Returns
 * 0 with *why_r NULL when it is the one D looks for, or with *why_r
 * (caller frees) saying how it differs; -1 with *err_r. */
static int mbox_verify_at(int fd, const char *path, uint64_t off,
			  struct mbox_digest *d, char **why_r, char **err_r)
{
	char head[FROM_WORD_LEN];
	ssize_t r = pread(fd, head, sizeof(head), (off_t)off);

	*why_r = NULL;
	if (r < 0) {
		*err_r = xasprintf("mbox %s: read: %s", path, strerror(errno));
		return -1;
	}
	if (r < FROM_WORD_LEN || memcmp(head, from_word, FROM_WORD_LEN) != 0) {
		*why_r = xasprintf("mbox:%llu: no message there",
				   (unsigned long long)off);
		return 0;
	}
	d->single = true;
	if (mbox_read(fd, path, off, &digest_cb, d, err_r) < 0)
		return -1;
	if (digest_matches(d))
		return 0;
	uint64_t size = d->n - (d->n == d->size + 1 && d->last == '\n');
	if (size != d->size)
		*why_r =
		    xasprintf("mbox:%llu: %llu bytes, %llu recorded",
			      (unsigned long long)off, (unsigned long long)d->n,
			      (unsigned long long)d->size);
	else
		*why_r = xasprintf("mbox:%llu: content differs",
				   (unsigned long long)off);
	return 0;
}

/* Parses "mbox:OFFSET".  Returns 0, or -1 when LOCATION is no such. */
static int mbox_parse_location(const char *location, uint64_t *off_r)
{
	unsigned long long off = 0;
	int len = 0;

	if (strncmp(location, "mbox:", 5) != 0 || location[5] < '0' ||
	    location[5] > '9' ||
	    sscanf(location, "mbox:%llu%n", &off, &len) != 1 ||
	    location[len] != '\0')
		return -1;
	*off_r = off;
	return 0;
}

/* Looks for the message at OFF, then (a reader may have rewritten the
 * mbox) anywhere else.  Returns 0 or -1 as verify does. */
static int mbox_verify_fd(int fd, const char *path, uint64_t off,
			  struct mbox_digest *d, enum sink_found *found_r,
			  char **moved_to_r, char **why_r, char **err_r)
{
	char *why = NULL;

	if (mbox_verify_at(fd, path, off, d, &why, err_r) < 0)
		return -1;
	if (why == NULL) {
		*found_r = SINK_FOUND;
		return 0;
	}
	d->single = false;
	d->skip = off;
	int r = mbox_read(fd, path, 0, &digest_cb, d, err_r);
	if (r < 0) {
		free(why);
		return -1;
	}
	if (d->found != NULL) {
		*found_r = SINK_FOUND;
		*moved_to_r = d->found;
		d->found = NULL;
		free(why);
		return 0;
	}
	*why_r = xasprintf("%s; not elsewhere in the mbox", why);
	free(why);
	return 0;
}

static int mbox_verify(const struct conf_account *acct, const char *path,
		       const char *location, uint64_t size, const char *hash,
		       enum sink_found *found_r, char **moved_to_r,
		       char **why_r, char **err_r)
{
	uint64_t off;

	(void)acct;
	*found_r = SINK_ABSENT;
	*moved_to_r = NULL;
	if (mbox_parse_location(location, &off) < 0) {
		*why_r = xasprintf("%s: not an mbox location", location);
		return 0;
	}
	int fd = mbox_open_read(path, err_r);
	if (fd == -2) {
		*why_r = xstrdup("missing");
		return 0;
	}
	if (fd < 0)
		return -1;
	struct mbox_digest d = {
	    .md = EVP_MD_CTX_new(), .size = size, .hash = hash};
	if (d.md == NULL)
		util_oom();
	int r = mbox_verify_fd(fd, path, off, &d, found_r, moved_to_r, why_r,
			       err_r);
	EVP_MD_CTX_free(d.md);
	close(fd);
	return r;
}

const struct sink_ops sink_mbox_ops = {
    .name = "mbox",
    .open = mbox_open,
    .begin = mbox_begin,
    .write = mbox_write,
    .end = mbox_end,
    .abort = mbox_abort,
    .prepare = mbox_prepare,
    .commit = mbox_commit,
    .rollback = mbox_rollback,
    .close = mbox_close,
    .recover = mbox_recover,
    .verify = mbox_verify,
    .scan = mbox_scan,
};
