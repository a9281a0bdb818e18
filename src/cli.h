/* SPDX-License-Identifier: ISC */
/* The command line, parsed once by main.c, and the commands besides the
 * poll that it runs. */
#ifndef MAILHAUL_CLI_H
#define MAILHAUL_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "conf.h"

struct cli {
	const char *config;     /* -c */
	char **accounts;        /* -a, repeatable */
	size_t n_accounts;
	int verbose;            /* -v count */
	bool quiet;             /* -q */
	bool check_config;      /* --check-config */
	bool dry_run;           /* --dry-run */
	bool force;             /* --force */
	bool fetch_all;         /* --fetch-all */
	bool json;              /* status --json */
	bool yes;               /* forget --yes: no question on a TTY */
	const char *folder;     /* forget and import --folder */
	const char *from;       /* import --from */
	const char *command;    /* NULL: poll */
	char **args;            /* the words after the command */
	size_t n_args;
};

/* Each command returns the exit status.  CONF is valid and every -a names
 * a configured account. */
typedef int cli_command_fn(const struct conf *conf, const struct cli *cli);

#endif
