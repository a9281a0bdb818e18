/* SPDX-License-Identifier: ISC */
/* Message sources: one implementation per protocol.  session.c talks to a
 * source only through these operations and never learns the protocol.
 *
 * A session goes:  open, folders, then for each folder: select, list,
 * fetch..., mark_deleted, expunge; then close.  A source without folders
 * (POP3) has exactly one, named "". */
#ifndef MAILHAUL_SOURCE_H
#define MAILHAUL_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "conf.h"
#include "util.h"

/* Longest UIDL a server may send (RFC 1939: 1-70 characters). */
#define SOURCE_UID_MAX 70

/* One message on the server, as listed. */
struct source_msg {
	uint32_t index;                 /* POP3 message number; IMAP UID */
	uint64_t size;                  /* size the server announced */
	char uid[SOURCE_UID_MAX + 1];   /* UIDL or decimal IMAP UID; "" when
					 * the server has none */
	time_t date;                    /* IMAP INTERNALDATE; 0 unknown */
	char flags[8];                  /* Maildir info letters of the
					 * server's flags, ASCII order
					 * ("FRS"); "" none or unknown */
	bool deleted;                   /* already flagged \Deleted (by
					 * another client, or by a poll of
					 * ours cut short before EXPUNGE) */
};

struct source_listing {
	struct source_msg *msgs;        /* in server order (IMAP: UID order) */
	size_t n;
	bool has_uids;                  /* the server gave unique ids */
};

/* One folder, as selected.  POP3 leaves everything 0. */
struct source_folder_info {
	uint64_t uidvalidity;           /* 0: the protocol has none */
	uint64_t uidnext;               /* 0: unknown */
	uint64_t exists;                /* messages in the folder */
};

/* A folder to poll: NAME as the server spells it (the state key, and what
 * select takes), DISPLAY decoded to UTF-8, and SEP the server's hierarchy
 * separator ('\0' none).  POP3: one folder, "" / "" / '\0'. */
struct source_folder {
	char *name;
	char *display;
	char sep;
	char *refused;  /* non-NULL: the folder cannot be polled (the server
			 * sent an invalid name); says why, naming it */
};

/* Called while a message streams in.  Chunks are the message's final
 * bytes: protocol framing removed, CRLF turned into LF.  Each callback
 * returns 0, or a failure class (enum util_fail) that stops the fetch: the
 * source then returns -1 with that class in *fail_r, and the connection is
 * no longer usable for anything but close(..., false).
 *
 * drop(ctx, i, why) is called instead of end when the source finds, after
 * the body, that message I is bad (a body shorter or longer than announced,
 * a NIL body, a reply for another message): the message must be thrown
 * away, not recorded, not deleted.  WHY is borrowed.  The fetch goes on
 * with the next message; it returns 0 unless the connection failed. */
struct source_fetch_cb {
	int (*begin)(void *ctx, size_t i);
	int (*data)(void *ctx, size_t i, const void *buf, size_t len);
	int (*end)(void *ctx, size_t i);
	int (*drop)(void *ctx, size_t i, const char *why);
};

struct source;

struct source_ops {
	const char *name;
	/* Connects, secures the connection as configured, and logs in with
	 * PASSWORD (borrowed). */
	int (*open)(const struct conf_account *acct, const char *password,
		    struct source **src_r, enum util_fail *fail_r,
		    char **err_r);
	/* Resolves the account's folders (names and patterns) into the list
	 * of folders to poll, in order, without duplicates.  The array and
	 * its strings belong to the source (valid until close). */
	int (*folders)(struct source *src, const struct source_folder **f_r,
		       size_t *n_r, enum util_fail *fail_r, char **err_r);
	/* Makes F (one of those folders returns) the current folder; read
	 * only unless WRITE (messages will be deleted).  Fills *info_r. */
	int (*select)(struct source *src, const struct source_folder *f,
		      bool write, struct source_folder_info *info_r,
		      enum util_fail *fail_r, char **err_r);
	/* Lists the current folder's messages; with FROM_UID > 0 only those
	 * with an IMAP UID >= FROM_UID (ignored where there are no UIDs).
	 * LISTING belongs to the source until the next select or close. */
	int (*list)(struct source *src, uint64_t from_uid,
		    const struct source_listing **listing_r,
		    enum util_fail *fail_r, char **err_r);
	/* Fetches the listed messages with indexes IDX[0..N-1] (positions in
	 * the listing, increasing), in that order, streaming each through
	 * CB. */
	int (*fetch)(struct source *src, const size_t *idx, size_t n,
		     const struct source_fetch_cb *cb, void *ctx,
		     enum util_fail *fail_r, char **err_r);
	/* Fetches only the header section (through the empty line that
	 * ends it, or the whole message when it has none) of the listed
	 * messages IDX[0..N-1], streamed through CB exactly as fetch does,
	 * the bytes being those fetch would give for the same part (POP3:
	 * TOP n 0; IMAP: UID FETCH BODY.PEEK[HEADER]).  Pipelined; sets no
	 * flag on the server. */
	int (*fetch_headers)(struct source *src, const size_t *idx, size_t n,
			     const struct source_fetch_cb *cb, void *ctx,
			     enum util_fail *fail_r, char **err_r);
	/* Marks the listed messages IDX[0..N-1] for deletion (IMAP: one
	 * whose .deleted is set is flagged already).  Nothing is removed
	 * before expunge (IMAP) or close(..., true) (POP3). */
	int (*mark_deleted)(struct source *src, const size_t *idx, size_t n,
			    enum util_fail *fail_r, char **err_r);
	/* Removes the messages marked in the current folder, and only those
	 * (IMAP: UID EXPUNGE, or UID MOVE to move_to), when the protocol can
	 * do it now.  Sets *done_r: true when they are gone now, false when
	 * the removal waits for close (POP3) or cannot be done (IMAP without
	 * UIDPLUS: flagged only; *note_r then says so, caller frees).
	 * *note_r is NULL otherwise. */
	int (*expunge)(struct source *src, bool *done_r, char **note_r,
		       enum util_fail *fail_r, char **err_r);
	/* Ends the session.  With COMMIT the server applies the deletions
	 * still pending (POP3 QUIT); without, they are discarded where the
	 * protocol allows.  Frees *src.  Returns -1 when the server did not
	 * confirm (then nothing pending is known deleted). */
	int (*close)(struct source **src, bool commit, char **err_r);
};

extern const struct source_ops source_pop3_ops;
extern const struct source_ops source_imap_ops;

/* Returns the ops for a configured protocol, or NULL if not built in. */
const struct source_ops *source_ops_for(enum conf_protocol protocol);

/* Gets ACCT's password, opens a session with OPS and resolves the
 * account's folders (see open and folders).  Returns 0, or -1 with
 * *fail_r (UTIL_FAIL_AUTH when the password could not be had) and
 * *err_r; *src_r may then hold a session to close. */
int source_open_account(const struct source_ops *ops,
			const struct conf_account *acct, struct source **src_r,
			const struct source_folder **f_r, size_t *n_r,
			enum util_fail *fail_r, char **err_r);

#endif
