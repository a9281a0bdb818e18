/* SPDX-License-Identifier: ISC */
/* The mbox sink (mboxrd, RFC 4155), reached through sink_mbox_ops, and its
 * pure pieces, public so the unit tests can check them: the From_ line, the
 * sender taken from Return-Path, and the streaming (un)quoter. */
#ifndef MAILHAUL_SINK_MBOX_H
#define MAILHAUL_SINK_MBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "sink.h"

/* Longest sender written on a From_ line. */
#define SINK_MBOX_SENDER_MAX 256
/* Header bytes held back to find Return-Path; past this the sender is
 * MAILER-DAEMON and the message streams on. */
#define SINK_MBOX_HEADER_MAX (256 * 1024)
/* Room for any From_ line sink_mbox_from_line writes, NUL included. */
#define SINK_MBOX_FROM_LINE_MAX (SINK_MBOX_SENDER_MAX + 64)

/* Formats "From SENDER Www Mmm dd hh:mm:ss yyyy\n" (asctime's layout, in
 * UTC, the day padded with a space) into BUF.  SENDER is borrowed and used
 * as given.  Returns the length written (without the NUL), or -1 when BUF
 * is too small or T cannot be represented. */
int sink_mbox_from_line(char *buf, size_t len, const char *sender, time_t t);

/* Writes into OUT (OUT_LEN bytes, at least SINK_MBOX_SENDER_MAX + 1 to
 * never cut an address) the sender for a From_ line: the address of the
 * first Return-Path field of the header section HDR (LEN bytes, need not
 * be NUL-terminated; the section ends at the first empty line), without
 * '<' '>', spaces, control or 8-bit bytes, at most SINK_MBOX_SENDER_MAX
 * characters; "MAILER-DAEMON" when that leaves nothing. */
void sink_mbox_sender(const char *hdr, size_t len, char *out, size_t out_len);

/* A message's header section, held back until it is complete (or
 * SINK_MBOX_HEADER_MAX bytes long) so that the sender can be taken from
 * it before anything is written: the mbox From_ line, the MDA's %f.
 * Fields are read by the sinks; change them only through these calls. */
struct sink_mbox_header {
	char *buf;      /* the bytes held back (LEN of them) */
	size_t len, cap;
	bool done;      /* complete: the rest of the message streams on */
	bool bol;       /* the last byte taken ended a line */
	bool overflow;  /* cut at the limit: the sender is MAILER-DAEMON */
};

/* Starts a new message; the buffer is kept for reuse. */
void sink_mbox_header_reset(struct sink_mbox_header *h);
/* Takes bytes of P (LEN) up to the end of the header section or the
 * limit, setting h->done then.  Returns how many it took. */
size_t sink_mbox_header_take(struct sink_mbox_header *h, const void *p,
			     size_t len);
/* Writes the From_ line sender of the held header into OUT (OUT_LEN, at
 * least SINK_MBOX_SENDER_MAX + 1), as sink_mbox_sender does;
 * MAILER-DAEMON when the header overflowed. */
void sink_mbox_header_sender(const struct sink_mbox_header *h, char *out,
			     size_t out_len);
void sink_mbox_header_free(struct sink_mbox_header *h);

/* Streaming mboxrd quoter: quoting adds one '>' to every line matching
 * ^>*From ; unquoting removes one from every line matching ^>+From .  The
 * start of a line is held back (as a count, so memory stays constant)
 * until it is known whether it matches, so chunk boundaries may fall
 * anywhere.  Fields are private to sink_mbox.c. */
struct sink_mbox_quoter {
	bool unquote;
	bool mid_line; /* the current line is known not to match */
	size_t gts;    /* '>' held back at the start of the line */
	unsigned from; /* bytes of "From " held back after them */
};

/* Output callback: takes LEN bytes of BUF (borrowed); returns 0 or -1,
 * which stops the quoter and is passed back to its caller. */
typedef int sink_mbox_out_fn(void *ctx, const void *buf, size_t len);

/* Starts a message: quoting, or unquoting when UNQUOTE. */
void sink_mbox_quoter_init(struct sink_mbox_quoter *q, bool unquote);
/* Feeds LEN bytes of BUF (borrowed); the result goes to OUT(CTX, ...).
 * Returns 0, or -1 when OUT failed. */
int sink_mbox_quoter_feed(struct sink_mbox_quoter *q, const void *buf,
			  size_t len, sink_mbox_out_fn *out, void *ctx);
/* Ends the message: emits whatever is held back.  Returns 0, or -1 when
 * OUT failed.  The quoter is then ready for another message. */
int sink_mbox_quoter_finish(struct sink_mbox_quoter *q, sink_mbox_out_fn *out,
			    void *ctx);

/* Unquotes a whole message body BUF of LEN bytes.  Returns a malloc'd
 * buffer (caller frees) and its length in *len_r. */
char *sink_mbox_unquote(const void *buf, size_t len, size_t *len_r);

#endif
