/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "plan.h"
#include "tap.h"

#define DAY (24 * 3600)
#define T0 1700000000 /* an archive time */
#define NOLIM UINT64_MAX

/* A listed message: SIZE, STATE and when it was first archived.  STATE:
 * 'n' new, 'a' archived, 'i' imported (seen, no known copy), 'b' archived
 * but the copy is missing or changed, 'p' archived and \Deleted by
 * another client, 'P' new and \Deleted by another client. */
struct m {
	uint64_t size;
	char state;
	time_t first;
};

/* Expected, per message: action F, FD, D or S, then the reason: n new,
 * a again, A fetch_all, k keep=no, e expired, o over size, l too large,
 * d deferred, p protected, - none.  "Fn D/e S-". */
struct plan_case {
	const char *what;
	struct plan_rules rules;
	time_t now;
	struct m msgs[8];
	size_t n;
	const char *want;
	time_t next_due;
};

#define KEEP .keep = true, .has_uids = true
#define NOKEEP .keep = false, .has_uids = true
#define UNLIMITED .fetch_limit = NOLIM, .fetch_size_limit = NOLIM

static const struct plan_case cases[] = {
	{"keep: new fetched, archived left",
	 {KEEP, UNLIMITED}, T0, {{10, 'n', 0}, {10, 'a', T0}}, 2, "Fn S-", 0},
	{"keep = no: new fetched then deleted, archived deleted",
	 {NOKEEP, UNLIMITED}, T0, {{10, 'n', 0}, {10, 'a', T0}}, 2,
	 "FDk Dk", 0},
	{"keep = no: imported record is never grounds to delete",
	 {NOKEEP, UNLIMITED}, T0, {{10, 'i', T0}}, 1, "Sp", 0},
	{"keep = no: another client's \\Deleted message is theirs",
	 {NOKEEP, UNLIMITED}, T0, {{10, 'p', T0}, {10, 'P', 0}}, 2, "Sp Fn", 0},
	{"keep = no without UIDL: fetched then deleted",
	 {.keep = false, UNLIMITED}, T0, {{10, 'n', 0}}, 1, "FDk", 0},
	{"missing copy: fetched again, not deleted first (keep = no)",
	 {NOKEEP, UNLIMITED}, T0, {{10, 'b', T0}}, 1, "FDk", 0},
	{"missing copy: fetched again (keep = yes)",
	 {KEEP, UNLIMITED}, T0, {{10, 'b', T0}}, 1, "Fa", 0},
	/* delete_after */
	{"delete_after: exactly at the age it is due",
	 {KEEP, UNLIMITED, .delete_after = 30 * DAY}, T0 + 30 * DAY,
	 {{10, 'a', T0}, {10, 'a', T0 + 1}}, 2, "De S-", T0 + 1 + 30 * DAY},
	{"delete_after: one second early nothing is due",
	 {KEEP, UNLIMITED, .delete_after = 30 * DAY}, T0 + 30 * DAY - 1,
	 {{10, 'a', T0}}, 1, "S-", T0 + 30 * DAY},
	{"delete_after: new message due a full period after now",
	 {KEEP, UNLIMITED, .delete_after = DAY}, T0, {{10, 'n', 0}}, 1, "Fn",
	 T0 + DAY},
	{"delete_after: record from the future (clock was ahead) not due",
	 {KEEP, UNLIMITED, .delete_after = DAY}, T0,
	 {{10, 'a', T0 + 5 * DAY}}, 1, "S-", T0 + 6 * DAY},
	{"delete_after: imported and protected messages are never deleted",
	 {KEEP, UNLIMITED, .delete_after = DAY}, T0 + 9 * DAY,
	 {{10, 'i', T0}, {10, 'p', T0}, {10, 'a', T0}}, 3, "Sp Sp De", 0},
	{"delete_after: a missing copy is archived again, not deleted",
	 {KEEP, UNLIMITED, .delete_after = DAY}, T0 + 9 * DAY,
	 {{10, 'b', T0}}, 1, "Fa", T0 + DAY},
	{"delete_after: nothing deleted while a UIDVALIDITY change is matched",
	 {KEEP, UNLIMITED, .delete_after = DAY, .no_delete = true},
	 T0 + 9 * DAY, {{10, 'a', T0}, {10, 'n', 0}}, 2, "Sp Fn", 0},
	{"delete_after ignored with keep = no",
	 {NOKEEP, UNLIMITED, .delete_after = 30 * DAY}, T0,
	 {{10, 'a', T0}, {10, 'n', 0}}, 2, "Dk FDk", 0},
	/* max_server_size */
	{"max_server_size: under the limit nothing is deleted",
	 {KEEP, UNLIMITED, .max_server_size = 30}, T0,
	 {{10, 'a', T0}, {10, 'a', T0}, {10, 'n', 0}}, 3, "S- S- Fn", 0},
	{"max_server_size: oldest archived first, until at or below",
	 {KEEP, UNLIMITED, .max_server_size = 25}, T0 + 10,
	 {{10, 'a', T0 + 5}, {10, 'a', T0}, {10, 'a', T0 + 9}, {10, 'a', T0 + 1}},
	 4, "S- Do S- Do", 0},
	{"max_server_size: new messages go last, in server order",
	 {KEEP, UNLIMITED, .max_server_size = 15}, T0 + 10,
	 {{10, 'n', 0}, {10, 'a', T0}, {10, 'n', 0}}, 3, "FDo Do Fn", 0},
	{"max_server_size: unarchived and protected messages stay",
	 {KEEP, UNLIMITED, .max_server_size = 5, .skip_larger_than = 50},
	 T0 + 10,
	 {{100, 'n', 0}, {10, 'i', T0}, {10, 'p', T0}, {10, 'a', T0}}, 4,
	 "Sl S- S- Do", 0},
	{"max_server_size: expired ones count as gone already",
	 {KEEP, UNLIMITED, .max_server_size = 10, .delete_after = DAY},
	 T0 + DAY,
	 {{10, 'a', T0}, {10, 'a', T0 + 5}, {10, 'a', T0 + 6}}, 3,
	 "De Do S-", T0 + 6 + DAY},
	{"max_server_size: a deferred message is not deleted",
	 {KEEP, .fetch_limit = 1, .fetch_size_limit = NOLIM,
	  .max_server_size = 5},
	 T0, {{10, 'n', 0}, {10, 'n', 0}}, 2, "FDo Sd", 0},
	{"max_server_size: a missing copy is fetched before it can go",
	 {KEEP, UNLIMITED, .max_server_size = 5}, T0 + 10,
	 {{10, 'b', T0}, {10, 'a', T0 + 1}}, 2, "FDo Do", 0},
	/* skip_larger_than */
	{"skip_larger_than: larger skipped, equal fetched",
	 {NOKEEP, UNLIMITED, .skip_larger_than = 100}, T0,
	 {{101, 'n', 0}, {100, 'n', 0}}, 2, "Sl FDk", 0},
	{"skip_larger_than: an archived big one may still be deleted",
	 {NOKEEP, UNLIMITED, .skip_larger_than = 100}, T0,
	 {{500, 'a', T0}}, 1, "Dk", 0},
	/* fetch limits */
	{"fetch_limit: oldest first, the rest deferred",
	 {KEEP, .fetch_limit = 2, .fetch_size_limit = NOLIM}, T0,
	 {{1, 'n', 0}, {1, 'a', T0}, {1, 'n', 0}, {1, 'n', 0}}, 4,
	 "Fn S- Fn Sd", 0},
	{"fetch_limit 0 left: everything waits",
	 {KEEP, .fetch_limit = 0, .fetch_size_limit = NOLIM}, T0,
	 {{1, 'n', 0}}, 1, "Sd", 0},
	{"fetch_size_limit: stops at the first that does not fit",
	 {NOKEEP, .fetch_limit = NOLIM, .fetch_size_limit = 25}, T0,
	 {{10, 'n', 0}, {10, 'n', 0}, {10, 'n', 0}, {5, 'n', 0}}, 4,
	 "FDk FDk Sd FDk", 0},
	{"fetch_size_limit: the first message goes through however big",
	 {KEEP, .fetch_limit = NOLIM, .fetch_size_limit = 25}, T0,
	 {{100, 'n', 0}, {1, 'n', 0}}, 2, "Fn Sd", 0},
	{"fetch_size_limit: not the first of the poll (another folder)",
	 {KEEP, .fetch_limit = NOLIM, .fetch_size_limit = 25,
	  .fetched_before = true},
	 T0, {{100, 'n', 0}, {1, 'n', 0}}, 2, "Sd Fn", 0},
	{"deferred messages are not deleted with keep = no",
	 {NOKEEP, .fetch_limit = 1, .fetch_size_limit = NOLIM}, T0,
	 {{1, 'n', 0}, {1, 'n', 0}, {1, 'a', T0}}, 3, "FDk Sd Dk", 0},
	/* fetch_all */
	{"fetch_all: archived ones fetched again, kept",
	 {KEEP, UNLIMITED, .fetch_all = true}, T0,
	 {{1, 'a', T0}, {1, 'n', 0}, {1, 'i', T0}}, 3, "FA Fn FA", 0},
	{"fetch_all with keep = no: fetched then deleted",
	 {NOKEEP, UNLIMITED, .fetch_all = true}, T0, {{1, 'a', T0}}, 1,
	 "FDk", 0},
	{"fetch_all respects skip_larger_than",
	 {KEEP, UNLIMITED, .fetch_all = true, .skip_larger_than = 5}, T0,
	 {{10, 'a', T0}, {10, 'n', 0}}, 2, "S- Sl", 0},
	{"fetch_all: fetched again, still due by the first archive time",
	 {KEEP, UNLIMITED, .fetch_all = true, .delete_after = DAY}, T0,
	 {{1, 'a', T0 - 10}}, 1, "FA", T0 - 10 + DAY},
};

static const char *action_code(enum plan_action a)
{
	switch (a) {
	case PLAN_SKIP:
		return "S";
	case PLAN_FETCH:
		return "F";
	case PLAN_FETCH_DELETE:
		return "FD";
	case PLAN_DELETE:
		return "D";
	}
	return "?";
}

static char why_code(enum plan_why w)
{
	static const char codes[] = {
	    [PLAN_WHY_NONE] = '-',      [PLAN_WHY_NEW] = 'n',
	    [PLAN_WHY_AGAIN] = 'a',     [PLAN_WHY_FETCH_ALL] = 'A',
	    [PLAN_WHY_KEEP_NO] = 'k',   [PLAN_WHY_EXPIRED] = 'e',
	    [PLAN_WHY_OVER_SIZE] = 'o', [PLAN_WHY_TOO_LARGE] = 'l',
	    [PLAN_WHY_DEFERRED] = 'd',  [PLAN_WHY_PROTECTED] = 'p',
	};
	return (size_t)w < sizeof(codes) ? codes[w] : '?';
}

static struct plan_msg to_msg(const struct m *m)
{
	return (struct plan_msg){
	    .size = m->size,
	    .seen = m->state != 'n' && m->state != 'P',
	    .verified = m->state == 'a' || m->state == 'b' || m->state == 'p',
	    .copy_bad = m->state == 'b',
	    .no_delete = m->state == 'p' || m->state == 'P',
	    .first_archived = m->first,
	};
}

static void run_case(const struct plan_case *c)
{
	struct plan_msg msgs[8];
	struct plan_item items[8];
	struct plan_summary sum;
	const char *why = NULL;
	char got[128] = "";

	for (size_t i = 0; i < c->n; i++)
		msgs[i] = to_msg(&c->msgs[i]);
	if (plan_make(msgs, c->n, &c->rules, c->now, items, &sum, &why) < 0) {
		tap_ok(0, c->what);
		return;
	}
	for (size_t i = 0; i < c->n; i++) {
		size_t len = strlen(got);
		snprintf(got + len, sizeof(got) - len, "%s%s%c",
			 i > 0 ? " " : "", action_code(items[i].action),
			 why_code(items[i].why));
	}
	char desc[512];
	snprintf(desc, sizeof(desc), "%s (got \"%s\" next %lld, want \"%s\" "
		 "next %lld)", c->what, got, (long long)sum.next_due, c->want,
		 (long long)c->next_due);
	tap_ok(strcmp(got, c->want) == 0 && sum.next_due == c->next_due, desc);
}

static void check_refusals(void)
{
	struct plan_rules r = {.keep = true, .has_uids = false,
			       .fetch_limit = NOLIM, .fetch_size_limit = NOLIM};
	struct plan_msg m = {.size = 1};
	struct plan_item it;
	struct plan_summary sum;
	const char *why = NULL;

	tap_ok(plan_make(&m, 1, &r, T0, &it, &sum, &why) < 0 && why != NULL,
	       "keep without UIDL is refused");
	why = NULL;
	tap_ok(plan_make(NULL, 0, &r, T0, NULL, &sum, &why) == 0 &&
		   sum.fetch == 0 && sum.left_msgs == 0,
	       "empty mailbox without UIDL is fine");
}

static void check_summary(void)
{
	struct plan_rules r = {KEEP, .fetch_limit = 1,
			       .fetch_size_limit = NOLIM,
			       .skip_larger_than = 50, .delete_after = DAY};
	struct plan_msg msgs[] = {
	    to_msg(&(struct m){100, 'n', 0}), to_msg(&(struct m){10, 'n', 0}),
	    to_msg(&(struct m){20, 'n', 0}), to_msg(&(struct m){30, 'a', T0}),
	    to_msg(&(struct m){40, 'i', T0}),
	};
	struct plan_item items[5];
	struct plan_summary sum;
	const char *why = NULL;

	tap_ok(plan_make(msgs, 5, &r, T0 + DAY, items, &sum, &why) == 0 &&
		   sum.fetch == 1 && sum.fetch_bytes == 10 &&
		   sum.delete == 1 && sum.too_large == 1 &&
		   sum.deferred == 1 && sum.protected_due == 1 &&
		   sum.left_msgs == 4 && sum.left_bytes == 170 &&
		   sum.next_due == T0 + 2 * DAY,
	       "summary counts fetch, delete, too large, deferred, "
	       "protected and what is left");
}

/* The expiry clock never runs backwards and believes at most a week of
 * forward jump per poll. */
static void check_clock(void)
{
	tap_ok(plan_clock(0, T0) == T0, "clock: first poll takes the time");
	tap_ok(plan_clock(T0, T0 + 60) == T0 + 60, "clock: moves forward");
	tap_ok(plan_clock(T0, T0 - 2 * DAY) == T0,
	       "clock: set back 2 days, expiry keeps the recorded time");
	tap_ok(plan_clock(T0, T0 + 7 * DAY) == T0 + 7 * DAY,
	       "clock: a week forward is believed");
	tap_ok(plan_clock(T0, T0 + 400 * DAY) == T0 + 7 * DAY,
	       "clock: a jump of 400 days counts one week this poll");
	time_t c = T0;
	for (int i = 0; i < 3; i++)
		c = plan_clock(c, T0 + 400 * DAY);
	tap_ok(c == T0 + 21 * DAY, "clock: and one week more each poll");
	/* Clock set back two days after messages were archived: none of
	 * them becomes due earlier than by the recorded clock. */
	struct plan_rules r = {KEEP, UNLIMITED, .delete_after = 3 * DAY};
	struct plan_msg msgs[] = {to_msg(&(struct m){1, 'a', T0}),
				  to_msg(&(struct m){1, 'a', T0 + DAY})};
	struct plan_item items[2];
	struct plan_summary sum;
	const char *why = NULL;
	time_t now = plan_clock(T0 + 3 * DAY, T0 + DAY);
	plan_make(msgs, 2, &r, now, items, &sum, &why);
	tap_ok(items[0].action == PLAN_DELETE && items[1].action == PLAN_SKIP,
	       "clock set back: exactly those due by the recorded clock");
	now = plan_clock(T0 + DAY, T0 - 2 * DAY);
	plan_make(msgs, 2, &r, now, items, &sum, &why);
	tap_ok(items[0].action == PLAN_SKIP && items[1].action == PLAN_SKIP,
	       "clock set back: nothing due early");
	now = plan_clock(T0 + DAY, T0 + 365 * DAY);
	plan_make(msgs, 2, &r, now, items, &sum, &why);
	tap_ok(items[0].action == PLAN_DELETE && items[1].action == PLAN_DELETE &&
		   now == T0 + 8 * DAY,
	       "clock jumped a year: due by one capped step");
	r.delete_after = 30 * DAY;
	plan_make(msgs, 2, &r, now, items, &sum, &why);
	tap_ok(items[0].action == PLAN_SKIP && items[1].action == PLAN_SKIP,
	       "clock jumped a year: a 30-day rule waits for more polls");
}

int main(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++)
		run_case(&cases[i]);
	check_refusals();
	check_summary();
	check_clock();
	return tap_done();
}
