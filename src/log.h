/* SPDX-License-Identifier: ISC */
/* Logging: one line per event on stderr, "mailhaul: ACCOUNT: text", and
 * the progress line shown on a terminal. */
#ifndef MAILHAUL_LOG_H
#define MAILHAUL_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_TRACE,
};

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Enables the progress line (only takes effect when stderr is a TTY). */
void log_set_progress(bool on);

/* ACCOUNT may be NULL for messages about the program as a whole. */
void log_msg(enum log_level level, const char *account, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define log_error(acct, ...) log_msg(LOG_LEVEL_ERROR, (acct), __VA_ARGS__)
#define log_warn(acct, ...) log_msg(LOG_LEVEL_WARN, (acct), __VA_ARGS__)
#define log_info(acct, ...) log_msg(LOG_LEVEL_INFO, (acct), __VA_ARGS__)
#define log_debug(acct, ...) log_msg(LOG_LEVEL_DEBUG, (acct), __VA_ARGS__)
#define log_trace(acct, ...) log_msg(LOG_LEVEL_TRACE, (acct), __VA_ARGS__)

/* The -vv protocol trace: logs one chunk of SIZE bytes of STR that went
 * out (DIR '>') or came in ('<') as one line, CR and a final LF dropped,
 * other control and 8-bit bytes as '.', cut after 200 bytes; a MASKED
 * chunk (a credential) is logged as "****". */
void log_trace_wire(const char *account, char dir, bool masked,
		    const char *str, size_t size);

/* Rewrites the progress line: "ACCOUNT: 12/40 messages, 3.1/9.8 MB". */
void log_progress(const char *account, uint64_t done_msgs, uint64_t total_msgs,
		  uint64_t done_bytes, uint64_t total_bytes);
/* Erases the progress line, if one is shown. */
void log_progress_end(void);

#endif
