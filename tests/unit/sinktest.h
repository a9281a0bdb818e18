/* SPDX-License-Identifier: ISC */
/* Helpers shared by the sink unit tests: temp directories, files, and
 * delivering a message through a sink in chunks. */
#ifndef MAILHAUL_SINKTEST_H
#define MAILHAUL_SINKTEST_H

#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

#endif
