/* SPDX-License-Identifier: ISC */
/* `mailhaul import`: reads the state file of fetchmail (.fetchids), mpop
 * (~/.mpop_uidls/...) or getmail (oldmail-*) and seeds the seen records
 * of the matching account, so that its first poll fetches only what the
 * old tool had not. */
#ifndef MAILHAUL_IMPORT_H
#define MAILHAUL_IMPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "cli.h"
#include "conf.h"

enum import_format {
	IMPORT_FETCHMAIL = 0,
	IMPORT_MPOP,
	IMPORT_GETMAIL,
};

/* One message the old tool fetched. */
struct import_entry {
	char *uid;             /* the UIDL, or the decimal IMAP UID */
	uint64_t uidvalidity;  /* IMAP; 0 for POP3 */
	time_t when;           /* when the tool fetched it; 0: not said */
};

/* The messages of one mailbox as the file names it.  fetchmail and mpop
 * say the host and user in the file; getmail says them in the file name
 * (HOST and USER are NULL). */
struct import_group {
	enum conf_protocol protocol;
	char *host;
	char *user;
	struct import_entry *entries;
	size_t n;
};

struct import_file {
	enum import_format format;
	char *path;                 /* as given */
	const char *base;           /* its last component (points into path) */
	struct import_group *groups;
	size_t n_groups;
	uint64_t invalid;           /* identifiers skipped as invalid */
	unsigned first_invalid;     /* the line of the first of them */
};

/* Sets *f_r from "fetchmail", "mpop" or "getmail".  0, or -1. */
int import_format_parse(const char *name, enum import_format *f_r);
const char *import_format_name(enum import_format f);

/* Is S (LEN bytes) a UIDL mailhaul accepts: 1-70 characters 0x21-0x7E? */
bool import_uidl_valid(const char *s, size_t len);

/* Parses the LEN bytes of TEXT, the content of the state file PATH in
 * format F.  Invalid identifiers are skipped and counted; anything else
 * that is not the format is refused as "PATH:LINE: what".  Returns 0 and
 * *file_r (free with import_file_free), or -1 with *err_r (caller
 * frees). */
int import_parse(enum import_format f, const char *path, const char *text,
		 size_t len, struct import_file **file_r, char **err_r);
void import_file_free(struct import_file **file);

/* Does group G of FILE belong to account A (protocol, host, user and, for
 * getmail, port as the file name says)?  For a getmail IMAP file,
 * *suffix_r (may be NULL) is set to the folder part of the file name
 * (borrowed from FILE). */
bool import_group_matches(const struct import_file *file,
			  const struct import_group *g,
			  const struct conf_account *a, const char **suffix_r);

/* The IMAP folder, as the server spells it (modified UTF-7, caller
 * frees in *folder_r), of a getmail file whose name ends in SUFFIX (NULL:
 * the name does not match A) for account A; GIVEN is --folder (UTF-8) or
 * NULL.  getmail writes '.' for '/' in the name, so a SUFFIX with '.' is
 * looked up among A's configured folders.  0, or -1 with *err_r. */
int import_getmail_folder(const struct import_file *file,
			  const struct conf_account *a, const char *suffix,
			  const char *given, char **folder_r, char **err_r);

/* The `import` command. */
int import_run(const struct conf *conf, const struct cli *cli);

#endif
