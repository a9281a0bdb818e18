/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* Polls one account and reports it: the summary on stdout, a failure on
 * stderr.  ST is the caller's state connection. */
static enum util_fail poll_one(const struct conf *conf,
			       const struct conf_account *a, struct state *st,
			       const struct cli *cli)
{
	struct session_opts opts = {.dry_run = cli->dry_run,
				    .force = cli->force,
				    .fetch_all = cli->fetch_all};
	struct session_result res;

	enum util_fail f = poll_locked(conf, a, st, &opts, &res);
	if (res.listed && !cli->dry_run)
		print_summary(a, &res);
	if (f != UTIL_FAIL_NONE)
		log_error(a->name, "%s",
			  res.error != NULL ? res.error : "failed");
	session_result_free(&res);
	return f;
}

static int open_state(const struct conf *conf, struct state **st)
{
	char *err = NULL;

	if (state_open(conf->state_file, st, &err) < 0) {
		log_error(NULL, "%s", err);
		free(err);
		return -1;
	}
	return 0;
}

static enum util_fail poll_in_turn(const struct conf *conf,
				   const struct cli *cli, const size_t *idx,
				   size_t n)
{
	enum util_fail worst = UTIL_FAIL_NONE;
	struct state *st = NULL;

	if (open_state(conf, &st) < 0)
		return UTIL_FAIL_LOCAL;
	for (size_t i = 0; i < n; i++)
		worst = util_fail_worst(
		    worst, poll_one(conf, &conf->accounts[idx[i]], st, cli));
	state_close(&st);
	return worst;
}

/* The worker process for one account: a state connection of its own
 * (SQLite connections must not cross a fork), its failure class as the
 * exit status. */
static _Noreturn void worker(const struct conf *conf, const struct cli *cli,
			     const struct conf_account *a)
{
	enum util_fail f = UTIL_FAIL_LOCAL;
	struct state *st = NULL;

	if (open_state(conf, &st) == 0) {
		f = poll_one(conf, a, st, cli);
		state_close(&st);
	}
	fflush(stdout);
	fflush(stderr);
	/* _exit: the parent's atexit handlers and stdio buffers are not the
	 * worker's to run. */
	_exit((int)f);
}

/* Reads a worker's wait status back into its failure class.  A worker
 * that died by a signal left its account's mail as the invariant
 * guarantees (nothing is deleted before it is recorded), but the poll
 * did not finish: a local failure. */
static enum util_fail worker_outcome(const struct conf_account *a, int status)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) <= UTIL_FAIL_CONFIG)
		return (enum util_fail)WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		log_error(a->name, "the worker polling this account died "
				   "of signal %d (%s)",
			  WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		log_error(a->name, "the worker polling this account exited "
				   "with status %d",
			  WEXITSTATUS(status));
	return UTIL_FAIL_LOCAL;
}

struct workers {
	pid_t *pid;       /* by position in idx; 0 when not running */
	size_t running;
};

/* Waits for one worker to end; returns its failure class. */
static enum util_fail reap_one(const struct conf *conf, const size_t *idx,
			       size_t n, struct workers *w)
{
	int status;
	pid_t pid;

	do
		pid = waitpid(-1, &status, 0);
	while (pid < 0 && errno == EINTR);
	if (pid < 0) {
		/* Only a bug could get here (ECHILD with workers running). */
		log_error(NULL, "waiting for the workers: %s", strerror(errno));
		w->running = 0;
		return UTIL_FAIL_LOCAL;
	}
	for (size_t i = 0; i < n; i++) {
		if (w->pid[i] != pid)
			continue;
		w->pid[i] = 0;
		w->running--;
		return worker_outcome(&conf->accounts[idx[i]], status);
	}
	return UTIL_FAIL_NONE; /* not one of ours (an MDA is reaped by its
				* own code, in the worker) */
}

/* Polls the accounts at most conf->max_parallel at once, each in a worker
 * process.  The configuration was parsed once, before the forks. */
static enum util_fail poll_in_parallel(const struct conf *conf,
				       const struct cli *cli,
				       const size_t *idx, size_t n)
{
	struct workers w = {.pid = xcalloc(n, sizeof(pid_t))};
	enum util_fail worst = UTIL_FAIL_NONE;
	struct state *st = NULL;
	size_t next = 0;

	/* Created or upgraded once, here, rather than by racing workers. */
	if (open_state(conf, &st) < 0) {
		free(w.pid);
		return UTIL_FAIL_LOCAL;
	}
	state_close(&st);
	/* A progress line per worker would be a garble. */
	log_set_progress(false);
	while (next < n || w.running > 0) {
		if (next < n && w.running < (size_t)conf->max_parallel) {
			const struct conf_account *a = &conf->accounts[idx[next]];
			fflush(stdout);
			fflush(stderr);
			pid_t pid = fork();
			if (pid == 0)
				worker(conf, cli, a);
			if (pid > 0) {
				w.pid[next++] = pid;
				w.running++;
				continue;
			}
			if (w.running == 0) {
				log_error(a->name, "cannot start a worker: %s",
					  strerror(errno));
				worst = util_fail_worst(worst, UTIL_FAIL_TEMP);
				next++;
				continue;
			}
			/* Out of processes: wait for a worker to end. */
		}
		worst = util_fail_worst(worst, reap_one(conf, idx, n, &w));
	}
	free(w.pid);
	return worst;
}

int run_poll(const struct conf *conf, const struct cli *cli)
{
	size_t *idx = xcalloc(conf->n_accounts, sizeof(*idx));
	enum util_fail worst;
	size_t n = 0;

	for (size_t i = 0; i < conf->n_accounts; i++)
		if (selected(&conf->accounts[i], cli->accounts,
			     cli->n_accounts))
			idx[n++] = i;
	/* A dry run's listing is read in order, one account after another. */
	if (n > 1 && conf->max_parallel > 1 && !cli->dry_run)
		worst = poll_in_parallel(conf, cli, idx, n);
	else
		worst = poll_in_turn(conf, cli, idx, n);
	free(idx);
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
