/* SPDX-License-Identifier: ISC */
/* What the polls found, kept in the state: saved after each poll, shown
 * by `mailhaul status` (a table per account, or JSON for scripts). */
#ifndef MAILHAUL_STATUS_H
#define MAILHAUL_STATUS_H

#include <time.h>

#include "cli.h"
#include "conf.h"
#include "session.h"
#include "state.h"
#include "util.h"

/* The word a poll's failure class is saved and shown as: "ok",
 * "temporary failure", "login refused", "configuration error", "archive
 * error".  Static text. */
const char *status_result_name(enum util_fail f);

/* Saves the outcome RES of a poll of ACCOUNT that finished at FINISHED:
 * the account row, and a row per folder RES lists.  0, or -1 with
 * *err_r. */
int status_save(struct state *st, const char *account,
		const struct session_result *res, time_t finished,
		char **err_r);

/* Returns the name folder F of account A is shown as (caller frees):
 * the UTF-8 name its last poll saw, else its stored name decoded from
 * modified UTF-7 (as stored when that fails); a POP3 mailbox ("") is
 * "INBOX". */
char *status_folder_display(const struct conf_account *a,
			    const struct state_folder_status *f);

/* Appends S to OUT as a JSON string, quotes included: '"', '\' and
 * control characters escaped, valid UTF-8 passed through, each byte of
 * an invalid sequence as U+FFFD. */
void status_json_string(struct util_str *out, const char *s);

/* `mailhaul status [-a NAME]... [--json]`: prints what the state knows of
 * each selected account, without contacting any server.  Returns 0, 64
 * for a wrong command line, 74 when the state cannot be read. */
cli_command_fn status_command;

#endif
