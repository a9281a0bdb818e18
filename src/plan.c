/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <stdlib.h>

#include "plan.h"
#include "util.h"

time_t plan_clock(time_t high, time_t wall)
{
	if (high <= 0 || wall <= 0)
		return wall > high ? wall : high;
	if (wall <= high)
		return high; /* set back: expiry waits for the clock */
	return wall - high > PLAN_CLOCK_STEP ? high + PLAN_CLOCK_STEP : wall;
}

const char *plan_why_name(enum plan_why why)
{
	switch (why) {
	case PLAN_WHY_NONE:
		return "archived";
	case PLAN_WHY_NEW:
		return "new";
	case PLAN_WHY_AGAIN:
		return "archived copy missing or changed";
	case PLAN_WHY_FETCH_ALL:
		return "fetch_all";
	case PLAN_WHY_KEEP_NO:
		return "keep = no";
	case PLAN_WHY_EXPIRED:
		return "delete_after";
	case PLAN_WHY_OVER_SIZE:
		return "max_server_size";
	case PLAN_WHY_TOO_LARGE:
		return "skip_larger_than";
	case PLAN_WHY_DEFERRED:
		return "fetch limit reached";
	case PLAN_WHY_PROTECTED:
		return "protected";
	}
	return "?";
}

/* May the rules delete message M at all, once it is archived? */
static bool deletable(const struct plan_msg *m, const struct plan_rules *r)
{
	return !m->no_delete && !r->no_delete;
}

/* Is M wanted in the archive (again)? */
static enum plan_why wants_fetch(const struct plan_msg *m,
				 const struct plan_rules *r)
{
	if (!m->seen)
		return PLAN_WHY_NEW;
	if (m->copy_bad)
		return PLAN_WHY_AGAIN;
	if (r->fetch_all)
		return PLAN_WHY_FETCH_ALL;
	return PLAN_WHY_NONE;
}

/* The per-poll budget: the oldest first, and at least one message per
 * poll whatever its size, so a big one cannot block the queue. */
struct budget {
	uint64_t msgs, bytes;
	bool any;
};

static bool budget_take(struct budget *b, uint64_t size)
{
	if (b->msgs == 0)
		return false;
	if (size > b->bytes && b->any)
		return false;
	b->msgs--;
	b->bytes = size > b->bytes ? 0 : b->bytes - size;
	b->any = true;
	return true;
}

/* A message already archived, not fetched again: due or not. */
static struct plan_item plan_archived(const struct plan_msg *m,
				      const struct plan_rules *r, time_t now)
{
	enum plan_why why = PLAN_WHY_NONE;

	if (!r->keep)
		why = PLAN_WHY_KEEP_NO;
	else if (r->delete_after > 0 && now >= m->first_archived &&
		 now - m->first_archived >= r->delete_after)
		why = PLAN_WHY_EXPIRED;
	if (why == PLAN_WHY_NONE)
		return (struct plan_item){PLAN_SKIP, PLAN_WHY_NONE};
	if (!m->verified || !deletable(m, r))
		return (struct plan_item){PLAN_SKIP, PLAN_WHY_PROTECTED};
	return (struct plan_item){PLAN_DELETE, why};
}

static struct plan_item plan_one(const struct plan_msg *m,
				 const struct plan_rules *r, time_t now,
				 struct budget *b)
{
	enum plan_why why = wants_fetch(m, r);

	if (why == PLAN_WHY_NONE)
		return plan_archived(m, r, now);
	if (r->skip_larger_than > 0 && m->size > r->skip_larger_than) {
		/* Archived already: fetch_all leaves it be. */
		if (why == PLAN_WHY_FETCH_ALL)
			return plan_archived(m, r, now);
		return (struct plan_item){PLAN_SKIP, PLAN_WHY_TOO_LARGE};
	}
	if (!budget_take(b, m->size))
		return (struct plan_item){PLAN_SKIP, PLAN_WHY_DEFERRED};
	if (!r->keep && deletable(m, r))
		return (struct plan_item){PLAN_FETCH_DELETE, PLAN_WHY_KEEP_NO};
	return (struct plan_item){PLAN_FETCH, why};
}

static bool deleting(enum plan_action a)
{
	return a == PLAN_DELETE || a == PLAN_FETCH_DELETE;
}

/* When a message archived now would be due. */
static time_t archived_at(const struct plan_msg *m, const struct plan_item *it,
			  time_t now)
{
	return it->action == PLAN_FETCH && it->why != PLAN_WHY_FETCH_ALL &&
			   it->why != PLAN_WHY_AGAIN
		       ? now
		       : m->first_archived;
}

struct offload_ctx {
	const struct plan_msg *msgs;
	const struct plan_item *items;
	time_t now;
};

/* Offload order: oldest archived first; a message archived in this poll
 * is the newest; ties in server order. */
static int offload_cmp(const void *a, const void *b, void *arg)
{
	const struct offload_ctx *c = arg;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	time_t ti = archived_at(&c->msgs[i], &c->items[i], c->now);
	time_t tj = archived_at(&c->msgs[j], &c->items[j], c->now);

	if (ti != tj)
		return ti < tj ? -1 : 1;
	return i < j ? -1 : i > j;
}

/* May message I be deleted to make room? */
static bool offloadable(const struct plan_msg *m, const struct plan_item *it,
			const struct plan_rules *r)
{
	if (!deletable(m, r))
		return false;
	if (it->action == PLAN_FETCH)
		return true; /* once it is archived and recorded */
	return it->action == PLAN_SKIP && it->why == PLAN_WHY_NONE &&
	       m->verified;
}

/* max_server_size: deletes the oldest archived messages until what is
 * left fits. */
static void plan_offload(const struct plan_msg *msgs, size_t n,
			 const struct plan_rules *r, time_t now,
			 struct plan_item *items)
{
	uint64_t left = 0;
	size_t *order = xcalloc(n + 1, sizeof(*order)), k = 0;

	for (size_t i = 0; i < n; i++) {
		if (deleting(items[i].action))
			continue;
		left += msgs[i].size;
		if (offloadable(&msgs[i], &items[i], r))
			order[k++] = i;
	}
	struct offload_ctx ctx = {msgs, items, now};
	qsort_r(order, k, sizeof(*order), offload_cmp, &ctx);
	for (size_t j = 0; j < k && left > r->max_server_size; j++) {
		size_t i = order[j];
		items[i].action = items[i].action == PLAN_FETCH
					  ? PLAN_FETCH_DELETE
					  : PLAN_DELETE;
		items[i].why = PLAN_WHY_OVER_SIZE;
		left -= msgs[i].size;
	}
	free(order);
}

static void summarise(const struct plan_msg *msgs, size_t n,
		      const struct plan_rules *r, time_t now,
		      const struct plan_item *items, struct plan_summary *sum)
{
	*sum = (struct plan_summary){0};
	for (size_t i = 0; i < n; i++) {
		const struct plan_item *it = &items[i];
		if (it->action == PLAN_FETCH || it->action == PLAN_FETCH_DELETE) {
			sum->fetch++;
			sum->fetch_bytes += msgs[i].size;
		}
		if (deleting(it->action)) {
			sum->delete++;
			continue;
		}
		sum->too_large += it->why == PLAN_WHY_TOO_LARGE;
		sum->deferred += it->why == PLAN_WHY_DEFERRED;
		sum->protected_due += it->why == PLAN_WHY_PROTECTED;
		sum->left_msgs++;
		sum->left_bytes += msgs[i].size;
		bool archived = it->action == PLAN_FETCH ||
				(it->action == PLAN_SKIP &&
				 it->why == PLAN_WHY_NONE && msgs[i].verified);
		if (r->delete_after <= 0 || !r->keep || !archived ||
		    !deletable(&msgs[i], r))
			continue;
		time_t due = archived_at(&msgs[i], it, now) +
			     (time_t)r->delete_after;
		if (sum->next_due == 0 || due < sum->next_due)
			sum->next_due = due;
	}
}

int plan_make(const struct plan_msg *msgs, size_t n,
	      const struct plan_rules *rules, time_t now,
	      struct plan_item *items, struct plan_summary *sum,
	      const char **why_r)
{
	struct budget b = {.msgs = rules->fetch_limit,
			   .bytes = rules->fetch_size_limit,
			   .any = rules->fetched_before};

	/* Without unique ids a message cannot be recognised on the next
	 * poll: keeping it would archive it again every time. */
	if (rules->keep && !rules->has_uids && n > 0) {
		*why_r = "server does not support UIDL, so mailhaul cannot "
			 "tell which messages it has archived; set keep = no "
			 "to fetch and delete instead";
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		items[i] = plan_one(&msgs[i], rules, now, &b);
	if (rules->keep && rules->max_server_size > 0)
		plan_offload(msgs, n, rules, now, items);
	summarise(msgs, n, rules, now, items, sum);
	return 0;
}
