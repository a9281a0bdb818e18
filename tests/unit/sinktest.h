/* SPDX-License-Identifier: ISC */
/* Helpers shared by the sink unit tests: temp directories, files, and
 * delivering a message through a sink in chunks. */
#ifndef MAILHAUL_SINKTEST_H
#define MAILHAUL_SINKTEST_H

#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "sink.h"
#include "util.h"

static inline void write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		exit(99);
	}
}

/* Returns the bytes of PATH, NUL-terminated (caller frees), and their
 * number in *LEN_R; NULL (*LEN_R 0) when it cannot be read. */
static inline char *read_all(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	char *p = NULL;
	size_t len = 0, cap = 0, n;

	*len_r = 0;
	if (f == NULL)
		return NULL;
	do {
		if (len == cap)
			p = xrealloc(p, (cap = cap * 2 + 8192) + 1);
		n = fread(p + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	fclose(f);
	p[len] = '\0';
	*len_r = len;
	return p;
}

/* Returns the size of PATH, or -1. */
static inline off_t file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? st.st_size : -1;
}

/* Writes into OUT the SHA-256 (hex) of LEN bytes of PATH at OFF (LEN -1:
 * to the end).  Returns 0, or -1 (OUT "") when they cannot be read. */
static inline int file_hash(const char *path, uint64_t off, int64_t len,
			    char out[65])
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	int r = -1;

	out[0] = '\0';
	if (fd >= 0 && (len >= 0 || fstat(fd, &st) == 0))
		r = sink_hash_range(
		    fd, off,
		    len >= 0 ? (uint64_t)len : (uint64_t)st.st_size - off, out);
	if (fd >= 0)
		close(fd);
	if (r < 0)
		out[0] = '\0';
	return r;
}

static inline int rm_one(const char *path, const struct stat *st, int flag,
			 struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static inline char *make_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *dir = xasprintf("%s/mailhaul-test-XXXXXX",
			      base != NULL && *base != '\0' ? base : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(99);
	}
	return dir;
}

/* Streams MSG with META (may be NULL) through begin, write (in pieces of
 * CHUNK bytes) and end: the message is staged, not yet placed.  Returns
 * the first failing call's result (-1 or SINK_LOCKED) after printing its
 * error, or 0. */
static inline int stage_meta(struct sink *s, const struct sink_meta *meta,
			     const char *msg, size_t len, size_t chunk)
{
	char *err = NULL;
	int r = s->ops->begin(s, meta, &err);

	for (size_t i = 0; r == 0 && i < len; i += chunk) {
		size_t n = len - i < chunk ? len - i : chunk;
		r = s->ops->write(s, msg + i, n, &err);
	}
	if (r == 0)
		r = s->ops->end(s, &err);
	if (r != 0) {
		printf("# stage: %s\n", err);
		free(err);
	}
	return r;
}

/* Prepares the batch; returns the place of its last message (caller
 * frees), or NULL after printing the error. */
static inline char *prepare_last(struct sink *s)
{
	const struct sink_placed *placed = NULL;
	size_t n = 0;
	char *err = NULL;

	if (s->ops->prepare(s, &placed, &n, &err) != 0) {
		printf("# prepare: %s\n", err);
		free(err);
		return NULL;
	}
	if (n == 0) {
		printf("# prepare: nothing placed\n");
		return NULL;
	}
	return xstrdup(placed[n - 1].location);
}

/* Stages MSG with META (may be NULL) in pieces of CHUNK bytes, then
 * prepares the batch; returns the message's location (caller frees), or
 * NULL after printing the error.  Nothing is published before commit. */
static inline char *deliver_meta(struct sink *s, const struct sink_meta *meta,
				 const char *msg, size_t len, size_t chunk)
{
	if (stage_meta(s, meta, msg, len, chunk) != 0)
		return NULL;
	return prepare_last(s);
}

/* Delivers MSG with the default meta (now, no flags). */
static inline char *deliver(struct sink *s, const char *msg, size_t len,
			    size_t chunk)
{
	return deliver_meta(s, NULL, msg, len, chunk);
}

/* A found value recover never sets: it did not look. */
#define SINKTEST_UNSET ((enum sink_found)9)

/* Copies the N places of the prepared batch into IN (which has room for
 * them) as journalled messages, owning their locations and hashes:
 * free them with intents_clear.  Returns the number copied. */
static inline size_t intents_from_placed(struct sink *s, struct sink_intent *in,
					 size_t room)
{
	const struct sink_placed *placed = NULL;
	size_t n = 0;
	char *err = NULL;

	if (s->ops->prepare(s, &placed, &n, &err) != 0) {
		printf("# prepare: %s\n", err);
		free(err);
		return 0;
	}
	for (size_t i = 0; i < n && i < room; i++)
		in[i] = (struct sink_intent){
		    .location = xstrdup(placed[i].location),
		    .start = placed[i].start,
		    .disk_size = placed[i].disk_size,
		    .disk_hash = xstrdup(placed[i].disk_hash),
		    .prefix = placed[i].prefix_len > 0
				  ? memcpy(xmalloc(placed[i].prefix_len),
					   placed[i].prefix,
					   placed[i].prefix_len)
				  : NULL,
		    .prefix_len = placed[i].prefix_len,
		    .found = SINKTEST_UNSET,
		};
	return n < room ? n : room;
}

static inline void intents_clear(struct sink_intent *in, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free((char *)in[i].location);
		free((char *)in[i].disk_hash);
		free((void *)in[i].prefix);
		free(in[i].moved_to);
		free(in[i].note);
		in[i] = (struct sink_intent){0};
	}
}

/* ---- scan and verify -------------------------------------------------- */

/* Writes into OUT the SHA-256 (hex) of LEN bytes of P. */
static inline void mem_hash(const void *p, size_t len, char out[65])
{
	unsigned char md[32];

	if (EVP_Digest(p, len, md, NULL, EVP_sha256(), NULL) != 1) {
		fprintf(stderr, "EVP_Digest failed\n");
		exit(99);
	}
	util_hex(md, sizeof(md), out);
}

/* One message a scan gave: its location and bytes. */
struct scanned {
	char *loc;
	char *p;
	size_t len, cap;
};

/* What a scan gave, in order.  STOP_AT > 0: the begin of message number
 * STOP_AT (from 1) returns STOP_RET instead of taking it. */
struct scan_log {
	struct scanned *m;
	size_t n, cap;
	size_t stop_at;
	int stop_ret;
	int bad; /* calls out of order */
	bool open;
};

static inline int scan_log_begin(void *ctx, const char *loc)
{
	struct scan_log *l = ctx;

	if (l->open)
		l->bad++;
	if (l->stop_at > 0 && l->n + 1 == l->stop_at)
		return l->stop_ret;
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 16;
		l->m = xrealloc(l->m, l->cap * sizeof(*l->m));
	}
	l->m[l->n++] =
	    (struct scanned){.loc = xstrdup(loc), .p = xmalloc(1), .cap = 1};
	l->open = true;
	return 0;
}

static inline int scan_log_data(void *ctx, const void *buf, size_t len)
{
	struct scan_log *l = ctx;
	struct scanned *m = &l->m[l->n - 1];

	if (!l->open || len == 0)
		l->bad++;
	if (m->len + len + 1 > m->cap) {
		m->cap = 2 * (m->len + len + 1);
		m->p = xrealloc(m->p, m->cap);
	}
	memcpy(m->p + m->len, buf, len);
	m->len += len;
	return 0;
}

static inline int scan_log_end(void *ctx)
{
	struct scan_log *l = ctx;

	if (!l->open)
		l->bad++;
	l->open = false;
	return 0;
}

static const struct sink_scan_cb scan_log_cb = {
    .begin = scan_log_begin,
    .data = scan_log_data,
    .end = scan_log_end,
};

static inline void scan_log_clear(struct scan_log *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->m[i].loc);
		free(l->m[i].p);
	}
	free(l->m);
	*l = (struct scan_log){0};
}

/* Scans the target at PATH with OPS into L (cleared first).  Returns the
 * scan's value; its error, if any, goes to *ERR_R (caller frees) or is
 * printed when ERR_R is NULL. */
static inline int scan_into(const struct sink_ops *ops, const char *path,
			    struct scan_log *l, char **err_r)
{
	char *err = NULL;
	size_t stop_at = l->stop_at;
	int stop_ret = l->stop_ret;

	scan_log_clear(l);
	l->stop_at = stop_at;
	l->stop_ret = stop_ret;
	int r = ops->scan(NULL, path, &scan_log_cb, l, &err);
	if (err_r != NULL)
		*err_r = err;
	else if (err != NULL) {
		printf("# scan: %s\n", err);
		free(err);
	}
	return r;
}

/* What verify said about one message. */
struct verdict {
	int ret;
	enum sink_found found;
	char *moved_to, *why, *err;
};

/* Verifies that the message MSG (LEN bytes) is at LOC in the target at
 * PATH.  Free the result with verdict_clear. */
static inline struct verdict verify_msg(const struct sink_ops *ops,
					const char *path, const char *loc,
					const void *msg, size_t len)
{
	struct verdict v = {.found = SINKTEST_UNSET};
	char hash[65];

	mem_hash(msg, len, hash);
	v.ret = ops->verify(NULL, path, loc, len, hash, &v.found, &v.moved_to,
			    &v.why, &v.err);
	return v;
}

static inline void verdict_clear(struct verdict *v)
{
	free(v->moved_to);
	free(v->why);
	free(v->err);
	*v = (struct verdict){0};
}

/* A test message. */
struct tmsg {
	const char *what;
	char *p;
	size_t len;
	size_t chunk; /* delivered in pieces of this many bytes */
};

#define SINKTEST_BIG (5u * 1024 * 1024 + 3)

/* Fills *N_R test messages into a new array (free with tmsgs_free): From_
 * lines in bodies, quoted ">From" text, no final newline, empty, NUL and
 * CR bytes, blank lines at the end, and a 5 MB message. */
static inline struct tmsg *tmsgs_new(size_t *n_r)
{
	static const struct {
		const char *what, *p;
		size_t len, chunk;
	} small[] = {
#define TM(w, s, c) {w, s, sizeof(s) - 1, c}
	    TM("From_ lines in the body",
	       "Return-Path: <a@b.example>\nSubject: one\n\nFrom the start\n"
	       "body\n\nFrom after a blank line\nFrom x\n",
	       3),
	    TM("quoted >From text",
	       "Subject: q\n\n>From once\n>>From twice\n> From no\n>From", 2),
	    TM("no final newline", "Subject: nl\n\nlast line", 5),
	    TM("empty", "", 1),
	    TM("NUL bytes", "Subject: nul\n\na\0b\0\n\0\nFrom \0\n", 4),
	    TM("CR bytes", "Subject: cr\r\n\r\nline\r\n\r\nFrom x\r\n\r", 3),
	    TM("blank lines at the end", "Subject: b\n\nbody\n\n\n", 7),
	    TM("a From_ line as header", "From here\nSubject: f\n\n", 64),
	    TM("one newline", "\n", 1),
	    TM("header only, no newline", "Subject: h", 1),
#undef TM
	};
	size_t n = sizeof(small) / sizeof(small[0]);
	struct tmsg *t = xcalloc(n + 1, sizeof(*t));

	for (size_t i = 0; i < n; i++)
		t[i] = (struct tmsg){small[i].what,
				     memcpy(xmalloc(small[i].len + 1),
					    small[i].p, small[i].len + 1),
				     small[i].len, small[i].chunk};
	char *big = xmalloc(SINKTEST_BIG + 1);
	size_t k = (size_t)snprintf(big, SINKTEST_BIG, "Subject: big\n\n");
	for (unsigned line = 0; k < SINKTEST_BIG; line++) {
		char l[96];
		int m = snprintf(l, sizeof(l),
				 line % 50 == 0	  ? "From line %u\n"
				 : line % 50 == 1 ? ">From line %u\n"
						  : "line %u of the big one, "
						    "some text to fill it\n",
				 line);
		size_t c =
		    SINKTEST_BIG - k < (size_t)m ? SINKTEST_BIG - k : (size_t)m;
		memcpy(big + k, l, c);
		k += c;
	}
	big[k] = '\0';
	t[n] = (struct tmsg){"a 5 MB message", big, k, 65536 + 13};
	*n_r = n + 1;
	return t;
}

static inline void tmsgs_free(struct tmsg *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(t[i].p);
	free(t);
}

#endif
