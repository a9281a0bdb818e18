/* SPDX-License-Identifier: ISC */
/* Delivery sinks: where archived messages are written.  A sink receives a
 * message as a stream of chunks of its final bytes (LF line ends, no
 * protocol framing), and publishes a batch of messages at once:
 *
 *   begin, write..., end      one message, staged (Maildir: tmp/, fsync'd;
 *   ... more messages ...      mbox: a spool file; MDA: delivered at end)
 *   prepare                   fixes where each staged message will be:
 *                             Maildir names, mbox offsets (under the lock)
 *   (the caller journals the places durably)
 *   commit                    every staged message is published and
 *                             durable on disk
 *
 * abort drops the message in progress (between begin and end).  rollback
 * drops every message staged since the last commit, and, after a failed
 * commit, whatever of it reached the target (mbox: truncated back to the
 * length measured under the lock).  No message may be recorded as seen
 * before commit returns 0.
 *
 * prepare returns SINK_LOCKED instead of -1 when another program holds the
 * target's lock: a temporary condition, the mail stays on the server.
 * end returns SINK_LOCKED instead of -1 for a temporary failure to
 * deliver (an MDA that exited 75, was killed, or timed out): the message
 * was not delivered and stays on the server for the next poll.
 *
 * After a crash, recover settles what the journal says was being
 * published: see struct sink_intent. */
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

/* Bytes of a message's start kept in the journal: recovery cuts an mbox
 * back only where the file's tail is the start of what mailhaul wrote. */
#define SINK_PREFIX_MAX 256

/* Where prepare put a staged message, in the order they were ended. */
struct sink_placed {
	char *location;     /* "new/NAME", "cur/NAME:2,FLAGS" (relative to
			     * the Maildir), "mbox:OFFSET" (of its From_
			     * line) or "mda" */
	uint64_t start;     /* mbox: where our bytes begin (the blank
			     * lines put before the From_ line count) */
	uint64_t disk_size; /* bytes at the location: the Maildir file, or
			     * the mbox message from its From_ line to the
			     * blank line after it */
	char disk_hash[65]; /* SHA-256 of those bytes, hex; "" when they are
			     * the message's own bytes (Maildir) */
	unsigned char prefix[SINK_PREFIX_MAX]; /* mbox: the first bytes */
	size_t prefix_len;
};

/* A journalled message as recover sees it: where prepare put it and what
 * should be there.  recover sets FOUND and, for SINK_FOUND, MOVED_TO. */
enum sink_found {
	SINK_ABSENT = 0, /* not published (or gone): forget it */
	SINK_FOUND,      /* there, complete and intact: record it */
	SINK_FOREIGN,    /* the place holds other bytes: left alone */
};

struct sink_intent {
	const char *location;
	uint64_t start, disk_size;
	const char *disk_hash;  /* the message's hash where it was "" */
	const unsigned char *prefix;
	size_t prefix_len;
	enum sink_found found;
	char *moved_to;         /* Maildir: a reader moved it here (caller
				 * frees); NULL = still at LOCATION */
	char *note;             /* why FOREIGN (caller frees) */
};

/* What scan calls for each archived message. */
struct sink_scan_cb {
	int (*begin)(void *ctx, const char *location);
	int (*data)(void *ctx, const void *buf, size_t len);
	int (*end)(void *ctx);
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
	/* Completes (stages) the message.  Returns 0, SINK_LOCKED
	 * (temporary: try again later) or -1. */
	int (*end)(struct sink *sink, char **err_r);
	void (*abort)(struct sink *sink);
	/* Places every message staged since the last commit: *placed_r
	 * (owned by the sink, valid until the next end, commit or rollback)
	 * gets *n_r entries.  May be called again after more messages ended.
	 * Returns 0, SINK_LOCKED or -1. */
	int (*prepare)(struct sink *sink, const struct sink_placed **placed_r,
		       size_t *n_r, char **err_r);
	/* Publishes the prepared messages durably (prepare is implied when
	 * it was not called).  Returns 0, SINK_LOCKED or -1; after -1 the
	 * caller rolls back. */
	int (*commit)(struct sink *sink, char **err_r);
	void (*rollback)(struct sink *sink);
	/* Rolls back anything uncommitted, releases locks, frees. */
	void (*close)(struct sink **sink);
	/* Settles the N journalled messages IN of the target at PATH after
	 * a crash, setting each one's found (and moved_to), and removes the
	 * account's staging leftovers.  NULL for a sink with no journal
	 * (MDA).  Returns 0, SINK_LOCKED (nothing settled) or -1. */
	int (*recover)(const struct conf_account *acct, const char *path,
		       struct sink_intent *in, size_t n, char **err_r);
	/* Checks, before the server copy of a recorded message is deleted,
	 * that its archived copy at LOCATION (as recorded) in the target at
	 * PATH is still there whole: its bytes as delivered (mbox: without
	 * the From_ line, mboxrd quoting undone) are SIZE bytes with SHA-256
	 * HASH (hex).  Sets *found_r to SINK_FOUND (with *moved_to_r, caller
	 * frees, when a reader renamed a Maildir file, else NULL) or
	 * SINK_ABSENT (*why_r, caller frees, says "missing" or how it
	 * differs).  Reads only, takes no lock.  NULL for a sink that cannot
	 * look (MDA).  Returns 0, or -1 with *err_r when the target cannot
	 * be read at all. */
	int (*verify)(const struct conf_account *acct, const char *path,
		      const char *location, uint64_t size, const char *hash,
		      enum sink_found *found_r, char **moved_to_r,
		      char **why_r, char **err_r);
	/* Streams every message of the target at PATH through CB, in file
	 * order (Maildir: new/ then cur/, by name), each with the location
	 * a record would hold and its bytes as delivered (as verify sees
	 * them).  A callback's non-zero return stops the scan and is
	 * returned.  Reads only.  NULL for MDA.  Returns 0, a callback's
	 * value, or -1 with *err_r; a missing target is empty. */
	int (*scan)(const struct conf_account *acct, const char *path,
		    const struct sink_scan_cb *cb, void *ctx, char **err_r);
};

extern const struct sink_ops sink_maildir_ops;
extern const struct sink_ops sink_mbox_ops;
extern const struct sink_ops sink_mda_ops;

/* Returns the ops for a configured target kind. */
const struct sink_ops *sink_ops_for(enum conf_target target);
/* Returns the ops whose name is NAME ("maildir", "mbox", "mda"), or NULL. */
const struct sink_ops *sink_ops_named(const char *name);
/* Returns the ops of a recorded TARGET ("maildir:/path"), with *path_r
 * pointing at its path in TARGET; NULL when the kind is unknown or
 * TARGET has none. */
const struct sink_ops *sink_ops_of_target(const char *target,
					  const char **path_r);

/* Writes into OUT the account's tag: 12 hex digits of SHA-256 of its name
 * (ACCT NULL: ""), which marks the staging files of the account so that
 * recovery, under the account's lock, knows them for its own. */
#define SINK_TAG_LEN 12
void sink_account_tag(const struct conf_account *acct,
		      char out[SINK_TAG_LEN + 1]);

/* Writes into OUT the SHA-256 (hex) of the LEN bytes of FD at OFF.
 * Returns 0, or -1 with errno (EIO-like, or ENODATA when the file ends
 * before OFF + LEN; LEN 0 always succeeds). */
int sink_hash_range(int fd, uint64_t off, uint64_t len, char out[65]);

#endif
