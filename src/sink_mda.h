/* SPDX-License-Identifier: ISC */
/* The MDA sink: each message is piped into an external delivery program
 * (procmail, maildrop, dovecot-lda...), reached through sink_mda_ops, and
 * its pure pieces, public so the unit tests can check them: the
 * %-expansion, the command line and the exit status mapping.  The sink's
 * open takes the command as written after "mda:" as its path, and the
 * mda_* options, the account name (%a) and user (%u) from the account. */
#ifndef MAILHAUL_SINK_MDA_H
#define MAILHAUL_SINK_MDA_H

#include <stdbool.h>

#include "sink.h"

/* Longest first line of the MDA's stderr quoted in an error message. */
#define SINK_MDA_ERRLINE_MAX 200

/* What the sink runs, copied from the account at open. */
struct sink_mda_spec {
	char *command;	/* as written after "mda:" */
	bool shell;	/* mda_shell: run through /bin/sh -c */
	bool from_line; /* mda_from_line: a From_ line first */
	int timeout;	/* mda_timeout, seconds */
	char *account;	/* %a */
	char *user;	/* %u */
};

/* Frees the fields of *SPEC and zeroes it. */
void sink_mda_spec_clear(struct sink_mda_spec *spec);

/* The values of the escapes: %u, %a, %f (all borrowed). */
struct sink_mda_vars {
	const char *user;
	const char *account;
	const char *sender;
};

/* Expands TMPL: %u, %a, %f are replaced by the values in VARS, %% by one
 * '%'.  With QUOTE (a command for /bin/sh) each value is inserted in
 * single quotes (a "'" inside as '\''), so that no value is ever read by
 * the shell as syntax.  Returns a malloc'd string in *out_r, or -1 with
 * *err_r for any other '%' sequence (a '%' at the end included). */
int sink_mda_expand(const char *tmpl, const struct sink_mda_vars *vars,
		    bool quote, char **out_r, char **err_r);

/* Builds the argv to execute for COMMAND: without SHELL, COMMAND split
 * by util_argv_split, then each word expanded; with SHELL, "/bin/sh",
 * "-c" and the expanded (quoting) COMMAND.  Caller frees with
 * util_argv_free.  Returns 0, or -1 with *err_r. */
int sink_mda_argv(const char *command, bool shell,
		  const struct sink_mda_vars *vars, char ***argv_r,
		  char **err_r);

/* Checks a command at configuration time (split, known escapes only).
 * Returns 0, or -1 with *err_r. */
int sink_mda_check(const char *command, bool shell, char **err_r);

/* What an MDA's wait status means. */
enum sink_mda_result {
	SINK_MDA_DELIVERED = 0, /* exit 0 */
	SINK_MDA_TEMP,		/* exit 75 (EX_TEMPFAIL), or a signal */
	SINK_MDA_FAILED,	/* any other exit status */
};

/* Maps a waitpid status.  *why_r (caller frees): "exited with status 1",
 * "was killed by signal 9"; NULL when delivered. */
enum sink_mda_result sink_mda_status(int wstatus, char **why_r);

#endif
