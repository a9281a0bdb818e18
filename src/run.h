/* SPDX-License-Identifier: ISC */
/* Runs the configured accounts and turns their outcomes into one exit
 * status. */
#ifndef MAILHAUL_RUN_H
#define MAILHAUL_RUN_H

#include <stddef.h>

#include "conf.h"

/* Polls the accounts named in NAMES[0..N-1] (all when N is 0) once each,
 * prints a summary line per account on stdout and errors on stderr.
 * Returns the exit status: the most serious failure's sysexits code. */
int run_poll(const struct conf *conf, char *const *names, size_t n);

/* Prints one line per selected account without contacting anything.
 * Returns the exit status. */
int run_check_config(const struct conf *conf, char *const *names, size_t n);

#endif
