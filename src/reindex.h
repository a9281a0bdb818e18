/* SPDX-License-Identifier: ISC */
/* mailhaul reindex -a NAME: after the state was lost (or imported from
 * another tool), matches the server's messages against what the archive
 * already holds, by their header sections, and records the matches, so
 * that the next poll fetches only what is not archived.  Reads the
 * archive and the server; writes only the state.
 *
 * The pure parts below are exposed for the unit tests. */
#ifndef MAILHAUL_REINDEX_H
#define MAILHAUL_REINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli.h"

/* Header fields another tool may have put in front of a message (mpop
 * and fetchmail a Received field, getmail Delivered-To, Return-Path and
 * Received): an archived copy matches when its header section, less up
 * to REINDEX_PREPENDED_MAX leading fields, is the server's. */
#define REINDEX_PREPENDED_MAX 5
/* Header bytes kept per message for the Message-ID and those suffixes. */
#define REINDEX_HEADER_MAX (256u << 10)

/* The command: reindexes each account named with -a. */
cli_command_fn reindex_command;

/* Writes into STARTS the offsets of the first MAX header fields of the
 * header section HDR[0..LEN) (LF line ends; a line starting with a space
 * or a tab continues a field); the empty line that ends the section is
 * no field.  Returns how many it wrote. */
size_t reindex_field_starts(const char *hdr, size_t len, size_t *starts,
			    size_t max);

/* Sets *id_r (caller frees) to the value of the first Message-ID field of
 * HDR[0..LEN) (name matched in any case), unfolded and without the
 * surrounding blanks, or NULL when there is none or it is empty. */
void reindex_message_id(const char *hdr, size_t len, char **id_r);

/* Could a server list a message of SIZE bytes (as delivered: LF line
 * ends) holding LF line ends, ENDS_NL when its last byte is one, at
 * LISTED bytes?  Servers count CRLF line ends (SIZE + LF) or the bytes as
 * stored (SIZE); a message stored without a final line end got one on
 * delivery (POP3 adds it, and so does an mbox). */
bool reindex_size_fits(uint64_t listed, uint64_t size, uint64_t lf,
		       bool ends_nl);

#endif
