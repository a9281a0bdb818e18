/* SPDX-License-Identifier: ISC */
/* Runs the configured accounts and turns their outcomes into one exit
 * status. */
#ifndef MAILHAUL_RUN_H
#define MAILHAUL_RUN_H

#include <stddef.h>

#include "cli.h"
#include "conf.h"

/* Polls the accounts named by CLI's -a options (all when none) once each,
 * as its --dry-run, --force and --fetch-all say; prints a summary line
 * per account on stdout and errors on stderr.  Returns the exit status:
 * the most serious failure's sysexits code. */
int run_poll(const struct conf *conf, const struct cli *cli);

/* Prints one line per selected account without contacting anything.
 * Returns the exit status. */
int run_check_config(const struct conf *conf, char *const *names, size_t n);

#endif
