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
 * target's lock: a temporary condition, the mail stays on the server. */
#ifndef MAILHAUL_SINK_H
#define MAILHAUL_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"

#define SINK_LOCKED (-2)

struct sink_ops;

/* Every sink implementation starts its own struct with this one. */
struct sink {
	const struct sink_ops *ops;
};

struct sink_ops {
	const char *name; /* "maildir", "mbox" */
	/* Opens (creating it if missing) the target at PATH. */
	int (*open)(const char *path, struct sink **sink_r, char **err_r);
	int (*begin)(struct sink *sink, char **err_r);
	int (*write)(struct sink *sink, const void *buf, size_t len,
		     char **err_r);
	/* Completes the message.  *location_r (caller frees) says where it
	 * went: the Maildir file name under new/, or "mbox:OFFSET". */
	int (*end)(struct sink *sink, char **location_r, char **err_r);
	void (*abort)(struct sink *sink);
	int (*commit)(struct sink *sink, char **err_r);
	void (*rollback)(struct sink *sink);
	/* Rolls back anything uncommitted, releases locks, frees. */
	void (*close)(struct sink **sink);
};

extern const struct sink_ops sink_maildir_ops;
extern const struct sink_ops sink_mbox_ops;

/* Returns the ops for a configured target kind. */
const struct sink_ops *sink_ops_for(enum conf_target target);

#endif
