/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
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

/* The accounts to poll, shared by the workers (an anonymous shared
 * mapping made before the forks): each worker takes the next account
 * from NEXT, and says in its slot who polls it and how it ended. */
enum { SLOT_WAITING = 0, SLOT_POLLING, SLOT_DONE };

struct queue_slot {
	_Atomic int phase;       /* SLOT_* */
	_Atomic pid_t pid;       /* the worker polling it */
	_Atomic int fail;        /* enum util_fail, once SLOT_DONE */
};

struct queue {
	atomic_size_t next;
	size_t n;
	struct queue_slot slot[];
};

static struct queue *queue_new(size_t n)
{
	size_t len = sizeof(struct queue) + n * sizeof(struct queue_slot);
	struct queue *q = mmap(NULL, len, PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (q == MAP_FAILED)
		return NULL;
	atomic_init(&q->next, 0);
	q->n = n;
	return q; /* zero-filled: every slot SLOT_WAITING */
}

static void queue_free(struct queue *q)
{
	munmap(q, sizeof(struct queue) + q->n * sizeof(struct queue_slot));
}

/* A worker process: takes accounts from Q until none is left, each
 * polled with one state connection of its own (SQLite connections must
 * not cross a fork).  A few long-lived workers rather than one process
 * per account: forks are not free, least of all in a virtual machine. */
static _Noreturn void worker(const struct conf *conf, const struct cli *cli,
			     const size_t *idx, struct queue *q)
{
	struct state *st = NULL;
	size_t i;

	while ((i = atomic_fetch_add(&q->next, 1)) < q->n) {
		struct queue_slot *sl = &q->slot[i];
		enum util_fail f = UTIL_FAIL_LOCAL;
		atomic_store(&sl->pid, getpid());
		atomic_store(&sl->phase, SLOT_POLLING);
		if (st != NULL || open_state(conf, &st) == 0)
			f = poll_one(conf, &conf->accounts[idx[i]], st, cli);
		atomic_store(&sl->fail, (int)f);
		atomic_store(&sl->phase, SLOT_DONE);
	}
	state_close(&st);
	fflush(stdout);
	fflush(stderr);
	/* _exit: the parent's atexit handlers and stdio buffers are not the
	 * worker's to run. */
	_exit(0);
}

/* A worker ended by STATUS: a poll it had not finished is a local
 * failure of that account, named with the cause.  Its mail is as the
 * invariant leaves it: nothing is deleted before it is recorded. */
static void worker_ended(const struct conf *conf, const size_t *idx,
			 struct queue *q, pid_t pid, int status)
{
	for (size_t i = 0; i < q->n; i++) {
		struct queue_slot *sl = &q->slot[i];
		if (atomic_load(&sl->phase) != SLOT_POLLING ||
		    atomic_load(&sl->pid) != pid)
			continue;
		const char *name = conf->accounts[idx[i]].name;
		if (WIFSIGNALED(status))
			log_error(name, "the worker polling this account died "
					"of signal %d (%s)",
				  WTERMSIG(status), strsignal(WTERMSIG(status)));
		else
			log_error(name, "the worker polling this account "
					"exited with status %d",
				  WEXITSTATUS(status));
		atomic_store(&sl->fail, (int)UTIL_FAIL_LOCAL);
		atomic_store(&sl->phase, SLOT_DONE);
	}
}

/* Starts a worker; returns 0, or -1 when no process could be made. */
static int worker_start(const struct conf *conf, const struct cli *cli,
			const size_t *idx, struct queue *q)
{
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid == 0)
		worker(conf, cli, idx, q);
	return pid > 0 ? 0 : -1;
}

/* Polls the accounts at most conf->max_parallel at once, in worker
 * processes that share the queue.  The configuration was parsed once,
 * before the forks.  A worker that dies is replaced while accounts are
 * left. */
static enum util_fail poll_in_parallel(const struct conf *conf,
				       const struct cli *cli,
				       const size_t *idx, size_t n)
{
	enum util_fail worst = UTIL_FAIL_NONE;
	struct state *st = NULL;
	size_t running = 0;
	int fork_errno = 0;
	struct queue *q;

	/* Created or upgraded once, here, rather than by racing workers. */
	if (open_state(conf, &st) < 0)
		return UTIL_FAIL_LOCAL;
	state_close(&st);
	if ((q = queue_new(n)) == NULL) {
		log_error(NULL, "cannot share the accounts with workers: %s",
			  strerror(errno));
		return UTIL_FAIL_LOCAL;
	}
	/* A progress line per worker would be a garble. */
	log_set_progress(false);
	for (;;) {
		size_t want = (size_t)conf->max_parallel;
		size_t taken = atomic_load(&q->next); /* may pass N */
		size_t left = taken < n ? n - taken : 0;
		while (running < want && running < left) {
			if (worker_start(conf, cli, idx, q) < 0) {
				fork_errno = errno;
				break;
			}
			running++;
		}
		if (running == 0)
			break;
		int status;
		pid_t pid = waitpid(-1, &status, 0);
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid < 0)
			break; /* ECHILD: none left (cannot happen) */
		running--;
		worker_ended(conf, idx, q, pid, status);
	}
	for (size_t i = 0; i < n; i++) {
		struct queue_slot *sl = &q->slot[i];
		if (atomic_load(&sl->phase) == SLOT_DONE) {
			worst = util_fail_worst(
			    worst, (enum util_fail)atomic_load(&sl->fail));
			continue;
		}
		/* Not polled: no worker could take it. */
		log_error(conf->accounts[idx[i]].name,
			  "not polled: cannot start a worker%s%s",
			  fork_errno != 0 ? ": " : "",
			  fork_errno != 0 ? strerror(fork_errno) : "");
		worst = util_fail_worst(worst, UTIL_FAIL_TEMP);
	}
	queue_free(q);
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
