/* SPDX-License-Identifier: ISC */
/* A minimal TAP producer for mailhaul's unit tests: each check prints one
 * "ok N - what" or "not ok N - what" line; tap_done() prints the plan and
 * returns the exit status. */
#ifndef MAILHAUL_TAP_H
#define MAILHAUL_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

static inline int tap_ok(int cond, const char *what)
{
	tap_n++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", tap_n, what);
	fflush(stdout);
	return cond;
}

/* Compares two byte strings; on mismatch prints both as a TAP comment. */
static inline int tap_mem(const void *got, size_t got_len, const void *want,
			  size_t want_len, const char *what)
{
	int same = got_len == want_len && memcmp(got, want, got_len) == 0;
	if (!same)
		printf("# got  (%zu): %.*s\n# want (%zu): %.*s\n", got_len,
		       (int)got_len, (const char *)got, want_len,
		       (int)want_len, (const char *)want);
	return tap_ok(same, what);
}

static inline int tap_str(const char *got, const char *want, const char *what)
{
	if (got == NULL || want == NULL)
		return tap_ok(got == want, what);
	return tap_mem(got, strlen(got), want, strlen(want), what);
}

static inline int tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif
