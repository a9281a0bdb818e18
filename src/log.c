/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* The whole line goes out in one write(2): workers polling accounts in
 * parallel share stderr, and their lines must not interleave. */
void log_msg(enum log_level level, const char *account, const char *fmt, ...)
{
	char buf[1024], *line = buf;
	va_list ap;
	int head, body;

	if (level > log_level)
		return;
	log_progress_end();
	head = snprintf(buf, sizeof(buf), "mailhaul: %s%s%s",
			account != NULL ? account : "",
			account != NULL ? ": " : "",
			level == LOG_LEVEL_WARN ? "warning: " : "");
	if (head < 0 || (size_t)head >= sizeof(buf) - 1)
		head = (int)strlen(buf);
	va_start(ap, fmt);
	body = vsnprintf(buf + head, sizeof(buf) - (size_t)head, fmt, ap);
	va_end(ap);
	if (body < 0)
		body = 0;
	if ((size_t)head + (size_t)body + 2 > sizeof(buf)) {
		line = xmalloc((size_t)head + (size_t)body + 2);
		memcpy(line, buf, (size_t)head);
		va_start(ap, fmt);
		vsnprintf(line + head, (size_t)body + 1, fmt, ap);
		va_end(ap);
	}
	line[head + body] = '\n';
	fflush(stderr);
	(void)!write(STDERR_FILENO, line, (size_t)head + (size_t)body + 1);
	if (line != buf)
		free(line);
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
