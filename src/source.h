/* SPDX-License-Identifier: ISC */
/* Message sources: one implementation per protocol.  session.c talks to a
 * source only through these operations and never learns the protocol. */
#ifndef MAILHAUL_SOURCE_H
#define MAILHAUL_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "util.h"

/* Longest UIDL a server may send (RFC 1939: 1-70 characters). */
#define SOURCE_UID_MAX 70

/* One message on the server, as listed. */
struct source_msg {
	uint32_t index;                 /* POP3 message number */
	uint64_t size;                  /* size the server announced */
	char uid[SOURCE_UID_MAX + 1];   /* UIDL; "" when the server has none */
};

struct source_listing {
	struct source_msg *msgs;        /* in server order */
	size_t n;
	bool has_uids;                  /* the server gave unique ids */
};

/* Called while a message streams in.  Chunks are the message's final
 * bytes: protocol framing removed, CRLF turned into LF.  Each callback
 * returns 0, or a failure class (enum util_fail) that stops the fetch: the
 * source then returns -1 with that class in *fail_r, and the connection is
 * no longer usable for anything but close(..., false). */
struct source_fetch_cb {
	int (*begin)(void *ctx, size_t i);
	int (*data)(void *ctx, size_t i, const void *buf, size_t len);
	int (*end)(void *ctx, size_t i);
};

struct source;

struct source_ops {
	const char *name;
	/* Connects, secures the connection as configured, and logs in with
	 * PASSWORD (borrowed). */
	int (*open)(const struct conf_account *acct, const char *password,
		    struct source **src_r, enum util_fail *fail_r,
		    char **err_r);
	/* Lists every message; LISTING belongs to the source. */
	int (*list)(struct source *src, const struct source_listing **listing_r,
		    enum util_fail *fail_r, char **err_r);
	/* Fetches the listed messages with indexes IDX[0..N-1] (positions in
	 * the listing), in that order, streaming each through CB. */
	int (*fetch)(struct source *src, const size_t *idx, size_t n,
		     const struct source_fetch_cb *cb, void *ctx,
		     enum util_fail *fail_r, char **err_r);
	/* Marks the listed messages IDX[0..N-1] for deletion.  Nothing is
	 * removed until close(..., true). */
	int (*mark_deleted)(struct source *src, const size_t *idx, size_t n,
			    enum util_fail *fail_r, char **err_r);
	/* Ends the session.  With COMMIT the server applies the deletions
	 * (POP3 QUIT); without, they are discarded.  Frees *src.  Returns -1
	 * when the server did not confirm (then nothing is known deleted). */
	int (*close)(struct source **src, bool commit, char **err_r);
};

extern const struct source_ops source_pop3_ops;

/* Returns the ops for a configured protocol, or NULL if not built in. */
const struct source_ops *source_ops_for(enum conf_protocol protocol);

#endif
