/* SPDX-License-Identifier: ISC */
#include "config.h"

#include "crash.h"

#ifdef MAILHAUL_CRASH_POINTS

#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_ulong crash_passed;

void crash_point(const char *name)
{
	unsigned long n = atomic_fetch_add(&crash_passed, 1) + 1;
	const char *trace = getenv("MAILHAUL_CRASH_TRACE");
	const char *at = getenv("MAILHAUL_CRASH_AT");

	if (trace != NULL && *trace != '\0') {
		int fd = open(trace, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
			      0600);
		if (fd >= 0) {
			size_t len = strlen(name);
			if (write(fd, name, len) != (ssize_t)len ||
			    write(fd, "\n", 1) != 1)
				_exit(CRASH_EXIT + 1);
			close(fd);
		}
	}
	if (at != NULL && strtoul(at, NULL, 10) == n)
		_exit(CRASH_EXIT);
}

size_t crash_batch(size_t default_n)
{
	const char *k = getenv("MAILHAUL_BATCH_MSGS");
	unsigned long n = k != NULL ? strtoul(k, NULL, 10) : 0;

	return n > 0 && n < default_n ? (size_t)n : default_n;
}

#else
/* ISO C wants something in every translation unit. */
typedef int crash_points_disabled;
#endif
