/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static const int fail_exit_codes[] = {
	[UTIL_FAIL_NONE] = 0,
	[UTIL_FAIL_TEMP] = 75,
	[UTIL_FAIL_LOCAL] = 74,
	[UTIL_FAIL_AUTH] = 77,
	[UTIL_FAIL_CONFIG] = 78,
};

int util_fail_exit_code(enum util_fail f)
{
	return fail_exit_codes[f];
}

enum util_fail util_fail_worst(enum util_fail a, enum util_fail b)
{
	return a > b ? a : b;
}

_Noreturn void util_oom(void)
{
	static const char msg[] = "mailhaul: out of memory\n";
	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (p == NULL)
		util_oom();
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (p == NULL)
		util_oom();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (p == NULL)
		util_oom();
	return p;
}

char *xstrdup(const char *s)
{
	char *p = strdup(s);
	if (p == NULL)
		util_oom();
	return p;
}

char *xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);
	if (p == NULL)
		util_oom();
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	if (vasprintf(&p, fmt, ap) < 0)
		util_oom();
	va_end(ap);
	return p;
}

void util_free_secret(char **p)
{
	if (*p == NULL)
		return;
	explicit_bzero(*p, strlen(*p));
	free(*p);
	*p = NULL;
}

static const char *home_dir(void)
{
	const char *home = getenv("HOME");
	if (home != NULL && *home != '\0')
		return home;
	struct passwd *pw = getpwuid(getuid());
	return pw != NULL ? pw->pw_dir : "/";
}

char *util_expand_tilde(const char *path)
{
	if (path[0] == '~' && (path[1] == '\0' || path[1] == '/'))
		return xasprintf("%s%s", home_dir(), path + 1);
	return xstrdup(path);
}

/* Appends C to the growing word W. */
static void word_add(char **w, size_t *len, size_t *cap, char c)
{
	if (*len + 2 > *cap) {
		*cap = *cap ? *cap * 2 : 32;
		*w = xrealloc(*w, *cap);
	}
	(*w)[(*len)++] = c;
	(*w)[*len] = '\0';
}

int util_argv_split(const char *cmd, char ***argv_r, char **err_r)
{
	char **argv = xcalloc(1, sizeof(*argv));
	size_t argc = 0;
	const char *p = cmd;

	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		char *w = NULL;
		size_t len = 0, cap = 0;
		char quote = 0;
		word_add(&w, &len, &cap, 'x');
		len = 0;
		for (; *p != '\0'; p++) {
			if (quote == 0 && (*p == ' ' || *p == '\t'))
				break;
			if (quote == 0 && (*p == '\'' || *p == '"')) {
				quote = *p;
			} else if (quote != 0 && *p == quote) {
				quote = 0;
			} else if (*p == '\\' && quote != '\'' &&
				   p[1] != '\0') {
				word_add(&w, &len, &cap, *++p);
			} else {
				word_add(&w, &len, &cap, *p);
			}
		}
		w[len] = '\0';
		argv = xrealloc(argv, (argc + 2) * sizeof(*argv));
		argv[argc++] = w;
		argv[argc] = NULL;
		if (quote != 0) {
			*err_r = xasprintf("unterminated %c quote in \"%s\"",
					   quote, cmd);
			util_argv_free(&argv);
			return -1;
		}
	}
	if (argc == 0) {
		*err_r = xstrdup("empty command");
		util_argv_free(&argv);
		return -1;
	}
	*argv_r = argv;
	return 0;
}

void util_argv_free(char ***argv)
{
	if (*argv == NULL)
		return;
	for (char **a = *argv; *a != NULL; a++)
		free(*a);
	free(*argv);
	*argv = NULL;
}

int util_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void util_wbuf_reset(struct util_wbuf *b, int fd)
{
	b->fd = fd;
	b->werrno = 0;
	b->len = 0;
}

int util_wbuf_flush(struct util_wbuf *b)
{
	if (b->werrno != 0)
		return -1;
	if (b->len > 0 && util_write_all(b->fd, b->buf, b->len) < 0) {
		b->werrno = errno;
		return -1;
	}
	b->len = 0;
	return 0;
}

int util_wbuf_put(struct util_wbuf *b, const void *data, size_t len)
{
	const unsigned char *p = data;

	while (len > 0) {
		if (b->len == sizeof(b->buf) && util_wbuf_flush(b) < 0)
			return -1;
		size_t n = sizeof(b->buf) - b->len;
		if (n > len)
			n = len;
		memcpy(b->buf + b->len, p, n);
		b->len += n;
		p += n;
		len -= n;
	}
	return b->werrno != 0 ? -1 : 0;
}

int util_mkdir_p(const char *path, mode_t mode)
{
	char *copy = xstrdup(path);
	int ret = 0;

	if (*path == '\0') {
		free(copy);
		errno = ENOENT;
		return -1;
	}
	for (char *p = copy + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		if (mkdir(copy, mode) < 0 && errno != EEXIST) {
			ret = -1;
			break;
		}
		*p = saved;
		if (saved == '\0')
			break;
	}
	if (ret == 0) {
		struct stat st;
		if (stat(path, &st) < 0)
			ret = -1;
		else if (!S_ISDIR(st.st_mode)) {
			errno = ENOTDIR;
			ret = -1;
		}
	}
	int saved_errno = errno;
	free(copy);
	errno = saved_errno;
	return ret;
}

int util_fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int ret = fsync(fd);
	int saved_errno = errno;
	close(fd);
	errno = saved_errno;
	return ret;
}

void util_human_bytes(uint64_t n, char *buf, size_t len)
{
	if (n < 1000)
		snprintf(buf, len, "%u B", (unsigned)n);
	else if (n < 1000 * 1000)
		snprintf(buf, len, "%.1f KB", (double)n / 1e3);
	else if (n < (uint64_t)1000 * 1000 * 1000)
		snprintf(buf, len, "%.1f MB", (double)n / 1e6);
	else
		snprintf(buf, len, "%.1f GB", (double)n / 1e9);
}

int64_t util_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void util_hex(const unsigned char *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

char *util_parent_dir(const char *path)
{
	const char *slash = strrchr(path, '/');

	while (slash != NULL && slash > path && slash[1] == '\0')
		slash = memrchr(path, '/', (size_t)(slash - path));
	if (slash == NULL)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(slash - path));
}

int util_mkdir_p_durable(const char *dir, char **failed_r)
{
	struct stat st;
	size_t missing = 0;
	char *p = xstrdup(dir);

	while (stat(p, &st) < 0 && errno == ENOENT) {
		char *up = util_parent_dir(p);
		bool top = strcmp(up, p) == 0;
		free(p);
		p = up;
		missing++;
		if (top)
			break;
	}
	free(p);
	if (util_mkdir_p(dir, 0700) < 0) {
		int e = errno;
		*failed_r = xstrdup(dir);
		errno = e;
		return -1;
	}
	p = xstrdup(dir);
	for (size_t i = 0; i < missing; i++) {
		char *up = util_parent_dir(p);
		free(p);
		p = up;
		if (util_fsync_dir(p) < 0) {
			*failed_r = p;
			return -1;
		}
	}
	free(p);
	return 0;
}

void util_str_add(struct util_str *s, const char *data, size_t n)
{
	if (s->len + n + 1 > s->cap) {
		s->cap = (s->len + n + 1) * 2;
		s->p = xrealloc(s->p, s->cap);
	}
	memcpy(s->p + s->len, data, n);
	s->len += n;
	s->p[s->len] = '\0';
}

/* Reads the digits at *P into *N, moving *P past them.  0, or -1 with
 * *why_r: no digit, or more than UINT64_MAX. */
static int parse_digits(const char **p, uint64_t *n, const char **why_r)
{
	const char *s = *p;
	uint64_t v = 0;

	if (*s < '0' || *s > '9') {
		*why_r = "expected a number";
		return -1;
	}
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10) {
			*why_r = "number too large";
			return -1;
		}
		v = v * 10 + d;
	}
	*p = s;
	*n = v;
	return 0;
}

/* Sets *r to A * B + C, or says it is too large. */
static int mul_add(uint64_t a, uint64_t b, uint64_t c, uint64_t *r,
		   const char **why_r)
{
	if (b != 0 && a > (UINT64_MAX - c) / b) {
		*why_r = "value too large";
		return -1;
	}
	*r = a * b + c;
	return 0;
}

int util_parse_duration(const char *s, uint64_t *secs_r, const char **why_r)
{
	static const struct {
		char unit;
		uint64_t secs;
	} units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400},
		     {'w', 7 * 86400}};
	uint64_t total = 0, n = 0;
	const char *p = s;

	if (strcmp(s, "0") == 0) {
		*secs_r = 0;
		return 0;
	}
	do {
		if (parse_digits(&p, &n, why_r) < 0)
			return -1;
		size_t k = 0;
		while (k < sizeof(units) / sizeof(units[0]) &&
		       units[k].unit != *p)
			k++;
		if (k == sizeof(units) / sizeof(units[0])) {
			*why_r = *p == '\0' ? "missing unit (s, m, h, d or w)"
					    : "unknown unit (s, m, h, d or w)";
			return -1;
		}
		p++;
		if (mul_add(n, units[k].secs, total, &total, why_r) < 0)
			return -1;
	} while (*p != '\0');
	*secs_r = total;
	return 0;
}

int util_parse_size(const char *s, uint64_t *bytes_r, const char **why_r)
{
	static const char units[] = "kmgt";
	const char *p = s;
	uint64_t n = 0, mult = 1;

	if (parse_digits(&p, &n, why_r) < 0)
		return -1;
	if (*p != '\0') {
		const char *u = strchr(units, tolower((unsigned char)*p));
		if (u != NULL) {
			for (const char *q = units; q <= u; q++)
				mult *= 1024;
			p++;
		}
		if (*p == 'B' || *p == 'b')
			p++;
		if (*p != '\0') {
			*why_r = "unknown unit (K, M, G or T)";
			return -1;
		}
	}
	return mul_add(n, mult, 0, bytes_r, why_r);
}
