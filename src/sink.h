/* SPDX-License-Identifier: ISC */
/* Delivery sinks: where archived messages are written.  A sink receives a
 * message as a stream of chunks of its final bytes (LF line ends, no
 * protocol framing), and makes a batch of messages durable at once:
 *
 *   begin, write..., end      one message (end: complete, not yet durable)
 *   ... more messages ...
 *   commit                    every ended message is durable on disk
 *
 * abort drops the message in progress (between begin and end) and leaves
 * the target as it was before begin.  rollback drops every message ended
 * since the last commit (mbox: truncates back to the length measured under
 * the lock).  No message may be recorded as seen before commit returns 0.
 *
 * begin returns SINK_LOCKED instead of -1 when another program holds the
 * target's lock: a temporary condition, the mail stays on the server.
 * end returns SINK_LOCKED instead of -1 for a temporary failure to
 * deliver (an MDA that exited 75, was killed, or timed out): the message
 * was not delivered and stays on the server for the next poll. */
#ifndef MAILHAUL_SINK_H
#define MAILHAUL_SINK_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "conf.h"

#define SINK_LOCKED (-2)

struct sink_ops;

/* What the source knows about a message before its bytes arrive. */
struct sink_meta {
	time_t date;        /* arrival time (IMAP INTERNALDATE): Maildir
			     * mtime, mbox From_ date; 0 = now */
	const char *flags;  /* Maildir info letters in ASCII order ("FRS"):
			     * NULL or "" = an unseen message in new/;
			     * otherwise cur/NAME:2,FLAGS.  mbox ignores it */
};

/* open flags */
#define SINK_OPEN_MAILDIRFOLDER 1u /* Maildir++ subfolder: create the
				    * empty "maildirfolder" marker file */

/* Every sink implementation starts its own struct with this one. */
struct sink {
	const struct sink_ops *ops;
};

struct sink_ops {
	const char *name; /* "maildir", "mbox", "mda" */
	/* Opens (creating it and its parent directories, 0700, if missing)
	 * the target at PATH for the account ACCT (borrowed; the MDA sink
	 * reads its mda_* options, name and user; the others accept NULL).
	 * FLAGS: SINK_OPEN_*. */
	int (*open)(const struct conf_account *acct, const char *path,
		    unsigned flags, struct sink **sink_r, char **err_r);
	/* Starts a message; META (borrowed, may be NULL = all defaults). */
	int (*begin)(struct sink *sink, const struct sink_meta *meta,
		     char **err_r);
	int (*write)(struct sink *sink, const void *buf, size_t len,
		     char **err_r);
	/* Completes the message.  *location_r (caller frees) says where it
	 * went: the Maildir path relative to the Maildir ("new/NAME" or
	 * "cur/NAME:2,FLAGS"), "mbox:OFFSET", or "mda".  Returns 0,
	 * SINK_LOCKED (temporary: try again later) or -1. */
	int (*end)(struct sink *sink, char **location_r, char **err_r);
	void (*abort)(struct sink *sink);
	int (*commit)(struct sink *sink, char **err_r);
	void (*rollback)(struct sink *sink);
	/* Rolls back anything uncommitted, releases locks, frees. */
	void (*close)(struct sink **sink);
};

extern const struct sink_ops sink_maildir_ops;
extern const struct sink_ops sink_mbox_ops;
extern const struct sink_ops sink_mda_ops;

/* Returns the ops for a configured target kind. */
const struct sink_ops *sink_ops_for(enum conf_target target);

#endif
