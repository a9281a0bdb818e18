/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "forget.h"
#include "lock.h"
#include "log.h"
#include "state.h"
#include "status.h"

static const char forget_usage[] =
    "usage: mailhaul [-c FILE] forget -a NAME [--folder FOLDER] [--yes]\n";

/* Sets *folder_r (caller frees) to the stored name of the folder that
 * status shows as DISPLAY (or that is stored as DISPLAY).  0; 1 when the
 * account has no such folder, with *known_r (caller frees) listing the
 * folders it has; -1 with *err_r. */
static int forget_find_folder(struct state *st, const struct conf_account *a,
			      const char *display, char **folder_r,
			      char **known_r, char **err_r)
{
	struct state_account_status s;
	struct util_str known = {0};

	if (state_status(st, a->name, &s, err_r) < 0)
		return -1;
	*folder_r = NULL;
	util_str_add(&known, "", 0);
	for (size_t i = 0; i < s.n_folders && *folder_r == NULL; i++) {
		char *d = status_folder_display(a, &s.folders[i]);
		if (strcmp(d, display) == 0)
			*folder_r = xstrdup(s.folders[i].folder);
		if (i > 0)
			util_str_add(&known, ", ", 2);
		util_str_add(&known, d, strlen(d));
		free(d);
	}
	for (size_t i = 0; i < s.n_folders && *folder_r == NULL; i++)
		if (strcmp(s.folders[i].folder, display) == 0)
			*folder_r = xstrdup(s.folders[i].folder);
	state_status_free(&s);
	if (*folder_r != NULL) {
		free(known.p);
		return 0;
	}
	*known_r = known.p;
	return 1;
}

/* An interrupted delivery must be settled by a poll (which finishes or
 * rolls back each message) before its records may go.  0 when there is
 * none; 75 or 74 (after saying why) otherwise. */
static int forget_check_journal(struct state *st, const char *account)
{
	uint64_t n = 0;
	char *err = NULL;

	if (state_journal_count(st, account, &n, &err) < 0) {
		log_error(account, "%s", err);
		free(err);
		return util_fail_exit_code(UTIL_FAIL_LOCAL);
	}
	if (n == 0)
		return 0;
	log_error(account,
		  "the delivery journal holds %" PRIu64 " unsettled "
		  "message(s) of an interrupted poll; run a poll of this "
		  "account first (mailhaul -a %s)",
		  n, account);
	return util_fail_exit_code(UTIL_FAIL_TEMP);
}

/* Asks on the terminal; true for "y" or "yes". */
static bool forget_confirm(const char *account, const char *display, uint64_t n)
{
	char line[64];

	fprintf(stderr,
		"forget %" PRIu64 " archived-message records of account %s%s%s?"
		" The next poll archives those messages again. [y/N] ",
		n, account, display != NULL ? ", folder " : "",
		display != NULL ? display : "");
	fflush(stderr);
	if (fgets(line, sizeof(line), stdin) == NULL)
		return false;
	line[strcspn(line, " \t\r\n")] = '\0';
	return strcasecmp(line, "y") == 0 || strcasecmp(line, "yes") == 0;
}

/* Deletes under the account's lock, so that no poll runs meanwhile. */
static int forget_locked(const struct conf *conf, struct state *st,
			 const char *account, const char *folder, uint64_t *n_r)
{
	struct lock *lock = NULL;
	char *err = NULL;
	int r;

	switch (lock_account(conf->state_file, account, conf->lock_timeout,
			     &lock, &err)) {
	case LOCK_TAKEN:
		break;
	case LOCK_BUSY:
		log_error(account, "%s", err);
		free(err);
		return util_fail_exit_code(UTIL_FAIL_TEMP);
	case LOCK_ERROR:
		log_error(account, "%s", err);
		free(err);
		return util_fail_exit_code(UTIL_FAIL_LOCAL);
	}
	r = forget_check_journal(st, account);
	if (r == 0 && state_forget(st, account, folder, n_r, &err) < 0) {
		log_error(account, "%s", err);
		free(err);
		r = util_fail_exit_code(UTIL_FAIL_LOCAL);
	}
	lock_release(&lock);
	return r;
}

/* Resolves the folder, counts, asks, deletes, reports. */
static int forget_run(const struct conf *conf, const struct cli *cli,
		      const struct conf_account *a, struct state *st)
{
	char *folder = NULL, *known = NULL, *err = NULL;
	uint64_t n = 0;
	int r = 0;

	if (cli->folder != NULL) {
		r = forget_find_folder(st, a, cli->folder, &folder, &known,
				       &err);
		if (r == 1) {
			log_error(a->name,
				  "no folder \"%s\" in the state "
				  "(known: %s)",
				  cli->folder,
				  known[0] != '\0' ? known : "none");
			free(known);
			return util_fail_exit_code(UTIL_FAIL_CONFIG);
		}
	}
	if (r == 0 && state_count_folder(st, a->name, folder, &n, &err) < 0)
		r = -1;
	if (r < 0) {
		log_error(a->name, "%s", err);
		free(err);
		free(folder);
		return util_fail_exit_code(UTIL_FAIL_LOCAL);
	}
	r = forget_check_journal(st, a->name);
	if (r == 0 && n > 0 && !cli->yes && isatty(STDIN_FILENO) &&
	    !forget_confirm(a->name, cli->folder, n)) {
		printf("nothing forgotten\n");
		free(folder);
		return 0;
	}
	if (r == 0)
		r = forget_locked(conf, st, a->name, folder, &n);
	if (r == 0)
		printf("forgot %" PRIu64 " records of account %s%s%s\n", n,
		       a->name, cli->folder != NULL ? ", folder " : "",
		       cli->folder != NULL ? cli->folder : "");
	free(folder);
	return r;
}

int forget_command(const struct conf *conf, const struct cli *cli)
{
	struct state *st = NULL;
	char *err = NULL;

	if (cli->n_accounts != 1 || cli->n_args > 0 || cli->json ||
	    cli->from != NULL) {
		fputs(forget_usage, stderr);
		return 64;
	}
	const struct conf_account *a =
	    conf_find_account(conf, cli->accounts[0]);
	if (state_open(conf->state_file, &st, &err) < 0) {
		log_error(NULL, "%s", err);
		free(err);
		return util_fail_exit_code(UTIL_FAIL_LOCAL);
	}
	int r = forget_run(conf, cli, a, st);
	state_close(&st);
	return r;
}
