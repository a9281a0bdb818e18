/* SPDX-License-Identifier: ISC */
/* One poll of one account: connect, list, plan, fetch -> deliver -> record,
 * delete, close.  Sees sources, sinks, state and plan only through their
 * interfaces. */
#ifndef MAILHAUL_SESSION_H
#define MAILHAUL_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "conf.h"
#include "state.h"
#include "util.h"

/* What a poll found in one folder, for `mailhaul status`. */
struct session_folder_stat {
	char *folder;           /* as the server spells it (state key) */
	char *display;          /* UTF-8 */
	uint64_t server_msgs;   /* left on the server after the poll */
	uint64_t server_bytes;  /* UINT64_MAX: not listed this time (the
				 * folder was unchanged); keep the last */
	time_t next_due;        /* earliest delete_after expiry of a
				 * message left there; 0 none */
};

struct session_result {
	bool listed;            /* the server's listing was read */
	struct session_folder_stat *folders; /* each folder fully listed */
	size_t n_folders;
	uint64_t new_msgs;      /* archived and recorded in this poll */
	uint64_t new_bytes;
	uint64_t rekeyed;       /* already archived, found again after a
				 * UIDVALIDITY change: not written twice */
	uint64_t deleted;       /* confirmed deleted on the server */
	uint64_t on_server;     /* left on the server after this poll */
	uint64_t skipped;       /* too large (skip_larger_than) */
	uint64_t deferred;      /* left for the next poll (fetch_limit,
				 * fetch_size_limit) */
	enum util_fail fail;
	char *error;            /* one line, caller frees; NULL on success */
};

/* How to poll. */
struct session_opts {
	bool dry_run;   /* list and print the plan; write and delete nothing */
	bool force;     /* archive even into a target that holds mail the
			 * state knows nothing of */
	bool fetch_all; /* as the account's fetch_all = yes */
};

/* Polls ACCT once, recording archived messages in ST.  OPTS may be NULL.
 * Fills *res (free with session_result_free) and returns res->fail. */
enum util_fail session_poll(const struct conf_account *acct, struct state *st,
			    const struct session_opts *opts,
			    struct session_result *res);

void session_result_free(struct session_result *res);

#endif
