/* SPDX-License-Identifier: ISC */
/* Memory helpers that die on exhaustion, string and path helpers, and the
 * failure classes every module reports in. */
#ifndef MAILHAUL_UTIL_H
#define MAILHAUL_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Failure classes, ordered from least to most serious.  Each maps to one
 * sysexits code (util_fail_exit_code); with several accounts the most
 * serious one decides the exit status. */
enum util_fail {
	UTIL_FAIL_NONE = 0,   /* exit 0 */
	UTIL_FAIL_TEMP,       /* 75 EX_TEMPFAIL: network, timeout, lock held */
	UTIL_FAIL_LOCAL,      /* 74 EX_IOERR: the archive cannot be written */
	UTIL_FAIL_AUTH,       /* 77 EX_NOPERM: login or certificate refused */
	UTIL_FAIL_CONFIG,     /* 78 EX_CONFIG: the configuration is wrong */
};

int util_fail_exit_code(enum util_fail f);
/* Returns the more serious of two failure classes. */
enum util_fail util_fail_worst(enum util_fail a, enum util_fail b);

/* Says "out of memory" and aborts. */
_Noreturn void util_oom(void);
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Returns a malloc'd formatted string; dies on exhaustion. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Zeroes and frees a secret string; sets *p to NULL. */
void util_free_secret(char **p);

/* Returns a malloc'd copy of PATH with a leading "~" or "~/" replaced by
 * $HOME (or the passwd entry's home). */
char *util_expand_tilde(const char *path);

/* Splits a command line into a NULL-terminated argv, honouring single and
 * double quotes and backslash escapes, without any expansion and without a
 * shell.  Caller frees with util_argv_free.  Returns 0, or -1 with *err_r. */
int util_argv_split(const char *cmd, char ***argv_r, char **err_r);
void util_argv_free(char ***argv);

/* Writes all of BUF, retrying on EINTR and short writes.  0 or -1 (errno). */
int util_write_all(int fd, const void *buf, size_t len);

/* A write buffer in front of a file descriptor.  After a failed write it
 * keeps the errno in werrno and refuses more until reset. */
#define UTIL_WBUF_SIZE (64 * 1024)
/* A growing string, always NUL-terminated once something (even "") was
 * added.  Start from {0}; the caller frees P. */
struct util_str {
	char *p;
	size_t len, cap;
};

/* Appends N bytes of DATA (borrowed). */
void util_str_add(struct util_str *s, const char *data, size_t n);

struct util_wbuf {
	int fd;
	int werrno;     /* errno of a failed write, 0 if none */
	size_t len;
	unsigned char buf[UTIL_WBUF_SIZE];
};

/* Empties the buffer, clears its error and points it at FD. */
void util_wbuf_reset(struct util_wbuf *b, int fd);
/* Buffers LEN bytes of DATA, writing out full buffers.  0, or -1 with
 * b->werrno set. */
int util_wbuf_put(struct util_wbuf *b, const void *data, size_t len);
/* Writes out what is buffered.  0, or -1 with b->werrno set. */
int util_wbuf_flush(struct util_wbuf *b);

/* Creates PATH and missing parents with MODE.  0 or -1 (errno). */
int util_mkdir_p(const char *path, mode_t mode);

/* Like util_mkdir_p(DIR, 0700), and makes every new name durable: the
 * parent of each directory created is fsync'd, or a crash could take a
 * file away together with its directory.  Returns 0, or -1 with errno and
 * *failed_r (caller frees) the path that failed. */
int util_mkdir_p_durable(const char *dir, char **failed_r);

/* Returns a malloc'd copy of the directory part of PATH ("/" for a file
 * at the root, "." for a bare name). */
char *util_parent_dir(const char *path);

/* fsyncs the directory PATH.  0 or -1 (errno). */
int util_fsync_dir(const char *path);

/* Formats a byte count for people: "812 B", "3.4 KB", "12.0 MB". */
void util_human_bytes(uint64_t n, char *buf, size_t len);

/* Monotonic milliseconds, for deadlines. */
int64_t util_now_ms(void);

/* Lowercase hex of LEN bytes into OUT (2*LEN+1 bytes). */
void util_hex(const unsigned char *in, size_t len, char *out);

/* Option values (the retention rules of the configuration).
 *
 * A duration: one or more NUMBER UNIT groups, the units s, m, h, d, w
 * (seconds, minutes, hours, days, weeks): "30d", "1w3d", "90m"; "0" is
 * zero.  A size: a number of bytes, or a number with K, M, G or T
 * (1024-based, either case, an optional "B" after): "500M", "25MB",
 * "4096".  Both: no blanks, no signs, no fractions, nothing after.
 * Return 0 with *r set, or -1 with *why_r (static text) saying what is
 * wrong. */
int util_parse_duration(const char *s, uint64_t *secs_r, const char **why_r);
int util_parse_size(const char *s, uint64_t *bytes_r, const char **why_r);

#endif
