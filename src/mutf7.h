/* SPDX-License-Identifier: ISC */
/* IMAP mailbox names in modified UTF-7 (RFC 3501 section 5.1.3): decoded
 * to UTF-8 for display and local names, encoded for commands.  Pure. */
#ifndef MAILHAUL_MUTF7_H
#define MAILHAUL_MUTF7_H

/* Decodes the modified UTF-7 name IN into UTF-8 in *out_r (caller frees).
 * Refuses what a server must not send: 8-bit bytes, an unterminated or
 * malformed shift, characters encoded that stand for themselves, broken
 * surrogate pairs, NUL.  Returns 0, or -1 with *err_r (caller frees). */
int mutf7_decode(const char *in, char **out_r, char **err_r);

/* Encodes the UTF-8 name IN into modified UTF-7 in *out_r (caller frees).
 * Returns 0, or -1 with *err_r for invalid UTF-8. */
int mutf7_encode(const char *in, char **out_r, char **err_r);

#endif
