/* SPDX-License-Identifier: ISC */
/* The retention policy as a pure function: what the server lists, what the
 * state knows, the account's rules and the expiry clock decide what to
 * fetch, what to delete, and why.  No I/O. */
#ifndef MAILHAUL_PLAN_H
#define MAILHAUL_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* One listed message as plan sees it. */
struct plan_msg {
	uint64_t size;        /* the size the server lists */
	bool seen;            /* a durable record says it is archived */
	bool verified;        /* seen, and the record may authorise a
			       * deletion: mailhaul archived it and knows
			       * where (not imported, not keyed by a POP3
			       * UIDL alone whose fingerprint differs) */
	bool copy_bad;        /* seen, but its archived copy is missing or
			       * differs: archive it again */
	bool no_delete;       /* never delete it (\Deleted by another
			       * client: theirs to expunge) */
	time_t first_archived; /* seen: when mailhaul first archived it */
};

struct plan_rules {
	bool keep;                  /* leave messages on the server */
	bool has_uids;              /* the server identifies messages stably */
	bool fetch_all;             /* fetch seen messages too */
	bool no_delete;             /* delete nothing at all (a UIDVALIDITY
				     * change is being matched) */
	int64_t delete_after;       /* seconds; 0 never */
	uint64_t max_server_size;   /* bytes per folder; 0 no limit */
	uint64_t skip_larger_than;  /* bytes; 0 no limit */
	uint64_t fetch_limit;       /* messages still allowed this poll;
				     * UINT64_MAX no limit */
	uint64_t fetch_size_limit;  /* bytes still allowed this poll;
				     * UINT64_MAX no limit */
	bool fetched_before;        /* a message was fetched earlier in this
				     * poll (another folder): the size limit
				     * no longer lets the first one through */
};

enum plan_action {
	PLAN_SKIP = 0,      /* leave it alone */
	PLAN_FETCH,         /* archive it, leave it on the server */
	PLAN_FETCH_DELETE,  /* archive it; once recorded, delete it */
	PLAN_DELETE,        /* archived: delete it */
};

/* Why a message got its action. */
enum plan_why {
	PLAN_WHY_NONE = 0,     /* SKIP: archived, nothing due */
	PLAN_WHY_NEW,          /* FETCH: not archived yet */
	PLAN_WHY_AGAIN,        /* FETCH: archived copy missing or changed */
	PLAN_WHY_FETCH_ALL,    /* FETCH: archived, fetch_all */
	PLAN_WHY_KEEP_NO,      /* *DELETE: keep = no */
	PLAN_WHY_EXPIRED,      /* *DELETE: delete_after has passed */
	PLAN_WHY_OVER_SIZE,    /* *DELETE: max_server_size */
	PLAN_WHY_TOO_LARGE,    /* SKIP: skip_larger_than */
	PLAN_WHY_DEFERRED,     /* SKIP: fetch_limit / fetch_size_limit */
	PLAN_WHY_PROTECTED,    /* SKIP: due, but not deletable (no_delete,
				* unverified record, or a re-key) */
};

struct plan_item {
	enum plan_action action;
	enum plan_why why;
};

/* What the plan sums up for a folder. */
struct plan_summary {
	size_t fetch, delete, too_large, deferred, protected_due;
	uint64_t fetch_bytes;
	uint64_t left_msgs, left_bytes; /* on the server once done */
	time_t next_due;      /* earliest delete_after expiry of a message
			       * left on the server; 0 none */
};

/* Decides an action for each of the N messages (in server order: oldest
 * first) into ITEMS[0..N-1] at expiry clock NOW, and sums up into *sum.
 * Returns 0, or -1 with *why_r (static text) when no safe plan exists
 * (e.g. keep=yes on a server without unique ids: nothing to track seen
 * state by). */
int plan_make(const struct plan_msg *msgs, size_t n,
	      const struct plan_rules *rules, time_t now,
	      struct plan_item *items, struct plan_summary *sum,
	      const char **why_r);

/* A short text for WHY ("new", "expired", ...). */
const char *plan_why_name(enum plan_why why);

/* The expiry clock.  HIGH is the latest clock the state recorded (0 none)
 * and WALL the system time: returns the clock to use and record, which
 * never runs backwards and moves forward by at most PLAN_CLOCK_STEP per
 * poll. */
#define PLAN_CLOCK_STEP (7 * 24 * 3600)
time_t plan_clock(time_t high, time_t wall);

#endif
