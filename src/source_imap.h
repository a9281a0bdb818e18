/* SPDX-License-Identifier: ISC */
/* IMAP source internals exposed for unit tests: UID sets, flags, dates,
 * the CRLF decoder, quoting, SASL PLAIN, the listing check, fetch batches,
 * the verdict on a fetched message, the UID peek and folder names.
 * Everything here is pure. */
#ifndef MAILHAUL_SOURCE_IMAP_H
#define MAILHAUL_SOURCE_IMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "source.h"

/* One UID FETCH asks for at most this many messages and this many bytes
 * (sizes as listed; one bigger message still goes alone).  Each command
 * costs a round trip in which the link idles, so they are large: the
 * bodies stream through, whatever a batch's size. */
#define SOURCE_IMAP_BATCH_MSGS 2048
#define SOURCE_IMAP_BATCH_BYTES ((uint64_t)256 << 20)
/* Longest UID set in one command: servers refuse long lines (dovecot
 * refused a 120 KB UID FETCH); longer sets become more commands. */
#define SOURCE_IMAP_SET_MAX 1000
/* Most folders the patterns of one account may resolve to. */
#define SOURCE_IMAP_MAX_FOLDERS 10000

/* Writes into BUF (CAP bytes with the NUL) the UID set of the increasing
 * UIDS[0..N-1] as ranges of consecutive UIDs ("1:5,7,9:12"), stopping
 * before a range that would not fit.  Returns how many UIDs it holds: N
 * when all fit, 0 when N is 0 or not even one range fits. */
size_t source_imap_uid_set(const uint32_t *uids, size_t n, char *buf,
			   size_t cap);

/* The system flags mailhaul maps to Maildir letters, as bits. */
enum source_imap_flag {
	SOURCE_IMAP_FLAG_DRAFT = 1,    /* D */
	SOURCE_IMAP_FLAG_FLAGGED = 2,  /* F */
	SOURCE_IMAP_FLAG_ANSWERED = 4, /* R */
	SOURCE_IMAP_FLAG_SEEN = 8,     /* S */
	SOURCE_IMAP_FLAG_DELETED = 16, /* no letter: source_msg.deleted */
};

/* Writes the Maildir letters of FLAGS in ASCII order ("DFRS" at most). */
void source_imap_flag_letters(unsigned flags, char out[8]);

/* Converts an INTERNALDATE (DAY 1-31, MONTH 1-12, YEAR, time, ZONE as
 * libetpan gives it: +0530 is 530, -0800 is -800) into *t_r (UTC).
 * Returns 0, or -1 for a value out of range. */
int source_imap_date(int day, int month, int year, int hour, int min, int sec,
		     int zone, time_t *t_r);

/* Streaming CRLF -> LF: a CR is held back until the next byte shows
 * whether it starts a CRLF; a bare CR stays. */
struct source_imap_crlf {
	bool cr;
};

void source_imap_crlf_init(struct source_imap_crlf *c);
/* Converts IN[0..LEN) into OUT (LEN + 1 bytes); returns the bytes
 * written. */
size_t source_imap_crlf_run(struct source_imap_crlf *c, const char *in,
			    size_t len, char *out);
/* Ends the message: writes a held-back CR into OUT; returns 0 or 1. */
size_t source_imap_crlf_finish(struct source_imap_crlf *c, char *out);

/* Sets *out_r (caller frees) to IN as an IMAP quoted string.  Refuses
 * (-1) what a quoted string cannot hold: CR, LF, 8-bit bytes. */
int source_imap_quote(const char *in, char **out_r);

/* True when the LIST pattern has a wildcard ('*' or '%'). */
bool source_imap_has_wildcards(const char *pattern);

/* Returns the base64 SASL PLAIN response for USER and PASSWORD (empty
 * authorization identity); caller frees with util_free_secret. */
char *source_imap_sasl_plain(const char *user, const char *password);

/* Sorts the listing by UID (index), drops the UIDs below FROM_UID (a
 * "n:*" request returns the last message even when its UID is below n)
 * and refuses a UID listed twice.  Returns 0, or -1 with *err_r. */
int source_imap_listing_finish(struct source_listing *l, uint64_t from_uid,
			       char **err_r);

/* Returns the end (exclusive) of the fetch batch starting at IDX[START]:
 * at most SOURCE_IMAP_BATCH_MSGS messages and SOURCE_IMAP_BATCH_BYTES
 * bytes, at least one message, and a UID set that fits SET (CAP bytes, at
 * least 24), which it fills.  MSGS is the listing. */
size_t source_imap_batch(const struct source_msg *msgs, const size_t *idx,
			 size_t n, size_t start, char *set, size_t cap);

/* What came back for one message of a UID FETCH. */
struct source_imap_reply {
	uint32_t uid;	    /* 0: the reply had no UID */
	uint64_t raw_bytes; /* literal bytes, CRLF included */
	bool nil;	    /* the body was NIL */
	bool stray;	    /* a body part we did not ask for */
};

/* Returns NULL when the reply R is message M, complete; else why it must
 * be dropped (a static string). */
const char *source_imap_verdict(const struct source_msg *m,
				const struct source_imap_reply *r);

/* The same for a reply to BODY.PEEK[HEADER]: the header section may be
 * any size up to the message's. */
const char *source_imap_header_verdict(const struct source_msg *m,
				       const struct source_imap_reply *r);

/* Returns the UID a FETCH reply announced before its body literal, from
 * libetpan's parse buffer BUF (the reply so far, ending with
 * "BODY[] {N}" or "BODY[HEADER] {N}" CRLF), or 0 when it cannot tell (UID after the body, or
 * anything else). */
uint32_t source_imap_peek_uid(const char *buf, size_t len);

/* Adds the server folder NAME (modified UTF-7) with hierarchy separator
 * SEP to *F / *N (grown with xrealloc; strings owned by the array) unless
 * it is there already (INBOX in any case is one folder).  Returns 1 when
 * added, 0 for a duplicate.  A NAME that is empty or not valid modified
 * UTF-7 is added with .refused set (the reason, naming it with control
 * characters as '?') and .display the same printable name.  ERR_R is not
 * used. */
int source_imap_folder_add(struct source_folder **f, size_t *n,
			   const char *name, char sep, char **err_r);

/* Returns the position p in IDX[FROM..END) of the message with UID, or
 * END when none. */
size_t source_imap_find_uid(const struct source_msg *msgs, const size_t *idx,
			    size_t from, size_t end, uint32_t uid);

#endif
