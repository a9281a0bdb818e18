/* SPDX-License-Identifier: ISC */
#include "config.h"

#include "plan.h"

int plan_make(const struct plan_msg *msgs, size_t n,
	      const struct plan_rules *rules, time_t now,
	      enum plan_action *actions, const char **why_r)
{
	(void)now; /* expiry rules will count from first-archived time */

	/* Without unique ids a message cannot be recognised on the next
	 * poll: keeping it would archive it again every time. */
	if (rules->keep && !rules->has_uids && n > 0) {
		*why_r = "server does not support UIDL, so mailhaul cannot "
			 "tell which messages it has archived; set keep = no "
			 "to fetch and delete instead";
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		bool keep = rules->keep || msgs[i].no_delete;
		if (msgs[i].seen)
			actions[i] = keep ? PLAN_SKIP : PLAN_DELETE;
		else
			actions[i] = keep ? PLAN_FETCH : PLAN_FETCH_DELETE;
	}
	return 0;
}
