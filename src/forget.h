/* SPDX-License-Identifier: ISC */
/* `mailhaul forget`: drops an account's seen records (or one folder's),
 * so that the next poll archives those messages again. */
#ifndef MAILHAUL_FORGET_H
#define MAILHAUL_FORGET_H

#include "cli.h"

/* `mailhaul forget -a NAME [--folder F] [--yes]`: asks first when
 * standard input is a terminal (unless --yes), then deletes the records
 * under the account's lock.  Returns the exit status: 0 (also when the
 * question was answered no), 64 for a wrong command line, 78 for an
 * unknown folder, 75 when the account is being polled or has an
 * unsettled delivery, 74 when the state or the lock cannot be used. */
cli_command_fn forget_command;

#endif
