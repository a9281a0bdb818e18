/* SPDX-License-Identifier: ISC */
/* The retention policy as a pure function: what the server lists, what the
 * state knows and the account's rules decide what to fetch and what to
 * delete.  No I/O. */
#ifndef MAILHAUL_PLAN_H
#define MAILHAUL_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* One listed message as plan sees it. */
struct plan_msg {
	bool seen;      /* a durable record says it is archived */
	bool no_delete; /* never delete it, whatever the rules say */
};

struct plan_rules {
	bool keep;      /* leave messages on the server */
	bool has_uids;  /* the server identifies messages stably */
};

enum plan_action {
	PLAN_SKIP = 0,      /* leave it alone */
	PLAN_FETCH,         /* archive it, leave it on the server */
	PLAN_FETCH_DELETE,  /* archive it; once recorded, delete it */
	PLAN_DELETE,        /* already archived: delete it */
};

/* Decides an action for each of the N messages into ACTIONS[0..N-1].
 * Returns 0, or -1 with *why_r (static text) when no safe plan exists
 * (e.g. keep=yes on a server without unique ids: nothing to track seen
 * state by). */
int plan_make(const struct plan_msg *msgs, size_t n,
	      const struct plan_rules *rules, time_t now,
	      enum plan_action *actions, const char **why_r);

#endif
