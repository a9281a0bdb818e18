/* SPDX-License-Identifier: ISC */
/* One poll of one account: connect, list, plan, fetch -> deliver -> record,
 * delete, close.  Sees sources, sinks, state and plan only through their
 * interfaces. */
#ifndef MAILHAUL_SESSION_H
#define MAILHAUL_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "conf.h"
#include "state.h"
#include "util.h"

struct session_result {
	bool listed;            /* the server's listing was read */
	uint64_t new_msgs;      /* archived and recorded in this poll */
	uint64_t new_bytes;
	uint64_t rekeyed;       /* already archived, found again after a
				 * UIDVALIDITY change: not written twice */
	uint64_t deleted;       /* confirmed deleted on the server */
	uint64_t on_server;     /* left on the server after this poll */
	enum util_fail fail;
	char *error;            /* one line, caller frees; NULL on success */
};

/* Polls ACCT once, recording archived messages in ST.  Fills *res (the
 * caller frees res->error) and returns res->fail. */
enum util_fail session_poll(const struct conf_account *acct, struct state *st,
			    struct session_result *res);

#endif
