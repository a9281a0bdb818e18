/* SPDX-License-Identifier: ISC */
/* Helpers shared by the sink unit tests: temp directories, files, and
 * delivering a message through a sink in chunks. */
#ifndef MAILHAUL_SINKTEST_H
#define MAILHAUL_SINKTEST_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

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

/* Delivers MSG with META (may be NULL) in pieces of CHUNK bytes; returns
 * the location (caller frees), or NULL after printing the error. */
static inline char *deliver_meta(struct sink *s, const struct sink_meta *meta,
				 const char *msg, size_t len, size_t chunk)
{
	char *err = NULL, *loc = NULL;

	if (s->ops->begin(s, meta, &err) < 0)
		goto fail;
	for (size_t i = 0; i < len; i += chunk) {
		size_t n = len - i < chunk ? len - i : chunk;
		if (s->ops->write(s, msg + i, n, &err) < 0)
			goto fail;
	}
	if (s->ops->end(s, &loc, &err) < 0)
		goto fail;
	return loc;
fail:
	printf("# deliver: %s\n", err);
	free(err);
	return NULL;
}

/* Delivers MSG with the default meta (now, no flags). */
static inline char *deliver(struct sink *s, const char *msg, size_t len,
			    size_t chunk)
{
	return deliver_meta(s, NULL, msg, len, chunk);
}

#endif
