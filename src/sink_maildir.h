/* SPDX-License-Identifier: ISC */
/* The Maildir sink, reached through sink_maildir_ops, and its pure pieces,
 * public so the unit tests can check them: unique names and the move into
 * new/ that never replaces a file. */
#ifndef MAILHAUL_SINK_MAILDIR_H
#define MAILHAUL_SINK_MAILDIR_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "sink.h"

/* Writes into BUF the unique name "SEC.M<USEC>P<PID>Q<Q>R<RAND_HEX>.<HOST>"
 * with HOST sanitized as sink_maildir_host does.  RAND_HEX and HOST are
 * borrowed.  Returns 0, or -1 when BUF (LEN bytes) is too small. */
int sink_maildir_name(char *buf, size_t len, time_t sec, long usec, pid_t pid,
		      unsigned long q, const char *rand_hex, const char *host);

/* Writes HOST into BUF with '/' as "\057" and ':' as "\072", the two bytes
 * a Maildir name cannot hold.  Returns 0, or -1 when BUF (LEN bytes) is too
 * small. */
int sink_maildir_host(char *buf, size_t len, const char *host);

/* Moves FROM to TO (both relative to the directory DIRFD) without ever
 * replacing an existing TO: link() and unlink(), or renameat2() with
 * RENAME_NOREPLACE where the file system refuses hard links.  Returns 0,
 * or -1 with errno (EEXIST: TO exists, FROM is untouched). */
int sink_maildir_move_noreplace(int dirfd, const char *from, const char *to);

#endif
