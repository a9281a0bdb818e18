/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

static enum log_level log_level = LOG_LEVEL_INFO;
static bool log_progress_on;
static bool log_progress_shown;

void log_set_level(enum log_level level)
{
	log_level = level;
}

enum log_level log_get_level(void)
{
	return log_level;
}

void log_set_progress(bool on)
{
	log_progress_on = on && isatty(STDERR_FILENO);
}

void log_progress_end(void)
{
	if (log_progress_shown)
		fputs("\r\033[K", stderr);
	log_progress_shown = false;
}

void log_msg(enum log_level level, const char *account, const char *fmt, ...)
{
	va_list ap;

	if (level > log_level)
		return;
	log_progress_end();
	fputs("mailhaul: ", stderr);
	if (account != NULL)
		fprintf(stderr, "%s: ", account);
	if (level == LOG_LEVEL_WARN)
		fputs("warning: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

void log_progress(const char *account, uint64_t done_msgs, uint64_t total_msgs,
		  uint64_t done_bytes, uint64_t total_bytes)
{
	char done[32], total[32];

	if (!log_progress_on)
		return;
	util_human_bytes(done_bytes, done, sizeof(done));
	util_human_bytes(total_bytes, total, sizeof(total));
	fprintf(stderr, "\r\033[K%s: %llu/%llu messages, %s of %s", account,
		(unsigned long long)done_msgs, (unsigned long long)total_msgs,
		done, total);
	fflush(stderr);
	log_progress_shown = true;
}

void log_trace_wire(const char *account, char dir, bool masked,
		    const char *str, size_t size)
{
	char buf[201];
	size_t n = 0;

	if (masked) {
		log_trace(account, "%c ****", dir);
		return;
	}
	for (size_t i = 0; i < size && n < sizeof(buf) - 1; i++) {
		unsigned char c = (unsigned char)str[i];
		if (c == '\r' || (c == '\n' && i + 1 == size))
			continue;
		buf[n++] = c >= 0x20 && c < 0x7f ? (char)c : '.';
	}
	buf[n] = '\0';
	log_trace(account, "%c %s%s", dir, buf,
		  size > sizeof(buf) - 1 ? " ..." : "");
}
