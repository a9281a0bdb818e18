/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lock.h"
#include "log.h"
#include "run.h"
#include "session.h"
#include "state.h"
#include "status.h"

static bool selected(const struct conf_account *a, char *const *names,
		     size_t n)
{
	if (n == 0)
		return true;
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], a->name) == 0)
			return true;
	return false;
}

static void print_summary(const struct conf_account *a,
			  const struct session_result *r)
{
	char bytes[32];

	util_human_bytes(r->new_bytes, bytes, sizeof(bytes));
	printf("%s: %" PRIu64 " new (%s) archived to %s, %" PRIu64
	       " deleted, %" PRIu64 " kept on server\n",
	       a->name, r->new_msgs, bytes, a->deliver, r->deleted,
	       r->on_server);
	if (r->skipped > 0 || r->deferred > 0)
		printf("%s: %" PRIu64 " too large to fetch (skip_larger_than), "
		       "%" PRIu64 " left for the next poll (fetch limits)\n",
		       a->name, r->skipped, r->deferred);
	if (r->rekeyed > 0)
		printf("%s: %" PRIu64 " messages were already archived and "
		       "were matched by content after a UIDVALIDITY change\n",
		       a->name, r->rekeyed);
	fflush(stdout);
}

/* Saves what the poll found for `mailhaul status`.  The mail is safe
 * whether this works or not, and the next poll overwrites it: a failure
 * is a warning. */
static void save_outcome(struct state *st, const struct conf_account *a,
			 const struct session_result *res)
{
	char *err = NULL;

	if (status_save(st, a->name, res, time(NULL), &err) < 0) {
		log_warn(a->name, "cannot save the outcome of the poll: %s",
			 err);
		free(err);
	}
}

/* Polls A under its account lock; a lock held elsewhere skips it as a
 * temporary failure. */
static enum util_fail poll_locked(const struct conf *conf,
				  const struct conf_account *a,
				  struct state *st,
				  const struct session_opts *opts,
				  struct session_result *res)
{
	struct lock *lock = NULL;
	char *err = NULL;

	switch (lock_account(conf->state_file, a->name, conf->lock_timeout,
			     &lock, &err)) {
	case LOCK_TAKEN:
		break;
	case LOCK_BUSY:
		*res = (struct session_result){.fail = UTIL_FAIL_TEMP,
					       .error = err};
		return res->fail;
	case LOCK_ERROR:
		*res = (struct session_result){.fail = UTIL_FAIL_LOCAL,
					       .error = err};
		return res->fail;
	}
	enum util_fail f = session_poll(a, st, opts, res);
	if (opts == NULL || !opts->dry_run)
		save_outcome(st, a, res);
	lock_release(&lock);
	return f;
}

int run_poll(const struct conf *conf, const struct cli *cli)
{
	char *const *names = cli->accounts;
	size_t n = cli->n_accounts;
	struct session_opts opts = {.dry_run = cli->dry_run,
				    .force = cli->force,
				    .fetch_all = cli->fetch_all};
	enum util_fail worst = UTIL_FAIL_NONE;
	struct state *st = NULL;
	char *err = NULL;

	if (state_open(conf->state_file, &st, &err) < 0) {
		log_error(NULL, "%s", err);
		free(err);
		return util_fail_exit_code(UTIL_FAIL_LOCAL);
	}
	for (size_t i = 0; i < conf->n_accounts; i++) {
		const struct conf_account *a = &conf->accounts[i];
		struct session_result res;
		if (!selected(a, names, n))
			continue;
		enum util_fail f = poll_locked(conf, a, st, &opts, &res);
		if (res.listed && !cli->dry_run)
			print_summary(a, &res);
		if (f != UTIL_FAIL_NONE)
			log_error(a->name, "%s",
				  res.error != NULL ? res.error : "failed");
		session_result_free(&res);
		worst = util_fail_worst(worst, f);
	}
	state_close(&st);
	return util_fail_exit_code(worst);
}

int run_check_config(const struct conf *conf, char *const *names, size_t n)
{
	for (size_t i = 0; i < conf->n_accounts; i++) {
		const struct conf_account *a = &conf->accounts[i];
		if (!selected(a, names, n))
			continue;
		printf("%s: %s %s:%u tls=%s deliver=%s keep=%s\n", a->name,
		       conf_protocol_name(a->protocol), a->host, a->port,
		       conf_tls_name(a->tls), a->deliver,
		       a->keep ? "yes" : "no");
	}
	return 0;
}
