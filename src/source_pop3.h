/* SPDX-License-Identifier: ISC */
/* POP3 source internals exposed for unit tests: the UIDL/LIST parser and
 * the streaming RETR decoder.  Everything here is pure. */
#ifndef MAILHAUL_SOURCE_POP3_H
#define MAILHAUL_SOURCE_POP3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "source.h"

/* Most messages a listing may hold: more is refused as hostile. */
#define SOURCE_POP3_MAX_MSGS 1000000u

/* Parses one UIDL listing line (without CRLF): "N UID".  Returns 0, or -1
 * with *err_r. */
int source_pop3_parse_uidl(const char *line, size_t len, uint32_t *idx_r,
			   char uid_r[SOURCE_UID_MAX + 1], char **err_r);

/* Parses one LIST listing line (without CRLF): "N SIZE". */
int source_pop3_parse_list(const char *line, size_t len, uint32_t *idx_r,
			   uint64_t *size_r, char **err_r);

/* Builds a listing from parsed LIST and UIDL lines.  LIST entries must
 * have strictly increasing indexes; with UIDs (N_UIDL > 0 or HAS_UIDL) every
 * LIST entry needs exactly one UIDL entry, and UIDs must be unique.
 * Caller frees listing->msgs.  Returns 0, or -1 with *err_r. */
int source_pop3_merge(const uint32_t *list_idx, const uint64_t *list_size,
		      size_t n_list, const uint32_t *uidl_idx,
		      char (*uidl_uid)[SOURCE_UID_MAX + 1], size_t n_uidl,
		      bool has_uidl, struct source_listing *listing,
		      char **err_r);

/* Decoder for a RETR body: removes dot-stuffing, turns CRLF into LF, and
 * finds the terminating ".CRLF" line. */
struct source_pop3_dec {
	int state;
	uint64_t wire_bytes;
};

void source_pop3_dec_init(struct source_pop3_dec *d);
/* Decodes IN[0..*in_len) into OUT (at least *in_len + 1 bytes).  Stops after
 * the terminator: *in_len is set to the bytes consumed and *out_len to the
 * bytes produced.  Returns true when the terminator has been seen. */
bool source_pop3_dec_run(struct source_pop3_dec *d, const char *in,
			 size_t *in_len, char *out, size_t *out_len);

#endif
