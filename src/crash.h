/* SPDX-License-Identifier: ISC */
/* Crash points, for the tests only: a binary built with
 * MAILHAUL_CRASH_POINTS (tests/mailhaul-crash) stops dead at the N-th
 * point it passes when MAILHAUL_CRASH_AT=N, as if the power had gone, so
 * the tests can prove that every step of a delivery can be interrupted
 * without losing or duplicating a message.  In mailhaul itself the points
 * compile to nothing.
 *
 *   MAILHAUL_CRASH_AT=N       _exit(CRASH_EXIT) at the N-th point (1-based)
 *   MAILHAUL_CRASH_TRACE=FILE append each point's name to FILE, one a line
 *   MAILHAUL_BATCH_MSGS=K     make batches of K messages (see crash_batch) */
#ifndef MAILHAUL_CRASH_H
#define MAILHAUL_CRASH_H

#include <stddef.h>

#define CRASH_EXIT 86

#ifdef MAILHAUL_CRASH_POINTS
void crash_point(const char *name);
/* The batch size to use instead of DEFAULT_N. */
size_t crash_batch(size_t default_n);
#else
static inline void crash_point(const char *name)
{
	(void)name;
}
static inline size_t crash_batch(size_t default_n)
{
	return default_n;
}
#endif

#endif
